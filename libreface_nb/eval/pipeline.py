"""Notebook 04's steps as package functions: find the run's models, evaluate, write the files.

Layout written into notebook 04's folder of a run (``artifacts.NB04``; the run folder's contract,
what each notebook writes and who reads it, is the table of libreface_nb/artifacts.py):

- ``predictions/<model>.parquet`` (:data:`~libreface_nb.artifacts.NB04_PREDICTIONS`): one
  predictions table per model (:mod:`libreface_nb.eval.predictions`);
- ``tables/metrics_long.csv`` (:data:`~libreface_nb.artifacts.NB04_METRICS_LONG`): every
  (model, output, metric) row with ``value``, ``n``, ``reason`` and, when bootstrapped,
  ``ci_low``, ``ci_high``, ``n_boot``, ``ci_reason``;
- ``tables/<dataset>_<metric>.{csv,md,tex}``: per-output tables beside published numbers
  (:mod:`libreface_nb.eval.report`);
- ``figures/``: PDF + PNG;
- ``metrics.json``: ``<metric>_<model>`` headline per model (mean over outputs), the models
  evaluated and skipped (with reasons), test subjects and frames.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb import artifacts
from libreface_nb.errors import RunError

log = logging.getLogger(__name__)

#: Models notebook 04 evaluates when the run has them: name → file in the run folder.
RUN_MODELS = {
    "teacher": artifacts.NB02_TEACHER_MODEL,
    "student": artifacts.NB03_STUDENT_MODEL,
}
#: Training histories (one JSON object per epoch) plotted as training curves.
RUN_HISTORIES = {
    "MAE pretraining": artifacts.NB02_MAE_HISTORY,
    "teacher": artifacts.NB02_TEACHER_HISTORY,
    "student": artifacts.NB03_STUDENT_HISTORY,
}
#: Headline metric and the metrics tabulated per task.
TASK_METRICS = {
    "intensity": ("pcc", ("pcc", "icc3_1", "mae")),
    "detection": ("f1", ("f1", "auc")),
    "expression": ("accuracy", ("f1",)),
}


def _json_number(value: Any) -> float | None:
    """A float for metrics.json; None (JSON null) for NaN, which strict JSON cannot hold."""
    value = float(value)
    return value if np.isfinite(value) else None


def find_optional(
    run_dir: str | Path, relpaths: Mapping[str, str], **find: Any
) -> tuple[dict, dict]:
    """(name → path found, name → why not) for files an earlier notebook may have written.

    ``find`` goes to :func:`libreface_nb.runs.find_input` (e.g. ``runs_root``).
    """
    from libreface_nb import runs

    found, missing = {}, {}
    for name, rel in relpaths.items():
        try:
            found[name] = runs.find_input(run_dir, rel, **find)
        except RunError as e:
            missing[name] = str(e)
    return found, missing


def evaluate_checkpoint(
    path: str | Path, data: Any, task: str, *, batch_size: int = 32, device: str = "cpu"
) -> pd.DataFrame:
    """A ``save_model`` checkpoint on the fold's test subjects, at the model's own input size."""
    from libreface_nb.data.splits import make_datasets
    from libreface_nb.eval.evaluate import evaluate
    from libreface_nb.models.factory import load_model

    model = load_model(path, map_location=device)
    test = make_datasets(data, task, img_size=model.config.img_size, roles=("test",))["test"]
    return evaluate(model, test, task, batch_size=batch_size, device=device)


def evaluate_run_models(
    run_dir: str | Path,
    names: Sequence[str],
    data: Any,
    task: str,
    *,
    out_dir: Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    **find: Any,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Evaluate the run's models named ``names`` (keys of :data:`RUN_MODELS`).

    A model the run lacks, or one without a ``task`` head, is skipped with its reason.
    With ``out_dir`` (notebook 04's folder), each table is saved as
    ``out_dir/predictions/<name>.parquet`` (:data:`~libreface_nb.artifacts.NB04_PREDICTIONS`).

    Returns:
        (name → predictions table, name → why it was skipped).
    """
    from libreface_nb.errors import ConfigError
    from libreface_nb.eval.predictions import save_predictions

    unknown = [n for n in names if n not in RUN_MODELS]
    skipped = {n: f"not a run model (known: {sorted(RUN_MODELS)})" for n in unknown}
    found, missing = find_optional(run_dir, {n: RUN_MODELS[n] for n in names if n not in unknown},
                                   **find)  # fmt: skip
    skipped.update(missing)
    tables = {}
    for name, path in found.items():
        try:
            tables[name] = evaluate_checkpoint(path, data, task, batch_size=batch_size,
                                               device=device)  # fmt: skip
        except ConfigError as e:  # e.g. a teacher trained for another task
            skipped[name] = f"{path}: {e}"
            continue
        if out_dir is not None:
            folder = Path(out_dir) / artifacts.in_notebook(artifacts.NB04_PREDICTIONS)
            save_predictions(tables[name], folder / f"{name}.parquet")
        log.info("%s: %d test frames from %s", name, len(tables[name]), path)
    return tables, skipped


def long_table(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """All models' long metric tables in one, with a ``model`` column first."""
    out = pd.concat([r.assign(model=m) for m, r in results.items()], ignore_index=True)
    return out[["model", *[c for c in out.columns if c != "model"]]]


def headline(summaries: Mapping[str, Mapping[str, float]], metric: str) -> dict[str, float]:
    """``<metric>_<model>`` → value (None when undefined), for metrics.json."""
    return {f"{metric}_{m}": _json_number(s.get(metric, np.nan)) for m, s in summaries.items()}


def published_points(dataset: str, metric: str) -> dict[str, dict[str, float]]:
    """Published values per model as {model: {output: value}} (for :func:`plots.eval.au_bars`)."""
    from libreface_nb.eval.report import published

    out: dict[str, dict[str, float]] = {}
    for p in published(dataset, metric):
        out.setdefault(p.model, {})[p.output] = p.value
    return out


def longest_source(table: pd.DataFrame) -> str:
    """The source (video) with the most frames in a predictions table."""
    return str(table["source"].value_counts().sort_index().idxmax())


def most_active(table: pd.DataFrame, outputs: list[str], k: int = 4) -> list[str]:
    """The ``k`` outputs whose labels vary most in ``table`` (for a readable time series)."""
    spread = {o: np.nanstd(table[f"true_{o}"].to_numpy(float)) for o in outputs}
    ranked = sorted(outputs, key=lambda o: -np.nan_to_num(spread[o]))
    return [o for o in outputs if o in ranked[:k]]


def headline_ci(results: Mapping[str, pd.DataFrame], metric: str) -> dict[str, float]:
    """``<metric>_<model>_ci_low``/``_ci_high`` of the headline row (NaN without a bootstrap)."""
    out = {}
    for model, table in results.items():
        row = table[(table["metric"] == metric) & table["output"].isin(["mean", "all"])]
        for side in ("ci_low", "ci_high"):
            value = row[side].iloc[0] if side in row and len(row) else np.nan
            out[f"{metric}_{model}_{side}"] = _json_number(value)
    return out
