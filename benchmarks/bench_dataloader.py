"""Does data loading starve a ResNet-18 on this CPU?

Measures, on the same machine and in one process:

1. DataLoader throughput (images/s) over a face store with LibreFace's AU train transform (random
   224 crop + flip, ImageNet normalization), batch 32, for each ``--workers`` value. Steady-state
   rate excludes the first batch (worker start-up), reported separately.
2. ResNet-18 (torchvision, ``weights=None``, 12 outputs) train-step throughput on one fixed batch:
   forward, MSE loss, backward, AdamW step.
3. The two together: training steps fed by the loader, so the cores are shared as in real training.

Loading starves training when (1) is below (2), or when (3) is clearly slower than (2).

Usage::

    python benchmarks/bench_dataloader.py                      # synthetic store of 512 faces
    python benchmarks/bench_dataloader.py --store STORE_DIR    # an existing face store
    python benchmarks/bench_dataloader.py --n 1024 --workers 0 1 2 --json out.json

The synthetic store holds "face-like" 256×256 PNGs: crops of real face photographs that ship with
scikit-image (astronaut) and matplotlib (Grace Hopper), each with a random shift, scale, colour gain
and sensor noise, so PNG sizes and decode times resemble real aligned faces (random noise would
compress worse and decode slower; flat images better and faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import DISFA_AUS, au_names

# Face boxes (y0, y1, x0, x1) in the two bundled photographs, a little wider than the face.
_CROPS = {"astronaut": (20, 250, 125, 355), "grace_hopper": (40, 400, 80, 440)}


def _photos() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as img:
        hopper = np.asarray(img.convert("RGB"))
    return {"astronaut": skimage.data.astronaut(), "grace_hopper": hopper}


def face_like(photo: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator):
    """One jittered 256×256 uint8 RGB face crop."""
    import cv2

    y0, y1, x0, x1 = box
    side = (x1 - x0) * rng.uniform(0.9, 1.1)
    cx = (x0 + x1) / 2 + rng.uniform(-8, 8)
    cy = (y0 + y1) / 2 + rng.uniform(-8, 8)
    angle = rng.uniform(-8, 8)
    m = cv2.getRotationMatrix2D((cx, cy), angle, 256 / side)
    m[:, 2] += (128 - cx, 128 - cy)
    face = cv2.warpAffine(photo, m, (256, 256), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    gain = rng.uniform(0.8, 1.2, size=3)
    noisy = face * gain + rng.normal(0, 3, size=face.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _row(source: str, face_file: str) -> dict:
    from libreface_nb.faces.store import MANIFEST_COLUMNS

    row = dict.fromkeys(MANIFEST_COLUMNS)
    row.update(source=source, frame=0, time_s=0.0, face=0, track_id=-1, status="ok", reason="",
               score=1.0, face_file=face_file, width=256, height=256, detector="synthetic",
               pitch=np.nan, yaw=np.nan, roll=np.nan)  # fmt: skip
    return row


def build_store(store_dir: Path, n: int, seed: int) -> pd.DataFrame:
    """Write ``n`` face-like PNGs into a face store (faces.store layout); returns the index."""
    from libreface_nb.faces.store import StoreWriter

    rng = np.random.default_rng(seed)
    photos = _photos()
    writer = StoreWriter(store_dir, {"size": 256, "method": "benchmark", "seed": seed})
    rows = []
    for i in range(n):
        base = ("astronaut", "grace_hopper")[i % 2]
        source = f"/synthetic/{base}_{i:05d}.png"
        face = face_like(photos[base], _CROPS[base], rng)
        rows.append(_row(source, writer.write_face(source, 0, 0, face)))
    writer.add_rows(rows)
    writer.consolidate()
    return index_for_store(store_dir, seed)


def index_for_store(store_dir: Path, seed: int) -> pd.DataFrame:
    """An index over the store's ok faces with random DISFA-like labels (10 % unknown)."""
    from libreface_nb.faces.store import load_manifest

    man = load_manifest(store_dir)
    ok = man[(man["status"] == "ok") & (man["face"] == 0)]
    rng = np.random.default_rng(seed)
    labels = rng.uniform(0, 5, size=(len(ok), len(DISFA_AUS))).astype(np.float32)
    labels[rng.random(labels.shape) < 0.1] = np.nan
    index = pd.DataFrame({"source": ok["source"].to_numpy(), "frame": ok["frame"].to_numpy()})
    return pd.concat([index, pd.DataFrame(labels, columns=au_names(DISFA_AUS))], axis=1)


def time_loader(dataset, workers: int, batch: int, seed: int) -> dict:
    """One pass over the dataset.

    The steady rate starts after the first ``max(1, workers)`` batches: each worker prepares its
    first batch during start-up, so those arrive together and would inflate the rate.
    """
    from libreface_nb.data.dataset import make_loader

    loader = make_loader(dataset, batch_size=batch, shuffle=True, num_workers=workers, seed=seed)
    skip = max(1, workers)
    t0 = time.perf_counter()
    first_s, t_steady, n, n_steady = None, None, 0, 0
    for k, b in enumerate(loader):
        n += len(b["image"])
        if k == 0:
            first_s = time.perf_counter() - t0
        if k == skip - 1:
            t_steady = time.perf_counter()
        elif k >= skip:
            n_steady += len(b["image"])
    end = time.perf_counter()
    return {
        "num_workers": workers,
        "first_batch_s": round(first_s, 3),
        "images": n,
        "images_per_s": round(n_steady / (end - t_steady), 1) if n_steady else float("nan"),
        "images_per_s_with_startup": round(n / (end - t0), 1),
    }


def _model():
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None, num_classes=len(DISFA_AUS))
    return model, torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=1e-4)


def _step(model, opt, batch: dict) -> None:
    import torch

    pred = 5 * torch.sigmoid(model(batch["image"]))  # LibreFace intensity = 5·sigmoid
    mask = batch["mask"]
    loss = (((pred - batch["labels"]) ** 2) * mask).sum() / mask.sum().clamp(min=1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def time_training(batch: dict, steps: int) -> dict:
    """ResNet-18 train steps on one fixed batch (no loading at all); median step time."""
    model, opt = _model()
    model.train()
    _step(model, opt, batch)  # warm-up: allocations, oneDNN kernel choice
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        _step(model, opt, batch)
        times.append(time.perf_counter() - t0)
    dt = float(np.median(times))
    return {"step_s": round(dt, 3), "images_per_s": round(len(batch["image"]) / dt, 1)}


def time_fed_training(dataset, workers: int, batch: int, steps: int, seed: int) -> dict:
    """ResNet-18 train steps fed by the DataLoader (loading and training share the cores).

    ``data_wait_share`` is the fraction of the loop spent waiting for the next batch: the direct
    measure of starvation (0 = the model never waits), and a ratio within one run, so it is less
    sensitive to other processes than absolute rates.
    """
    from libreface_nb.data.dataset import make_loader

    model, opt = _model()
    model.train()
    loader = make_loader(dataset, batch_size=batch, shuffle=True, num_workers=workers, seed=seed)
    it = iter(loader)
    _step(model, opt, next(it))  # warm-up, and the workers start
    wait = compute = 0.0
    images = 0
    for _ in range(steps):
        t0 = time.perf_counter()
        try:
            b = next(it)
        except StopIteration:  # a new epoch (tiny stores)
            it = iter(loader)
            b = next(it)
        t1 = time.perf_counter()
        _step(model, opt, b)
        wait, compute = wait + t1 - t0, compute + time.perf_counter() - t1
        images += len(b["image"])
    return {
        "num_workers": workers,
        "step_s": round((wait + compute) / steps, 3),
        "images_per_s": round(images / (wait + compute), 1),
        "data_wait_s": round(wait / steps, 3),
        "data_wait_share": round(wait / (wait + compute), 3),
    }


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--store", type=Path, help="existing face store (default: build a synthetic one)"
    )
    p.add_argument("--n", type=int, default=512, help="faces in the synthetic store")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--train-steps", type=int, default=3, help="timed ResNet-18 steps")
    p.add_argument(
        "--fed-workers", type=int, nargs="+", default=[0, 1], help="workers for fed training"
    )
    p.add_argument("--cache", action="store_true", help="FaceDataset(cache=True)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args()


def _report(res: dict) -> None:
    print(f"\nstore: {res['store']} ({res['faces']} faces, {res['png_mb']} MB of PNG)")
    print(f"torch threads: {res['torch_threads']}, CPUs: {res['cpus']}")
    print("\nDataLoader, AU train transform, batch", res["batch"])
    for r in res["loader"]:
        print(f"  num_workers={r['num_workers']}: {r['images_per_s']:>7.1f} images/s steady"
              f" ({r['images_per_s_with_startup']:.1f} with start-up; first batch"
              f" {r['first_batch_s']:.2f} s)")  # fmt: skip
    t = res["train"]
    print(f"ResNet-18 train step, fixed batch: {t['images_per_s']:>7.1f} images/s"
          f" ({t['step_s']} s/step)")  # fmt: skip
    for f in res["fed_train"]:
        print(f"ResNet-18 fed by the loader, num_workers={f['num_workers']}:"
              f" {f['images_per_s']:.1f} images/s ({f['step_s']} s/step,"
              f" waiting for data {f['data_wait_share']:.1%} of the time)")  # fmt: skip
    best = max(r["images_per_s"] for r in res["loader"])
    verdict = "does not starve" if best > t["images_per_s"] else "STARVES"
    print(f"\nloading {verdict} training: best loader {best:.0f} images/s vs training"
          f" {t['images_per_s']:.0f} images/s ({best / t['images_per_s']:.1f}x)")  # fmt: skip


def main() -> dict:
    args = _parse()
    import torch

    from libreface_nb.data.dataset import FaceDataset
    from libreface_nb.data.transforms import build_transform

    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:
        t0 = time.perf_counter()
        if args.store:
            store, index = args.store, index_for_store(args.store, args.seed)
        else:
            store = Path(tmp) / "store"
            index = build_store(store, args.n, args.seed)
        build_s = time.perf_counter() - t0
        ds = FaceDataset(index, store, au_names(DISFA_AUS), build_transform("au", True),
                         cache=args.cache, seed=args.seed)  # fmt: skip
        png_bytes = sum(p.stat().st_size for p in Path(store).glob("faces/**/*.png"))
        res = {
            "store": str(args.store or "synthetic"), "faces": len(ds), "build_s": round(build_s, 2),
            "png_mb": round(png_bytes / 1e6, 1), "batch": args.batch, "cache": args.cache,
            "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "loader": [time_loader(ds, w, args.batch, args.seed) for w in args.workers],
        }  # fmt: skip
        fixed = next(iter(torch.utils.data.DataLoader(ds, batch_size=args.batch)))
        res["train"] = time_training(fixed, args.train_steps)
        res["fed_train"] = [
            time_fed_training(ds, w, args.batch, args.train_steps, args.seed)
            for w in args.fed_workers
        ]
    _report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
