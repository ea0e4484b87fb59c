"""Notebooks are the source of `course_utils`: the exported library must match them, and they must be clean.
Both checks run nbdev on a scratch copy of the project, so the work tree is never touched."""
import filecmp
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

BIN = Path(sys.executable).parent
PROJECT_FILES = ('pyproject.toml', 'nbs', 'course_utils')


def scratch_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = REPO/name
        if source.is_dir(): shutil.copytree(source, dest/name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
        else: shutil.copy2(source, dest/name)
    return dest


def nbdev(command: str, project: Path):
    subprocess.run([str(BIN/command)], cwd=project, check=True, capture_output=True, text=True, timeout=300)


def export_drift(project: Path) -> list[str]:
    "Files of course_utils/ that `nbdev-export` would change in `project`."
    before = project.parent/'before'
    shutil.copytree(project/'course_utils', before)
    nbdev('nbdev-export', project)
    compared = filecmp.dircmp(before, project/'course_utils', ignore=['__pycache__'])
    return sorted(compared.diff_files + compared.left_only + compared.right_only)


def clean_drift(project: Path) -> list[str]:
    "Notebooks that `nbdev-clean` would change in `project`."
    notebooks = sorted((project/'nbs').rglob('*.ipynb'))
    before = {p: p.read_bytes() for p in notebooks}
    nbdev('nbdev-clean', project)
    return [str(p.relative_to(project)) for p in notebooks if p.read_bytes() != before[p]]


def test_library_matches_notebooks(tmp_path):
    drift = export_drift(scratch_copy(tmp_path/'project'))
    assert not drift, f'course_utils is out of date for {drift}: run nbdev-export and commit the result'


def test_notebooks_are_clean(tmp_path):
    drift = clean_drift(scratch_copy(tmp_path/'project'))
    assert not drift, f'run nbdev-clean: these notebooks carry outputs or metadata: {drift}'


def test_sync_check_catches_an_unexported_edit(tmp_path):
    # The check above is only worth something if it fails when a notebook is edited without exporting.
    project = scratch_copy(tmp_path/'project')
    notebook = project/'nbs'/'02_core.ipynb'
    nb = json.loads(notebook.read_text())
    exported = next(c for c in nb['cells'] if c['cell_type'] == 'code' and ''.join(c['source']).startswith('#| export'))
    exported['source'] = ''.join(exported['source']) + '\n\ndef an_unexported_helper(): return 42\n'
    notebook.write_text(json.dumps(nb, indent=1))
    assert 'core.py' in export_drift(project)


def test_clean_check_catches_outputs(tmp_path):
    project = scratch_copy(tmp_path/'project')
    notebook = project/'nbs'/'lessons'/'00_jupyter_basics.ipynb'
    nb = json.loads(notebook.read_text())
    code_cell = next(c for c in nb['cells'] if c['cell_type'] == 'code')
    code_cell['execution_count'] = 7
    code_cell['metadata']['scrolled'] = True
    notebook.write_text(json.dumps(nb, indent=1))
    assert clean_drift(project) == ['nbs/lessons/00_jupyter_basics.ipynb']
