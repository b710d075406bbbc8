"""Faces-stage benchmark: decode, landmarks (static vs tracking), alignment (reference vs fast).

Builds a 640×480 MJPG clip from the two bundled photos (scikit-image's astronaut, matplotlib's
Grace Hopper) with motion (pan, zoom, in-plane rotation), then times each stage per frame with one
thread: OpenCV ``setNumThreads(1)``, ``OMP_NUM_THREADS=1`` and, where the OS allows, the process
pinned to one CPU core (MediaPipe's own thread pool then shares that core).

Usage::

    python benchmarks/bench_faces.py [--frames 120] [--cores 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np


def _photo_frames(n: int, width: int = 640, height: int = 480) -> list[np.ndarray]:
    """n frames: each photo in turn for n/2 frames, moving (pan ±40 px, zoom 0.8–1.0, ±10°)."""
    import cv2
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        gh = np.asarray(im.convert("RGB"))
    photos = [skimage.data.astronaut(), gh]
    frames = []
    for i in range(n):
        photo = photos[(2 * i) // n]
        t = (i % max(1, n // 2)) / max(1, n // 2)
        s = min(width / photo.shape[1], height / photo.shape[0]) * (
            0.8 + 0.2 * np.cos(2 * np.pi * t)
        )
        m = cv2.getRotationMatrix2D(
            (photo.shape[1] / 2, photo.shape[0] / 2), 10 * np.sin(2 * np.pi * t), s
        )
        m[:, 2] += [
            width / 2 - photo.shape[1] / 2 + 40 * np.sin(2 * np.pi * t),
            height / 2 - photo.shape[0] / 2,
        ]
        frames.append(cv2.warpAffine(photo, m, (width, height), borderValue=(90, 90, 90)))
    return frames


def _write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    import cv2

    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        out.write(np.ascontiguousarray(f[:, :, ::-1]))
    out.release()
    return path


def _ms(seconds: float, n: int) -> float:
    return 1e3 * seconds / max(n, 1)


def run(n_frames: int, cores: int | None) -> dict:
    import cv2

    cv2.setNumThreads(1)
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    from libreface_nb.faces.align import align_face, face_quad
    from libreface_nb.faces.io import iter_video
    from libreface_nb.faces.mesh import FaceMesh
    from libreface_nb.faces.preprocess import preprocess_video

    res: dict = {"frames": n_frames, "size": "640x480", "cores": cores or os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        clip = _write_clip(Path(tmp) / "clip.avi", _photo_frames(n_frames))
        t = time.perf_counter()
        frames = [f.image for f in iter_video(clip)]
        res["decode_ms"] = _ms(time.perf_counter() - t, len(frames))
        # "mesh": FaceMesh's short-range detector only; "auto": plus the full-range detector
        # (whole frame, then FaceMesh on a crop) on frames where FaceMesh finds no face.
        for mode, static in (("static", True), ("tracking", False)):
            for det in ("mesh", "auto"):
                with FaceMesh(static=static, max_faces=1, detector=det) as mesh:
                    mesh.detect(frames[0])  # graph warm-up (~30 ms, not per frame)
                    mesh.detect(frames[-1])
                    t = time.perf_counter()
                    found = [mesh.detect(f) for f in frames]
                    res[f"landmarks_{mode}_{det}_ms"] = _ms(time.perf_counter() - t, len(frames))
                    res[f"faces_found_{mode}_{det}"] = sum(bool(f) for f in found)
        quads = [face_quad(f[0].landmarks) if f else None for f in found]
        pairs = [(im, q) for im, q in zip(frames, quads, strict=True) if q is not None]
        for method, subset in (("fast", pairs), ("reference", pairs[:: max(1, len(pairs) // 30)])):
            t = time.perf_counter()
            for im, q in subset:
                align_face(im, q, method=method)
            res[f"align_{method}_ms"] = _ms(time.perf_counter() - t, len(subset))
        sub = pairs[:: max(1, len(pairs) // 5)]
        t = time.perf_counter()
        for im, q in sub:
            align_face(im, q, method="reference", transform_size=4096)
        res["align_reference4096_ms"] = _ms(time.perf_counter() - t, len(sub))
        t = time.perf_counter()
        preprocess_video(clip, Path(tmp) / "store", progress=False)
        res["preprocess_video_ms"] = _ms(time.perf_counter() - t, len(frames))
    res["tracking_plus_fast_fps"] = 1e3 / (res["landmarks_tracking_auto_ms"] + res["align_fast_ms"])
    res["fast_speedup_vs_reference"] = res["align_reference_ms"] / res["align_fast_ms"]
    return res


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames in the test clip")
    parser.add_argument("--cores", type=int, default=1, help="pin to this many cores (0: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    res = run(args.frames, args.cores or None)
    width = max(len(k) for k in res)
    for key, value in res.items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    sys.exit(main())
