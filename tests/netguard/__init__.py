"""Run Python processes, and the Jupyter kernels they start, under the test network guard (sitecustomize.py here):
they may reach this machine only, and log every other connection or name lookup they attempt."""
import os
from pathlib import Path

GUARD_DIR = Path(__file__).resolve().parent
LOG_ENV = 'COURSE_NET_GUARD_LOG'


def guard_environment(log: Path) -> dict[str, str]:
    "Environment variables that arm the guard, logging to `log`, in every Python process started with them."
    existing = os.environ.get('PYTHONPATH')
    # no trailing separator when PYTHONPATH is unset or empty: an empty entry would put the working folder on sys.path
    path = os.pathsep.join([str(GUARD_DIR), existing]) if existing else str(GUARD_DIR)
    return {'PYTHONPATH': path, LOG_ENV: str(log)}


def read_guard_log(log: Path) -> tuple[set[int], list[str]]:
    "The ids of the processes that armed the guard, and what it blocked (e.g. '192.0.2.1:80 (connect)'), in order."
    armed, blocked = set(), []
    lines = Path(log).read_text(encoding='utf-8').splitlines() if Path(log).is_file() else []
    for line in lines:
        event, pid, what = (line.split(' ', 2) + [''])[:3]
        if event == 'armed': armed.add(int(pid))
        elif event == 'blocked': blocked.append(what)
    return armed, blocked
