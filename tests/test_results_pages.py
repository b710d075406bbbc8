"""results/*.md are generated from results/*.json, and a record is built from a run folder.

Each numbered notebook's one *Expected results* cell is generated too, from results/synth.json and
the fixture checks of tests/test_notebooks.py that ``results.FIXTURE_CHECKS`` quotes.
"""

from __future__ import annotations

import ast
import json

import pytest

from libreface_nb import artifacts, results
from libreface_nb.config import REPO_ROOT
from libreface_nb.profiles import discover_notebooks


def test_every_committed_page_is_its_record_rendered():
    records = sorted((REPO_ROOT / "results").glob("*.json"))
    assert records, "results/ holds no record: run `python -m libreface_nb.results` on a run"
    for path in records:
        record = json.loads(path.read_text())
        page = path.with_suffix(".md")
        assert page.is_file(), f"{page} is missing"
        assert page.read_text() == results.render_page(record), (
            f"{page} is stale: `python -m libreface_nb.results` writes it from {path.name}"
        )


def _run(tmp_path):
    run = tmp_path / "20990101-000000_synth_abc1234"
    (run / "02_mae_teacher_finetune").mkdir(parents=True)
    metrics = {"test_pcc": 0.81, "teacher_model": "/abs/path/model.pt", "teacher_source": "mae"}
    (run / "02_mae_teacher_finetune" / "metrics.json").write_text(json.dumps(metrics))
    (run / "run.json").write_text(json.dumps({
        "profile": "synth", "status": "ok", "started": "2099-01-01T00:00:00+00:00",
        "duration_s": 120.0, "git": {"sha": "abc1234"},
        "notebooks": [{"name": "02_mae_teacher_finetune", "status": "ok", "duration_s": 120.0}],
    }))  # fmt: skip
    return run


def test_a_record_keeps_numbers_and_drops_paths_and_commits(tmp_path):
    record = results.summarize(_run(tmp_path), name="synth", machine="a CPU")
    metrics = record["notebooks"][0]["metrics"]
    assert metrics == {"test_pcc": 0.81, "teacher_source": "mae"}
    assert "abc1234" not in json.dumps(record)
    page = results.render_page(record)
    assert (
        "| teacher (the run's choice): test PCC on held-out persons (`test_pcc`) | 0.81 |" in page
    )


def test_write_refuses_to_overwrite(tmp_path):
    run = _run(tmp_path)
    results.write(run, name="synth", machine="a CPU", results_dir=tmp_path / "r")
    try:
        results.write(run, name="synth", machine="a CPU", results_dir=tmp_path / "r")
    except FileExistsError as err:
        assert "--replace" in str(err)
    else:
        raise AssertionError("a second write replaced the record")


def test_real_face_numbers_become_a_table_with_intervals():
    metrics = {
        "real_faces_found_student": 40,
        "real_smile_higher_AU12_student": 0.9,
        "real_smile_higher_AU12_student_ci_low": 0.8,
        "real_smile_higher_AU12_student_ci_high": 1.0,
        "real_smile_higher_n_student": 10,
    }
    lines = results._real_faces(metrics)
    assert "| AU12 | 0.9 [0.8, 1] |" in lines


# The notebooks' Expected results cells: generated from results/synth.json and FIXTURE_CHECKS.

SYNTH_RECORD = REPO_ROOT / "results" / f"{results.EXPECTED_RECORD}.json"
NOTEBOOKS = discover_notebooks()


def _tagged(book: dict) -> list[dict]:
    return [c for c in book["cells"] if results.EXPECTED_TAG in c["metadata"].get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_has_one_expected_results_cell_after_its_header(path):
    book = json.loads(path.read_text())
    tagged = _tagged(book)
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged {results.EXPECTED_TAG!r}"
    assert tagged[0]["cell_type"] == "markdown", path.name
    assert book["cells"].index(tagged[0]) == 1, f"{path.name}: put it right after the header"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_expected_results_cell_is_its_render(path):
    record = json.loads(SYNTH_RECORD.read_text())
    (cell,) = _tagged(json.loads(path.read_text()))
    assert "".join(cell["source"]) == results.render_expected_cell(record, path.stem), (
        f"{path.name}: stale Expected results cell; `python -m libreface_nb.results --cells`"
    )


def test_every_numbered_notebook_has_headlines():
    missing = [p.stem for p in NOTEBOOKS if p.stem not in results.HEADLINES]
    assert not missing, f"add them to results.HEADLINES: {missing}"


@pytest.mark.parametrize("name", artifacts.NOTEBOOKS)
def test_every_expected_key_is_in_the_synth_record(name):
    record = json.loads(SYNTH_RECORD.read_text())
    (entry,) = (nb for nb in record["notebooks"] if nb["name"] == name)
    for key, *_ in results.expected_rows(name, entry["metrics"]):
        assert key in entry["metrics"], f"{name}: {key!r} is not a metrics key of the synth run"


def _check_functions() -> dict[str, str]:
    """The ``_check_NN`` functions of tests/test_notebooks.py: name → source."""
    source = (REPO_ROOT / "tests" / "test_notebooks.py").read_text()
    return {node.name: ast.get_source_segment(source, node)
            for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}  # fmt: skip


@pytest.mark.parametrize("name", list(results.FIXTURE_CHECKS))
def test_the_fixture_column_quotes_what_the_notebook_test_asserts(name):
    body = _check_functions()[f"_check_{name[:2]}"]
    for check in results.FIXTURE_CHECKS[name]:
        assert check.assertion in body, (
            f"{name} {check.key}: tests/test_notebooks.py no longer asserts {check.assertion!r}; "
            "update results.FIXTURE_CHECKS, then `python -m libreface_nb.results --cells`"
        )


def test_a_key_only_the_fixture_checks_says_what_it_is():
    for name, checks in results.FIXTURE_CHECKS.items():
        headlines = dict(results.HEADLINES[name])
        for check in checks:
            assert check.key in headlines or check.what, f"{name} {check.key}: give its `what`"


def _notebook(path, cells: list[dict]) -> None:
    book = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(book, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def test_the_cell_goes_after_the_header_then_is_replaced(tmp_path):
    path = tmp_path / "01_x.ipynb"
    header = {"cell_type": "markdown", "id": "h", "metadata": {}, "source": ["# 01 · x"]}
    code = {"cell_type": "code", "execution_count": None, "id": "c", "metadata": {},
            "outputs": [], "source": ["x = 1"]}  # fmt: skip
    _notebook(path, [header, code])
    assert results.set_expected_cell(path, "## Expected results\n\nold")
    assert results.set_expected_cell(path, "## Expected results\n\nnew")
    assert not results.set_expected_cell(path, "## Expected results\n\nnew")
    cells = json.loads(path.read_text())["cells"]
    assert [c["id"] for c in cells] == ["h", results.EXPECTED_TAG, "c"]
    assert cells[1]["source"] == ["## Expected results\n", "\n", "new"]
    assert cells[2] == code


def test_two_tagged_cells_are_refused(tmp_path):
    path = tmp_path / "01_x.ipynb"
    tagged = {"cell_type": "markdown", "metadata": {"tags": [results.EXPECTED_TAG]}, "source": []}
    _notebook(path, [tagged, dict(tagged)])
    with pytest.raises(ValueError, match="keep one"):
        results.set_expected_cell(path, "## Expected results")


def test_write_expected_cells_writes_each_notebook_once(tmp_path):
    record = json.loads(SYNTH_RECORD.read_text())
    for path in NOTEBOOKS[:2]:
        (tmp_path / path.name).write_text(path.read_text())
    assert results.write_expected_cells(record, tmp_path) == []  # the committed cells are current
    book = json.loads((tmp_path / NOTEBOOKS[0].name).read_text())
    _tagged(book)[0]["source"] = ["stale"]
    (tmp_path / NOTEBOOKS[0].name).write_text(json.dumps(book))
    assert results.write_expected_cells(record, tmp_path) == [tmp_path / NOTEBOOKS[0].name]
    assert (tmp_path / NOTEBOOKS[0].name).read_text() == NOTEBOOKS[0].read_text()
