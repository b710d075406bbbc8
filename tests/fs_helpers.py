"""File-system helpers shared by tests."""

from __future__ import annotations

from pathlib import Path


def plain_mode(folder: Path) -> int:
    """The mode a plain ``open(path, "w")`` gives a new file in ``folder`` under this umask."""
    plain = folder / "plain.txt"
    with open(plain, "w") as fh:
        fh.write("x")
    mode = plain.stat().st_mode & 0o777
    plain.unlink()
    return mode
