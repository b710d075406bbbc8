"""Notebook 03 as one call per section, each taking the :class:`~.recipes.StudentRecipe`.

:func:`load_inputs` → :func:`distill` → :func:`ablations` → :func:`evaluate_students` →
:func:`metrics`. Figures stay in the notebook (this layer draws none).

Folders written, relative to the run folder (:mod:`libreface_nb.artifacts`): ``NB03/student/``
(the distilled student: fit folder, ``model.pt``), ``NB03/ablations/<name>/`` (``none`` = no
distillation, then the recipe's ``ablations``), ``NB03/tables/comparison.csv`` (one row per model:
``model``, ``test_<metric>``, ``test_loss``, ``parameters``, ``best_epoch``, ``train_seconds``;
the teacher's last two empty).

Every student starts from the same seeded initialisation and sees the same batches
(:func:`~.distill.train_student` seeds torch before building it, :func:`~.loop.fit` reseeds), so
the students differ by their loss only, whatever order they are trained in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libreface_nb import artifacts, runs
from libreface_nb.data.splits import RunData, load_run_data, make_datasets
from libreface_nb.models.factory import FaceModel, count_parameters, load_model
from libreface_nb.tasks import TaskMetrics
from libreface_nb.train.distill import ABLATION_LABELS, StudentResult, train_student
from libreface_nb.train.finetune import evaluate
from libreface_nb.train.recipes import StudentRecipe


@dataclass
class StudentInputs(TaskMetrics):
    """The frozen teacher, the task, the fold and its datasets (role → FaceDataset)."""

    teacher: FaceModel
    teacher_path: Path
    task: str  #: the recipe's, or the teacher's when the recipe leaves it empty
    data: RunData
    datasets: dict[str, Any]
    teacher_test: dict[str, Any]  #: the teacher's test-subject metrics (``evaluate``)


@dataclass
class StudentComparison:
    """Test-subject metrics by model name (``teacher``, ``distilled``, ``none``…), their display
    labels and the comparison table written to ``comparison.csv``."""

    results: dict[str, dict[str, Any]]
    labels: dict[str, str]
    table: Any  #: pandas DataFrame


def load_inputs(recipe: StudentRecipe, run_dir: str | Path, fold: str) -> StudentInputs:
    """Notebook 02's teacher (eval mode), notebook 01's ``fold``, the students' datasets, and the
    teacher's metrics on the test subjects (at the teacher's own input size)."""
    teacher_path = runs.find_input(run_dir, artifacts.NB02_TEACHER_MODEL)
    teacher = load_model(teacher_path).eval()
    task = recipe.task or teacher.tasks[0]
    data = load_run_data(run_dir, fold)
    sets = make_datasets(data, task, img_size=recipe.img_size, seed=recipe.seed,
                         augment=recipe.augment.kwargs())  # fmt: skip
    teacher_test = sets["test"]
    if teacher.config.img_size != recipe.img_size:
        size = teacher.config.img_size
        teacher_test = make_datasets(data, task, img_size=size, roles=("test",))["test"]
    result = evaluate(teacher, task, teacher_test, batch_size=recipe.eval_batch_size)
    return StudentInputs(teacher, teacher_path, task, data, sets, result)


def _train(recipe: StudentRecipe, inputs: StudentInputs, ablation: str, out: Path) -> StudentResult:
    extra = {"fold": inputs.data.fold, "teacher": str(inputs.teacher_path),
             "img_size": recipe.img_size}  # fmt: skip
    return train_student(inputs.datasets, inputs.teacher, recipe.model_config(inputs.task),
                         recipe.distill_config(ablation), recipe.fit_config(inputs.task), out,
                         extra=extra, init=recipe.init)  # fmt: skip


def distill(recipe: StudentRecipe, inputs: StudentInputs, run: Path) -> StudentResult:
    """The distilled student (feature + KL, each weighted ``alpha``) in ``NB03/student/``."""
    return _train(recipe, inputs, "both", run / artifacts.NB03_STUDENT)


def ablations(recipe: StudentRecipe, inputs: StudentInputs, run: Path) -> dict[str, StudentResult]:
    """The comparison students, name → result: ``none`` and the recipe's ``ablations``."""
    return {name: _train(recipe, inputs, name, run / artifacts.NB03_ABLATIONS / name)
            for name in recipe.ablation_names}  # fmt: skip


def evaluate_students(
    recipe: StudentRecipe, inputs: StudentInputs, students: dict[str, StudentResult], run: Path
) -> StudentComparison:
    """Every student on the test subjects beside the teacher; writes ``comparison.csv``."""
    import pandas as pd

    from libreface_nb.atomic import write_text

    results = {"teacher": inputs.teacher_test}
    for name, s in students.items():
        results[name] = evaluate(s.model, inputs.task, inputs.datasets["test"],
                                 batch_size=recipe.eval_batch_size)  # fmt: skip
    labels = {"teacher": "teacher"} | {name: ABLATION_LABELS[name] for name in students}
    rows = []
    for name, r in results.items():
        s = students.get(name)
        rows.append({"model": labels[name], f"test_{inputs.metric}": r[inputs.metric],
                     "test_loss": r["loss"],
                     "parameters": count_parameters(inputs.teacher if s is None else s.model),
                     "best_epoch": None if s is None else s.fit.best_epoch,
                     "train_seconds": None if s is None else round(s.seconds, 1)})  # fmt: skip
    table = pd.DataFrame(rows)
    write_text(run / artifacts.NB03_COMPARISON, table.to_csv(index=False))
    return StudentComparison(results, labels, table)


def metrics(
    recipe: StudentRecipe, inputs: StudentInputs, students: dict[str, StudentResult],
    comparison: StudentComparison, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """Notebook 03's ``metrics.json`` (see the notebook's last section)."""
    best, m, res = students["distilled"], inputs.metric, comparison.results
    out = {"task": inputs.task, "fold": inputs.data.fold, "student_arch": recipe.student_arch,
           "img_size": recipe.img_size, "n_params_student": count_parameters(best.model),
           "best_epoch": best.fit.best_epoch, inputs.monitor: best.fit.best,
           f"test_{m}": res["distilled"][m], f"test_{m}_teacher": res["teacher"][m]}  # fmt: skip
    out |= {f"test_{m}_{name}": res[name][m] for name in recipe.ablation_names}
    out["seconds"] = seconds
    return out
