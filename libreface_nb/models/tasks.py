"""The three LibreFace tasks: their table (:mod:`libreface_nb.tasks`) and output activation.

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

import numpy as np

from libreface_nb.config import INTENSITY_MAX
from libreface_nb.tasks import TASKS, TaskSpec, get_task

__all__ = ["TASKS", "TaskSpec", "activate", "get_task"]


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
