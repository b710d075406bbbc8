"""Figures of the real-face checks (:mod:`libreface_nb.eval.real_faces`), in the paper style.

Functions take the tables of that module and return a Figure; saving is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from libreface_nb.plots.style import OKABE_ITO, TWO_COLUMN, use_paper_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Line colours: higher on the smiling photo (bluish green), not higher (vermillion).
_UP, _DOWN = OKABE_ITO[2], OKABE_ITO[3]


def smile_pairs(diffs: Mapping[str, pd.DataFrame], aus: Sequence[str]) -> Figure:
    """One panel per model and AU: each held-out person's predicted intensity on the neutral
    photo (left) joined to the smiling one (right); the title counts persons higher when smiling.

    Args:
        diffs: model → :func:`~libreface_nb.eval.real_faces.smile_differences` table.
        aus: AU columns to show (e.g. ``("AU12", "AU06", "AU25")``).
    """
    import matplotlib.pyplot as plt

    use_paper_style()
    models = list(diffs)
    fig, axes = plt.subplots(len(models), len(aus), figsize=(TWO_COLUMN, 1.9 * len(models)),
                             squeeze=False, sharey=True)  # fmt: skip
    for r, model in enumerate(models):
        table = diffs[model]
        for c, au in enumerate(aus):
            ax = axes[r, c]
            if f"{au}_diff" not in table or table.empty:
                ax.set_title(f"{model} · {au}: no pair")
                continue
            lo, hi = table[f"{au}_neutral"].to_numpy(), table[f"{au}_smiling"].to_numpy()
            for a, b in zip(lo, hi, strict=True):
                ax.plot([0, 1], [a, b], color=_UP if b > a else _DOWN, lw=0.8, alpha=0.8,
                        marker="o", ms=2)  # fmt: skip
            higher = int(np.sum(hi > lo))
            ax.set_title(f"{model} · {au}: {higher}/{len(lo)} higher when smiling")
            ax.set_xticks([0, 1], ["neutral", "smiling"])
            ax.set_xlim(-0.25, 1.25)
            if c == 0:
                ax.set_ylabel("predicted intensity (0–5)")
    fig.tight_layout()
    return fig


def neutral_means(summaries: Mapping[str, pd.DataFrame], limit: float = 0.5) -> Figure:
    """Mean predicted intensity per AU on neutral photos of held-out persons, per model, with
    the bootstrap interval and a dashed line at ``limit``.

    Args:
        summaries: model → :func:`~libreface_nb.eval.real_faces.neutral_summary` table.
    """
    import matplotlib.pyplot as plt

    use_paper_style()
    fig, ax = plt.subplots(figsize=(TWO_COLUMN, 2.2))
    models = list(summaries)
    width = 0.8 / max(1, len(models))
    aus: list[str] = []
    for i, (model, table) in enumerate(summaries.items()):
        part = table[~table["output"].isin(["mean", "max"])]
        aus = list(part["output"])
        x = np.arange(len(aus)) + (i - (len(models) - 1) / 2) * width
        v = part["value"].to_numpy(float)
        err = np.vstack([v - part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float) - v])
        err = np.where(np.isfinite(err), err, 0.0)
        ax.bar(x, v, width, yerr=err, color=f"C{i}", label=model, capsize=1.5)
    ax.axhline(limit, color="0.3", ls="--", lw=0.8)
    ax.set_xticks(range(len(aus)), aus)
    ax.set_ylabel("mean on neutral faces (0–5)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
