"""tools/gpu_check.py produces the README's GPU numbers on a GPU machine; here, without one, its parts that don't
need a GPU are checked: the facts it reports, the lesson script it runs, and how it summarises GPU samples."""
import ast
import json
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO/'tools'))
import gpu_check  # noqa: E402


@pytest.mark.skipif(shutil.which('nvidia-smi') is not None, reason='checks the answers of a machine without a GPU')
def test_facts_on_a_machine_without_a_gpu(tmp_path):
    done = subprocess.run([sys.executable, str(REPO/'tools'/'gpu_check.py'), '--out', str(tmp_path), '--parts', ''],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads((tmp_path/'report.json').read_text())['facts']
    # This build machine has no NVIDIA driver: the banner must say so, and asking must not have started CUDA.
    assert facts['summary'].startswith('CPU') and facts['gpus'] == [] and facts['count'] == 0, facts
    assert facts['available'] is False and facts['capability'] is None and facts['cuda_started_by_asking'] is False


def test_runs_the_lessons_own_training_script(tmp_path):
    script = gpu_check.lesson_08_script(tmp_path)
    text = script.read_text()
    assert not text.startswith('%%'), 'the cell magic must not reach the script'
    tree = ast.parse(text)   # it is Python, and the one the lesson writes: DDP with a main()
    assert 'DistributedDataParallel' in text and any(getattr(n, 'name', '') == 'main' for n in tree.body)


def test_busy_while_held_leaves_out_samples_before_the_gpu_is_used():
    busy = gpu_check.GpuBusy()
    # (utilisation %, memory MiB): idle at 4 MiB, then a process holding 2 GB, busy 20% and 40% of the time.
    busy.samples = [[0, 4], [0, 4], [20, 2000], [40, 2100], [0, 4]]
    summary = busy.summary()
    assert summary['samples'] == 5 and summary['busy_mean_pct'] == 12 and summary['busy_max_pct'] == 40
    assert summary['samples_while_held'] == 2 and summary['busy_mean_while_held_pct'] == 30
    assert summary['memory_max_mib'] == 2100
    assert gpu_check.GpuBusy().summary()['busy_mean_pct'] is None   # no samples (no driver): no number made up
