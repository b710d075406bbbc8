"""Images, folders, videos and dataset indexes → aligned-face store with a row for every frame.

Every requested input frame gets exactly one manifest row per face found, or one row saying why
there is none (``no_face``, ``unreadable``, ``missing_frame``, ``error``): nothing is dropped
without a trace. Videos are decoded once, in order, with one tracking FaceMesh per video; stills
use a static FaceMesh. A failure on one frame or one face (a MediaPipe error, an OpenCV error
while aligning, a PNG that cannot be written) becomes an ``error`` row and the run goes on.

Reruns and interruptions: frames already done (``ok`` or ``no_face``) are skipped; failed frames
(``unreadable``, ``missing_frame``, ``error``) are tried again and their new rows replace the old
ones. Rows reach the disk every 64 rows and after each video, so a rerun after a crash or a
SIGKILL continues where the last flush stopped (see :mod:`libreface_nb.faces.store`). A video
resumed in the middle restarts its tracker, so its ``track_id`` values restart at 0 from the
first frame processed by the rerun: track ids are only comparable within one uninterrupted run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb.config import ALIGNED_SIZE
from libreface_nb.errors import UnreadableInputError
from libreface_nb.faces import io
from libreface_nb.faces.align import DEFAULT_BORDER, align_face, face_quad
from libreface_nb.faces.manifest import new_row
from libreface_nb.faces.mesh import Face, FaceMesh
from libreface_nb.faces.pose import head_pose
from libreface_nb.faces.requests import Request, request_table, requests_by_source
from libreface_nb.faces.store import StoreWriter, load_manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreprocessOptions:
    """How faces are found and aligned; every ``preprocess_*`` function takes these.

    Attributes:
        max_faces: the most faces per frame (largest first).
        method: alignment, ``"fast"`` or ``"reference"`` (see :func:`align_face`).
        detector: ``"auto"``, ``"mesh"`` or ``"full_range"`` (see :class:`FaceMesh`).
        size: aligned face side in pixels.
        border: fill beyond the image edge, ``"constant"`` (LibreFace's dark fill) or
            ``"reflect"`` (the FFHQ mirror); see :mod:`libreface_nb.faces.align`.
        track_videos: one tracking FaceMesh per video (faster, stable track ids); False runs
            static mode on every frame.
    """

    max_faces: int = 1
    method: str = "fast"
    detector: str = "auto"
    size: int = ALIGNED_SIZE
    border: str = DEFAULT_BORDER
    track_videos: bool = True

    def store_params(self) -> dict:
        """The parameters a store is built with (a store never mixes two alignments)."""
        return {
            "size": self.size,
            "method": self.method,
            "max_faces": self.max_faces,
            "detector": self.detector,
            "border": self.border,
        }


def status_row(source: str, frame: int, time_s: float, status: str, reason: str, shape=(0, 0)):
    """A manifest row for a frame without a usable face (or the start of one for ``ok``)."""
    return new_row(source, frame, time_s, shape, status=status, reason=reason)


class _FrameProcessor:
    """Faces of one frame → aligned PNGs + manifest rows."""

    def __init__(self, writer: StoreWriter, opts: PreprocessOptions) -> None:
        self.writer, self.method, self.size = writer, opts.method, opts.size
        self.border = opts.border

    def rows(
        self, mesh: FaceMesh, source: str, frame: int, time_s: float, image: np.ndarray
    ) -> list[dict]:
        try:
            faces = mesh.detect(image)
        except Exception as exc:  # a MediaPipe failure on one frame must not stop a dataset
            log.warning("%s frame %d: face search failed: %r", source, frame, exc)
            reason = f"face search failed: {type(exc).__name__}: {exc}"
            return [status_row(source, frame, time_s, "error", reason, image.shape)]
        if not faces:
            reason = "MediaPipe found no face"
            return [status_row(source, frame, time_s, "no_face", reason, image.shape)]
        return [self._face_row(source, frame, time_s, image, k, f) for k, f in enumerate(faces)]

    def _face_row(
        self, source: str, frame: int, time_s: float, image: np.ndarray, k: int, face: Face
    ) -> dict:
        row = new_row(source, frame, time_s, image.shape)
        row.update(face=k, track_id=int(face.track_id), score=float(face.score))
        row["detector"] = face.detector
        try:
            lm = np.asarray(face.landmarks, dtype=np.float32)
            quad = face_quad(lm)
            aligned = align_face(image, quad, self.size, self.method, border=self.border)
            pitch, yaw, roll = head_pose(lm)
            face_file = self.writer.write_face(source, frame, k, aligned)  # last: no stray PNG
        except Exception as exc:
            # One bad face (e.g. OpenCV's (-215) assertion for a quad far outside a small image)
            # must not stop a dataset; the row says why, and a rerun tries the frame again.
            log.warning("%s frame %d face %d: %r", source, frame, k, exc)
            row.update(status="error", reason=f"face {k} failed: {type(exc).__name__}: {exc}")
            return row
        row.update(face_file=face_file, quad=quad, landmarks=lm.ravel())
        row.update(pitch=pitch, yaw=yaw, roll=roll)
        return row


class LazyMesh:
    """A static FaceMesh built on first use (a video-only run never pays for it).

    Shared with :mod:`libreface_nb.infer.pipeline`, which finds faces in stills the same way.
    """

    def __init__(self, opts: PreprocessOptions) -> None:
        self.max_faces, self.detector, self.mesh = opts.max_faces, opts.detector, None

    def detect(self, image: np.ndarray) -> list:
        if self.mesh is None:
            self.mesh = FaceMesh(static=True, max_faces=self.max_faces, detector=self.detector)
        return self.mesh.detect(image)

    def close(self) -> None:
        if self.mesh is not None:
            self.mesh.close()


@dataclass
class _Job:
    """What every source of one ``preprocess_sources`` call shares."""

    writer: StoreWriter
    proc: _FrameProcessor
    opts: PreprocessOptions
    bar: Any
    still_mesh: LazyMesh


def _progress(total: int | None, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="frame", leave=False)


def preprocess_sources(
    items: Iterable | pd.DataFrame,
    store_dir: str | Path,
    options: PreprocessOptions | None = None,
    *,
    progress: bool = True,
    **overrides: Any,
) -> pd.DataFrame:
    """Align the faces of listed frames into a store; the core of every ``preprocess_*``.

    Args:
        items: a DataFrame with columns ``source`` and ``frame`` (a dataset index; other columns
            are ignored), or an iterable of ``(source, frame)`` pairs. ``frame`` is 0 for a
            still; for a video only the listed frames are kept but the file is decoded once, in
            order; ``frame=None`` (NaN in a table) asks for every frame of a video.
        store_dir: the aligned-face store (created; reruns skip frames already done and retry
            failed ones).
        options: how faces are found and aligned (default :class:`PreprocessOptions`()).
        progress: show a progress bar.
        **overrides: fields of :class:`PreprocessOptions` to change (``max_faces=2``,
            ``method="reference"`` …); an unknown name raises TypeError.

    Returns:
        The manifest rows of the requested frames (see :mod:`libreface_nb.faces.store`), in
        request order: each distinct (source, frame) once, where ``items`` first asks for it;
        a whole-video request gives all the video's frames in order; faces in order.

    Raises:
        ValueError: a frame number that is not a whole number ≥ 0 or None.
    """
    opts = replace(options or PreprocessOptions(), **overrides)
    table = request_table(items)
    requests = requests_by_source(table)
    writer = StoreWriter(store_dir, opts.store_params())
    known = [len(r.frames) for r in requests if r.frames is not None]
    bar = _progress(sum(known) if len(known) == len(requests) else None, progress, "faces")
    job = _Job(writer, _FrameProcessor(writer, opts), opts, bar, LazyMesh(opts))
    try:
        for req in requests:
            if io.is_video(req.source):
                _run_video(req, job)
            else:
                _run_still(req, job)
    finally:
        bar.close()
        job.still_mesh.close()
        manifest = writer.consolidate()
    return _select(manifest, table)


def _select(manifest: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The manifest rows answering the request table (:func:`.requests.request_table`), in order.

    Two merges, one on (source, frame) and one on source for whole-video rows, so the cost
    grows as N log N, not as requests × manifest rows.
    """
    req = table.assign(_order=np.arange(len(table)))
    whole = (req["frame"] < 0).to_numpy()
    keys = pd.DataFrame(
        {
            "source": manifest["source"].astype(str).to_numpy(),
            "frame": manifest["frame"].to_numpy(np.int64),
            "_row": np.arange(len(manifest)),
        }
    )
    pairs = req.loc[~whole, ["source", "frame", "_order"]].drop_duplicates(["source", "frame"])
    videos = req.loc[whole, ["source", "_order"]].drop_duplicates("source")
    hits = pd.concat([keys.merge(pairs, on=["source", "frame"]), keys.merge(videos, on="source")])
    hits = hits.sort_values(["_order", "frame", "_row"], kind="stable").drop_duplicates("_row")
    return manifest.iloc[hits["_row"].to_numpy()].reset_index(drop=True)


def _run_still(req: Request, job: _Job) -> None:
    writer, proc, mesh, bar = job.writer, job.proc, job.still_mesh, job.bar
    frames = req.frames if req.frames is not None else [0]
    todo = [f for f in frames if (req.source, f) not in writer.done]
    bar.update(len(frames) - len(todo))
    if not todo:
        return
    try:
        image = io.read_image(req.source)
    except UnreadableInputError as exc:
        log.warning("%s", exc)
        rows = [status_row(req.source, f, 0.0, "unreadable", str(exc)) for f in todo]
    else:
        rows = []
        for f in todo:
            if f == 0:
                rows += proc.rows(mesh, req.source, 0, 0.0, image)
            else:  # a still has only frame 0
                reason = "a still image has only frame 0"
                rows.append(status_row(req.source, f, 0.0, "missing_frame", reason, image.shape))
    writer.add_rows(rows)
    bar.update(len(todo))


def _video_frames(req: Request, todo: set[int] | None) -> Iterator[io.VideoFrame]:
    stop = max(todo) + 1 if todo else None
    yield from io.iter_video(req.source, frames=todo, stop=stop)


def _run_video(req: Request, job: _Job) -> None:
    writer, proc, bar, opts = job.writer, job.proc, job.bar, job.opts
    if req.frames is None and writer.video_done(req.source):
        return
    todo = None
    if req.frames is not None:
        todo = {f for f in req.frames if (req.source, f) not in writer.done}
        bar.update(len(req.frames) - len(todo))
        if not todo:
            return
    seen: set[int] = set()
    failed = 0
    try:
        mesh_opts = {"max_faces": opts.max_faces, "detector": opts.detector}
        with FaceMesh(static=not opts.track_videos, **mesh_opts) as mesh:
            for vf in _video_frames(req, todo):
                seen.add(vf.index)
                if (req.source, vf.index) in writer.done:
                    continue  # resumed whole-video run: done before the interruption
                failed += writer.add_rows(
                    proc.rows(mesh, req.source, vf.index, vf.time_s, vf.image)
                )
                bar.update(1)
    except UnreadableInputError as exc:
        log.warning("%s", exc)
        if todo is None and any(src == req.source for src, _ in writer.done):
            # Readable before, unreadable now (moved, remounted, damaged): keep its good rows.
            log.warning("%s: keeping the rows of the earlier, successful reads", req.source)
            return
        frames = sorted(todo) if todo is not None else [0]
        rows = [status_row(req.source, f, np.nan, "unreadable", str(exc)) for f in frames]
        writer.add_rows(rows)  # no done marker: a repaired file is read again by a rerun
        writer.flush()
        bar.update(len(rows))
        return
    if todo is not None:
        missing = sorted(todo - seen)
        reason = "the video ends before frame {}".format
        rows = [status_row(req.source, f, np.nan, "missing_frame", reason(f)) for f in missing]
        writer.add_rows(rows)
        bar.update(len(missing))
    if todo is None and not failed:
        writer.mark_video_done(req.source, len(seen))  # flushes first
    writer.flush()  # every video's rows reach the disk before the next one starts


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
    "PreprocessOptions",
    "list_media",
    "load_manifest",
    "preprocess_folder",
    "preprocess_images",
    "preprocess_sources",
    "preprocess_video",
]
