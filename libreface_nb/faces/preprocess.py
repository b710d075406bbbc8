"""Images, folders, videos and dataset indexes → aligned-face store with a row for every frame.

Every requested input frame gets exactly one manifest row per face found, or one row saying why
there is none (``no_face``, ``unreadable``, ``missing_frame``, ``error``): nothing is dropped
without a trace. Videos are decoded once, in order, with one tracking FaceMesh per video; stills
use a static FaceMesh. Work already in the store is skipped, so a rerun after an interruption
continues where it stopped (see :mod:`libreface_nb.faces.store`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import ALIGNED_SIZE
from libreface_nb.errors import UnreadableInputError
from libreface_nb.faces import io
from libreface_nb.faces.align import align_face, face_quad
from libreface_nb.faces.mesh import FaceMesh
from libreface_nb.faces.pose import head_pose
from libreface_nb.faces.store import StoreWriter, load_manifest

log = logging.getLogger(__name__)


@dataclass
class _Request:
    """One source and the frames wanted from it (None: every frame of a video)."""

    source: str
    frames: list[int] | None


def _base_row(source: str, frame: int, time_s: float, shape: tuple = (0, 0)) -> dict:
    return {
        "source": source, "frame": int(frame), "time_s": float(time_s), "face": -1,
        "track_id": -1, "status": "ok", "reason": "", "score": np.nan, "face_file": "",
        "width": int(shape[1]) if len(shape) > 1 else 0, "height": int(shape[0]) if shape else 0,
        "detector": "", "pitch": np.nan, "yaw": np.nan, "roll": np.nan, "quad": None,
        "landmarks": None,
    }  # fmt: skip


def _status_row(source: str, frame: int, time_s: float, status: str, reason: str, shape=(0, 0)):
    row = _base_row(source, frame, time_s, shape)
    row.update(status=status, reason=reason)
    return row


class _FrameProcessor:
    """Faces of one frame → aligned PNGs + manifest rows."""

    def __init__(self, writer: StoreWriter, method: str, size: int) -> None:
        self.writer, self.method, self.size = writer, method, size

    def rows(self, mesh: FaceMesh, source: str, frame: int, time_s: float, image: np.ndarray):
        try:
            faces = mesh.detect(image)
        except Exception as exc:  # a MediaPipe failure on one frame must not stop a dataset
            log.warning("%s frame %d: face search failed: %s", source, frame, exc)
            return [_status_row(source, frame, time_s, "error", repr(exc), image.shape)]
        if not faces:
            reason = "MediaPipe found no face"
            return [_status_row(source, frame, time_s, "no_face", reason, image.shape)]
        rows = []
        for k, face in enumerate(faces):
            quad = face_quad(face.landmarks)
            aligned = align_face(image, quad, self.size, self.method)
            row = _base_row(source, frame, time_s, image.shape)
            row.update(
                face=k,
                track_id=int(face.track_id),
                score=float(face.score),
                face_file=self.writer.write_face(source, frame, k, aligned),
                detector=face.detector,
                quad=quad.astype(np.float64).ravel().tolist(),
                landmarks=face.landmarks.astype(np.float32).ravel().tolist(),
            )
            row["pitch"], row["yaw"], row["roll"] = head_pose(face.landmarks)
            rows.append(row)
        return rows


class _LazyMesh:
    """A static FaceMesh built on first use (a video-only run never pays for it)."""

    def __init__(self, max_faces: int, detector: str) -> None:
        self.max_faces, self.detector, self.mesh = max_faces, detector, None

    def detect(self, image: np.ndarray) -> list:
        if self.mesh is None:
            self.mesh = FaceMesh(static=True, max_faces=self.max_faces, detector=self.detector)
        return self.mesh.detect(image)

    def close(self) -> None:
        if self.mesh is not None:
            self.mesh.close()


def _requests(items: Iterable) -> list[_Request]:
    """(source, frame) pairs or a DataFrame with ``source``, ``frame`` → one request per source."""
    if isinstance(items, pd.DataFrame):
        missing = {"source", "frame"} - set(items.columns)
        if missing:
            raise ValueError(f"the index table lacks column(s) {sorted(missing)}")
        pairs: Iterable = zip(items["source"], items["frame"], strict=True)
    else:
        pairs = items
    by_source: dict[str, _Request] = {}
    for source, frame in pairs:
        req = by_source.setdefault(str(source), _Request(str(source), []))
        if req.frames is not None and frame is not None:
            req.frames.append(int(frame))
        elif frame is None:
            req.frames = None  # every frame
    for req in by_source.values():
        if req.frames is not None:
            req.frames = sorted(set(req.frames))
    return list(by_source.values())


def _progress(total: int | None, enabled: bool, desc: str):  # noqa: ANN202
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="frame", leave=False)


def preprocess_sources(
    items: Iterable | pd.DataFrame,
    store_dir: str | Path,
    *,
    max_faces: int = 1,
    method: str = "fast",
    detector: str = "auto",
    size: int = ALIGNED_SIZE,
    track_videos: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Align the faces of listed frames into a store; the core of every ``preprocess_*``.

    Args:
        items: a DataFrame with columns ``source`` and ``frame`` (a dataset index; other columns
            are ignored), or an iterable of ``(source, frame)`` pairs. ``frame`` is 0 for a
            still; for a video only the listed frames are kept but the file is decoded once, in
            order; ``frame=None`` asks for every frame of a video.
        store_dir: the aligned-face store (created; reruns skip what it already holds).
        max_faces: the most faces per frame (largest first).
        method: alignment, ``"fast"`` or ``"reference"``.
        detector: ``"auto"``, ``"mesh"`` or ``"full_range"`` (see :class:`FaceMesh`).
        size: aligned face side.
        track_videos: one tracking FaceMesh per video (faster, stable track ids); False runs
            static mode on every frame.
        progress: show a progress bar.

    Returns:
        The manifest rows of the requested frames (see :mod:`libreface_nb.faces.store`).
    """
    requests = _requests(items)
    params = {"size": size, "method": method, "max_faces": max_faces, "detector": detector}
    writer = StoreWriter(store_dir, params)
    proc = _FrameProcessor(writer, method, size)
    known = [len(r.frames) for r in requests if r.frames is not None]
    bar = _progress(sum(known) if len(known) == len(requests) else None, progress, "faces")
    still_mesh = _LazyMesh(max_faces, detector)
    try:
        for req in requests:
            if io.is_video(req.source):
                _run_video(req, writer, proc, max_faces, detector, track_videos, bar)
            else:
                _run_still(req, writer, proc, still_mesh, bar)
    finally:
        bar.close()
        still_mesh.close()
        manifest = writer.consolidate()
    return _select(manifest, requests)


def _select(manifest: pd.DataFrame, requests: list[_Request]) -> pd.DataFrame:
    """The manifest rows answering ``requests`` (in request order)."""
    keep = np.zeros(len(manifest), dtype=bool)
    for req in requests:
        hit = manifest["source"].to_numpy() == req.source
        if req.frames is not None:
            hit &= manifest["frame"].isin(req.frames).to_numpy()
        keep |= hit
    return manifest[keep].reset_index(drop=True)


def _run_still(req: _Request, writer, proc, mesh, bar) -> None:  # noqa: ANN001
    frames = req.frames if req.frames is not None else [0]
    todo = [f for f in frames if (req.source, f) not in writer.done]
    bar.update(len(frames) - len(todo))
    if not todo:
        return
    try:
        image = io.read_image(req.source)
    except UnreadableInputError as exc:
        log.warning("%s", exc)
        rows = [_status_row(req.source, f, 0.0, "unreadable", str(exc)) for f in todo]
    else:
        rows = []
        for f in todo:
            if f == 0:
                rows += proc.rows(mesh, req.source, 0, 0.0, image)
            else:  # a still has only frame 0
                reason = "a still image has only frame 0"
                rows.append(_status_row(req.source, f, 0.0, "missing_frame", reason, image.shape))
    writer.add_rows(rows)
    bar.update(len(todo))


def _video_frames(req: _Request, todo: set[int] | None) -> Iterator[io.VideoFrame]:
    stop = max(todo) + 1 if todo else None
    yield from io.iter_video(req.source, frames=todo, stop=stop)


def _run_video(req, writer, proc, max_faces, detector, track, bar) -> None:  # noqa: ANN001
    if req.frames is None and writer.video_done(req.source):
        return
    todo = None
    if req.frames is not None:
        todo = {f for f in req.frames if (req.source, f) not in writer.done}
        bar.update(len(req.frames) - len(todo))
        if not todo:
            return
    seen: set[int] = set()
    try:
        with FaceMesh(static=not track, max_faces=max_faces, detector=detector) as mesh:
            for vf in _video_frames(req, todo):
                seen.add(vf.index)
                if (req.source, vf.index) in writer.done:
                    continue  # resumed whole-video run: done before the interruption
                writer.add_rows(proc.rows(mesh, req.source, vf.index, vf.time_s, vf.image))
                bar.update(1)
    except UnreadableInputError as exc:
        log.warning("%s", exc)
        frames = sorted(todo) if todo is not None else [0]
        rows = [_status_row(req.source, f, np.nan, "unreadable", str(exc)) for f in frames]
        writer.add_rows(rows)
        bar.update(len(rows))
        if todo is None:
            writer.mark_video_done(req.source, 0)
        return
    if todo is not None:
        last = max(seen) if seen else -1
        reason = f"the video ends after frame {last}"
        rows = [_status_row(req.source, f, np.nan, "missing_frame", reason) for f in todo - seen]
        writer.add_rows(sorted(rows, key=lambda r: r["frame"]))
        bar.update(len(rows))
    else:
        writer.mark_video_done(req.source, len(seen))


def preprocess_images(
    paths: Iterable[str | Path], store_dir: str | Path, **kwargs: object
) -> pd.DataFrame:
    """Align the faces of still images (frame 0 each); see :func:`preprocess_sources`."""
    return preprocess_sources([(str(p), 0) for p in paths], store_dir, **kwargs)


def preprocess_video(path: str | Path, store_dir: str | Path, **kwargs: object) -> pd.DataFrame:
    """Align the faces of every frame of a video; see :func:`preprocess_sources`."""
    return preprocess_sources([(str(path), None)], store_dir, **kwargs)


def list_media(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image and video files under ``folder``, sorted by path (hidden files skipped)."""
    root = Path(folder)
    if not root.is_dir():
        raise UnreadableInputError(f"{root}: not a folder")
    pattern = "**/*" if recursive else "*"
    files = sorted(
        p
        for p in root.glob(pattern)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    media = [p for p in files if io.is_image(p) or io.is_video(p)]
    others = [p.name for p in files if p not in set(media)]
    if others:  # say what is not looked at, so nothing disappears without a trace
        log.warning(
            "%s: %d file(s) with no image or video suffix are not processed, e.g. %s",
            root,
            len(others),
            ", ".join(others[:5]),
        )
    return media


def preprocess_folder(
    folder: str | Path, store_dir: str | Path, *, recursive: bool = True, **kwargs: object
) -> pd.DataFrame:
    """Align the faces of every image (frame 0) and video (every frame) under ``folder``.

    Files with an image or video suffix that cannot be decoded get an ``unreadable`` row; other
    files are ignored. See :func:`preprocess_sources` for the keyword arguments.
    """
    items = [(str(p), None if io.is_video(p) else 0) for p in list_media(folder, recursive)]
    return preprocess_sources(items, store_dir, **kwargs)


__all__ = [
    "list_media",
    "load_manifest",
    "preprocess_folder",
    "preprocess_images",
    "preprocess_sources",
    "preprocess_video",
]
