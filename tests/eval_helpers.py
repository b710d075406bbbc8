"""A tiny face store whose faces encode their AU labels, for the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import DISFA_AUS, au_names
from libreface_nb.faces.store import MANIFEST_COLUMNS, StoreWriter

AUS = au_names(DISFA_AUS)


def face_for(au01: float, au12: float, size: int = 256) -> np.ndarray:
    """uint8 [size, size, 3]: a bar whose height grows with AU01 and one whose width with AU12."""
    img = np.full((size, size, 3), 90, np.uint8)
    h = int(20 + 30 * au01)
    img[40 : 40 + h, 60:100] = 230
    w = int(20 + 30 * au12)
    img[200:230, 40 : 40 + w] = 20
    return img


def _row(source: str, frame: int, face_file: str) -> dict:
    row = dict.fromkeys(MANIFEST_COLUMNS)
    row.update(source=source, frame=frame, time_s=frame / 25, face=0, track_id=-1, status="ok",
               reason="", score=0.9, face_file=face_file, width=256, height=256,
               detector="test", pitch=np.nan, yaw=np.nan, roll=np.nan)  # fmt: skip
    return row


def make_store(root: Path, subjects=("S1", "S2", "S3"), frames: int = 8, seed: int = 0):
    """Write a store and return (index with all 12 DISFA AU columns, store folder)."""
    rng = np.random.default_rng(seed)
    w = StoreWriter(root, {"size": 256, "method": "test"})
    rows, manifest = [], []
    for s in subjects:
        src = f"/data/{s}.avi"
        for f in range(frames):
            labels = dict.fromkeys(AUS, 0.0)
            labels["AU01"] = float(rng.integers(0, 6))
            labels["AU12"] = float(rng.integers(0, 6))
            labels["AU02"] = float(rng.uniform(0, 5))
            face = face_for(labels["AU01"], labels["AU12"])
            manifest.append(_row(src, f, w.write_face(src, f, 0, face)))
            rows.append({"subject": s, "source": src, "frame": f, **labels})
    w.add_rows(manifest)
    w.consolidate()
    return pd.DataFrame(rows), root


def au_dataset(index: pd.DataFrame, store: Path, size: int = 32, task: str = "intensity"):
    """An eval FaceDataset over ``index`` with ``.table`` as data.splits.make_datasets sets it."""
    from libreface_nb.data.dataset import FaceDataset
    from libreface_nb.data.splits import task_labels
    from libreface_nb.data.transforms import build_transform
    from libreface_nb.models.tasks import get_task

    index = task_labels(index, task)
    columns = list(get_task(task).outputs)
    ds = FaceDataset(index, store, columns, build_transform("au", False, size=size))
    ds.table = index.reset_index(drop=True)
    return ds
