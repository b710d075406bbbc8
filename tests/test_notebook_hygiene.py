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
  the notebook cites the LibreFace paper;
- no measured-looking number (a decimal below 2, a percentage, a duration, a speed, an
  approximation, a "130×" ratio) in any markdown cell but the one *Expected results* cell, which
  ``libreface_nb.results`` writes from ``results/synth.json`` (:func:`measured_numbers`; facts that
  look like measurements are in :data:`ALLOWED`).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from libreface_nb.profiles import NOTEBOOKS_DIR, declared_parameters, discover_notebooks
from libreface_nb.results import EXPECTED_TAG

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


#: What a measured number looks like in prose (inline code is left out first: `lr = 3e-5` is a
#: parameter). Integers are not flagged: AU numbers, image sizes and counts of a setup are facts.
MEASURED = re.compile(
    r"(?<![\w.])[-−]?[01]?\.\d+(?![\d.])"  # a decimal below 2: 0.62, .5, 1.0 (PCCs, rates)
    r"|\d+(?:\.\d+)?\s?%"  # a percentage: 38 %
    r"|\d+(?:[.,]\d+)?\s?(?:ms|s|sec|seconds?|min|minutes?|h|hours?)\b"  # a duration: 160 s
    r"|\d+(?:[.,]\d+)?\s?(?:fps|frames/s|images/s)\b"  # a speed
    r"|[~≈]\s?[-−]?\d+(?:[.,]\d+)?(?:e-\d+)?×?"  # an approximation: ~1e-6, ≈ 0.7, ~50×
    r"|\d×(?!\s?\d)"  # a ratio: 130× the task loss (not a size: 256×256)
    r"|\b(?:about|under|well under|within) (?:a|an|half an) (?:minute|hour)\b"
)
#: Facts that look like measurements, with their source: each phrase is removed before the check.
ALLOWED: dict[str, str] = {
    "hides 75 % of them": "MAE's mask ratio (He et al., CVPR 2022)",
    "95% interval": "the level of the bootstrap intervals (a parameter)",
    "about 7% in PCC on DISFA": "LibreFace's gain over OpenFace 2.0 (Chang et al., WACV 2024)",
    "clipping at 1.0": "the gradient-clipping norm (a parameter)",
    "at probability 0.5": "the detection threshold (a parameter)",
    "probability ≥ 0.5": "the detection threshold (a parameter)",
}
_CODE = re.compile(r"`[^`\n]*`")


def _is_expected_cell(cell: dict) -> bool:
    return EXPECTED_TAG in cell.get("metadata", {}).get("tags", [])


def measured_numbers(path: str | Path) -> list[str]:
    """Measured-looking numbers in a notebook's markdown cells, Expected results cell excepted.

    Returns one ``"cell i: 'match' in '…context…'"`` line per hit (empty when clean).
    """
    hits = []
    book = json.loads(Path(path).read_text(encoding="utf-8"))
    for i, cell in enumerate(book["cells"]):
        if cell["cell_type"] != "markdown" or _is_expected_cell(cell):
            continue
        text = " ".join(_CODE.sub("`…`", "".join(cell["source"])).split())
        for phrase in ALLOWED:
            text = text.replace(phrase, "…")
        for m in MEASURED.finditer(text):
            context = text[max(0, m.start() - 50) : m.end() + 30]
            hits.append(f"cell {i}: {m.group()!r} in {context!r}")
    return hits


@pytest.mark.parametrize(
    "sentence",
    ["measured 0.69 MAE-initialised", "about 50 s on a 2-core CPU", "PCC ≈ 0.7 with seed 0",
     "typically ~1e-6", "some 130× the task loss", "for 38 % of unseen people",
     "in 1–2 minutes", "at 93 images/s", "in well under a minute", "a rate of 1.0"],
)  # fmt: skip
def test_measured_numbers_are_recognised(sentence):
    assert MEASURED.search(sentence), sentence


@pytest.mark.parametrize(
    "sentence",
    ["AU12 pulls the lip corners up", "resampled to 256×256", "AdamW lr 3e-5", "LibreFace 2.0",
     "at intensity 0, 2.5 and 5", "on the 0–5 scale", "16 × 50-frame synth run", "opset 17",
     "3 pseudo-subjects × 40 frames", "widths of 3.5 in (one column)", "ICC(3,1)"],
)  # fmt: skip
def test_facts_are_not_flagged(sentence):
    assert not MEASURED.search(sentence), sentence


def test_every_allowed_fact_is_quoted_somewhere():
    text = " ".join(
        " ".join(c.source.split())
        for p in ALL_IPYNB
        for c in nbformat.read(p, as_version=4).cells
        if c.cell_type == "markdown"
    )
    unused = [phrase for phrase in ALLOWED if phrase not in text]
    assert not unused, f"no notebook says these any more; drop them from ALLOWED: {unused}"


def test_numbers_only_in_the_expected_results_cell(nb):
    path, _ = nb
    hits = measured_numbers(path)
    assert not hits, (
        f"{path.name}: measured-looking numbers outside the Expected results cell (it is written "
        "by `python -m libreface_nb.results --cells` from results/synth.json; point to it, or "
        "add a fact with its source to ALLOWED):\n" + "\n".join(hits)
    )
