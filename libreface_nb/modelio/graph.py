"""A FaceModel as a file holds it: activated outputs in task order, its metadata, its ONNX graph.

Imports torch (unlike the rest of :mod:`libreface_nb.modelio`): import it only where a torch
model is at hand. :func:`write_onnx` is the tracing step alone;
:func:`libreface_nb.export.onnx.export_onnx` adds provenance (run folder, git commit, training
data) and the file-name check, and :class:`libreface_nb.infer.pipeline.LibreFaceBackend` uses it
for throw-away ONNX Runtime graphs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from libreface_nb.errors import ConfigError
from libreface_nb.modelio.metadata import INPUT_NAME, ModelInfo
from libreface_nb.models.tasks import activate

OPSET = 17


class Activated(nn.Module):
    """``FaceModel`` → tuple of outputs in task order, activated (or raw) as exported."""

    def __init__(self, model: nn.Module, tasks: tuple[str, ...], activated: bool = True) -> None:
        super().__init__()
        self.model, self.tasks, self.activated = model, tuple(tasks), activated

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(image)
        return tuple(activate(t, out[t]) if self.activated else out[t] for t in self.tasks)


def model_info(model: nn.Module, **kwargs: Any) -> ModelInfo:
    """The :class:`ModelInfo` of a FaceModel from its ``config`` (tasks, img_size, the rest)."""
    cfg = getattr(model, "config", None)
    if cfg is None or not hasattr(cfg, "tasks"):
        raise ConfigError("the model has no .config with .tasks: build it with create_model()")
    config = cfg.to_dict() if hasattr(cfg, "to_dict") else {}
    kwargs.setdefault("input_size", int(getattr(cfg, "img_size", 224)))
    return ModelInfo.for_tasks(tuple(cfg.tasks), model_config=config, **kwargs)


def set_metadata(onnx_model: Any, info: ModelInfo) -> None:
    """Replace an ``onnx.ModelProto``'s metadata_props with ``info``."""
    del onnx_model.metadata_props[:]
    for key, value in info.to_props().items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value


def write_onnx(model: nn.Module, path: str | Path, info: ModelInfo, opset: int = OPSET) -> Path:
    """Trace ``model`` (put in eval mode, CPU; its mode is restored) to ``path`` with ``info``.

    Outputs are activated in the graph when ``info.activation_applied``; the batch axis is
    dynamic; the file passes ``onnx.checker.check_model``. Writes ``path`` directly: callers that
    need an atomic file pass a temporary path.
    """
    import onnx

    wrapper = Activated(model, info.tasks, info.activation_applied).eval().cpu()
    was_training = model.training
    model.eval()
    dummy = torch.zeros(2, 3, info.input_size, info.input_size)
    axes = {name: {0: "N"} for name in (INPUT_NAME, *info.outputs)}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "legacy exporter": chosen
            # timm's shape asserts are constants for a fixed input size; parity checks it.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                wrapper, (dummy,), str(path), input_names=[INPUT_NAME],
                output_names=list(info.outputs), dynamic_axes=axes, opset_version=opset,
                dynamo=False,
            )  # fmt: skip
        proto = onnx.load(str(path))
        set_metadata(proto, info)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(path))
    finally:
        model.train(was_training)
    return Path(path)
