"""Atomic file writes: the one helper every module uses to write a file under its final name.

A file is written to a temporary name in the same folder (so the rename never crosses file
systems), flushed, then renamed over the target with :func:`os.replace`. A reader therefore sees
either the old file or the whole new one, and a crash of the process mid-write leaves at most a
hidden ``.<name>.*.tmp`` file behind, never a half-written file under the final name. Files are not
fsynced (a power loss may lose the newest writes, never leave a torn one under the final name on
journalling file systems): the face store writes thousands of small files and stays fast.

The temporary file is created with mode ``0o666`` less the process umask, as a plain ``open(path,
"w")`` creates a new file (e.g. ``0o644`` under umask 022), so the renamed file is readable by
whoever may read the folder's other outputs; ``tempfile.mkstemp``'s ``0o600`` is not used. An
existing file's mode is not kept: the new file replaces it.

Use :func:`write_bytes`, :func:`write_text` or :func:`write_json` for data in memory, and
:func:`atomic_path` for writers that want a path (``torch.save``, ``DataFrame.to_parquet``,
``pyarrow.parquet.write_table``)::

    with atomic_path(out / "best.pt") as tmp:
        torch.save(state, tmp)
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: flags of the new temporary file: created here, never an existing file or a link
_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


def _temp_in(path: Path) -> tuple[int, Path]:
    """A new hidden ``.<name>.<random>.tmp`` beside ``path``, open for writing (mode 0o666 less
    the umask, as ``open`` gives a new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temporary file exists (empty) when the block starts; on any exception it is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = _temp_in(path)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent folders are created)."""
    path = Path(path)
    fd, tmp = _temp_in(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any, *, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON (non-JSON values through ``str``) to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=indent, default=str) + "\n")
