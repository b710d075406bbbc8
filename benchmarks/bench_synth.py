"""SynthAU benchmark: frames/s of ``render_face`` and MediaPipe's detection rate on its frames.

Renders random frames (6 subjects, each AU active with probability 0.4 at U(0, 5), frame pose,
blur, noise and JPEG) with one thread (``OMP_NUM_THREADS=1``, OpenCV ``setNumThreads(1)``),
after one warm-up frame per subject (base meshes detected, working images cached). Then runs
MediaPipe FaceMesh (``libreface_nb.faces.mesh.detect_faces``) on the first ``--detect`` frames,
with the short-range FaceMesh detector alone (``mesh``) and with the full-range fallback
(``auto``). ``--turns N`` also renders N frames at each fixed head turn (yaw ±25°, pitch ±20°,
with the frame's other jitter) and counts MediaPipe's detections on them.

Usage::

    python benchmarks/bench_synth.py [--frames 300] [--size 256] [--detect 100] [--turns 50]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np


def _random_intensities(rng: np.random.Generator, aus: tuple[int, ...]) -> dict[int, float]:
    values = rng.uniform(0, 5, len(aus)) * (rng.random(len(aus)) < 0.4)
    return dict(zip(aus, values.tolist(), strict=True))


def detect_turns(frames: int, size: int, subjects: int = 6) -> dict[str, str]:
    """Detections (``auto``) on ``frames`` random frames at each fixed yaw / pitch extreme."""
    from libreface_nb.data import synth
    from libreface_nb.faces.mesh import detect_faces

    people = synth.make_subjects(subjects, seed=0)
    out = {}
    for name, turn in (
        ("yaw-25", {"yaw": -25.0}),
        ("yaw+25", {"yaw": 25.0}),
        ("pitch-20", {"pitch": -20.0}),
        ("pitch+20", {"pitch": 20.0}),
    ):
        rng = np.random.default_rng(1)
        found = 0
        for i in range(frames):
            inten = _random_intensities(rng, synth.SYNTH_AUS)
            img = synth.render_face(people[i % subjects], inten, size=size, frame_seed=i, **turn)
            found += bool(detect_faces(img))
        out[f"detected_{name}"] = f"{found}/{frames}"
    return out


def run(frames: int, size: int, detect: int, subjects: int = 6) -> dict:
    """Time ``frames`` renders and count detections on the first ``detect`` of them."""
    import cv2

    from libreface_nb.data import synth

    cv2.setNumThreads(1)
    people = synth.make_subjects(subjects, seed=0)
    t0 = time.perf_counter()
    for s in people:
        synth.render_face(s, {}, size=size)
    warm_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    plan = [_random_intensities(rng, synth.SYNTH_AUS) for _ in range(frames)]
    images = []
    t0 = time.perf_counter()
    for i, inten in enumerate(plan):
        images.append(synth.render_face(people[i % subjects], inten, size=size, frame_seed=i))
    render_s = time.perf_counter() - t0
    out = {
        "frames": frames,
        "size": size,
        "subjects": subjects,
        "warm_up_s": round(warm_s, 3),
        "render_frames_per_s": round(frames / render_s, 1),
        "render_ms_per_frame": round(1000 * render_s / frames, 2),
    }
    if detect:
        from libreface_nb.faces.mesh import detect_faces

        for detector in ("mesh", "auto"):
            found = sum(bool(detect_faces(im, detector=detector)) for im in images[:detect])
            out[f"detected_{detector}"] = f"{found}/{min(detect, len(images))}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--detect", type=int, default=100, help="frames to run MediaPipe on")
    ap.add_argument("--turns", type=int, default=0, help="frames per fixed head turn")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    res = run(args.frames, args.size, args.detect)
    if args.turns:
        res.update(detect_turns(args.turns, args.size))
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
