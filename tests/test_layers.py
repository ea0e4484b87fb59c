"""The library's floors: each module is exported from one numbered notebook, and imports only modules of lower
numbers (imports inside functions included). So reading the notebooks in order never meets a name before the
notebook that defines it, and the import graph has no cycle."""
import ast
import json
import re
import sys

import pytest

from conftest import REPO

PACKAGE = REPO/'course_utils'
SOURCE_NOTEBOOK = re.compile(r'^# %% \.\./nbs/(\d\d)_\w+\.ipynb', re.MULTILINE)


def module_files() -> dict[str, object]:
    return {p.stem: p for p in sorted(PACKAGE.glob('*.py')) if not p.stem.startswith('_')}


def notebook_number(path) -> int:
    "The number of the notebook a module is exported from, read from nbdev's `# %% ../nbs/NN_name.ipynb` markers."
    numbers = set(SOURCE_NOTEBOOK.findall(path.read_text()))
    assert len(numbers) == 1, f'{path.name} comes from notebooks {sorted(numbers)}: expected exactly one'
    return int(numbers.pop())


def course_imports(path) -> set[str]:
    "The course_utils modules `path` imports anywhere in it, at the top or inside functions."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:   # from .x import y, or from . import x
                found |= {node.module.split('.')[0]} if node.module else {alias.name for alias in node.names}
            elif node.module == 'course_utils': found |= {alias.name for alias in node.names}
            elif node.module and node.module.startswith('course_utils.'): found.add(node.module.split('.')[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split('.')[1] for alias in node.names if alias.name.startswith('course_utils.')}
    return {name for name in found - {path.stem} if not name.startswith('_')}   # _modidx: nbdev's generated index, no floor


MODULES = module_files()
NUMBERS = {name: notebook_number(path) for name, path in MODULES.items()}


def test_every_module_has_its_own_notebook_number():
    assert len(MODULES) >= 19 and len(set(NUMBERS.values())) == len(NUMBERS), NUMBERS


@pytest.mark.parametrize('name', MODULES)
def test_module_imports_only_lower_floors(name):
    imported = course_imports(MODULES[name])
    assert imported <= set(MODULES), f'{name} imports unknown course_utils modules: {imported - set(MODULES)}'
    higher = {other: NUMBERS[other] for other in imported if NUMBERS[other] >= NUMBERS[name]}
    assert not higher, f'{name} (notebook {NUMBERS[name]:02d}) imports from later notebooks: {higher}'


def test_the_check_sees_imports_inside_functions(tmp_path):
    # The cycle this test first found: core imported mirror inside a function, and mirror imported core.
    module = tmp_path/'core.py'
    module.write_text('# %% ../nbs/02_core.ipynb #1\nfrom .config import settings\n'
                      'def online():\n    from course_utils.mirror import active_mirror\n    return active_mirror()\n')
    assert course_imports(module) == {'config', 'mirror'} and notebook_number(module) == 2


FLOOR_NOTE = re.compile(r'Floor (\d\d) of `course_utils`: (?:it imports no other course module|it builds on ([^\n]+?) and '
                        r'imports nothing from later notebooks)\.')


@pytest.mark.parametrize('name', MODULES)
def test_first_cell_says_the_floor_and_what_it_builds_on(name):
    notebook = next((REPO/'nbs').glob(f'{NUMBERS[name]:02d}_*.ipynb'))
    first = ''.join(json.loads(notebook.read_text())['cells'][0]['source'])
    note = FLOOR_NOTE.search(first)
    assert note and int(note[1]) == NUMBERS[name], f'{notebook.name}: the first cell should say "Floor {NUMBERS[name]:02d} of ..."'
    named = set(re.findall(r'`(\w+)`', note[2] or ''))
    assert named == course_imports(MODULES[name]), f'{notebook.name} says it builds on {named}, but imports {course_imports(MODULES[name])}'


# Imported only as a fallback: search tries `ddgs` (declared) and falls back to its former name on old installs.
OPTIONAL_IMPORTS = {'duckduckgo_search'}


def third_party_imports(path) -> set[str]:
    "Top-level names of the packages outside the standard library and course_utils that `path` imports anywhere."
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import): names |= {alias.name.split('.')[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module: names.add(node.module.split('.')[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != 'course_utils'}


def test_every_package_the_library_imports_is_declared():
    from importlib.metadata import packages_distributions, requires
    declared = {re.split(r'[\s<>=!~\[(;]', r, maxsplit=1)[0].lower().replace('_', '-') for r in requires('course-utils')}
    distributions = packages_distributions()
    undeclared = {}
    for name, path in MODULES.items():
        for package in third_party_imports(path) - OPTIONAL_IMPORTS:
            dists = {d.lower().replace('_', '-') for d in distributions.get(package, [package])}
            if not dists & declared: undeclared.setdefault(package, []).append(name)
    assert not undeclared, f'imported but not declared in pyproject.toml (dependencies or an extra): {undeclared}'
