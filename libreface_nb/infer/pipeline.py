"""Streaming inference: images, folders and videos → one results row per frame and face.

Three stages overlap: a producer thread decodes frames and finds faces (one tracking FaceMesh
per video, a static one for stills); ``workers`` threads align each face in memory (no PNG is
written) and prepare the model input; the caller's thread runs the model on batches of
``batch_size`` faces and builds the rows. The producer queues each face's pending preparation in
decode order and the caller waits for each in that order, so rows keep decode order whatever the
number of workers, and each face is prepared by the same code alone: the results do not depend on
``workers``. A bounded queue (``queue_faces`` items) keeps memory flat however long the video: the
producer waits when the model falls behind. Every decoded frame gives at least one row with
its status (:mod:`libreface_nb.infer.columns`); frames skipped by ``every_nth_frame`` are not
decoded into rows at all (they are grabbed, not converted). Statuses and their reasons reuse the
face store's conventions (:mod:`libreface_nb.faces.preprocess`).

Per-stage wall time (decode and landmarks in the producer; align and preprocess in the workers,
summed over them; model and post in the consumer) is accumulated in :class:`StageTimes`; the
stages of different threads overlap.

A LibreFace 0.2.0 weights folder runs as :class:`LibreFaceBackend`: each model LibreFace would
load from it (:func:`libreface_nb.models.checkpoints.libreface_weights`), with LibreFace's own
input recipe: faces aligned to 512 px with its dark fill beyond the frame edge (``border=
"constant"``) by LibreFace's recipe step by step (``align="exact"``, the default: pixel for
pixel LibreFace's aligned image) or by the fast warp (``align="fast"``: ≈ 0.5 grey levels
apart), then, from that uint8 face, Pillow resizes exactly as LibreFace's code does: AU models
on the face resized to 256 (bilinear, torchvision's ``Resize`` on a PIL image) and centre-cropped
to 224, the expression model on the face resized to 224 (Pillow's default ``Image.resize``,
bicubic), each scaled to [0, 1] and ImageNet-normalized.

The alignment a model's faces need is its ``alignment`` metadata: ``libreface_quad/<method>``
with an optional ``/constant`` border (default ``reflect``); ``reference`` here means the recipe
step by step with the quad transform straight to the output size (LibreFace's pip package).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb.errors import ConfigError, UnreadableInputError
from libreface_nb.faces import io
from libreface_nb.faces.preprocess import LazyMesh, PreprocessOptions, list_media, status_row
from libreface_nb.infer.backends import Backend, load_backend, prepare_for
from libreface_nb.infer.columns import BASE, build_table, openface, output_columns
from libreface_nb.modelio.metadata import alignment_options

log = logging.getLogger(__name__)

STAGES = ("decode", "landmarks", "align", "preprocess", "model", "post")
_END = object()
#: LibreFace 0.2.0's aligned face (its pip package returns the 512-px quad transform as is).
LIBREFACE_ALIGNED = 512
#: ``align`` of :class:`LibreFaceBackend` → its faces' ``alignment`` metadata.
LIBREFACE_ALIGNMENTS = {
    "exact": "libreface_quad/reference/constant",
    "fast": "libreface_quad/fast/constant",
}


class LibreFaceBackend:
    """The models of a LibreFace 0.2.0 weights folder, with LibreFace's input recipe.

    ``info`` has the tasks of every model found (intensity, detection, expression; LibreFace's
    ``model_choice`` picks the AU files: ``"joint"`` or ``"separate"``) and the alignment of its
    512-px faces (``align``: ``"exact"`` or ``"fast"``, module docstring); :meth:`prepare`
    resizes a uint8 face for each model as LibreFace does, and :meth:`run` returns the
    activated outputs as any backend does. ``files``: ``[(path, tasks)]`` used. ``runtime``:
    ``"ort"`` (each model exported once to a temporary fp32 ONNX file and run in ONNX Runtime on
    the CPU, about twice as fast) or ``"torch"`` (on ``device``).
    """

    def __init__(
        self,
        folder: str | Path,
        choice: str = "joint",
        device: str = "cpu",
        threads: int | None = None,
        align: str = "exact",
        runtime: str = "ort",
    ) -> None:
        import torch

        from libreface_nb.modelio.metadata import ModelInfo
        from libreface_nb.models.checkpoints import libreface_model, libreface_weights

        if align not in LIBREFACE_ALIGNMENTS:
            raise ConfigError(f"align must be one of {sorted(LIBREFACE_ALIGNMENTS)}, not {align!r}")
        if threads:
            torch.set_num_threads(int(threads))
        self.device = torch.device(device)
        if runtime not in ("ort", "torch"):
            raise ConfigError(f"runtime must be 'ort' or 'torch', not {runtime!r}")
        self.files = libreface_weights(folder, choice)
        self.models, self.sessions = [], []
        for path, tasks in self.files:
            model, _ = libreface_model(path, tasks[0] if len(tasks) == 1 else None)
            self.models.append(model.to(self.device) if runtime == "torch" else model)
        if runtime == "ort":
            self.sessions = self._ort_sessions(threads)
        tasks = tuple(t for _, ts in self.files for t in ts)
        self.info = ModelInfo.for_tasks(
            tasks,
            input_size=LIBREFACE_ALIGNED,
            aligned_size=LIBREFACE_ALIGNED,
            transform="fer",  # the whole aligned face, normalized; resized per model in run()
            alignment=LIBREFACE_ALIGNMENTS[align],
            source=str(folder),
            training_data="",
        )

    def _ort_sessions(self, threads: int | None) -> list:
        import tempfile

        from libreface_nb.modelio.graph import model_info, write_onnx
        from libreface_nb.modelio.runtime import ort_session

        sessions = []
        with tempfile.TemporaryDirectory(prefix="libreface_onnx_") as tmp:
            for i, (model, (path, _)) in enumerate(zip(self.models, self.files, strict=True)):
                info = model_info(model, source=str(path), training_data="")
                onnx = write_onnx(model, Path(tmp) / f"m{i}_fp32.onnx", info)
                # The file is read: tmp may go. No spinning: the alignment workers need the
                # cores between runs (LibreFace's recipe costs about 4× a fast warp).
                sessions.append(ort_session(onnx, threads, spin=False))
        return sessions

    #: LibreFace finds the face anew in every video frame (a static face mesh): parity on videos
    #: needs the same (tracking landmarks move its outputs by up to 1.3 on the 0–5 scale).
    tracks_videos = False

    def prepare(self, faces: np.ndarray) -> np.ndarray:
        """uint8 512-px aligned faces ``[N, 512, 512, 3]`` → LibreFace's two inputs stacked on
        the channel axis, float32 ``[N, 6, 224, 224]``: channels 0–2 the AU models' (Pillow
        bilinear to 256, centre crop 224), 3–5 the expression model's (Pillow bicubic to 224),
        each ImageNet-normalized. A half that no model of the folder reads is not resized (it
        holds black pixels, normalized): a folder without the expression model skips its resize.
        Runs in the alignment workers of :func:`iter_predictions`."""
        from PIL import Image

        mean = np.asarray(self.info.mean, np.float32)
        std = np.asarray(self.info.std, np.float32)
        fer = "expression" in self.info.tasks
        au = any(t != "expression" for t in self.info.tasks)
        out = np.zeros((len(faces), 224, 224, 6), np.float32)
        for i, face in enumerate(np.asarray(faces, np.uint8)):
            pil = Image.fromarray(face)
            if au:
                resized = pil.resize((256, 256), Image.Resampling.BILINEAR)
                out[i, ..., :3] = np.asarray(resized)[16:240, 16:240]
            if fer:
                out[i, ..., 3:] = np.asarray(pil.resize((224, 224), Image.Resampling.BICUBIC))
        out /= np.float32(255.0)
        out -= np.tile(mean, 2)
        out /= np.tile(std, 2)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Activated outputs of every model for :meth:`prepare`'s ``[N, 6, 224, 224]``."""
        import torch

        from libreface_nb.models.tasks import activate

        au, fer = np.ascontiguousarray(x[:, :3]), np.ascontiguousarray(x[:, 3:])
        outs: dict[str, np.ndarray] = {}
        for i, model in enumerate(self.models):
            inp = fer if model.tasks == ("expression",) else au
            names = [self.info.outputs[self.info.tasks.index(t)] for t in model.tasks]
            if self.sessions:  # activated in the graph, outputs in task order
                sess = self.sessions[i]
                ys = sess.run(None, {sess.get_inputs()[0].name: inp})
                outs.update(zip(names, ys, strict=True))
                continue
            with torch.inference_mode():
                y = model(torch.from_numpy(inp).to(self.device))
            for task, name in zip(model.tasks, names, strict=True):
                outs[name] = activate(task, y[task]).float().cpu().numpy()
        return outs


@dataclass
class PredictOptions:
    """How :func:`iter_predictions` runs (see :func:`libreface_nb.predict` for each field)."""

    batch_size: int = 16
    every_nth_frame: int = 1
    max_faces: int = 1
    detector: str = "auto"
    landmarks: bool = False
    track_videos: bool | None = None  # None: the backend's ``tracks_videos`` (default True)
    chunk_rows: int = 512
    queue_faces: int = 64
    workers: int = 2  # threads aligning and preparing faces (results do not depend on it)

    def __post_init__(self) -> None:
        counts = ("batch_size", "every_nth_frame", "max_faces", "chunk_rows", "queue_faces")
        for name in (*counts, "workers"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)!r}")


@dataclass
class StageTimes:
    """Seconds spent per stage (summed over the threads that run it), frames and faces seen."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    faces: int = 0
    wall: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:  # workers add to the same stages
                self.seconds[name] += time.perf_counter() - t0

    def add_face(self) -> None:
        with self._lock:
            self.faces += 1


class _EveryNth:
    """A frame-index container: every n-th frame (0, n, 2n, …)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and index % self.n == 0


def expand_sources(paths: Iterable[str | Path] | str | Path) -> list[str]:
    """Files to read: files as given, folders → their images and videos sorted by path."""
    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        p = Path(p)
        out += [str(m) for m in list_media(p)] if p.is_dir() else [str(p)]
    return out


class _Producer:
    """Frames → items on a bounded queue, in decode order: ``(row, None, None)`` for a frame
    without a usable face, else a Future of ``(row, prepared face or None, landmarks or None)``
    from the alignment workers (:meth:`_prepare`)."""

    def __init__(
        self, sources: list[str], opts: PredictOptions, backend: Backend, times: StageTimes
    ):
        self.sources, self.opts, self.info, self.times = sources, opts, backend.info, times
        self.backend = backend
        track = opts.track_videos
        self.track = getattr(backend, "tracks_videos", True) if track is None else bool(track)
        self.align_opts = alignment_options(self.info)  # align_face's keywords, for every face
        self.q: queue.Queue = queue.Queue(maxsize=opts.queue_faces)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="predict-producer", daemon=True)
        self.next_frame = 0

    def _put(self, item: object) -> None:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        # Everything, set-up included, inside the try: the consumer waits for _END, so the
        # thread must never end without putting it (a failure is surfaced as "fatal" first).
        still = None
        self.pool = ThreadPoolExecutor(self.opts.workers, thread_name_prefix="predict-align")
        try:
            mesh_opts = PreprocessOptions(
                max_faces=self.opts.max_faces, detector=self.opts.detector
            )
            still = LazyMesh(mesh_opts)
            for src in self.sources:
                if self.stop.is_set():
                    break
                self._source(src, still)
        except BaseException as exc:  # surfaced in the consumer's thread
            self._put(("fatal", exc))
        finally:
            try:
                if still is not None:
                    still.close()
            finally:
                # Queued faces still run (the consumer waits for them) unless it has stopped.
                self.pool.shutdown(wait=False, cancel_futures=self.stop.is_set())
                self._put(_END)

    def _source(self, src: str, still: LazyMesh) -> None:
        """One file; an unexpected failure becomes an ``error`` row and the run goes on."""
        self.next_frame = 0
        try:
            if io.is_video(src):
                self._video(src)
            else:
                self._still(src, still)
        except Exception as exc:
            log.warning("%s: %r", src, exc)
            reason = f"reading stopped: {type(exc).__name__}: {exc}"
            self._put((status_row(src, self.next_frame, np.nan, "error", reason), None, None))

    def _still(self, src: str, mesh: LazyMesh) -> None:
        try:
            with self.times.stage("decode"):
                image = io.read_image(src)
        except UnreadableInputError as exc:
            log.warning("%s", exc)
            self._put((status_row(src, 0, np.nan, "unreadable", str(exc)), None, None))
            return
        self._frame(mesh, src, 0, 0.0, image)

    def _video(self, src: str) -> None:
        from libreface_nb.faces.mesh import FaceMesh

        opts = self.opts
        wanted = _EveryNth(opts.every_nth_frame) if opts.every_nth_frame > 1 else None
        try:
            with FaceMesh(
                static=not self.track, max_faces=opts.max_faces, detector=opts.detector
            ) as mesh:
                frames = io.iter_video(src, frames=wanted)
                while not self.stop.is_set():
                    with self.times.stage("decode"):
                        vf = next(frames, None)
                    if vf is None:
                        break
                    self._frame(mesh, src, vf.index, vf.time_s, vf.image)
        except UnreadableInputError as exc:
            log.warning("%s", exc)
            self._put((status_row(src, 0, np.nan, "unreadable", str(exc)), None, None))

    def _frame(self, mesh: Any, src: str, frame: int, t: float, image: np.ndarray) -> None:
        self.times.frames += 1
        self.next_frame = frame + 1  # where an error row goes if the file then fails
        try:
            with self.times.stage("landmarks"):
                faces = mesh.detect(image)
        except Exception as exc:  # one MediaPipe failure must not stop a corpus
            reason = f"face search failed: {type(exc).__name__}: {exc}"
            self._put((status_row(src, frame, t, "error", reason, image.shape), None, None))
            return
        if not faces:
            row = status_row(src, frame, t, "no_face", "MediaPipe found no face", image.shape)
            self._put((row, None, None))
            return
        for k, face in enumerate(faces):
            row = status_row(src, frame, t, "ok", "", image.shape)
            row.update(face=k, track_id=int(face.track_id), score=float(face.score))
            self._put(self.pool.submit(self._prepare, image, face, k, row))

    def _prepare(self, image: np.ndarray, face: Any, k: int, row: dict) -> tuple:
        """(row, model input, landmarks or None) of one face, in a worker thread; a failure
        becomes an ``error`` row (the model input None)."""
        from libreface_nb.faces.align import align_face, face_quad
        from libreface_nb.faces.pose import head_pose

        try:
            with self.times.stage("align"):
                lm = np.asarray(face.landmarks, dtype=np.float32)
                quad = face_quad(face.exact if face.exact is not None else lm)
                aligned = align_face(image, quad, self.info.aligned_size, **self.align_opts)
                row["pitch"], row["yaw"], row["roll"] = head_pose(lm)
            with self.times.stage("preprocess"):
                x = prepare_for(self.backend, aligned[None])[0]
        except Exception as exc:
            row.update(status="error", reason=f"face {k} failed: {type(exc).__name__}: {exc}")
            return row, None, None
        self.times.add_face()
        return row, x, lm[:, :2] if self.opts.landmarks else None


def _flush(items: list, backend: Backend, opts: PredictOptions, times: StageTimes) -> pd.DataFrame:
    """Run the model on the faces of ``items`` (one batch at most) → their table rows."""
    info = backend.info
    idx = [i for i, (_, x, _) in enumerate(items) if x is not None]
    preds = np.full((len(items), len(output_columns(info))), np.nan)
    if idx:
        with times.stage("model"):
            out = backend.run(np.stack([items[i][1] for i in idx]))
        preds[idx] = np.concatenate([out[n] for n in info.outputs], axis=1)
    with times.stage("post"):
        lms = None
        if opts.landmarks:
            lms = np.full((len(items), 478, 2), np.nan, np.float32)
            for i in idx:
                lms[i] = items[i][2]
        rows = [{k: r.get(k) for k in BASE} for r, _, _ in items]
        return build_table(rows, preds, info, lms)


def iter_predictions(
    paths: Iterable[str | Path] | str | Path,
    backend: Backend,
    opts: PredictOptions | None = None,
    times: StageTimes | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the results table in chunks of about ``opts.chunk_rows`` rows, in decode order."""
    opts = opts or PredictOptions()
    times = times or StageTimes()
    t0 = time.perf_counter()
    prod = _Producer(expand_sources(paths), opts, backend, times)
    prod.thread.start()
    items: list = []
    parts: list[pd.DataFrame] = []
    n_parts = 0
    try:
        while True:
            item = prod.q.get()
            if item is _END:
                break
            if isinstance(item, tuple) and len(item) == 2 and item[0] == "fatal":
                raise item[1]
            items.append(item.result() if isinstance(item, Future) else item)
            # A full batch of faces, or many rows without faces (a long stretch with no face
            # must not pile up in memory).
            full = sum(x is not None for _, x, _ in items) >= opts.batch_size
            if full or len(items) >= opts.chunk_rows:
                parts.append(_flush(items, backend, opts, times))
                n_parts, items = n_parts + len(parts[-1]), []
            if n_parts >= opts.chunk_rows:
                yield pd.concat(parts, ignore_index=True)
                parts, n_parts = [], 0
        if items:
            parts.append(_flush(items, backend, opts, times))
        if parts:
            yield pd.concat(parts, ignore_index=True)
    finally:
        prod.stop.set()
        prod.thread.join()
        times.wall += time.perf_counter() - t0


def load_any_backend(
    model: Any = None,
    backend: str = "ort",
    *,
    threads: int | None = None,
    device: str = "cpu",
    choice: str = "joint",
    align: str = "exact",
) -> Backend:
    """:func:`~libreface_nb.infer.backends.load_backend`, or a :class:`LibreFaceBackend` when
    ``model`` is a folder (LibreFace's weights; ``choice`` = its ``model_choice``, ``align``)."""
    if isinstance(model, str | Path) and Path(model).is_dir():
        return LibreFaceBackend(
            model, choice, device=device, threads=threads, align=align, runtime=backend
        )
    return load_backend(model, backend, threads=threads, device=device)


def predict(
    paths: Iterable[str | Path] | str | Path,
    model: Any = None,
    *,
    backend: str = "ort",
    threads: int | None = None,
    device: str = "cpu",
    openface_columns: bool = False,
    progress: bool = False,
    times: StageTimes | None = None,
    libreface_choice: str = "joint",
    libreface_align: str = "exact",
    **options: Any,
) -> pd.DataFrame:
    """AUs, expressions and head pose for images, folders and videos: one row per frame and face.

    Args:
        paths: a file, a folder (its images and videos, sorted) or a list of them.
        model: an exported ``…_fp32.onnx``/``…_int8.onnx`` (default: the newest of notebook 05's
            exports, ``outputs/runs/`` + :data:`libreface_nb.artifacts.EXPORT_GLOB`), a ``.pt``
            model file, a FaceModel, or a LibreFace 0.2.0 weights folder
            (:class:`LibreFaceBackend`, torch).
        backend: ``"ort"`` (ONNX Runtime) or ``"torch"`` (a FaceModel, also on CUDA).
        threads: the model's intra-op threads (None: the library's default).
        device: torch device for ``backend="torch"``.
        openface_columns: OpenFace 2.0 column names (``AU01_r``, ``AU01_c``, ``success``…).
        progress: a progress bar over rows.
        times: a :class:`StageTimes` to fill with per-stage seconds.
        libreface_choice: for a LibreFace weights folder, its ``model_choice``: ``"joint"``
            (LibreFace's default) or ``"separate"``.
        libreface_align: for a LibreFace weights folder: ``"exact"`` (its alignment recipe step
            by step) or ``"fast"`` (:class:`LibreFaceBackend`).
        **options: :class:`PredictOptions` fields: ``batch_size`` (16), ``every_nth_frame``
            (1), ``max_faces`` (1), ``detector`` (``"auto"``), ``landmarks`` (False),
            ``track_videos`` (None: one tracking face mesh per video, except for a LibreFace
            weights folder, whose recipe finds the face anew in every frame), ``workers`` (2:
            threads aligning and preparing faces; the results do not depend on it).

    Returns:
        The results table (:mod:`libreface_nb.infer.columns`).
    """
    from tqdm.auto import tqdm

    known = set(PredictOptions.__dataclass_fields__) - {"chunk_rows", "queue_faces"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown predict option(s) {unknown}; known: {sorted(known)}")
    be = load_any_backend(
        model, backend, threads=threads, device=device, choice=libreface_choice,
        align=libreface_align,
    )  # fmt: skip
    parts = []
    with tqdm(disable=not progress, unit="row", desc="predict") as bar:
        for part in iter_predictions(paths, be, PredictOptions(**options), times):
            parts.append(part)
            bar.update(len(part))
    if parts:
        table = pd.concat(parts, ignore_index=True)
    else:
        table = build_table([], np.zeros((0, len(output_columns(be.info)))), be.info)
    return openface(table) if openface_columns else table
