"""Execute every notebook in nbs/ (library notebooks with their inline tests, and lessons) in quick, offline
mode, through the same `run_notebook` that `course run` uses, in a real Jupyter kernel."""
import math

import pytest

from conftest import NBS
from course_utils.runner import QUIZ_SUFFIX, run_notebook

NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
LESSONS = [p for p in NOTEBOOKS if p.parent.name == 'lessons' and not p.stem.endswith(QUIZ_SUFFIX)]

# The headline numbers each lesson promises to record (checked by name; values are checked below).
EXPECTED_METRICS = {
    '00_jupyter_basics': {'python_madds_per_s', 'numpy_madds_per_s', 'numpy_speedup', 'gpu_speedup'},
}


def test_every_notebook_is_collected():
    # Guards against a glob that silently finds nothing: the course has library notebooks and lessons.
    assert any(p.parent == NBS for p in NOTEBOOKS) and LESSONS


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda p: str(p.relative_to(NBS)))
def test_notebook_runs(notebook, tmp_path):
    result = run_notebook(notebook, out_dir=tmp_path, quick=True, offline=True, timeout=600)
    assert result.executed.is_file()
    if notebook in LESSONS:
        # Every lesson ends with record(...) of its headline metric, and records real numbers.
        assert result.metrics, f'{notebook.stem} recorded no metrics'
        assert EXPECTED_METRICS.get(notebook.stem, set()) <= set(result.metrics)
        assert all(math.isfinite(v) for v in result.metrics.values()), result.metrics
    if notebook.stem == '00_jupyter_basics':
        # Compiled, multi-core BLAS beats interpreted loops by 100x-10000x (about 4600x measured on a
        # 2-core CI machine); 10x leaves room for a heavily loaded machine while still catching a broken
        # measurement (e.g. timing the wrong function, or swapping the two).
        assert result.metrics['numpy_speedup'] > 10, result.metrics


@pytest.mark.parametrize('lesson', LESSONS, ids=lambda p: p.stem)
def test_lesson_has_parameters_cell(lesson):
    # `course run` injects values into the cell tagged `parameters`; every lesson has the same three knobs.
    from course_utils.runner import notebook_parameters
    assert {'quick', 'offline', 'data_path'} <= set(notebook_parameters(lesson))
