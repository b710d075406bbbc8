"""End-to-end benchmark of ``libreface_nb.predict`` on a 640×480 single-face video.

Builds a 30 fps MJPG clip from the two bundled photos (scikit-image's astronaut, matplotlib's
Grace Hopper; moving: pan, zoom, in-plane rotation, as in ``bench_faces.py``), exports a
ResNet-18 intensity student at 224 px (random weights unless ``--model`` is given: speed does not
depend on the values) to fp32 ONNX and static int8 (calibrated on aligned faces of the clip),
then measures:

- frames/s end to end (decode → FaceMesh → alignment → model → rows) for int8 and fp32 at 1 and
  2 model threads, after one warm-up pass over ``--warmup`` frames; per-stage ms per frame;
- peak resident memory (``VmHWM`` of a fresh child process) writing the results of the
  10-s clip and of a long clip (the same frames repeated to ``--long-seconds``) to CSV, the
  streaming path the CLI uses.

Usage::

    python benchmarks/bench_predict.py [--frames 300] [--long-seconds 120] [--json out.json]

Machine load matters: on a shared machine every speed is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))

FPS = 30.0


def write_clip(path: Path, frames: list, repeat: int = 1) -> Path:
    """MJPG .avi of ``frames`` (RGB) played ``repeat`` times."""
    import cv2
    import numpy as np

    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (w, h))
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]
    for _ in range(repeat):
        for f in bgr:
            out.write(f)
    out.release()
    return path


def make_models(work: Path, clip: Path, model: str | None) -> tuple[Path, Path]:
    """fp32 and int8 ONNX files (exported from ``model`` or a random-weight student)."""
    from libreface_nb.export.calibration import store_faces
    from libreface_nb.export.onnx import export_onnx, quantize_int8, read_metadata
    from libreface_nb.faces.preprocess import preprocess_sources
    from libreface_nb.models.factory import ModelConfig, create_model, load_model

    net = load_model(model) if model else create_model(ModelConfig("resnet18", ("intensity",)))
    fp32 = export_onnx(net.eval(), work / "bench_fp32.onnx", source=model or "random weights")
    store = work / "store"
    preprocess_sources([(str(clip), f) for f in range(0, 60, 2)], store, progress=False)
    faces = store_faces(store, read_metadata(fp32), 30)
    return fp32, quantize_int8(fp32, faces)


def throughput(clip: Path, model, threads: int, warmup: int, batch: int) -> dict:
    """One warm-up pass over ``warmup`` frames, then the whole clip, timed. ``model``: an
    exported ``.onnx`` file (run by ONNX Runtime with ``threads``) or a ready backend (e.g. a
    LibreFace weights folder's :class:`~libreface_nb.infer.pipeline.LibreFaceBackend`)."""
    from contextlib import closing

    from libreface_nb.infer.backends import OrtBackend
    from libreface_nb.infer.pipeline import PredictOptions, StageTimes, iter_predictions

    be = OrtBackend(model, threads) if isinstance(model, str | Path) else model
    model = Path(model) if isinstance(model, str | Path) else Path(be.info.source or "backend")
    with closing(iter_predictions(clip, be, PredictOptions(batch, chunk_rows=warmup))) as it:
        next(it, None)
    times = StageTimes()
    t0 = time.perf_counter()
    rows = sum(len(p) for p in iter_predictions(clip, be, PredictOptions(batch), times))
    wall = time.perf_counter() - t0
    stages = {k: round(1e3 * v / times.frames, 2) for k, v in times.seconds.items()}
    return {"model": model.name, "threads": threads, "batch": batch, "frames": times.frames,
            "faces": times.faces, "rows": rows, "wall_s": round(wall, 2),
            "frames_per_s": round(times.frames / wall, 1), "stage_ms": stages}  # fmt: skip


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB.

    ``VmHWM`` of ``/proc/self/status`` (Linux): unlike ``ru_maxrss``, which a child inherits from
    its parent across fork + exec, it belongs to this process's own address space.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_rss(clip: str, model: str, out: str, threads: int) -> None:
    """(In a fresh process) stream ``clip`` to ``out``; print rows, wall and peak RSS as JSON."""
    from libreface_nb.infer.backends import OrtBackend
    from libreface_nb.infer.writer import predict_to_file

    t0 = time.perf_counter()
    counts = predict_to_file(clip, out, OrtBackend(model, threads))
    peak = peak_rss_mib()
    wall = time.perf_counter() - t0
    print(json.dumps({"rows": sum(counts.values()), "wall_s": round(wall, 1),
                      "peak_rss_mib": round(peak, 1)}))  # fmt: skip


def measure_rss(clip: Path, model: Path, work: Path, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child-rss", str(clip), str(model),
           str(work / f"{clip.stem}.csv"), str(threads)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=300, help="frames of the short clip (30 fps)")
    p.add_argument("--long-seconds", type=float, default=120.0, help="0: skip the memory test")
    p.add_argument("--warmup", type=int, default=30, help="frames of the untimed first pass")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--model", help="a models.save_model file (default: random weights)")
    p.add_argument("--skip-speed", action="store_true", help="only the memory test")
    p.add_argument("--json", help="write the results here too")
    p.add_argument("--child-rss", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_rss:
        clip, model, out, threads = args.child_rss
        child_rss(clip, model, out, int(threads))
        return 0
    from bench_faces import _photo_frames

    from libreface_nb.runs import platform_info

    results: dict = {"platform": platform_info(), "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        frames = _photo_frames(args.frames)
        clip = write_clip(work / "clip_10s.avi", frames)
        fp32, int8 = make_models(work, clip, args.model)
        results["sizes_mib"] = {m.name: round(m.stat().st_size / 2**20, 2) for m in (fp32, int8)}
        results["throughput"] = []
        for model in () if args.skip_speed else (int8, fp32):
            for th in args.threads:
                r = throughput(clip, model, th, args.warmup, args.batch_size)
                head = f"{r['model']:<17} threads {th}: {r['frames_per_s']:6.1f} frames/s"
                print(f"{head} ({r['frames']} frames), ms/frame {r['stage_ms']}", flush=True)
                results["throughput"].append(r)
        if args.long_seconds > 0:
            repeat = max(1, round(args.long_seconds * FPS / len(frames)))
            long_clip = write_clip(work / "clip_long.avi", frames, repeat)
            mem = {}
            for c in (clip, long_clip):
                mem[c.stem] = measure_rss(c, int8, work, max(args.threads))
                print(f"{c.stem}: {mem[c.stem]}", flush=True)
            short, long = mem["clip_10s"]["peak_rss_mib"], mem["clip_long"]["peak_rss_mib"]
            mem["long_over_short"] = round(long / short, 3)
            results["memory"] = mem
    results["load_avg_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(json.dumps({k: results[k] for k in ("sizes_mib", "memory") if k in results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
