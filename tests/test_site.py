"""The course website builds offline with MkDocs: every lesson page with its title and a figure from its
executed outputs, every questionnaire with folded answers, and the API reference."""
import re

from conftest import NBS
from course_utils._modidx import d as exported
from course_utils.docs import api_modules, build_site
from course_utils.quiz import all_banks
from course_utils.runner import list_notebooks

LESSONS = [nb for nb in list_notebooks(NBS/'lessons') if nb.kind == 'lesson']


def test_site_builds_offline_with_every_lesson(tmp_path, offline_lesson_runs):
    # The pages show the outputs of each lesson's quick, offline run: the same runs the notebook tests check
    # (about 3.5 minutes on one CPU thread, done once for both), as `course docs` runs them on a fresh clone.
    for lesson in LESSONS: offline_lesson_runs(lesson.path)
    said = []
    index = build_site(tmp_path/"site", runs_dir=offline_lesson_runs.folder, run_missing=False, say=said.append)
    site = index.parent
    assert index.is_file() and said[-1].startswith('Site built')
    for lesson in LESSONS:
        page = (site/'lessons'/f'{lesson.path.stem}.html').read_text(encoding='utf-8')
        assert lesson.title in re.sub(r'<[^>]+>', '', page).replace('&mdash;', '—'), lesson.title
        assert re.search(r'<img[^>]+src="data:image/png;base64,', page), f'{lesson.path.stem} has no figure'
    for bank in all_banks():
        page = (site/'questionnaires'/f'{bank.lesson}.html').read_text(encoding='utf-8')
        assert page.count('<details') == len(bank.questions) and '<summary>Answer</summary>' in page
    for name in api_modules():
        page = (site/f'{name}.html').read_text(encoding='utf-8')
        public = [n for n in getattr(__import__(f'course_utils.{name}', fromlist=['_']), '__all__', [])]
        assert f'course_utils.{name}' in page and page.count('<h2') >= min(1, len(public)), name
        assert (site/f'{name}.html.md').is_file(), f'{name}.html.md, where the module docstring links'
    # The parameter comments reach the page (docments), not only the signature
    section = (site/'download.html').read_text(encoding='utf-8').split('id="download_images"')[1].split('<h2')[0]
    for comment in ('image URLs (http, https or data:image)', 'longest side of a saved image, in pixels', 'downloads at a time'):
        assert comment in section, comment
    # nbdev's links to each exported name (course_utils._modidx: 'core.html#setup_lesson') land on a heading of the site
    for module, names in exported['syms'].items():
        for name, (link, _) in names.items():
            if any(part.startswith('_') for part in name[len(module) + 1:].split('.')): continue   # private: no page entry
            page, anchor = link.split('#')
            assert f'id="{anchor}"' in (site/page).read_text(encoding='utf-8'), link
    assert not [p for p in site.rglob('*.md') if not p.name.endswith('.html.md')], 'every page should have been turned into HTML'
