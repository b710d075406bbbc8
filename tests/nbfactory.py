"""Build tiny notebooks for runner tests (no real notebook needed)."""

from __future__ import annotations

from pathlib import Path

import nbformat


def make_notebook(path: Path, params: str, body: str, header: str | None = None) -> Path:
    """Write a notebook: a markdown header, a cell tagged ``parameters``, then ``body``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    header = (
        header or "# Test\n\nWhat it does. **Inputs**: none. **Outputs**: none. **Expected**: -"
    )
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(header), cell, nbformat.v4.new_code_cell(body)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
