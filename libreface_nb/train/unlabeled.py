"""Unlabeled aligned faces for MAE pretraining: every ``ok`` face of a face store.

A face store (:mod:`libreface_nb.faces.store`) lists one manifest row per detected face;
:class:`StoreFaces` serves every row with ``status == "ok"`` (all faces of every frame, labels
not needed). :func:`faces_from_folder` first aligns the images and videos of any folder into a
store with :func:`libreface_nb.faces.preprocess.preprocess_folder` (resuming a store that
exists), so MAE can pretrain on a user's own unlabeled footage.

Items are ``{"image": float32 [3, S, S], "row": int}`` (``row`` = position among the store's ok
faces). Augmentation is seeded per sample as in :class:`~libreface_nb.data.dataset.FaceDataset`:
with ``seed`` set, face ``i`` of epoch ``e`` is transformed under a torch seed derived from
``(seed, e, i)``, whatever the batch order or worker count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from libreface_nb.data.dataset import seeded_transform
from libreface_nb.errors import DatasetLayoutError
from libreface_nb.faces.store import load_face, load_manifest


class StoreFaces(Dataset):
    """Every ok face of a store, transformed (e.g. ``build_transform("au", True, size=112)``).

    Args:
        store_dir: the face store folder.
        transform: uint8 tensor [3, 256, 256] → float tensor [3, S, S].
        seed: per-sample augmentation seed; None = torch's global RNG.
        sources: keep only faces of these sources (e.g. a fold's training videos); None = all.
    """

    def __init__(
        self,
        store_dir: str | Path,
        transform: Callable[[Any], torch.Tensor],
        *,
        seed: int | None = 0,
        sources: Sequence[str] | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        man = load_manifest(self.store_dir, ["source", "frame", "face", "status", "face_file"])
        ok = man[(man["status"] == "ok") & (man["face_file"].astype(str) != "")]
        if sources is not None:
            ok = ok[ok["source"].astype(str).isin({str(s) for s in sources})]
        if ok.empty:
            raise DatasetLayoutError(
                f"{self.store_dir} has no aligned face ('ok' manifest rows) to pretrain on:"
                " run notebook 01 or faces_from_folder on a folder with faces"
            )
        self.table = ok.reset_index(drop=True)
        self.face_files = self.table["face_file"].astype(str).tolist()
        self.transform, self.seed, self.epoch = transform, seed, 0

    def __len__(self) -> int:
        return len(self.face_files)

    def set_epoch(self, epoch: int) -> None:
        """New augmentations each epoch (see the module docstring)."""
        self.epoch = int(epoch)

    def __getitem__(self, i: int) -> dict[str, Any]:
        face = load_face(self.store_dir, self.face_files[i])
        chw = torch.from_numpy(np.ascontiguousarray(face)).permute(2, 0, 1)
        image = seeded_transform(self.transform, chw, self.seed, self.epoch, i)
        return {"image": image, "row": int(i)}


def faces_from_folder(
    folder: str | Path, store_dir: str | Path, transform: Callable, **kwargs: Any
) -> StoreFaces:
    """Align every image and video under ``folder`` into ``store_dir``, then serve its faces.

    ``kwargs`` go to :func:`libreface_nb.faces.preprocess.preprocess_folder` (e.g.
    ``progress=False``); the store resumes if it already exists.
    """
    from libreface_nb.faces.preprocess import preprocess_folder

    preprocess_folder(folder, store_dir, **kwargs)
    return StoreFaces(store_dir, transform)
