"""One small course pack per test session, built by `build_pack` from a loopback "upstream" that serves generated
files in the real formats (tests/pack_upstream.py), and shared by every xdist worker."""
from pathlib import Path

from pack_upstream import StaticServer, fake_search, make_upstream

# Enough for the lessons' quick mode: 2,000 faces (lesson 02), 150 photos per category (lesson 01: 50 per
# phrasing) and the weights of the architectures quick mode uses.
PACK_FACES, PACK_ARCHS, PACK_PHOTOS_PER_CLASS = 2000, ('resnet18', 'efficientnet_b0'), 150


def build_test_pack(folder:Path, upstream_root:Path, say=None) -> dict:
    "Generate the upstream in `upstream_root`, serve it on 127.0.0.1 and build a pack from it in `folder`; the manifest."
    from course_utils.pack import build_pack
    make_upstream(upstream_root, faces=PACK_FACES + 100, archs=PACK_ARCHS)
    with StaticServer(upstream_root) as upstream:
        return build_pack(folder, faces=PACK_FACES, archs=PACK_ARCHS, images_per_class=PACK_PHOTOS_PER_CLASS,
                          upstream=upstream.base, search=fake_search(upstream, upstream_root), say=say or (lambda line: None))


def shared_test_pack(base:Path) -> Path:
    "The session's test pack under `base` (a folder all xdist workers share), built by whichever worker asks first."
    from filelock import FileLock
    folder, done = base/'test-pack', base/'test-pack.done'
    with FileLock(str(base/'test-pack.lock')):
        if not done.is_file():
            build_test_pack(folder, base/'test-upstream')
            done.touch()
    return folder
