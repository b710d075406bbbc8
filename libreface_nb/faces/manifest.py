"""The manifest row schema, defined once: one row per input frame and face of a face store.

:data:`COLUMNS` is the table the store (Parquet schema, pandas dtypes), the preprocessing (the
row it starts from) and the dataset join (:func:`first_faces`) all read; nothing else spells the
columns out. A row's value "when absent" is what a frame without that information holds (a frame
where no face was found, or an unreadable file).

======== ================ =====================================================================
column   dtype            meaning (value when absent)
======== ================ =====================================================================
source   str              the input path exactly as given
frame    int64            0-based frame index; 0 for a still
time_s   float64          time in the video; 0.0 for a still (NaN when unreadable)
face     int64            face index in the frame, largest first (-1: no face)
track_id int64            per-video track id (-1 for stills and when no face)
status   str              one of :data:`STATUSES`
reason   str              why the status is not ok ("" when ok)
score    float64          detection score (NaN when no face)
face_file str             PNG path relative to the store ("" unless ok)
width    int64            input frame width (0 when unreadable)
height   int64            input frame height (0 when unreadable)
detector str              the detector that found the face ("" when none)
pitch    float64          head pitch in degrees (NaN unless ok)
yaw      float64          head yaw in degrees (NaN unless ok)
roll     float64          head roll in degrees (NaN unless ok)
quad     list<float64>[8] the 4 alignment-quad corners x, y in input pixels, row-major [4, 2]
                          (None unless ok)
landmarks list<float32>   the 478 MediaPipe landmarks x, y, z in input pixels, row-major
         [1434]           [478, 3] (None unless ok)
======== ================ =====================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Column:
    """One manifest column: name, pandas dtype, value when absent, list width (lists only)."""

    name: str
    dtype: str
    absent: Any
    width: int = 0


_NAN = math.nan
#: Every manifest column, in file order. ``dtype`` "str" is a pandas object column; list columns
#: (``width`` > 0) hold 1-D numpy arrays of ``dtype`` in pandas and Parquet lists on disk.
COLUMNS: tuple[Column, ...] = (
    Column("source", "str", ""),
    Column("frame", "int64", 0),
    Column("time_s", "float64", 0.0),
    Column("face", "int64", -1),
    Column("track_id", "int64", -1),
    Column("status", "str", "ok"),
    Column("reason", "str", ""),
    Column("score", "float64", _NAN),
    Column("face_file", "str", ""),
    Column("width", "int64", 0),
    Column("height", "int64", 0),
    Column("detector", "str", ""),
    Column("pitch", "float64", _NAN),
    Column("yaw", "float64", _NAN),
    Column("roll", "float64", _NAN),
    Column("quad", "float64", None, width=8),
    Column("landmarks", "float32", None, width=478 * 3),
)
MANIFEST_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
#: Scalar columns → pandas dtype (``object`` for strings).
DTYPES: dict[str, Any] = {
    c.name: object if c.dtype == "str" else c.dtype for c in COLUMNS if not c.width
}
#: List columns → (numpy dtype, values per row).
LISTS: dict[str, tuple[str, int]] = {c.name: (c.dtype, c.width) for c in COLUMNS if c.width}
#: ok: aligned face written; no_face: the frame was decoded but no face found; unreadable: the
#: file could not be decoded; missing_frame: a requested frame lies beyond the video's end;
#: error: an unexpected failure on this frame or face (reason names the exception).
STATUSES = ("ok", "no_face", "unreadable", "missing_frame", "error")
#: Statuses that end the work on a frame; a rerun retries frames with any other status.
DONE_STATUSES = ("ok", "no_face")
#: A row's key: one row per (source, frame, face).
KEY_COLUMNS = ["source", "frame", "face"]


def new_row(source: str, frame: int, time_s: float, shape: tuple = (0, 0), **values: Any) -> dict:
    """A manifest row: every column at its absent value, then the frame's facts and ``values``.

    Args:
        source: the input path as given.
        frame: frame index.
        time_s: time in the video (0.0 for a still).
        shape: the decoded frame's shape (H, W[, C]); (0, 0) when unreadable.
        **values: other columns (``status``, ``reason``, ``face`` …).

    Raises:
        KeyError: a name in ``values`` that is not a manifest column.
    """
    unknown = sorted(set(values) - set(MANIFEST_COLUMNS))
    if unknown:
        raise KeyError(f"not manifest columns: {unknown}; known: {list(MANIFEST_COLUMNS)}")
    row = {c.name: c.absent for c in COLUMNS}
    row.update(source=source, frame=int(frame), time_s=float(time_s))
    row.update(width=int(shape[1]) if len(shape) > 1 else 0, height=int(shape[0]) if shape else 0)
    row.update(values)
    return row


def first_faces(manifest: pd.DataFrame) -> pd.DataFrame:
    """The ``ok`` rows of face 0 (the largest face), one per (source, frame)."""
    ok = manifest[(manifest["status"] == "ok") & (manifest["face"] == 0)]
    return ok.drop_duplicates(["source", "frame"])


def detection_rate(requested: pd.DataFrame, manifest: pd.DataFrame) -> float:
    """Share of the distinct requested (source, frame) pairs with at least one ``ok`` face.

    Args:
        requested: the frames asked for (columns ``source``, ``frame``; e.g. a dataset index).
        manifest: the manifest rows answering them (:func:`preprocess_sources`' result).

    Returns:
        A float in [0, 1]; 0.0 when nothing was requested.
    """
    asked = requested[["source", "frame"]].drop_duplicates()
    found = manifest.loc[manifest["status"] == "ok", ["source", "frame"]].drop_duplicates()
    hits = asked.merge(found, on=["source", "frame"], how="inner")
    return len(hits) / len(asked) if len(asked) else 0.0
