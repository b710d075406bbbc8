"""What caps the teacher on SynthAU? The same frames, re-rendered without each difficulty.

A synth-profile run's teacher (notebook 02) scores about 0.77 average PCC on the fold's test
subjects. This script asks how much of the distance to 1 the data puts there by design. It takes
the run's fold (the same subjects, frames and integer labels), renders every frame again with
``render_face`` and some of SynthAU's difficulties switched off, and fine-tunes the same ViT
teacher (notebook 02's recipe and the run's parameters, from random weights: the teacher the
synth profile distils) on each version. Variants (``--variants``, in this order):

``clean``
    the subject's canonical view: no in-plane or out-of-plane pose, no relighting, no occluders,
    no blur, noise or JPEG; the identity shape (face width, eye distance, nose, mouth width,
    brow height, chin length, lips), skin mix, backdrop, colour style and mirroring stay. Frames
    skip MediaPipe and the FFHQ alignment (the canonical view is already registered).
``clean_noid``
    as ``clean`` with every subject's identity coefficients set to 0: each face is its base photo
    (mixed, styled, mirrored) plus the AUs alone.
``as_run``
    the run's own aligned faces (all difficulties), retrained here as a check that the recipe
    reproduces notebook 02's no-MAE teacher.
``landmarks``
    no network: the face store's MediaPipe meshes (478 points, similarity-aligned to their mean
    by Procrustes) and a ridge regression per AU, its strength chosen on the validation subjects;
    a second reader of the same frames, independent of the ViT.

With ``--students``, each trained variant also trains two ResNet-18 students on its frames with
notebook 03's recipe and the run's parameters: one distilled from the teacher just trained (feature
and KL terms, weight ``alpha``) and one without distillation, same seed, batches and budget.

Before training, a few frames are rendered with every difficulty on and compared with the
fixture video's frames (MJPG): a mismatch means the run's fixture was not made the way this
script re-makes it (another seed, other base photos) and stops the script.

Usage::

    python benchmarks/synth_ceiling.py outputs/runs/<a synth run> [--variants clean,clean_noid]
        [--students]

Prints one JSON line per variant (test PCC, per AU, best validation PCC, seconds) and writes it,
with the checkpoints, to a new folder ``--out`` (default ``outputs/synth_ceiling/<run>-<time>``).
SynthAU numbers say nothing about real datasets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np
import pandas as pd
import yaml

from libreface_nb import artifacts

VARIANTS = ("clean", "clean_noid", "as_run", "landmarks")
NB01, NB02, NB03 = artifacts.NB01, artifacts.NB02, artifacts.NB03
# Mean |re-render − video frame| allowed (0-255): measured 4.4 (same fixture), 43 (another seed).
MAX_FRAME_DIFF = 12.0


def _params(run: Path, notebook: str, defaults: dict | None = None) -> dict:
    """The parameters the run passed to ``notebook`` (its ``parameters.yaml``) over
    ``defaults``."""
    path = run / artifacts.parameters_yaml(notebook)
    if not path.is_file():
        raise SystemExit(
            f"{path} is missing: run the synth profile's notebook {notebook[:2]} first"
        )
    return {**(defaults or {}), **(yaml.safe_load(path.read_text()) or {})}


def _recipe(run: Path, notebook: str, cls):
    """The run's training recipe of ``notebook`` (:mod:`libreface_nb.train.recipes`): what it
    passed, the recipe's defaults for the rest; no progress bars."""
    params = _params(run, notebook)
    kept = {k: v for k, v in params.items() if k in cls.parameter_names()}
    return cls(**{**kept, "progress": False})


def _subjects(n_subjects: int, seed: int, base_photos: str = "") -> dict[str, object]:
    """DISFA subject id → the pseudo-subject the fixture rendered (as ``au.write_disfa``, from the
    same usable base photos as ``make_fixture``)."""
    from libreface_nb.data.fixtures.au import disfa_subject_ids
    from libreface_nb.data.fixtures.build import screen_base_photos
    from libreface_nb.data.synth import make_subjects

    bases = screen_base_photos(base_photos)[0] if base_photos else None
    made = make_subjects(n_subjects, seed, bases=bases)
    return dict(zip(disfa_subject_ids(n_subjects), made, strict=True))


def _frame_seed(seed: int, subject_idx: int, frame: int) -> int:
    from libreface_nb.data.fixtures import au
    from libreface_nb.data.fixtures.common import derive_seed

    return derive_seed(seed, au._DISFA, subject_idx, frame)  # as au.disfa_plan


def _render(subject, row, labels: dict, seed: int, idx: int, **switches) -> np.ndarray:
    from libreface_nb.data.synth import render_face

    frame_seed = _frame_seed(seed, idx, int(row["frame"]))
    return render_face(subject, labels, size=256, frame_seed=frame_seed, **switches)


def _labels(row) -> dict[int, float]:
    from libreface_nb.config import DISFA_AUS

    return {au: float(row[f"AU{au:02d}"]) for au in DISFA_AUS}


def check_fixture(table, subjects: dict, seed: int, n: int = 4) -> float:
    """Mean |re-render − video frame| over ``n`` frames (every difficulty on); raises if large."""
    import cv2

    ids = list(subjects)
    worst = 0.0
    # Each subject's most active frame, so that the AUs' motion is compared too.
    activity = table.filter(regex=r"^AU\d+$").sum(axis=1)
    rows = table.assign(_activity=activity).sort_values("_activity", kind="stable")
    for _, row in rows.drop_duplicates("subject", keep="last").head(n).iterrows():
        cap = cv2.VideoCapture(str(row["source"]))
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(row["frame"]))
        ok, bgr = cap.read()
        cap.release()
        if not ok:
            raise SystemExit(f"{row['source']}: cannot read frame {row['frame']}")
        subject = subjects[row["subject"]]
        mine = _render(subject, row, _labels(row), seed, ids.index(row["subject"]))
        diff = float(np.abs(mine.astype(np.float32) - bgr[:, :, ::-1].astype(np.float32)).mean())
        worst = max(worst, diff)
        if diff > MAX_FRAME_DIFF:
            raise SystemExit(
                f"{row['source']} frame {row['frame']}: the re-render differs by {diff:.1f} "
                f"(mean |Δ|, 0-255) from the video; this run's fixture was made with another "
                f"seed or other base photos than make_subjects({len(ids)}, {seed})"
            )
    return worst


def rerender(
    datasets: dict, subjects: dict, seed: int, identity: bool, cache: dict | None = None
) -> float:
    """Replace each dataset's faces by clean re-renders of the same frames; returns seconds.

    ``cache`` (``(subject, frame) → face``) is filled and reused across calls of one variant."""
    ids = list(subjects)
    if not identity:
        subjects = {
            k: dataclasses.replace(s, shape=(0.0,) * len(s.shape)) for k, s in subjects.items()
        }
    clean = {"pose": False, "degrade": False, "occluders": False}
    cache = {} if cache is None else cache
    t0 = time.perf_counter()
    for ds in datasets.values():
        faces = []
        for r in ds.rows:
            row = ds.table.iloc[r]
            key = (row["subject"], int(row["frame"]))
            if key not in cache:
                idx = ids.index(row["subject"])
                subject = subjects[row["subject"]]
                cache[key] = _render(subject, row, _labels(row), seed, idx, **clean)
            faces.append(cache[key])
        # FaceDataset.__getitem__ reads faces through self.face(i): serve the re-renders.
        ds.face = faces.__getitem__
    return time.perf_counter() - t0


def _procrustes(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """``[N, P, 2]`` shapes similarity-aligned (scale, rotation, shift) to their mean."""
    centred = points - points.mean(axis=1, keepdims=True)
    centred /= np.sqrt((centred**2).sum(axis=(1, 2), keepdims=True))
    ref = centred[0]
    for _ in range(iterations):
        u, _, vt = np.linalg.svd(np.einsum("npi,pj->nij", centred, ref))
        rot = u @ vt  # [N, 2, 2]: best rotation of each shape onto ref
        aligned = np.einsum("npi,nij->npj", centred, rot)
        ref = aligned.mean(axis=0)
        ref /= np.sqrt((ref**2).sum())
    return aligned


def landmark_reader(data) -> dict:
    """Ridge regression from aligned MediaPipe meshes to the 12 AUs; test PCC per AU."""
    from sklearn.linear_model import Ridge

    from libreface_nb.config import DISFA_AUS
    from libreface_nb.eval import metrics as M
    from libreface_nb.faces.store import landmarks, load_manifest

    columns = ["source", "frame", "face", "status", "landmarks"]
    man = load_manifest(data.store, columns)
    man = man[(man["status"] == "ok") & (man["face"] == 0)]
    table = data.index.assign(role=data.roles.to_numpy())
    table = table.merge(man, on=["source", "frame"], how="inner", validate="one_to_one")
    x = _procrustes(landmarks(table)[:, :, :2].astype(np.float64)).reshape(len(table), -1)
    aus = [f"AU{a:02d}" for a in DISFA_AUS]
    y = table[aus].to_numpy(np.float64)
    role = table["role"].to_numpy()
    tr, va, te = (role == r for r in ("train", "val", "test"))
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-9
    x = (x - mu) / sd

    def pcc(pred, mask) -> pd.DataFrame:  # notebook 04's metric: per AU and the mean row
        table = M.intensity_metrics(y[mask], pred, aus)
        return table[table["metric"] == "pcc"].set_index("output")["value"]

    best = max(
        (float(pcc(Ridge(alpha=a).fit(x[tr], y[tr]).predict(x[va]), va)["mean"]), a)
        for a in (1.0, 10.0, 100.0, 1000.0)
    )
    per = pcc(Ridge(alpha=best[1]).fit(x[tr], y[tr]).predict(x[te]), te)
    return {"pcc": float(per["mean"]), "per_output": {a: float(per[a]) for a in aus},
            "best_val": best[0], "alpha": best[1], "n_train": int(tr.sum()),
            "n_test": int(te.sum())}  # fmt: skip


def train_students(run: Path, data, teacher, remake, out: Path) -> dict:
    """Distilled and undistilled ResNet-18 students (notebook 03's recipe); test PCC of each.

    ``remake(datasets)`` gives the student's datasets the variant's faces."""
    from libreface_nb.data import splits
    from libreface_nb.train.distill import train_student
    from libreface_nb.train.finetune import evaluate
    from libreface_nb.train.recipes import StudentRecipe

    r03 = _recipe(run, NB03, StudentRecipe)
    sets = splits.make_datasets(data, "intensity", img_size=r03.img_size, seed=r03.seed,
                                augment=r03.augment.kwargs())  # fmt: skip
    remake(sets)
    cfg, fit_cfg = r03.model_config("intensity"), r03.fit_config("intensity")
    out_rows = {}
    for name, ablation in (("distilled", "both"), ("undistilled", "none")):
        distill = r03.distill_config(ablation)
        result = train_student(sets, teacher, cfg, distill, fit_cfg, out / name)
        test = evaluate(result.model, "intensity", sets["test"])
        out_rows[name] = {
            "test_pcc": round(float(test["pcc"]), 4),
            "per_au": {k: round(float(v), 3) for k, v in test["per_output"].items()},
            "best_val_pcc": round(float(result.fit.best), 4),
            "seconds": round(result.seconds, 1),
        }
    return out_rows


def run_variant(run: Path, variant: str, out: Path, students: bool = False) -> dict:
    import torch

    from libreface_nb.data import splits
    from libreface_nb.train import finetune as FT
    from libreface_nb.train.recipes import TeacherRecipe

    p01 = _params(run, NB01, {"seed": 0, "dataset": "disfa", "fixture_subjects": 3,
                              "data_root": "", "base_photos": ""})  # fmt: skip
    p02 = _params(run, NB02, {"fold": ""})
    r02 = _recipe(run, NB02, TeacherRecipe)
    if p01["dataset"] != "disfa" or p01["data_root"] or r02.task != "intensity":
        raise SystemExit(
            f"{run}: needs a SynthAU DISFA run (intensity), such as the synth profile's"
        )
    seed = int(p01["seed"])
    torch.manual_seed(r02.seed)
    data = splits.load_run_data(run, p02["fold"])
    if variant == "landmarks":
        t0 = time.perf_counter()
        ridge = landmark_reader(data)
        return {
            "variant": variant,
            "test_pcc": round(ridge["pcc"], 4),
            "per_au": {k: round(v, 3) for k, v in ridge["per_output"].items()},
            "best_val_pcc": round(ridge["best_val"], 4),
            "ridge_alpha": ridge["alpha"],
            "train_images": ridge["n_train"],
            "test_images": ridge["n_test"],
            "train_s": round(time.perf_counter() - t0, 1),
            "run": str(run),
        }
    sets = splits.make_datasets(data, "intensity", img_size=r02.img_size, seed=r02.seed,
                                augment=r02.augment.kwargs())  # fmt: skip
    subjects = _subjects(int(p01["fixture_subjects"]), seed, str(p01["base_photos"] or ""))
    cache: dict = {}

    def remake(datasets: dict) -> float:
        if variant == "as_run":
            return 0.0
        return rerender(datasets, subjects, seed, identity=variant == "clean", cache=cache)

    if variant != "as_run":
        check_fixture(sets["test"].table, subjects, seed)
    render_s = remake(sets)
    cfg, fit_cfg = r02.model_config(), r02.fit_config()
    t0 = time.perf_counter()
    result = FT.finetune_teacher(sets, "intensity", cfg, fit_cfg, out / variant)
    test = FT.evaluate(result.model, "intensity", sets["test"])
    row = {
        "variant": variant,
        "test_pcc": round(float(test["pcc"]), 4),
        "per_au": {k: round(float(v), 3) for k, v in test["per_output"].items()},
        "best_val_pcc": round(float(result.fit.best), 4),
        "epochs": len(result.fit.history),
        "train_images": len(sets["train"]),
        "test_images": len(sets["test"]),
        "render_s": round(render_s, 1),
        "train_s": round(time.perf_counter() - t0, 1),
        "run": str(run),
    }
    if students:
        teacher = result.model.eval()
        row["students"] = train_students(run, data, teacher, remake, out / f"{variant}_students")
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="a synth-profile run folder (notebooks 01 and 02 ran)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"from {VARIANTS}")
    ap.add_argument("--out", type=Path, default=None, help="a new folder for checkpoints, results")
    ap.add_argument("--students", action="store_true", help="also train students (not landmarks)")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {VARIANTS}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("outputs/synth_ceiling") / f"{args.run.resolve().name}-{stamp}"
    if out.exists():
        raise SystemExit(f"{out} exists: give another --out (nothing is overwritten)")
    out.mkdir(parents=True)
    for variant in variants:
        row = run_variant(args.run, variant, out, students=args.students)
        print(json.dumps(row), flush=True)
        with open(out / "results.jsonl", "a") as f:  # one line per finished variant
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
