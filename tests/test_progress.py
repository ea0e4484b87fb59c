"""Saved progress and spaced review: attempts survive kill -9 and concurrent writers, the Leitner schedule
brings mistakes back first, the form records what is clicked, and the terminal mode works in a real pty.
Databases written before schema versions are migrated (once, even by processes opening them together), ones
from a newer course are refused untouched, and a question that moved to another lesson's bank counts there."""
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pexpect
import pytest
from hypothesis import given, settings, strategies as st

from conftest import COURSE
from course_utils.core import CourseError
from course_utils.progress import (BOX_INTERVALS, DAY, SCHEMA_VERSION, Attempt, Progress, due_cards, leitner_states,
                                     lesson_scores)
from course_utils.quiz import Quiz, load_quiz
from course_utils.quiz_ui import QuizForm, due_quiz

WRITER = '''
import sys
from types import SimpleNamespace
from course_utils.progress import Progress
progress = Progress(sys.argv[1], learner=sys.argv[2])
for i in range(int(sys.argv[3])):
    attempt = progress.record(SimpleNamespace(id=f'q{i % 7}', lesson='01'), f'answer {i} ' + 'x' * (i % 300), i % 2 == 0)
    print(attempt, flush=True)   # printed only after the write has returned (committed)
'''


def start_writer(db, learner, count):
    return subprocess.Popen([sys.executable, '-c', WRITER, str(db), learner, str(count)], stdout=subprocess.PIPE, text=True)


def test_kill_9_never_loses_or_corrupts_saved_attempts(tmp_path):
    # 60 writers, each killed with SIGKILL at a random moment while it writes as fast as it can. After every
    # kill the file must pass SQLite's integrity check and hold every attempt the writer reported as saved.
    db, rng, promised, kills_mid_run = tmp_path/'progress.sqlite', random.Random(7), set(), 0
    for _ in range(60):
        writer = start_writer(db, 'ada', 100_000)
        promised.add(int(writer.stdout.readline()))          # it is writing now
        time.sleep(rng.uniform(0, 0.05))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate()
        promised |= {int(line) for line in out.split()}
        kills_mid_run += writer.returncode == -signal.SIGKILL
        with sqlite3.connect(db) as check:
            assert check.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
            saved = {row[0] for row in check.execute('SELECT id FROM attempts')}
        assert promised <= saved, f'{len(promised - saved)} saved attempts were lost'
    assert kills_mid_run == 60      # every writer really was killed while writing, none had finished
    assert len(promised) > 60       # and they did write (each at least one attempt before its kill)


def test_two_writers_at_once_lose_nothing(tmp_path):
    db = tmp_path/'progress.sqlite'
    Progress(db).close()            # create the schema first, as an open notebook would have
    writers = [start_writer(db, name, 300) for name in ('ada', 'bob')]
    ids = [[int(line) for line in w.communicate(timeout=120)[0].split()] for w in writers]
    assert [w.returncode for w in writers] == [0, 0]
    assert len(ids[0]) == len(ids[1]) == 300 and not set(ids[0]) & set(ids[1])
    assert len(Progress(db, learner='ada').attempts()) == len(Progress(db, learner='bob').attempts()) == 300


def test_progress_survives_reopening(tmp_path):
    question = load_quiz('01').questions[0]
    with Progress(tmp_path/'p.sqlite', learner='ada') as progress: progress.record(question, True, False)
    with Progress(tmp_path/'p.sqlite', learner='ada') as progress:
        assert [(a.question_id, a.answer, a.correct) for a in progress.attempts()] == [(question.id, 'True', False)]


def test_unwritable_place_gives_a_clear_error(tmp_path):
    blocker = tmp_path/'file'
    blocker.write_text('')
    with pytest.raises(CourseError, match='COURSE_PROGRESS_DB'): Progress(blocker/'sub'/'p.sqlite')


# --- the Leitner schedule ---------------------------------------------------------------------------------

answers = st.lists(st.tuples(st.sampled_from('abc'), st.booleans()), max_size=30)

@given(answers)
@settings(max_examples=200, deadline=None)
def test_leitner_rules_hold_for_any_history(history):
    log = [Attempt(i, 'ada', '01', q, '', ok, False, i * DAY) for i, (q, ok) in enumerate(history)]
    states = leitner_states(log)
    for qid, state in states.items():
        mine = [ok for q, ok in history if q == qid]
        streak = next((i for i, ok in enumerate(reversed(mine)) if not ok), len(mine))  # right answers at the end
        # a miss sends it to box 1; each right answer since moves it up one from there, up to box 5
        assert state.box == min(1 + streak, 5)
        assert state.due_at == state.last_at + BOX_INTERVALS[state.box]
    due = due_cards(log, now=len(history) * DAY + 1)
    assert [s.box for s in due] == sorted(s.box for s in due)   # the least known come first


def test_mistakes_come_back_before_known_answers(tmp_path):
    quiz = load_quiz('03')
    progress = Progress(tmp_path/'p.sqlite', learner='ada')
    now = time.time()
    progress.record(quiz.questions[0], 'x', True, when=now - 2 * DAY)    # box 2, due after 1 day: due
    progress.record(quiz.questions[1], 'y', False, when=now - 3600)      # box 1, due after 10 minutes: due
    progress.record(quiz.questions[2], 'z', True, when=now - 3600)       # box 2, not due for a day
    assert [q.id for q in due_quiz(progress).questions] == [quiz.questions[1].id, quiz.questions[0].id]


# --- the widget, driven as a learner would --------------------------------------------------------------

def test_form_records_each_check_and_shows_feedback(tmp_path):
    progress = Progress(tmp_path/'p.sqlite', learner='ada')
    quiz = load_quiz('01')
    form = QuizForm(quiz, progress, seed=1)
    single = next(c for c in form.cards if c.question.kind == 'choice' and len(c.question.answer) == 1)
    single.set_answer(next(o for o in single.question.options if o not in single.question.answer))
    single.check_button.click()
    assert '✘' in single.feedback.value and not single.answer_shown   # wrong: try again first
    single.set_answer(single.question.answer[0])
    single.check_button.click()
    assert '✔' in single.feedback.value and single.answer_shown and single.answer_area in single.widget.children
    true_false = next(c for c in form.cards if c.question.kind == 'true_false')
    true_false.set_answer(true_false.question.answer)
    true_false.check_button.click()
    assert 'Score: 2 / ' in form.score.value
    saved = progress.attempts()
    assert [(a.question_id, a.correct) for a in saved] == [
        (single.question.id, False), (single.question.id, True), (true_false.question.id, True)]


def test_unsure_short_answer_asks_for_self_grade(tmp_path):
    progress = Progress(tmp_path/'p.sqlite', learner='ada')
    question = next(q for q in load_quiz('01').questions if q.kind == 'short' and len(q.key_ideas) >= 2)
    form = QuizForm(Quiz('01', 't', [question]), progress)
    card = form.cards[0]
    card.set_answer(question.key_ideas[0][0])          # one key idea of several: the checker is unsure
    card.check_button.click()
    assert card.asks_self_grade and card.self_grade_row in card.widget.children and progress.attempts()[0].correct is None
    card.had_it.click()
    assert progress.attempts()[0].correct is True and progress.attempts()[0].self_graded
    assert not card.asks_self_grade and 'Score: 1 / 1' in form.score.value


def test_form_builds_few_widgets(tmp_path):
    # Every widget model is a message to the browser and about a millisecond to build. Cards share their
    # layout and style objects and build the model answer and self-grade buttons only when needed: about 8
    # models per question (an input, two or three buttons, a prompt, feedback and the boxes). Made the
    # naive way, each question cost over 30 (each widget with its own layout and style), so 12 catches a
    # return to that while leaving room for a new button.
    quiz = load_quiz('01')
    form = QuizForm(quiz, Progress(tmp_path/'p.sqlite', learner='ada'))
    assert len(widget_models(form.widget)) < 12 * len(quiz.questions)


def widget_models(root) -> set:
    "Every widget model `root` refers to: children, layouts and styles, each counted once."
    from ipywidgets import Widget
    seen, todo = {}, [root]
    while todo:
        widget = todo.pop()
        if id(widget) in seen: continue
        seen[id(widget)] = widget
        for name in widget.keys:
            value = getattr(widget, name)
            todo += [v for v in (value if isinstance(value, (list, tuple)) else [value]) if isinstance(v, Widget)]
    return set(seen)


def test_empty_answer_is_not_recorded(tmp_path):
    progress = Progress(tmp_path/'p.sqlite', learner='ada')
    form = QuizForm(load_quiz('04'), progress)
    form.cards[0].check_button.click()
    assert 'Answer first' in form.cards[0].feedback.value and progress.attempts() == []


def test_choice_options_are_shuffled_per_form():
    quiz = load_quiz('01')
    first = next(i for i, q in enumerate(quiz.questions) if q.kind == 'choice' and len(q.options) >= 4)
    orders = {tuple(QuizForm(quiz, seed=seed).cards[first].input.options) for seed in range(6)}
    assert len(orders) > 1 and all(sorted(o) == sorted(quiz.questions[first].options) for o in orders)


def test_quiz_displays_as_markdown_without_widgets():
    # A Quiz on its own (quiz imports no widget code) shows as Markdown: one folded answer per question.
    from IPython.core.formatters import DisplayFormatter
    data, _ = DisplayFormatter().format(load_quiz('05'))
    assert 'application/vnd.jupyter.widget-view+json' not in data
    assert data['text/markdown'].count('<details>') == len(load_quiz('05').questions)


# --- terminal mode in a real pseudo-terminal --------------------------------------------------------------

def spawn_course(*args, db):
    env = {**os.environ, 'COURSE_PROGRESS_DB': str(db), 'COURSE_LEARNER': 'ada', 'COLUMNS': '120'}
    return pexpect.spawn(str(COURSE), list(args), env=env, encoding='utf-8', timeout=30)


def test_terminal_quiz_right_wrong_quit_then_progress(tmp_path):
    db, quiz = tmp_path/'p.sqlite', load_quiz('02')
    first, second = quiz.questions[:2]
    assert (first.kind, second.kind) == ('true_false', 'short')   # the answers typed below depend on it
    session = spawn_course('quiz', '02', db=db)
    session.expect(r'True or false \(t/f\): ')
    session.sendline('t' if first.answer else 'f')
    session.expect('✔')
    session.expect('Your answer: ')
    session.sendline('because bananas are yellow')
    session.expect(r'Did your answer say that\? \(y/n\): ')   # free text: the learner grades it against the model answer
    session.sendline('n')
    session.expect(rf'\[3/{len(quiz.questions)}\]')
    session.expect(': ')
    session.sendline('q')
    session.expect('You answered 2: 1 right, 1 to review')
    session.expect(pexpect.EOF)
    session.close()
    assert session.exitstatus == 0
    report = spawn_course('progress', db=db)
    report.expect(pexpect.EOF)
    row = next(line for line in report.before.splitlines() if line.startswith('02'))
    n = len(quiz.questions)   # answered, correct, score, due
    assert row.split()[-4:] == [f'2/{n}', '1', f'{100 / n:.0f}%', '0'], row


def test_terminal_review_asks_what_is_due(tmp_path):
    db, quiz = tmp_path/'p.sqlite', load_quiz('06')
    missed = next(q for q in quiz.questions if q.kind == 'true_false')
    Progress(db, learner='ada').record(missed, not missed.answer, False, when=time.time() - 3600)
    session = spawn_course('review', db=db)
    session.expect('Review: 1 question due')
    session.expect(r'True or false \(t/f\): ')
    session.sendline('t' if missed.answer else 'f')
    session.expect('You answered 1: 1 right')
    session.expect(pexpect.EOF)
    states = leitner_states(Progress(db, learner='ada').attempts())
    assert states[missed.id].box == 2
    again = spawn_course('review', db=db)
    again.expect('Nothing is due')


# --- old databases, schema versions and questions that move between lessons -------------------------------

FIXTURES = Path(__file__).parent/'fixtures'
T0 = 1_700_000_000.0
# progress-v0.sqlite as tests/fixtures/make_progress_v0.py wrote it with the code from before schema versions
V0_ATTEMPTS = [Attempt(1, 'ada', '01', 'l01-moved', 'a guess', False, False, T0),
               Attempt(2, 'ada', '01', 'l01-moved', 'the loss is for the optimiser, the metric for people', True, True, T0 + 60),
               Attempt(3, 'ada', '01', 'l01-stays', 'True', True, False, T0 + 120),
               Attempt(4, 'ada', '02', 'l02-kept', 'a | b', False, False, T0 + 180),
               Attempt(5, 'ada', '03', 'l03-retired', 'not sure', None, False, T0 + 240)]
LESSON_OF = {'l01-moved': '04', 'l01-stays': '01', 'l02-kept': '02'}   # l01-moved now in 04's bank; l03-retired in none
BANK_SIZES = {'01': 5, '02': 5, '03': 5, '04': 5}


def old_database(tmp_path) -> Path:
    db = tmp_path/'progress.sqlite'
    shutil.copyfile(FIXTURES/'progress-v0.sqlite', db)
    return db


def raw(db, sql):
    with closing(sqlite3.connect(db)) as connection: return connection.execute(sql).fetchall()


def test_old_database_is_migrated_and_keeps_every_attempt(tmp_path):
    db = old_database(tmp_path)
    before = raw(db, 'SELECT * FROM attempts ORDER BY id')
    assert raw(db, 'PRAGMA user_version') == [(0,)] and len(before) == 5
    with Progress(db, learner='ada') as progress:
        assert progress.migrated_from == 0
        assert progress.attempts() == V0_ATTEMPTS                    # every field, read by name
    assert raw(db, 'PRAGMA user_version') == [(SCHEMA_VERSION,)] == [(1,)]
    assert raw(db, 'SELECT * FROM attempts ORDER BY id') == before   # no row changed, none lost
    assert raw(db, 'PRAGMA integrity_check') == [('ok',)]
    migrated = db.read_bytes()
    with Progress(db, learner='ada') as progress:                    # reopening: nothing left to do
        assert progress.migrated_from == 1 and progress.attempts() == V0_ATTEMPTS
    assert db.read_bytes() == migrated


def test_moved_question_counts_in_the_lesson_that_holds_it_now(tmp_path):
    with Progress(old_database(tmp_path), learner='ada') as progress:
        attempts = progress.attempts()
        def by_lesson(scores): return {s.lesson: (s.answered, s.correct, s.due) for s in scores}
        now = T0 + 2 * DAY                                           # everything is due by then
        assert by_lesson(lesson_scores(attempts, BANK_SIZES, now, lesson_of=LESSON_OF)) == {
            '01': (1, 1, 1), '02': (1, 0, 1), '03': (1, 0, 1), '04': (1, 1, 1)}   # l03-retired keeps its lesson
        assert by_lesson(lesson_scores(attempts, BANK_SIZES, now)) == {          # without the mapping: as saved
            '01': (2, 2, 2), '02': (1, 0, 1), '03': (1, 0, 1), '04': (0, 0, 0)}
        assert [a.id for a in progress.attempts('04', lesson_of=LESSON_OF)] == [1, 2]
        assert [a.id for a in progress.attempts('01', lesson_of=LESSON_OF)] == [3]
        assert [a.id for a in progress.attempts('01')] == [1, 2, 3]
        assert leitner_states(attempts, LESSON_OF)['l01-moved'].lesson == '04'
        assert {c.question_id: c.lesson for c in due_cards(attempts, now, lesson_of=LESSON_OF)} == {
            'l01-moved': '04', 'l01-stays': '01', 'l02-kept': '02', 'l03-retired': '03'}
        progress.record(SimpleNamespace(id='l01-moved', lesson='04'), 'again', True, when=T0 + DAY)   # answered in 04 now
        scores = by_lesson(lesson_scores(progress.attempts(), BANK_SIZES, now, lesson_of=LESSON_OF))
        assert scores['04'] == (1, 1, 0) and scores['01'] == (1, 1, 1)   # still one question, now in box 3
        assert raw(progress.path, "SELECT id FROM attempts WHERE lesson = '01'") == [(1,), (2,), (3,)]  # history kept


def test_newer_database_is_refused_and_left_unchanged(tmp_path):
    db = old_database(tmp_path)
    with closing(sqlite3.connect(db)) as connection:   # out of WAL too, so that even switching to WAL would show
        connection.execute('PRAGMA user_version = 99'); connection.execute('PRAGMA journal_mode = DELETE')
    saved = db.read_bytes()
    with pytest.raises(CourseError, match=r'newer version of the course \(schema version 99; this one knows up to 1\)'
                                          r'.*Update the course.*left unchanged'):
        Progress(db, learner='ada')
    assert db.read_bytes() == saved and sorted(p.name for p in tmp_path.iterdir()) == ['progress.sqlite']


def test_a_failed_migration_leaves_the_old_version_whole(tmp_path, monkeypatch):
    import course_utils.progress as progress
    monkeypatch.setattr(progress, 'SCHEMA_VERSION', 2)
    monkeypatch.setitem(progress.MIGRATIONS, 2, ['ALTER TABLE attempts ADD COLUMN device TEXT', 'SELECT no_such_column FROM attempts'])
    db = old_database(tmp_path)
    with pytest.raises(CourseError, match='could not be opened'): Progress(db, learner='ada')
    assert raw(db, 'PRAGMA user_version') == [(0,)]                # not even step 1 was kept
    assert 'device' not in {row[1] for row in raw(db, 'PRAGMA table_info(attempts)')}
    monkeypatch.undo()
    with Progress(db, learner='ada') as retried:                   # nothing half-done blocks the next try
        assert retried.migrated_from == 0 and retried.attempts() == V0_ATTEMPTS


def test_rows_are_read_by_column_name(tmp_path):
    # A later version may rebuild the table with columns in another order, or more of them.
    db = old_database(tmp_path)
    with Progress(db, learner='ada'): pass
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.executescript('''
            CREATE TABLE shuffled (answered_at REAL, device TEXT, correct INTEGER, self_graded INTEGER, answer TEXT,
                                   question_id TEXT, lesson TEXT, learner TEXT, id INTEGER PRIMARY KEY);
            INSERT INTO shuffled SELECT answered_at, 'laptop', correct, self_graded, answer, question_id, lesson, learner, id
                                 FROM attempts;
            DROP TABLE attempts;
            ALTER TABLE shuffled RENAME TO attempts;''')
    assert Progress(db, learner='ada').attempts() == V0_ATTEMPTS


MIGRATE_AT_ONCE = '''
import sys
from course_utils.progress import Progress
print('opening', flush=True)
with Progress(sys.argv[1], learner='ada') as progress: print(progress.migrated_from, len(progress.attempts()), flush=True)
'''


def test_processes_opening_an_old_database_at_once_migrate_it_once(tmp_path):
    db = old_database(tmp_path)
    with closing(sqlite3.connect(db, isolation_level=None)) as holder:
        holder.execute('BEGIN IMMEDIATE')      # hold the write lock: every process gets past its first look at the version
        openers = [subprocess.Popen([sys.executable, '-c', MIGRATE_AT_ONCE, str(db)], stdout=subprocess.PIPE, text=True)
                   for _ in range(6)]
        assert all(p.stdout.readline() == 'opening\n' for p in openers)
        time.sleep(1)                          # ... and waits for the lock; now let them all go at once
        holder.execute('COMMIT')
    results = sorted(p.communicate(timeout=60)[0].strip() for p in openers)
    assert [p.returncode for p in openers] == [0] * 6
    assert results == ['0 5'] + ['1 5'] * 5, results   # one migrated; the others saw it done when they got the lock
    assert raw(db, 'PRAGMA user_version') == [(1,)] and Progress(db, learner='ada').attempts() == V0_ATTEMPTS
