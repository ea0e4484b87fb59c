"""Stamp the setup cell into every lesson, questionnaire and review notebook, and the "open in" links into the README.

The cell installs the course when the runtime lacks it (a fresh Colab or Kaggle session) from the repository URL
in pyproject.toml, so the URL lives in one place. Run after changing that URL or the cell's text:

    python tools/setup_cell.py           # rewrite what is out of date
    python tools/setup_cell.py --check   # exit 1 and name what is out of date (tests/test_setup_cell.py does this)
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LESSONS = REPO/'nbs'/'lessons'
SETUP_TAG = 'course-setup'   # nbdev-clean keeps cell tags; the tag is how this script finds the cell again
README_START, README_END = '<!-- open-in -->', '<!-- /open-in -->'


def repository_url(pyproject:Path=REPO/'pyproject.toml') -> str:
    "The course's repository URL, from [project.urls] Repository in pyproject.toml."
    found = re.search(r'^Repository\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)  # tomllib needs Python 3.11
    if not found: raise SystemExit(f'{pyproject} has no Repository = "..." line under [project.urls]')
    return found[1].rstrip('/')


def install_spec(url:str|None=None) -> str:
    "What pip installs on a fresh runtime: the course straight from its repository (it is not on PyPI)."
    return f'course-utils @ git+{url or repository_url()}'


INSTALL = '''# The same first cell in every notebook: on a fresh Colab or Kaggle runtime it installs the course (once per
# session, about a minute); where the course is installed it does nothing.
import importlib.util, subprocess, sys
COURSE_PACKAGE = {spec!r}
if importlib.util.find_spec('course_utils') is None:
    print('Installing the course for this session ...')
    if subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', COURSE_PACKAGE]).returncode:
        raise RuntimeError('Could not install the course (see the pip messages above). No internet? On Kaggle, switch '
                           'on Settings > Internet (it needs a phone-verified account) and choose Accelerator > GPU '
                           'T4 x2, then run this cell again.')
    importlib.invalidate_caches()'''

SETUP = '''
from course_utils.core import setup_lesson
cfg = setup_lesson(quick=quick, offline=offline, data_path=data_path)'''


def setup_cell_source(kind:str, spec:str|None=None) -> str:
    "The setup cell for a 'lesson' (install, then `setup_lesson`) or any other notebook (install only)."
    source = INSTALL.format(spec=spec or install_spec())
    return source + SETUP if kind == 'lesson' else source


def _tags(cell) -> list: return cell.get('metadata', {}).get('tags', [])


def _lines(text:str) -> list[str]:
    lines = text.split('\n')
    return [line + '\n' for line in lines[:-1]] + [lines[-1]]


def notebook_kind(path:Path) -> str:
    "'lesson' for a notebook with a parameters cell (it gets `setup_lesson` too), else 'other'."
    cells = json.loads(path.read_text())['cells']
    return 'lesson' if any('parameters' in _tags(c) for c in cells) else 'other'


def stamped(notebook:dict, kind:str, spec:str|None=None) -> dict:
    "`notebook` with its setup cell right after the parameters cell (or first, when it has none), up to date."
    old = [c for c in notebook['cells'] if SETUP_TAG in _tags(c)]
    cells = [c for c in notebook['cells'] if SETUP_TAG not in _tags(c)]
    params = [i for i, c in enumerate(cells) if 'parameters' in _tags(c)]
    first_code = next(i for i, c in enumerate(cells) if c['cell_type'] == 'code')
    at = params[0] + 1 if params else first_code
    cell = {'cell_type': 'code', 'execution_count': None, 'metadata': {'tags': [SETUP_TAG]}, 'outputs': [],
            'source': _lines(setup_cell_source(kind, spec))}
    if old and 'id' in old[0]: cell = {**cell, 'id': old[0]['id']}   # nbdev-clean gives cells ids: keep the one it gave
    return {**notebook, 'cells': cells[:at] + [cell] + cells[at:]}


def course_notebooks(folder:Path=LESSONS) -> list[Path]:
    return sorted(p for p in folder.glob('*.ipynb') if not p.name.startswith('.'))


def open_in_table(url:str|None=None) -> str:
    "The README table of links that open each lesson in Colab or Kaggle, straight from the repository."
    url = url or repository_url()
    github_path = url.removeprefix('https://github.com/')
    rows = ['| Notebook | Open in |', '|---|---|']
    for path in course_notebooks():
        rel = path.relative_to(REPO).as_posix()
        title = json.loads(path.read_text())['cells'][0]['source'][0].lstrip('# ').strip()
        rows.append(f'| {title} | [Colab](https://colab.research.google.com/github/{github_path}/blob/main/{rel}) · '
                    f'[Kaggle](https://kaggle.com/kernels/welcome?src={url}/blob/main/{rel}) |')
    return '\n'.join(rows)


def readme_with_links(text:str, url:str|None=None) -> str:
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    return text[:start] + '\n' + open_in_table(url) + '\n' + text[end:]


def _dump(notebook:dict) -> str: return json.dumps(notebook, indent=1, ensure_ascii=False) + '\n'


def out_of_date() -> dict[Path, str]:
    "Each file whose setup cell or links differ from what this script writes, with its new text."
    changes = {}
    for path in course_notebooks():
        notebook = json.loads(path.read_text())
        new = stamped(notebook, notebook_kind(path))
        if new['cells'] != notebook['cells']: changes[path] = _dump(new)
    readme = REPO/'README.md'
    new_readme = readme_with_links(readme.read_text())
    if new_readme != readme.read_text(): changes[readme] = new_readme
    return changes


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    changes = out_of_date()
    if '--check' in argv:
        for path in changes: print(f'out of date: {path.relative_to(REPO)} (run python tools/setup_cell.py)')
        return 1 if changes else 0
    for path, text in changes.items():
        path.write_text(text)
        print(f'stamped {path.relative_to(REPO)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
