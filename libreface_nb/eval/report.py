"""Per-AU result tables beside published numbers, as CSV, Markdown and LaTeX (booktabs).

Our numbers come from the long metric tables of :mod:`libreface_nb.eval.metrics` (with bootstrap
intervals when present). Published numbers are typed once, in :data:`PUBLISHED`, with their source
and whether the source was checked (facts sheet docs/libreface_facts.md §8); they are always
labelled "published" and never recomputed. Unverified values carry a dagger (†) and a footnote.

Files written by :func:`write_tables` into ``<folder>/tables/``:

- ``<name>.csv``: one row per output (AU…, ``mean``); for each of our models the columns
  ``<model>`` (value), ``<model>_ci_low``, ``<model>_ci_high``; for each published model
  ``<model> (published)``; NaN where absent. Machine-readable, full precision.
- ``<name>.md``: the same table for reading, values as ``0.63 [0.55, 0.70]``, notes below.
- ``<name>.tex``: a ``table`` environment with a booktabs ``tabular`` (needs
  ``\\usepackage{booktabs}``), caption with the notes, underscores and other specials escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.eval.uncertainty import format_ci


@dataclass(frozen=True)
class Published:
    """One published number."""

    model: str
    dataset: str
    metric: str
    output: str
    value: float
    source: str
    verified: bool


_LF = "Chang et al., LibreFace, WACV 2024"
_ABSTRACT = f"{_LF}, abstract"
_TRANSCRIPTION = f"{_LF}, per-AU table via a third-party transcription (unverified)"
_OF_PCC = {"AU01": .64, "AU02": .50, "AU04": .70, "AU06": .59, "AU12": .85, "AU25": .85,
           "AU26": .67}  # fmt: skip
_LF_PCC = {"AU01": .63, "AU02": .72, "AU04": .78, "AU06": .59, "AU12": .85, "AU25": .94,
           "AU26": .68}  # fmt: skip

#: Published anchors (LIBREFACE_FACTS §8). F1 values are fractions (the papers print %).
PUBLISHED: tuple[Published, ...] = (
    Published("LibreFace", "disfa", "pcc", "mean", 0.63, _ABSTRACT, True),
    Published(
        "OpenFace 2.0",
        "disfa",
        "pcc",
        "mean",
        0.59,
        f"{_ABSTRACT} ('7% lower' than 0.63, ≈ 0.59)",
        True,
    ),  # fmt: skip
    *(
        Published("LibreFace", "disfa", "pcc", a, v, _TRANSCRIPTION, False)
        for a, v in _LF_PCC.items()
    ),  # fmt: skip
    *(
        Published("OpenFace 2.0", "disfa", "pcc", a, v, _TRANSCRIPTION, False)
        for a, v in _OF_PCC.items()
    ),  # fmt: skip
    Published("ResNet-18, no pretraining", "bp4d", "f1", "mean", 0.472, _TRANSCRIPTION, False),
    Published("MAE ViT-B teacher", "bp4d", "f1", "mean", 0.632, _TRANSCRIPTION, False),
    Published("LibreFace student", "bp4d", "f1", "mean", 0.620, _TRANSCRIPTION, False),
)


def published(dataset: str, metric: str) -> list[Published]:
    """The published numbers for one dataset and metric."""
    return [p for p in PUBLISHED if p.dataset == dataset and p.metric == metric]


@dataclass
class ResultTable:
    """A per-output table: numbers (for CSV), display cells (for Markdown/LaTeX) and notes."""

    numbers: pd.DataFrame
    cells: pd.DataFrame
    notes: list[str]
    caption: str


def au_table(
    results: Mapping[str, pd.DataFrame],
    metric: str,
    *,
    dataset: str = "",
    outputs: Sequence[str] | None = None,
    digits: int = 2,
    caption: str = "",
    resampled: str = "test subjects",
) -> ResultTable:
    """One row per output (+ ``mean``): our models' ``metric`` beside the published ones.

    Args:
        results: model name → long metric table (optionally with ``ci_low``/``ci_high``).
        metric: e.g. ``pcc``, ``icc3_1``, ``f1``.
        dataset: dataset name for the published columns (``disfa``, ``bp4d``; "" = none).
        outputs: row order (default: the outputs of the first table, ``mean`` last).
        resampled: what the bootstrap resampled, for the note (e.g. ``"persons"``).
    """
    first = next(iter(results.values()))
    rows = list(outputs or dict.fromkeys(first.loc[first["metric"] == metric, "output"]))
    numbers = pd.DataFrame(index=pd.Index(rows, name="output"))
    cells = pd.DataFrame(index=numbers.index)
    for model, table in results.items():
        part = table[table["metric"] == metric].set_index("output").reindex(rows)
        lo = part["ci_low"] if "ci_low" in part else pd.Series(np.nan, index=part.index)
        hi = part["ci_high"] if "ci_high" in part else pd.Series(np.nan, index=part.index)
        numbers[model], numbers[f"{model}_ci_low"], numbers[f"{model}_ci_high"] = (
            part["value"], lo, hi,
        )  # fmt: skip
        triples = zip(part["value"], lo, hi, strict=True)
        cells[model] = [format_ci(v, a, b, digits) for v, a, b in triples]
    notes, sources = [], {}
    for pub in published(dataset, metric) if dataset else []:
        col = f"{pub.model} (published)"
        if col not in numbers:
            numbers[col], cells[col] = np.nan, "–"
        if pub.output in numbers.index:
            numbers.loc[pub.output, col] = pub.value
            cells.loc[pub.output, col] = f"{pub.value:.{digits}f}" + ("" if pub.verified else "†")
            sources.setdefault(pub.source, pub.verified)
    if sources:
        notes.append("Published values: " + "; ".join(sources) + ".")
    if any(not v for v in sources.values()):
        notes.append("† unverified transcription of the published table (facts sheet §8).")
    if any(numbers[f"{m}_ci_low"].notna().any() for m in results):
        notes.append(f"Ours: value [95% CI], percentile bootstrap over {resampled}.")
    for model, t in results.items():
        head = t[(t["metric"] == metric) & t["output"].isin(["mean", "all"])]
        why = str(head["ci_reason"].iloc[0]) if "ci_reason" in head and len(head) else ""
        if why and numbers[f"{model}_ci_low"].isna().all():
            notes.append(f"No interval for {model}: {why}.")
    caption = caption or f"{metric} per output; ours beside published values."
    return ResultTable(numbers, cells, notes, caption)


def to_markdown(table: ResultTable) -> str:
    """A GitHub Markdown table with the notes below it."""
    head = ["output", *table.cells.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1))
             + "|"]  # fmt: skip
    for output, row in table.cells.iterrows():
        lines.append("| " + " | ".join([str(output), *map(str, row)]) + " |")
    return "\n".join([f"**{table.caption}**", "", *lines, "", *table.notes]) + "\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "†": r"\textsuperscript{\dag}", "–": "--",
                "≈": r"$\approx$", "§": r"\S{}", "·": r"$\cdot$", "±": r"$\pm$",
                "—": "---"}  # fmt: skip


def tex_escape(text: str) -> str:
    """Escape LaTeX specials (and map † – ≈ to their LaTeX forms)."""
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))


def to_latex(table: ResultTable, label: str = "tab:results") -> str:
    """A ``table`` float holding a booktabs ``tabular`` (``\\usepackage{booktabs}``)."""
    cols = ["output", *table.cells.columns]
    body = []
    for output, row in table.cells.iterrows():
        if output == "mean":
            body.append(r"\midrule")
        body.append(" & ".join(tex_escape(c) for c in [output, *row]) + r" \\")
    caption = " ".join([table.caption.rstrip(".") + ".", *table.notes])
    return "\n".join([
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{" + tex_escape(caption) + "}",
        r"\label{" + label + "}",
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(tex_escape(c) for c in cols) + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]) + "\n"  # fmt: skip


def write_tables(table: ResultTable, folder: str | Path, name: str) -> list[Path]:
    """Write ``<folder>/tables/<name>.csv``, ``.md`` and ``.tex`` atomically; return the paths."""
    from libreface_nb.atomic import write_text

    out = Path(folder) / "tables"
    paths = [out / f"{name}.{ext}" for ext in ("csv", "md", "tex")]
    write_text(paths[0], table.numbers.to_csv())
    write_text(paths[1], to_markdown(table))
    write_text(paths[2], to_latex(table, label=f"tab:{name}"))
    return paths
