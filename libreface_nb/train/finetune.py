"""Teacher fine-tuning for one task: the :func:`~libreface_nb.train.loop.fit` step and its entry.

Losses (LIBREFACE_FACTS §4, :mod:`libreface_nb.models.tasks`), on the batch of
:class:`~libreface_nb.data.dataset.FaceDataset` items:

- ``intensity``: MSE between ``5·sigmoid(raw)`` and the 0–5 labels, averaged over known labels
  (``mask`` 1) only;
- ``detection``: BCE-with-logits against 0/1 labels, averaged over known labels;
- ``expression``: cross-entropy over the 8 classes, targets -1 ignored.

Validation returns ``val_loss`` and the task's monitor (``val_pcc``, ``val_f1`` or
``val_accuracy``, :mod:`libreface_nb.train.metrics`); :func:`evaluate` gives the same numbers
without the prefix plus per-output values, for the test subjects.

Choosing the run's teacher among several fine-tunings (e.g. MAE-initialised and from random
weights): :func:`choose_on_validation` picks by the validation monitor only (never the test
subjects) and :func:`publish_teacher` writes the pick as ``<folder>/model.pt`` plus a copy of its
``history.jsonl``, the two files notebook 03 and 04 read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from libreface_nb.config import INTENSITY_MAX
from libreface_nb.models.factory import ModelConfig
from libreface_nb.models.tasks import activate, get_task
from libreface_nb.train import metrics as M
from libreface_nb.train.loop import FitConfig, FitResult, fit, to_device

log = logging.getLogger(__name__)


def task_loss(task: str, raw: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
    """The task's training loss for raw head outputs [N, K] (see the module docstring)."""
    spec = get_task(task)
    if spec.loss == "ce":
        target = batch["expression"].long()
        if not (target >= 0).any():
            return raw.sum() * 0.0  # no known expression in this batch
        return F.cross_entropy(raw.float(), target, ignore_index=-1)
    mask, labels = batch["mask"].float(), batch["labels"].float()
    if spec.loss == "mse":
        err = (INTENSITY_MAX * torch.sigmoid(raw.float()) - labels) ** 2
    else:
        err = F.binary_cross_entropy_with_logits(raw.float(), labels, reduction="none")
    return (err * mask).sum() / mask.sum().clamp_min(1.0)


def predict(model: torch.nn.Module, task: str, loader: Any) -> dict[str, np.ndarray]:
    """Run ``model`` over ``loader``: ``raw`` [N, K], ``pred`` (activated), ``labels``,
    ``mask`` (AU tasks) or ``expression`` (FER), ``row`` [N], and ``loss`` (mean over batches)."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    out: dict[str, list] = {"raw": [], "labels": [], "mask": [], "expression": [], "row": []}
    losses, weights = [], []
    with torch.no_grad():
        for batch in loader:
            b = to_device(batch, dev)
            raw = model(b["image"])[task].float()
            losses.append(float(task_loss(task, raw, b)))
            weights.append(len(raw))
            out["raw"].append(raw.cpu().numpy())
            for key in ("labels", "mask", "expression", "row"):
                if key in batch:
                    out[key].append(torch.as_tensor(batch[key]).numpy())
    model.train(was)
    res = {k: np.concatenate(v) for k, v in out.items() if v}
    res["pred"] = activate(task, res["raw"])
    res["loss"] = np.average(losses, weights=weights)
    return res


def metrics_of(task: str, p: dict[str, np.ndarray]) -> dict[str, Any]:
    """``loss``, the task metric (``pcc`` / ``f1`` / ``accuracy``) and ``per_output`` values."""
    spec = get_task(task)
    names = spec.outputs
    if spec.loss == "mse":
        name, (value, per) = "pcc", M.pcc(p["pred"], p["labels"], p["mask"], names)
    elif spec.loss == "bce":
        name, (value, per) = "f1", M.f1(p["pred"], p["labels"], p["mask"], names)
    else:
        name, (value, per) = "accuracy", M.accuracy(p["raw"], p["expression"])
    out: dict[str, Any] = {"loss": float(p["loss"]), name: value}
    if per:
        out["per_output"] = dict(zip(names, per, strict=True))
    return out


def evaluate(model: torch.nn.Module, task: str, dataset: Any, batch_size: int = 64) -> dict:
    """Metrics of ``model`` on ``dataset`` (e.g. the fold's test subjects), unprefixed."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    return metrics_of(task, predict(model, task, loader))


@dataclass
class FinetuneStep:
    """The fit step of a :class:`~libreface_nb.models.factory.FaceModel` on one task."""

    module: torch.nn.Module
    task: str

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raw = self.module(batch["image"])[self.task]
        return {"loss": task_loss(self.task, raw, batch)}

    def validate(self, loader: Any) -> dict[str, float]:
        m = metrics_of(self.task, predict(self.module, self.task, loader))
        return {f"val_{k}": float(v) for k, v in m.items() if k != "per_output"}


@dataclass
class FinetuneResult:
    """The fine-tuned model (best epoch's weights), fit's result, the import report if any."""

    model: torch.nn.Module
    fit: FitResult
    import_report: Any = None
    model_path: Path | None = None


def finetune_teacher(
    datasets: dict[str, Any],
    task: str,
    model_cfg: ModelConfig,
    fit_cfg: FitConfig,
    out_dir: str | Path,
    *,
    encoder_checkpoint: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> FinetuneResult:
    """Build the teacher, load an (MAE) encoder checkpoint if given, fine-tune, save ``model.pt``.

    Args:
        datasets: ``{"train": …, "val": …}`` (:func:`libreface_nb.data.splits.make_datasets`).
        task: ``intensity`` | ``detection`` | ``expression``.
        model_cfg: a :class:`libreface_nb.models.factory.ModelConfig` (its ``tasks`` = ``(task,)``).
        fit_cfg: e.g. :meth:`libreface_nb.train.recipes.TeacherRecipe.fit_config`.
        out_dir: gets fit's ``best.pt``, ``last.pt``, ``history.jsonl`` and ``model.pt``
            (:func:`~libreface_nb.models.factory.save_model` of the best epoch's teacher).
        encoder_checkpoint: a local MAE / timm / LibreFace-MAE file for the encoder
            (:func:`libreface_nb.models.checkpoints.load_vit_encoder`, strict: every encoder
            key must be in the file); None = random initialisation.
        extra: stored in ``model.pt``'s ``extra`` besides task, best epoch and monitor value.
    """
    from libreface_nb.models.checkpoints import load_vit_encoder
    from libreface_nb.models.factory import create_model, save_model

    torch.manual_seed(fit_cfg.seed)
    model = create_model(model_cfg)
    report = None
    if encoder_checkpoint:
        report = load_vit_encoder(model, encoder_checkpoint, strict=True)
    res = fit(FinetuneStep(model, task), datasets["train"], datasets["val"], fit_cfg, out_dir)
    info = {"task": task, "best_epoch": res.best_epoch, fit_cfg.monitor: res.best,
            "encoder_checkpoint": str(encoder_checkpoint or "")} | dict(extra or {})  # fmt: skip
    path = Path(out_dir) / "model.pt"
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 writes
        save_model(path, model.cpu(), extra=info)
    return FinetuneResult(model, res, report, path)


def choose_on_validation(results: Mapping[str, FinetuneResult], mode: str = "max") -> str:
    """The name of the fine-tuning with the best validation monitor (``fit.best``).

    Args:
        results: name → result, in order of preference: a tie goes to the earlier one.
        mode: ``max`` (PCC, F1, accuracy) or ``min``.

    Raises:
        ConfigError: no result, or a result without a finite validation value.
    """
    from libreface_nb.errors import ConfigError

    if not results or mode not in ("max", "min"):
        raise ConfigError(f"choose_on_validation needs results and mode max|min, got {mode!r}")
    bad = [n for n, r in results.items() if r.fit.best is None or not np.isfinite(r.fit.best)]
    if bad:
        raise ConfigError(f"no finite validation metric for {bad}: their fits never validated")
    sign = 1.0 if mode == "max" else -1.0
    best = max(sign * r.fit.best for r in results.values())
    return next(n for n, r in results.items() if sign * r.fit.best == best)


def publish_teacher(
    result: FinetuneResult, folder: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``result``'s model as ``folder/model.pt`` and copy its fit history beside it.

    ``model.pt`` is a :func:`~libreface_nb.models.factory.save_model` file whose ``extra`` is the
    chosen run's (``task``, ``best_epoch``, monitor, ``encoder_checkpoint``) updated with
    ``extra``; ``history.jsonl`` is the chosen fit's, byte for byte. Nothing is overwritten.

    Raises:
        RunError: ``folder`` already holds a ``model.pt`` or ``history.jsonl``.
    """
    from libreface_nb.atomic import write_bytes
    from libreface_nb.errors import RunError
    from libreface_nb.models.factory import read_checkpoint, save_model

    folder = Path(folder)
    targets = (folder / "model.pt", folder / "history.jsonl")
    if any(t.exists() for t in targets):
        raise RunError(f"{folder} already holds a teacher: publish into a new run folder")
    source = Path(result.model_path or "")
    info = dict(read_checkpoint(source).get("extra", {})) | dict(extra or {})
    save_model(targets[0], result.model.cpu(), extra=info)
    write_bytes(targets[1], Path(result.fit.history_path).read_bytes())
    return targets[0]
