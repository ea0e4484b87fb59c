"""What every lesson promises beyond running: it ends with a recap of its new words, and the recap only names words the
lesson has already taught."""
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
    '02_smiling_faces': ['out-of-domain', 'two-stage'],
    '05_collab': ['embedding-map'],
    '07_pytorch_underneath': ['gap-plot', 'learned-filters'],
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
