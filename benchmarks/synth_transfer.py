"""Does a model trained on SynthAU transfer? Old vs new SynthAU under the same training budget.

Three steps, so that the SynthAU of another checkout (git main's, "old") can make the data::

    # 1. data, with whichever libreface_nb is first on the path (old or new SynthAU)
    PYTHONPATH=/path/to/old python benchmarks/synth_transfer.py data /tmp/st/old
    python benchmarks/synth_transfer.py data /tmp/st/new
    # 2. train a timm resnet18 (pretrained=False, 12 outputs, 112 px) for a fixed wall time
    python benchmarks/synth_transfer.py train /tmp/st/new --split subjects --minutes 3
    python benchmarks/synth_transfer.py train /tmp/st/new --split holdout --minutes 3
    # 3. read-back on real media (videos or photos; no labels) with a trained model
    python benchmarks/synth_transfer.py readback /tmp/st/new/subjects.pt clip.mp4 photo.jpg

``data`` writes a DISFA-layout SynthAU fixture (``--subjects`` × ``--frames``), its aligned
faces (``faces.preprocess_sources``), ``index.parquet`` and ``meta.json`` (subject → base photo
and → mixed-in base, reconstructed from ``make_subjects`` where the code has identity mixes).
``train`` splits by subject: ``subjects`` = k-fold fold 0 (held-out pseudo-subjects),
``holdout`` = every subject of ``--holdout-base`` held out (``prepare.make_folds``), and train
subjects whose skin mixes in the held-out photo dropped (no leak; ``--exclude`` drops the same
subjects from the old data, so both train on the same pseudo-subjects). It trains with AdamW
(lr 1e-3, batch 32, LibreFace's AU train transform at 112 px, MSE on 5·sigmoid) for ``--steps``
optimiser steps (or until ``--minutes`` of wall time are spent), then reports the test PCC
per AU and its mean over AUs that vary in the test set. Results are JSON lines appended to
``<data>/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np
import pandas as pd

AUS = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25",
       "AU26")  # fmt: skip
SIZE = 112


def make_data(out: str, subjects: int, frames: int, seed: int) -> None:
    from libreface_nb.data import prepare, synth
    from libreface_nb.data.fixtures.au import disfa_subject_ids
    from libreface_nb.faces.preprocess import preprocess_sources

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = prepare.load_dataset(
        "disfa", seed=seed, n_subjects=subjects, n_frames=frames, cache_dir=out_dir / "fixture"
    )
    t_fix = time.perf_counter() - t0
    preprocess_sources(data.index, out_dir / "faces", progress=False)
    t_pre = time.perf_counter() - t0 - t_fix
    data.index.to_parquet(out_dir / "index.parquet")
    people = synth.make_subjects(subjects, seed)
    ids = disfa_subject_ids(subjects)
    meta = {
        "subject_bases": data.subject_bases,
        "mix_bases": {i: getattr(s, "mix_base", "") for i, s in zip(ids, people, strict=True)},
        "fixture_s": round(t_fix, 1),
        "preprocess_s": round(t_pre, 1),
        "synth_file": synth.__file__,
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps({k: v for k, v in meta.items() if k.endswith("_s")}))


def _split(
    data_dir: Path, split: str, holdout_base: str, seed: int, exclude: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """``{"train": …, "test": …}`` subjects; no early stopping, so validation subjects train."""
    from libreface_nb.data import folds as F
    from libreface_nb.data import prepare

    index = pd.read_parquet(data_dir / "index.parquet")
    meta = json.loads((data_dir / "meta.json").read_text())
    subjects = sorted(set(index["subject"]))
    if split == "holdout":
        folds, _ = prepare.make_folds(
            index, "disfa", 1, seed, holdout_base=holdout_base,
            subject_bases=meta["subject_bases"],
        )  # fmt: skip
        test = next(iter(folds.values()))["test"]
        leak = {s for s, b in meta["mix_bases"].items() if b == holdout_base}
    else:
        test = next(iter(F.subject_kfold(subjects, 4, seed).values()))
        leak = set()
    drop = set(test) | leak | set(exclude)
    return {"train": [s for s in subjects if s not in drop], "test": test}


def _datasets(data_dir: Path, fold: dict[str, list[str]]) -> dict:
    from libreface_nb.data.dataset import FaceDataset
    from libreface_nb.data.transforms import build_transform

    index = pd.read_parquet(data_dir / "index.parquet")
    out = {}
    for role in ("train", "test"):
        part = index[index["subject"].isin(fold[role])].reset_index(drop=True)
        tf = build_transform("au", role == "train", size=SIZE)
        out[role] = FaceDataset(part, data_dir / "faces", list(AUS), tf, seed=0)
    return out


def _pcc(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    out = {}
    for k, au in enumerate(AUS):
        if true[:, k].std() > 0 and pred[:, k].std() > 0:
            out[au] = float(np.corrcoef(pred[:, k], true[:, k])[0, 1])
    return out


def _predict(model, loader) -> tuple[np.ndarray, np.ndarray]:
    import torch

    preds, trues = [], []
    model.eval()
    with torch.no_grad():
        for batch in loader:
            preds.append(5 * torch.sigmoid(model(batch["image"])).numpy())
            trues.append(batch["labels"].numpy())
    return np.concatenate(preds), np.concatenate(trues)


def train(
    data_dir: str,
    split: str,
    minutes: float,
    holdout_base: str,
    seed: int,
    steps: int = 0,
    exclude: tuple[str, ...] = (),
) -> dict:
    """Train for ``steps`` optimiser steps (0: until ``minutes`` of wall time), then test."""
    import timm
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    d = Path(data_dir)
    fold = _split(d, split, holdout_base, seed, exclude)
    ds = _datasets(d, fold)
    gen = torch.Generator().manual_seed(seed)
    train_dl = torch.utils.data.DataLoader(ds["train"], 32, shuffle=True, generator=gen,
                                           drop_last=True)  # fmt: skip
    test_dl = torch.utils.data.DataLoader(ds["test"], 64)
    if len(train_dl) == 0:
        raise SystemExit(f"{d}: {len(ds['train'])} training frames, fewer than one batch of 32")
    model = timm.create_model("resnet18", pretrained=False, num_classes=len(AUS))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    budget, steps = steps, 0
    t0, epochs = time.perf_counter(), 0

    def spent() -> bool:
        return steps >= budget if budget else time.perf_counter() - t0 >= 60 * minutes

    while not spent():
        model.train()
        for batch in train_dl:
            loss = torch.nn.functional.mse_loss(5 * torch.sigmoid(model(batch["image"])),
                                                batch["labels"])  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if spent():
                break
        epochs += 1
    pred, true = _predict(model, test_dl)
    pcc = _pcc(pred, true)
    res = {
        "data": str(d), "split": split, "train_s": round(time.perf_counter() - t0, 1),
        "steps": steps, "epochs": epochs,
        "train_subjects": fold["train"], "train_frames": len(ds["train"]),
        "test_frames": len(ds["test"]),
        "test_subjects": fold["test"], "mean_pcc": float(np.mean(list(pcc.values()))),
        "pcc": {k: round(v, 3) for k, v in pcc.items()},
    }  # fmt: skip
    torch.save(model.state_dict(), d / f"{split}.pt")
    with open(d / "results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")
    return res


def readback_media(weights: str, media: list[str], every: int) -> dict:
    """Read-back correlations of a trained model on real media (aligned like training)."""
    import timm
    import torch

    from libreface_nb.data.transforms import build_transform
    from libreface_nb.eval import readback as R
    from libreface_nb.faces import io
    from libreface_nb.faces.align import align_face
    from libreface_nb.faces.mesh import detect_faces

    model = timm.create_model("resnet18", pretrained=False, num_classes=len(AUS))
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()
    tf = build_transform("au", False, size=SIZE)
    rows, lms = [], []
    for path in media:
        frames = (
            (f.index, f.image) for f in io.iter_video(path) if f.index % every == 0
        ) if io.is_video(path) else [(0, io.read_image(path))]  # fmt: skip
        for k, img in frames:
            faces = detect_faces(img)
            if not faces:
                continue
            face = align_face(img, faces[0].landmarks)
            with torch.no_grad():
                out = 5 * torch.sigmoid(model(tf(face)[None]))[0].numpy()
            rows.append({"source": Path(path).name, "frame": k, **dict(zip(AUS, out, strict=True))})
            lms.append(faces[0].landmarks)
    table = pd.DataFrame(rows)
    res = R.readback(table, np.stack(lms))
    records = res[["au", "proxy", "n", "pearson"]].round(3).to_dict("records")
    names = [Path(m).name for m in media]
    return {"weights": weights, "frames": len(table), "media": names, "readback": records}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("data")
    a.add_argument("out")
    a.add_argument("--subjects", type=int, default=8)
    a.add_argument("--frames", type=int, default=200)
    a.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("train")
    b.add_argument("data")
    b.add_argument("--split", choices=("subjects", "holdout"), default="subjects")
    b.add_argument("--minutes", type=float, default=3.0)
    b.add_argument("--steps", type=int, default=0, help="fixed step budget (0: use --minutes)")
    b.add_argument("--holdout-base", default="grace_hopper")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--exclude", nargs="*", default=(), help="subjects never to train on")
    c = sub.add_parser("readback")
    c.add_argument("weights")
    c.add_argument("media", nargs="+")
    c.add_argument("--every", type=int, default=3, help="use every n-th video frame")
    args = ap.parse_args()
    if args.cmd == "data":
        make_data(args.out, args.subjects, args.frames, args.seed)
    elif args.cmd == "train":
        a = args
        res = train(a.data, a.split, a.minutes, a.holdout_base, a.seed, a.steps, tuple(a.exclude))
        print(json.dumps(res))
    else:
        print(json.dumps(readback_media(args.weights, args.media, args.every)))


if __name__ == "__main__":
    main()
