"""The image downloader against a loopback server full of good images and hostile responses."""
import os
import re
import subprocess
import time

import pytest
from hypothesis import given, strategies as st
from PIL import Image

from conftest import COURSE
from course_utils.download import content_name, download_images
from course_utils.search import clean_image_urls
from image_server import ImageServer, good_images

MAX_SIZE = 256
TIMEOUT = 2.0            # per image; the slow drip (one byte per 0.2 s) must be cut off by it
MAX_BYTES = 5_000_000    # above every good image here (the 6000x4000 JPEG is about 2 MB), far below 100 MB

HOSTILE = {
    '/bad/html.jpg': 'not an image',
    '/bad/truncated.jpg': 'truncated or corrupt image',
    '/bad/empty.jpg': 'empty file',
    '/bad/bomb.png': 'too many pixels',
    '/bad/huge-declared': 'too large',
    '/bad/huge-stream': 'too large',
    '/bad/slow-drip.jpg': 'too slow',
    '/bad/redirect-loop': 'too many redirects',
    '/bad/redirect-file': 'redirect to a non-http(s) URL',
    '/bad/missing.jpg': 'HTTP 404',
    '/dup/second.jpg': 'duplicate',
}
NOT_HTTP = {'file:///etc/passwd': 'not an http(s) URL', 'ftp://127.0.0.1/x.jpg': 'not an http(s) URL'}


@pytest.fixture(scope='module')
def server():
    with ImageServer() as running: yield running


@pytest.fixture(scope='module')
def downloaded(server, tmp_path_factory):
    "One download of every URL (shared by the tests below, as it takes a few seconds)."
    root = tmp_path_factory.mktemp('download')
    # The URL tries to climb out of any folder it might be saved under; it must not matter.
    good = [server.url(p) for p in good_images() if p != '/escape.jpg'] + [server.url('/%2e%2e/%2e%2e/escape.jpg')]
    urls = good + [server.url(p) for p in HOSTILE] + list(NOT_HTTP)
    start = time.monotonic()
    result = download_images(urls, root/'dest', max_size=MAX_SIZE, timeout=TIMEOUT, max_bytes=MAX_BYTES, workers=8, show=False)
    return root, good, result, time.monotonic() - start


def test_every_good_image_saved_once(downloaded):
    root, good, result, _ = downloaded
    assert len(result) == len(good), result.failures
    assert not set(good) & set(result.failures)
    for path in result:
        with Image.open(path) as img:
            assert img.format == 'JPEG' and img.mode == 'RGB' and max(img.size) <= MAX_SIZE


def test_every_hostile_response_rejected_with_its_reason(server, downloaded):
    _, _, result, _ = downloaded
    expected = {server.url(p): reason for p, reason in HOSTILE.items()} | NOT_HTTP
    assert result.failures == expected


def test_nothing_outside_dest_and_no_temp_files(downloaded):
    root, _, result, _ = downloaded
    assert os.listdir(root) == ['dest']
    names = sorted(os.listdir(root/'dest'))
    assert names == sorted(p.name for p in result)
    assert all(re.fullmatch(r'[0-9a-f]{20}\.jpg', n) for n in names), names


def test_total_time_bounded(downloaded):
    # The slowest case is the slow drip, cut off after TIMEOUT s; everything else runs alongside it in
    # 8 threads. 15 s is several times the ~3 s this takes on a 2-core machine, but far below the 10 s drip
    # plus 100 MB bodies that an unbounded downloader would sit through.
    assert downloaded[3] < 15


def test_second_run_reuses_files(server, downloaded):
    root, good, first, _ = downloaded
    again = download_images(good, root/'dest', max_size=MAX_SIZE, timeout=TIMEOUT, max_bytes=MAX_BYTES, show=False)
    assert sorted(again) == sorted(first) and not again.failures


def test_deadline_for_the_whole_job(server, tmp_path):
    start = time.monotonic()
    drips = [server.url('/bad/slow-drip.jpg') + f'?{i}' for i in range(4)]
    result = download_images(drips, tmp_path, timeout=30, total_timeout=1, workers=2, show=False)
    assert time.monotonic() - start < 5   # 1 s deadline; the drips would otherwise take 30 s each
    assert set(result.failures.values()) <= {'too slow', 'deadline reached'} and not result


def test_fetch_images_command(server, tmp_path):
    urls = tmp_path/'urls.txt'
    urls.write_text('# my birds\n' + '\n'.join([server.url('/good/photo.jpg'), server.url('/bad/html.jpg'), '', 'not a url']) + '\n')
    done = subprocess.run([str(COURSE), 'fetch-images', str(urls), str(tmp_path/'birds'), '--max-size', '100'],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == 'saved: 1  rejected: 2'
    [saved] = (tmp_path/'birds').iterdir()
    assert max(Image.open(saved).size) == 100


def test_fetch_images_missing_file(tmp_path):
    done = subprocess.run([str(COURSE), 'fetch-images', str(tmp_path/'nope.txt'), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count('\n') == 1 and 'does not exist' in done.stderr


@given(st.binary(max_size=200))
def test_content_names_are_safe(data):
    assert re.fullmatch(r'[0-9a-f]{20}\.jpg', content_name(data))


@given(st.lists(st.text(max_size=60) | st.from_regex(r'(https?|ftp|file|data):/{0,3}[a-z./%#?]{0,30}', fullmatch=True), max_size=20))
def test_cleaned_urls_are_unique_http_without_fragments(urls):
    cleaned = clean_image_urls(urls)
    assert len(cleaned) == len(set(cleaned))
    for url in cleaned:
        assert url.split(':', 1)[0].lower() in ('http', 'https') and '#' not in url
