"""Question banks and answer checking: every bank is valid, every exact answer passes and wrong ones fail, free
text is never judged right by the checker nor a correct paraphrase judged wrong, the match/order/fill-in kinds
check exactly, and no input makes a checker raise."""
import time

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from conftest import REPO
from course_utils.quiz import FillIn, Match, Order, QuizError, load_quiz, read_bank

# Every lesson notebook (NN_name.ipynb, not the questionnaires nor 99_review) has a bank
LESSONS = sorted(p.name[:2] for p in (REPO/'nbs'/'lessons').glob('[0-9][0-9]_*.ipynb')
                 if not p.stem.endswith('_questionnaire') and not p.name.startswith('99'))
QUIZZES = {lesson: load_quiz(lesson) for lesson in LESSONS}
QUESTIONS = [q for quiz in QUIZZES.values() for q in quiz.questions]
PARAPHRASES = yaml.safe_load((REPO/'tests'/'quiz_paraphrases.yaml').read_text())


def test_banks_have_enough_questions_of_several_kinds():
    # Questionnaire 01 asks only what lessons 00-01 teach, and at least 20 questions; the others at least 8, never all one kind.
    assert len(QUIZZES['01'].questions) >= 20
    for lesson, quiz in QUIZZES.items():
        assert len(quiz.questions) >= 8, lesson
        assert len({q.kind for q in quiz.questions}) >= 3, lesson


def test_ids_are_unique_across_banks():
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize('question', QUESTIONS, ids=lambda q: q.id)
def test_model_answer_is_correct(question):
    if question.kind == 'short':   # free text: the checker leaves the verdict to the learner, never "wrong"
        assert question.check(question.model_answer).correct is None
    else:
        answer = (question.model_answer if question.kind == 'code' else
                  question.answer[0] if question.kind == 'fill_in' else question.answer)
        assert question.check(answer).correct is True


def wrong_answers(question) -> list:
    "Answers that must be judged wrong, for every exact kind."
    if question.kind == 'true_false': return [not question.answer]
    if question.kind == 'choice': return [o for o in question.options if o not in question.answer]
    if question.kind == 'numeric':
        low, high = question.range or (question.answer - question.tolerance, question.answer + question.tolerance)
        return [low - max(1, abs(low)), high + max(1, abs(high))]
    if question.kind == 'match':   # every description moved to the next term: all pairs wrong
        terms, descriptions = zip(*question.pairs)
        return [dict(zip(terms, descriptions[1:] + descriptions[:1]))]
    if question.kind == 'order': return [question.steps[::-1], question.steps[1:] + question.steps[:1]]
    if question.kind == 'fill_in': return ['xyzzy', '']
    return []


@pytest.mark.parametrize('question', [q for q in QUESTIONS if q.kind not in ('short', 'code')], ids=lambda q: q.id)
def test_wrong_answers_are_incorrect(question):
    for answer in wrong_answers(question):
        verdict = question.check(answer)
        assert verdict.correct is False, answer
        if question.taught_in: assert verdict.feedback.endswith(question.see_also()), verdict.feedback


def test_every_short_question_has_paraphrases():
    shorts = {q.id for q in QUESTIONS if q.kind == 'short'}
    assert shorts == set(PARAPHRASES)


def test_paraphrase_table_is_big_enough():
    # The measure: >= 80 correct paraphrases and >= 80 wrong-but-plausible answers over the short questions.
    assert sum(len(p['accept']) for p in PARAPHRASES.values()) >= 80
    assert sum(len(p['reject']) for p in PARAPHRASES.values()) >= 80


@pytest.mark.parametrize('qid', sorted(PARAPHRASES))
def test_short_answers_judged_like_a_teacher(qid):
    # A correct paraphrase is never called wrong, and a wrong answer is never called right: free text is judged
    # by the learner against the model answer, with the checker's notes on which key ideas it recognised.
    question = next(q for q in QUESTIONS if q.id == qid)
    for answer in PARAPHRASES[qid]['accept']: assert question.check(answer).correct is not False, answer
    for answer in PARAPHRASES[qid]['reject']: assert question.check(answer).correct is not True, answer


@pytest.mark.parametrize('question', [q for q in QUESTIONS if q.kind == 'code'], ids=lambda q: q.id)
def test_code_starter_fails(question):
    assert question.check(question.starter).correct is False


def test_endless_loop_is_stopped():
    question = next(q for q in QUESTIONS if q.kind == 'code')
    start = time.monotonic()
    verdict = question.check(f'def {question.function}(*args):\n    while True: pass\n')
    assert verdict.correct is False and 'endless loop' in verdict.feedback
    assert time.monotonic() - start < 10   # the 5 s limit plus starting Python


@pytest.mark.parametrize('text, fragment', [
    ('questions:\n  - {id: x1, kind: choice, prompt: p, model_answer: m, explanation: e, options: [a, b], answer: c}\n', "question x1: answer 'c' is not one of the options"),
    ('questions:\n  - {id: x2, kind: numeric, prompt: p, model_answer: m, explanation: e, answer: 3}\n', 'question x2: give a tolerance or a range'),
    ('questions:\n  - {id: x3, kind: short, prompt: p, explanation: e, key_ideas: [[a]]}\n', 'question x3: missing model_answer'),
    ('lesson: "09"\n', 'expected a mapping with a `questions` list'),
], ids=['choice-answer', 'numeric-tolerance', 'missing-key', 'no-questions'])
def test_malformed_bank_names_file_and_question(tmp_path, text, fragment):
    bank = tmp_path/'09.yaml'
    bank.write_text(text)
    with pytest.raises(QuizError) as caught: read_bank(bank)
    assert str(bank) in str(caught.value) and fragment in str(caught.value)


ROLES = Match('t-roles', '04', 'match', 'Match.', 'm', 'e', pairs=[['loss', 'lowered by the optimiser'],
              ['metric', 'reported to people'], ['validation set', 'measures generalisation']])
LOOP = Order('t-loop', '06', 'order', 'Order.', 'm', 'e', steps=['predict', 'loss', 'gradients', 'step'])
GAP = FillIn('t-gap', '01', 'fill_in', 'fastai keeps ___% for validation.', 'm', 'e', answer=['20', 'twenty'])


@pytest.mark.parametrize('question, right, partly, wrong, malformed', [
    (ROLES, ROLES.answer, {'loss': 'lowered by the optimiser', 'metric': 'measures generalisation', 'validation set': 'reported to people'},
     {'loss': 'reported to people', 'metric': 'measures generalisation', 'validation set': 'lowered by the optimiser'},
     ['loss', 'metric']),
    (LOOP, LOOP.answer, ['predict', 'gradients', 'loss', 'step'], ['step', 'gradients', 'loss', 'predict'], 'predict, loss'),
    (GAP, ' Twenty ', None, '25', ['20']),
], ids=['match', 'order', 'fill_in'])
def test_exact_kinds(question, right, partly, wrong, malformed):
    assert question.check(right).correct is True
    if partly is not None:   # partly right is wrong, and the feedback says how much was right
        verdict = question.check(partly)
        assert verdict.correct is False and (' 1 of 3 pairs' in ' ' + verdict.feedback or '2 of 4 steps' in verdict.feedback), verdict.feedback
    assert question.check(wrong).correct is False
    assert question.check(malformed).correct is False


def test_fill_in_forgives_case_accents_and_percent_only():
    assert [GAP.check(a).correct for a in ['20', '20%', '20 %', 'TWENTY.', '2O', '200', '20 or 25']] == [True] * 4 + [False] * 3


def test_order_feedback_names_duplicates():
    assert 'exactly once' in LOOP.check(['predict', 'predict', 'loss', 'step']).feedback


@settings(max_examples=200, deadline=None)
@given(answer=st.one_of(st.none(), st.text(max_size=30), st.integers(), st.lists(st.text(max_size=12), max_size=6),
                        st.dictionaries(st.text(max_size=15), st.one_of(st.text(max_size=25), st.none(), st.integers()), max_size=4)))
def test_exact_kind_checkers_never_raise(answer):
    # Each kind's own _check (Question.check catches exceptions, so fuzzing it could not fail): right only for the answer.
    for question in (ROLES, LOOP, GAP):
        correct, feedback = question._check(answer)
        assert correct in (True, False) and isinstance(feedback, str) and feedback
        if correct: assert question._check(question.answer if question is not GAP else '20')[0]


def test_unknown_lesson():
    with pytest.raises(QuizError, match="no questionnaire for lesson '42'"): load_quiz('42')


NOT_CODE = [q for q in QUESTIONS if q.kind != 'code']   # code answers start a process: fuzzed separately, less often

@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(NOT_CODE) - 1),
       answer=st.one_of(st.text(max_size=80), st.integers(), st.floats(), st.booleans(), st.none(),
                        st.lists(st.one_of(st.text(max_size=20), st.integers()), max_size=4)))
def test_check_never_raises(index, answer):
    verdict = NOT_CODE[index].check(answer)
    assert verdict.correct in (True, False, None) and isinstance(verdict.feedback, str)


def test_quiz_module_knows_nothing_of_widgets():
    # Banks, checking and Markdown live in quiz; the widget module builds on it, never the other way round
    # (not even a lazy import inside a method).
    import ast
    tree = ast.parse((REPO/'course_utils'/'quiz.py').read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or '' for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any('quiz_ui' in name or 'ipywidgets' in name for name in imported), imported
