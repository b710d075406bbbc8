"""Figures of the AU explorer (notebook 06): one per view, the same the widgets show.

Each function takes arrays and tables (:mod:`libreface_nb.widgets.analysis`,
:mod:`libreface_nb.widgets.timeline`) and returns a matplotlib Figure; the widgets render it to
PNG, the notebook saves it into the run folder. Nothing here imports ipywidgets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from libreface_nb.plots.style import OKABE_ITO, use_style

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Landmark dots and quad outline colours (Okabe-Ito): selected face, other faces.
SELECTED, OTHER = OKABE_ITO[1], OKABE_ITO[5]


def draw_face(ax: Axes, image: np.ndarray, faces: Sequence, selected: int | None) -> None:
    """``image`` with each face's landmarks (dots) and alignment quad (closed outline)."""
    ax.imshow(image)
    for k, face in enumerate(faces):
        lm, quad = face
        color = SELECTED if k == selected else OTHER
        if lm is not None:
            ax.scatter(lm[:, 0], lm[:, 1], s=0.6, c=color, linewidths=0)
        if quad is not None:
            q = np.vstack([quad, quad[:1]])
            ax.plot(q[:, 0], q[:, 1], color=color, lw=1.5)
            ax.text(quad[0, 0], quad[0, 1], f" face {k}", color=color, fontsize=8, va="bottom")
    ax.set_axis_off()


def au_bars(ax: Axes, readout: pd.DataFrame, threshold: float) -> None:
    """Horizontal AU bars (intensity 0–5, else probability 0–1), present ones filled, a line at
    the threshold."""
    use_int = readout["intensity"].notna().any()
    values = readout["intensity" if use_int else "prob"].to_numpy(float)
    top = 5.0 if use_int else 1.0
    y = np.arange(len(readout))[::-1]
    colors = [OKABE_ITO[0] if p else "#c8c8c8" for p in readout["present"]]
    ax.barh(y, np.nan_to_num(values), color=colors)
    ax.set_yticks(y, [f"{au}{' ●' if p else ''}" for au, p in readout["present"].items()])
    ax.axvline(threshold, color=OKABE_ITO[3], lw=1, ls="--")
    ax.set_xlim(0, top)
    ax.set_xlabel("intensity (0–5)" if use_int else "probability")
    ax.set_title(f"AUs (● present: ≥ {threshold:g})")


def expression_bars(ax: Axes, probs: pd.Series | None) -> None:
    """Expression probabilities, or a note that the model has no expression head."""
    if probs is None:
        ax.text(0.5, 0.5, "this model has no\nexpression head", ha="center", va="center")
        ax.set_axis_off()
        return
    y = np.arange(len(probs))[::-1]
    ax.barh(y, probs.to_numpy(float), color=OKABE_ITO[2])
    ax.set_yticks(y, list(probs.index))
    ax.set_xlim(0, 1)
    ax.set_title("expression probabilities")


def image_view(
    image: np.ndarray, faces: Sequence, selected: int | None, aligned: np.ndarray | None,
    readout: pd.DataFrame | None, threshold: float, probs: pd.Series | None = None,
    title: str = "",
) -> Figure:  # fmt: skip
    """Frame with landmarks and quads | aligned face | AU bars | expression probabilities.

    Args:
        faces: ``(landmarks [478, 2], quad [4, 2])`` per face.
        selected: the face whose aligned crop and bars are shown (None: no face found).
    """
    import matplotlib.pyplot as plt

    use_style()
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.6), width_ratios=[1.5, 1, 1.1, 1])
    draw_face(axes[0], image, faces, selected)
    axes[0].set_title(title or f"{len(faces)} face(s)")
    if aligned is None or readout is None:
        for ax in axes[1:]:
            ax.set_axis_off()
        axes[1].text(0.5, 0.5, "no face found", ha="center", va="center", fontsize=12)
        return fig
    axes[1].imshow(aligned)
    axes[1].set_title(f"aligned face {selected}")
    axes[1].set_axis_off()
    au_bars(axes[2], readout, threshold)
    expression_bars(axes[3], probs)
    fig.tight_layout()
    return fig


def video_view(
    frame: np.ndarray, lm: np.ndarray | None, quad: np.ndarray | None, time_s: np.ndarray,
    curves: Mapping[str, np.ndarray], current: int, probs: pd.DataFrame | None = None,
    title: str = "",
) -> Figure:  # fmt: skip
    """Current frame | AU timelines with a cursor at ``current`` | expression strip below.

    Args:
        time_s: ``[T]`` frame times; curves: AU name → ``[T]`` values (NaN: no face).
        probs: ``[T, classes]`` expression probabilities (columns = classes), or None.
    """
    import matplotlib.pyplot as plt

    use_style()
    fig = plt.figure(figsize=(12, 4.2))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 2.2], height_ratios=[3, 1])
    ax_f = fig.add_subplot(grid[:, 0])
    draw_face(ax_f, frame, [(lm, quad)], 0)
    ax_f.set_title(title or f"frame {current}")
    ax_t = fig.add_subplot(grid[0, 1])
    for k, (name, v) in enumerate(curves.items()):
        ax_t.plot(time_s, v, label=name, color=OKABE_ITO[k % len(OKABE_ITO)], lw=1.2)
    ax_t.axvline(time_s[current], color="k", lw=1)
    ax_t.set_ylim(0, 5.2 if all(not n.endswith("_prob") for n in curves) else 1.05)
    ax_t.set_ylabel("intensity")
    if curves:
        ax_t.legend(loc="upper right", ncol=min(6, len(curves)), fontsize=7)
    ax_e = fig.add_subplot(grid[1, 1], sharex=ax_t)
    if probs is None:
        ax_e.text(0.5, 0.5, "no expression head", ha="center", va="center",
                  transform=ax_e.transAxes)  # fmt: skip
        ax_e.set_yticks([])
    else:
        step = float(np.median(np.diff(time_s))) if len(time_s) > 1 else 1.0
        extent = (time_s[0] - step / 2, time_s[-1] + step / 2, len(probs.columns) - 0.5, -0.5)
        ax_e.imshow(probs.to_numpy(float).T, aspect="auto", extent=extent, vmin=0, vmax=1,
                    cmap="magma", interpolation="nearest")  # fmt: skip
        ax_e.set_yticks(range(len(probs.columns)), list(probs.columns), fontsize=6)
        ax_e.axvline(time_s[current], color="w", lw=1)
    ax_e.set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def sandbox_view(
    face: np.ndarray, set_values: Mapping[str, float], predicted: Mapping[str, float],
    title: str = "",
) -> Figure:  # fmt: skip
    """The rendered SynthAU face | per AU: the intensity set (grey) and the model's (blue)."""
    import matplotlib.pyplot as plt

    use_style()
    fig, (ax_f, ax_b) = plt.subplots(1, 2, figsize=(9, 3.6), width_ratios=[1, 1.6])
    ax_f.imshow(face)
    ax_f.set_axis_off()
    ax_f.set_title(title or "SynthAU face")
    names = list(set_values)
    x = np.arange(len(names))
    ax_b.bar(x - 0.2, [set_values[n] for n in names], 0.4, color="#a0a0a0", label="set")
    pred = [predicted.get(n, np.nan) for n in names]
    ax_b.bar(x + 0.2, np.nan_to_num(pred), 0.4, color=OKABE_ITO[0], label="model")
    ax_b.set_xticks(x, names, rotation=60, fontsize=7)
    ax_b.set_ylim(0, 5)
    ax_b.set_ylabel("intensity")
    ax_b.legend(loc="upper right", fontsize=7)
    ax_b.set_title("does the model read back what you set?")
    fig.tight_layout()
    return fig


def saliency_view(aligned: np.ndarray, saliency: np.ndarray, label: str, method: str) -> Figure:
    """The aligned face | the map over it (alpha-blended)."""
    import matplotlib.pyplot as plt

    use_style()
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    axes[0].imshow(aligned)
    axes[0].set_title("aligned face")
    axes[1].imshow(saliency, cmap="inferno", vmin=0, vmax=1)
    axes[1].set_title(f"{method}: {label}")
    axes[2].imshow(aligned)
    axes[2].imshow(saliency, cmap="inferno", alpha=0.55, vmin=0, vmax=1)
    axes[2].set_title("overlay")
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    return fig
