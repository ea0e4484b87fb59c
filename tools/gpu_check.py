"""The checks behind the README's GPU numbers. Run it on a machine with an NVIDIA GPU:

    python tools/gpu_check.py --out gpu_check [--budget 420] [--stand-in-weights]

It writes `report.json` (and the executed lesson notebooks) to `--out`, one part after another, each recorded even
when another fails, and starts no new part once `--budget` seconds have passed:

1. facts: the GPU line of the lesson banner, the compute capability, and whether asking for them started CUDA
   (it must not: a process that starts CUDA before torchrun forks is the classic DDP trap);
2. ddp: lesson 08's own training script (its `%%writefile` cell) with lesson 02's configuration (ResNet-34,
   128 px faces, 64 per batch, 3 epochs) in one process per GPU: faces per second and how busy the GPU was;
3. lessons: every lesson in quick mode on the GPU, through `course run`'s `run_notebook`: seconds and metrics;
4. lesson 02 in full (not quick) mode, if the budget allows;
5. bench: `bench/results.py --only train` (lesson 02's training throughput, fp32 against the course's default),
   which rewrites that section of bench/RESULTS.md; the file is copied to `--out`.

A machine without internet has no pretrained weights. `--stand-in-weights` writes randomly initialised ResNet
files under the real ones' names in a scratch download cache (TORCH_HOME, for this run and the lessons it starts), so
that the pretrained code path runs (frozen body, `fine_tune`'s two phases, mixed precision): the speed is real, the
accuracy of those runs means nothing."""
import argparse, json, os, subprocess, sys, tempfile, threading, time, traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO/'nbs'/'lessons'
FACTS = """
import json, torch
from course_utils.core import device_summary, gpu_available, gpu_capability, nvidia_gpus, cuda_gpu_count
answers = dict(summary=device_summary(), gpus=nvidia_gpus(), available=gpu_available(), capability=gpu_capability(),
               count=cuda_gpu_count())
answers['cuda_started_by_asking'] = torch.cuda.is_initialized()
answers['torch'] = torch.__version__
answers['bf16_supported'] = torch.cuda.is_bf16_supported() if torch.cuda.is_available() else None
print(json.dumps(answers))
"""


class GpuBusy:
    "Sample nvidia-smi's GPU utilisation (percent of time a kernel ran) every `ms` milliseconds while in the block."
    def __init__(self, ms=250): self.ms, self.samples = ms, []
    def __enter__(self):
        try: self.proc = subprocess.Popen(['nvidia-smi', '--query-gpu=utilization.gpu,memory.used',
                                           '--format=csv,noheader,nounits', f'-lms={self.ms}'], stdout=subprocess.PIPE, text=True)
        except FileNotFoundError: self.proc = None   # no NVIDIA driver: nothing to sample
        else: threading.Thread(target=self._read, daemon=True).start()
        return self
    def _read(self):
        for line in self.proc.stdout:
            try: self.samples.append([float(v) for v in line.split(',')[:2]])
            except ValueError: pass
    def __exit__(self, *exc):
        if self.proc: self.proc.terminate(); self.proc.wait(5)
    def summary(self) -> dict:
        busy = [s[0] for s in self.samples]
        # While a training process holds its model and batches on the GPU, memory in use sits well above the idle
        # level: the busy % over those samples leaves out start-up and data preparation before the GPU is used.
        floor = min((s[1] for s in self.samples), default=0)
        held = [s[0] for s in self.samples if s[1] > floor + 256]
        return dict(samples=len(busy), busy_mean_pct=sum(busy) / len(busy) if busy else None,
                    busy_max_pct=max(busy, default=None), memory_max_mib=max((s[1] for s in self.samples), default=None),
                    samples_while_held=len(held), busy_mean_while_held_pct=sum(held) / len(held) if held else None)


def facts() -> dict:
    "Ask in a fresh process, so that nothing else has started CUDA before the question."
    out = subprocess.run([sys.executable, '-c', FACTS], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_stand_in_weights() -> list[str]:
    "Randomly initialised ResNet-18/34 files under the names torchvision downloads: the pretrained path runs offline."
    import torch
    from torchvision import models
    from course_utils.datasets import _weights_for, weights_file
    written = []
    for builder in (models.resnet18, models.resnet34):
        target = weights_file(_weights_for(builder))
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists(): torch.save(builder(weights=None).state_dict(), target)
        written.append(target.name)
    return written


def lesson_08_script(folder:Path) -> Path:
    "Lesson 08's training script, written from its `%%writefile` cell exactly as the lesson writes it."
    cells = json.loads((LESSONS/'08_many_gpus.ipynb').read_text())['cells']
    source = next(''.join(c['source']) for c in cells if ''.join(c['source']).startswith('%%writefile train_ddp.py'))
    script = folder/'train_ddp.py'
    script.write_text(source.split('\n', 1)[1])
    return script


def ddp(bs=64, epochs=3, n_faces=20000, img_size=128, arch='resnet34') -> dict:
    from course_utils.distributed import launch, processes_here, read_results
    work = Path(tempfile.mkdtemp())
    script, run_dir = lesson_08_script(work), work/'ddp_run'
    args = ['--n-faces', n_faces, '--img-size', img_size, '--arch', arch, '--bs', bs, '--epochs', epochs, '--out', run_dir,
            '--offline']
    n = processes_here()
    started = time.monotonic()
    with GpuBusy() as busy: launch(script, n, args)
    summary, _ = read_results(run_dir)   # process 0's summary; the per-process records are not needed here
    return dict(summary, wall_s=time.monotonic() - started, gpu=busy.summary(), processes_started=n)


def lesson(path:Path, out:Path, quick:bool) -> dict:
    from course_utils.runner import run_notebook
    started = time.monotonic()
    try:
        with GpuBusy() as busy: result = run_notebook(path, out_dir=out/('quick' if quick else 'full'), quick=quick,
                                                      offline=True, timeout=600)
        return dict(seconds=result.seconds, metrics=result.metrics, data=result.data, weights=result.weights,
                    gpu=busy.summary())
    except Exception as e:
        return dict(seconds=time.monotonic() - started, error=f'{type(e).__name__}: {str(e)[-1500:]}')


def bench(out:Path) -> dict:
    started = time.monotonic()
    with GpuBusy() as busy:
        done = subprocess.run([sys.executable, str(REPO/'bench'/'results.py'), '--only', 'train'], capture_output=True, text=True)
    (out/'RESULTS.md').write_text((REPO/'bench'/'RESULTS.md').read_text())
    return dict(returncode=done.returncode, seconds=time.monotonic() - started, printed=done.stdout[-3000:],
                errors=done.stderr[-1500:], gpu=busy.summary())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='gpu_check')
    p.add_argument('--budget', type=float, default=420, help='start no new part after this many seconds')
    p.add_argument('--stand-in-weights', action='store_true')
    p.add_argument('--lessons', default='00,01,02,03,04,05,06,07,08', help='which lessons to run in quick mode')
    p.add_argument('--ddp-faces', type=int, default=20000, help="lesson 02's faces (offline: its synthetic stand-in)")
    p.add_argument('--ddp-epochs', type=int, default=3)
    p.add_argument('--parts', default='ddp,lessons,full,bench', help='which parts to run after the facts')
    args = p.parse_args()
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    report, start = {}, time.monotonic()
    # Stand-ins go to a scratch download cache (the lessons it starts inherit it): in the real one they would pass
    # for pretrained weights in every later run on this machine.
    if args.stand_in_weights: os.environ['TORCH_HOME'] = tempfile.mkdtemp(prefix='stand-in-weights-')

    def part(name, work):
        if time.monotonic() - start > args.budget: report[name] = 'skipped: budget spent'; return
        t = time.monotonic()
        try: report[name] = work()
        except Exception: report[name] = dict(error=traceback.format_exc()[-3000:])
        print(f'[{time.monotonic() - start:6.0f} s] {name} ({time.monotonic() - t:.0f} s): '
              f'{json.dumps(report[name], default=str)[:600]}', flush=True)
        (out/'report.json').write_text(json.dumps(report, indent=1, default=str))

    part('facts', facts)
    if args.stand_in_weights: part('stand_in_weights', write_stand_in_weights)
    parts = args.parts.split(',')
    if 'ddp' in parts: part('ddp_lesson02_config', lambda: ddp(epochs=args.ddp_epochs, n_faces=args.ddp_faces))
    for notebook in sorted(LESSONS.glob('[0-9][0-9]_*.ipynb')) if 'lessons' in parts else ():
        if notebook.name[:2] in args.lessons.split(',') and 'questionnaire' not in notebook.name:
            part(f'quick_{notebook.stem}', lambda notebook=notebook: lesson(notebook, out, quick=True))
    if 'full' in parts: part('full_02_smiling_faces', lambda: lesson(LESSONS/'02_smiling_faces.ipynb', out, quick=False))
    if 'bench' in parts: part('bench_train', lambda: bench(out))
    report['total_s'] = time.monotonic() - start
    (out/'report.json').write_text(json.dumps(report, indent=1, default=str))


if __name__ == '__main__':
    main()
