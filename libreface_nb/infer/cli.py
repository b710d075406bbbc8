"""``libreface-nb predict``: the command-line face of inference.

    libreface-nb predict PATH... [--model FILE] --out results.csv|.parquet
    libreface-nb predict PATH... --out-dir DIR [--format csv|parquet]   # one file per input
    libreface-nb predict PATH... --model LIBREFACE_WEIGHTS_DIR [--libreface-choice joint|separate]

(``export`` and ``import-libreface`` are in :mod:`libreface_nb.export.cli`.)

``--out-dir`` writes ``<stem>.<format>`` per input file (inputs from different folders with the
same stem get ``<stem>-<hash8>``) and skips inputs whose file exists: files appear atomically
when complete, so a corpus can be split across processes or machines and resumed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from pathlib import Path

from libreface_nb.errors import LibreFaceError

log = logging.getLogger(__name__)

TEACHING_NOTE = (
    "note: a model trained on SynthAU (synthetic faces) is for teaching, not for science on "
    "real faces"
)


def _predict_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="libreface-nb predict",
        description="AU intensities/presences, expressions and head pose per frame and face.",
    )
    p.add_argument("paths", nargs="+", help="images, videos or folders")
    p.add_argument(
        "--model",
        help="…_fp32.onnx/…_int8.onnx (default: newest under outputs/runs), a .pt model, or a "
        "LibreFace 0.2.0 weights folder (AU_Recognition/, AU_Detection/, …)",
    )
    p.add_argument(
        "--libreface-choice",
        choices=("joint", "separate"),
        default="joint",
        help="with a LibreFace weights folder: its model_choice (joint: one ResNet-18 with both "
        "AU heads, LibreFace's default; separate: the intensity ResNet-18 + detection RepVGG)",
    )
    p.add_argument(
        "--libreface-align",
        choices=("exact", "fast"),
        default="exact",
        help="with a LibreFace weights folder: its alignment recipe step by step (exact, "
        "LibreFace's pixels) or the fast warp (about 0.5 grey levels apart, faster)",
    )
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", help="one results file, .csv or .parquet")
    dest.add_argument("--out-dir", help="one results file per input; inputs done are skipped")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="for --out-dir")
    p.add_argument("--every-nth-frame", type=int, default=1, help="video frames 0, n, 2n, …")
    p.add_argument("--max-faces", type=int, default=1, help="faces per frame, largest first")
    p.add_argument("--openface-columns", action="store_true", help="AU01_r, AU01_c, success…")
    p.add_argument("--landmarks", action="store_true", help="add x_0…x_477, y_0…y_477")
    track = p.add_mutually_exclusive_group()
    track.add_argument(
        "--tracking",
        dest="tracking",
        action="store_true",
        default=None,
        help="video frames: one tracking FaceMesh per video (the default, except for a "
        "LibreFace weights folder)",
    )
    track.add_argument(
        "--no-tracking",
        dest="tracking",
        action="store_false",
        help="video frames: find the face anew in each frame (static FaceMesh), as LibreFace "
        "does (the default for a LibreFace weights folder: needed for its numbers on videos)",
    )
    p.add_argument("--backend", choices=("ort", "torch"), default="ort")
    p.add_argument("--device", default="cpu", help="torch device (backend torch)")
    p.add_argument("--threads", type=int, default=None, help="model intra-op threads")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--workers", type=int, default=2, help="threads aligning and preparing faces (speed only)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _out_names(sources: list[str], out_dir: Path, fmt: str) -> dict[str, Path]:
    stems: dict[str, int] = {}
    for s in sources:
        stems[Path(s).stem] = stems.get(Path(s).stem, 0) + 1
    names = {}
    for s in sources:
        stem = Path(s).stem
        if stems[stem] > 1:
            stem += "-" + hashlib.sha1(str(Path(s).resolve()).encode()).hexdigest()[:8]
        names[s] = out_dir / f"{stem}.{fmt}"
    return names


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no rows"


def predict_main(argv: list[str]) -> int:
    """``libreface-nb predict``; returns the exit code."""
    from tqdm.auto import tqdm

    from libreface_nb.infer.backends import find_default_model
    from libreface_nb.infer.pipeline import (
        PredictOptions,
        StageTimes,
        expand_sources,
        load_any_backend,
    )
    from libreface_nb.infer.writer import file_format, predict_to_file

    args = _predict_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        model = args.model or find_default_model()
        backend = load_any_backend(
            model, args.backend, threads=args.threads, device=args.device,
            choice=args.libreface_choice, align=args.libreface_align,
        )  # fmt: skip
        info = backend.info
        print(f"model: {model} ({info.precision}, tasks {', '.join(info.tasks)})")
        for path, tasks in getattr(backend, "files", []):  # a LibreFace weights folder
            print(f"  LibreFace {path} ({', '.join(tasks)})")
        if info.synthetic:  # only when the model's metadata says SynthAU
            print(TEACHING_NOTE)
        opts = PredictOptions(
            batch_size=args.batch_size, every_nth_frame=args.every_nth_frame,
            max_faces=args.max_faces, landmarks=args.landmarks,
            track_videos=args.tracking, workers=args.workers,
        )  # fmt: skip
        sources = expand_sources(args.paths)
        if args.out:
            file_format(args.out)
            jobs = [(sources, Path(args.out))]
        else:
            names = _out_names(sources, Path(args.out_dir), args.format)
            done = [s for s in sources if names[s].exists()]
            if done:
                print(f"skipping {len(done)} input(s) already done in {args.out_dir}")
            jobs = [([s], names[s]) for s in sources if s not in done]
        times = StageTimes()
        t0 = time.perf_counter()
        with tqdm(disable=args.no_progress, unit="frame", desc="predict", file=sys.stderr) as bar:
            for srcs, out in jobs:
                counts = predict_to_file(
                    srcs, out, backend, opts, openface_columns=args.openface_columns,
                    times=times, progress=bar,
                )  # fmt: skip
                print(f"{out}: {sum(counts.values())} rows ({_summary(counts)})")
        wall = time.perf_counter() - t0
        if times.frames:
            print(f"{times.frames} frames, {times.faces} faces in {wall:.1f} s "
                  f"({times.frames / wall:.1f} frames/s)")  # fmt: skip
    except LibreFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
