"""MediaPipe FaceMesh (legacy solutions API, mediapipe 0.10.21): 478 landmarks per face.

Facts (docs/libreface_facts.md §2, docs/environment.md): LibreFace runs FaceMesh in static
mode with ``refine_landmarks=True`` (468 mesh points + 10 iris points) and builds a new FaceMesh per
frame; here a video keeps one tracking instance per stream. FaceMesh's own detector is short-range
(faces within ~2 m); for small or distant faces the full-range face detector
(``FaceDetection(model_selection=1)``) runs first and FaceMesh runs on a square crop of 1.8× each
box, with the landmarks mapped back to full-image pixels.

Coordinates: ``Face.landmarks`` is float32 ``[478, 3]``: x, y in pixels of the input image, z in
the same pixel scale (MediaPipe's relative z × the image width; negative = towards the camera).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from libreface_nb.faces.io import to_rgb_uint8
from libreface_nb.faces.track import IoUTracker, box_iou, box_overlap

log = logging.getLogger(__name__)

N_LANDMARKS = 478
DETECTORS = ("auto", "mesh", "full_range")
#: Crop side relative to the full-range detector's box (docs/environment.md: 1.8× gave 478
#: landmarks on all faces of a group photo where FaceMesh alone found one of five).
CROP_SCALE = 1.8
#: Crops are resized to this side before FaceMesh (its detector wants a face filling the frame).
CROP_SIDE = 256
#: The full-range detector sees a 192 px image: on a 1280 px frame it misses faces below ~70 px
#: (measured), on 480 px tiles it finds faces of ~30 px. Tiles overlap by a quarter.
TILE = 480


@dataclass
class Face:
    """One face found by FaceMesh.

    Attributes:
        landmarks: float32 ``[478, 3]``: x, y in pixels of the input image; z in the same pixel
            scale (MediaPipe relative z × image width).
        score: face-detection score in [0, 1] from MediaPipe's detector (short-range for the
            mesh path, full-range for small faces). In tracking mode the detector does not run
            on every frame: a tracked face keeps its track's last score; 1.0 when no detector
            score was ever available for it.
        box: ``(x0, y0, x1, y1)`` in pixels, the bounding box of the landmarks' x, y.
        track_id: per-stream track id (tracking mode), -1 in static mode.
        detector: ``"mesh"`` (FaceMesh on the full frame) or ``"full_range"`` (detector + crop).
        exact: float64 ``[478, 3]``, the same landmarks before rounding to float32 (full-frame
            FaceMesh only, else None): LibreFace computes its alignment quad from these, and on
            some frames the float32 rounding moves a few of its 512-px aligned pixels by one grey
            level (``predict`` aligns from them; stores keep float32, see
            :mod:`libreface_nb.faces.manifest`).
    """

    landmarks: np.ndarray
    score: float
    box: tuple[float, float, float, float]
    track_id: int = -1
    detector: str = field(default="mesh")
    exact: np.ndarray | None = None

    @property
    def area(self) -> float:
        """Area of ``box`` in square pixels."""
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def landmarks_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """Bounding box ``(x0, y0, x1, y1)`` of landmarks ``[N, 2+]``."""
    xy = np.asarray(landmarks)[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp

    return mp


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null (MediaPipe's C++ start-up chatter bypasses Python).

    Set ``LIBREFACE_NB_MEDIAPIPE_LOGS=1`` to see those lines.
    """
    if os.environ.get("LIBREFACE_NB_MEDIAPIPE_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


#: Calls of each graph run with native stderr silenced: MediaPipe prints TFLite start-up lines
#: the first time each of its sub-models runs, which in tracking mode is the second frame.
QUIET_CALLS = 5


def _process(graph, inputs):  # a MediaPipe solution and its inputs
    """``graph.process(inputs)``, its first :data:`QUIET_CALLS` calls without native stderr."""
    calls = getattr(graph, "_libreface_calls", 0)
    if calls >= QUIET_CALLS:
        return graph.process(inputs)
    with _native_stderr_silenced():
        out = graph.process(inputs)
    graph._libreface_calls = calls + 1
    return out


def _new_mesh_graph(static: bool, max_faces: int, min_det: float, min_track: float):
    """FaceMesh graph that also returns the detector's boxes and scores (``face_detections``).

    The legacy ``mp.solutions.face_mesh.FaceMesh`` exposes landmarks only; the same graph file
    also outputs ``face_detections``, which gives each face its detection score.
    """
    _import_mediapipe()
    from mediapipe.python.solution_base import SolutionBase
    from mediapipe.python.solutions import face_mesh

    prefix = "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
    with _native_stderr_silenced():
        return SolutionBase(
            binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
            side_inputs={
                "num_faces": max_faces,
                "with_attention": True,  # refine_landmarks=True → 478 points
                "use_prev_landmarks": not static,
            },
            calculator_params={
                prefix + "TensorsToDetectionsCalculator.min_score_thresh": min_det,
                "facelandmarkcpu__ThresholdingCalculator.threshold": min_track,
            },
            outputs=["multi_face_landmarks", "face_detections"],
        )


def _to_pixels(face_landmarks, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """A MediaPipe NormalizedLandmarkList → ``[478, 3]`` pixels, float32 and float64.

    MediaPipe's normalized values are float32; times the image size in float64 they are exact
    (LibreFace computes its quad from these), and rounded to float32 they are the float32
    product of before (IEEE rounds both to the nearest float32 of the exact product)."""
    norm = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float32)
    exact = norm.astype(np.float64) * np.array([width, height, width], dtype=np.float64)
    return exact.astype(np.float32), exact


def _detection_boxes(detections, width: int, height: int) -> list[tuple]:
    """MediaPipe detections → list of (box in pixels, score)."""
    out = []
    for det in detections or []:
        rb = det.location_data.relative_bounding_box
        x0, y0 = rb.xmin * width, rb.ymin * height
        box = (x0, y0, x0 + rb.width * width, y0 + rb.height * height)
        out.append((box, float(det.score[0]) if det.score else 1.0))
    return out


class FaceMesh:
    """FaceMesh with detection scores, small-face fallback and per-stream track ids.

    Use one instance per video stream in tracking mode (``static=False``); in static mode every
    image is independent. Not thread-safe: one instance per thread. Use as a context manager or
    call :meth:`close`.

    Args:
        static: static-image mode (each call detects from scratch) vs tracking mode.
        max_faces: the most faces returned per image, largest first.
        detector: ``"mesh"`` (FaceMesh's short-range detector only), ``"full_range"`` (also the
            full-range detector + crops on every image) or ``"auto"`` (full-range only when
            FaceMesh finds fewer than ``max_faces``).
        min_detection_confidence: detector score threshold.
        min_tracking_confidence: landmark presence threshold (tracking mode).
        track: assign track ids by box IoU across calls (default: in tracking mode).
        tile: the full-range detector also runs on overlapping tiles of this side when the
            image is larger than 1.5 tiles (small faces in large frames); None: whole image
            only. Costs ~5 ms per tile, only when the full-range detector runs.
    """

    def __init__(
        self,
        static: bool = True,
        max_faces: int = 1,
        detector: str = "auto",
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        track: bool | None = None,
        tile: int | None = TILE,
    ) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
        if max_faces < 1:
            raise ValueError(f"max_faces must be ≥ 1, got {max_faces}")
        self.static = static
        self.max_faces = max_faces
        self.detector = detector
        self.min_detection_confidence = min_detection_confidence
        self.tile = tile
        self._graph = _new_mesh_graph(
            static, max_faces, min_detection_confidence, min_tracking_confidence
        )
        self._full = None  # full-range detector, built on first need
        self._crop_mesh = None  # static single-face graph for crops
        self.tracker = IoUTracker() if (track if track is not None else not static) else None

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        for graph in (self._graph, self._full, self._crop_mesh):
            if graph is not None:
                graph.close()
        self._graph = self._full = self._crop_mesh = None

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in one image (or the next frame of the stream), largest first.

        Args:
            image: any array :func:`~libreface_nb.faces.io.to_rgb_uint8` accepts.

        Returns:
            Up to ``max_faces`` faces; empty when none is found.
        """
        if self._graph is None:
            raise RuntimeError("FaceMesh is closed")
        rgb = to_rgb_uint8(image)
        h, w = rgb.shape[:2]
        res = _process(self._graph, {"image": rgb})
        dets = _detection_boxes(res.face_detections, w, h)
        faces, fresh = [], {}
        for lms in res.multi_face_landmarks or []:
            pts, exact = _to_pixels(lms, w, h)
            box = landmarks_box(pts)
            score = _best_score(box, dets)
            faces.append(Face(pts, 1.0 if score is None else score, box, -1, "mesh", exact))
            fresh[id(faces[-1])] = score is not None
        want_more = len(faces) < self.max_faces
        if self.detector == "full_range" or (self.detector == "auto" and want_more):
            faces += self._full_range_faces(rgb, [f.box for f in faces])
        faces.sort(key=lambda f: f.area, reverse=True)
        faces = faces[: self.max_faces]
        if self.tracker is not None:
            # Faces without a detector score this frame keep their track's last score.
            self.tracker.assign(faces, [fresh.get(id(f), True) for f in faces])
        return faces

    def _full_range_faces(self, rgb: np.ndarray, known: list[tuple]) -> list[Face]:
        """Full-range detector, then FaceMesh on a 1.8× square crop of each new box."""
        mp = _import_mediapipe()
        if self._full is None:
            with _native_stderr_silenced():
                self._full = mp.solutions.face_detection.FaceDetection(
                    model_selection=1, min_detection_confidence=self.min_detection_confidence
                )
            self._crop_mesh = _new_mesh_graph(True, 1, self.min_detection_confidence, 0.5)
        found = []
        for box, score in self._full_range_boxes(rgb):
            if any(box_overlap(box, k) > 0.5 for k in known + [f.box for f in found]):
                continue  # already found by FaceMesh on the full frame
            pts = self._mesh_on_crop(rgb, box)
            if pts is not None:
                found.append(Face(pts, score, landmarks_box(pts), -1, "full_range"))
        return found

    def _full_range_boxes(self, rgb: np.ndarray) -> list[tuple]:
        """Full-range detections on the whole image and on tiles, merged, best score first."""
        h, w = rgb.shape[:2]
        dets = _detection_boxes(_process(self._full, rgb).detections, w, h)
        if self.tile and max(h, w) > 1.5 * self.tile:
            for x0, y0 in _tile_origins(w, h, self.tile):
                sub = np.ascontiguousarray(rgb[y0 : y0 + self.tile, x0 : x0 + self.tile])
                th, tw = sub.shape[:2]
                for (a, b, c, d), score in _detection_boxes(
                    _process(self._full, sub).detections, tw, th
                ):
                    dets.append(((a + x0, b + y0, c + x0, d + y0), score))
        kept: list[tuple] = []
        for box, score in sorted(dets, key=lambda d: -d[1]):  # greedy non-maximum suppression
            if all(box_overlap(box, k[0]) <= 0.5 for k in kept):
                kept.append((box, score))
        return kept

    def _mesh_on_crop(self, rgb: np.ndarray, box: tuple) -> np.ndarray | None:
        """FaceMesh on a square crop around ``box``; landmarks in full-image pixels or None."""
        import cv2

        x0, y0, x1, y1 = box
        side = CROP_SCALE * max(x1 - x0, y1 - y0)
        if side < 8:
            return None
        scale = CROP_SIDE / side
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        # crop = scale * (full - (c - side/2)): one affine, zero border outside the image.
        tx, ty = -scale * (cx - side / 2), -scale * (cy - side / 2)
        m = np.array([[scale, 0.0, tx], [0.0, scale, ty]])
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        crop = cv2.warpAffine(rgb, m, (CROP_SIDE, CROP_SIDE), flags=interp)
        res = _process(self._crop_mesh, {"image": np.ascontiguousarray(crop)})
        if not res.multi_face_landmarks:
            return None
        pts = _to_pixels(res.multi_face_landmarks[0], CROP_SIDE, CROP_SIDE)[0]
        pts[:, 0] = (pts[:, 0] - tx) / scale
        pts[:, 1] = (pts[:, 1] - ty) / scale
        pts[:, 2] = pts[:, 2] / scale
        return pts


def _tile_origins(width: int, height: int, tile: int) -> list[tuple[int, int]]:
    """Top-left corners of ``tile``-sided tiles covering the image with ≥ 1/4 overlap."""
    step = max(1, (3 * tile) // 4)

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        out = list(range(0, n - tile, step))
        return out + [n - tile]

    return [(x, y) for y in starts(height) for x in starts(width)]


def _best_score(box: tuple, dets: list[tuple]) -> float | None:
    """Score of the detection that overlaps ``box`` most (None when none overlaps)."""
    best, score = 0.3, None
    for dbox, dscore in dets:
        iou = box_iou(box, dbox)
        if iou > best:
            best, score = iou, dscore
    return score


_CACHE: dict[tuple, FaceMesh] = {}


def detect_faces(image: np.ndarray, max_faces: int = 1, detector: str = "auto") -> list[Face]:
    """Faces in one still image (static mode, refine_landmarks=True), largest first.

    A static :class:`FaceMesh` per ``(max_faces, detector)`` is kept for the process, so repeated
    calls do not rebuild the MediaPipe graph (not thread-safe).

    Args:
        image: any array :func:`~libreface_nb.faces.io.to_rgb_uint8` accepts.
        max_faces: the most faces returned.
        detector: see :class:`FaceMesh`.
    """
    key = (max_faces, detector)
    if key not in _CACHE:
        _CACHE[key] = FaceMesh(static=True, max_faces=max_faces, detector=detector)
    return _CACHE[key].detect(image)
