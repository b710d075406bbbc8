"""One figure style and a saver that writes PDF + PNG into a run folder."""

from libreface_nb.plots.style import save_figure, use_style

__all__ = ["save_figure", "use_style"]
