"""Aligned-face store: a folder of 256×256 RGB PNGs plus a manifest with one row per frame and face.

Layout of ``store_dir``::

    store.json               parameters the store was built with (size, method, max_faces, ...)
    manifest.parquet         the consolidated manifest (written at the end of a run)
    manifest/part-*.parquet  chunks written during a run (merged into manifest.parquet at the end)
    done/<key>.json          one marker per completely processed whole video
    faces/<key>/<frame>_<face>.png   aligned faces, <key> = file stem + hash of the source string

Every file is written to a temporary name and renamed, so an interrupted run loses nothing already
written and leaves no half-written file under a final name; a rerun skips (source, frame) pairs
already in the manifest.

Manifest columns (:data:`MANIFEST_COLUMNS`): ``source`` (str, the input path exactly as given),
``frame`` (int, 0-based; 0 for a still), ``time_s`` (float; 0.0 for a still), ``face`` (int, face
index in the frame, largest first; -1 when no face), ``track_id`` (int, per-video track id; -1 for
stills and when no face), ``status`` (:data:`STATUSES`), ``reason`` (str, "" when ok), ``score``
(float detection score, NaN when no face), ``face_file`` (str, PNG path relative to the store; ""
unless ok), ``width``, ``height`` (int, input frame size; 0 when unreadable), ``detector`` (str),
``pitch``, ``yaw``, ``roll`` (float degrees, NaN when no face), ``quad`` (8 floats: the 4 corners
x, y in input pixels, row-major ``[4, 2]``; None when no face) and ``landmarks`` (1434 float32:
row-major ``[478, 3]`` input pixels; None when no face). :func:`quads` and :func:`landmarks`
stack them into arrays.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.errors import ConfigError, UnreadableInputError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = (
    "source", "frame", "time_s", "face", "track_id", "status", "reason", "score", "face_file",
    "width", "height", "detector", "pitch", "yaw", "roll", "quad", "landmarks",
)  # fmt: skip
#: ok: aligned face written; no_face: the frame was decoded but no face found; unreadable: the
#: file could not be decoded; missing_frame: a requested frame lies beyond the video's end;
#: error: an unexpected failure on this frame (reason holds the exception).
STATUSES = ("ok", "no_face", "unreadable", "missing_frame", "error")
KEY_COLUMNS = ["source", "frame", "face"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def _empty_manifest() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, object)) for c in MANIFEST_COLUMNS})


_DTYPES = {
    "source": object, "frame": "int64", "time_s": "float64", "face": "int64",
    "track_id": "int64", "status": object, "reason": object, "score": "float64",
    "face_file": object, "width": "int64", "height": "int64", "detector": object,
    "pitch": "float64", "yaw": "float64", "roll": "float64",
}  # fmt: skip


def _normalize(df: pd.DataFrame) -> pd.DataFrame:
    for col, dtype in _DTYPES.items():
        if col in df and dtype is not object:
            df[col] = df[col].astype(dtype)
    return df


def load_manifest(store_dir: str | Path) -> pd.DataFrame:
    """The store's manifest, including chunks of an unfinished run (latest row wins).

    Returns:
        One row per input frame and face, columns :data:`MANIFEST_COLUMNS` (see the module
        docstring), sorted by source (first-seen order), frame, face. Empty (with the columns)
        when the store holds nothing yet.

    Raises:
        UnreadableInputError: ``store_dir`` is not a folder.
    """
    store = Path(store_dir)
    if not store.is_dir():
        raise UnreadableInputError(
            f"{store}: no aligned-face store here; run libreface_nb.faces.preprocess first"
        )
    parts = []
    if (store / "manifest.parquet").is_file():
        parts.append(pd.read_parquet(store / "manifest.parquet"))
    parts += [pd.read_parquet(p) for p in sorted((store / "manifest").glob("part-*.parquet"))]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_manifest()
    for i, part in enumerate(parts):
        part["_part"] = i
    df = pd.concat(parts, ignore_index=True)
    # A (source, frame) written again later (a retried frame) replaces all its earlier rows.
    newest = df.groupby(["source", "frame"], sort=False)["_part"].transform("max")
    df = df[df["_part"] == newest].drop_duplicates(subset=KEY_COLUMNS, keep="last")
    df["_src"] = pd.factorize(df["source"])[0]
    df = df.sort_values(["_src", "frame", "face"], kind="stable")
    return _normalize(df.drop(columns=["_part", "_src"]).reset_index(drop=True))


def quads(manifest: pd.DataFrame) -> np.ndarray:
    """float64 ``[N, 4, 2]`` quads of the manifest rows (NaN where there is no face)."""
    out = np.full((len(manifest), 4, 2), np.nan)
    for i, q in enumerate(manifest["quad"]):
        if q is not None and len(q) == 8:
            out[i] = np.asarray(q, dtype=np.float64).reshape(4, 2)
    return out


def landmarks(manifest: pd.DataFrame) -> np.ndarray:
    """float32 ``[N, 478, 3]`` landmarks of the manifest rows (NaN where there is no face)."""
    out = np.full((len(manifest), 478, 3), np.nan, dtype=np.float32)
    for i, lm in enumerate(manifest["landmarks"]):
        if lm is not None and len(lm) == 478 * 3:
            out[i] = np.asarray(lm, dtype=np.float32).reshape(478, 3)
    return out


class StoreWriter:
    """Appends faces and manifest rows to a store, atomically, in chunks.

    Args:
        store_dir: the store folder (created).
        params: parameters of this run (size, method, ...); a store built with other
            parameters is refused, so one store never mixes two alignments.
        chunk_rows: rows buffered before a manifest chunk is written.
        chunk_seconds: a chunk is also written when this much time passed since the last one,
            so a killed process loses at most that much work.
    """

    def __init__(
        self,
        store_dir: str | Path,
        params: dict,
        chunk_rows: int = 256,
        chunk_seconds: float = 30.0,
    ) -> None:
        self.store = Path(store_dir)
        self.store.mkdir(parents=True, exist_ok=True)
        self.chunk_rows = chunk_rows
        self.chunk_seconds = chunk_seconds
        self._last_flush = time.monotonic()
        self._rows: list[dict] = []
        self._check_params(params)
        existing = load_manifest(self.store)
        self.done: set[tuple[str, int]] = set(
            zip(existing["source"], existing["frame"].astype(int), strict=True)
        )
        self._next_part = self._count_parts()

    def _check_params(self, params: dict) -> None:
        path = self.store / "store.json"
        if path.is_file():
            old = json.loads(path.read_text())
            if old != params:
                raise ConfigError(
                    f"{path}: this store was built with {old}, not {params}; "
                    "use another store folder or the same parameters"
                )
        else:
            atomic_write_bytes(path, json.dumps(params, indent=1, sort_keys=True).encode())

    def _count_parts(self) -> int:
        names = [p.stem for p in (self.store / "manifest").glob("part-*.parquet")]
        return 1 + max((int(n.split("-")[1]) for n in names), default=-1)

    def video_done(self, source: str) -> bool:
        """True when a whole-video request for ``source`` finished in an earlier run."""
        return (self.store / "done" / f"{source_key(source)}.json").is_file()

    def mark_video_done(self, source: str, n_frames: int) -> None:
        """Record that every frame of ``source`` has its rows (after they are flushed)."""
        self.flush()
        marker = {"source": source, "n_frames": n_frames}
        atomic_write_bytes(
            self.store / "done" / f"{source_key(source)}.json", json.dumps(marker).encode()
        )

    def write_face(self, source: str, frame: int, face: int, image: np.ndarray) -> str:
        """Write one aligned face PNG; returns its path relative to the store."""
        rel = face_file_name(source, frame, face)
        atomic_write_bytes(self.store / rel, encode_png(image))
        return rel

    def add_rows(self, rows: list[dict]) -> None:
        """Queue the rows of one frame; flushes when ``chunk_rows`` are buffered."""
        self._rows += rows
        self.done.update((r["source"], int(r["frame"])) for r in rows)
        if (
            len(self._rows) >= self.chunk_rows
            or time.monotonic() - self._last_flush > self.chunk_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write buffered rows as a new manifest chunk (atomically)."""
        if not self._rows:
            return
        df = _normalize(pd.DataFrame(self._rows, columns=list(MANIFEST_COLUMNS)))
        path = self.store / "manifest" / f"part-{self._next_part:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".tmp-" + path.name)
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        self._next_part += 1
        self._rows = []
        self._last_flush = time.monotonic()

    def consolidate(self) -> pd.DataFrame:
        """Flush, merge every chunk into ``manifest.parquet`` (atomically) and drop the chunks."""
        self.flush()
        parts = sorted((self.store / "manifest").glob("part-*.parquet"))
        df = load_manifest(self.store)
        if parts:
            tmp = self.store / ".tmp-manifest.parquet"
            df.to_parquet(tmp, index=False)
            os.replace(tmp, self.store / "manifest.parquet")
            for p in parts:  # only after the merged file is in place
                p.unlink(missing_ok=True)
        return df
