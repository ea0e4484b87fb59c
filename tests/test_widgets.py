"""The upload app, face helpers and quiz form, driven programmatically: every kind of bad file gets a friendly
message, nothing escapes as an exception, memory stays bounded, and every kind of question can be answered."""
import datetime
import io
import tracemalloc

import PIL.Image
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from course_utils.progress import Progress
from course_utils.quiz import FillIn, Match, Order, Quiz, load_quiz, quiz_markdown
from course_utils.quiz_ui import FORM_CSS, QuizForm, TerminalQuiz, questionnaire
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
    # OpenCV's smile cascade finds Grace Hopper's (slight) smile, and nothing on a blank grey square of the same size
    crop = photo.crop((face.x, face.y, face.x + face.w, face.y + face.h))
    assert haar_smile(crop) is True and haar_smile(PIL.Image.new('RGB', crop.size, (128, 128, 128))) is False


# --- the quiz form ------------------------------------------------------------------------------------------

TAUGHT = dict(lesson='01', model_answer='the model answer', explanation='why it is so',
              taught_in={'lesson': '01', 'anchor': 'loss', 'section': 'Loss and metric'})
ROLES = Match('t-roles', kind='match', prompt='Match each term with its job.', **TAUGHT,
              pairs=[['loss', 'what training lowers'], ['metric', 'what people read'], ['validation set', 'data held back'],
                     ['test set', 'data kept for the very end']])
LOOP = Order('t-loop', kind='order', prompt='Put one step of training in order.', **TAUGHT,
             steps=['predict', 'compute the loss', 'compute the gradients', 'update the weights', 'zero the gradients'])
GAP = FillIn('t-gap', kind='fill_in', prompt='Doing well on training data but badly on new data is ___.', answer=['overfitting'], **TAUGHT)


@pytest.fixture
def progress(tmp_path): return Progress(tmp_path/'p.sqlite', learner='ada')


def test_questionnaire_shows_a_form_and_markdown(progress):
    from IPython.core.formatters import DisplayFormatter
    form = questionnaire('05', progress)
    data, _ = DisplayFormatter().format(form)
    assert 'application/vnd.jupyter.widget-view+json' in data            # JupyterLab, VS Code, Colab: the form
    assert data['text/markdown'] == quiz_markdown(load_quiz('05'))       # GitHub, nbviewer, the site: Markdown
    assert data['text/plain'] == f'{form.quiz.title} ({len(form.quiz.questions)} questions)'
    assert len(form.cards) == len(load_quiz('05').questions)


def test_free_text_is_always_self_graded(progress):
    question = next(q for q in load_quiz('01').questions if q.kind == 'short')
    form = QuizForm(Quiz('01', 't', [question]), progress)
    card = form.cards[0]
    card.set_answer(question.model_answer)     # even the model answer itself is not marked right by the checker
    card.check_button.click()
    assert card.verdict.correct is None and card.asks_self_grade and card.answer_shown
    assert 'Compare with the model answer' in card.feedback.value and '✔' not in card.feedback.value
    assert progress.attempts()[0].correct is None and 'Score: 0 / 1' in form.score.value
    card.missed_it.click()
    assert progress.attempts()[0].correct is False and progress.attempts()[0].self_graded and not card.asks_self_grade
    card.set_answer('   ')
    card.check_button.click()
    assert 'Answer first' in card.feedback.value and len(progress.attempts()) == 1   # blank: nothing saved


def test_match_order_and_fill_in_from_the_form(progress):
    form = QuizForm(Quiz('01', 't', [ROLES, LOOP, GAP]), progress, seed=3)
    match, order, fill = form.cards
    assert [d.description for d in match.input.children] == [t for t, _ in ROLES.pairs]
    assert [d.description for d in order.input.children] == ['1st', '2nd', '3rd', '4th', '5th']
    assert all(d.value is None for d in match.input.children + order.input.children)
    assert all(sorted(d.options) == sorted(LOOP.steps) and list(d.options) != LOOP.steps for d in order.input.children)
    match.input.children[0].value = 'what people read'          # one of four chosen, and wrongly
    match.check_button.click()
    assert '0 of 4 pairs right (3 not matched yet)' in match.feedback.value and 'See lesson 01, “Loss and metric”' in match.feedback.value
    assert not match.answer_shown and not match.asks_self_grade
    match.set_answer(ROLES.answer)
    match.check_button.click()
    assert '✔' in match.feedback.value and match.answer_shown
    order.input.children[0].value = LOOP.steps[0]                # the other places left empty
    order.check_button.click()
    assert 'Use each of the 5 steps exactly once' in order.feedback.value
    order.set_answer(LOOP.steps[1:] + LOOP.steps[:1])
    order.check_button.click()
    assert '0 of 5 steps in the right place' in order.feedback.value
    order.set_answer(LOOP.steps)
    order.check_button.click()
    fill.set_answer('Overfitting!')
    fill.check_button.click()
    assert [a.correct for a in progress.attempts()] == [False, True, False, False, True, True]
    assert 'Score: 3 / 3' in form.score.value


def test_long_options_wrap_in_the_form():
    form = questionnaire('01', progress=None, seed=0)
    assert 'quiz-form' in form.widget._dom_classes and FORM_CSS in form.widget.children[0].value
    for rule in ('.quiz-form .widget-radio-box label', '.quiz-form .widget-checkbox .widget-label-basic', 'white-space: normal', 'height: auto'):
        assert rule in FORM_CSS


def test_terminal_match_and_order_by_letters(progress):
    said, orders = [], iter([reversed(LOOP.steps), LOOP.steps])
    def letter(text):   # the letter the quiz printed last for `text`
        return next(line.split('.')[0].strip() for line in reversed('\n'.join(said).splitlines()) if line.endswith(f'. {text}'))
    def ask(prompt):
        if prompt.startswith('The letters'): return ' '.join(letter(s) for s in next(orders))
        if prompt == 'The missing word: ': return 's'
        return letter(ROLES.answer[prompt.rstrip(': ')])          # a match term: its description's letter
    results = TerminalQuiz(progress, ask=ask, say=said.append, seed=1).run(Quiz('01', 't', [ROLES, LOOP, LOOP, GAP]))
    assert results == [True, False, True] and 'Skipped.' in said   # the gap was skipped
    assert [a.correct for a in progress.attempts()] == [True, False, True]
