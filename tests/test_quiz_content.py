"""What the questionnaires ask, checked against what the lessons teach: every question points at the lesson
section that teaches it (an anchor that exists, in a lesson no later than the questionnaire), questionnaire 01
only asks what lessons 00-01 teach, every bank is big and varied enough, ids are unique and retired ids stay
retired, and the free-text paraphrase table is large and complete. The banks are read with plain
yaml.safe_load, so this file doesn't depend on the quiz engine (tests/test_quiz.py covers answer checking)."""
import json
import re
from collections import Counter

import pytest
import yaml

from conftest import REPO

LESSONS_DIR = REPO/'nbs'/'lessons'
BANKS = {p.stem: yaml.safe_load(p.read_text(encoding='utf-8')) for p in sorted((REPO/'course_utils'/'quizzes').glob('*.yaml'))}
QUESTIONS = [(lesson, q) for lesson, bank in BANKS.items() for q in bank['questions']]
PARAPHRASES = yaml.safe_load((REPO/'tests'/'quiz_paraphrases.yaml').read_text(encoding='utf-8'))

# Ids of questions removed or turned into another kind (issue 14). Progress is stored by id, so an old answer
# must never be read as an answer to a different question: these ids are never reused.
RETIRED_IDS = {'l01-training-loop-order', 'l01-feedback-loop', 'l01-classification-vs-regression', 'l01-overfitting-define',
               'l01-validation-vs-test', 'l01-metric-vs-loss', 'l01-head', 'l07-loop-order'}


def lesson_notebook(lesson:str):
    "The lesson notebook nbs/lessons/<lesson>_*.ipynb (not its questionnaire)."
    found = [p for p in LESSONS_DIR.glob(f'{lesson}_*.ipynb') if not p.stem.endswith('_questionnaire')]
    assert len(found) == 1, f'expected one lesson notebook for lesson {lesson}, found {[p.name for p in found]}'
    return found[0]


def markdown_cells(lesson:str) -> list[str]:
    cells = json.loads(lesson_notebook(lesson).read_text(encoding='utf-8'))['cells']
    return [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown']


ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
MARKDOWN = {lesson: markdown_cells(lesson) for lesson in sorted({q['taught_in']['lesson'] for _, q in QUESTIONS if 'taught_in' in q}
                                                                 | set(BANKS))}


def test_there_is_a_bank_per_lesson():
    lessons = sorted(p.name[:2] for p in LESSONS_DIR.glob('[0-9][0-9]_*.ipynb')
                     if not p.stem.endswith('_questionnaire') and not p.name.startswith('99'))
    assert len(lessons) >= 9 and sorted(BANKS) == lessons, (lessons, sorted(BANKS))
    for lesson, bank in BANKS.items(): assert str(bank['lesson']) == lesson


@pytest.mark.parametrize('lesson, question', QUESTIONS, ids=[q['id'] for _, q in QUESTIONS])
def test_question_points_at_the_section_that_teaches_it(lesson, question):
    taught = question.get('taught_in')
    assert isinstance(taught, dict) and set(taught) == {'lesson', 'anchor', 'section'}, 'needs taught_in: {lesson, anchor, section}'
    taught_lesson, anchor, section = str(taught['lesson']), str(taught['anchor']), str(taught['section'])
    assert re.fullmatch(r'\d\d', taught_lesson) and re.fullmatch(r'[a-z0-9][a-z0-9-]*', anchor)
    assert taught_lesson <= lesson, f'asked in questionnaire {lesson} but only taught in lesson {taught_lesson}'
    cells = [c for c in MARKDOWN[taught_lesson] if f'<a id="{anchor}"></a>' in c]
    assert len(cells) == 1, f'lesson {taught_lesson} has {len(cells)} Markdown cells with the anchor {anchor!r}'
    assert section in cells[0], f'the section title {section!r} is not in the cell that holds anchor {anchor!r}'


def opening_line(cell:str) -> str:
    "The line an anchor must be on: the cell's first line, or the first text after a lesson title (`# ...`)."
    lines = [line for line in cell.splitlines() if line.strip()]
    # A lesson's title line stays plain, because `course list` and the README's table read it as the title.
    return lines[1] if lines[0].startswith('# ') and len(lines) > 1 else lines[0]


@pytest.mark.parametrize('lesson', sorted(BANKS))
def test_anchors_open_their_cell_and_are_unique(lesson):
    # An anchor sits at the start of the cell that teaches the idea, so a link lands on its start.
    anchors = []
    for cell in MARKDOWN[lesson]:
        found = ANCHOR.findall(cell)
        anchors += found
        if found: assert ANCHOR.search(opening_line(cell)), f'anchor {found[0]!r} does not open its cell'
    assert all(re.fullmatch(r'[a-z0-9][a-z0-9-]*', a) for a in anchors), anchors
    assert len(anchors) == len(set(anchors)), [a for a, n in Counter(anchors).items() if n > 1]
    title = MARKDOWN[lesson][0].splitlines()[0]
    assert title.startswith('# ') and not ANCHOR.search(title), f'the title line must stay plain: {title!r}'


def test_questionnaire_01_asks_only_what_lessons_00_and_01_teach():
    taught_in = [str(q['taught_in']['lesson']) for q in BANKS['01']['questions']]
    assert set(taught_in) <= {'00', '01'}, Counter(taught_in)
    assert taught_in.count('01') >= 20


@pytest.mark.parametrize('lesson', sorted(BANKS))
def test_bank_has_enough_questions_of_several_kinds(lesson):
    questions = BANKS[lesson]['questions']
    assert len(questions) >= 8
    assert len({q['kind'] for q in questions}) >= 3


def test_ids_are_unique_and_retired_ids_stay_retired():
    ids = [q['id'] for _, q in QUESTIONS]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert not RETIRED_IDS & set(ids)


@pytest.mark.parametrize('kind', ['match', 'order', 'fill_in'])
def test_exact_kinds_are_used_across_banks(kind):
    where = [lesson for lesson, q in QUESTIONS if q['kind'] == kind]
    assert len(where) >= 4 and len(set(where)) >= 3, where
    for lesson, q in QUESTIONS:
        if q['kind'] == kind: assert q.get('model_answer') and q.get('explanation'), q['id']


@pytest.mark.parametrize('lesson, question', [(l, q) for l, q in QUESTIONS if q['kind'] in ('match', 'order', 'fill_in')],
                         ids=lambda x: x['id'] if isinstance(x, dict) else x)
def test_exact_kinds_follow_the_spec(lesson, question):
    if question['kind'] == 'match':
        pairs = question['pairs']
        assert 3 <= len(pairs) <= 6 and all(len(p) == 2 for p in pairs)
        assert len({t for t, _ in pairs}) == len(pairs) and len({d for _, d in pairs}) == len(pairs)
    elif question['kind'] == 'order':
        steps = question['steps']
        assert 3 <= len(steps) <= 7 and len(set(steps)) == len(steps)
    else:
        assert question['prompt'].count('___') == 1
        assert question['answer'] and all(isinstance(a, str) for a in question['answer'])


def test_paraphrase_table_covers_every_short_question():
    shorts = {q['id'] for _, q in QUESTIONS if q['kind'] == 'short'}
    assert set(PARAPHRASES) == shorts, {'missing': shorts - set(PARAPHRASES), 'not short (or retired)': set(PARAPHRASES) - shorts}
    for qid, entry in PARAPHRASES.items():
        assert set(entry) == {'accept', 'reject'}, qid
        assert entry['accept'] and entry['reject'], qid
        assert all(isinstance(a, str) and a.strip() for a in entry['accept'] + entry['reject']), qid
        assert not set(entry['accept']) & set(entry['reject']), qid


def test_paraphrase_table_is_large():
    assert sum(len(e['accept']) for e in PARAPHRASES.values()) >= 80
    assert sum(len(e['reject']) for e in PARAPHRASES.values()) >= 80
