"""Training throughput of lesson 02's full configuration: ResNet-34, 224 px, batches of 64, from JPEG files.

Each mode trains in its own fresh process on drawn faces (course_utils.synth, 128 px files resized to 224
as lesson 02 does), through the same DataLoaders as the lesson, so decoding and resizing are part of the
cost. A few warm-up batches are not timed; then images/s over the timed batches. Modes:

  fp32             plain float32, the baseline
  course default   what the lessons do: `training_speedups(learn)`: mixed precision (bf16 from compute capability
                   8.0, fp16 below: a T4 only emulates bf16) + channels-last on
                   a GPU, channels-last alone on a CPU (mixed precision doesn't pay there)

On a GPU it also samples nvidia-smi for the GPU's busy % while the timed batches run, and reports how much
of the time the training loop waited for the next batch (data loading as the bottleneck).

    python bench/train.py            # 224 px, batch 64: 3 timed batches on a CPU, 40 on a GPU
    python bench/train.py --quick    # CI: ResNet-18 at 64 px, batches of 16
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, REPO, gpu_name, machine, summary, table  # noqa: E402

UNIQUE_FACES = 256   # drawn once (and cached); repeated to fill the batches, each read and resized every time


# ---------------------------------------------------------------- one mode, in a child process

def face_table(n_rows:int):
    "(image folder, table of n_rows faces): UNIQUE_FACES drawn faces repeated, with their Smiling labels."
    import pandas as pd
    from course_utils import synth
    cache = Path(os.environ.get('XDG_CACHE_HOME') or Path.home()/'.cache')/'course_bench'/'faces'
    dest = synth.synth_faces(cache, n=UNIQUE_FACES, size=128, seed=42)
    attributes = pd.read_csv(dest/'list_attr_celeba.csv')   # CelebA's layout: file name first, then -1/1 columns
    df = pd.DataFrame({'File_name': attributes.iloc[:, 0], 'Smiling': (attributes['Smiling'] > 0).astype(int)})
    return dest/'img_align_celeba', pd.concat([df] * (n_rows // len(df) + 1), ignore_index=True)[:n_rows]


class GpuSampler:
    "nvidia-smi's utilization.gpu (share of time a kernel was running), every 100 ms, while in use."
    def __init__(self):
        self.samples, self.process = [], None

    def __enter__(self):
        try:
            self.process = subprocess.Popen(['nvidia-smi', '--query-gpu=utilization.gpu', '--format=csv,noheader,nounits',
                                             '-lms', '100'], stdout=subprocess.PIPE, text=True)
        except OSError: return self
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for line in self.process.stdout:
            if line.strip().isdigit(): self.samples.append(int(line))

    def __exit__(self, *exc):
        if self.process: self.process.terminate()

    @property
    def busy(self) -> float|None: return sum(self.samples) / len(self.samples) if self.samples else None


def make_clock(warmup:int, batches:int, on_gpu:bool):
    "A fastai callback timing `batches` training batches after `warmup` ones, then stopping the fit."
    import torch
    from fastai.callback.core import Callback, CancelFitException

    class BatchClock(Callback):
        order = 99   # after the others, so their work counts in the batch
        def before_fit(self): self.done, self.waited, self.last_end, self.started = 0, 0.0, None, None
        def before_batch(self):
            if self.started is not None and self.last_end is not None: self.waited += time.perf_counter() - self.last_end
        def after_batch(self):
            self.done += 1
            if self.done == warmup or self.done == warmup + batches:
                if on_gpu: torch.cuda.synchronize()
            now = time.perf_counter()
            if self.done == warmup: self.started = now
            self.last_end = now
            if self.done == warmup + batches:
                self.seconds = now - self.started
                raise CancelFitException()
    return BatchClock()


def train_mode(mode:str, arch:str, size:int, bs:int, warmup:int, batches:int, workers:int|None) -> dict:
    import torch
    from fastai.vision.all import Flip, ImageDataLoaders, Resize, error_rate, vision_learner
    from torchvision import models
    from course_utils.vision import training_speedups
    on_gpu = torch.cuda.is_available()
    images, df = face_table(bs * (warmup + batches + 1) + 2 * bs)
    dls = ImageDataLoaders.from_df(df, images, valid_pct=0.1, seed=42, fn_col='File_name', label_col='Smiling',
                                   item_tfms=Resize(size), batch_tfms=Flip(), bs=bs, num_workers=workers)
    learn = vision_learner(dls, getattr(models, arch), metrics=error_rate, pretrained=False)
    if mode == 'course default': learn = training_speedups(learn)
    clock = make_clock(warmup, batches, on_gpu)
    with GpuSampler() if on_gpu else _nothing() as sampler, learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-3, cbs=clock)
    return {'mode': mode, 'images_per_s': batches * bs / clock.seconds, 'seconds': clock.seconds,
            'data_wait_pct': 100 * clock.waited / clock.seconds, 'gpu_busy_pct': sampler.busy if on_gpu else None,
            'workers': dls.train.fake_l.num_workers, 'device': torch.cuda.get_device_name() if on_gpu else 'cpu'}


class _nothing:
    busy = None
    def __enter__(self): return self
    def __exit__(self, *exc): pass


# ---------------------------------------------------------------- the benchmark

def run_mode(mode:str, args) -> dict:
    command = [PYTHON, __file__, '--mode', mode, '--arch', args.arch, '--size', str(args.size), '--bs', str(args.bs),
               '--warmup', str(args.warmup), '--batches', str(args.batches)]
    if args.workers is not None: command += ['--workers', str(args.workers)]
    out = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=args.timeout,
                         env=dict(os.environ, PYTHONWARNINGS='ignore'))
    if out.returncode != 0: sys.exit(f"mode {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(next(line for line in reversed(out.stdout.splitlines()) if line.startswith('{')))


def main(args):
    print(f"machine: {machine()}")
    on_gpu = bool(gpu_name())
    modes = ['fp32', 'course default']
    print(f"{args.arch}, {args.size} px, batch {args.bs}: {args.warmup} warm-up + {args.batches} timed batches per mode", flush=True)
    results = []
    for mode in modes:
        results.append(run_mode(mode, args))
        r = results[-1]
        busy = f", GPU busy {r['gpu_busy_pct']:.0f}%" if r['gpu_busy_pct'] is not None else ''
        print(f"{mode:<15} {r['images_per_s']:8.1f} images/s  waiting for data {r['data_wait_pct']:.0f}% of the time{busy} "
              f"({r['workers']} loader workers, {r['device']})", flush=True)
    report(results, on_gpu)


def report(results:list[dict], on_gpu:bool):
    base = results[0]['images_per_s']
    rows = [{'mode': r['mode'], 'images/s': f"{r['images_per_s']:.1f}", 'vs fp32': f"{r['images_per_s'] / base:.2f}x",
             'waiting for data': f"{r['data_wait_pct']:.0f}%",
             'GPU busy': '' if r['gpu_busy_pct'] is None else f"{r['gpu_busy_pct']:.0f}%"} for r in results]
    print()
    print(table(rows, list(rows[0])))
    ratio = results[1]['images_per_s'] / base
    if on_gpu:
        busy = results[1]['gpu_busy_pct']
        print(f"goal {'met   ' if ratio >= 2 else 'MISSED'}  course default {ratio:.2f}x fp32 (>= 2x)")
        print(f"goal {'met   ' if busy is not None and busy >= 90 else 'MISSED'}  GPU busy {busy if busy is None else round(busy)}% "
              "with the course default (data loading not the bottleneck: >= 90%)")
    else:
        print(f"CPU: the course default is channels-last in float32, {ratio:.2f}x fp32's default layout")
    summary('train_speedup_default_over_fp32', f"{ratio:.2f}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='the short CI version')
    p.add_argument('--arch', default='resnet34')
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--warmup', type=int, help='untimed batches first (default: 1 on a CPU, 5 on a GPU)')
    p.add_argument('--batches', type=int, help='timed batches (default: 3 on a CPU, 40 on a GPU)')
    p.add_argument('--workers', type=int, help="DataLoader workers (default: fastai's, one per CPU up to 16)")
    p.add_argument('--timeout', type=float, default=900, help='seconds one mode may take')
    p.add_argument('--mode', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    on_gpu = bool(gpu_name())
    if args.quick: args.arch, args.size, args.bs, args.warmup, args.batches = 'resnet18', 64, 16, 1, 2
    args.warmup = args.warmup if args.warmup is not None else (5 if on_gpu else 1)
    args.batches = args.batches if args.batches is not None else (40 if on_gpu else 3)
    return args


if __name__ == '__main__':
    args = parse_args()
    if args.mode:
        print(json.dumps(train_mode(args.mode, args.arch, args.size, args.bs, args.warmup, args.batches, args.workers)))
    else: main(args)
