"""A real JupyterLab on 127.0.0.1 and a real (Debian) Chromium driven by Playwright, for tests that click
through notebooks as a learner does. Without Chromium these tests skip, unless COURSE_REQUIRE_BROWSER=1
(set by .ci/run), which turns a missing browser into a failure."""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NBS = REPO/"nbs"

CHROMIUM = Path(os.environ.get('COURSE_CHROMIUM', '/usr/bin/chromium'))
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
SCREENSHOTS = REPO/'test-results'


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists(): return
    why = f'no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (or set COURSE_CHROMIUM)'
    for item in items:
        if 'browser' in item.path.parts:
            if os.environ.get('COURSE_REQUIRE_BROWSER') == '1': item.add_marker(pytest.mark.xfail(reason=why, run=False, strict=True))
            else: item.add_marker(pytest.mark.skip(reason=why))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f'report_{report.when}', report)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# A tiny notebook with the real upload app on a model trained for one epoch (seconds, not the lesson's minute).
APP_DEMO = [
    "from fastai.vision.all import *\n"
    "from course_utils.datasets import celeba_smiling\n"
    "from course_utils.vision import small_cnn\n"
    "from course_utils.widgets import classifier_app\n"
    "images, df = celeba_smiling(n=300, offline=True, quick=True)\n"
    "dls = ImageDataLoaders.from_df(df, images, valid_pct=0.2, seed=42, fn_col='File_name', label_col='Smiling',\n"
    "                               item_tfms=Resize(48), bs=32, num_workers=0)\n"
    "learn = Learner(dls, small_cnn(dls.c), metrics=error_rate)\n"
    "with learn.no_bar(): learn.fit_one_cycle(1, 3e-3)",
    "app = classifier_app(learn)\napp",
]


def write_notebook(path: Path, sources: list[str]):
    cells = [{'cell_type': 'code', 'id': f'c{i}', 'metadata': {}, 'source': s, 'outputs': [], 'execution_count': None}
             for i, s in enumerate(sources)]
    path.write_text(json.dumps({'cells': cells, 'nbformat': 4, 'nbformat_minor': 5, 'metadata': {
        'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}}}))


@pytest.fixture(scope='session')
def lab(tmp_path_factory):
    "JupyterLab serving a temp copy of the lessons; yields (base url, token, root folder, environment)."
    root = tmp_path_factory.mktemp('lab')
    shutil.copytree(NBS/'lessons', root/'lessons', ignore=shutil.ignore_patterns('.ipynb_checkpoints', 'models'))
    write_notebook(root/'app_demo.ipynb', APP_DEMO)
    home = root/'.home'
    config = home/'jupyter-config'
    (config/'labconfig').mkdir(parents=True)
    # No "get Jupyter news?" toast over the page: switch the announcements plugin off.
    (config/'labconfig'/'page_config.json').write_text(json.dumps(
        {'disabledExtensions': {'@jupyterlab/apputils-extension:announcements': True}}))
    # Open notebooks straight into their own kernel (JupyterLab 4 otherwise asks with a "Select Kernel" dialog).
    settings = home/'lab-settings'/'@jupyterlab'/'notebook-extension'
    settings.mkdir(parents=True)
    (settings/'tracker.jupyterlab-settings').write_text(json.dumps({'autoStartDefaultKernel': True}))
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(config), 'JUPYTER_RUNTIME_DIR': str(home/'runtime'),
           'JUPYTERLAB_SETTINGS_DIR': str(home/'lab-settings'), 'JUPYTERLAB_WORKSPACES_DIR': str(home/'workspaces'),
           'IPYTHONDIR': str(home/'ipython'), 'XDG_DATA_HOME': str(home/'share'), 'XDG_CONFIG_HOME': str(home/'config'),
           'COURSE_PROGRESS_DB': str(home/'progress.sqlite'), 'COURSE_LEARNER': 'browser-test', 'COURSE_OFFLINE': '1',
           'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
               f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--ServerApp.port_retries=0',
               ]
    if hasattr(os, 'geteuid') and os.geteuid() == 0: command.append('--allow-root')
    log = open(home/'jupyter.log', 'w')
    server = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2) as r:
                if r.status == 200: break
        except OSError: pass
        if server.poll() is not None or time.monotonic() > deadline:
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail(f'JupyterLab did not start:\n{(home/"jupyter.log").read_text()[-3000:]}')
        time.sleep(0.3)
    yield base, token, root, env
    os.killpg(server.pid, signal.SIGTERM)
    try: server.wait(timeout=15)
    except subprocess.TimeoutExpired: os.killpg(server.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope='session')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shut_down_kernels(base, token):
    "Stop every kernel the last test started, so they don't pile up over the test run."
    def call(method, path):
        request = urllib.request.Request(f'{base}{path}', method=method, headers={'Authorization': f'token {token}'})
        with urllib.request.urlopen(request, timeout=10) as r: return json.loads(r.read() or b'null')
    for session in call('GET', '/api/sessions'): call('DELETE', f"/api/sessions/{session['id']}")


@pytest.fixture
def page(browser, lab, request):
    "A fresh browser context (its own profile) per test; a screenshot in test-results/ if the test fails."
    context = browser.new_context(viewport={'width': 1400, 'height': 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    report = getattr(request.node, 'report_call', None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS/f'{request.node.name}.png'), full_page=True)
    context.close()
    shut_down_kernels(lab[0], lab[1])
