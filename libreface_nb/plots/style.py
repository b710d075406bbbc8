"""Figure style and saving: every figure is shown in the notebook and saved as PDF + PNG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from libreface_nb.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the workbook's matplotlib style (idempotent)."""
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)


def save_figure(fig: Figure, folder: Path | str, name: str) -> list[Path]:
    """Save ``fig`` as ``folder/figures/<name>.pdf`` and ``.png``; returns both paths."""
    out = Path(folder) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.pdf", out / f"{name}.png"]
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:])
    return paths
