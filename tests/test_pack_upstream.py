"""The fake upstream of tests/pack_upstream.py: every file is in the real format, as the course's own readers see it,
and StaticServer serves it faithfully."""
import hashlib
import http.client
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import requests

from pack_upstream import (ADULT_TGZ, CAMVID_TGZ, CELEBA_LISTING, CELEBA_SHARDS, ML100K_ZIP, ML_SPECIAL_TITLES,
                           SEARCH_QUERIES, StaticServer, celeba_shard_name, fake_search, make_upstream, weights_file_name)
from course_utils import datasets
from course_utils.datasets import read_adult, read_celeba_parquet, read_ratings
from course_utils.search import ImageSearchError
from course_utils.synth import CAMVID_CODES, CELEBA_ATTRIBUTES
from course_utils.synth_tables import ADULT_COLUMNS

# Smaller than the defaults, so the module runs in seconds; the formats don't depend on the counts.
SIZES = dict(faces=250, faces_per_shard=100, face_size=48, images_per_query=6, broken_per_query=2)


@pytest.fixture(scope='module')
def upstream(tmp_path_factory):
    "(root, what make_upstream returned) for one generated upstream shared by the module's tests."
    root = tmp_path_factory.mktemp('upstream')
    return root, make_upstream(root, **SIZES)


@pytest.fixture(scope='module')
def server(upstream):
    with StaticServer(upstream[0]) as running: yield running


def unpack(root, relpath, tmp_path):
    "The single top folder of the archive at `root/relpath`, unpacked into `tmp_path`."
    shutil.unpack_archive(root/relpath, tmp_path)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and folders[0].is_dir(), folders
    return folders[0]


def test_the_listing_of_files_matches_the_disk(upstream):
    root, made = upstream
    assert made['files'] == {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob('*') if p.is_file()}
    assert json.loads((root/'search.json').read_text()) == made['search']
    assert set(made['seconds']) == {'camvid', 'adult', 'movielens', 'celeba', 'weights', 'search'}


@pytest.mark.parametrize('relpath, top', [(CAMVID_TGZ, 'camvid_tiny'), (ADULT_TGZ, 'adult_sample'), (ML100K_ZIP, 'ml-100k')])
def test_archives_hold_one_folder_named_as_upstream(upstream, tmp_path, relpath, top):
    assert unpack(upstream[0], relpath, tmp_path).name == top


def test_fastai_unpacks_the_served_archives(server, tmp_path):
    from fastai.data.external import untar_data
    for relpath, inside in [(CAMVID_TGZ, 'codes.txt'), (ADULT_TGZ, 'adult.csv'), (ML100K_ZIP, 'u.data')]:
        # base: fastai keeps its config there rather than in ~/.fastai
        path = untar_data(server.url(relpath), archive=tmp_path/'archive', data=tmp_path/'data', base=str(tmp_path))
        assert (path/inside).is_file() and path.name == Path(relpath).stem


def test_camvid_labels_match_images_and_codes(upstream, tmp_path):
    folder = unpack(upstream[0], CAMVID_TGZ, tmp_path)
    codes = (folder/'codes.txt').read_text().splitlines()
    assert codes == list(CAMVID_CODES) and len(codes) == 32
    images = sorted((folder/'images').glob('*.png'))
    assert len(images) == 80 and len(list((folder/'labels').iterdir())) == 80
    for image in images:
        assert re.fullmatch(r'0001TP_\d{6}|0006R0_f\d{5}|0016E5_\d{5}|Seq05VD_f\d{5}', image.stem), image.stem
        picture, label = PIL.Image.open(image), PIL.Image.open(folder/'labels'/f'{image.stem}_P.png')
        assert picture.mode == 'RGB' and label.mode == 'L' and picture.size == label.size == (128, 96)
        assert np.asarray(label).max() < len(codes)


def test_adult_is_fastais_csv(upstream, tmp_path):
    folder = unpack(upstream[0], ADULT_TGZ, tmp_path)
    lines = (folder/'adult.csv').read_text().splitlines()
    assert lines[0] == ','.join(ADULT_COLUMNS) and len(lines) == 5001
    text = (folder/'adult.csv').read_text()
    assert ', Private,' in text and ', ?,' in text and ',,' in text and ',>=50k\n' in text   # spaces, '?', empty cells
    table = read_adult(folder)
    assert len(table) == 5000 and list(table.columns) == list(ADULT_COLUMNS)
    assert set(table['salary']) == {'>=50k', '<50k'} and 'Private' in set(table['workclass'])
    assert table[['workclass', 'education-num', 'occupation', 'native-country']].isna().any(axis=0).all()


def test_movielens_is_ml100k_with_learnable_ratings(upstream, tmp_path):
    folder = unpack(upstream[0], ML100K_ZIP, tmp_path)
    items = (folder/'u.item').read_bytes()
    assert b'\xe9' in items and all(len(line.split(b'|')) == 24 for line in items.splitlines())   # Latin-1, 24 fields
    assert 'GENERATED TEST DATA' in (folder/'README').read_text()
    ratings = read_ratings(folder)
    assert list(ratings.columns) == ['userId', 'movieId', 'rating', 'timestamp', 'title'] and len(ratings) == 20_000
    assert ratings['userId'].nunique() == 300 and ratings['movieId'].max() <= 400
    assert ratings.groupby('userId').size().min() >= 20 and not ratings.duplicated(['userId', 'movieId']).any()
    assert set(ratings['rating']) == {1, 2, 3, 4, 5} and ratings['title'].notna().all()
    assert set(ML_SPECIAL_TITLES) <= set(ratings['title'])   # decoded from Latin-1, quotes and commas intact
    assert rmse_from_half_the_biases(ratings) < 0.92*ratings['rating'].std()


def rmse_from_half_the_biases(ratings) -> float:
    "RMSE on half the ratings of user and movie mean offsets measured on the other half: below the spread if learnable."
    half = np.random.default_rng(0).random(len(ratings)) < 0.5
    seen, unseen = ratings[half], ratings[~half]
    mean = seen['rating'].mean()
    offset = lambda column: unseen[column].map(seen.groupby(column)['rating'].mean() - mean).fillna(0)
    return float(np.sqrt(((unseen['rating'] - mean - offset('userId') - offset('movieId'))**2).mean()))


def test_celeba_shards_are_in_the_hub_schema(upstream):
    import pyarrow.parquet as pq
    root, names = upstream[0], [celeba_shard_name(i) for i in range(3)]
    assert [p.name for p in sorted((root/CELEBA_SHARDS).iterdir())] == names   # 250 faces, 100 a shard
    shards = [read_celeba_parquet(root/CELEBA_SHARDS/name) for name in names]
    assert [len(s) for s in shards] == [100, 100, 50]
    ids = [i for s in shards for i in s['image_id']]
    assert ids == [f'{i:06d}.jpg' for i in range(1, 251)]
    for shard in shards:
        assert list(shard.columns) == ['image_id', 'image', *CELEBA_ATTRIBUTES]
        assert all(data[:3] == b'\xff\xd8\xff' for data in shard['image'])
        assert PIL.Image.open(io.BytesIO(shard['image'][0])).size == (48, 48)
        assert set(shard[list(CELEBA_ATTRIBUTES)].stack()) == {-1, 1}
    schema = pq.read_schema(root/CELEBA_SHARDS/names[0])
    assert schema.names[:3] == ['image', 'label', 'image_id'] and len(schema.names) == 43
    assert str(schema.field('image').type) == 'struct<bytes: binary, path: string>'
    assert {str(schema.field(a).type) for a in ['label', *CELEBA_ATTRIBUTES]} == {'int64'}


def test_hub_listing_names_each_shard_with_its_size(upstream, server, monkeypatch):
    root = upstream[0]
    entries = json.loads((root/CELEBA_LISTING).read_text())
    sizes = {p.name: p.stat().st_size for p in (root/CELEBA_SHARDS).iterdir()}
    assert {e['path']: e['size'] for e in entries} == {f'data/{name}': size for name, size in sizes.items()}
    assert all(e['type'] == 'file' and e['lfs']['size'] == e['size'] for e in entries)
    # The course's own client, pointed at the server: the listing parses and its URLs lead to the shards.
    monkeypatch.setattr(datasets, 'CELEBA_HF_URL', f'{server.base}/huggingface.co')
    listed = datasets.celeba_shard_list()
    assert [(s['name'], s['size']) for s in listed] == sorted(sizes.items())
    assert requests.get(listed[1]['url'], timeout=5).content == (root/CELEBA_SHARDS/listed[1]['name']).read_bytes()


def test_download_celeba_reads_the_served_shards(upstream, server, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(datasets, 'CELEBA_HF_URL', f'{server.base}/huggingface.co')
    monkeypatch.setattr(datasets, 'CELEBA_FACES_PER_SHARD', 100)
    _, images = datasets.download_celeba(tmp_path, n=150)
    assert len(list(images.glob('*.jpg'))) == 200 and 'for 150 faces' in capsys.readouterr().out


@pytest.mark.parametrize('arch', ['resnet18', 'efficientnet_b0'])
def test_weights_load_into_the_model(upstream, server, tmp_path, arch):
    import torch
    import torchvision
    relpath = f'download.pytorch.org/models/{weights_file_name(arch)}'
    assert relpath in upstream[1]['files']
    state = torch.hub.load_state_dict_from_url(server.url(relpath), model_dir=str(tmp_path), progress=False)
    getattr(torchvision.models, arch)(weights=None).load_state_dict(state)   # strict: every key and shape matches


def test_search_lists_distinct_photos_and_a_few_broken_ones(upstream):
    root, search = upstream[0], upstream[1]['search']
    assert list(search) == list(SEARCH_QUERIES)
    digests = set()
    for query, paths in search.items():
        assert len(paths) == 8 and all((root/p).is_file() for p in paths)
        assert paths[2].endswith('/broken-0.jpg') and paths[7].endswith('/broken-1.jpg')
        for path in paths:
            if 'broken' in path:
                with pytest.raises(OSError): PIL.Image.open(root/path).load()
                continue
            assert re.fullmatch(rf"photos\.example/{query.replace(' ', '-')}/\d{{3}}\.jpg", path)
            assert PIL.Image.open(root/path).size == (160, 160)
            digests.add(hashlib.sha256((root/path).read_bytes()).hexdigest())
    assert len(digests) == 6*len(SEARCH_QUERIES)


def test_fake_search_answers_with_served_urls(upstream, server):
    search = fake_search(server, upstream[0])
    urls = search('bird photos', max_images=3)
    assert urls == [server.url(p) for p in upstream[1]['search']['bird photos'][:3]]
    assert requests.get(urls[0], timeout=5).content == (upstream[0]/upstream[1]['search']['bird photos'][0]).read_bytes()
    with pytest.raises(ImageSearchError, match='cat photos'): search('cat photos')


def raw_request(server, method, path):
    "(status, headers, body) for a request sent exactly as written, with no client tidying its path."
    connection = http.client.HTTPConnection(server.base.split('//')[1], timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally: connection.close()


def test_static_server(upstream, tmp_path):
    root = upstream[0]
    (tmp_path/'secret.txt').write_text('not for you')
    with StaticServer(root) as server:
        response = requests.get(server.url(ADULT_TGZ), timeout=5)
        assert response.content == (root/ADULT_TGZ).read_bytes()
        assert int(response.headers['Content-Length']) == (root/ADULT_TGZ).stat().st_size
        assert 'Content-Encoding' not in response.headers   # or the client would unpack the .tgz
        status, headers, body = raw_request(server, 'HEAD', '/' + ADULT_TGZ)
        assert status == 200 and int(headers['Content-Length']) == (root/ADULT_TGZ).stat().st_size and body == b''
        assert requests.get(server.url('s3.amazonaws.com/no-such-file.tgz'), timeout=5).status_code == 404
        assert requests.get(server.url('s3.amazonaws.com'), timeout=5).status_code == 404   # a folder
        assert raw_request(server, 'GET', f'/../{tmp_path.name}/secret.txt')[0] == 403
        assert raw_request(server, 'GET', '/s3.amazonaws.com/%2e%2e/%2e%2e/etc/passwd')[0] == 403
        assert server.hits[ADULT_TGZ] == 2 and server.hits['s3.amazonaws.com/no-such-file.tgz'] == 1


def test_static_server_hangs_up_after_max_requests(upstream):
    with StaticServer(upstream[0], max_requests=2) as server:
        for _ in range(2): assert requests.get(server.url('search.json'), timeout=5).ok
        with pytest.raises(requests.ConnectionError): requests.get(server.url('search.json'), timeout=5)
        assert server.hits['search.json'] == 2


def test_generation_is_deterministic(tmp_path):
    tiny = dict(faces=12, faces_per_shard=5, face_size=32, images_per_query=2, broken_per_query=2,
                queries=('bird photos', 'forest photos'), archs=('resnet18',))
    digests = []
    for run in ('first', 'second'):
        files = make_upstream(tmp_path/run, **tiny)['files']
        digests.append({p: hashlib.sha256((tmp_path/run/p).read_bytes()).hexdigest() for p in files})
    assert digests[0] == digests[1]
    assert make_upstream(tmp_path/'other', **tiny, seed=1)['files'].keys() == digests[0].keys()
