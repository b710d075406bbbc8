"""Figures for notebook 05: where the time goes, model latency by batch, predictions over time.

Every function takes the tables of :mod:`libreface_nb.infer.profile` or
:func:`libreface_nb.predict` and returns a matplotlib Figure; saving is the caller's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from libreface_nb.plots.style import use_style

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

STAGES = ("decode", "landmarks", "align", "preprocess", "model", "post")


def _label(row: pd.Series) -> str:
    return f"{row['engine']} {row['precision']}, {row['threads']} thr"


def stage_times(table: pd.DataFrame) -> Figure:
    """Stacked bars of per-stage ms per frame, one bar per engine, end-to-end frames/s beside."""
    import matplotlib.pyplot as plt

    use_style()
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(table) + 1.2))
    labels = [_label(r) for _, r in table.iterrows()]
    left = np.zeros(len(table))
    for stage in STAGES:
        v = table[f"{stage}_ms"].to_numpy(float)
        ax.barh(labels, v, left=left, label=stage)
        left += v
    for y, (x, fps) in enumerate(zip(left, table["frames_per_s"], strict=True)):
        ax.text(x, y, f"  {fps:.1f} frames/s", va="center", fontsize=8)
    ax.set_xlabel("ms per frame (stage wall time; producer stages overlap the model)")
    ax.invert_yaxis()
    ax.legend(ncols=6, fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.set_xlim(0, left.max() * 1.35 if len(left) else 1)
    fig.tight_layout()
    return fig


def model_latency(table: pd.DataFrame) -> Figure:
    """ms per face against batch size, one line per engine, precision and threads."""
    import matplotlib.pyplot as plt

    use_style()
    fig, ax = plt.subplots(figsize=(4.5, 3.0))
    for key, g in table.groupby(["engine", "precision", "threads"], sort=False):
        ax.plot(g["batch"], g["ms_per_face"], marker="o", label=f"{key[0]} {key[1]}, {key[2]} thr")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("ms per face (median)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def predictions_over_time(
    joined: pd.DataFrame, columns: Sequence[str], *, x: str = "frame"
) -> Figure:
    """Predicted vs true values over a video, one panel per column (e.g. ``AU12``).

    Args:
        joined: :func:`libreface_nb.infer.columns.with_truth` output for one video
            (``true_<col>``, ``pred_<col>``; NaN predictions where no face was found).
        columns: the columns to plot.
        x: the time axis column.
    """
    import matplotlib.pyplot as plt

    use_style()
    fig, axes = plt.subplots(len(columns), 1, figsize=(6.5, 1.1 * len(columns) + 0.5),
                             sharex=True, squeeze=False)  # fmt: skip
    for ax, col in zip(axes[:, 0], columns, strict=True):
        ax.plot(joined[x], joined[f"true_{col}"], color="0.3", lw=1.2, label="true")
        ax.plot(joined[x], joined[f"pred_{col}"], color="C1", lw=1.0, label="predicted")
        ax.set_ylabel(col)
    axes[0, 0].legend(fontsize=7, ncols=2)
    axes[-1, 0].set_xlabel(x)
    fig.tight_layout()
    return fig
