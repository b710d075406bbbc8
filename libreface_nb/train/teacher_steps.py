"""Notebook 02 as one call per section, each taking the :class:`~.recipes.TeacherRecipe`.

:func:`datasets` → :func:`pretrain_mae` → :func:`finetune` → :func:`choose` → :func:`publish` →
:func:`evaluate_on_test` → :func:`metrics`. Figures stay in the notebook (this layer draws none).

Folders written, relative to the run folder (:mod:`libreface_nb.artifacts`):

===============  =========================================================================
``NB02/mae/``     MAE fit folder, ``encoder.pth`` (MAE key layout), ``history.jsonl``
``NB02/teacher/`` the run's teacher: fit folder and ``model.pt``, or (``teacher_choice =
                  "validation"``) ``model.pt`` + ``history.jsonl`` published from the pick
``NB02/mae_init/`` the MAE-initialised fine-tuning when there is a choice to make
``NB02/scratch/`` the fine-tuning from random weights (``compare_scratch``)
===============  =========================================================================

Randomness: every model is built right after ``torch.manual_seed(recipe.seed)`` (the MAE here,
the teachers in :func:`~.finetune.finetune_teacher`, the untrained baseline in
:func:`evaluate_on_test`), and :func:`~.loop.fit` reseeds torch, numpy and Python, so a step's
result does not depend on what ran before it. The choice between teachers reads the validation
metric only; the test subjects are read by :func:`evaluate_on_test` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from libreface_nb import artifacts
from libreface_nb.data.splits import RunData, load_run_data, make_datasets
from libreface_nb.train.finetune import (
    FinetuneResult,
    choose_on_validation,
    evaluate,
    finetune_teacher,
    publish_teacher,
)
from libreface_nb.train.loop import FitResult, fit
from libreface_nb.train.recipes import TeacherRecipe

#: Display names of the rows of :attr:`TeacherTest.rows`.
TEACHER, UNTRAINED, SCRATCH = "teacher (best epoch)", "untrained", "fine-tuned without MAE"


@dataclass
class TeacherData:
    """Notebook 01's fold (``data``) and its datasets, role (train/val/test) → FaceDataset."""

    data: RunData
    sets: dict[str, Any]


@dataclass
class MAEPretraining:
    """What :func:`pretrain_mae` did. Without pretraining only ``encoder_checkpoint`` is set
    (``mae_checkpoint``, or None for a random initialisation)."""

    encoder_checkpoint: Path | str | None
    model: Any = None  #: the trained :class:`~.mae.MAE`
    fit: FitResult | None = None
    faces: int = 0  #: faces pretrained on
    history_path: Path | None = None


@dataclass
class TeacherPick:
    """The run's teacher (``teacher``) and where it came from: ``source`` "mae" or "scratch"."""

    source: str
    teacher: FinetuneResult
    mae_init: FinetuneResult  #: the fine-tuning from the MAE encoder (or random, without MAE)
    scratch: FinetuneResult | None  #: from random weights, with ``compare_scratch``


@dataclass
class TeacherTest:
    """Test-subject metrics (:func:`~.finetune.evaluate` dicts) by row name, and the run's."""

    rows: dict[str, dict[str, Any]]
    run_teacher: dict[str, Any]

    def table(self, metric: str) -> Any:
        """A DataFrame, one row per model: ``metric``, ``loss`` and the per-output values."""
        import pandas as pd

        return pd.DataFrame({name: {metric: r[metric], "loss": r["loss"],
                                    **r.get("per_output", {})}
                             for name, r in self.rows.items()}).T  # fmt: skip


def datasets(recipe: TeacherRecipe, run_dir: str | Path, fold: str) -> TeacherData:
    """Notebook 01's ``fold`` of the run and a FaceDataset per role (training augmentations)."""
    data = load_run_data(run_dir, fold)
    sets = make_datasets(data, recipe.task, img_size=recipe.img_size, seed=recipe.seed,
                         augment=recipe.augment.kwargs())  # fmt: skip
    return TeacherData(data, sets)


def _mae_faces(recipe: TeacherRecipe, inputs: TeacherData, run: Path) -> Any:
    from libreface_nb.data.transforms import build_transform
    from libreface_nb.train.unlabeled import StoreFaces, faces_from_folder

    tf = build_transform("au", True, size=recipe.img_size)
    if recipe.mae_folder:
        store = run / artifacts.NB02_MAE / "faces"
        return faces_from_folder(recipe.mae_folder, store, tf, progress=recipe.progress)
    data = inputs.data
    keep = None if recipe.mae_faces == "all" else data.index.loc[data.roles == "train", "source"]
    return StoreFaces(data.store, tf, seed=recipe.seed,
                      sources=None if keep is None else keep.unique())  # fmt: skip


def pretrain_mae(recipe: TeacherRecipe, inputs: TeacherData, run: Path) -> MAEPretraining:
    """Pretrain an MAE on the run's faces (or ``mae_folder``) unless ``mae_checkpoint`` is given
    or ``pretrain_mae`` is off; validated on the validation subjects' faces (fixed masks)."""
    if not recipe.runs_mae:
        return MAEPretraining(recipe.mae_checkpoint or None)
    from libreface_nb.train.mae import MAE, MAEStep, save_mae_checkpoint

    faces = _mae_faces(recipe, inputs, run)
    torch.manual_seed(recipe.seed)
    mae = MAE(recipe.vit_size, recipe.img_size, class_token=recipe.class_token,
              decoder=recipe.mae_decoder, mask_ratio=recipe.mae_mask_ratio)  # fmt: skip
    step = MAEStep(mae, val_seed=recipe.seed)
    res = fit(step, faces, inputs.sets["val"], recipe.mae_fit_config(), run / artifacts.NB02_MAE)
    path = save_mae_checkpoint(run / artifacts.NB02_MAE_ENCODER, mae,
                               extra={"faces": len(faces), "epochs": len(res.history)})  # fmt: skip
    return MAEPretraining(path, mae, res, len(faces), run / artifacts.NB02_MAE_HISTORY)


def teacher_dir(recipe: TeacherRecipe, run: Path) -> Path:
    """Where :func:`finetune` trains: ``mae_init/`` when a choice follows, else ``teacher/``."""
    name = artifacts.NB02_MAE_INIT if recipe.choose_on_validation else artifacts.NB02_TEACHER
    return run / name


def finetune(
    recipe: TeacherRecipe, inputs: TeacherData, encoder_checkpoint: Path | str | None, run: Path
) -> FinetuneResult:
    """Fine-tune the teacher from ``encoder_checkpoint`` (None: random) in :func:`teacher_dir`."""
    extra = {"fold": inputs.data.fold, "dataset": inputs.data.dataset}
    return finetune_teacher(inputs.sets, recipe.task, recipe.model_config(), recipe.fit_config(),
                            teacher_dir(recipe, run), encoder_checkpoint=encoder_checkpoint,
                            extra=extra)  # fmt: skip


def choose(
    recipe: TeacherRecipe, inputs: TeacherData, mae_init: FinetuneResult, run: Path
) -> TeacherPick:
    """With ``compare_scratch``, fine-tune from random weights too; with ``teacher_choice =
    "validation"``, the better of the two on the validation subjects is the run's teacher."""
    scratch = None
    if recipe.compare_scratch:
        scratch = finetune_teacher(inputs.sets, recipe.task, recipe.model_config(),
                                   recipe.fit_config(), run / artifacts.NB02_SCRATCH)  # fmt: skip
    source = "mae"
    if recipe.choose_on_validation:
        source = choose_on_validation({"mae": mae_init, "scratch": scratch}, mode="max")
    teacher = scratch if source == "scratch" and scratch is not None else mae_init
    return TeacherPick(source, teacher, mae_init, scratch)


def publish(recipe: TeacherRecipe, pick: TeacherPick, run: Path) -> Path:
    """The run's ``teacher/model.pt``: written from the pick when there was a choice (with its
    ``teacher_source``), already there otherwise."""
    if recipe.choose_on_validation:
        extra = {"teacher_source": pick.source}
        return publish_teacher(pick.teacher, run / artifacts.NB02_TEACHER, extra=extra)
    return run / artifacts.NB02_TEACHER_MODEL


def evaluate_on_test(recipe: TeacherRecipe, inputs: TeacherData, pick: TeacherPick) -> TeacherTest:
    """Every teacher and an untrained one (same architecture, seeded) on the test subjects."""
    from libreface_nb.models.factory import create_model

    test, bs = inputs.sets["test"], recipe.batch_size
    rows = {TEACHER: evaluate(pick.mae_init.model, recipe.task, test, batch_size=bs)}
    torch.manual_seed(recipe.seed)
    untrained = create_model(recipe.model_config())
    rows[UNTRAINED] = evaluate(untrained, recipe.task, test, batch_size=bs)
    if pick.scratch is not None:
        rows[SCRATCH] = evaluate(pick.scratch.model, recipe.task, test, batch_size=bs)
    return TeacherTest(rows, rows[SCRATCH] if pick.source == "scratch" else rows[TEACHER])


def metrics(
    recipe: TeacherRecipe, inputs: TeacherData, mae: MAEPretraining, pick: TeacherPick,
    test: TeacherTest, run: Path,
) -> dict[str, Any]:  # fmt: skip
    """Notebook 02's ``metrics.json`` (see the notebook's last section)."""
    data, sets, m, mon = inputs.data, inputs.sets, recipe.metric, recipe.monitor
    out = {"task": recipe.task, "fold": data.fold, "dataset": data.dataset,
           "vit_size": recipe.vit_size, "img_size": recipe.img_size,
           "mae_pretrained": recipe.runs_mae,
           "encoder_checkpoint": str(mae.encoder_checkpoint or ""),
           "n_train": len(sets["train"]), "n_val": len(sets["val"]), "n_test": len(sets["test"]),
           "test_subjects": data.subjects("test"), "teacher_source": pick.source,
           "epochs_run": len(pick.teacher.fit.history), "best_epoch": pick.teacher.fit.best_epoch,
           mon: pick.teacher.fit.best, f"test_{m}": test.run_teacher[m],
           f"untrained_test_{m}": test.rows[UNTRAINED][m],
           "train_images_per_s": float(pick.mae_init.fit.history[-1]["images_per_s"]),
           "teacher_model": str(run / artifacts.NB02_TEACHER_MODEL)}  # fmt: skip
    if mae.fit is not None:
        first, best = mae.fit.history[0]["val_loss"], mae.fit.best
        out |= {"mae_val_loss_first": first, "mae_val_loss_best": best,
                "mae_epochs_run": len(mae.fit.history)}  # fmt: skip
    if pick.scratch is not None:
        out |= {f"scratch_test_{m}": test.rows[SCRATCH][m], f"scratch_{mon}": pick.scratch.fit.best,
                f"mae_init_test_{m}": test.rows[TEACHER][m],
                f"mae_init_{mon}": pick.mae_init.fit.best}  # fmt: skip
    return out
