"""One index-table format for every dataset reader.

An *index* is a :class:`pandas.DataFrame` with one row per labelled sample:

============== ======= =================================================================
column         dtype   meaning
============== ======= =================================================================
dataset        str     a registered name (:data:`libreface_nb.data.registry.NAMES`)
subject        str     person id (RAF-DB/AffectNet have none: the image stem)
session        str     BP4D task, DISFA camera, ``""`` otherwise
source         str     absolute path of the image or video file to decode
frame          int64   0-based frame index inside a video; 0 for still images
native_frame   int64   the dataset's own frame number (DISFA counts from 1); 0 for stills
split          str     official split (``"train"``, ``"test"``, ``"validation"``) or ``""``
AU01, AU02 …   float32 DISFA intensity 0–5 or BP4D occurrence 0/1; NaN = unknown, never 0
expression     int64   class index in :data:`libreface_nb.config.EXPRESSIONS`; -1 = none
============== ======= =================================================================

Readers may add columns after these (e.g. AffectNet's face box); ``validate_index`` ignores
them. Rows a reader leaves out (e.g. AffectNet's "None" labels) are counted in
``df.attrs["excluded"]``: a list of records ``{split, label, reason, count}`` (plain dicts, as a
DataFrame in ``attrs`` breaks ``pd.concat``); :func:`excluded_counts` returns it as a table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import EXPRESSIONS, INTENSITY_MAX
from libreface_nb.data.registry import NAMES
from libreface_nb.errors import DatasetLayoutError

log = logging.getLogger(__name__)

#: Dataset names an index may hold (the registry's).
DATASETS: tuple[str, ...] = NAMES
#: Columns every index has, in this order.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "dataset",
    "subject",
    "session",
    "source",
    "frame",
    "native_frame",
    "split",
)
STRING_COLUMNS: tuple[str, ...] = ("dataset", "subject", "session", "source", "split")
INT_COLUMNS: tuple[str, ...] = ("frame", "native_frame")
AU_COLUMN = re.compile(r"^AU\d{2}$")
EXCLUDED_COLUMNS: tuple[str, ...] = ("split", "label", "reason", "count")


def au_columns(df: pd.DataFrame) -> list[str]:
    """The AU label columns of an index, in table order (``AU01`` …)."""
    return [c for c in df.columns if AU_COLUMN.match(str(c))]


def build_index(
    columns: Mapping[str, Sequence | np.ndarray], au_cols: Sequence[str]
) -> pd.DataFrame:
    """Assemble an index from column arrays and give every column its schema dtype.

    Args:
        columns: the required columns, the AU columns named in ``au_cols``, optionally
            ``expression`` and any extra columns (kept after the schema columns).
        au_cols: AU column names in output order.
    """
    df = pd.DataFrame(dict(columns))
    for col in STRING_COLUMNS:
        df[col] = df[col].astype(str)
    for col in INT_COLUMNS:
        df[col] = df[col].astype("int64")
    for col in au_cols:
        df[col] = df[col].astype("float32")
    order = list(REQUIRED_COLUMNS) + list(au_cols)
    if "expression" in df.columns:
        df["expression"] = df["expression"].astype("int64")
        order.append("expression")
    order += [c for c in df.columns if c not in order]
    return df[order].reset_index(drop=True)


def excluded_table(rows: Iterable[tuple[str, str, str, int]]) -> list[dict]:
    """Counts of rows a reader left out, from tuples of (split, label, reason, count).

    Kept as a list of plain dicts (not a DataFrame) because pandas compares ``attrs`` when it
    concatenates frames, and DataFrames cannot be compared that way.
    """
    return [
        dict(zip(EXCLUDED_COLUMNS, (str(s), str(lab), str(r), int(n)), strict=True))
        for s, lab, r, n in rows
    ]


def attach_excluded(df: pd.DataFrame, excluded: list[dict], dataset: str) -> pd.DataFrame:
    """Store ``excluded`` in ``df.attrs["excluded"]`` and log a one-line summary."""
    df.attrs["excluded"] = excluded
    total = sum(r["count"] for r in excluded)
    if total:
        parts = ", ".join(f"{r['split'] or 'all'} {r['label']}: {r['count']}" for r in excluded)
        log.info("%s: %d rows left out of the index (%s)", dataset, total, parts)
    return df


def excluded_counts(df: pd.DataFrame) -> pd.DataFrame:
    """``df.attrs["excluded"]`` as a table (columns split, label, reason, count)."""
    return pd.DataFrame(df.attrs.get("excluded", []), columns=list(EXCLUDED_COLUMNS)).astype(
        {"count": "int64"}
    )


def _check_strings(df: pd.DataFrame, problems: list[str]) -> None:
    for col in STRING_COLUMNS:
        if not pd.api.types.is_string_dtype(df[col]) or df[col].isna().any():
            problems.append(f"column {col!r} must hold strings without missing values")
    bad = sorted(set(df["dataset"].astype(str)) - set(DATASETS))
    if bad:
        problems.append(f"unknown dataset names {bad}; expected one of {list(DATASETS)}")
    relative = [s for s in df["source"].astype(str) if not Path(s).is_absolute()]
    if relative:
        problems.append(f"'source' must be absolute paths, e.g. not {relative[0]!r}")


def _check_ints(df: pd.DataFrame, problems: list[str]) -> None:
    for col in INT_COLUMNS:
        if not pd.api.types.is_integer_dtype(df[col]):
            problems.append(f"column {col!r} must be integers, not {df[col].dtype}")
        elif (df[col] < 0).any():
            problems.append(f"column {col!r} has negative values")


def _check_labels(df: pd.DataFrame, problems: list[str]) -> None:
    aus = au_columns(df)
    if not aus and "expression" not in df.columns:
        problems.append("no label columns: expected AU01… columns and/or 'expression'")
    for col in aus:
        values = df[col]
        if values.dtype != np.float32:
            problems.append(f"column {col!r} must be float32 (NaN = unknown), not {values.dtype}")
            continue
        known = values.dropna()
        if ((known < 0) | (known > INTENSITY_MAX)).any():
            problems.append(f"column {col!r} has values outside [0, {INTENSITY_MAX:g}]")
    if "expression" in df.columns:
        expr = df["expression"]
        if not pd.api.types.is_integer_dtype(expr):
            problems.append(f"column 'expression' must be integers, not {expr.dtype}")
        elif ((expr < -1) | (expr >= len(EXPRESSIONS))).any():
            problems.append(f"column 'expression' must be in [-1, {len(EXPRESSIONS) - 1}]")


def validate_index(df: pd.DataFrame) -> pd.DataFrame:
    """Check that ``df`` follows the index schema; return it unchanged.

    Raises:
        DatasetLayoutError: listing every problem found (missing columns, wrong dtypes,
            labels out of range, relative paths, duplicated (source, frame) rows).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetLayoutError(f"index is missing columns {missing}; see libreface_nb.data.index")
    problems: list[str] = []
    _check_strings(df, problems)
    _check_ints(df, problems)
    _check_labels(df, problems)
    duplicated = df.duplicated(subset=["source", "frame"])
    if duplicated.any():
        row = df.loc[duplicated.idxmax()]
        problems.append(f"duplicated (source, frame) rows, e.g. ({row['source']}, {row['frame']})")
    if problems:
        raise DatasetLayoutError("index does not follow the schema: " + "; ".join(problems))
    return df


def resolve_root(root: str | Path, marker: str, folder_names: Sequence[str], dataset: str) -> Path:
    """Find the dataset folder: ``root`` itself or one of its children named ``folder_names``.

    Args:
        root: what the user passed (the dataset folder or its parent).
        marker: a relative path that exists inside the dataset folder.
        folder_names: usual names of the dataset folder, tried under ``root``.
        dataset: name for messages.

    Raises:
        DatasetLayoutError: naming ``root`` and the marker that was expected.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset}: root folder {root} does not exist or is not a folder")
    if (root / marker).exists():
        return root
    for name in folder_names:
        if (root / name / marker).exists():
            return root / name
    tried = ", ".join(str(root / n / marker) for n in folder_names)
    raise DatasetLayoutError(
        f"{dataset}: {root} is not a {dataset} root: expected {root / marker}"
        + (f" (also tried {tried})" if tried else "")
    )
