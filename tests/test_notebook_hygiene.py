"""Committed notebooks are clean, valid, parameterised and teach.

nbdev's "clean, then fail on diff".

Rules (DESIGN.md conventions, STYLE.md 1, 3, 8, 21):
- valid nbformat 4; kernelspec ``libreface-nb``; no outputs, no execution counts;
- the first cell is markdown and says what the notebook does, its inputs, outputs and expected
  results;
- exactly one code cell tagged ``parameters``: flat ``name = literal  # comment`` lines, declaring
  ``run_dir`` and ``seed``;
- no ``def`` or ``class`` in any code cell (the package does the work);
- every ``## `` section opens with a markdown explanation of the idea behind it (≥ 200 characters)
  and
  the notebook cites the LibreFace paper.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from libreface_nb.profiles import NOTEBOOKS_DIR, declared_parameters, discover_notebooks

NOTEBOOKS = discover_notebooks(NOTEBOOKS_DIR)
ALL_IPYNB = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
#: The template new notebooks start from follows the same rules.
TEMPLATES = sorted((NOTEBOOKS_DIR / "template").glob("*.ipynb"))
pytestmark = pytest.mark.skipif(not ALL_IPYNB, reason="no notebooks committed yet")


def _code(cell) -> str:
    # IPython magics and shell escapes are not Python; drop them before parsing.
    return "\n".join(line for line in cell.source.splitlines() if line.lstrip()[:1] not in "%!")


@pytest.fixture(params=ALL_IPYNB + TEMPLATES, ids=lambda p: p.name)
def nb(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_every_notebook_is_numbered():
    assert [p.name for p in ALL_IPYNB] == [p.name for p in NOTEBOOKS]


def test_valid_and_clean(nb):
    path, book = nb
    nbformat.validate(book)
    assert book.metadata.get("kernelspec", {}).get("name") == "libreface-nb", path
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: clear them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in book.metadata, f"{path.name}: saved widget state; clear it"


def test_header_cell(nb):
    path, book = nb
    first = book.cells[0]
    assert first.cell_type == "markdown", f"{path.name}: the first cell must be markdown"
    text = first.source.lower()
    assert first.source.startswith(f"# {path.name[:2]} "), f"{path.name}: title '# NN ...'"
    assert "**What it does.**" in first.source, f"{path.name}: say what the notebook does"
    for word in ("inputs", "outputs", "expected"):
        assert word in text, f"{path.name}: the header must say its {word}"


def test_one_parameters_cell_with_flat_commented_literals(nb):
    path, book = nb
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged parameters"
    names = []
    for stmt in ast.parse(tagged[0].source).body:
        assert isinstance(stmt, ast.Assign | ast.AnnAssign), f"{path.name}: only assignments"
        value = stmt.value
        ast.literal_eval(value)  # flat literals only: derived values go in the next cell
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
        names.append(target.id)
    for line in tagged[0].source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.search(r"#\s*\S", line), f"{path.name}: no trailing comment on {line!r}"
    assert {"run_dir", "seed"} <= set(names), f"{path.name}: declare run_dir and seed"
    # papermill must parse every line too (it chokes on "=" inside a trailing comment)
    assert sorted(declared_parameters(path)) == sorted(names), f"{path.name}: papermill parse"


def test_no_definitions_in_notebooks(nb):
    path, book = nb
    for i, cell in enumerate(book.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(_code(cell))):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef), (
                f"{path.name} cell {i} defines {node.name}: move it into libreface_nb"
            )


def test_sections_teach(nb):
    path, book = nb
    md = [c.source for c in book.cells if c.cell_type == "markdown"]
    sections = [s for s in md if s.startswith("## ")]
    assert len(sections) >= 2, f"{path.name}: split the notebook into explained sections"
    for s in sections:
        prose = s.split("\n", 1)[1] if "\n" in s else ""
        assert len(prose.strip()) >= 200, (
            f"{path.name}: section {s.splitlines()[0]!r} needs an explanation of its idea"
        )
    assert any("Chang et al." in s or "WACV 2024" in s for s in md), f"{path.name}: cite the paper"
