"""Lesson 02's model out of the notebook: exported, loaded in a fresh process, and served by the generated web app
(`course app 02`), whose upload checks must say what the notebook app says."""
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app_model import shared_exported_model
from conftest import REPO
from course_utils.app import APP_SOURCE, app_environment, app_requirements
from course_utils.cli import main
from course_utils.core import library_versions
from course_utils.widgets import UploadProblem, open_upload
from netguard import guard_environment, read_guard_log


@pytest.fixture(scope='module')
def model(session_folder):
    return shared_exported_model(session_folder)


@pytest.fixture(scope='module')
def app_folder(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp('space')
    assert main(['app', '02', str(folder), '--model', str(model)]) == 0
    return folder


def test_export_loads_in_a_new_process_with_the_same_predictions(model):
    live = json.loads((model.parent/'live_predictions.json').read_text())
    script = ("import json, sys\nfrom fastai.learner import load_learner\n"
              "learn = load_learner(sys.argv[1])\nfiles = json.loads(sys.argv[2])\n"
              "print(json.dumps(learn.get_preds(dl=learn.dls.test_dl(files))[0].tolist()))")
    out = subprocess.run([sys.executable, '-c', script, str(model), json.dumps(live['files'])],
                         capture_output=True, text=True, check=True, timeout=120)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(loaded) == len(live['probs']) > 0
    for mine, theirs in zip(live['probs'], loaded):
        assert mine.index(max(mine)) == theirs.index(max(theirs))                      # the same label, exactly
        assert max(abs(a - b) for a, b in zip(mine, theirs)) < 1e-5, (mine, theirs)   # probabilities to 1e-5


def test_course_app_writes_a_folder_spaces_runs_as_it_is(app_folder, model):
    assert sorted(p.name for p in app_folder.iterdir()) == ['README.md', 'app.py', 'model.pkl', 'requirements.txt']
    assert (app_folder/'app.py').read_text() == APP_SOURCE
    assert (app_folder/'model.pkl').read_bytes() == model.read_bytes()
    header = (app_folder/'README.md').read_text().split('---')[1]
    assert 'sdk: gradio' in header and f"sdk_version: {library_versions(('gradio',))['gradio']}" in header
    assert 'app_file: app.py' in header
    # Pinned to the versions that exported the model: load_learner unpickles it.
    assert (app_folder/'requirements.txt').read_text() == app_requirements()
    # app.py needs fastai and Gradio only: no course_utils on Spaces.
    assert 'course_utils' not in APP_SOURCE.replace('(course_utils)', '').replace('course_utils.widgets', '')


def test_course_app_says_what_is_missing(tmp_path, capsys):
    assert main(['app', '03', str(tmp_path/'x')]) == 2
    assert main(['app', '02', str(tmp_path/'x'), '--model', str(tmp_path/'none.pkl')]) == 2
    err = capsys.readouterr().err
    assert 'lesson 03 has no web app' in err and 'course run 02 --quick' in err


def bad_uploads() -> dict[str, bytes]:
    "Files a learner might upload that are not usable photos, by name."
    jpeg = io.BytesIO(); Image.new('RGB', (300, 200), 'teal').save(jpeg, 'JPEG')
    gif = io.BytesIO()
    frames = [Image.new('RGB', (40, 40), colour).convert('P') for colour in ('red', 'blue')]
    frames[0].save(gif, 'GIF', save_all=True, append_images=frames[1:])
    bomb = io.BytesIO(); Image.new('1', (20000, 20000)).save(bomb, 'PNG')
    return {'empty.jpg': b'', 'notes.jpg': b'these are my lecture notes\n' * 20, 'cut.jpg': jpeg.getvalue()[:400],
            'animation.gif': gif.getvalue(), 'panorama.png': bomb.getvalue(), 'huge.jpg': b'\xff' * 31_000_000}


def test_app_upload_checks_match_the_notebook_app(app_folder):
    spec = importlib.util.spec_from_file_location('space_app', app_folder/'app.py')
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)          # builds the page; the model is only loaded on the first request
    for name, data in bad_uploads().items():
        with pytest.raises(UploadProblem) as course: open_upload(name, data)
        with pytest.raises(app.UploadProblem) as space: app.open_upload(name, data)
        assert str(space.value) == str(course.value), name
    from matplotlib.cbook import get_sample_data
    photo = Path(get_sample_data('grace_hopper.jpg', asfileobj=False)).read_bytes()
    assert np.array_equal(np.asarray(app.open_upload('g.jpg', photo)), np.asarray(open_upload('g.jpg', photo)))


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(url:str, process, seconds:float=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2): return
        except OSError: pass
        if process.poll() is not None: pytest.fail(f'the app stopped:\n{process.stdout.read()[-3000:]}')
        time.sleep(0.5)
    pytest.fail(f'the app did not answer at {url} within {seconds} s')


def expected_verdict(model, photo:Path) -> str:
    "What the app must say about `photo`, computed here from the same exported file."
    from fastai.learner import load_learner
    from course_utils.vision import positive_probability, smile_decision
    p = positive_probability(load_learner(model), open_upload(photo.name, photo.read_bytes()))
    return f'{photo.name}: {smile_decision(p)} (probability of smiling {p:.2f})'


def test_the_app_runs_from_its_requirements_in_a_fresh_virtualenv(app_folder, model, tmp_path):
    venv = tmp_path/'venv'
    # No pip or setuptools of its own: the chained environment's (below) are the ones pip must see.
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=120)
    python = venv/'bin'/'python'
    site = subprocess.run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Chain to this environment's packages instead of downloading torch again: pip then finds every pinned version.
    ours = subprocess.run([sys.executable, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site)/'course-test-chain.pth').write_text(ours + '\n')
    install = subprocess.run([str(python), '-m', 'pip', 'install', '--no-index', '-r', str(app_folder/'requirements.txt')],
                             capture_output=True, text=True, timeout=300, env={**os.environ, 'PIP_CONFIG_FILE': os.devnull})
    assert install.returncode == 0, install.stdout + install.stderr
    assert subprocess.run([str(python), '-c', 'import course_utils'], capture_output=True, cwd=tmp_path).returncode != 0, \
        'course_utils must not be importable where the app runs'
    port, log = free_port(), tmp_path/'network.log'
    env = {**app_environment(port=port), **guard_environment(log)}
    server = subprocess.Popen([str(python), 'app.py'], cwd=app_folder, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(f'http://127.0.0.1:{port}/', server)
        from gradio_client import Client, handle_file
        from matplotlib.cbook import get_sample_data
        photo = Path(get_sample_data('grace_hopper.jpg', asfileobj=False))
        _, text = Client(f'http://127.0.0.1:{port}/', verbose=False).predict(handle_file(str(photo)), api_name='/predict')
        assert text == expected_verdict(model, photo)
    finally:
        server.terminate()
        server.wait(timeout=30)
    armed, blocked = read_guard_log(log)
    assert armed and blocked == [], blocked
