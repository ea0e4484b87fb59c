"Shared test setup: tests never touch the internet and never read or write a learner's own files."
import ipaddress
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
    os.environ['COURSE_PROGRESS_DB'] = str(scratch/'progress.sqlite')
    os.environ['COURSE_SEARCH_PAUSE'] = '0'   # the pause between image searches is for real search engines
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
