"""The upload app and face helpers, driven programmatically: every kind of bad file gets a friendly
message, nothing escapes as an exception, and memory stays bounded."""
import datetime
import io
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from course_utils.vision import find_faces, haar_smile, opencv_available, sample_face_photo, smile_decision
from course_utils.widgets import ClassifierApp, classifier_app, uploaded_images


def encode(img, fmt, **kw):
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kw)
    return buffer.getvalue()


def as_upload(name, data):
    return {'name': name, 'type': 'application/octet-stream', 'size': len(data), 'content': memoryview(data),
            'last_modified': datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)}


FACE = encode(sample_face_photo(), 'JPEG')
ANIMATION = io.BytesIO()
Image.new('RGB', (30, 30), 'red').save(ANIMATION, 'GIF', save_all=True, append_images=[Image.new('RGB', (30, 30), 'blue')])
BAD_FILES = {
    'notes.txt': (b'just some text', "isn't a picture"),
    'broken.jpg': (FACE[:len(FACE) // 2], 'damaged or incomplete'),
    'empty.jpg': (b'', 'is empty'),
    'bomb.png': (encode(Image.new('1', (20000, 20000)), 'PNG'), 'far too many pixels'),
    'huge.jpg': (FACE + b'\0' * 50_000_000, 'more than the 30 MB limit'),
    'dance.gif': (ANIMATION.getvalue(), 'is an animation'),
}


@pytest.fixture
def app():
    scores = []
    def score(img):
        scores.append(img.size)
        return 0.7
    made = classifier_app(score=score)
    made.scored_sizes = scores
    return made


def test_real_photo_gets_decision_and_probability(app):
    app.upload.value = (as_upload('grace.jpg', FACE),)
    assert app.messages == ['grace.jpg: quite sure it is smiling (probability of smiling 0.70)']


def test_large_photos_are_shrunk_before_prediction(app):
    app.upload.value = (as_upload('big.png', encode(Image.new('RGB', (4000, 3000), 'white'), 'PNG')),)
    assert app.scored_sizes == [(512, 384)]


@pytest.mark.parametrize('name', BAD_FILES)
def test_bad_file_gets_friendly_message(app, name):
    data, fragment = BAD_FILES[name]
    app.upload.value = (as_upload(name, data), as_upload('grace.jpg', FACE))
    first, second = app.messages
    assert first.startswith(name) and fragment in first and 'Traceback' not in first
    assert second.startswith('grace.jpg: quite sure')   # one bad file doesn't stop the others


def test_memory_stays_bounded(app):
    # The 20000 x 20000 PNG would need 400 MB decoded (1.2 GB as RGB); the 50 MB upload is refused by size.
    # Python-side allocations while handling both must stay far below that: 150 MB leaves room for the
    # 50 MB upload's own bytes being copied once or twice.
    tracemalloc.start()
    app.show([(name, BAD_FILES[name][0]) for name in ('bomb.png', 'huge.jpg')])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 150e6, f'{peak / 1e6:.0f} MB'


def test_ipywidgets_7_format():
    class OldUpload:   # ipywidgets 7: value is {name: {'metadata': ..., 'content': bytes}}
        value = {'grace.jpg': {'metadata': {'name': 'grace.jpg'}, 'content': FACE}, 'notes.txt': {'content': b'hi'}}
    images = uploaded_images(OldUpload())
    assert [img.mode for img in images] == ['RGB']


def test_ipywidgets_7_data_only():
    class OldUpload:
        value = {}
        data = [FACE]
    assert len(uploaded_images(OldUpload())) == 1


def test_a_failing_model_is_reported_not_raised():
    def broken_model(img): raise RuntimeError('CUDA out of memory')
    app = ClassifierApp(score=broken_model)
    app.show([('grace.jpg', FACE)])
    assert "couldn't be checked (RuntimeError: CUDA out of memory)" in app.messages[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000) | st.binary(min_size=20, max_size=400).map(lambda b: FACE[:200] + b))
def test_random_bytes_never_escape(app, data):
    app.show([('fuzz.jpg', data)])
    assert len(app.messages) == 1 and app.messages[0].startswith('fuzz.jpg')


def test_smile_decision_thresholds():
    assert [smile_decision(p) for p in (0.95, 0.6, 0.2)] == ['definitely smiling', 'quite sure it is smiling', 'not smiling']


@pytest.mark.skipif(not opencv_available(), reason='OpenCV is an optional extra: pip install ".[faces]"')
def test_find_faces_in_a_real_photo():
    photo = sample_face_photo()
    faces = find_faces(photo)
    assert len(faces) == 1
    face = faces[0]
    # Grace Hopper's face is in the upper middle of the 512x600 portrait.
    assert 100 < face.x + face.w / 2 < 400 and 100 < face.y + face.h / 2 < 400
    assert haar_smile(photo.crop((face.x, face.y, face.x + face.w, face.y + face.h))) in (True, False)
