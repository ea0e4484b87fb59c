"Shared test setup: tests never touch the internet and never read or write a learner's own files."
import ipaddress
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NBS = REPO/'nbs'
COURSE = Path(sys.executable).parent/'course'


def pytest_configure(config):
    # Set before any test (and inherited by every kernel and subprocess they start).
    scratch = Path(tempfile.mkdtemp(prefix='course-tests-'))
    config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))
    os.environ['COURSE_OFFLINE'] = '1'
    os.environ['XDG_CONFIG_HOME'] = str(scratch/'config')   # ignore the developer's personal settings.ini
    os.environ['XDG_DATA_HOME'] = str(scratch/'share')
    os.environ['COURSE_RUNS_DIR'] = str(scratch/'runs')
    os.environ['COURSE_MODELS_DIR'] = str(scratch/'models')   # lesson 02 exports its model there
    os.environ['COURSE_PROGRESS_DB'] = str(scratch/'progress.sqlite')
    os.environ['COURSE_SEARCH_PAUSE'] = '0'   # the pause between image searches is for real search engines
    # PyTorch's download cache: tests put generated (random) weights there, which must never reach a learner's cache.
    os.environ['TORCH_HOME'] = str(scratch/'torch')
    # No MPLBACKEND here: kernels then draw inline, as for a learner, so executed lessons keep their figures.
    # pytest -n 2 runs two notebooks at once on a 2-core machine: one thread each. Two multi-threaded PyTorch
    # processes on two cores spin-wait on each other, which made small-model cells 10-40x slower (measured).
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    config.addinivalue_line('markers', "package_index: uses the package index (PyPI) like a learner's install; "
                                       "COURSE_SKIP_INDEX_TESTS=1 skips it offline")


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host == 'localhost': return True
    try: return ipaddress.ip_address(host).is_loopback
    except ValueError: return False


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    "Refuse any connection that does not stay on this machine."
    real_connect = socket.socket.connect
    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise OSError(f'tests must not use the network (tried to reach {address})')
        return real_connect(sock, address)
    monkeypatch.setattr(socket.socket, 'connect', guarded_connect)


class LessonRuns:
    """Each lesson run once per test session in quick, offline mode, by whichever test (on whichever xdist worker)
    asks first; later asks get the same run. The notebook tests check its results and the site build shows its
    outputs, so CI executes every lesson once for both instead of twice."""
    def __init__(self, folder:Path): self.folder, self.models = folder, folder/'models'

    def __call__(self, path:Path):
        from filelock import FileLock
        from course_utils.runner import RunResult, run_notebook
        saved = self.folder/f'{path.stem}.result.json'
        with FileLock(str(self.folder/f'{path.stem}.lock')):
            if saved.is_file():
                fields = json.loads(saved.read_text())
                return RunResult(**{**fields, 'source': Path(fields['source']), 'executed': Path(fields['executed'])})
            saved_models_dir = os.environ.get('COURSE_MODELS_DIR')
            os.environ['COURSE_MODELS_DIR'] = str(self.models)   # shared too: lesson 02's exported model is served by a test
            try: result = run_notebook(path, out_dir=self.folder, quick=True, offline=True, timeout=600)
            finally: os.environ['COURSE_MODELS_DIR'] = saved_models_dir
            saved.write_text(json.dumps({**vars(result), 'source': str(result.source), 'executed': str(result.executed)}))
            return result


@pytest.fixture(scope='session')
def session_folder(tmp_path_factory, worker_id) -> Path:
    "A folder shared by every xdist worker of this test session (under xdist each worker's base temp folder is inside it)."
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == 'master' else base.parent


@pytest.fixture(scope='session')
def offline_lesson_runs(session_folder) -> LessonRuns:
    folder = session_folder/'offline-lesson-runs'
    folder.mkdir(exist_ok=True)
    return LessonRuns(folder)
