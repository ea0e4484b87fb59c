"""`course pack build/check/serve` end to end on loopback: a pack built from a generated "upstream" in the real
formats, a build interrupted and resumed, a damaged file caught by its SHA-256, a pack found where Kaggle mounts
datasets, and the licences a teacher must read before sharing a pack."""
import json
import re
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import COURSE, NBS
from course_utils import core, mirror
from course_utils.cli import main
from course_utils.mirror import PACK_MANIFEST, MirrorError, Mirror, sha256_of
from course_utils.pack import LESSON_SEARCHES, build_pack, check_pack, read_manifest
from pack_fixture import PACK_ARCHS, PACK_FACES, PACK_PHOTOS_PER_CLASS, shared_test_pack
from pack_upstream import StaticServer, fake_search, make_upstream


@pytest.fixture(scope='module')
def upstream(tmp_path_factory):
    root = tmp_path_factory.mktemp('upstream')
    make_upstream(root, faces=PACK_FACES + 100, archs=(*PACK_ARCHS, 'resnet34'))   # `course pack build` takes all three
    with StaticServer(root) as server:
        server.root = root
        yield server


def build(folder, upstream, said=None, **kw):
    options = dict(faces=PACK_FACES, archs=PACK_ARCHS, images_per_class=PACK_PHOTOS_PER_CLASS, upstream=upstream.base,
                   search=fake_search(upstream, upstream.root), say=(said.append if said is not None else lambda line: None))
    return build_pack(folder, **{**options, **kw})


@pytest.fixture
def fresh_mirror(monkeypatch):
    "No cached mirror or internet answer from an earlier test; tests set COURSE_MIRROR or PACK_PLACES themselves."
    monkeypatch.setattr(mirror, '_mirrors', {})
    monkeypatch.setattr(core, '_online_cache', {})
    monkeypatch.setattr(mirror, 'PACK_PLACES', ())
    monkeypatch.delenv('COURSE_MIRROR', raising=False)


def test_build_records_every_file_with_its_real_source_and_licence(upstream, tmp_path):
    said = []
    manifest = build(tmp_path/'pack', upstream, said)
    files = manifest['files']
    sources = {entry['source'] for entry in files.values()}
    # The manifest names the real upstream URLs (how lessons find the files), not the loopback stand-in.
    assert {'https://s3.amazonaws.com/fast-ai-sample/camvid_tiny.tgz', 'https://s3.amazonaws.com/fast-ai-sample/adult_sample.tgz',
            'https://files.grouplens.org/datasets/movielens/ml-100k.zip',
            'https://download.pytorch.org/models/resnet18-f37072fd.pth'} <= sources
    shards = [e for e in files.values() if e['licence'] == 'celeba']
    assert all(e['source'].startswith('https://huggingface.co/datasets/huggan/CelebA-faces-with-attributes/resolve/main/data/')
               for e in shards)
    assert sum(e['faces'] for e in shards) >= PACK_FACES
    # Each lesson search has its photos: 50 per phrasing for 150 per category, 10 fresh birds; the broken
    # files the upstream mixes into each search result are refused by the downloader.
    assert {term: len(names) for term, names in manifest['search'].items()} == {
        **{term: 50 for term in LESSON_SEARCHES[:-1]}, LESSON_SEARCHES[-1]: 10}
    for name, entry in files.items():
        assert entry['size'] == (tmp_path/'pack'/name).stat().st_size and entry['sha256'] == sha256_of(tmp_path/'pack'/name)
    assert check_pack(tmp_path/'pack') == []
    # Random weights are not torchvision's: the build says so.
    assert any('resnet18-f37072fd.pth does not match' in line for line in said)
    # The licences, those that forbid sharing first: MovieLens 100k may not be redistributed.
    terms = said[said.index(next(l for l in said if l.startswith('Done:'))) + 1:]
    assert terms[0].startswith('  [DO NOT SHARE] MovieLens 100k') and 'redistributed' in terms[0]
    assert {'CelebA', 'CamVid', 'Adult', 'torchvision', 'photos'} <= {w for l in terms for w in re.findall(r'\w+', l)}
    assert set(json.loads((tmp_path/'pack'/PACK_MANIFEST).read_text())['licences']) == {
        'camvid', 'adult', 'movielens', 'celeba', 'weights', 'photos'}


def test_an_interrupted_build_resumes_without_fetching_twice(upstream, tmp_path):
    def stop_after_first_shard(line):
        if 'fetched celeba/' in line: raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path/'pack', upstream, say=stop_after_first_shard)
    kept = read_manifest(tmp_path/'pack')['files']
    assert len([n for n in kept if n.startswith('celeba/')]) == 1 and 'archives/ml-100k.zip' in kept
    (tmp_path/'pack'/'archives'/'stray.tgz.part').write_bytes(b'half a file')   # what a killed download leaves
    before = upstream.hits.copy()
    manifest = build(tmp_path/'pack', upstream)
    again = upstream.hits - before
    assert not any(path.endswith(('.tgz', '.zip', '.pth')) for path in again), dict(again)
    assert sum(n for path, n in again.items() if path.endswith('.parquet')) == len(
        [n for n in manifest['files'] if n.startswith('celeba/')]) - 1
    assert check_pack(tmp_path/'pack') == []


def test_a_damaged_file_is_caught_by_its_sha256_and_fetched_again(upstream, tmp_path, capsys):
    build(tmp_path/'pack', upstream)
    archive = tmp_path/'pack'/'archives'/'adult_sample.tgz'
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF                      # one flipped byte, same size
    archive.write_bytes(bytes(data))
    assert check_pack(tmp_path/'pack') == ['archives/adult_sample.tgz: damaged (its SHA-256 differs from the manifest)']
    assert main(['pack', 'check', str(tmp_path/'pack')]) == 1
    assert 'adult_sample.tgz: damaged' in capsys.readouterr().out
    # A learner's download refuses it, and leaves nothing behind.
    pack = Mirror(str(tmp_path/'pack'), read_manifest(tmp_path/'pack'))
    with pytest.raises(MirrorError, match='damaged'):
        pack.fetch('https://s3.amazonaws.com/fast-ai-sample/adult_sample.tgz', tmp_path/'got'/'adult_sample.tgz')
    assert not list((tmp_path/'got').iterdir())
    # A rebuild fetches that one file again, and nothing else.
    before = upstream.hits.copy()
    build(tmp_path/'pack', upstream)
    assert set(upstream.hits - before) == {'s3.amazonaws.com/fast-ai-sample/adult_sample.tgz'}
    assert check_pack(tmp_path/'pack') == []


def test_a_pack_in_a_kaggle_input_folder_is_found_and_used(session_folder, tmp_path, monkeypatch, fresh_mirror, capsys):
    from course_utils.datasets import adult_sample, pretrained_weights, read_adult, weights_file, _weights_for
    from course_utils.download import download_images
    from course_utils.search import search_images
    kaggle_input = tmp_path/'kaggle'/'input'
    shutil.copytree(shared_test_pack(session_folder), kaggle_input/'course-pack-2026')
    monkeypatch.setattr(mirror, 'PACK_PLACES', (kaggle_input,))
    monkeypatch.setenv('COURSE_OFFLINE', '0')
    monkeypatch.setenv('COURSE_DATA_DIR', str(tmp_path/'data'))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch'))   # the random test weights stay out of other tests' cache
    # Kaggle's internet is off: the conftest guard refuses anything but loopback, and no setting names the pack.
    assert core.online() and mirror.active_mirror().location == str(kaggle_input/'course-pack-2026')
    assert core.setup_lesson(quick=True, show=False).mirror == str(kaggle_input/'course-pack-2026')
    table = read_adult(adult_sample())
    assert len(table) > 1000 and set(table['salary']) == {'>=50k', '<50k'}
    assert 'synthetic' not in capsys.readouterr().out
    assert pretrained_weights('resnet18') and weights_file(_weights_for('resnet18')).is_file()
    urls = search_images('bird photos', max_images=5)
    assert len(urls) == 5 and all(u.startswith('file://') for u in urls)
    assert len(download_images(urls, tmp_path/'birds', show=False)) == 5
    # A file:// URL outside the pack is refused, whatever a search returns.
    outside = download_images([(tmp_path/'data'/'outside.jpg').as_uri()], tmp_path/'none', show=False)
    assert not outside and list(outside.failures.values()) == ['not an http(s) URL']


def test_without_a_mirror_nothing_changes(fresh_mirror, monkeypatch):
    monkeypatch.setenv('COURSE_OFFLINE', '0')
    monkeypatch.setattr(core, 'internet_reachable', lambda *a, **k: False)
    assert mirror.active_mirror() is None and not core.online()


def test_an_unreachable_mirror_is_reported_and_the_course_carries_on(fresh_mirror, monkeypatch, capsys):
    monkeypatch.setenv('COURSE_OFFLINE', '0')
    monkeypatch.setenv('COURSE_MIRROR', 'http://127.0.0.1:9')   # the discard port: nothing listens
    monkeypatch.setattr(core, 'internet_reachable', lambda *a, **k: False)
    assert mirror.active_mirror() is None and not core.online()
    assert 'Course mirror not used' in capsys.readouterr().err


def test_cli_builds_checks_and_serves_a_pack(upstream, tmp_path, monkeypatch, capsys):
    from course_utils import pack
    monkeypatch.setattr(pack, 'search_images', fake_search(upstream, upstream.root))
    assert main(['pack', 'build', str(tmp_path/'pack'), '--faces', '700', '--upstream', upstream.base]) == 0
    out = capsys.readouterr().out
    assert 'Done:' in out and '[DO NOT SHARE] MovieLens 100k' in out
    assert main(['pack', 'check', str(tmp_path/'pack')]) == 0
    # A learner's terminal delivers Ctrl-C; a test started in the background by a shell inherits SIGINT ignored, and so
    # would the server, which then never stops: give it the default disposition, as a terminal would.
    server = subprocess.Popen([str(COURSE), 'pack', 'serve', str(tmp_path/'pack'), '--port', '0'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = server.stdout.readline()
        url = re.search(r'http://127\.0\.0\.1:\d+', first).group(0)
        import requests
        assert requests.get(url + '/' + PACK_MANIFEST, timeout=5).json()['files']
    finally:
        server.send_signal(signal.SIGINT)
        try: out, _ = server.communicate(timeout=10)
        finally:
            if server.poll() is None: server.kill()   # it ignored Ctrl-C: leave no server behind
    assert 'Stopped after 1 request: /course-pack.json x1' in out and server.returncode == 0


def test_the_pack_carries_every_search_the_lessons_make():
    # A search a lesson makes that the pack lacks would go to the internet in a classroom that has none.
    made = set()
    for lesson in (NBS/'lessons').glob('[0-9][0-9]_*.ipynb'):
        made |= set(re.findall(r"search_images\(\s*'([^']+)'", lesson.read_text()))
    assert made and made <= set(LESSON_SEARCHES), made - set(LESSON_SEARCHES)
