"""Run the full benchmarks and write their results, with the machine they ran on, to bench/RESULTS.md.

    python bench/results.py                  # all four (about 20 minutes on a 2-core CPU)
    python bench/results.py --only train     # just one; the other sections of RESULTS.md are kept

Each benchmark's section holds its full printout (tables, bounds and goals) and the command that made it.
"""
import argparse
import datetime
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, REPO  # noqa: E402

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH/'RESULTS.md'
SCRIPTS = {'download': 'The image pipeline: fastai\'s recipe (A) against course_utils.download_images (B)',
           'course': 'The whole course in quick offline mode',
           'startup': 'Start-up: importing course_utils and opening a questionnaire',
           'train': 'Training throughput, lesson 02\'s configuration',
           'inference': 'Inference speed of lesson 02\'s exported model on a CPU'}
HEADER = """# Benchmark results

Regenerate with `python bench/results.py` (all) or `python bench/results.py --only NAME` (one section).
Each section says when and on which machine it was measured; sections can come from different machines
(e.g. `train` from a GPU machine). What each benchmark does is in the docstring at the top of its script.
"""


def section(name:str, body:str) -> str: return f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"


def as_markdown(printed:str) -> str:
    "The printout as Markdown: its tables as they are, every other line a list item (not one long paragraph)."
    lines = [line if line.startswith('|') or not line.strip() else f'- {line}' for line in printed.splitlines()]
    return re.sub(r'\n{3,}', '\n\n', '\n'.join(lines))


def run(name:str) -> str:
    started = time.perf_counter()
    out = subprocess.run([PYTHON, str(BENCH/f'{name}.py')], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0: sys.exit(f"bench/{name}.py failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    when = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    printed = out.stdout.strip()
    print(printed, flush=True)
    return (f"## {SCRIPTS[name]}\n\n`python bench/{name}.py`, run {when}, took {time.perf_counter() - started:.0f} s.\n\n"
            f"{as_markdown(printed)}\n")


def existing_sections() -> dict:
    text = RESULTS.read_text() if RESULTS.exists() else ''
    return {m[1]: section(m[1], m[2]) for m in re.finditer(r'<!-- bench:(\w+) -->\n(.*?)\n<!-- /bench:\1 -->', text, re.S)}


def main(args):
    sections = existing_sections()
    for name in args.only or list(SCRIPTS):
        print(f"== bench/{name}.py", flush=True)
        sections[name] = section(name, run(name))
    RESULTS.write_text(HEADER + '\n' + '\n\n'.join(sections[n] for n in SCRIPTS if n in sections) + '\n')
    print(f"wrote {RESULTS}")


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--only', nargs='+', choices=list(SCRIPTS))
    main(p.parse_args())
