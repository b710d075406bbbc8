"""Figures of training: MAE reconstructions and training curves (notebooks 02 and 04).

Functions take arrays or history records (read with
:func:`libreface_nb.train.state.read_history`), never paths, and return a matplotlib Figure;
saving is the caller's job (:func:`libreface_nb.plots.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from libreface_nb.errors import ConfigError
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


def _records(item: Sequence[Mapping[str, Any]] | pd.DataFrame) -> list[Mapping[str, Any]]:
    if isinstance(item, str | Path):
        raise ConfigError(
            f"{item}: plots take data, not paths; read it with "
            "libreface_nb.train.state.read_history and pass the records"
        )
    if isinstance(item, pd.DataFrame):
        return item.to_dict("records")
    return list(item)


def _keys(recs: list[Mapping[str, Any]], wanted: str | None, is_metric: bool) -> list[str]:
    """``[wanted]``, or (None) every numeric loss key (``train_…``) or ``val_…`` metric."""
    if wanted is not None:
        return [wanted]
    keys = dict.fromkeys(k for r in recs for k, v in r.items() if isinstance(v, int | float))
    keys.pop("epoch", None)
    if is_metric:
        return [k for k in keys if k.startswith("val_") and "loss" not in k]
    return [k for k in keys if "loss" in k and not k.startswith("val_")]


def training_curves(
    histories: Mapping[str, Sequence[Mapping[str, Any]] | pd.DataFrame],
    metric: str | None = None,
    loss: str | None = None,
) -> Figure:
    """Training losses (left) and validation metrics (right) per epoch, one colour per run.

    Args:
        histories: run label → its per-epoch records
            (:func:`libreface_nb.train.state.read_history`, ``fit(...).history``) or a DataFrame
            of them. Each record has ``epoch`` (0-based; plotted 1-based) and numeric keys.
        metric: the validation key to plot (``val_pcc``, ``val_f1``, ``val_accuracy``,
            ``val_loss``); None: every ``val_…`` key that is not a loss. Runs without it are
            left out of that panel.
        loss: the training key (``train_loss``); None: every ``…loss…`` key not starting
            with ``val_`` (distillation's terms, each in its own line style).

    The best epoch of each run (``best`` true in its last improving record) is marked on the
    right panel. A run with no records draws nothing.
    """
    import matplotlib.pyplot as plt

    use_style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    styles = ["-", "--", ":", "-."]
    for i, (label, item) in enumerate(histories.items()):
        recs = _records(item)
        if not recs:
            continue
        color = f"C{i}"
        epochs = [int(r["epoch"]) + 1 if "epoch" in r else k + 1 for k, r in enumerate(recs)]
        losses, metrics = _keys(recs, loss, False), _keys(recs, metric, True)
        for k, key in enumerate(losses):
            name = label if loss is not None or len(losses) == 1 else f"{label}: {key}"
            left.plot(epochs, [r.get(key, np.nan) for r in recs], marker="o", ms=3,
                      color=color, ls=styles[k % 4], label=name)  # fmt: skip
        drawn = False
        for k, key in enumerate(metrics):
            values = [r.get(key, np.nan) for r in recs]
            if np.all(np.isnan(np.asarray(values, dtype=float))):
                continue
            name = label if metric is not None or len(metrics) == 1 else f"{label}: {key}"
            right.plot(epochs, values, marker="o", ms=3, color=color, ls=styles[k % 4],
                       label=name)  # fmt: skip
            drawn = True
        best = [e for e, r in zip(epochs, recs, strict=True) if r.get("best")]
        if drawn and best:
            right.axvline(best[-1], color=color, ls=":", lw=1)
    ylabel = loss.replace("_", " ") if loss else "training loss"
    left.set(xlabel="epoch", ylabel=ylabel, title="training loss")
    title = f"validation ({metric})" if metric else "validation"
    right.set(xlabel="epoch", ylabel=metric.replace("_", " ") if metric else "validation metric",
              title=title)  # fmt: skip
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
