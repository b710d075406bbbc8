"""RAF-DB (basic expressions) reader: the layout its providers ship, read into the index format.

Layout (Li, Deng & Du 2017; see ``data_cards/rafdb.md``)::

    <root>/basic/EmoLabel/list_patition_label.txt   lines "train_00001.jpg 5"
    <root>/basic/Image/original/train_00001.jpg
    <root>/basic/Image/aligned/train_00001_aligned.jpg

The file name (with its misspelt "patition") is RAF-DB's own. Labels 1–7 are in RAF-DB's
order (1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger, 7 Neutral) and are
mapped to :data:`libreface_nb.config.EXPRESSIONS` with :data:`~libreface_nb.config.RAFDB_TO_FER`;
the raw label is kept in ``native_label``. The split is the name prefix (``train``/``test``).
RAF-DB has no subject ids: ``subject`` is the image stem.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from libreface_nb.config import RAFDB_TO_FER
from libreface_nb.data.fixtures import fer as fixture_fer
from libreface_nb.data.index import attach_excluded, build_index, excluded_table, resolve_root
from libreface_nb.data.registry import DatasetSpec
from libreface_nb.errors import DatasetLayoutError

log = logging.getLogger(__name__)

LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"
IMAGE_KINDS = ("original", "aligned")
SPLITS = ("train", "test")


def image_path(root: Path, name: str, images: str) -> Path:
    """Image of ``name`` (``train_00001.jpg``) in the ``original`` or ``aligned`` folder."""
    if images == "aligned":
        return root / "Image" / "aligned" / f"{Path(name).stem}_aligned.jpg"
    return root / "Image" / "original" / name


def read_label_file(path: Path) -> pd.DataFrame:
    """Parse ``list_patition_label.txt`` into columns ``name``, ``label`` (1–7), ``split``.

    Raises:
        DatasetLayoutError: naming the file and line of the first malformed entry.
    """
    if not path.is_file():
        raise DatasetLayoutError(f"RAF-DB label file missing: {path}")
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in RAFDB_TO_FER:
            raise DatasetLayoutError(f"{path}:{lineno}: expected '<name>.jpg <1-7>', got {line!r}")
        split = parts[0].split("_")[0]
        if split not in SPLITS:
            raise DatasetLayoutError(
                f"{path}:{lineno}: name {parts[0]!r} starts with neither train_ nor test_"
            )
        rows.append((parts[0], int(parts[1]), split))
    if not rows:
        raise DatasetLayoutError(f"{path}: no labels")
    table = pd.DataFrame(rows, columns=["name", "label", "split"])
    if table["name"].duplicated().any():
        raise DatasetLayoutError(
            f"{path}: image {table['name'][table['name'].duplicated()].iloc[0]!r} listed twice"
        )
    return table


def read_index(
    root: str | Path, *, images: str = "original", check_files: bool = True
) -> pd.DataFrame:
    """Read a RAF-DB root into the index format (one row per image).

    Args:
        root: the ``basic`` folder, or a folder holding ``basic/``.
        images: ``"original"`` (whole photographs: our face preprocessing aligns them) or
            ``"aligned"`` (RAF-DB's own 100×100 crops).
        check_files: require every listed image to exist.

    Raises:
        DatasetLayoutError: wrong root, missing or malformed label file, missing images.
    """
    if images not in IMAGE_KINDS:
        raise DatasetLayoutError(f"RAF-DB images must be one of {IMAGE_KINDS}, not {images!r}")
    root = resolve_root(root, str(LABEL_FILE), ["basic", "RAF-DB/basic", "rafdb/basic"], "RAF-DB")
    table = read_label_file(root / LABEL_FILE)
    sources = [image_path(root, n, images) for n in table["name"]]
    if check_files:
        missing = [p for p in sources if not p.is_file()]
        if missing:
            raise DatasetLayoutError(
                f"RAF-DB: {len(missing)} images listed in {root / LABEL_FILE} are missing, "
                f"first {missing[0]}"
            )
    columns = {
        "dataset": "rafdb",
        "subject": [Path(n).stem for n in table["name"]],
        "session": "",
        "source": [str(p) for p in sources],
        "frame": 0,
        "native_frame": 0,
        "split": table["split"],
        "expression": table["label"].map(RAFDB_TO_FER),
        "native_label": table["label"].astype("int64"),
    }
    df = build_index(columns, [])
    log.info("RAF-DB: %d images (%s) from %s", len(df), images, root)
    return attach_excluded(df, excluded_table([]), "RAF-DB")


#: The registry entry (:mod:`libreface_nb.data.registry`).
SPEC = DatasetSpec(
    name="rafdb",
    read_index=read_index,
    write_fixture=fixture_fer.write_rafdb,
    fixture_sizes=fixture_fer.RAFDB_SIZES,
    notebook_sizes=fixture_fer.rafdb_notebook_sizes,
    official_split=True,
    card="rafdb.md",
)
