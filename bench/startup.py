"""Start-up costs a learner waits through: importing course_utils and opening a questionnaire.

Every measurement runs in a fresh Python process (a new kernel is one) and times only the statements
named, not the interpreter's own start; the median of --repeats runs is reported. `import fastai.vision.all`,
what every vision lesson starts with, is measured the same way for scale.

    python bench/startup.py             # 10 fresh processes per measurement
    python bench/startup.py --quick     # CI: 3 each
"""
import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, REPO, machine, median, summary, table  # noqa: E402

GOAL_S = 0.3

# name -> (setup that is not timed, statements that are). IPython is already loaded in a real kernel,
# so it is set up untimed; ipywidgets is not, so the form's first build pays for importing it.
MEASUREMENTS = {
    'import course_utils': ('', 'import course_utils'),
    "questionnaire('01') shown as a form": ('import IPython',
        "from course_utils.quiz_ui import questionnaire\nbundle = questionnaire('01')._repr_mimebundle_()\n"
        "assert 'application/vnd.jupyter.widget-view+json' in bundle, bundle.keys()"),
    "load_quiz('01') + render as Markdown": ('',
        "from course_utils.quiz import load_quiz\ntext = load_quiz('01')._repr_markdown_()\nassert text.count('<details>') >= 5"),
    'the `course` command (import course_utils.cli)': ('', 'import course_utils.cli'),
    'import fastai.vision.all (for scale)': ('import warnings; warnings.simplefilter("ignore")', 'import fastai.vision.all'),
}
GOALS = ['import course_utils', "questionnaire('01') shown as a form"]

TIMER = """
import time
{setup}
_started = time.perf_counter()
{timed}
print('SECONDS', time.perf_counter() - _started)
"""


def time_once(setup:str, timed:str) -> float:
    "Seconds the `timed` statements take in a fresh interpreter."
    code = TIMER.format(setup=setup, timed=timed)
    out = subprocess.run([PYTHON, '-c', code], capture_output=True, text=True, cwd=REPO, timeout=300)
    if out.returncode != 0: sys.exit(f"measurement failed:\n{code}\n{out.stderr[-2000:]}")
    return float(next(line for line in out.stdout.splitlines() if line.startswith('SECONDS')).split()[1])


def main(args):
    print(f"machine: {machine()}")
    rows, medians = [], {}
    for name, (setup, timed) in MEASUREMENTS.items():
        times = [time_once(setup, timed) for _ in range(args.repeats)]
        medians[name] = median(times)
        rows.append({'what': name, 'median s': f'{medians[name]:.3f}', 'min s': f'{min(times):.3f}',
                     'max s': f'{max(times):.3f}', 'runs': len(times)})
        print(f"{name:<48} median {medians[name]:.3f} s  (min {min(times):.3f}, max {max(times):.3f})", flush=True)
    print()
    print(table(rows, list(rows[0])))
    for name in GOALS:
        met = medians[name] <= GOAL_S
        print(f"goal {'met   ' if met else 'MISSED'}  {name}: {medians[name]:.3f} s <= {GOAL_S} s")
    summary('startup_seconds', f"{max(medians[name] for name in GOALS):.3f}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='the short CI version: 3 runs each')
    p.add_argument('--repeats', type=int, default=10)
    args = p.parse_args(argv)
    if args.quick: args.repeats = 3
    return args


if __name__ == '__main__':
    main(parse_args())
