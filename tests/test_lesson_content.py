"""What every lesson promises beyond running: it ends with a recap of its new words, and the recap only names words the
lesson has already taught; its sections that teach with a picture show one; and its main path is the plain fastai code
a learner will write anywhere, with the adjustments for this machine in one named call."""
import ast
import json
import re

import pytest

from conftest import NBS
from course_utils.runner import list_notebooks

LESSONS = [nb.path for nb in list_notebooks(NBS/'lessons') if nb.kind == 'lesson']
RECAP_HEADING = '## <a id="recap"></a>Recap: the words of this lesson'


def markdown_cells(lesson) -> list[str]:
    return [''.join(c['source']) for c in json.loads(lesson.read_text())['cells'] if c['cell_type'] == 'markdown']


def recap_rows(cell:str) -> list[tuple[str, str]]:
    "(term, meaning) for each row of the recap's table, header and separator left out."
    rows = [line for line in cell.splitlines() if line.startswith('|')]
    cells = [[part.strip() for part in row.strip('|').split('|')] for row in rows]
    assert cells and cells[0][:2] == ['Term', 'What it means'] and set(''.join(cells[1])) <= set('-: '), rows[:2]
    return [(row[0], row[1]) for row in cells[2:]]


def plain(text:str) -> str: return re.sub(r'[`*_]', '', text).lower()


@pytest.mark.parametrize('lesson', LESSONS, ids=lambda p: p.stem)
def test_lesson_ends_with_a_recap_of_words_it_taught(lesson):
    cells = markdown_cells(lesson)
    recaps = [i for i, cell in enumerate(cells) if cell.startswith(RECAP_HEADING)]
    assert len(recaps) == 1, f'{lesson.stem}: expected one recap cell starting with {RECAP_HEADING!r}'
    at = recaps[0]
    # The recap closes the lesson: only the "Check yourself" pointer to the questionnaire may follow it.
    assert all(cell.startswith('## Check yourself') for cell in cells[at + 1:]), [c[:40] for c in cells[at + 1:]]
    rows = recap_rows(cells[at])
    assert len(rows) >= 6, f'{lesson.stem}: only {len(rows)} terms in the recap'
    notebook = json.loads(lesson.read_text())['cells']
    before = plain(' '.join(''.join(c['source']) for c in notebook[:[j for j, c in enumerate(notebook)
                                                                     if ''.join(c['source']).startswith(RECAP_HEADING)][0]]))
    for term, meaning in rows:
        assert meaning and meaning.endswith('.'), (term, meaning)
        assert plain(term) in before, f'{lesson.stem}: the recap names {term!r}, which the lesson never used before'


# Sections that teach with a picture, by lesson: each must show at least one figure when the lesson runs (read from the
# notebook tests' own quick, offline run, shared through `offline_lesson_runs`: no extra run).
FIGURES = {
    '01_is_it_a_bird': ['resize-methods', 'augmentation'],
    '02_smiling_faces': ['two-phases', 'first-layer', 'out-of-domain', 'two-stage'],
    '03_segmentation': ['class-numbers', 'unet-drawn', 'worst'],
    '04_tabular': ['one-hot'],
    '05_collab': ['embedding-map'],
    '07_pytorch_underneath': ['gap-plot', 'learned-filters'],
    '08_many_gpus': ['data-parallel', 'what-it-did'],
}


def figures_per_section(executed) -> dict[str, int]:
    "{anchor: image outputs in the code cells from that anchor's cell to the next heading} for an executed notebook."
    counts, current = {}, None
    for cell in json.loads(executed.read_text())['cells']:
        source = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown':
            anchor = re.search(r'<a id="([a-z0-9-]+)"></a>', source)
            if anchor: current = anchor.group(1); counts[current] = 0
            elif source.lstrip().startswith('#'): current = None
        elif current is not None:
            counts[current] += sum('image/png' in output.get('data', {}) for output in cell.get('outputs', []))
    return counts


@pytest.mark.parametrize('stem', FIGURES)
def test_sections_show_their_figures(stem, offline_lesson_runs):
    counts = figures_per_section(offline_lesson_runs(NBS/'lessons'/f'{stem}.ipynb').executed)
    assert {anchor: counts.get(anchor, 0) for anchor in FIGURES[stem] if counts.get(anchor, 0) < 1} == {}, counts


# The main path of a lesson, between two anchored headings: from the data to the first trained model. It holds at
# most 3 statements of plain fastai, each lesson's own calls among them, plus the one call that fits the lesson to
# the machine (offline weights, speed-ups, batch size, workers), in a cell of its own (issue 17).
MAIN_PATHS = {
    '01_is_it_a_bird': ('datablock', 'training-table', {'DataBlock', 'dataloaders', 'vision_learner', 'fine_tune'}),
    '02_smiling_faces': ('dataloaders-from-table', 'two-phases', {'from_df', 'vision_learner', 'fine_tune'}),
    '03_segmentation': ('unet', 'unet-drawn', {'unet_learner', 'fine_tune'}),
}
ADAPT = 'adapt_to_this_machine'


def code_between(lesson, start:str, end:str) -> list[str]:
    "The sources of the code cells after the heading anchored `start` and before the one anchored `end`."
    code, inside = [], False
    for cell in json.loads(lesson.read_text())['cells']:
        source = ''.join(cell['source'])
        anchor = re.search(r'<a id="([a-z0-9-]+)"></a>', source) if cell['cell_type'] == 'markdown' else None
        if anchor and anchor.group(1) == start: inside = True
        elif anchor and anchor.group(1) == end and inside: return code
        elif inside and cell['cell_type'] == 'code': code.append(source)
    raise AssertionError(f'{lesson.stem}: no heading anchored {end!r} after one anchored {start!r}')


def called_name(node) -> str|None:
    if isinstance(node, ast.Call): node = node.func
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, 'id', None)


def is_adapt_call(statement) -> bool:
    return isinstance(statement, ast.Expr) and called_name(statement.value) == ADAPT


@pytest.mark.parametrize('stem', MAIN_PATHS)
def test_main_path_is_plain_fastai_plus_one_named_call(stem):
    start, end, expected_calls = MAIN_PATHS[stem]
    cells = code_between(NBS/'lessons'/f'{stem}.ipynb', start, end)
    statements = [(source, statement) for source in cells for statement in ast.parse(source).body]
    adapt = [source for source, statement in statements if is_adapt_call(statement)]
    assert len(adapt) == 1, f'{stem}: expected one {ADAPT}(...) call on the main path, found {len(adapt)}'
    assert len(ast.parse(adapt[0]).body) == 1, f'{stem}: {ADAPT}(...) should have its cell to itself'
    fastai = [statement for source, statement in statements if not is_adapt_call(statement)]
    assert len(fastai) <= 3, f'{stem}: {len(fastai)} statements besides {ADAPT}: {[ast.unparse(s) for s in fastai]}'
    calls = {called_name(node) for statement in fastai for node in ast.walk(statement) if isinstance(node, ast.Call)}
    assert expected_calls <= calls, f'{stem}: the main path lacks {expected_calls - calls}'


def test_main_path_check_catches_plumbing(tmp_path):
    # The same check on a main path written the old way: branching on pretrained weights, speed-ups in between.
    old = tmp_path/'01_old.ipynb'
    cells = [{'cell_type': 'markdown', 'source': ['## <a id="datablock"></a>Data']},
             {'cell_type': 'code', 'source': ['dls = DataBlock(blocks=(ImageBlock, CategoryBlock)).dataloaders(path, bs=32)']},
             {'cell_type': 'code', 'source': ['pretrained = pretrained_weights(model)\n',
                                              'learn = vision_learner(dls, model, metrics=error_rate, pretrained=pretrained)\n',
                                              'learn = training_speedups(learn)']},
             {'cell_type': 'code', 'source': ['if pretrained: learn.fine_tune(3)\n', 'else: learn.fit_one_cycle(10, 3e-3)']},
             {'cell_type': 'markdown', 'source': ['### <a id="training-table"></a>Reading']}]
    old.write_text(json.dumps({'cells': cells}))
    statements = [s for source in code_between(old, 'datablock', 'training-table') for s in ast.parse(source).body]
    assert len(statements) == 5 and not any(is_adapt_call(s) for s in statements)
