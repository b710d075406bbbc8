"""Figure style and saving: every figure is shown in the notebook and saved as PDF + PNG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
        fig.savefig(path)
    return paths


#: Okabe & Ito (2008) colour-blind-safe palette, in the order figures use it.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: Figure widths (inches) for a one-column and a two-column paper layout.
ONE_COLUMN, TWO_COLUMN = 3.5, 7.1
#: The publication style: the workbook style, Okabe-Ito colours, small fonts, editable PDF text.
PAPER_STYLE = {**STYLE, "font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7,
               "legend.fontsize": 6, "xtick.labelsize": 6, "ytick.labelsize": 6,
               "pdf.fonttype": 42, "savefig.dpi": 300}  # fmt: skip


def use_paper_style() -> None:
    """Apply :data:`PAPER_STYLE` with the :data:`OKABE_ITO` colour cycle (idempotent)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(PAPER_STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(OKABE_ITO))
