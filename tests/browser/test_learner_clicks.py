"""Click through notebooks in JupyterLab as a learner does: the upload app, a questionnaire whose answers
survive a kernel restart, match and order questions answered with drop-downs, long options that wrap without
overlapping, and every lesson rendering without a front-end error."""
import re
import sqlite3
import time

import pytest
from matplotlib.cbook import get_sample_data
from playwright.sync_api import expect

from pathlib import Path

NBS = Path(__file__).resolve().parents[2]/"nbs"
from .conftest import SCREENSHOTS, write_notebook
from course_utils.quiz import load_quiz
from course_utils.runner import list_notebooks

# One worker runs all browser tests (pytest -n 2 keeps the group together), sharing one JupyterLab.
pytestmark = pytest.mark.xdist_group('browser')

# How long a widget already sent by the kernel may take to be drawn. Drawing takes well under a second
# alone; 30 s leaves room for a 2-core machine busy with the other test worker.
WIDGETS_DRAWN = 30_000
WIDGET_ERRORS = ['Error displaying widget', 'Failed to load model class', 'model not found']


def open_notebook(page, lab, path):
    base, token, _, _ = lab
    page.goto(f'{base}/lab/tree/{path}?reset&token={token}')   # reset: no tabs restored from an earlier test
    page.wait_for_selector('.jp-NotebookPanel .jp-Cell', timeout=60_000)
    # the kernel named in the notebook starts by itself; no "Select Kernel" dialog may appear
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=60_000)
    assert page.locator('.jp-Dialog').count() == 0, page.locator('.jp-Dialog').inner_text()
    # 'idle' can show a moment before the widget manager listens to the new kernel; a widget displayed in
    # that moment shows "model not found" (seen under pytest -n 2). A learner's first click comes later.
    page.wait_for_timeout(2000)


def menu(page, top, item):
    page.locator('.lm-MenuBar-itemLabel', has_text=re.compile(f'^{top}$')).click()
    page.locator('.lm-Menu-itemLabel', has_text=re.compile(f'^{re.escape(item)}')).first.click()


def run_all(page, tries=3):
    "Run every cell. A kernel that is still settling can drop the request (the prompt stays [ ]): ask again."
    prompt = page.locator('.jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt').first
    for attempt in range(tries):
        menu(page, 'Run', 'Run All Cells')
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = prompt.inner_text()
            if re.search(r'\[\d+\]', text): return                            # the first cell has run
            if '*' not in text and time.monotonic() > deadline - 50: break     # not even queued after 10 s
            time.sleep(0.25)
    raise AssertionError(f'the cells did not run after {tries} tries of Run All Cells')


def page_text(page) -> str: return page.locator('.jp-NotebookPanel:visible').inner_text()


def assert_no_frontend_errors(page, scope='.widget-output'):
    "No widget error messages in the notebook, and no red (stderr) output inside `scope`."
    text = page_text(page)
    for error in WIDGET_ERRORS: assert error not in text
    red = page.locator(f'.jp-NotebookPanel:visible {scope} [data-mime-type="application/vnd.jupyter.stderr"]')
    assert red.count() == 0, red.first.inner_text()


def upload(page, path, timeout=90_000):
    button = page.locator('button.widget-upload')
    button.wait_for(timeout=timeout)
    with page.expect_file_chooser() as chooser:   # ipywidgets 8 keeps no <input type=file> in the page
        button.click()
    chooser.value.set_files(str(path))


def test_upload_app_answers_a_real_photo_and_rejects_a_document(page, lab, tmp_path):
    open_notebook(page, lab, 'app_demo.ipynb')
    run_all(page)
    upload(page, get_sample_data('grace_hopper.jpg', asfileobj=False))   # a real face photo, shipped with matplotlib
    output = page.locator('.widget-output', has_text='probability of smiling')
    output.wait_for(timeout=60_000)
    line = output.inner_text()
    assert re.search(r'grace_hopper\.jpg: (definitely smiling|quite sure it is smiling|not smiling) \(probability of smiling [01]\.\d\d\)', line), line
    expect(output.locator('img')).to_have_count(1, timeout=WIDGETS_DRAWN)   # the photo is shown next to the verdict
    document = tmp_path/'notes.jpg'
    document.write_text('these are my lecture notes, not a photo\n' * 20)
    upload(page, document)
    page.locator('.widget-output', has_text="isn't a picture we can read").wait_for(timeout=30_000)
    assert 'probability' not in page.locator('.widget-output').inner_text()
    assert_no_frontend_errors(page)


def choice_card(page, question):
    shown = re.sub(r'[`*]', '', question.prompt.strip().splitlines()[0])[:60]   # the prompt as rendered from Markdown
    card = page.locator('.quiz-card', has_text=shown)
    card.wait_for(timeout=60_000)
    return card


def test_questionnaire_clicks_are_saved_across_a_kernel_restart(page, lab):
    quiz = load_quiz('01')
    first, second = [q for q in quiz.questions if q.kind == 'choice' and len(q.answer) == 1][:2]
    open_notebook(page, lab, 'lessons/01_questionnaire.ipynb')
    run_all(page)
    card = choice_card(page, first)
    card.locator('label', has_text=first.answer[0]).click()
    card.get_by_role('button', name='Check').click()
    card.locator('.widget-html', has_text='✔').wait_for()
    card.locator('.widget-output', has_text='Why:').wait_for()        # a right answer shows the explanation,
    card = choice_card(page, second)
    wrong = next(o for o in second.options if o not in second.answer)
    card.locator('label', has_text=wrong).click()
    card.get_by_role('button', name='Check').click()
    card.locator('.widget-html', has_text='✘').wait_for()
    assert 'Try again' in card.inner_text() and 'Why:' not in card.inner_text()   # a wrong one waits
    card.get_by_role('button', name='Show answer').click()             # until asked (built on that click)
    card.locator('.widget-output', has_text='Why:').wait_for()
    page.locator('.quiz-card').first.wait_for()
    assert 'Score: 1 / ' in page_text(page)
    menu(page, 'Kernel', 'Restart Kernel')
    page.locator('.jp-Dialog button.jp-mod-accept').click()
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=60_000)
    page.reload()                                                      # reopen the notebook, then run it again
    open_notebook(page, lab, 'lessons/01_questionnaire.ipynb')
    run_all(page)
    choice_card(page, first)
    _, _, _, env = lab
    with sqlite3.connect(env['COURSE_PROGRESS_DB']) as db:
        saved = db.execute('SELECT question_id, correct FROM attempts WHERE learner = ? ORDER BY id', ('browser-test',)).fetchall()
    assert saved == [(first.id, 1), (second.id, 0)]


# Questions made in code, so these tests don't depend on what the banks hold today.
KINDS_DEMO = """
from course_utils.progress import Progress
from course_utils.quiz import Choice, Match, Order, Quiz
from course_utils.quiz_ui import quiz_form
taught = dict(lesson='01', model_answer='the model answer', explanation='why it is so',
              taught_in={'lesson': '01', 'anchor': 'loss', 'section': 'Loss and metric'})
roles = Match('t-roles', kind='match', prompt='Match each term with its job.', pairs=%r, **taught)
loop = Order('t-loop', kind='order', prompt='Put one step of training in order.', steps=%r, **taught)
long_one = Choice('t-long', kind='choice', prompt='Which is the long option?', options=%r, answer=[%r], **taught)
several = Choice('t-several', kind='choice', prompt='Pick the long ones.', options=%r, answer=%r, **taught)
quiz_form(Quiz('01', 'Drop-downs and long options', [roles, loop, long_one, several]), Progress(learner='browser-kinds'))
"""
PAIRS = [['loss', 'what training lowers, step by step'], ['metric', 'what people read to judge a model'],
         ['validation set', 'images held back to measure the model honestly']]
STEPS = ['predict', 'compute the loss', 'compute the gradients', 'update the weights', 'zero the gradients']
LONG = ('A graphics processor has thousands of small cores that each do simple arithmetic, all at the same time, '
        'which suits the millions of multiply-adds of training a neural network; a CPU has a few fast cores that '
        'mostly work one instruction after another, so it is much slower at this kind of work, though fine for it.')
OPTIONS = [LONG, 'A short option', LONG.replace('graphics processor', 'GPU'), 'Another short one']


def open_kinds_demo(page, lab):
    _, _, root, _ = lab
    write_notebook(root/'kinds_demo.ipynb', [KINDS_DEMO % (PAIRS, STEPS, OPTIONS, LONG, OPTIONS, [OPTIONS[0], OPTIONS[2]])])
    open_notebook(page, lab, 'kinds_demo.ipynb')
    run_all(page)
    page.locator('.quiz-card').nth(3).wait_for(timeout=60_000)


def saved_attempts(lab, learner):
    with sqlite3.connect(lab[3]['COURSE_PROGRESS_DB']) as db:
        return db.execute('SELECT question_id, answer, correct FROM attempts WHERE learner = ? ORDER BY id', (learner,)).fetchall()


def choose(card, index, option):
    "Pick `option` in the card's `index`th drop-down, as a learner does."
    card.locator('select').nth(index).select_option(label=option)


def test_match_and_order_answered_with_dropdowns(page, lab):
    open_kinds_demo(page, lab)
    match = page.locator('.quiz-card', has_text='Match each term')
    # expect() asks again until it holds: ipywidgets draws each card's children on their own, so the fourth
    # card can be on the page before the first one's drop-downs are (CI once read [] here).
    expect(match.locator('.widget-dropdown label')).to_have_text([term for term, _ in PAIRS], timeout=WIDGETS_DRAWN)
    assert all(i == -1 for i in match.locator('select').evaluate_all('all => all.map(s => s.selectedIndex)'))   # none chosen yet
    for i, (_, description) in enumerate(PAIRS): choose(match, i, description)
    match.get_by_role('button', name='Check').click()
    match.locator('.widget-html', has_text='✔').wait_for()
    order = page.locator('.quiz-card', has_text='Put one step')
    expect(order.locator('.widget-dropdown label')).to_have_text(['1st', '2nd', '3rd', '4th', '5th'], timeout=WIDGETS_DRAWN)
    assert order.locator('select').first.evaluate('s => [...s.options].map(o => o.text)') != STEPS   # shown shuffled
    swapped = [STEPS[1], STEPS[0]] + STEPS[2:]
    for i, step in enumerate(swapped): choose(order, i, step)
    order.get_by_role('button', name='Check').click()
    order.locator('.widget-html', has_text='3 of 5 steps in the right place').wait_for()
    choose(order, 0, STEPS[0]); choose(order, 1, STEPS[1])
    order.get_by_role('button', name='Check').click()
    order.locator('.widget-html', has_text='✔').wait_for()
    saved = saved_attempts(lab, 'browser-kinds')
    assert [(qid, correct) for qid, _, correct in saved] == [('t-roles', 1), ('t-loop', 0), ('t-loop', 1)]
    assert all(description in saved[0][1] for _, description in PAIRS)   # the matches as chosen
    assert saved[2][1] == ' | '.join(STEPS)
    assert_no_frontend_errors(page)


def drawn_box(label) -> dict:
    "Where a label and its text are drawn (a label can stay one line high while its text spills out below)."
    return label.evaluate("""l => { const r = document.createRange(); r.selectNodeContents(l);
        const [a, b] = [l.getBoundingClientRect(), r.getBoundingClientRect()];
        const x = Math.min(a.left, b.left), y = Math.min(a.top, b.top);
        return {x, y, right: Math.max(a.right, b.right), bottom: Math.max(a.bottom, b.bottom)}; }""")


def overlap(a, b) -> bool:
    return a['x'] < b['right'] and b['x'] < a['right'] and a['y'] < b['bottom'] and b['y'] < a['bottom']


def test_long_options_wrap_without_overlapping(page, lab):
    open_kinds_demo(page, lab)
    SCREENSHOTS.mkdir(exist_ok=True)
    for prompt, labels, name in [('Which is the long option?', '.widget-radio-box label', 'radio'),
                                 ('Pick the long ones.', '.widget-checkbox .widget-label-basic', 'checkbox')]:
        card = page.locator('.quiz-card', has_text=prompt)
        card.scroll_into_view_if_needed()
        card.screenshot(path=str(SCREENSHOTS/f'long_options_{name}.png'))
        found = card.locator(labels)
        expect(found).to_have_count(len(OPTIONS), timeout=WIDGETS_DRAWN)
        assert sorted(found.all_inner_texts()) == sorted(OPTIONS), name
        boxes = [drawn_box(label) for label in found.all()]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]: assert not overlap(a, b), (name, a, b)
        card_box = card.bounding_box()
        long_box = boxes[found.all_inner_texts().index(LONG)]
        assert long_box['bottom'] - long_box['y'] > 40, (name, long_box)                # wrapped onto several lines,
        assert long_box['right'] <= card_box['x'] + card_box['width'], (name, long_box)  # inside the card
    assert_no_frontend_errors(page)


LESSON_FOLDER = NBS/'lessons'
NOTEBOOKS = list_notebooks(LESSON_FOLDER)


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda nb: nb.path.stem)
def test_every_lesson_notebook_renders(page, lab, notebook):
    open_notebook(page, lab, f'lessons/{notebook.path.name}')
    heading = page.locator('.jp-NotebookPanel:visible .jp-MarkdownOutput h1').first
    assert notebook.title in heading.inner_text()
    if notebook.kind != 'lesson':
        # questionnaires and the review run in seconds: run them and check the form itself renders
        run_all(page)
        expected = 'Review' if notebook.kind == 'review' else 'Check'
        page.locator('.jp-NotebookPanel:visible .jp-OutputArea', has_text=expected).first.wait_for(timeout=60_000)
        if notebook.kind == 'review':   # the progress chart, then the review form (its title says what is due)
            page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output img').first.wait_for(timeout=WIDGETS_DRAWN)
            page.locator('.jp-NotebookPanel:visible .widget-html', has_text='Review').first.wait_for(timeout=WIDGETS_DRAWN)
        if notebook.kind == 'questionnaire':
            expect(page.locator('.quiz-card')).to_have_count(len(load_quiz(notebook.number).questions), timeout=WIDGETS_DRAWN)
        assert_no_frontend_errors(page, scope='.jp-OutputArea')   # nothing red at all
    assert_no_frontend_errors(page)
