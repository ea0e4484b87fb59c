"""The whole course, timed: every lesson and questionnaire run headless with `course run --quick --offline`.

Each notebook runs in its own `course run` process, the way a learner or CI runs it; we record its wall time
and the peak memory of its largest process (the Jupyter kernel). By default the synthetic datasets are made
from scratch in a temporary data folder, so the numbers are those of a learner's first run; --warm keeps
the datasets of the configured data folder (a second run).

    python bench/course.py                 # every lesson, questionnaire and the review notebook
    python bench/course.py --quick         # CI: the two shortest notebooks only
    python bench/course.py --only 03 06    # some of them
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, REPO, machine, peak_rss_mb, summary, table  # noqa: E402

COURSE_GOAL_S, LESSON_GOAL_S, LESSON_GOAL_MB = 6 * 60, 90, 3 * 1024
QUICK_SET = ['00', '00_questionnaire']


def notebooks(only:list[str]|None) -> list[str]:
    "Names `course run` accepts, in course order: lessons, then questionnaires, then the review."
    from course_utils.runner import find_lessons_dir, list_notebooks
    stems = [info.path.stem for info in list_notebooks(find_lessons_dir(REPO))]
    if not only: return stems
    def matches(wanted:str) -> list[str]:  # '03' is lesson 03; a full stem is that notebook
        return [s for s in stems if s == wanted or (wanted.isdigit() and s.startswith(wanted + '_')
                                                     and not s.endswith(('questionnaire', 'review')))]
    missing = [o for o in only if not matches(o)]
    if missing: sys.exit(f"no notebook called {', '.join(missing)}; `course list` shows them")
    return [s for o in only for s in matches(o)]


def measure(command:list[str]):
    "Run `command` (a child of this process) and print its exit code and its largest process's peak memory."
    code = subprocess.run(command).returncode
    print(json.dumps({'returncode': code, 'peak_rss_mb': peak_rss_mb(__import__('resource').RUSAGE_CHILDREN)}))


def run_one(name:str, out_dir:Path, env:dict, timeout:float) -> dict:
    course = str(Path(PYTHON).parent/'course')
    command = [PYTHON, __file__, '--measure', course, 'run', name, '--quick', '--offline', '--out', str(out_dir)]
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
    seconds = time.perf_counter() - started
    lines = out.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith('{') else {'returncode': out.returncode, 'peak_rss_mb': 0}
    if result['returncode'] != 0:
        sys.exit(f"`course run {name}` failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    printed = lines[:-1]   # `course run` prints its metrics, one `name: value` per line, after 'Executed notebook'
    after = next((i + 1 for i, line in enumerate(printed) if line.startswith('Executed notebook')), len(printed))
    metrics = dict(line.split(': ', 1) for line in printed[after:] if ': ' in line)
    return {'notebook': name, 'seconds': seconds, 'peak_rss_mb': result['peak_rss_mb'], 'metrics': metrics}


def bench_environment(tmp:Path, warm:bool) -> dict:
    "The learner's environment, with progress (and, unless warm, the data folder) in a temporary place."
    env = dict(os.environ, COURSE_OFFLINE='1', COURSE_PROGRESS_DB=str(tmp/'progress.sqlite'), PYTHONWARNINGS='ignore')
    if not warm: env['COURSE_DATA_DIR'] = str(tmp/'data')
    return env


def main(args):
    print(f"machine: {machine()}")
    names = notebooks(QUICK_SET if args.quick else args.only)
    results = []
    with tempfile.TemporaryDirectory(prefix='bench-course-') as tmp:
        env = bench_environment(Path(tmp), args.warm)
        for name in names:
            result = run_one(name, Path(tmp)/'runs', env, args.timeout)
            results.append(result)
            shown = ', '.join(f'{k} {v}' for k, v in list(result['metrics'].items())[:3])
            print(f"{name:<22} {result['seconds']:6.1f} s  peak RSS {result['peak_rss_mb']:5.0f} MB  {shown}", flush=True)
    report(results, args)


def report(results:list[dict], args):
    total = sum(r['seconds'] for r in results)
    rows = [{'notebook': r['notebook'], 'seconds': f"{r['seconds']:.1f}", 'peak RSS MB': f"{r['peak_rss_mb']:.0f}",
             'result': ', '.join(f'{k} {v}' for k, v in r['metrics'].items())} for r in results]
    print()
    print(table(rows, ['notebook', 'seconds', 'peak RSS MB', 'result']))
    slowest = max(results, key=lambda r: r['seconds'])
    biggest = max(results, key=lambda r: r['peak_rss_mb'])
    print(f"\n{len(results)} notebooks, {'warm' if args.warm else 'first run (datasets made from scratch)'}, "
          f"{os.cpu_count()} cores; total {total:.0f} s ({total / 60:.1f} min)")
    if not args.quick and not args.only:
        goals = [(f"whole course {total:.0f} s <= {COURSE_GOAL_S} s", total <= COURSE_GOAL_S),
                 (f"slowest notebook {slowest['notebook']} {slowest['seconds']:.0f} s <= {LESSON_GOAL_S} s", slowest['seconds'] <= LESSON_GOAL_S),
                 (f"largest peak RSS {biggest['notebook']} {biggest['peak_rss_mb']:.0f} MB <= {LESSON_GOAL_MB} MB", biggest['peak_rss_mb'] <= LESSON_GOAL_MB)]
        for text, met in goals: print(f"goal {'met   ' if met else 'MISSED'}  {text}")
    summary('course_seconds', f"{total:.0f}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='the short CI version: two short notebooks')
    p.add_argument('--only', nargs='+', help='lesson numbers or notebook names')
    p.add_argument('--warm', action='store_true', help='reuse the datasets in the configured data folder')
    p.add_argument('--timeout', type=float, default=900, help='seconds one notebook may take')
    p.add_argument('--measure', nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    if args.measure: measure(args.measure)
    else: main(args)
