"""Click through notebooks in JupyterLab as a learner does: the upload app, a questionnaire whose answers
survive a kernel restart, and every lesson rendering without a front-end error."""
import re
import sqlite3
import time

import pytest
from matplotlib.cbook import get_sample_data

from pathlib import Path

NBS = Path(__file__).resolve().parents[2]/"nbs"
from course_utils.quiz import load_quiz
from course_utils.runner import list_notebooks

# One worker runs all browser tests (pytest -n 2 keeps the group together), sharing one JupyterLab.
pytestmark = pytest.mark.xdist_group('browser')

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
    assert output.locator('img').count() == 1                       # the photo is shown next to the verdict
    document = tmp_path/'notes.jpg'
    document.write_text('these are my lecture notes, not a photo\n' * 20)
    upload(page, document)
    page.locator('.widget-output', has_text="isn't a picture we can read").wait_for(timeout=30_000)
    assert 'probability' not in page.locator('.widget-output').inner_text()
    assert_no_frontend_errors(page)


def choice_card(page, question):
    card = page.locator('.quiz-card', has_text=question.prompt.strip().splitlines()[0][:60])
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
            assert page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output img').count() >= 1
            assert page.locator('.jp-NotebookPanel:visible .widget-html', has_text='Review').count() >= 1
        if notebook.kind == 'questionnaire':
            assert page.locator('.quiz-card').count() == len(load_quiz(notebook.number).questions)
        assert_no_frontend_errors(page, scope='.jp-OutputArea')   # nothing red at all
    assert_no_frontend_errors(page)
