"""Dataset functions: offline they give synthetic sets in the real formats (fastai builds DataLoaders from
them, deterministically); with data_path they read real-format fixtures, quirks included."""
import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from conftest import REPO
from course_utils.core import CourseError
from course_utils.datasets import (adult_sample, binary_labels, bird_forest, camvid_tiny, celeba_smiling, ml_sample,
                                   pretrained_weights, read_adult, read_celeba_attributes, read_ratings, salary_labels)

FIXTURES = REPO/'data'/'fixtures'


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('COURSE_DATA_DIR', str(tmp_path/'data'))
    return tmp_path/'data'


def fingerprint(folder):
    "Hash of every file's relative path and bytes under `folder`."
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob('*') if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


# --- offline: synthetic sets in the real formats ---------------------------------------------------------

def test_bird_forest_offline_builds_a_datablock(capsys):
    from fastai.vision.all import CategoryBlock, DataBlock, ImageBlock, RandomSplitter, Resize, get_image_files, parent_label
    path = bird_forest(offline=True, quick=True)
    assert 'Offline: using the bundled synthetic bird/forest set' in capsys.readouterr().out
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, get_y=parent_label,
                      splitter=RandomSplitter(valid_pct=0.2, seed=42), item_tfms=Resize(32))
    dls = block.dataloaders(path, bs=8, num_workers=0)
    assert list(dls.vocab) == ['bird', 'forest']
    xb, yb = dls.one_batch()
    assert tuple(xb.shape) == (8, 3, 32, 32)


def test_celeba_offline_builds_from_df():
    from fastai.vision.all import ImageDataLoaders, Resize
    path, df = celeba_smiling(offline=True, quick=True)
    assert list(df.columns) == ['File_name', 'Smiling'] and set(df['Smiling']) == {0, 1}
    assert all((path/name).is_file() for name in df['File_name'])
    dls = ImageDataLoaders.from_df(df, path, valid_pct=0.2, seed=42, label_col='Smiling', item_tfms=Resize(32), bs=8, num_workers=0)
    assert tuple(dls.one_batch()[0].shape) == (8, 3, 32, 32)


def test_camvid_offline_builds_segmentation_dataloaders():
    from fastai.vision.all import SegmentationDataLoaders, get_image_files
    path = camvid_tiny(offline=True, quick=True)
    codes = np.loadtxt(path/'codes.txt', dtype=str)
    assert len(codes) == 32 and 'Road' in codes and 'Sky' in codes
    dls = SegmentationDataLoaders.from_label_func(path, bs=4, fnames=get_image_files(path/'images'), codes=codes,
                                                  label_func=lambda o: path/'labels'/f'{o.stem}_P{o.suffix}', num_workers=0)
    xb, yb = dls.one_batch()
    assert xb.shape[-2:] == yb.shape[-2:] and int(yb.max()) < 32


ADULT_CATS = ['workclass', 'education', 'marital-status', 'occupation', 'relationship', 'race', 'sex', 'native-country']
ADULT_CONTS = ['age', 'fnlwgt', 'education-num', 'capital-gain', 'capital-loss', 'hours-per-week']

def test_adult_offline_builds_tabular_dataloaders():
    from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularDataLoaders
    df = read_adult(adult_sample(offline=True, quick=True))
    assert set(df['salary']) == {'>=50k', '<50k'}
    assert df[['workclass', 'occupation', 'native-country']].isna().any().any()   # the '?' quirk survives as NaN
    dls = TabularDataLoaders.from_df(df, y_names='salary', cat_names=ADULT_CATS, cont_names=ADULT_CONTS,
                                     procs=[Categorify, FillMissing, Normalize], bs=64, num_workers=0)
    assert len(dls.train_ds) > 0 and list(dls.vocab) == ['<50k', '>=50k']


def test_movielens_offline_builds_collab_dataloaders():
    from fastai.collab import CollabDataLoaders
    ratings = read_ratings(ml_sample(offline=True, quick=True))
    assert {'userId', 'movieId', 'rating', 'timestamp', 'title'} <= set(ratings.columns)
    assert ratings['rating'].between(0.5, 5).all()
    dls = CollabDataLoaders.from_df(ratings, item_name='title', bs=64, num_workers=0)
    assert len(dls.classes['title']) > 10


@pytest.mark.parametrize('make', [lambda: bird_forest(offline=True, quick=True), lambda: celeba_smiling(offline=True, quick=True)[0].parent,
                                  lambda: camvid_tiny(offline=True, quick=True), lambda: adult_sample(offline=True, quick=True),
                                  lambda: ml_sample(offline=True, quick=True)], ids=['birds', 'celeba', 'camvid', 'adult', 'movielens'])
def test_synthetic_sets_are_deterministic(make, monkeypatch, tmp_path):
    first = fingerprint(make())
    monkeypatch.setenv('COURSE_DATA_DIR', str(tmp_path/'another-data-dir'))
    assert fingerprint(make()) == first


# --- data_path: the learner's own copy, in the real formats ----------------------------------------------

def test_own_images_by_folder():
    assert bird_forest(data_path=FIXTURES/'bird_forest') == FIXTURES/'bird_forest'


@pytest.mark.parametrize('copy', ['celeba_txt', 'celeba_kaggle'])
def test_celeba_copies(copy):
    path, df = celeba_smiling(data_path=FIXTURES/copy)
    assert path.name == 'img_align_celeba' and len(df) == 6
    assert dict(zip(df['File_name'], df['Smiling'])) == {'000001.jpg': 1, '000002.jpg': 0, '000003.jpg': 1,
                                                         '000004.jpg': 0, '000005.jpg': 0, '000006.jpg': 1}


def test_celeba_txt_and_csv_agree():
    txt = read_celeba_attributes(FIXTURES/'celeba_txt'/'list_attr_celeba.txt')
    csv = read_celeba_attributes(FIXTURES/'celeba_kaggle'/'list_attr_celeba.csv')
    assert txt.shape == (6, 41)
    pd.testing.assert_frame_equal(txt, csv)


def test_adult_uci_copy():
    df = read_adult(adult_sample(data_path=FIXTURES/'adult_uci'))
    assert len(df) == 47    # 48 rows; the one with an empty label is dropped, with a message
    assert df['salary'].tolist()[:7] == ['<50k', '<50k', '<50k', '>=50k', '>=50k', '>=50k', '<50k']
    assert set(df['salary']) == {'<50k', '>=50k'}
    assert df['workclass'].iloc[:7].isna().sum() == 1 and df['occupation'].isna().sum() == 2
    assert df['workclass'].iloc[0] == 'State-gov'   # leading space trimmed


def test_movielens_crlf_and_latin1():
    ratings = read_ratings(ml_sample(data_path=FIXTURES/'movielens'))
    assert len(ratings) == 68 and ratings['rating'].dtype.kind == 'f'
    assert set(ratings['title']) == {'Café Society (1995)', 'Amélie (2001)', 'Señor Kiss (1988)'}


def test_camvid_copy():
    assert camvid_tiny(data_path=FIXTURES/'camvid') == FIXTURES/'camvid'


@pytest.mark.parametrize('call, fragment', [
    (lambda: bird_forest(data_path=FIXTURES/'movielens'), 'one subfolder of images per category'),
    (lambda: celeba_smiling(data_path=FIXTURES/'camvid'), 'no CelebA copy'),
    (lambda: camvid_tiny(data_path=FIXTURES/'adult_uci'), 'missing images, labels, codes.txt'),
    (lambda: ml_sample(data_path=FIXTURES/'camvid'), 'missing ratings.csv'),
], ids=['birds', 'celeba', 'camvid', 'movielens'])
def test_wrong_data_path_says_what_is_expected(call, fragment):
    with pytest.raises(CourseError, match=fragment): call()


# --- pretrained weights ------------------------------------------------------------------------------------

def test_pretrained_weights_offline(monkeypatch, tmp_path, capsys):
    from torchvision.models import resnet18, ResNet18_Weights
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch'))
    assert pretrained_weights(resnet18, offline=True) is False
    out = capsys.readouterr().out
    assert out.count('\n') == 1 and 'training from random weights' in out
    cached = tmp_path/'torch'/'hub'/'checkpoints'/ResNet18_Weights.DEFAULT.url.rsplit('/', 1)[1]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'')
    assert pretrained_weights(resnet18, offline=True) is True


# --- label normalisers -------------------------------------------------------------------------------------

@given(st.lists(st.sampled_from([(-1, 0), (1, 1), ('-1', 0), ('1', 1), (' 1 ', 1), (0, 0), (True, 1), (False, 0),
                                 ('yes', 1), ('No', 0), (1.0, 1), (-1.0, 0)]), min_size=1))
def test_binary_labels(pairs):
    values, expected = zip(*pairs)
    assert binary_labels(list(values)).tolist() == list(expected)


@given(high=st.booleans(), space=st.sampled_from(['', ' ', '  ']), upper=st.booleans(), dot=st.booleans(), equals=st.booleans())
def test_salary_spellings(high, space, upper, dot, equals):
    word = ('>' + '=' * equals if high else '<' + '=' * (not equals)) + '50k'
    spelt = space + (word.upper() if upper else word) + '.' * dot
    assert salary_labels([spelt]).tolist() == ['>=50k' if high else '<50k']
