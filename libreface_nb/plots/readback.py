"""Figure of the real-face read-back (:mod:`libreface_nb.eval.readback`): proxy vs AU output.

A sanity check, not a metric: each panel plots one geometric proxy against the model's output
for an AU that should rise with it, with Pearson's r in the title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from libreface_nb.plots.style import use_style

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def readback_figure(
    proxies: pd.DataFrame, predictions: pd.DataFrame, table: pd.DataFrame, title: str = ""
) -> Figure:
    """One scatter per (proxy, AU) row of ``table`` (:func:`~libreface_nb.eval.readback.readback`).

    Args:
        proxies: :func:`~libreface_nb.eval.readback.proxies_of` of ``predictions`` (same index).
        predictions: the predictions table (its AU columns are named in ``table.column``).
        table: the read-back table.
        title: optional figure title (e.g. the media's name).
    """
    import matplotlib.pyplot as plt

    use_style()
    n = max(1, len(table))
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows), squeeze=False)
    for ax, (_, r) in zip(axes.flat, table.iterrows(), strict=False):
        ax.scatter(proxies[r["proxy"]], predictions[r["column"]], s=6, alpha=0.6)
        ax.set_xlabel(f"{r['proxy']} (IOD)")
        ax.set_ylabel(r["column"])
        agree = "follows" if r["agrees"] else "AGAINST"
        ax.set_title(f"{r['au']}: r = {r['pearson']:.2f} ({agree}, n={r['n']})", fontsize=8)
    for ax in list(axes.flat)[len(table) :]:
        ax.set_visible(False)
    fig.suptitle(title or "read-back: a sanity check, not a metric", fontsize=9)
    fig.tight_layout()
    return fig
