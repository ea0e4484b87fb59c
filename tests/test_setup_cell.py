"""The setup cell every notebook starts with: stamped from pyproject.toml's repository URL, placed where papermill's
injected parameters reach it, silent where the course is installed, and installing the right thing where not."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO/'tools'))
import setup_cell  # noqa: E402


def test_every_notebook_and_the_readme_links_are_stamped():
    # Fails when someone edits pyproject's URL or the cell's text without running tools/setup_cell.py.
    stale = [str(p.relative_to(REPO)) for p in setup_cell.out_of_date()]
    assert not stale, f'run python tools/setup_cell.py: {stale}'


def test_install_spec_is_the_repository_in_pyproject():
    url = setup_cell.repository_url()
    assert url.startswith('https://github.com/')
    assert setup_cell.install_spec() == f'course-utils @ git+{url}'
    readme = (REPO/'README.md').read_text()
    assert f'pip install "{setup_cell.install_spec()}"' in readme   # the README shows the same command
    assert f'https://colab.research.google.com/github/{url.removeprefix("https://github.com/")}/blob/main/nbs/lessons/01_is_it_a_bird.ipynb' in readme


@pytest.mark.parametrize('path', setup_cell.course_notebooks(), ids=lambda p: p.stem)
def test_setup_cell_comes_right_after_the_parameters(path):
    cells = json.loads(path.read_text())['cells']
    tagged = [i for i, c in enumerate(cells) if setup_cell.SETUP_TAG in c['metadata'].get('tags', [])]
    assert len(tagged) == 1, path.name
    params = [i for i, c in enumerate(cells) if 'parameters' in c['metadata'].get('tags', [])]
    if params:   # papermill injects its parameters right after this cell: the setup cell must see them
        assert tagged[0] == params[0] + 1
    else:        # questionnaires and the review notebook: before any other code
        assert tagged[0] == min(i for i, c in enumerate(cells) if c['cell_type'] == 'code')
    # Only the setup cell calls setup_lesson, so a notebook never prints the banner twice.
    assert sum('setup_lesson(' in ''.join(c['source']) for c in cells) == (1 if params else 0)


def _fake_pip(folder:Path, exit_code:int=0) -> Path:
    """A `pip` package whose `python -m pip ...` records its arguments and "installs" a stand-in course_utils
    (whose setup_lesson prints what it was given) into `folder/site`, as the real one would into site-packages."""
    (folder/'pip').mkdir(parents=True)
    (folder/'site').mkdir()
    (folder/'pip'/'__init__.py').write_text('')
    (folder/'pip'/'__main__.py').write_text(textwrap.dedent(f'''
        import json, pathlib, sys
        here = pathlib.Path({str(folder)!r})
        (here/'pip-args.json').write_text(json.dumps(sys.argv[1:]))
        if {exit_code}: sys.exit({exit_code})
        package = here/'site'/'course_utils'
        package.mkdir()
        (package/'__init__.py').write_text('')
        (package/'core.py').write_text('def setup_lesson(**kw): print("setup_lesson", sorted(kw.items()))')
    '''))
    return folder


def _run_cell(kind:str, folder:Path, isolated:bool):
    "Run the stamped cell as the notebook would, after the parameters; `isolated` hides the installed course."
    code = 'quick, offline, data_path = True, True, None\n' + setup_cell.setup_cell_source(kind)
    env = {**os.environ, 'PYTHONPATH': f'{folder}{os.pathsep}{folder/"site"}'}
    # -S leaves site-packages out, so `course_utils` is missing exactly as on a fresh Colab runtime.
    return subprocess.run([sys.executable, *(['-S'] if isolated else []), '-c', code], env=env, cwd=folder,
                          capture_output=True, text=True, timeout=120)


def test_setup_cell_installs_the_course_when_it_is_missing(tmp_path):
    done = _run_cell('lesson', _fake_pip(tmp_path), isolated=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path/'pip-args.json').read_text()) == ['install', '-q', setup_cell.install_spec()]
    # The package installed a moment ago is importable in the same process, and gets the lesson's parameters.
    assert "setup_lesson [('data_path', None), ('offline', True), ('quick', True)]" in done.stdout


def test_setup_cell_installs_nothing_when_the_course_is_there(tmp_path):
    done = _run_cell('lesson', _fake_pip(tmp_path), isolated=False)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path/'pip-args.json').exists()
    assert 'Platform :' in done.stdout and 'Mode     : quick' in done.stdout   # the real banner


def test_failed_install_says_what_to_do(tmp_path):
    done = _run_cell('other', _fake_pip(tmp_path, exit_code=1), isolated=True)
    assert done.returncode != 0
    assert 'Could not install the course' in done.stderr and 'Settings > Internet' in done.stderr and 'T4 x2' in done.stderr
