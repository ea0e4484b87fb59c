"""The `course` command as a learner uses it: in a subprocess, reading what it prints and its exit code."""
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from conftest import COURSE, REPO
from course_utils.core import CourseError
from course_utils.runner import list_notebooks, parse_params


def course(*args, cwd=REPO, env=None, timeout=600):
    "Run the `course` command; return (exit code, stdout, stderr)."
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run([str(COURSE), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def assert_one_line_error(code, err, *fragments):
    "Bad input: non-zero exit, exactly one line on stderr, no traceback, and the key facts in it."
    assert code != 0
    assert err.count('\n') == 1 and 'Traceback' not in err, err
    for fragment in fragments: assert fragment in err, err


def test_import_stays_light():
    code = "import sys, course_utils, course_utils.core, course_utils.runner, course_utils.cli; " \
           "assert 'torch' not in sys.modules and 'fastai' not in sys.modules"
    subprocess.run([sys.executable, '-c', code], check=True)


def test_list_shows_lessons_with_titles():
    code, out, _ = course('list')
    assert code == 0
    lessons = [nb for nb in list_notebooks(REPO/'nbs'/'lessons') if nb.kind == 'lesson']
    assert len(lessons) >= 9
    for nb in lessons:   # every lesson, with the title read from its notebook's first heading
        assert f'{nb.path.name[:2]}  {nb.title}' in out, (nb.title, out)


def test_run_prints_metrics_last(tmp_path):
    code, out, err = course('run', '00', '--quick', '--out', str(tmp_path))
    assert code == 0, err
    recorded = json.loads((tmp_path/'00_jupyter_basics.metrics.json').read_text())
    assert 'data' not in recorded   # lesson 00 loads no dataset, so it has no data source to report
    last_lines = out.strip().splitlines()[-len(recorded):]
    assert [line.split(': ')[0] for line in last_lines] == list(recorded)
    assert (tmp_path/'00_jupyter_basics.ipynb').is_file()


def test_run_failing_notebook_says_which_cell(tmp_path):
    notebook = tmp_path/'broken.ipynb'
    cells = [{'cell_type': 'code', 'metadata': {}, 'outputs': [], 'execution_count': None, 'source': s}
             for s in ('x = 1', '1 / 0')]
    notebook.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 4}))
    code, out, err = course('run', str(notebook), '--out', str(tmp_path/'out'))
    assert code == 1
    assert_one_line_error(code, err, 'broken failed in cell 2: ZeroDivisionError', str(tmp_path/'out'/'broken.ipynb'))


@pytest.mark.parametrize('env, expected', [
    ({'COLAB_RELEASE_TAG': 'release-colab_20261101-060000_RC00'}, ['Platform   Google Colab', 'Google Drive']),
    ({'KAGGLE_KERNEL_RUN_TYPE': 'Interactive'}, ['Platform   Kaggle Notebooks', 'Settings > Internet']),
    ({'PAPERSPACE_CLUSTER_ID': 'clg07azjl'}, ['Platform   Paperspace Gradient', '/storage is persistent']),
    ({}, ['Platform   Local machine']),
], ids=['colab', 'kaggle', 'paperspace', 'local'])
def test_doctor_detects_platform(env, expected, tmp_path):
    code, out, err = course('doctor', env={**env, 'COURSE_DATA_DIR': str(tmp_path/'data')})
    assert code == 0, out + err
    for fragment in expected: assert fragment in out, out
    assert f"data_dir           {tmp_path/'data'}" in out and 'environment (COURSE_DATA_DIR)' in out
    assert 'Internet   offline' in out   # the tests force offline mode
    assert out.strip().endswith('Result     ready')


def test_doctor_reports_unwritable_data_dir(tmp_path):
    blocker = tmp_path/'a-file'
    blocker.write_text('')
    code, out, _ = course('doctor', env={'COURSE_DATA_DIR': str(blocker/'data')})
    assert code == 1
    assert 'COURSE_DATA_DIR' in out and 'problem(s) to fix' in out


def test_unknown_lesson():
    assert_one_line_error(*course('run', '99')[::2], "unknown lesson '99'", '00_jupyter_basics', 'course list')


@pytest.mark.parametrize('bad', ['epochs', '=3', '2fast=1', 'with space=1'])
def test_bad_param_syntax(bad):
    code, _, err = course('run', '00', '-p', bad)
    assert code == 2
    assert_one_line_error(code, err, 'NAME=VALUE')


def test_unknown_param_names_the_real_ones():
    code, _, err = course('run', '00', '-p', 'epochs=2')
    assert_one_line_error(code, err, 'no parameter epochs', 'quick, offline, data_path')


def test_unknown_command():
    assert_one_line_error(*course('teleport')[::2], 'course --help')


def test_unwritable_data_dir_stops_run(tmp_path):
    blocker = tmp_path/'a-file'
    blocker.write_text('')
    code, out, err = course('run', '00', '--quick', '--out', str(tmp_path/'out'), env={'COURSE_DATA_DIR': str(blocker/'data')})
    assert code == 2   # caught before any kernel starts
    assert_one_line_error(code, err, "can't write to", 'COURSE_DATA_DIR')
    assert not (tmp_path/'out'/'00_jupyter_basics.ipynb').exists()


def test_unwritable_runs_dir(tmp_path):
    blocker = tmp_path/'a-file'
    blocker.write_text('')
    code, _, err = course('run', '00', '--out', str(blocker/'runs'))
    assert_one_line_error(code, err, "can't write to", 'runs_dir')


@pytest.mark.parametrize('content, line, fragment', [
    ('[training]\nquick_epochs = 1\nthis is not a setting\n', 3, 'cannot read this settings file'),
    ('[training]\nquick_epochs = one\n', 2, 'bad value for quick_epochs'),
    ('[paths]\n\ndata_folder = data\n', 3, "unknown setting 'data_folder'"),
], ids=['syntax', 'type', 'typo'])
def test_malformed_settings_names_file_and_line(tmp_path, content, line, fragment):
    (tmp_path/'settings.ini').write_text(content)
    for command in (['doctor'], ['run', '00', '--quick']):
        code, _, err = course(*command, cwd=tmp_path)
        assert code == 2
        assert_one_line_error(code, err, f"{tmp_path/'settings.ini'}, line {line}", fragment)


def test_bad_environment_value():
    code, _, err = course('doctor', env={'COURSE_QUICK_EPOCHS': 'lots'})
    assert_one_line_error(code, err, 'COURSE_QUICK_EPOCHS', 'integer')


names = st.from_regex(r'[A-Za-z_][A-Za-z0-9_]{0,15}', fullmatch=True)

@given(name=names, value=st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False)))
def test_params_round_trip(name, value):
    assert parse_params([f'{name}={value!r}']) == {name: value}


@given(text=st.text(max_size=40))
def test_params_never_crash(text):
    # Whatever a learner types after -p, the answer is a value or a CourseError, never another exception.
    try: parse_params([text])
    except CourseError: pass


def test_clean_copy_keeps_code_and_headings_only(tmp_path):
    from course_utils.runner import list_notebooks, notebook_parameters
    code, out, err = course('clean-copy', str(tmp_path/'copies'))
    assert code == 0, err
    originals = {nb.path.name: nb for nb in list_notebooks(REPO/'nbs'/'lessons')}
    assert sorted(p.name for p in (tmp_path/'copies').iterdir()) == sorted(originals)
    for name, nb in originals.items():
        if nb.kind != 'lesson': continue
        copy, original = (json.loads(p.read_text()) for p in (tmp_path/'copies'/name, nb.path))
        assert [c['source'] for c in copy['cells'] if c['cell_type'] == 'code'] == \
               [c['source'] for c in original['cells'] if c['cell_type'] == 'code']
        assert all(c['outputs'] == [] for c in copy['cells'] if c['cell_type'] == 'code')
        prose = [line for c in copy['cells'] if c['cell_type'] == 'markdown' and c['id'] != 'clean-copy-intro'
                 for line in ''.join(c['source']).splitlines()]
        assert prose and all(line.startswith('#') or '_questionnaire.ipynb' in line for line in prose), name
        assert any(f'{nb.number}_questionnaire.ipynb' in line for line in prose), name      # the link survives
        assert {'quick', 'offline', 'data_path'} <= set(notebook_parameters(tmp_path/'copies'/name))  # still runnable


def test_clean_copy_runs_in_quick_mode(tmp_path):
    # A clean copy is for running cell by cell: it must still execute, and record the same metrics.
    from course_utils.clean_copy import write_clean_copies
    from course_utils.runner import run_notebook
    write_clean_copies(tmp_path/'copies')
    result = run_notebook(tmp_path/'copies'/'06_how_it_works.ipynb', out_dir=tmp_path/'runs', quick=True, offline=True, timeout=600)
    assert result.metrics['fit_loss'] < 0.05    # the lesson's own threshold (see test_notebooks.py)


def test_clean_copy_refuses_the_lessons_folder():
    code, out, err = course('clean-copy', str(REPO/'nbs'/'lessons'))
    assert_one_line_error(code, err, 'lessons folder itself')


def test_progress_counts_a_moved_question_in_its_current_lesson(tmp_path):
    # l01-weight-assignment was answered under lesson 01 by earlier versions; its bank is now 06's.
    from course_utils.progress import Progress
    from course_utils.quiz import all_questions
    moved = all_questions()['l01-weight-assignment']
    assert moved.lesson == '06'
    db = tmp_path/'p.sqlite'
    with Progress(db, learner='ada') as progress:
        progress._write('INSERT INTO attempts (learner, lesson, question_id, answer, correct, answered_at) VALUES (?, ?, ?, ?, ?, ?)',
                        ('ada', '01', moved.id, 'old answer', 1, 1.0))
    code, out, err = course('progress', env={'COURSE_PROGRESS_DB': str(db), 'COURSE_LEARNER': 'ada'})
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:2].isdigit()}
    assert rows['06'][-4].startswith('1/') and rows['01'][-4].startswith('0/'), out
