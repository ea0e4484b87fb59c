"""A smile detector trained for one epoch on 300 synthetic faces and exported as lesson 02 exports its model: seconds
instead of the lesson's minute. Built once per test session (whichever xdist worker asks first) and shared."""
import json
from pathlib import Path


def train_and_export(folder:Path) -> Path:
    "Train, export to `folder`/smile_detector.pkl and save the live learner's validation predictions beside it; the model file."
    from fastai.vision.all import ImageDataLoaders, Learner, Resize, error_rate
    from course_utils.app import exported_model
    from course_utils.core import set_seed
    from course_utils.datasets import celeba_smiling
    from course_utils.vision import small_cnn
    set_seed(42)
    images, df = celeba_smiling(n=300, offline=True, quick=True)
    dls = ImageDataLoaders.from_df(df, images, valid_pct=0.2, seed=42, fn_col='File_name', label_col='Smiling',
                                   item_tfms=Resize(48), bs=32, num_workers=0)
    learn = Learner(dls, small_cnn(dls.c), metrics=error_rate)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
    folder.mkdir(parents=True, exist_ok=True)
    model = exported_model(folder)
    learn.export(model)
    files = [str(images/name) for name in dls.valid_ds.items['File_name']]
    probs = learn.get_preds(dl=learn.dls.test_dl(files))[0]
    (folder/'live_predictions.json').write_text(json.dumps({'files': files, 'probs': probs.tolist()}))
    return model


def shared_exported_model(session_folder:Path) -> Path:
    "The session's exported model (see `train_and_export`), trained by whichever worker asks first."
    from filelock import FileLock
    from course_utils.app import exported_model
    folder = session_folder/'exported-smile-model'
    with FileLock(str(session_folder/'exported-smile-model.lock')):
        if not (folder/'live_predictions.json').is_file(): train_and_export(folder)
    return exported_model(folder)
