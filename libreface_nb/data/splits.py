"""Notebook 01's outputs as training, validation and test datasets for one task and one fold.

Notebook 01 writes, in its folder of a run (:mod:`libreface_nb.artifacts`):
:data:`~libreface_nb.artifacts.NB01_INDEX` (one row per labelled frame),
:data:`~libreface_nb.artifacts.NB01_FOLDS` (subject-exclusive folds, :mod:`libreface_nb.data.folds`)
and :data:`~libreface_nb.artifacts.NB01_METRICS`, whose ``face_store`` names the aligned-face store
(:data:`~libreface_nb.artifacts.NB01_FACES` when it is the run's own). :func:`load_run_data` reads
all three from the *same* notebook-01 folder (the run's own, or the newest usable run's, see
:func:`libreface_nb.runs.find_input`); :func:`make_datasets` turns them into one
:class:`~libreface_nb.data.dataset.FaceDataset` per role (``train``, ``val``, ``test``).

Labels per task (:mod:`libreface_nb.models.tasks`), columns in the head's output order:

- ``intensity``: the 12 DISFA AU columns as they are (0–5). An AU the index lacks is NaN
  (masked in the loss and skipped by the metrics).
- ``detection``: the 12 BP4D AU columns; an index of intensities (any value above 1, e.g. DISFA)
  is binarised with DISFA's convention, present = intensity ≥ 2; missing AUs are NaN.
- ``expression``: the ``expression`` column (int, -1 = unknown).

The validation subjects come from the fold's training side, never from its test side: model
selection never sees the test subjects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb import artifacts
from libreface_nb.config import DISFA_PRESENCE_THRESHOLD
from libreface_nb.errors import ConfigError, DatasetLayoutError

log = logging.getLogger(__name__)

#: Notebook 01's folder (kept here for callers; the name lives in :mod:`libreface_nb.artifacts`).
NB01 = artifacts.NB01
ROLES = ("train", "val", "test")


@dataclass
class RunData:
    """Notebook 01's outputs for one fold.

    Attributes:
        nb01_dir: the notebook-01 folder everything was read from.
        index: the index table (one row per labelled frame).
        store: the aligned-face store folder.
        dataset: dataset name (``disfa``, ``bp4d``, ``rafdb``, ``affectnet``).
        fold: the fold's name in ``folds.json``.
        roles: per index row ``"train"``, ``"val"`` or ``"test"`` (same index as ``index``).
        folds: the whole fold file (dict).
    """

    nb01_dir: Path
    index: pd.DataFrame
    store: Path
    dataset: str
    fold: str
    roles: pd.Series
    folds: dict[str, Any] = field(repr=False)

    def subjects(self, role: str) -> list[str]:
        """Sorted subjects with ``role`` in this fold."""
        return sorted(set(self.index.loc[self.roles == role, "subject"].astype(str)))


def load_run_data(run_dir: str | Path, fold: str = "", **find: Any) -> RunData:
    """Read notebook 01's index, folds and face store for ``fold`` (empty: the first fold).

    Args:
        run_dir: the current run folder (see :func:`libreface_nb.runs.find_input`).
        fold: a fold name of ``folds.json``; empty = its first fold.
        **find: passed to :func:`libreface_nb.runs.find_input` (e.g. ``runs_root``).

    Raises:
        RunError: notebook 01 has not run (the message says how to run it).
        ConfigError: ``fold`` is not in the fold file (the message lists the folds).
    """
    from libreface_nb import runs
    from libreface_nb.data import folds as F

    nb01 = runs.find_input(run_dir, artifacts.NB01_METRICS, **find).parent
    run = nb01.parent  # the run folder that holds this notebook-01 folder
    metrics = runs.load_metrics(nb01)
    index_path = run / artifacts.NB01_INDEX
    if not index_path.is_file():
        raise DatasetLayoutError(f"{index_path} is missing: rerun notebook 01 into {nb01.parent}")
    index = pd.read_parquet(index_path)
    folds_path = run / artifacts.NB01_FOLDS
    payload = F.read_folds(folds_path)
    names = list(payload["folds"])
    if not names:
        raise DatasetLayoutError(f"{folds_path} holds no fold")
    name = str(fold) or names[0]
    if name not in payload["folds"]:
        raise ConfigError(f"fold={fold!r} is not in {folds_path}; its folds are {names}")
    store = Path(metrics.get("face_store") or run / artifacts.NB01_FACES)
    roles = F.fold_split(index, payload["folds"][name])
    dataset = str(metrics.get("dataset") or payload.get("dataset", ""))
    return RunData(nb01, index, store, dataset, name, roles, payload)


def _is_intensity(values: pd.DataFrame) -> bool:
    return bool(np.nanmax(values.to_numpy(dtype=float, na_value=np.nan), initial=0.0) > 1.0)


def task_labels(index: pd.DataFrame, task: str) -> pd.DataFrame:
    """A copy of ``index`` whose label columns are ``task``'s outputs (see the module docstring).

    Returns:
        The index with the task's label columns (float, NaN = unknown) or, for ``expression``,
        its ``expression`` column checked to exist.
    """
    from libreface_nb.tasks import get_task

    spec = get_task(task)
    out = index.copy()
    if spec.target == "expression":
        if "expression" not in out.columns:
            raise ConfigError(
                f"task={task!r} needs an 'expression' column; this index has AU labels: "
                "use task 'intensity' or 'detection', or an RAF-DB / AffectNet dataset"
            )
        return out
    present = [c for c in spec.outputs if c in out.columns]
    if not present:
        raise ConfigError(
            f"task={task!r} needs AU columns {list(spec.outputs)}; the index has none of them"
            " (an expression dataset? use task='expression')"
        )
    missing = [c for c in spec.outputs if c not in out.columns]
    if missing:
        log.info("task %s: AUs %s are not labelled in this dataset (masked)", task, missing)
        for col in missing:
            out[col] = np.nan
    if spec.name == "detection" and _is_intensity(out[present]):
        values = out[present].to_numpy(dtype=float, na_value=np.nan)
        binary = np.where(np.isnan(values), np.nan, (values >= DISFA_PRESENCE_THRESHOLD) * 1.0)
        out[present] = binary
    return out


def make_datasets(
    data: RunData,
    task: str,
    *,
    img_size: int = 224,
    seed: int = 0,
    augment: dict[str, float] | None = None,
    cache: bool = True,
    roles: tuple[str, ...] = ROLES,
) -> dict:
    """One FaceDataset per role: ``train`` with the training transform, the others eval.

    Args:
        data: from :func:`load_run_data`.
        task: ``intensity`` | ``detection`` | ``expression``.
        img_size: network input side (224 in the paper; see ``build_transform(size=)``).
        seed: per-sample augmentation seed of the training set.
        augment: extra training augmentations for ``build_transform`` (rotation, color, …).
        cache: keep decoded faces in RAM (small datasets).
        roles: which datasets to build.

    Returns:
        role → FaceDataset; each has ``table``, the role's rows of the labelled index, so item
        ``i`` is ``ds.table.iloc[ds.rows[i]]`` (subject, source, frame for predictions tables).

    Raises:
        ConfigError: a role has no sample (e.g. too few subjects for a validation split).
    """
    from libreface_nb.data.dataset import FaceDataset
    from libreface_nb.data.transforms import build_transform
    from libreface_nb.tasks import get_task

    spec = get_task(task)
    index = task_labels(data.index, task)
    kind = "fer" if spec.target == "expression" else "au"
    columns = [] if spec.target == "expression" else list(spec.outputs)
    out = {}
    for role in roles:
        part = index[(data.roles == role).to_numpy()]
        if part.empty:
            raise ConfigError(
                f"fold {data.fold!r} has no {role} rows "
                f"({data.nb01_dir.parent / artifacts.NB01_FOLDS}):"
                " give notebook 01 more subjects (fixture_subjects) or another fold"
            )
        train = role == "train"
        transform = build_transform(
            kind, train, size=img_size, **((augment or {}) if train else {})
        )
        ds = FaceDataset(
            part, data.store, columns, transform, target=spec.target, cache=cache,
            seed=seed if train else None,
        )  # fmt: skip
        ds.table = part.reset_index(drop=True)  # item i is ds.table.iloc[ds.rows[i]]
        out[role] = ds
    return out
