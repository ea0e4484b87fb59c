"""Lesson 08's training script, exactly as the lesson writes it, run the way the lesson runs it on two GPUs: two
processes started by torchrun through `launch`, here on the CPU with gloo, on synthetic faces."""
import json
import math
import time

import pytest

from conftest import NBS
from course_utils.distributed import launch, read_results

LESSON = NBS/'lessons'/'08_many_gpus.ipynb'
WRITEFILE = '%%writefile train_ddp.py\n'


def lesson_script() -> str:
    "The source of the lesson's `%%writefile train_ddp.py` cell, without that first line."
    cells = [''.join(c['source']) for c in json.loads(LESSON.read_text())['cells'] if c['cell_type'] == 'code']
    found = [cell for cell in cells if cell.startswith(WRITEFILE)]
    assert len(found) == 1, f'expected one {WRITEFILE.strip()!r} cell in {LESSON.name}, found {len(found)}'
    return found[0][len(WRITEFILE):]


# Two processes of one thread each, on the 2-core build machine: its own xdist group, so the two never share a
# worker with each other's copies. Idle it measured 17 s; the issue allows 2 minutes.
@pytest.mark.xdist_group('two_processes')
def test_lesson_script_trains_in_two_processes_on_a_cpu(tmp_path):
    script, out = tmp_path/'train_ddp.py', tmp_path/'run'
    script.write_text(lesson_script())
    printed, started = [], time.monotonic()
    launch(script, 2, ['--offline', '--quick', '--n-faces', 600, '--img-size', 32, '--bs', 16, '--epochs', 3, '--out', out],
           threads_per_process=1, echo=printed.append)
    seconds = time.monotonic() - started
    result, ranks = read_results(out)

    assert result['processes'] == 2 and [rank['rank'] for rank in ranks] == [0, 1], (result, [r['rank'] for r in ranks])
    assert result['device'] == 'cpu' and result['effective_batch'] == 32
    # 600 faces, 480 for training: the sampler deals each process 240, 15 batches of 16 (drop_last keeps them equal)
    first, second = (set(rank['rows_seen_in_epoch_0']) for rank in ranks)
    assert len(first) == len(second) == 240 and not first & second, (len(first), len(second), len(first & second))
    assert first | second <= set(range(480))
    # DDP's averaged gradients keep the two copies identical, to the last bit
    assert ranks[0]['fingerprint'] == ranks[1]['fingerprint'], [rank['fingerprint'] for rank in ranks]
    for rank in ranks:   # each process's loss on its own share, first epoch against last (15 steps each)
        losses = rank['losses']
        assert len(losses) == 45 and all(math.isfinite(loss) for loss in losses)
        assert sum(losses[-15:]) < sum(losses[:15]), (rank['rank'], losses[:15], losses[-15:])
    assert sum('processes on cpu' in line for line in printed) == 1, printed   # process 0 speaks once, for both
    assert seconds < 120, f'two processes took {seconds:.0f} s'
