"""Aligned-face store: a folder of 256×256 RGB PNGs plus a manifest with one row per frame and face.

Layout of ``store_dir``::

    store.json               parameters the store was built with (size, method, max_faces,
                             detector, border); a store.json without ``border`` was written
                             before stores recorded it and means the mirror fill (``reflect``)
    manifest.parquet         the consolidated manifest (written at the end of a run)
    manifest/part-*.parquet  chunks written during a run (merged into manifest.parquet at the end)
    done/<key>.json          one marker per whole video whose every frame is done (see below)
    faces/<key>/<frame>_<face>.png   aligned faces, <key> = file stem + hash of the source string

Every file is written to a temporary name and renamed, so an interrupted run loses nothing already
written and leaves no half-written file under a final name. Rows are flushed as a small chunk
every :attr:`StoreWriter.chunk_rows` rows (64), after each video and every 30 s, so a hard kill
(SIGKILL, power loss) loses only the rows not yet flushed (fewer than 64); a rerun redoes those.

Retries: a (source, frame) is *done* when all its rows have a status in :data:`DONE_STATUSES`
(``ok``, ``no_face``); a rerun skips done frames and retries the others (``unreadable``,
``missing_frame``, ``error``: e.g. a 0-byte file replaced later by a real photo). The latest
attempt at a (source, frame) wins: all rows of earlier attempts at that frame disappear from the
manifest, whatever their face count (an old ``error`` row with face -1 gives way to two faces).

Manifest columns: :mod:`libreface_nb.faces.manifest` (the one table of names, dtypes and values
when absent). In Parquet the ``quad`` and ``landmarks`` lists are lists of float64 and float32
(about 4.5 kB a row together, zstd); pandas shows them as 1-D numpy arrays, and :func:`quads`
and :func:`landmarks` stack them. ``load_manifest(store, columns=[...])`` reads only the columns
asked for.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb import atomic
from libreface_nb.errors import ConfigError, UnreadableInputError
from libreface_nb.faces.manifest import (  # noqa: F401 - STATUSES: part of the store's API
    DONE_STATUSES,
    DTYPES,
    KEY_COLUMNS,
    LISTS,
    MANIFEST_COLUMNS,
    STATUSES,
)

log = logging.getLogger(__name__)
#: The fill of stores whose store.json predates its ``border`` key (the FFHQ mirror).
LEGACY_BORDER = "reflect"

_DTYPES = DTYPES
_LISTS = LISTS
_DICTIONARY_COLUMNS = ["source", "status", "reason", "detector"]  # few distinct values each


def source_key(source: str) -> str:
    """Folder name for a source: a readable stem plus a hash of the exact source string."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).stem)[:40] or "src"
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:10]
    return f"{stem}-{digest}"


def face_file_name(source: str, frame: int, face: int) -> str:
    """Relative PNG path of one aligned face (POSIX separators)."""
    return f"faces/{source_key(source)}/{frame:07d}_{face}.png"


def encode_png(image: np.ndarray) -> bytes:
    """uint8 RGB ``[H, W, 3]`` → PNG bytes (lossless, fast settings)."""
    import cv2

    # Huffman-only deflate: 2.7 ms and 97 kB for a 256² face, vs 3.5 ms / 105 kB at level 1.
    params = [
        cv2.IMWRITE_PNG_COMPRESSION,
        1,
        cv2.IMWRITE_PNG_STRATEGY,
        cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
    ]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]), params)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def load_face(store_dir: str | Path, face_file: str) -> np.ndarray:
    """One aligned face as uint8 RGB ``[256, 256, 3]``.

    Raises:
        UnreadableInputError: the PNG is missing or broken (names the file).
    """
    import cv2

    path = Path(store_dir) / face_file
    if not face_file or not path.is_file():
        raise UnreadableInputError(f"{path}: aligned face not found in the store")
    bgr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UnreadableInputError(f"{path}: not a readable PNG")
    return np.ascontiguousarray(bgr[:, :, ::-1])


@functools.cache
def _schema():  # pyarrow.Schema (pyarrow imported lazily)
    import pyarrow as pa

    simple = {object: pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    fields = []
    for col in MANIFEST_COLUMNS:
        if col in _LISTS:
            # Variable lists: pyarrow 22 cannot read back a fixed_size_list column with nulls
            # from Parquet. The child is named "element" as Parquet names it, so files read
            # back with exactly this schema.
            item = pa.field("element", pa.from_numpy_dtype(np.dtype(_LISTS[col][0])))
            fields.append(pa.field(col, pa.list_(item)))
        else:
            fields.append(pa.field(col, simple[_DTYPES[col]]))
    return pa.schema(fields)


def _float_lists(values: list, field):  # pyarrow field and array
    """Per-row arrays (or None) → a ListArray of exactly the column's width, None → null."""
    import pyarrow as pa

    dtype, width = _LISTS[field.name]
    null = np.array([v is None for v in values], dtype=bool)
    flat = [np.asarray(v, dtype=dtype).ravel() for v in values if v is not None]
    bad = {a.size for a in flat} - {width}
    if bad:
        raise ValueError(f"column {field.name!r}: want {width} numbers a row, got {sorted(bad)}")
    offsets = np.concatenate([[0], np.cumsum(np.where(null, 0, width))]).astype(np.int32)
    data = np.concatenate(flat) if flat else np.zeros(0, dtype=dtype)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(data), type=field.type, mask=pa.array(null)
    )


def _rows_table(rows: list[dict]):  # pyarrow.Table
    """Manifest row dicts → an Arrow table with the manifest schema (missing keys → null)."""
    import pyarrow as pa

    schema = _schema()
    arrays = [
        _float_lists([r.get(f.name) for r in rows], f)
        if f.name in _LISTS
        else pa.array([r.get(f.name) for r in rows], type=f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _write_table(table, path: Path) -> None:  # pyarrow.Table
    """Write a manifest table atomically (temporary name, then rename)."""
    import pyarrow.parquet as pq

    # Byte-stream-split + zstd stores float32 landmarks in ~4.5 kB a row instead of 5.7 kB raw;
    # the split needs dictionary encoding off for those columns.
    split = {f"{c}.list.element": "BYTE_STREAM_SPLIT" for c in _LISTS}
    with atomic.atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            use_dictionary=_DICTIONARY_COLUMNS,
            column_encoding=split,
        )


def _latest(keys: pd.DataFrame) -> np.ndarray:
    """Positions of the rows to keep: per (source, frame) the newest part's rows, sorted.

    ``keys`` holds source, frame, face and ``_part`` (0 = manifest.parquet, then the chunks).
    """
    # A (source, frame) written again later (a retried frame) replaces all its earlier rows.
    newest = keys.groupby(["source", "frame"], sort=False)["_part"].transform("max")
    keep = keys[keys["_part"] == newest].drop_duplicates(subset=KEY_COLUMNS, keep="last")
    # Sources in first-seen order over every row, so a retried source keeps its place.
    src = pd.factorize(keys["source"])[0][keep.index.to_numpy()]
    order = np.lexsort((keep["face"].to_numpy(), keep["frame"].to_numpy(), src))
    return keep.index.to_numpy()[order]


def _load_table(store: Path, columns: list[str]):  # pyarrow.Table or None
    """The store's manifest rows (latest wins) as an Arrow table of ``columns``; None if empty."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = [store / "manifest.parquet"] if (store / "manifest.parquet").is_file() else []
    paths += sorted((store / "manifest").glob("part-*.parquet"))
    read = list(dict.fromkeys([*KEY_COLUMNS, *columns]))
    want = pa.schema([_schema().field(c) for c in read])
    tables = []
    for i, path in enumerate(paths):
        table = pq.read_table(path, columns=read)
        if not table.schema.equals(want, check_metadata=False):
            table = table.cast(want)  # e.g. a store written with list<double> landmarks
        if table.num_rows:
            tables.append(table.append_column("_part", pa.array(np.full(table.num_rows, i))))
    if not tables:
        return None
    table = pa.concat_tables(tables)
    keep = _latest(table.select([*KEY_COLUMNS, "_part"]).to_pandas())
    if len(keep) < table.num_rows or (keep != np.arange(len(keep))).any():
        table = table.take(keep)  # slow on landmarks (~10 µs a row): only when rows move
    return table.select(columns)


def _to_frame(table) -> pd.DataFrame:  # pyarrow.Table
    df = table.to_pandas()
    for col in df.columns:
        if _DTYPES.get(col, object) is not object:
            df[col] = df[col].astype(_DTYPES[col])
    return df


def load_manifest(store_dir: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The store's manifest, including chunks of an unfinished run (latest attempt wins).

    Args:
        store_dir: the store folder.
        columns: read only these :data:`MANIFEST_COLUMNS` (default: all); skipping ``quad`` and
            ``landmarks`` makes a large manifest much faster to read.

    Returns:
        One row per input frame and face, the columns asked for (see the module docstring),
        sorted by source (first-seen order), frame, face. Empty (with the columns) when the
        store holds nothing yet.

    Raises:
        UnreadableInputError: ``store_dir`` is not a folder.
        ValueError: an unknown column name.
    """
    store = Path(store_dir)
    cols = list(MANIFEST_COLUMNS if columns is None else columns)
    unknown = [c for c in cols if c not in MANIFEST_COLUMNS]
    if unknown:
        raise ValueError(f"unknown manifest column(s) {unknown}; known: {list(MANIFEST_COLUMNS)}")
    if not store.is_dir():
        raise UnreadableInputError(
            f"{store}: no aligned-face store here; run libreface_nb.faces.preprocess first"
        )
    table = _load_table(store, cols)
    if table is None:
        return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, object)) for c in cols})
    return _to_frame(table)


def _stack(values: pd.Series, shape: tuple[int, int], dtype: type) -> np.ndarray:
    out = np.full((len(values), *shape), np.nan, dtype=dtype)
    for i, v in enumerate(values):
        if v is not None and len(v) == shape[0] * shape[1]:
            out[i] = np.asarray(v, dtype=dtype).reshape(shape)
    return out


def quads(manifest: pd.DataFrame) -> np.ndarray:
    """float64 ``[N, 4, 2]`` quads of the manifest rows (NaN where there is no face)."""
    return _stack(manifest["quad"], (4, 2), np.float64)


def landmarks(manifest: pd.DataFrame) -> np.ndarray:
    """float32 ``[N, 478, 3]`` landmarks of the manifest rows (NaN where there is no face)."""
    return _stack(manifest["landmarks"], (478, 3), np.float32)


class StoreWriter:
    """Appends faces and manifest rows to a store, atomically, in small chunks.

    Args:
        store_dir: the store folder (created).
        params: parameters of this run (size, method, ...); a store built with other
            parameters is refused, so one store never mixes two alignments.
        chunk_rows: rows buffered before a manifest chunk is written.
        chunk_seconds: a chunk is also written when this much time passed since the last one,
            so a killed process loses at most that much work.

    Attributes:
        done: the (source, frame) pairs whose work is finished (every row ``ok`` or
            ``no_face``); the others are retried.
    """

    def __init__(
        self,
        store_dir: str | Path,
        params: dict,
        chunk_rows: int = 64,
        chunk_seconds: float = 30.0,
    ) -> None:
        self.store = Path(store_dir)
        self.store.mkdir(parents=True, exist_ok=True)
        self.chunk_rows = chunk_rows
        self.chunk_seconds = chunk_seconds
        self._last_flush = time.monotonic()
        self._rows: list[dict] = []
        self._check_params(params)
        # Three small columns, never the landmarks: starting on a large store stays cheap.
        existing = load_manifest(self.store, columns=["source", "frame", "status"])
        pairs = list(zip(existing["source"].tolist(), existing["frame"].tolist(), strict=True))
        finished = existing["status"].isin(DONE_STATUSES).to_numpy()
        failed = {p for p, ok in zip(pairs, finished, strict=True) if not ok}
        self.done: set[tuple[str, int]] = {p for p in pairs if p not in failed}
        self._next_part = self._count_parts()

    def _check_params(self, params: dict) -> None:
        path = self.store / "store.json"
        if path.is_file():
            old = json.loads(path.read_text())
            if "border" in params:  # a store written before the key existed: the mirror
                old.setdefault("border", LEGACY_BORDER)
            if old.get("border") != params.get("border"):
                raise ConfigError(
                    f"{path}: this store's faces were aligned with border={old['border']!r}, "
                    f"not border={params.get('border')!r}; use another store folder (notebook "
                    f"01's face_store), or pass align_border={old['border']!r} to reuse it"
                )
            if old != params:
                raise ConfigError(
                    f"{path}: this store was built with {old}, not {params}; "
                    "use another store folder or the same parameters"
                )
        else:
            atomic.write_bytes(path, json.dumps(params, indent=1, sort_keys=True).encode())

    def _count_parts(self) -> int:
        names = [p.stem for p in (self.store / "manifest").glob("part-*.parquet")]
        return 1 + max((int(n.split("-")[1]) for n in names), default=-1)

    def video_done(self, source: str) -> bool:
        """True when a whole-video request for ``source`` finished in an earlier run."""
        return (self.store / "done" / f"{source_key(source)}.json").is_file()

    def mark_video_done(self, source: str, n_frames: int) -> None:
        """Record that every frame of ``source`` is done (after its rows are flushed)."""
        self.flush()
        marker = {"source": source, "n_frames": n_frames}
        atomic.write_bytes(
            self.store / "done" / f"{source_key(source)}.json", json.dumps(marker).encode()
        )

    def write_face(self, source: str, frame: int, face: int, image: np.ndarray) -> str:
        """Write one aligned face PNG; returns its path relative to the store."""
        rel = face_file_name(source, frame, face)
        atomic.write_bytes(self.store / rel, encode_png(image))
        return rel

    def add_rows(self, rows: list[dict]) -> int:
        """Queue manifest rows; flushes when ``chunk_rows`` are buffered.

        Returns:
            How many of the rows record a failure (their frames stay out of :attr:`done`).
        """
        self._rows += rows
        bad = [r for r in rows if r["status"] not in DONE_STATUSES]
        failed = {(r["source"], int(r["frame"])) for r in bad}
        self.done.difference_update(failed)
        self.done.update(p for r in rows if (p := (r["source"], int(r["frame"]))) not in failed)
        if (
            len(self._rows) >= self.chunk_rows
            or time.monotonic() - self._last_flush > self.chunk_seconds
        ):
            self.flush()
        return len(bad)

    def flush(self) -> None:
        """Write buffered rows as a new manifest chunk (atomically)."""
        if not self._rows:
            return
        path = self.store / "manifest" / f"part-{self._next_part:06d}.parquet"
        _write_table(_rows_table(self._rows), path)
        self._next_part += 1
        self._rows = []
        self._last_flush = time.monotonic()

    def consolidate(self) -> pd.DataFrame:
        """Flush, merge every chunk into ``manifest.parquet`` (atomically) and drop the chunks.

        Returns:
            The whole manifest, as :func:`load_manifest` gives it.
        """
        self.flush()
        parts = sorted((self.store / "manifest").glob("part-*.parquet"))
        table = _load_table(self.store, list(MANIFEST_COLUMNS))
        if table is None:
            return load_manifest(self.store)
        if parts:
            _write_table(table, self.store / "manifest.parquet")
            for p in parts:  # only after the merged file is in place
                p.unlink(missing_ok=True)
        return _to_frame(table)
