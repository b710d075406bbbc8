"""A torch Dataset over the aligned-face store and an index table of labels.

The index table is what a dataset reader returns (one row per labelled sample; ``source``,
``frame``, AU columns ``AU01``…, optionally ``expression``). The face store is what
:mod:`libreface_nb.faces.preprocess` wrote: 256×256 aligned faces and a manifest with one row per
input frame. :class:`FaceDataset` joins the two on (``source``, ``frame``), keeping manifest rows
with ``status == "ok"`` and ``face == 0``; every index row without such a face is listed in
:attr:`FaceDataset.dropped` with the manifest's status and reason (or ``"not in store"``).

Label conventions: AU labels are float32 in the index's own units (DISFA intensities 0–5, BP4D
occurrences 0/1); NaN = unknown, returned as 0 with ``mask`` 0, so a loss must weigh by ``mask``.
FER targets (``target="expression"``) are int64 indices into ``config.EXPRESSIONS``; -1 = unknown
(use ``CrossEntropyLoss(ignore_index=-1)``).

Seeding (augmentation randomness): with ``seed`` set, each sample is transformed under its own
torch RNG seed derived from (seed, epoch, index row), inside ``torch.random.fork_rng`` so the
caller's RNG is left alone. A sample therefore gets the same augmentation whatever ``num_workers``,
the batch order or the worker that loads it; call :meth:`FaceDataset.set_epoch` each epoch to draw
new augmentations (with ``persistent_workers=True`` the workers keep their copy of the dataset and
do not see ``set_epoch``: keep the default False). With ``seed=None`` the transform uses torch's
global RNG as usual: DataLoader seeds each worker from its ``generator`` (base seed + worker id),
so :func:`make_loader`'s seeded generator makes runs with ``num_workers > 0`` repeatable, while
``num_workers=0`` draws from the main process's RNG (repeatable only after ``torch.manual_seed``).
Shuffling is driven by the loader's generator in every case.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from libreface_nb.config import EXPRESSIONS
from libreface_nb.errors import ConfigError, DatasetLayoutError
from libreface_nb.faces.manifest import first_faces
from libreface_nb.faces.store import load_face, load_manifest

log = logging.getLogger(__name__)

TARGETS = ("au", "expression")
#: Above this many bytes, ``cache=True`` logs a warning (the array is copied into each worker
#: process on platforms that spawn rather than fork).
CACHE_WARN_BYTES = 2 * 1024**3


def _join_store(index: pd.DataFrame, manifest: pd.DataFrame, store_dir: Path) -> pd.DataFrame:
    """Match index rows to aligned faces.

    Returns:
        One row per index row (same order) with ``row`` (position in ``index``), ``face_file``
        ("" when none), ``status`` and ``reason`` ("ok"/"" when a face file is there).
    """
    keys = pd.DataFrame(
        {
            "row": np.arange(len(index)),
            "source": index["source"].astype(str).to_numpy(),
            "frame": index["frame"].astype("int64").to_numpy(),
        }
    )
    man = manifest.assign(
        source=manifest["source"].astype(str), frame=manifest["frame"].astype("int64")
    )
    ok = first_faces(man)[["source", "frame", "face_file"]]
    out = keys.merge(ok, on=["source", "frame"], how="left", validate="many_to_one")
    out["face_file"] = out["face_file"].fillna("").astype(str)
    out["status"] = "ok"
    out["reason"] = ""

    # Why is a row without a face missing? The manifest's first row for that frame says so.
    why = man.drop_duplicates(["source", "frame"])[["source", "frame", "status", "reason"]]
    why = keys.merge(why, on=["source", "frame"], how="left", validate="many_to_one")
    lost = (out["face_file"] == "").to_numpy()
    in_store = why["status"].notna().to_numpy()
    out.loc[lost & ~in_store, ["status", "reason"]] = ["missing", "not in store"]
    idx = lost & in_store
    out.loc[idx, "status"] = why.loc[idx, "status"].astype(str).to_numpy()
    out.loc[idx, "reason"] = why.loc[idx, "reason"].fillna("").astype(str).to_numpy()
    # An "ok" frame whose face 0 is absent (e.g. only face 1 kept) still has no usable face.
    odd = idx & (out["status"] == "ok").to_numpy()
    out.loc[odd, ["status", "reason"]] = ["missing", "no face 0 in store for this frame"]

    # Nothing fails mid-epoch: a face file named by the manifest must exist now.
    present = {f for f in out["face_file"].unique() if f and (store_dir / f).is_file()}
    exists = out["face_file"].isin(present).to_numpy()
    gone = ~lost & ~exists
    out.loc[gone, "reason"] = "face file not found: " + out.loc[gone, "face_file"]
    out.loc[gone, ["status", "face_file"]] = ["missing", ""]
    return out


def _label_array(index: pd.DataFrame, label_columns: Sequence[str]) -> np.ndarray:
    """Label columns as float32 [N, K] (NaN kept)."""
    missing = [c for c in label_columns if c not in index.columns]
    if missing:
        raise ConfigError(
            f"label column(s) {missing} are not in the index; it has {list(index.columns)}"
        )
    if not label_columns:
        return np.zeros((len(index), 0), np.float32)
    return index[list(label_columns)].to_numpy(dtype=np.float32, na_value=np.nan)


def _expression_array(index: pd.DataFrame) -> np.ndarray:
    """The ``expression`` column as int64 [N]; -1 = not a FER label."""
    if "expression" not in index.columns:
        raise ConfigError("target='expression' needs an 'expression' column in the index")
    expr = pd.to_numeric(index["expression"], errors="coerce").fillna(-1).to_numpy()
    if np.any((expr < -1) | (expr >= len(EXPRESSIONS)) | (expr != np.round(expr))):
        raise ConfigError(
            f"'expression' values must be integers in -1..{len(EXPRESSIONS) - 1}"
            f" (config.EXPRESSIONS order), got {sorted(set(expr.tolist()))[:10]}"
        )
    return expr.astype(np.int64)


def _dropped_table(index: pd.DataFrame, joined: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """Index rows without a face, with ``row`` (position in the index), ``status``, ``reason``."""
    extra = [c for c in ("row", "status", "reason") if c in index.columns]
    dropped = index.iloc[~keep].drop(columns=extra)
    dropped.insert(0, "row", np.flatnonzero(~keep))
    dropped["status"] = joined.loc[~keep, "status"].to_numpy()
    dropped["reason"] = joined.loc[~keep, "reason"].to_numpy()
    if len(dropped):
        counts = dropped["status"].value_counts().to_dict()
        log.warning(
            "%d of %d index rows have no aligned face: %s (see .dropped)",
            len(dropped), len(index), counts,
        )  # fmt: skip
    return dropped


def seeded_transform(
    transform: Callable[[Any], torch.Tensor], chw: torch.Tensor, seed: int | None, *keys: int
) -> torch.Tensor:
    """Apply ``transform`` under a torch seed derived from ``(seed, *keys)`` (see the module
    docstring), inside ``fork_rng`` so the caller's RNG is untouched; ``seed=None`` uses torch's
    global RNG. Shared by every dataset that augments per sample.
    """
    if seed is None:
        return transform(chw)
    ss = np.random.SeedSequence([int(seed), *(int(k) for k in keys)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1)))
        return transform(chw)


class FaceDataset(Dataset):
    """Aligned faces with AU labels (and masks) or expression targets.

    Args:
        index: index table from a reader (``source``, ``frame`` and the label columns).
        store_dir: face store folder (``manifest.parquet`` and face PNGs).
        label_columns: AU columns to return as ``labels``, in this order, e.g.
            ``au_names(DISFA_AUS)``.
        transform: uint8 face → float tensor [3, 224, 224]; None = the eval transform of the task
            (see :func:`libreface_nb.data.transforms.build_transform`).
        target: ``"au"`` or ``"expression"`` (adds an int64 ``expression`` item, -1 = unknown).
        cache: decode every face once and keep them in RAM as one uint8 array [F, 256, 256, 3]
            (for small datasets; about 192 KiB per face).
        seed: per-sample augmentation seed (see the module docstring); None = torch's global RNG.

    Attributes:
        rows: int64 [N], position in ``index`` of each item.
        labels: float32 [N, K], 0 where unknown; ``mask``: float32 [N, K], 1 = known.
        expression: int64 [N] (-1 = unknown) with ``target="expression"``, else None.
        dropped: index rows without an aligned face, with ``row``, ``status`` and ``reason``.

    Items are dicts: ``image`` float32 [3, 224, 224], ``labels`` float32 [K] (0 where unknown),
    ``mask`` float32 [K] (1 = known), ``row`` int (position of the sample in ``index``), and with
    ``target="expression"`` also ``expression`` int64 [] (-1 = unknown).
    """

    def __init__(
        self,
        index: pd.DataFrame,
        store_dir: str | Path,
        label_columns: Sequence[str] = (),
        transform: Callable[[Any], torch.Tensor] | None = None,
        *,
        target: str = "au",
        cache: bool = False,
        seed: int | None = None,
    ) -> None:
        from libreface_nb.data.transforms import build_transform

        if target not in TARGETS:
            raise ConfigError(f"target={target!r} is not one of {TARGETS}")
        for col in ("source", "frame"):
            if col not in index.columns:
                raise DatasetLayoutError(f"the index has no {col!r} column; columns: {list(index)}")
        self.store_dir = Path(store_dir)
        if not self.store_dir.is_dir():
            raise DatasetLayoutError(f"face store folder {self.store_dir} does not exist")
        self.label_columns = (
            [label_columns] if isinstance(label_columns, str) else list(label_columns)
        )
        self.target = target
        self.transform = transform or build_transform(
            "fer" if target == "expression" else "au", train=False
        )
        self.seed = seed
        self.epoch = 0

        labels = _label_array(index, self.label_columns)  # fail fast, before reading the store
        expr = _expression_array(index) if target == "expression" else None
        columns = ["source", "frame", "face", "status", "reason", "face_file"]  # not landmarks
        joined = _join_store(index, load_manifest(self.store_dir, columns), self.store_dir)
        keep = (joined["status"] == "ok").to_numpy()
        self.rows = joined.loc[keep, "row"].to_numpy(np.int64)
        self.face_files = joined.loc[keep, "face_file"].tolist()
        self.dropped = _dropped_table(index, joined, keep)
        labels = labels[self.rows]
        self.mask = (~np.isnan(labels)).astype(np.float32)
        self.labels = np.nan_to_num(labels, nan=0.0).astype(np.float32)
        self.expression = None if expr is None else expr[self.rows]
        self._cache: np.ndarray | None = None
        self._cache_slot: np.ndarray | None = None
        if cache:
            self._fill_cache()

    def _fill_cache(self) -> None:
        """Decode each distinct face file once into one uint8 array [F, H, W, 3]."""
        unique, slot = np.unique(
            np.asarray(self.face_files, dtype=object).astype(str), return_inverse=True
        )
        if len(unique) == 0:
            return
        first = load_face(self.store_dir, unique[0])
        if first.nbytes * len(unique) > CACHE_WARN_BYTES:
            log.warning(
                "cache=True holds %.1f GiB of faces in RAM", first.nbytes * len(unique) / 1024**3
            )
        cache = np.empty((len(unique), *first.shape), np.uint8)
        cache[0] = first
        for i, name in enumerate(unique[1:], start=1):
            cache[i] = load_face(self.store_dir, name)
        self._cache, self._cache_slot = cache, slot.astype(np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        """Draw a new set of augmentations (only with ``seed`` set; see the module docstring)."""
        self.epoch = int(epoch)

    def face(self, i: int) -> np.ndarray:
        """Item ``i``'s aligned face, uint8 RGB [256, 256, 3], without any transform."""
        if self._cache is not None:
            return self._cache[self._cache_slot[i]]
        return load_face(self.store_dir, self.face_files[i])

    def __getitem__(self, i: int) -> dict[str, Any]:
        # HWC uint8 → CHW view: the transform crops and flips uint8 before converting to float.
        chw = torch.from_numpy(np.ascontiguousarray(self.face(i))).permute(2, 0, 1)
        image = seeded_transform(self.transform, chw, self.seed, self.epoch, self.rows[i])
        item: dict[str, Any] = {
            "image": image,
            "labels": torch.tensor(self.labels[i]),
            "mask": torch.tensor(self.mask[i]),
            "row": int(self.rows[i]),
        }
        if self.expression is not None:
            item["expression"] = torch.tensor(self.expression[i], dtype=torch.int64)
        return item


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    num_workers: int = 0,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling and worker seeds come from ``seed``.

    Workers are not persistent, so :meth:`FaceDataset.set_epoch` reaches them every epoch.
    """
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        drop_last=drop_last,
        persistent_workers=False,
    )
