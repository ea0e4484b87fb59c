"""Inference speed of lesson 02's exported model on a CPU: one photo at a time, as the web app answers a visitor,
and in batches, as a job that labels a folder would.

The model is built as lesson 02 builds it (full: ResNet-34 at 224 px; --quick: lesson 02's quick, offline model,
`small_cnn` at 48 px), exported with `learn.export` and loaded back with `load_learner` in this process, as
`app.py` does. Its weights are random: speed doesn't depend on what the weights are, and no download is needed.
Photos are drawn faces (course_utils.synth) saved as JPEG files, so decoding and resizing are part of the cost.
Rates are the median of three rounds after a warm-up; PyTorch uses all the cores unless OMP_NUM_THREADS says
otherwise.

    python bench/inference.py            # ResNet-34, 224 px: 20 single photos, batches of 64
    python bench/inference.py --quick    # CI: small_cnn, 48 px, batches of 32
"""
import argparse
import statistics
import warnings
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, summary, table  # noqa: E402


def exported_model(folder:Path, quick:bool):
    "(loaded learner, photo files): lesson 02's model built on drawn faces, exported to `folder` and loaded back."
    import pandas as pd
    from fastai.learner import load_learner
    from fastai.vision.all import ImageDataLoaders, Learner, Resize, error_rate, vision_learner
    from torchvision import models
    from course_utils import synth
    from course_utils.vision import small_cnn
    size, bs = (48, 32) if quick else (224, 64)
    dest = synth.synth_faces(folder/'faces', n=2 * bs, size=size if quick else 128, seed=42)
    table_ = pd.read_csv(dest/'list_attr_celeba.csv')
    df = pd.DataFrame({'File_name': table_.iloc[:, 0], 'Smiling': (table_['Smiling'] > 0).astype(int)})
    dls = ImageDataLoaders.from_df(df, dest/'img_align_celeba', valid_pct=0.5, seed=42, fn_col='File_name',
                                   label_col='Smiling', item_tfms=Resize(size), bs=bs, num_workers=0)
    learn = (Learner(dls, small_cnn(dls.c), metrics=error_rate) if quick else
             vision_learner(dls, models.resnet34, metrics=error_rate, pretrained=False))
    learn.export(folder/'model.pkl')
    files = [dest/'img_align_celeba'/name for name in df['File_name']]
    return load_learner(folder/'model.pkl'), files, bs


def rate(run, n_images:int, rounds:int=3) -> float:
    "Median images/s of `run()` (which handles `n_images`) over `rounds`, after one untimed warm-up."
    run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return n_images / statistics.median(times)


def main(args):
    import torch
    from fastai.vision.core import PILImage
    print(f'machine: {machine()}', flush=True)
    warnings.filterwarnings('ignore', message='load_learner')   # we load the file we just exported
    with tempfile.TemporaryDirectory() as tmp:
        learn, files, bs = exported_model(Path(tmp), args.quick)
        singles = [PILImage.create(f) for f in files[:20]]
        with learn.no_bar():
            single = rate(lambda: [learn.predict(img) for img in singles], len(singles))
            batch = rate(lambda: learn.get_preds(dl=learn.dls.test_dl(files[:bs])), bs)
    name = 'small_cnn, 48 px' if args.quick else 'ResNet-34, 224 px'
    print()
    print(table([{'model': name, 'threads': torch.get_num_threads(), 'one at a time (images/s)': f'{single:.1f}',
                  f'batches of {bs} (images/s)': f'{batch:.1f}', 'batch / single': f'{batch / single:.1f}'}],
                ['model', 'threads', 'one at a time (images/s)', f'batches of {bs} (images/s)', 'batch / single']))
    summary('inference_batch_speedup', f'{batch / single:.2f}')


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='the short CI version')
    main(p.parse_args())
