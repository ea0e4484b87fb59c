"""How the library notebooks are written: each exported cell holds one definition, and is followed by a sentence
(a markdown cell) and a test or example (a code cell that uses the name) before the next exported cell. That is
fastcore's rhythm, and it means every function a reader meets is explained and shown working where it is defined."""
import ast
import json

import pytest

from conftest import REPO

LIBRARY_NOTEBOOKS = sorted((REPO/'nbs').glob('[0-9][0-9]_*.ipynb'))
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def source(cell) -> str:
    text = cell['source']
    return text if isinstance(text, str) else ''.join(text)


def is_export(cell) -> bool:
    return cell['cell_type'] == 'code' and source(cell).lstrip().startswith(('#| export', '#|export'))


def python_of(cell) -> str:
    "The cell's Python, with IPython's magics and shell lines blanked so that `ast` can read it."
    return '\n'.join('' if line.lstrip().startswith(('%', '!')) else line for line in source(cell).splitlines())


def defined_names(cell) -> list[str]:
    return [node.name for node in ast.parse(python_of(cell)).body if isinstance(node, DEFINITIONS)]


def used_names(cell) -> set[str]:
    try: tree = ast.parse(python_of(cell))
    except SyntaxError: return set()
    return ({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} |
            {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)})


def cell_problems(cells) -> list[str]:
    "What breaks the rhythm in a notebook's `cells`: one problem per line, naming the cell and the definitions."
    problems = []
    exports = [i for i, cell in enumerate(cells) if is_export(cell)]
    for i, following in zip(exports, exports[1:] + [len(cells)]):
        names = defined_names(cells[i])
        if len(names) > 1: problems.append(f'cell {i} defines {len(names)} things ({", ".join(names)}): one per cell')
        if len(names) != 1: continue
        after = cells[i+1:following]
        if not any(cell['cell_type'] == 'markdown' and source(cell).strip() for cell in after):
            problems.append(f'cell {i} ({names[0]}) is not followed by a sentence before the next exported cell')
        if not any(cell['cell_type'] == 'code' and names[0] in used_names(cell) for cell in after):
            problems.append(f'cell {i} ({names[0]}) is not followed by a test or example that uses it')
    return problems


def test_library_notebooks_are_found():
    assert len(LIBRARY_NOTEBOOKS) >= 20, LIBRARY_NOTEBOOKS


@pytest.mark.parametrize('notebook', LIBRARY_NOTEBOOKS, ids=lambda p: p.stem)
def test_one_definition_per_exported_cell_then_a_sentence_and_a_test(notebook):
    problems = cell_problems(json.loads(notebook.read_text())['cells'])
    assert not problems, f'{notebook.name}:\n' + '\n'.join(problems)


def code(text): return {'cell_type': 'code', 'source': text}
def prose(text): return {'cell_type': 'markdown', 'source': text}


def test_the_check_finds_each_kind_of_problem():
    bundled = [code('#| export\ndef a(): pass\ndef b(): pass'), prose('Two at once.'), code('a(); b()')]
    assert cell_problems(bundled) == ['cell 0 defines 2 things (a, b): one per cell']
    untested = [code('#| export\ndef a(): pass'), prose('A sentence.'), code('1 + 1'), code('#| export\nX = 1')]
    assert cell_problems(untested) == ['cell 0 (a) is not followed by a test or example that uses it']
    unexplained = [code('#| export\nclass A: pass'), code('A()')]
    assert cell_problems(unexplained) == ['cell 0 (A) is not followed by a sentence before the next exported cell']
    # The sentence and the test must come after the definition, not before it.
    before = [prose('Soon: a.'), code('#| export\ndef a(): pass'), code('#| export\ndef b(): pass'), prose('b.'), code('b()')]
    assert cell_problems(before) == ['cell 1 (a) is not followed by a sentence before the next exported cell',
                                     'cell 1 (a) is not followed by a test or example that uses it']
    good = [code('#| export\nimport os'), code('#| export\n@patch\ndef a(x:int): pass'), prose('a does nothing.'),
            code('%%time\nassert a(1) is None')]
    assert cell_problems(good) == []
