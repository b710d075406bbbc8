"""The three LibreFace tasks as one table: outputs, label order, loss, activation, dataset target.

Facts: docs/libreface_facts.md §1 and §4. Pure data (config and errors only), so that data
preparation (:mod:`libreface_nb.data.splits`) reads which columns a task labels without importing
the models; :mod:`libreface_nb.models.tasks` adds the activations and re-exports this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from libreface_nb.config import BP4D_AUS, DISFA_AUS, EXPRESSIONS, au_names
from libreface_nb.errors import ConfigError


@dataclass(frozen=True)
class TaskSpec:
    """One task: what its head outputs and how it is trained and read."""

    name: str
    #: Output names in head order: AU columns (``AU01``…) or expression class names.
    outputs: tuple[str, ...]
    #: ``mse`` (on 5·sigmoid), ``bce`` (with logits, masked) or ``ce`` (ignore_index -1).
    loss: str
    #: ``intensity`` (5·sigmoid, clamped), ``sigmoid`` or ``softmax``.
    activation: str
    #: Validation metric used for early stopping and model selection (higher is better).
    monitor: str
    #: Dataset target kind (:class:`libreface_nb.data.dataset.FaceDataset` ``target``).
    target: str
    #: ONNX output name (LibreFace's .NET port: ``AUs`` for AU heads, ``FEs`` for expressions).
    onnx_output: str

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def metric(self) -> str:
        """The metric's name without the ``val_`` prefix (``pcc``…), as test tables name it."""
        return self.monitor.removeprefix("val_")


#: name → spec. Output orders: DISFA 12 AUs, BP4D 12 AUs, AffectNet-8 expressions.
#: Columns: name, outputs, loss, activation, monitor, dataset target, ONNX output name.
_DISFA, _BP4D = tuple(au_names(DISFA_AUS)), tuple(au_names(BP4D_AUS))
TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        TaskSpec(
            "intensity", tuple(au_names(DISFA_AUS)), "mse", "intensity", "val_pcc", "au", "AUs"
        ),
        TaskSpec("detection", _BP4D, "bce", "sigmoid", "val_f1", "au", "AUs"),
        TaskSpec("expression", EXPRESSIONS, "ce", "softmax", "val_accuracy", "expression", "FEs"),
    )
}


def get_task(name: str) -> TaskSpec:
    """The spec of task ``name``; a clear error listing the tasks otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; tasks are {sorted(TASKS)}") from None


class TaskMetrics:
    """``monitor`` and ``metric`` of an object's ``task`` (a base of the teacher recipe and of
    the students' inputs, whose ``task`` field it reads)."""

    task: str

    @property
    def monitor(self) -> str:
        """The validation metric training stops on: ``val_pcc``, ``val_f1``, ``val_accuracy``."""
        return get_task(self.task).monitor

    @property
    def metric(self) -> str:
        """The same without ``val_`` (``pcc``…), as test tables name it."""
        return get_task(self.task).metric
