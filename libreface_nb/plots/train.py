"""Figures for notebook 02: MAE reconstructions and training curves from ``history.jsonl`` files.

Functions take arrays or history records and return a matplotlib Figure; saving is the caller's
job (:func:`libreface_nb.plots.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from libreface_nb.plots.style import use_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = ("masked", "reconstruction", "original")


def reconstruction_figure(
    masked: np.ndarray, reconstruction: np.ndarray, original: np.ndarray, *, size: float = 1.6
) -> Figure:
    """One row per face: masked input, MAE reconstruction, original (uint8 [N, H, W, 3] each).

    Build the arrays with :meth:`libreface_nb.train.mae.MAE.reconstruct` and
    :func:`libreface_nb.data.transforms.denormalize`.
    """
    import matplotlib.pyplot as plt

    use_style()
    n = len(original)
    fig, axes = plt.subplots(n, 3, figsize=(3 * size, n * size), squeeze=False)
    for r in range(n):
        for c, img in enumerate((masked[r], reconstruction[r], original[r])):
            ax = axes[r, c]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(COLUMNS[c])
    fig.tight_layout()
    return fig


def _records(item: str | Path | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(item, str | Path):
        from libreface_nb.train.state import read_history

        return read_history(item)
    return list(item)


def training_curves(
    histories: Mapping[str, str | Path | Sequence[Mapping[str, Any]]],
    metric: str = "val_loss",
    loss: str = "train_loss",
) -> Figure:
    """Training loss (left) and a validation metric (right) per epoch, one line per run.

    Args:
        histories: run label → ``history.jsonl`` path or its records
            (:func:`libreface_nb.train.state.read_history`).
        metric: the validation key to plot (``val_pcc``, ``val_f1``, ``val_accuracy``,
            ``val_loss``); runs without it are left out of that panel.
        loss: the training key (``train_loss``).

    The best epoch of each run (``best`` true in its last improving record) is marked.
    """
    import matplotlib.pyplot as plt

    use_style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    for label, item in histories.items():
        recs = _records(item)
        epochs = [r["epoch"] + 1 for r in recs]
        (line,) = left.plot(epochs, [r.get(loss, np.nan) for r in recs], marker="o", ms=3,
                            label=label)  # fmt: skip
        values = [r.get(metric, np.nan) for r in recs]
        if not np.all(np.isnan(np.asarray(values, dtype=float))):
            right.plot(epochs, values, marker="o", ms=3, color=line.get_color(), label=label)
            best = [e for e, r in zip(epochs, recs, strict=True) if r.get("best")]
            if best:
                right.axvline(best[-1], color=line.get_color(), ls=":", lw=1)
    left.set(xlabel="epoch", ylabel=loss.replace("_", " "), title="training loss")
    right.set(xlabel="epoch", ylabel=metric.replace("_", " "), title=f"validation ({metric})")
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
