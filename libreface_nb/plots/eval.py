"""Figures for notebook 04, in the publication style (Okabe-Ito colours, paper column widths).

Every function takes tables (long metric tables of :mod:`libreface_nb.eval.metrics`, predictions
tables of :mod:`libreface_nb.eval.predictions`) and returns a matplotlib
Figure sized for a one-column (3.5 in) or two-column (7.1 in) paper; saving is the caller's job
(:func:`libreface_nb.plots.save_figure`: PDF + PNG). NaN values are left out of a plot and never
drawn as 0. Training curves are :func:`libreface_nb.plots.train.training_curves`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from libreface_nb.plots.style import ONE_COLUMN, TWO_COLUMN, use_paper_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


def _metric_rows(table: pd.DataFrame, metric: str, outputs: Sequence[str]) -> pd.DataFrame:
    part = table[table["metric"] == metric].set_index("output").reindex(list(outputs))
    for col in ("ci_low", "ci_high"):
        if col not in part:
            part[col] = np.nan
    return part


def au_bars(
    results: Mapping[str, pd.DataFrame],
    metric: str = "pcc",
    *,
    outputs: Sequence[str] | None = None,
    published: Mapping[str, Mapping[str, float]] | None = None,
) -> Figure:
    """Grouped bars of ``metric`` per output, one colour per model, CIs as error bars.

    Args:
        results: model → long metric table (``ci_low``/``ci_high`` optional).
        metric: the metric to plot.
        outputs: outputs in order (default: the first table's, ``mean`` last).
        published: name → {output: value}, drawn as hollow markers labelled "(published)".
    """
    import matplotlib.pyplot as plt

    use_paper_style()
    first = next(iter(results.values()))
    outputs = list(outputs or dict.fromkeys(first.loc[first["metric"] == metric, "output"]))
    x = np.arange(len(outputs))
    width = 0.8 / max(len(results), 1)
    fig, ax = plt.subplots(figsize=(TWO_COLUMN, 2.2))
    for i, (model, table) in enumerate(results.items()):
        part = _metric_rows(table, metric, outputs)
        v = part["value"].to_numpy(float)
        err = np.stack([v - part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float) - v])
        yerr = np.nan_to_num(err, nan=0.0) if np.isfinite(err).any() else None
        ax.bar(x - 0.4 + width * (i + 0.5), v, width, yerr=yerr,
               capsize=1.5, label=model, error_kw={"lw": 0.6})  # fmt: skip
    for j, (name, values) in enumerate((published or {}).items()):
        y = [values.get(o, np.nan) for o in outputs]
        ax.plot(x, y, ls="none", marker="os^"[j % 3], mfc="none", mec="0.2", ms=4,
                label=f"{name} (published)")  # fmt: skip
    ax.set_xticks(x, outputs, rotation=45, ha="right")
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_ylabel(metric)
    ax.legend(frameon=False, ncol=min(4, len(results) + len(published or {})), loc="upper left",
              bbox_to_anchor=(0, 1.18))  # fmt: skip
    fig.tight_layout()
    return fig


def pred_vs_true(table: pd.DataFrame, outputs: Sequence[str], *, ncols: int = 6) -> Figure:
    """One scatter per output of prediction against label (0–5), with the identity line."""
    import matplotlib.pyplot as plt

    use_paper_style()
    rows = int(np.ceil(len(outputs) / ncols))
    fig, axes = plt.subplots(rows, ncols, figsize=(TWO_COLUMN, 1.25 * rows + 0.3), squeeze=False,
                             sharex=True, sharey=True)  # fmt: skip
    for ax, name in zip(axes.flat, outputs, strict=False):
        t, p = table[f"true_{name}"].to_numpy(float), table[f"pred_{name}"].to_numpy(float)
        keep = np.isfinite(t) & np.isfinite(p)
        ax.scatter(t[keep], p[keep], s=3, alpha=0.4, lw=0)
        ax.plot([0, 5], [0, 5], color="0.4", lw=0.6, ls="--")
        ax.set_title(name)
        ax.set_aspect("equal")
    for ax in axes.flat[len(outputs) :]:
        ax.axis("off")
    fig.supxlabel("true intensity", fontsize=7)
    fig.supylabel("predicted", fontsize=7)
    fig.tight_layout()
    return fig


def confusion(cm: np.ndarray, classes: Sequence[str], *, normalize: bool = True) -> Figure:
    """Confusion matrix (rows true, columns predicted); row-normalised shares with counts."""
    import matplotlib.pyplot as plt

    use_paper_style()
    cm = np.asarray(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        shown = cm / cm.sum(axis=1, keepdims=True) if normalize else cm.astype(float)
    fig, ax = plt.subplots(figsize=(ONE_COLUMN, ONE_COLUMN * 0.9))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for (i, j), n in np.ndenumerate(cm):
        ax.text(j, i, str(n), ha="center", va="center", fontsize=5,
                color="white" if np.nan_to_num(shown[i, j]) > 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of true class" if normalize else "count")
    fig.tight_layout()
    return fig


def subject_spread(per_subject: Mapping[str, pd.DataFrame], metric: str = "pcc") -> Figure:
    """Per-subject values of ``metric`` (``mean`` over outputs), one column of dots per model.

    Args:
        per_subject: model → :func:`libreface_nb.eval.predictions.per_subject_metrics` table.
    """
    import matplotlib.pyplot as plt

    use_paper_style()
    fig, ax = plt.subplots(figsize=(ONE_COLUMN, 2.2))
    for i, table in enumerate(per_subject.values()):
        part = table[(table["metric"] == metric) & (table["output"].isin(["mean", "all"]))]
        v = part["value"].to_numpy(float)
        v = v[np.isfinite(v)]
        jitter = np.linspace(-0.15, 0.15, v.size) if v.size > 1 else np.zeros(v.size)
        ax.scatter(np.full(v.size, i) + jitter, v, s=10, color=f"C{i}", zorder=3)
        if v.size:
            ax.hlines(np.median(v), i - 0.3, i + 0.3, color="0.2", lw=1)
    ax.set_xticks(range(len(per_subject)), list(per_subject), rotation=20, ha="right")
    ax.set_xlim(-0.6, len(per_subject) - 0.4)
    ax.set_ylabel(f"{metric} per test subject")
    fig.tight_layout()
    return fig


def au_time_series(
    table: pd.DataFrame, source: str, outputs: Sequence[str], *, title: str = ""
) -> Figure:
    """True (grey) and predicted (colour) intensity or probability over one video's frames."""
    import matplotlib.pyplot as plt

    use_paper_style()
    part = table[table["source"].astype(str) == str(source)].sort_values("frame")
    fig, axes = plt.subplots(len(outputs), 1, figsize=(TWO_COLUMN, 0.6 * len(outputs) + 0.5),
                             sharex=True, squeeze=False)  # fmt: skip
    cols = [f"true_{n}" for n in outputs]
    top = 5.2 if np.nanmax(part[cols].to_numpy(float), initial=0.0) > 1 else 1.05  # 0–5 or 0–1
    for ax, name in zip(axes[:, 0], outputs, strict=True):
        ax.plot(part["frame"], part[f"true_{name}"], color="0.55", lw=1, label="true")
        ax.plot(part["frame"], part[f"pred_{name}"], color="C0", lw=0.9, label="predicted")
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_ylim(-0.04 * top, top)
    axes[0, 0].legend(frameon=False, ncol=2, loc="upper right", bbox_to_anchor=(1, 1.6))
    axes[-1, 0].set_xlabel(f"frame of {Path(str(source)).name}")
    if title:
        axes[0, 0].set_title(title, loc="left")
    fig.tight_layout()
    return fig
