"""The run folder's data contract (libreface_nb/artifacts.py) is the only place paths are spelled.

Fast checks: the notebook folder names are the notebooks' stems; the docstring's table and
:data:`~libreface_nb.artifacts.ARTIFACTS` say the same; every ``when`` names parameters the
writer notebook declares; and no package module, benchmark or notebook spells a notebook folder
name (so a run-folder path) itself. That every notebook writes what the table says is checked on
the fixture run, in tests/test_notebooks.py.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

import pytest

from libreface_nb import artifacts
from libreface_nb.config import REPO_ROOT
from libreface_nb.profiles import NOTEBOOKS_DIR, declared_parameters, discover_notebooks

#: Numbered notebook folders → the shorthand the docstring's table uses ("NB02").
SHORT = {nb: f"NB{i:02d}" for i, nb in enumerate(artifacts.NOTEBOOKS, 1)}


def _doc_row(a: artifacts.Artifact) -> tuple[str, str, str]:
    """(constant, path, by) as the docstring's table spells ``a`` (``NB02/…``, ``NBnn/…``)."""
    folder, _, rest = a.path.partition("/")
    generic = re.fullmatch(r"(\w+)\(NB\d\d\)", a.constant)  # metrics_json(NB01) …
    if generic:
        by = "each" if a.by in SHORT else a.by
        return f"{generic.group(1)}(nb)", f"NBnn/{rest.replace(folder, 'NBnn')}", by
    path = f"{SHORT[folder]}/{rest}" if folder in SHORT else a.path
    by = a.by[:2] if a.by in SHORT else ("script" if "/" in a.by else a.by)
    return a.constant, path, by


def _table_rows() -> list[tuple[str, str, str, str]]:
    """(constant, path, by, the continuation lines) of the docstring's artifacts table."""
    doc = artifacts.__doc__
    start = doc.index("Constant ")
    lines = doc[start:].splitlines()[2:]
    rows: list[tuple[str, str, str, str]] = []
    for line in lines:
        if line.startswith("==="):
            break
        if line.startswith("    "):
            constant, path, by, more = rows[-1]
            rows[-1] = (constant, path, by, more + line.strip() + " ")
        else:
            constant, path, by = line.split()[:3]
            rows.append((constant, path, by, ""))
    return rows


def test_notebook_folders_are_the_notebooks_stems():
    assert list(artifacts.NOTEBOOKS) == [p.stem for p in discover_notebooks(NOTEBOOKS_DIR)]


def test_docstring_table_is_the_artifacts_tuple():
    table = {row[0]: row for row in _table_rows()}
    seen = set()
    for a in artifacts.ARTIFACTS:
        constant, path, by = _doc_row(a)
        assert constant in table, f"{a.constant} is not in the docstring's table"
        assert table[constant][1:3] == (path, by), f"{a.constant}: the table says otherwise"
        if a.when:
            assert f"when: ``{a.when}``" in table[constant][3], f"{a.constant}: when {a.when!r}"
        else:
            assert "when:" not in table[constant][3], f"{a.constant}: the table gives a when"
        seen.add(constant)
    assert set(table) == seen, f"rows without an Artifact: {sorted(set(table) - seen)}"


def test_constants_are_the_paths_of_the_table():
    for a in artifacts.ARTIFACTS:
        if a.constant.isidentifier():
            assert getattr(artifacts, a.constant) == a.path, a.constant
        else:  # metrics_json(NB01) …
            fn, arg = re.fullmatch(r"(\w+)\((NB\d\d)\)", a.constant).groups()
            assert getattr(artifacts, fn)(getattr(artifacts, arg)) == a.path, a.constant


def test_paths_are_relative_and_unique():
    paths = [a.path for a in artifacts.ARTIFACTS]
    assert len(paths) == len(set(paths)) + 1  # NB01_METRICS is metrics_json(NB01) by name too
    for a in artifacts.ARTIFACTS:
        assert not a.path.startswith("/") and "\\" not in a.path and ".." not in a.path, a
        assert a.path in (artifacts.RUN_JSON, artifacts.RUN_INDEX) or (
            a.path.split("/")[0] in artifacts.NOTEBOOKS
        ), a
        assert a.by in (*artifacts.NOTEBOOKS, "runner") or (REPO_ROOT / a.by).is_file(), a
    assert artifacts.in_notebook(artifacts.NB04_PREDICTIONS) == "predictions"


def test_every_when_names_parameters_of_its_notebook():
    declared = {p.stem: declared_parameters(p) for p in discover_notebooks(NOTEBOOKS_DIR)}
    for a in artifacts.ARTIFACTS:
        if not a.when:
            continue
        names = {n.id for n in ast.walk(ast.parse(a.when, mode="eval")) if isinstance(n, ast.Name)}
        assert names <= set(declared[a.by]), f"{a.constant}: {names - set(declared[a.by])}"
        defaults = {k: ast.literal_eval(v["default"]) for k, v in declared[a.by].items()}
        assert isinstance(artifacts.expected(a, defaults), bool)


def test_expected_follows_the_parameters():
    (mae,) = (a for a in artifacts.ARTIFACTS if a.constant == "NB02_MAE_HISTORY")
    assert artifacts.expected(mae, {"pretrain_mae": True, "mae_checkpoint": ""})
    assert not artifacts.expected(mae, {"pretrain_mae": True, "mae_checkpoint": "enc.pth"})
    assert not artifacts.expected(mae, {"pretrain_mae": False, "mae_checkpoint": ""})
    (teacher,) = (a for a in artifacts.ARTIFACTS if a.constant == "NB02_TEACHER_MODEL")
    assert artifacts.expected(teacher, {})


def test_importing_it_stays_light():
    code = (
        "import sys, libreface_nb.artifacts\n"
        "heavy = {'numpy', 'pandas', 'torch', 'yaml'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


#: The notebook folder names, as a run-folder path starts with them.
FOLDER_RE = re.compile("|".join(re.escape(nb) for nb in artifacts.NOTEBOOKS))


def _sources() -> list:
    files = sorted((REPO_ROOT / "libreface_nb").rglob("*.py"))
    files += sorted((REPO_ROOT / "benchmarks").rglob("*.py"))
    files += sorted(NOTEBOOKS_DIR.rglob("*.ipynb"))
    return [p for p in files if "__pycache__" not in p.parts and p.name != "artifacts.py"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_no_run_folder_path_is_spelled_outside_the_artifacts_module(path):
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts = [(f"cell {i}", "".join(c["source"])) for i, c in enumerate(cells)]
    else:
        texts = [("", path.read_text(encoding="utf-8"))]
    found = [
        f"{where} line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}".strip()
        for where, text in texts
        for m in FOLDER_RE.finditer(text)
    ]
    assert not found, f"use libreface_nb.artifacts' constants instead of {found}"


def test_the_grep_finds_a_spelled_folder():
    assert FOLDER_RE.search('runs.find_input(run_dir, "03_resnet18_distillation/student/model.pt")')
    assert not FOLDER_RE.search("runs.find_input(run_dir, artifacts.NB03_STUDENT_MODEL)")
