"""Folders of real portraits: who is in them and which photos show the same person.

A real-face folder holds ``neutral/<person>.<ext>`` and, for some persons,
``smiling/<person>.<ext>``: the same file stem is the same person, photographed in one session.
The workbook carries one (:data:`~libreface_nb.data.synth.base.REAL_FACES`, 100 adults,
``data_cards/real_faces.md``); its neutral photos are SynthAU's base persons
(``base_photos = "real_faces"``) and notebook 04's real-face checks read both kinds
(:mod:`libreface_nb.eval.real_faces`).

Photo-set table (:func:`photo_set`): ``person`` str, ``expression`` (``neutral``/``smiling``),
``path`` str (absolute), sorted by person then expression.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from libreface_nb.errors import DatasetLayoutError

EXPRESSIONS: tuple[str, ...] = ("neutral", "smiling")
_SUFFIXES = (".jpg", ".jpeg", ".png")


def photo_set(folder: str | Path) -> pd.DataFrame:
    """The photos of ``folder`` (see the module docstring), sorted by person then expression.

    Raises:
        DatasetLayoutError: no ``neutral/`` folder, or it holds no image.
    """
    root = Path(folder).expanduser()
    if not (root / "neutral").is_dir():
        raise DatasetLayoutError(
            f"{root}: a real-face folder holds neutral/<person>.jpg (and smiling/<person>.jpg "
            "for the paired-smile check); point real_faces at such a folder, e.g. 'real_faces'"
        )
    rows = [
        {"person": p.stem, "expression": kind, "path": str(p.resolve())}
        for kind in EXPRESSIONS
        if (root / kind).is_dir()
        for p in sorted((root / kind).iterdir())
        if p.suffix.lower() in _SUFFIXES
    ]
    table = pd.DataFrame(rows, columns=["person", "expression", "path"])
    if not (table["expression"] == "neutral").any():
        raise DatasetLayoutError(f"{root / 'neutral'}: no .jpg/.png photo")
    return table.sort_values(["person", "expression"], ignore_index=True)


def resolve_folder(spec: str) -> Path:
    """``"real_faces"`` → the carried photo folder; anything else is a path."""
    from libreface_nb.data.synth.base import REAL_FACES, REAL_FACES_NAME

    return REAL_FACES if spec == REAL_FACES_NAME else Path(spec).expanduser()
