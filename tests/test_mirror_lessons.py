"""Every lesson that downloads, run through its online code path against a course pack served on 127.0.0.1.

No machine here has internet, so without this the code each lesson runs online (fastai's archives, the
CelebA shards, the image search and download, torchvision's weights) would only ever be tested in pieces.
Here a pack built from generated files in the real formats (tests/pack_fixture.py) is served by `PackServer`;
each lesson runs in quick mode with `offline = None`, as a learner in a classroom would, in a kernel whose
sockets can reach nothing but this machine (tests/netguard)."""
import math

import pytest

from conftest import NBS
from course_utils.pack import PackServer
from course_utils.runner import notebook_parameters, run_notebook
from netguard import guard_environment, read_guard_log
from pack_fixture import shared_test_pack
from test_notebooks import EXPECTED_METRICS

# The pack files each lesson must fetch (request paths on the pack server), beside the manifest.
FETCHES = {
    '01_is_it_a_bird': ('/search/', '/weights/resnet18-'),
    '02_smiling_faces': ('/celeba/', '/weights/resnet18-'),
    '03_segmentation': ('/archives/camvid_tiny.tgz', '/weights/resnet18-'),
    '04_tabular': ('/archives/adult_sample.tgz',),
    '05_collab': ('/archives/ml-100k.zip',),
    '07_pytorch_underneath': ('/weights/efficientnet_b0',),
}
# How many requests at least: lesson 01 downloads 50 photos per phrasing (150 per category) and 10 fresh
# birds; lesson 02 needs 3 shards of 750 generated faces for its 2,000.
AT_LEAST = {('01_is_it_a_bird', '/search/'): 300, ('02_smiling_faces', '/celeba/'): 3}
PRETRAINED = {'01_is_it_a_bird', '02_smiling_faces', '03_segmentation', '07_pytorch_underneath'}


@pytest.fixture(scope='module')
def pack_server(session_folder):
    with PackServer(shared_test_pack(session_folder), port=0) as server: yield server


def outputs_of(notebook, needle:str) -> list[str]:
    "The text and HTML outputs of each executed code cell whose source contains `needle` (at least one)."
    import nbformat
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == 'code' and needle in c.source]
    assert cells, needle
    return ['\n'.join(str(o.get('text', '')) + str(o.get('data', {}).get('text/html', '')) for o in c.outputs) for c in cells]


@pytest.mark.parametrize('stem', FETCHES)
def test_lesson_downloads_through_the_course_mirror(stem, pack_server, tmp_path, monkeypatch):
    guard_log = tmp_path/'network.log'
    for name, value in {'COURSE_OFFLINE': '0', 'COURSE_MIRROR': pack_server.url, 'COURSE_DATA_DIR': str(tmp_path/'data'),
                        'TORCH_HOME': str(tmp_path/'torch'), **guard_environment(guard_log)}.items():
        monkeypatch.setenv(name, value)
    lesson = NBS/'lessons'/f'{stem}.ipynb'
    # One epoch: this run proves the online code path; what training reaches is checked by the offline runs.
    params = {'epochs': 1} if 'epochs' in notebook_parameters(lesson) else {}
    before = pack_server.hits.copy()
    result = run_notebook(lesson, out_dir=tmp_path, quick=True, params=params, timeout=600)
    fetched = pack_server.hits - before

    assert EXPECTED_METRICS[stem] <= set(result.metrics), result.metrics
    assert all(math.isfinite(v) for v in result.metrics.values()), result.metrics
    # The real-data branch, not the synthetic fallback, and the files came from the pack server.
    assert result.data == (None if stem == '07_pytorch_underneath' else 'real'), result.data
    assert 'using the bundled synthetic' not in result.executed.read_text()
    assert fetched['/course-pack.json'] >= 1
    for prefix in FETCHES[stem]:
        count = sum(n for path, n in fetched.items() if path.startswith(prefix))
        assert count >= AT_LEAST.get((stem, prefix), 1), (prefix, dict(fetched))
    # The pretrained branch ran: weights copied from the pack, then fine_tune's two phases (one table each).
    if stem in PRETRAINED: assert result.weights == 'pretrained', result.weights
    if stem in ('01_is_it_a_bird', '02_smiling_faces', '03_segmentation'):   # lesson 01 trains twice: before and after cleaning
        assert all(outputs.count('train_loss') >= 2 for outputs in outputs_of(result.executed, 'fine_tune('))
    if stem == '07_pytorch_underneath':
        assert '(pretrained features)' in outputs_of(result.executed, 'transfer_accuracy =')[0]
    # The kernel was guarded, and never tried to reach beyond this machine.
    armed, blocked = read_guard_log(guard_log)
    assert armed, 'the network guard never armed in the kernel'
    assert blocked == [], blocked
