"""The three LibreFace tasks as one table: outputs, label order, loss and output activation.

Facts: docs/libreface_facts.md §1 and §4. Every head returns *raw* outputs (pre-activation):
``intensity`` raw values become intensities with ``5·sigmoid`` (clamped to [0, 5]) and are trained
with MSE on the 0–5 scale; ``detection`` raw values are logits, trained with BCE-with-logits
(unknown labels masked) and turned into probabilities with a sigmoid (present if ≥ 0.5);
``expression`` raw values are logits over :data:`libreface_nb.config.EXPRESSIONS`, trained with
cross-entropy (target -1 = unknown, ignored) and turned into probabilities with a softmax.
LibreFace's own detection and FER heads end in a sigmoid *and* are trained with losses that apply
one again (double squashing, §5); here the activation is applied once, outside the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from libreface_nb.config import BP4D_AUS, DISFA_AUS, EXPRESSIONS, INTENSITY_MAX, au_names
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


def activate(task: str | TaskSpec, raw):
    """Raw head outputs → task space (intensities 0–5, probabilities); torch or numpy."""
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if isinstance(raw, np.ndarray):
        if spec.activation == "softmax":
            z = raw - raw.max(axis=-1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=-1, keepdims=True)
        sig = 1.0 / (1.0 + np.exp(-raw))
        if spec.activation == "intensity":
            return np.clip(INTENSITY_MAX * sig, 0.0, INTENSITY_MAX)
        return sig
    import torch

    if spec.activation == "softmax":
        return torch.softmax(raw, dim=-1)
    if spec.activation == "intensity":
        return (INTENSITY_MAX * torch.sigmoid(raw)).clamp(0.0, INTENSITY_MAX)
    return torch.sigmoid(raw)
