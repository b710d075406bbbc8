"""Result tables: published columns labelled and sourced, CSV numbers, well-formed LaTeX."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from libreface_nb.eval import metrics as M
from libreface_nb.eval import report as R


def _result(shift: float, ci: bool = True) -> pd.DataFrame:
    rows = [("AU01", "pcc", 0.5 + shift, 10, ""), ("AU12", "pcc", 0.8 + shift, 10, ""),
            ("AU_X", "pcc", np.nan, 10, "true labels are constant"),
            ("mean", "pcc", 0.65 + shift, 2, "mean over 2 of 3")]  # fmt: skip
    table = pd.DataFrame(rows, columns=list(M.COLUMNS))
    if ci:
        table["ci_low"], table["ci_high"] = table["value"] - 0.1, table["value"] + 0.1
    return table


@pytest.fixture()
def table():
    return R.au_table({"teacher": _result(0.0), "hog_baseline": _result(-0.2, ci=False)}, "pcc",
                      dataset="disfa")  # fmt: skip


def test_published_values_are_labelled_and_marked_unverified(table):
    assert table.cells.loc["AU01", "OpenFace 2.0 (published)"] == "0.64†"
    assert table.cells.loc["mean", "LibreFace (published)"] == "0.63"  # the abstract: verified


def test_published_sources_are_in_the_notes(table):
    assert any("Chang et al., LibreFace, WACV 2024, abstract" in n for n in table.notes)


def test_ours_show_value_and_interval(table):
    assert table.cells.loc["AU01", "teacher"] == "0.50 [0.40, 0.60]"
    assert table.cells.loc["AU_X", "teacher"] == "–"  # NaN is shown as a dash, never 0


def test_csv_keeps_full_precision_numbers(tmp_path, table):
    paths = R.write_tables(table, tmp_path, "disfa_pcc")
    back = pd.read_csv(paths[0], index_col="output")
    assert back.loc["AU12", "hog_baseline"] == pytest.approx(0.6)
    assert back.loc["AU01", "teacher_ci_high"] == pytest.approx(0.6)


def test_markdown_rows_have_one_cell_per_column(table):
    lines = [ln for ln in R.to_markdown(table).splitlines() if ln.startswith("|")]
    assert {ln.count("|") for ln in lines} == {len(table.cells.columns) + 2}


def _strip_escapes(tex: str) -> str:
    return re.sub(r"\\[{}&%$#_]", "", tex)


def test_latex_is_well_formed(table):
    tex = R.to_latex(table, "tab:disfa_pcc")
    plain = _strip_escapes(tex)
    assert plain.count("{") == plain.count("}")
    envs = re.findall(r"\\(begin|end)\{(\w+)\}", tex)
    assert envs == [("begin", "table"), ("begin", "tabular"), ("end", "tabular"),
                    ("end", "table")]  # fmt: skip


def test_latex_rows_have_one_cell_per_column_and_booktabs_rules(table):
    tex = R.to_latex(table)
    rows = [ln for ln in tex.splitlines() if ln.endswith(r"\\")]
    n_cols = len(table.cells.columns) + 1
    assert {_strip_escapes(r).count("&") for r in rows} == {n_cols - 1}
    assert [ln for ln in tex.splitlines() if ln in (r"\toprule", r"\bottomrule")] == [
        r"\toprule", r"\bottomrule"]  # fmt: skip


def test_latex_escapes_underscores_outside_the_label(table):
    tex = R.to_latex(table, "tab:x")
    assert "hog\\_baseline" in tex
    body = "\n".join(ln for ln in tex.splitlines() if not ln.startswith(r"\label"))
    assert re.search(r"(?<!\\)_", body) is None


def test_tex_escape_specials():
    assert R.tex_escape("a_b & 50% #1 †") == r"a\_b \& 50\% \#1 \textsuperscript{\dag}"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_table_compiles_with_pdflatex(tmp_path, table):
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                   + R.to_latex(table, "tab:x") + "\\end{document}\n")  # fmt: skip
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
