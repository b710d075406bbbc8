"""AffectNet reader (manually annotated part): image folders plus CSV lists, into the index format.

Layout (Mollahosseini, Hasani & Mahoor 2017; see ``data_cards/affectnet.md``)::

    <root>/Manually_Annotated_file_lists/training.csv     with a header row
    <root>/Manually_Annotated_file_lists/validation.csv   often shipped without one
    <root>/Manually_Annotated_Images/<dir>/<file>.jpg

CSV columns: subDirectory_filePath, face_x, face_y, face_width, face_height,
facial_landmarks, expression, valence, arousal. Expressions 0–7 are already in
:data:`libreface_nb.config.EXPRESSIONS` order; 8 None, 9 Uncertain and 10 Non-Face are not
FER classes: those rows are left out and counted in ``df.attrs["excluded"]``. The official
validation set stands in for the unreleased test set, so ``split`` is ``"train"`` or
``"validation"``. AffectNet has no subject ids: ``subject`` is the image stem.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.data.fixtures import fer as fixture_fer
from libreface_nb.data.index import attach_excluded, build_index, excluded_table, resolve_root
from libreface_nb.data.registry import DatasetSpec
from libreface_nb.errors import DatasetLayoutError

log = logging.getLogger(__name__)

LIST_DIR = "Manually_Annotated_file_lists"
IMAGE_DIRS = (
    "Manually_Annotated_Images",
    "Manually_Annotated/Manually_Annotated_Images",
    "Manually_Annotated_compressed/Manually_Annotated_Images",
)
CSV_COLUMNS = (
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
    "valence",
    "arousal",
)
#: Official list file → our split name.
SPLIT_FILES = {"train": "training.csv", "validation": "validation.csv"}
#: AffectNet codes that are not expression classes.
NON_FER = {8: "None", 9: "Uncertain", 10: "Non-Face"}
CONTEMPT = 7


def read_list_file(path: Path) -> pd.DataFrame:
    """One list CSV with or without its header row, as a table with :data:`CSV_COLUMNS`.

    Raises:
        DatasetLayoutError: missing file, wrong column count, or an expression outside 0–10.
    """
    if not path.is_file():
        raise DatasetLayoutError(f"AffectNet list file missing: {path}")
    with path.open() as handle:
        first = handle.readline()
    has_header = first.split(",")[0].strip() == CSV_COLUMNS[0]
    table = pd.read_csv(
        path,
        header=0 if has_header else None,
        names=list(CSV_COLUMNS),
        dtype={"subDirectory_filePath": str, "facial_landmarks": str},
        keep_default_na=False,
        on_bad_lines="error",
        engine="c",
    )
    expression = pd.to_numeric(table["expression"], errors="coerce")
    bad = expression.isna() | ~expression.isin(range(11))
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise DatasetLayoutError(
            f"{path}: line {i + 1 + has_header} has expression {table['expression'].iloc[i]!r}; "
            "expected an integer 0–10"
        )
    table["expression"] = expression.astype("int64")
    return table


def image_root(root: Path) -> Path:
    """The folder holding the image sub-folders, under any accepted name."""
    for name in IMAGE_DIRS:
        if (root / name).is_dir():
            return root / name
    raise DatasetLayoutError(f"AffectNet: image folder missing, expected {root / IMAGE_DIRS[0]}")


def _keep_mask(table: pd.DataFrame, split: str, classes: int, excluded: list) -> np.ndarray:
    """Rows that are FER classes; count the others into ``excluded``."""
    keep = table["expression"] < (CONTEMPT if classes == 7 else CONTEMPT + 1)
    codes = dict(NON_FER)
    if classes == 7:
        codes[CONTEMPT] = "Contempt (AffectNet-7)"
    for code, name in codes.items():
        n = int((table["expression"] == code).sum())
        if n:
            excluded.append((split, f"{code} {name}", "not a FER class", n))
    return keep.to_numpy()


def read_index(root: str | Path, *, classes: int = 8, check_files: bool = True) -> pd.DataFrame:
    """Read an AffectNet root into the index format (one row per FER-labelled image).

    Args:
        root: the AffectNet folder (holding ``Manually_Annotated_file_lists``) or its parent.
        classes: 8 (AffectNet-8, LibreFace's setting) or 7 (contempt also left out).
        check_files: require every kept image to exist.

    Returns:
        The index, with extra columns ``face_x``, ``face_y``, ``face_width``, ``face_height``
        (the providers' face box, pixels), ``valence``, ``arousal`` and ``native_label``;
        ``df.attrs["excluded"]`` counts the rows left out per split and code.

    Raises:
        DatasetLayoutError: wrong root, missing or malformed list file, missing images.
    """
    if classes not in (7, 8):
        raise DatasetLayoutError(f"AffectNet classes must be 7 or 8, not {classes!r}")
    root = resolve_root(root, LIST_DIR, ["AffectNet", "affectnet"], "AffectNet")
    images = image_root(root)
    parts, excluded = [], []
    for split, name in SPLIT_FILES.items():
        table = read_list_file(root / LIST_DIR / name)
        table = table[_keep_mask(table, split, classes, excluded)]
        parts.append(table.assign(split=split))
    table = pd.concat(parts, ignore_index=True)
    sources = [images / rel for rel in table["subDirectory_filePath"]]
    if check_files:
        missing = [p for p in sources if not p.is_file()]
        if missing:
            raise DatasetLayoutError(
                f"AffectNet: {len(missing)} listed images are missing, first {missing[0]}"
            )
    columns = {
        "dataset": "affectnet",
        "subject": [p.stem for p in sources],
        "session": "",
        "source": [str(p) for p in sources],
        "frame": 0,
        "native_frame": 0,
        "split": table["split"],
        "expression": table["expression"],
    }
    for col in ("face_x", "face_y", "face_width", "face_height"):
        columns[col] = pd.to_numeric(table[col], errors="coerce").astype("float32")
    for col in ("valence", "arousal"):
        columns[col] = pd.to_numeric(table[col], errors="coerce").astype("float32")
    columns["native_label"] = table["expression"]
    df = build_index(columns, [])
    log.info("AffectNet: %d images from %s", len(df), root)
    return attach_excluded(df, excluded_table(excluded), "AffectNet")


#: The registry entry (:mod:`libreface_nb.data.registry`).
SPEC = DatasetSpec(
    name="affectnet",
    read_index=read_index,
    write_fixture=fixture_fer.write_affectnet,
    fixture_sizes=fixture_fer.AFFECTNET_SIZES,
    notebook_sizes=fixture_fer.affectnet_notebook_sizes,
    official_split=True,
    card="affectnet.md",
)
