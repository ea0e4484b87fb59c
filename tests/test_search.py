"""search_images with fake search clients: rate limits, permanent failure, a client that hangs, no internet."""
import time

import pytest
from ddgs.exceptions import RatelimitException, TimeoutException

from course_utils.search import ImageSearchError, search_images


class FakeDDGS:
    "Behaves like ddgs.DDGS: raises `errors` in turn, then returns `n` results."
    def __init__(self, errors=(), n=30):
        self.errors, self.n, self.calls = list(errors), n, 0

    def images(self, query, max_results=100, **kwargs):
        self.calls += 1
        if self.errors: raise self.errors.pop(0)
        return [{'image': f'https://photos.example/{query}/{i}.jpg', 'title': str(i)} for i in range(self.n)][:max_results]


def test_retries_through_rate_limits():
    client = FakeDDGS([RatelimitException('202 Ratelimit'), TimeoutException('timed out'), RatelimitException('403')])
    urls = search_images('bird photos', max_images=20, client=client, retries=4, backoff=0.01)
    assert client.calls == 4
    assert len(urls) == 20 and len(set(urls)) == 20


def test_gives_up_with_clear_error_after_growing_waits():
    client, waits = FakeDDGS([RatelimitException('202 Ratelimit')] * 10), []
    with pytest.raises(ImageSearchError) as caught:
        search_images('forest photos', client=client, retries=3, backoff=0.05, sleep=waits.append)
    # Three attempts, so two waits: the backoff, then twice it, each with up to 50% jitter; never after the last try
    assert client.calls == 3 and len(waits) == 2, waits
    assert 0.05 <= waits[0] <= 0.075 and 0.1 <= waits[1] <= 0.15, waits
    message = str(caught.value)
    assert "'forest photos' failed 3 times" in message and 'RatelimitException' in message
    assert 'data_path' in message and 'wait a few minutes' in message


class HangingDDGS:
    def images(self, query, max_results=100, **kwargs): time.sleep(60)


def test_a_hanging_client_cannot_hang_the_lesson():
    start = time.monotonic()
    with pytest.raises(ImageSearchError, match='TimeoutError'):
        search_images('bird', client=HangingDDGS(), retries=2, backoff=0.01, timeout=0.2)
    # No seam here: the timeout is the subject. Two attempts of at most 2 x 0.2 + 1 s each: about 3 s. A hang would
    # be two 60 s sleeps; 10 s tells the two apart even on a busy CI machine (3 s failed once there, at 3.2 s, while
    # the lessons ran alongside).
    assert time.monotonic() - start < 10


def test_offline_fails_at_once():
    # The tests force offline mode (COURSE_OFFLINE=1), so no client is even built.
    start = time.monotonic()
    with pytest.raises(ImageSearchError, match='no internet'):
        search_images('bird photos')
    assert time.monotonic() - start < 0.5
