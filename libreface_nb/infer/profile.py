"""Where inference time goes on a CPU: model latency per engine and per-stage pipeline time.

Two tables, both tidy DataFrames (one row per configuration):

- :func:`model_latency`: the model alone on random inputs of the model's size, per engine
  (ONNX Runtime fp32 / int8, torch eager), thread count and batch size. ``warmup`` untimed runs,
  then ``repeats`` timed runs; the *median* run is reported. Columns ``engine``, ``precision``,
  ``threads``, ``batch``, ``ms_per_batch``, ``ms_per_face``, ``faces_per_s``, ``warmup``,
  ``repeats``.
- :func:`pipeline_stages`: :func:`libreface_nb.predict`'s pipeline end to end on a video, per
  engine: ``frames``, ``faces``, ``wall_s``, ``frames_per_s`` (end to end, decode included)
  and the wall time of each stage per frame (``decode_ms`` … ``post_ms``; decode, landmarks,
  align and preprocess run in the producer thread and overlap model and post in the caller's,
  so the stages add up to more than the wall time when the overlap works). One untimed warm-up
  pass over ``warmup_frames`` frames first (MediaPipe's and ONNX Runtime's first calls).

ONNX Runtime runs with all graph optimizations (``ORT_ENABLE_ALL``), ``threads`` intra-op
threads and 1 inter-op thread; torch with ``torch.set_num_threads(threads)``. On a shared
machine every figure is a lower bound on speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb.infer.pipeline import STAGES


@dataclass(frozen=True)
class Engine:
    """A way to run a model: a label, its precision and threads, and a backend factory."""

    engine: str  # "ort" or "torch"
    precision: str
    threads: int
    make: Callable[[], Any]


def standard_engines(
    fp32: str | Path | None = None,
    int8: str | Path | None = None,
    torch_model: Any = None,
    threads: Sequence[int] = (1, 2),
) -> list[Engine]:
    """ORT fp32 / int8 files and a torch FaceModel, each at every thread count given."""
    from libreface_nb.infer.backends import OrtBackend, TorchBackend

    out = []
    for th in threads:
        if fp32 is not None:
            out.append(Engine("ort", "fp32", th, lambda p=fp32, t=th: OrtBackend(p, t)))
        if int8 is not None:
            out.append(Engine("ort", "int8", th, lambda p=int8, t=th: OrtBackend(p, t)))
        if torch_model is not None:
            out.append(
                Engine("torch", "fp32", th, lambda m=torch_model, t=th: TorchBackend(m, "cpu", t))
            )
    return out


def _median_run(fn: Callable[[], Any], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return float(np.median(runs))


def model_latency(
    engines: Sequence[Engine],
    batch_sizes: Sequence[int] = (1, 8, 32),
    *,
    warmup: int = 2,
    repeats: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """The model alone per engine, threads and batch size (see the module docstring)."""
    rows = []
    rng = np.random.default_rng(seed)
    for eng in engines:
        be = eng.make()
        s = be.info.input_size
        for b in batch_sizes:
            x = rng.normal(0, 1, (b, 3, s, s)).astype(np.float32)
            sec = _median_run(lambda be=be, x=x: be.run(x), warmup, repeats)
            rows.append(
                {
                    "engine": eng.engine, "precision": eng.precision, "threads": eng.threads,
                    "batch": b, "ms_per_batch": 1e3 * sec, "ms_per_face": 1e3 * sec / b,
                    "faces_per_s": b / sec, "warmup": warmup, "repeats": repeats,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def pipeline_stages(
    video: str | Path,
    engines: Sequence[Engine],
    *,
    batch_size: int = 16,
    warmup_frames: int = 8,
) -> pd.DataFrame:
    """``predict``'s pipeline on ``video`` per engine (see the module docstring)."""
    from libreface_nb.infer.pipeline import PredictOptions, StageTimes, iter_predictions

    rows = []
    for eng in engines:
        be = eng.make()
        warm = PredictOptions(batch_size=batch_size, chunk_rows=warmup_frames)
        with closing(iter_predictions(video, be, warm)) as first:
            next(first, None)  # closing the generator stops its producer thread
        times = StageTimes()
        t0 = time.perf_counter()
        n = sum(len(p) for p in iter_predictions(video, be, PredictOptions(batch_size), times))
        wall = time.perf_counter() - t0
        row = {
            "engine": eng.engine, "precision": eng.precision, "threads": eng.threads,
            "batch": batch_size, "frames": times.frames, "faces": times.faces, "rows": n,
            "wall_s": wall, "frames_per_s": times.frames / wall if wall else float("nan"),
        }  # fmt: skip
        for stage in STAGES:
            row[f"{stage}_ms"] = 1e3 * times.seconds[stage] / max(times.frames, 1)
        rows.append(row)
    return pd.DataFrame(rows)


def save_profile(latency: pd.DataFrame, stages: pd.DataFrame, path: str | Path) -> Path:
    """Both tables in one CSV (``table`` = ``model`` or ``pipeline``), written atomically."""
    from libreface_nb.atomic import atomic_path

    both = pd.concat([latency.assign(table="model"), stages.assign(table="pipeline")])
    cols = ["table"] + [c for c in both.columns if c != "table"]
    with atomic_path(path) as tmp:
        both[cols].to_csv(tmp, index=False)
    return Path(path)
