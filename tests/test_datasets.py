"""Dataset functions: offline they give synthetic sets in the real formats (fastai builds DataLoaders from
them, deterministically); with data_path they read real-format fixtures, quirks included."""
import hashlib
import http.server
import io
import json
import time
from collections import Counter

import numpy as np
import PIL.Image
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from conftest import REPO
from image_server import LoopbackServer
from course_utils.core import CourseError
from course_utils import datasets
from course_utils.datasets import (BIRD_FOREST, CELEBA_HF_REPO, SyntheticNotice, adult_sample, binary_labels, bird_forest,
                                   camvid_tiny, celeba_smiling, movielens, pretrained_weights, read_adult,
                                   read_celeba_attributes, read_celeba_parquet, read_ratings, salary_labels)
from course_utils.synth import CELEBA_ATTRIBUTES

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
    ratings = read_ratings(movielens(offline=True, quick=True))
    assert {'userId', 'movieId', 'rating', 'timestamp', 'title'} <= set(ratings.columns)
    assert ratings['title'].notna().all()   # the stand-in has titles too, so lesson 05 can show them
    assert ratings['rating'].between(0.5, 5).all()
    dls = CollabDataLoaders.from_df(ratings, item_name='title', bs=64, num_workers=0)
    assert len(dls.classes['title']) > 10


@pytest.mark.parametrize('make', [lambda: bird_forest(offline=True, quick=True), lambda: celeba_smiling(offline=True, quick=True)[0].parent,
                                  lambda: camvid_tiny(offline=True, quick=True), lambda: adult_sample(offline=True, quick=True),
                                  lambda: movielens(offline=True, quick=True)], ids=['birds', 'celeba', 'camvid', 'adult', 'movielens'])
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
    ratings = read_ratings(movielens(data_path=FIXTURES/'movielens'))
    assert len(ratings) == 68 and ratings['rating'].dtype.kind == 'f'
    assert set(ratings['title']) == {'Café Society (1995)', 'Amélie (2001)', 'Señor Kiss (1988)'}


def test_camvid_copy():
    assert camvid_tiny(data_path=FIXTURES/'camvid') == FIXTURES/'camvid'


@pytest.mark.parametrize('call, fragment', [
    (lambda: bird_forest(data_path=FIXTURES/'movielens'), 'one subfolder of images per category'),
    (lambda: celeba_smiling(data_path=FIXTURES/'camvid'), 'no CelebA copy'),
    (lambda: camvid_tiny(data_path=FIXTURES/'adult_uci'), 'missing images, labels, codes.txt'),
    (lambda: movielens(data_path=FIXTURES/'camvid'), 'missing ratings.csv or u.data'),
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


# --- the synthetic-data warning and the data source ---------------------------------------------------------

def test_synthetic_warning_prints_its_text_outside_a_notebook(capsys):
    bird_forest(offline=True, quick=True)
    out = capsys.readouterr().out
    assert '*** SYNTHETIC DATA: not the real bird/forest data ***' in out
    assert 'Offline: using the bundled synthetic bird/forest set instead of the real data.' in out
    assert 'Results will differ:' in out and 'To get the real data:' in out and 'data_path=' in out
    assert '<div' not in out   # no HTML in a terminal


def test_synthetic_warning_box_in_a_notebook():
    box = SyntheticNotice('smiling-faces', 'CelebA download failed', 'attach Kaggle\'s "celeba-dataset" input',
                          reason='HTTPError: 503 <html>')._repr_html_()
    assert box.startswith('<div role="alert" style="background:#fff3cd;')                 # amber
    assert '<div style="font-weight:bold;' in box and 'Synthetic data' in box               # a bold heading
    assert '<b>CelebA download failed:</b> using the bundled synthetic smiling-faces set' in box
    assert 'HTTPError: 503 &lt;html&gt;' in box and '<html>' not in box                     # the reason, as text
    assert 'Results will differ' in box and 'attach Kaggle&#x27;s &quot;celeba-dataset&quot; input' in box


@pytest.fixture
def metrics_file(tmp_path, monkeypatch):
    "The file `course run` reads the metrics and the data source from."
    path = tmp_path/'lesson.metrics.json'
    monkeypatch.setenv('COURSE_METRICS_FILE', str(path))
    return path


def data_source(metrics_file) -> str:
    source = json.loads(metrics_file.read_text())['data']
    metrics_file.unlink()
    return source


def test_data_source_is_recorded(metrics_file):
    for fallback in (lambda: bird_forest(offline=True, quick=True), lambda: celeba_smiling(offline=True, quick=True),
                     lambda: camvid_tiny(offline=True, quick=True), lambda: movielens(offline=True, quick=True)):
        fallback()
        assert data_source(metrics_file) == 'synthetic'
    for own_copy in (lambda: bird_forest(data_path=FIXTURES/'bird_forest'), lambda: celeba_smiling(data_path=FIXTURES/'celeba_txt'),
                     lambda: adult_sample(data_path=FIXTURES/'adult_uci'), lambda: movielens(data_path=FIXTURES/'ml100k')):
        own_copy()
        assert data_source(metrics_file) == 'real'


def test_fastai_download_failure_names_the_reason(monkeypatch, metrics_file, capsys):
    def no_network(name): raise ConnectionError(f'cannot reach files.grouplens.org for {name}')
    monkeypatch.setattr(datasets, '_untar', no_network)
    read_ratings(movielens(offline=False, quick=True))
    out = capsys.readouterr().out
    assert 'Download of MovieLens failed: using the bundled synthetic MovieLens set' in out
    assert 'Reason: ConnectionError: cannot reach files.grouplens.org for ML_100k' in out
    assert data_source(metrics_file) == 'synthetic'


# --- MovieLens 100k ------------------------------------------------------------------------------------------

def test_ml100k_layout_with_latin1_titles():
    ratings = read_ratings(movielens(data_path=FIXTURES/'ml100k'))
    assert list(ratings.columns) == ['userId', 'movieId', 'rating', 'timestamp', 'title']
    assert len(ratings) == 242 and ratings['rating'].dtype.kind == 'f' and ratings['rating'].between(1, 5).all()
    assert ratings['title'].notna().all()
    assert {'Château Lumière (1996)', 'Smørrebrød Blues (1998)', 'Le "Grand" Départ (1997)'} <= set(ratings['title'])
    assert (ratings['title'] == 'Château Lumière (1996)').sum() == 30   # rated by every user


def test_ml100k_without_titles_and_broken_u_data(tmp_path):
    (tmp_path/'u.data').write_text('1\t2\t3\t881250949\n2\t2\t4\t881250950\n')
    assert list(read_ratings(tmp_path).columns) == ['userId', 'movieId', 'rating', 'timestamp']
    (tmp_path/'u.data').write_text('1,2,3,881250949\n')
    with pytest.raises(CourseError, match='four tab-separated numbers'): read_ratings(tmp_path)


def executed_outputs(notebook) -> str:
    "Every output an executed notebook shows (streams, tables, text), as one string."
    cells = json.loads(notebook.read_text())['cells']
    parts = []
    for output in (o for c in cells for o in c.get('outputs', [])):
        parts += [output.get('text', '')] + list(output.get('data', {}).values())
    return '\n'.join(''.join(p) if isinstance(p, list) else str(p) for p in parts)


@pytest.mark.parametrize('folder', ['ml100k', 'movielens'])   # u.data + u.item, and ratings.csv + movies.csv
def test_lesson_05_shows_titles(folder, tmp_path):
    from conftest import NBS
    from course_utils.runner import run_notebook
    result = run_notebook(NBS/'lessons'/'05_collab.ipynb', out_dir=tmp_path, quick=True, offline=True, timeout=600,
                          params={'data_path': str(FIXTURES/folder)})
    shown, titles = executed_outputs(result.executed), set(read_ratings(FIXTURES/folder)['title'])
    assert result.data == 'real' and 'using the bundled synthetic' not in shown
    for section in ('rated highest:', 'Most similar to', 'Lowest biases:', 'Highest biases:'):   # each names films by title
        assert any(title in shown.split(section, 1)[1][:500] for title in titles), section
    if folder == 'ml100k': assert 'Most similar to Château Lumière (1996)' in shown   # the film everyone rated


# --- image search: several phrasings, a pause between searches ------------------------------------------------

class FakeSearch:
    "Stands in for `search_images`: notes each term, how many images were asked for, and when."
    def __init__(self, fail=()): self.calls, self.fail = [], set(fail)

    def __call__(self, term, max_images):
        self.calls.append((term, max_images, time.monotonic()))
        if term in self.fail: raise datasets.ImageSearchError(f'the search for {term!r} was refused (HTTP 403)')
        return [f'https://images.example/{term.replace(" ", "-")}/{i}.jpg' for i in range(max_images)] + ['https://images.example/same.jpg']


def fake_download(urls, dest, max_size=400):
    dest.mkdir(parents=True, exist_ok=True)
    for i, _ in enumerate(urls): PIL.Image.new('RGB', (8, 8)).save(dest/f'{i}.jpg')
    return list(dest.iterdir())


@pytest.fixture
def fake_search(monkeypatch):
    search = FakeSearch()
    monkeypatch.setattr(datasets, 'search_images', search)
    monkeypatch.setattr(datasets, 'download_images', fake_download)
    return search


def test_bird_forest_uses_every_phrasing_with_a_pause(fake_search, monkeypatch, metrics_file):
    monkeypatch.setenv('COURSE_SEARCH_PAUSE', '0.2')
    path = bird_forest(offline=False, n_per_class=9)
    terms = [term for term, _, _ in fake_search.calls]
    assert terms == [*BIRD_FOREST['bird'], *BIRD_FOREST['forest']] and len(set(terms)) == 6
    assert [n for _, n, _ in fake_search.calls] == [3] * 6
    gaps = [b[2] - a[2] for a, b in zip(fake_search.calls, fake_search.calls[1:])]
    assert min(gaps) >= 0.2, gaps
    # 3 + 3 + 3 URLs per category plus one URL that every search returns: kept once, in the first category
    assert len(list((path/'bird').iterdir())) == 10 and len(list((path/'forest').iterdir())) == 9
    assert data_source(metrics_file) == 'real'


def test_custom_categories_as_single_strings(fake_search):
    path = bird_forest(offline=False, categories={'cat': 'cat photos', 'dog': 'dog photos'}, n_per_class=4)
    assert [(term, n) for term, n, _ in fake_search.calls] == [('cat photos', 4), ('dog photos', 4)]
    assert sorted(p.name for p in path.iterdir()) == ['cat', 'dog']


def test_a_refused_phrasing_is_survived_but_a_refused_category_falls_back(monkeypatch, metrics_file, capsys):
    monkeypatch.setattr(datasets, 'download_images', fake_download)
    monkeypatch.setattr(datasets, 'search_images', FakeSearch(fail={'bird photos'}))
    path = bird_forest(offline=False, n_per_class=6)
    assert len(list((path/'bird').iterdir())) == 5 and data_source(metrics_file) == 'real'
    monkeypatch.setattr(datasets, 'search_images', FakeSearch(fail=set(BIRD_FOREST['forest'])))
    bird_forest(offline=False, n_per_class=6, quick=True)
    out = capsys.readouterr().out
    assert 'Image search failed: using the bundled synthetic bird/forest set' in out
    assert "Reason: the search for 'trees in a forest photo' was refused (HTTP 403)" in out
    assert data_source(metrics_file) == 'synthetic'


# --- CelebA from the Hugging Face Hub, against a server on this machine ------------------------------------

HF_SHARDS = sorted((FIXTURES/'celeba_hf'/'data').glob('*.parquet'))   # 3 shards of 8 drawn faces each
MAX_HUB_REQUESTS = 50


class HubServer(LoopbackServer):
    "The two Hub addresses `download_celeba` uses (the shard list and the files, behind a redirect), on 127.0.0.1."
    def __init__(self, shards:dict, cut=(), broken_list=False):
        self.shards, self.cut, self.broken_list, self.hits = shards, set(cut), broken_list, Counter()
        self._start_server()

    @property
    def downloads(self) -> int: return sum(n for path, n in self.hits.items() if path.startswith('/cdn/'))

    def _handler(self):
        owner, listing = self, f'/api/datasets/{CELEBA_HF_REPO}/tree/main/data'
        resolve = f'/datasets/{CELEBA_HF_REPO}/resolve/main/data/'

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass

            def do_GET(self):
                owner.hits[self.path] += 1
                if sum(owner.hits.values()) > MAX_HUB_REQUESTS: return self._send(503, b'enough')
                if self.path == listing and owner.broken_list: return self._send(500, b'internal error')
                if self.path == listing:
                    entries = [{'type': 'file', 'path': 'data/README.md', 'size': 10}] + [
                        {'type': 'file', 'path': f'data/{name}', 'size': len(body), 'lfs': {'size': len(body)}}
                        for name, body in owner.shards.items()]
                    return self._send(200, json.dumps(entries).encode(), 'application/json')
                if self.path.startswith(resolve):   # the Hub redirects file downloads to its CDN
                    self.send_response(302)
                    self.send_header('Location', '/cdn/' + self.path[len(resolve):])
                    self.send_header('Content-Length', '0')
                    return self.end_headers()
                name = self.path[len('/cdn/'):]
                if name not in owner.shards: return self._send(404, b'not found')
                body = owner.shards[name]
                if name in owner.cut: return self._send(200, body, declared=len(body) + 5000)   # the connection drops
                self._send(200, body)

            def _send(self, status, body, kind='application/octet-stream', declared=None):
                self.send_response(status)
                self.send_header('Content-Type', kind)
                self.send_header('Content-Length', str(declared or len(body)))
                self.end_headers()
                try: self.wfile.write(body)
                except OSError: pass
                if declared: self.close_connection = True

        return Handler


@pytest.fixture
def hub(monkeypatch):
    "Start a Hub server for the given shards, with download_celeba pointed at it (8 faces per shard)."
    monkeypatch.setattr(datasets, 'CELEBA_FACES_PER_SHARD', 8)
    monkeypatch.setenv('COURSE_DOWNLOAD_TIMEOUT', '5')
    servers = []
    def start(shards=None, **kw):
        server = HubServer(shards or {p.name: p.read_bytes() for p in HF_SHARDS}, **kw).__enter__()
        servers.append(server)
        monkeypatch.setattr(datasets, 'CELEBA_HF_URL', server.base)
        return server
    yield start
    for server in servers: server.__exit__()


def test_fixture_shards_are_small_and_in_the_hub_schema():
    assert len(HF_SHARDS) == 3 and sum(p.stat().st_size for p in HF_SHARDS) < 200_000
    shard = read_celeba_parquet(HF_SHARDS[0])
    assert list(shard.columns) == ['image_id', 'image', *CELEBA_ATTRIBUTES] and len(shard) == 8
    assert shard['image_id'].tolist()[:2] == ['000001.jpg', '000002.jpg']
    assert set(shard['Smiling']) == {-1, 1} and PIL.Image.open(io.BytesIO(shard['image'][0])).size == (40, 40)


def test_celeba_download_spans_two_shards_then_resumes(hub, data_dir, metrics_file, capsys):
    server = hub()
    images, df = celeba_smiling(n=12, offline=False)
    out = capsys.readouterr().out
    assert 'CelebA from the Hugging Face Hub: ~2 shards, ~0.1 MB for 12 faces.' in out
    assert len(df) == 12 and images == data_dir/'celeba'/'img_align_celeba' and set(df['Smiling']) == {0, 1}
    assert server.downloads == 2 and data_source(metrics_file) == 'real'
    assert sorted(p.name for p in images.iterdir()) == [f'{i:06d}.jpg' for i in range(1, 17)]
    assert not [p for p in (data_dir/'celeba').rglob('*') if p.suffix in ('.part', '.parquet')]   # nothing half done
    assert len(read_celeba_attributes(data_dir/'celeba'/'list_attr_celeba.csv')) == 16

    requests_so_far = sum(server.hits.values())
    assert len(celeba_smiling(n=12, offline=False)[1]) == 12
    assert sum(server.hits.values()) == requests_so_far   # enough faces already: not even the list is fetched

    assert len(celeba_smiling(n=20, offline=False)[1]) == 20
    assert server.downloads == 3 and server.hits['/cdn/train-00002-of-00003.parquet'] == 1
    assert '(16 already downloaded)' in capsys.readouterr().out


def test_damaged_shard_is_skipped_and_never_fetched_again(hub, data_dir, capsys):
    shards = {p.name: p.read_bytes() for p in HF_SHARDS}
    shards['train-00001-of-00003.parquet'] = shards['train-00001-of-00003.parquet'][:-3000]   # no Parquet footer
    server = hub(shards)
    images, df = celeba_smiling(n=12, offline=False)
    out = capsys.readouterr().out
    assert 'Skipping train-00001-of-00003.parquet: train-00001-of-00003.parquet is not a readable Parquet file' in out
    assert 'damaged or was cut short' in out
    assert len(df) == 12 and server.downloads == 3
    assert sorted(p.name for p in images.iterdir()) == [f'{i:06d}.jpg' for i in [*range(1, 9), *range(17, 25)]]
    celeba_smiling(n=24, offline=False)
    assert server.hits['/cdn/train-00001-of-00003.parquet'] == 1
    assert 'Only 16 faces could be downloaded; using those.' in capsys.readouterr().out


def test_interrupted_download_leaves_no_half_file_and_resumes(hub, data_dir, metrics_file, capsys):
    hub(cut={'train-00001-of-00003.parquet'})
    celeba_smiling(n=12, offline=False, quick=True)
    out = capsys.readouterr().out
    assert 'CelebA download failed: using the bundled synthetic smiling-faces set' in out
    assert 'Reason: ' in out and data_source(metrics_file) == 'synthetic'
    shards = data_dir/'celeba'/'.shards'
    assert not (shards/'train-00001-of-00003.parquet').exists() and not (shards/'train-00001-of-00003.csv').exists()
    assert (shards/'train-00000-of-00003.csv').exists()   # the shard before the break is kept
    server = hub()
    assert len(celeba_smiling(n=12, offline=False)[1]) == 12
    assert server.downloads == 1 and data_source(metrics_file) == 'real'   # only the shard that broke


def test_failed_shard_list_falls_back_with_the_reason(hub, metrics_file, capsys):
    hub(broken_list=True)
    images, df = celeba_smiling(n=12, offline=False, quick=True)
    out = capsys.readouterr().out
    assert 'CelebA download failed: using the bundled synthetic smiling-faces set' in out
    assert 'Reason: HTTPError: 500 Server Error' in out and 'To get the real data:' in out
    assert 'synthetic' in str(images) and data_source(metrics_file) == 'synthetic'


def test_offline_reuses_an_earlier_download(hub, metrics_file):
    hub()
    celeba_smiling(n=8, offline=False)
    images, df = celeba_smiling(n=8, offline=True)
    assert len(df) == 8 and 'synthetic' not in str(images) and data_source(metrics_file) == 'real'


def test_kaggle_without_the_dataset_says_how_to_attach_it(monkeypatch, capsys):
    monkeypatch.setenv('KAGGLE_KERNEL_RUN_TYPE', 'Interactive')
    celeba_smiling(offline=True, quick=True)
    out = capsys.readouterr().out
    assert 'Add Input > Datasets' in out and '"celeba-dataset" (by jessicali9530)' in out
    assert out.index('/kaggle/input/celeba-dataset') < out.index('using the bundled synthetic')
