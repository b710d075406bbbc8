"""The predictions table: every evaluated frame with its labels and predictions, one file.

Every metric the workbook reports is computed from this table by
:func:`metrics_from_predictions`, so a reader can recompute any number from the Parquet file
alone (``pandas.read_parquet``).

Data contract (one row per (source, frame, face) evaluated, in dataset order):

=====================  ========  ===============================================================
column                 dtype     meaning (value when absent)
=====================  ========  ===============================================================
``subject``            string    subject id (e.g. ``SN002``)
``source``             string    video or image the frame comes from (index ``source``)
``frame``              int64     frame number in ``source`` (0 for still images)
``face``               int64     face number in the frame (0: the one face the store keeps)
``split``              string    role of the frame in the fold (``test``, ``val``, ``train``)
``true_<AU>``          float64   intensity / detection tasks, one per AU in the head's order
                                 (``AU01``…, :mod:`libreface_nb.models.tasks`): intensity 0–5,
                                 detection 0/1; NaN = unknown label
``pred_<AU>``          float64   intensity 0–5 (already ``5·sigmoid``) or detection probability
                                 0–1 (already sigmoid); never raw logits
``true_expression``    int64     expression task: class index in ``config.EXPRESSIONS`` order;
                                 -1 = unknown
``pred_expression``    int64     argmax of the probabilities
``prob_<Class>``       float64   softmax probability of each class (``prob_Neutral``…)
=====================  ========  ===============================================================

Files are written with :func:`libreface_nb.atomic.atomic_path` as Parquet (pyarrow). The task is
not stored in the table: a reader passes it (``intensity`` and ``detection`` share AU names).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.errors import ConfigError, DatasetLayoutError
from libreface_nb.eval import metrics as M

#: The identifying columns, in order.
KEY_COLUMNS = ("subject", "source", "frame", "face", "split")


def value_columns(task: str) -> list[str]:
    """The task's label and prediction columns, in table order."""
    from libreface_nb.models.tasks import get_task

    spec = get_task(task)
    if spec.target == "expression":
        return ["true_expression", "pred_expression", *(f"prob_{c}" for c in spec.outputs)]
    return [f"true_{a}" for a in spec.outputs] + [f"pred_{a}" for a in spec.outputs]


def build_table(
    meta: pd.DataFrame, task: str, true: np.ndarray, pred: np.ndarray, split: str = "test"
) -> pd.DataFrame:
    """Assemble a predictions table.

    Args:
        meta: one row per item with ``subject``, ``source``, ``frame`` (``face`` optional, 0).
        task: ``intensity`` | ``detection`` | ``expression``.
        true: [N, K] AU labels (NaN unknown) or [N] expression indices (-1 unknown).
        pred: [N, K] activated predictions (intensities, probabilities, class probabilities).
        split: value of the ``split`` column.
    """
    from libreface_nb.models.tasks import get_task

    spec = get_task(task)
    pred = np.asarray(pred, np.float64)
    if pred.shape != (len(meta), spec.n_outputs):
        raise ConfigError(f"{task} predictions have shape {pred.shape}, expected "
                          f"({len(meta)}, {spec.n_outputs})")  # fmt: skip
    out = pd.DataFrame(
        {
            "subject": meta["subject"].astype(str).to_numpy(),
            "source": meta["source"].astype(str).to_numpy(),
            "frame": meta["frame"].astype("int64").to_numpy(),
            "face": (meta["face"] if "face" in meta else pd.Series(0, index=meta.index))
            .astype("int64")
            .to_numpy(),
            "split": split,
        }
    )
    if spec.target == "expression":
        out["true_expression"] = np.asarray(true, np.int64)
        out["pred_expression"] = pred.argmax(axis=1).astype(np.int64)
        for j, name in enumerate(spec.outputs):
            out[f"prob_{name}"] = pred[:, j]
        return out
    true = np.asarray(true, np.float64)
    for j, name in enumerate(spec.outputs):
        out[f"true_{name}"] = true[:, j]
    for j, name in enumerate(spec.outputs):
        out[f"pred_{name}"] = pred[:, j]
    return out


def validate(table: pd.DataFrame, task: str, source: str = "the table") -> None:
    """Raise DatasetLayoutError naming the missing columns when ``table`` breaks the contract."""
    missing = [c for c in (*KEY_COLUMNS, *value_columns(task)) if c not in table.columns]
    if missing:
        raise DatasetLayoutError(
            f"{source} is not a {task} predictions table: missing columns {missing}"
            " (write it with libreface_nb.eval.evaluate or eval.predictions.build_table)"
        )


def save_predictions(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as Parquet, atomically."""
    from libreface_nb.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)
    return path


def load_predictions(path: str | Path, task: str) -> pd.DataFrame:
    """Read and check a predictions table."""
    table = pd.read_parquet(path)
    validate(table, task, str(path))
    return table


def arrays(table: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(true, pred, outputs) of a table: AU [N, K] arrays, or expression [N] indices."""
    from libreface_nb.models.tasks import get_task

    spec = get_task(task)
    if spec.target == "expression":
        t = table["true_expression"].to_numpy(np.int64)
        return t, table["pred_expression"].to_numpy(np.int64), list(spec.outputs)
    t = table[[f"true_{a}" for a in spec.outputs]].to_numpy(np.float64, na_value=np.nan)
    p = table[[f"pred_{a}" for a in spec.outputs]].to_numpy(np.float64, na_value=np.nan)
    return t, p, list(spec.outputs)


def metrics_from_predictions(
    table: pd.DataFrame,
    task: str,
    *,
    per_subject: bool = False,
    icc_forms: Sequence[str] = ("3,1",),
    n_boot: int = 0,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Metrics of a predictions table (see :mod:`libreface_nb.eval.metrics`).

    Args:
        table: a predictions table of ``task``.
        task: ``intensity`` | ``detection`` | ``expression``.
        per_subject: intensity: add the per-subject PCC.
        icc_forms: intensity: ICC forms (``"3,1"``, ``"2,1"``).
        n_boot: subject-bootstrap replicates for confidence intervals (0 = none).
        seed, level: bootstrap seed and confidence level.

    Returns:
        (long table: ``output``, ``metric``, ``value``, ``n``, ``reason`` and, with ``n_boot``,
        ``ci_low``, ``ci_high``, ``n_boot``, ``ci_reason``; summary metric → headline value).
    """
    from libreface_nb.eval.uncertainty import bootstrap_ci
    from libreface_nb.models.tasks import get_task

    validate(table, task)
    true, pred, outputs = arrays(table, task)
    subjects = table["subject"].astype(str).to_numpy()
    kind = get_task(task).name

    def compute(rows: np.ndarray) -> pd.DataFrame:
        t, p = true[rows], pred[rows]
        if kind == "intensity":
            return M.intensity_metrics(
                t, p, outputs, subjects=subjects[rows], icc_forms=icc_forms,
                per_subject=per_subject,
            )  # fmt: skip
        if kind == "detection":
            return M.detection_metrics(t, p, outputs)
        return M.expression_metrics(t, p, outputs)

    if n_boot:
        result = bootstrap_ci(compute, subjects, n_boot=n_boot, seed=seed, level=level)
    else:
        result = compute(np.arange(len(table)))
    return result, M.summary(result)


def per_subject_metrics(table: pd.DataFrame, task: str, **options) -> pd.DataFrame:
    """The long metric table of each subject's frames, with a ``subject`` column first."""
    parts = []
    for subject, part in table.groupby("subject", sort=True):
        result, _ = metrics_from_predictions(part, task, **options)
        parts.append(result.assign(subject=str(subject)))
    out = pd.concat(parts, ignore_index=True)
    return out[["subject", *[c for c in out.columns if c != "subject"]]]


def metrics_across_folds(tables: dict[str, pd.DataFrame], task: str, **options) -> pd.DataFrame:
    """Per (output, metric): mean ± std over folds of each fold's test-set value.

    Args:
        tables: fold name → that fold's predictions table (its test subjects).
        **options: passed to :func:`metrics_from_predictions` (``n_boot`` is ignored).
    """
    from libreface_nb.eval.uncertainty import across_folds

    options.pop("n_boot", None)
    per_fold = {f: metrics_from_predictions(t, task, **options)[0] for f, t in tables.items()}
    return across_folds(per_fold)
