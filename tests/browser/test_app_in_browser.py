"""Lesson 02's web app as a learner meets it: lesson 02 run to the end in quick mode (it exports its model), then
`course app 02 --serve` on 127.0.0.1 from that file, opened in Chromium, a real photo uploaded through the page, and a
document named .jpg refused with a friendly sentence."""
import os
import signal
import subprocess
from pathlib import Path

import pytest
from matplotlib.cbook import get_sample_data

from conftest import COURSE, NBS
from course_utils.app import exported_model
from test_app import expected_verdict, free_port, wait_for

from .conftest import SCREENSHOTS


@pytest.fixture
def served_app(offline_lesson_runs, tmp_path):
    "The app served by `course app 02 --serve` from lesson 02's own export; yields (url, exported model)."
    offline_lesson_runs(NBS/'lessons'/'02_smiling_faces.ipynb')   # the same run the notebook tests check
    model, port = exported_model(offline_lesson_runs.models), free_port()
    server = subprocess.Popen([str(COURSE), 'app', '02', str(tmp_path/'space'), '--model', str(model), '--serve', '--port', str(port)],
                              env={**os.environ, 'OMP_NUM_THREADS': '1'}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        wait_for(url, server)
        yield url, model
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try: server.wait(timeout=20)
        except subprocess.TimeoutExpired: os.killpg(server.pid, signal.SIGKILL)


def submit(page, path:Path) -> str:
    "Upload `path` through the page, press Submit, and return the verdict the page shows."
    page.locator('input[type=file]').set_input_files(str(path))
    page.get_by_role('button', name='Submit').click()
    verdict = page.get_by_label('Verdict')
    for _ in range(120):
        text = verdict.input_value()
        if path.name in text: return text
        page.wait_for_timeout(500)
    raise AssertionError(f'no verdict for {path.name}; the page shows {verdict.input_value()!r}')


def test_the_web_app_answers_a_photo_like_the_exported_model_and_refuses_a_document(served_app, browser, tmp_path, request):
    url, model = served_app
    context = browser.new_context(viewport={'width': 1200, 'height': 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(url)
        photo = Path(get_sample_data('grace_hopper.jpg', asfileobj=False))   # a real face photo, shipped with matplotlib
        assert submit(page, photo) == expected_verdict(model, photo)
        document = tmp_path/'notes.jpg'
        document.write_text('these are my lecture notes, not a photo\n' * 20)
        page.goto(url)   # a fresh page, as a second visitor would see it
        assert submit(page, document) == "notes.jpg isn't a picture we can read. Upload a JPEG, PNG, WebP or GIF photo."
    except Exception:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS/f'{request.node.name}.png'), full_page=True)
        raise
    finally: context.close()
