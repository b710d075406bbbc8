"""Figures for notebook 01: label distributions, face grids, augmentation gallery, AU atlas.

Every function takes arrays or DataFrames and returns a matplotlib Figure; saving is the caller's
job (:func:`libreface_nb.plots.save_figure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from libreface_nb.plots.style import use_style

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return int(np.ceil(n / ncols)), ncols


def label_distributions(index: pd.DataFrame, columns: Sequence[str], *, bins: int = 11) -> Figure:
    """One histogram per label column (NaN = unknown is counted and shown in the title).

    Args:
        index: dataset index table with the label columns.
        columns: label columns, e.g. ``["AU01", "AU02", …]``.
        bins: histogram bins over the observed range (intensities 0–5 → 11 half-steps).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    use_style()
    rows, cols = _grid(len(columns), 6)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.6 * rows), squeeze=False)
    for ax, col in zip(axes.flat, columns, strict=False):
        values = index[col].to_numpy(dtype=float)
        known = values[~np.isnan(values)]
        hi = max(float(known.max()) if known.size else 1.0, 1.0)
        ax.hist(known, bins=bins, range=(0, hi), color="tab:blue")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        unknown = int(np.isnan(values).sum())
        ax.set_title(f"{col}" + (f" ({unknown} unknown)" if unknown else ""))
    for ax in axes.flat[len(columns) :]:
        ax.axis("off")
    fig.supxlabel("label value")
    fig.supylabel("frames (log)")
    fig.tight_layout()
    return fig


def expression_distribution(index: pd.DataFrame) -> Figure:
    """Samples per expression class (names in LibreFace's order), one bar group per split."""
    import matplotlib.pyplot as plt

    from libreface_nb.config import EXPRESSIONS

    use_style()
    splits = sorted(set(index["split"])) or [""]
    x = np.arange(len(EXPRESSIONS))
    width = 0.8 / len(splits)
    fig, ax = plt.subplots(figsize=(6, 2.4))
    for i, split in enumerate(splits):
        part = index[index["split"] == split]
        counts = [int((part["expression"] == k).sum()) for k in range(len(EXPRESSIONS))]
        ax.bar(x + i * width - 0.4 + width / 2, counts, width, label=split or "all")
    ax.set_xticks(x, EXPRESSIONS, rotation=30, ha="right")
    ax.set_ylabel("images")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def labels_figure(index: pd.DataFrame, columns: Sequence[str]) -> Figure:
    """The right label figure for an index: AU histograms, or expression class counts."""
    if list(columns) == ["expression"]:
        return expression_distribution(index)
    return label_distributions(index, columns)


def face_grid(
    images: Sequence[np.ndarray], captions: Sequence[str] = (), *, ncols: int = 6, size: float = 1.8
) -> Figure:
    """Show uint8 RGB faces [H, W, 3] in a grid with optional multi-line captions."""
    import matplotlib.pyplot as plt

    use_style()
    rows, cols = _grid(len(images), ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, (size + 0.35) * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i])
            if i < len(captions):
                ax.set_title(captions[i], fontsize=6)
    fig.tight_layout()
    return fig


def au_atlas(images: np.ndarray, aus: Sequence[str], levels: Sequence[float]) -> Figure:
    """AU atlas: one row per AU, one column per intensity level.

    Args:
        images: uint8 [len(aus), len(levels), H, W, 3].
        aus: row labels, e.g. ``["AU01", …]``.
        levels: column labels (intensities).
    """
    import matplotlib.pyplot as plt

    use_style()
    n, m = len(aus), len(levels)
    fig, axes = plt.subplots(n, m, figsize=(1.5 * m, 1.5 * n), squeeze=False)
    for r in range(n):
        for c in range(m):
            ax = axes[r, c]
            ax.imshow(images[r, c])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"intensity {levels[c]:g}")
            if c == 0:
                ax.set_ylabel(aus[r], rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def status_counts(manifest: pd.DataFrame) -> Figure:
    """Bar chart of manifest statuses (ok, no_face, unreadable, …)."""
    import matplotlib.pyplot as plt

    use_style()
    counts = manifest["status"].value_counts()
    fig, ax = plt.subplots(figsize=(3.5, 2.2))
    ax.bar(counts.index.astype(str), counts.to_numpy(), color="tab:green")
    for x, v in enumerate(counts.to_numpy()):
        ax.text(x, v, str(v), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("manifest rows")
    fig.tight_layout()
    return fig
