"""Figures for notebook 03: distillation loss terms per epoch and per-output results per model.

Every function takes plain data (fit histories, metric dicts) and returns a matplotlib Figure;
saving is the caller's job (:func:`libreface_nb.plots.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from libreface_nb.plots.style import use_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: History keys of :class:`libreface_nb.train.distill.DistillStep`'s terms, and their titles.
TERMS = {
    "train_task": "task loss (train)",
    "train_feature": "feature MSE (train)",
    "train_kl": "KL (train)",
}


def loss_terms(histories: Mapping[str, Sequence[Mapping[str, Any]]], monitor: str) -> Figure:
    """One panel per loss term and one for ``monitor``; one line per model.

    Args:
        histories: model name → fit history records (``history.jsonl`` rows: ``epoch``,
            ``train_task``, ``train_feature``, ``train_kl``, ``monitor`` …). A model without a
            term (e.g. the undistilled student has no feature or KL term) has no line there.
        monitor: the validation metric shown in the last panel, e.g. ``val_pcc``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    use_style()
    panels = {**TERMS, monitor: f"{monitor} (validation)"}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 2.6), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels.items(), strict=True):
        for i, (name, hist) in enumerate(histories.items()):
            pts = [(r["epoch"] + 1, r[key]) for r in hist if r.get(key) is not None]
            if pts:  # one colour per model in every panel, even where a model has no line
                x, y = zip(*pts, strict=True)
                ax.plot(x, y, marker="o", label=name, color=f"C{i % 10}")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False,
                   bbox_to_anchor=(0.5, 1.1))  # fmt: skip
    fig.tight_layout()
    return fig


def per_output_comparison(
    per_output: Mapping[str, Mapping[str, float]], metric: str, means: Mapping[str, float] = ()
) -> Figure:
    """Grouped bars: one group per output (AU or class), one bar per model.

    Args:
        per_output: model name → {output name → value}; NaN (undefined) draws no bar.
        metric: axis label, e.g. ``PCC`` or ``F1``.
        means: model name → mean value, drawn as an extra ``mean`` group when given.
    """
    import matplotlib.pyplot as plt

    use_style()
    models = list(per_output)
    outputs = list(next(iter(per_output.values()))) if models else []
    groups = outputs + (["mean"] if means else [])
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(groups) * max(len(models), 1) ** 0.5), 2.8))
    x = np.arange(len(groups))
    for i, name in enumerate(models):
        vals = [per_output[name].get(o, np.nan) for o in outputs]
        if means:
            vals.append(means.get(name, np.nan))
        ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, label=name)
    ax.set_xticks(x, groups, rotation=45, ha="right")
    ax.set_ylabel(metric)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(frameon=False, fontsize=7, ncol=min(len(models), 3))
    fig.tight_layout()
    return fig
