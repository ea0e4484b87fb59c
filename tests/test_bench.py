"""The benchmarks in bench/ run in their short --quick form and end with their `name: value` summary line.

Their full results live in bench/RESULTS.md (python bench/results.py); here we only check they still work,
so a change to the library or the lessons can't silently break them."""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r'^(\w+): (\d+(\.\d+)?)$')

# Idle on the 2-core build machine the quick forms take 20-45 s each; CI runs them next to the lesson tests
# on the other worker, so allow about three times that. Together they must stay under the 3 minutes the
# issue gives them; a script that needs more than its share here has grown and should be made smaller.
SECONDS_EACH = 120

# What each quick form's summary must show, from its measured value (2-core build machine, 2026-11-30):
BOUNDS = {
    # one round of the quick form measured 1.66-1.78 alone, and once 0.43 in CI next to the lesson tests: a 0.2 s run
    # is at the mercy of the other worker, hence the median of 3 rounds, which measured 1.84 alone and 1.67-1.70 beside
    # a 2-thread matrix product (2.4 in the full form). At 1.2 the course's downloader still clearly beats fastai's.
    'download_speedup_A_over_B': (1.2, 100),
    # measured 6 s for the quick form's lessons; a number, and within the test's own time limit
    'course_seconds': (1, SECONDS_EACH),
    # measured 0.095 s against a goal of 0.3 s; twice the goal allows for the lessons running on the other worker
    'startup_seconds': (0.001, 0.6),
    # three batches are too few to show channels-last's gain (quick measured 0.65, the full form 1.17-1.73): the
    # ratio must only be a real measurement, not 0 or infinite from timing nothing
    'train_speedup_default_over_fp32': (0.2, 5),
    # measured 5.89: batching pays fastai's per-call work once; 2x still catches a broken measurement
    'inference_batch_speedup': (2, 100),
}


@pytest.mark.xdist_group('bench')
@pytest.mark.parametrize('script, summary_name', [
    ('download', 'download_speedup_A_over_B'),
    ('course', 'course_seconds'),
    ('startup', 'startup_seconds'),
    ('train', 'train_speedup_default_over_fp32'),
    ('inference', 'inference_batch_speedup'),
])
def test_benchmark_runs_and_summarises(script, summary_name):
    started = time.monotonic()
    out = subprocess.run([sys.executable, str(REPO/'bench'/f'{script}.py'), '--quick'], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    seconds = time.monotonic() - started
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith('machine: ') and 'CPU cores' in lines[0]
    assert any(line.startswith('| ') for line in lines), 'no results table'
    match = SUMMARY.match(lines[-1])
    assert match and match[1] == summary_name, lines[-1]
    low, high = BOUNDS[summary_name]
    assert low <= float(match[2]) <= high, f'{lines[-1]} is outside [{low}, {high}]'
    assert seconds < SECONDS_EACH, f'{script} --quick took {seconds:.0f} s'
