"""LibreFace's released ResNet-18 students → a model ``predict`` runs (``.onnx`` or ``.pt``).

The file layout and key mapping are :mod:`libreface_nb.models.checkpoints`' (loaded strictly).
Which head is which comes from the file: ``classifier_2`` present → the joint student
(``intensity`` = DISFA intensities, ``detection`` = BP4D detections); one head with 8 outputs →
``expression``; one head with 12 outputs → ``intensity`` unless ``task="detection"`` is given
(the two 12-AU heads cannot be told apart by shape).

LibreFace's heads end in a sigmoid; here the activation of each task is applied to the values
before it (:mod:`libreface_nb.models.tasks`): intensities ``5·sigmoid`` and detections
``sigmoid`` are LibreFace's own outputs; for expressions this workbook's softmax replaces
LibreFace's per-class sigmoid, which keeps the predicted class (same argmax) and gives
probabilities that sum to 1.
"""

from __future__ import annotations

import logging
from pathlib import Path

from libreface_nb.config import INPUT_SIZE
from libreface_nb.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)


def libreface_tasks(sd: dict, task: str | None = None) -> tuple[str, ...]:
    """The tasks of a LibreFace student state dict (see the module docstring)."""
    if any(k.startswith("classifier_2.") for k in sd):
        return ("intensity", "detection")
    key = "classifier.4.weight"
    if key not in sd:
        raise CheckpointError(f"not a LibreFace student: no {key!r} (keys {sorted(sd)[:4]}…)")
    k = int(sd[key].shape[0])
    if k == 8:
        return ("expression",)
    if k != 12:
        raise CheckpointError(f"a LibreFace head with {k} outputs: expected 8 or 12")
    if task not in (None, "intensity", "detection"):
        raise ConfigError(f"a 12-output LibreFace head is 'intensity' or 'detection', not {task!r}")
    return (task or "intensity",)


def import_libreface(
    checkpoint: str | Path, out: str | Path, *, task: str | None = None, img_size: int = INPUT_SIZE
) -> Path:
    """Load a LibreFace student and write it as ``out`` (``…_fp32.onnx`` or a ``.pt`` model)."""
    from libreface_nb.models.checkpoints import load_libreface_student, read_state_dict
    from libreface_nb.models.factory import ModelConfig, create_model, save_model

    checkpoint, out = Path(checkpoint), Path(out)
    tasks = libreface_tasks(read_state_dict(checkpoint), task)
    model = create_model(ModelConfig(arch="resnet18", tasks=tasks, img_size=img_size))
    load_libreface_student(model, checkpoint)
    model.eval()
    if out.suffix == ".onnx":
        from libreface_nb.export.onnx import export_onnx

        return export_onnx(model, out, source=str(checkpoint))
    if out.suffix == ".pt":
        return save_model(
            out, model, extra={"imported_from": "libreface", "source": str(checkpoint)}
        )
    raise ConfigError(f"{out}: write the imported model as …_fp32.onnx or .pt")
