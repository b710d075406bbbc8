"""What an exported model file says about itself: the ONNX ``metadata_props`` contract.

One ``…_fp32.onnx`` / ``…_int8.onnx`` file is a complete model: :func:`libreface_nb.predict`
needs nothing else. The graph has one input and one output per task:

- input ``image``: float32 ``[N, 3, S, S]`` (N dynamic), RGB, ImageNet-normalized, S =
  ``input_size``;
- outputs, in task order, named as LibreFace's .NET port expects (LIBREFACE_FACTS §9):
  ``AUs`` for an AU head (``intensity`` or ``detection``), ``FEs`` for expressions. The joint
  student (``("intensity", "detection")``) has ``AUs`` = intensities (DISFA order) and ``AUs_c``
  = detection probabilities (BP4D order). Every output is float32 ``[N, K]``.

Outputs are *activated* inside the graph (``activation_applied = "1"``): intensities are
``clamp(5·sigmoid(raw), 0, 5)``, detections ``sigmoid(raw)``, expressions ``softmax(raw)``
(:func:`libreface_nb.models.tasks.activate`). LibreFace's .NET port expects ``AUs`` as a sigmoid
and multiplies by 5 itself: with these files it must skip that step (intensities are already 0–5).

Metadata keys (all values are strings; JSON where marked):

========================  ==============================================================
``format``                ``libreface_nb.onnx/1``
``tasks``                 JSON list of task names, head order
``outputs``               JSON list of output names, same order as ``tasks``
``labels``                JSON {output name: list of column labels (``AU01``… / classes)}
``activations``           JSON {output name: ``intensity`` | ``sigmoid`` | ``softmax``}
``activation_applied``    ``"1"`` (activated in the graph) or ``"0"`` (raw head outputs)
``input_name``            ``image``
``input_size``            S, e.g. ``224`` (``112`` on CPU profiles)
``aligned_size``          side of the aligned face the crop is taken from (``256``)
``transform``             ``au``: resize the aligned face to round(S·256/224), centre crop S;
                          ``fer``: resize the aligned face to S×S
``alignment``             ``libreface_quad/<method>/<border>``: how the model's faces were
                          aligned (:func:`libreface_nb.faces.align.align_face`), e.g.
                          ``libreface_quad/fast/constant``; files written before the border
                          was recorded say ``libreface_quad/fast``, which means the mirror fill
``mean`` / ``std``        JSON lists, ImageNet RGB normalization applied after scaling to [0, 1]
``precision``             ``fp32`` or ``int8`` (static QDQ, per channel)
``source``                the checkpoint file it was exported from ("" when unknown)
``run_dir``               the run folder it came from ("" when none)
``git_sha``               commit of the workbook that exported it, ``+dirty`` when modified
``model_config``          JSON of :class:`libreface_nb.models.factory.ModelConfig` ({} if none)
``calibration``           JSON {faces, method} for int8 files ({} for fp32)
``training_data``         what the weights were trained on: ``SynthAU`` (this workbook's
                          synthetic fixtures), else the provider dataset notebook 01 read
                          (``disfa``…); ``""`` when unknown: imported LibreFace weights, an
                          export without its run folder, files written before this key
========================  ==============================================================

``predict`` prints that a model is for teaching only when ``training_data`` is ``SynthAU``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from libreface_nb.config import ALIGNED_SIZE, IMAGENET_MEAN, IMAGENET_STD, INPUT_SIZE
from libreface_nb.errors import CheckpointError, ConfigError
from libreface_nb.models.tasks import get_task

FORMAT = "libreface_nb.onnx/1"
#: The workbook's default alignment (fast warp, LibreFace's dark fill beyond the frame edge).
DEFAULT_ALIGNMENT = "libreface_quad/fast/constant"
INPUT_NAME = "image"
PRECISIONS = ("fp32", "int8")
#: ``training_data`` of a model trained on this workbook's synthetic faces.
SYNTHAU = "SynthAU"
#: Task → output name when the model also has the other AU head (the joint student).
JOINT_NAMES = {"intensity": "AUs", "detection": "AUs_c"}
_JSON_KEYS = ("tasks", "outputs", "labels", "activations", "mean", "std", "model_config")
_JSON_KEYS += ("calibration",)


def output_names(tasks: tuple[str, ...] | list[str]) -> list[str]:
    """ONNX output names for a model's tasks, in task order (see the module docstring)."""
    joint = {"intensity", "detection"} <= set(tasks)
    names = [
        JOINT_NAMES[t] if joint and t in JOINT_NAMES else get_task(t).onnx_output for t in tasks
    ]
    if len(set(names)) != len(names):
        raise ConfigError(f"tasks {list(tasks)} give duplicate ONNX output names {names}")
    return names


def transform_kind(tasks: tuple[str, ...] | list[str]) -> str:
    """``fer`` (resize) for an expression-only model, else ``au`` (centre crop)."""
    return "fer" if list(tasks) == ["expression"] else "au"


@dataclass(frozen=True)
class ModelInfo:
    """Everything inference needs to run an exported model (see the module docstring)."""

    tasks: tuple[str, ...]
    outputs: tuple[str, ...]
    labels: dict[str, list[str]]
    activations: dict[str, str]
    input_size: int = INPUT_SIZE
    aligned_size: int = ALIGNED_SIZE
    transform: str = "au"
    alignment: str = DEFAULT_ALIGNMENT
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    activation_applied: bool = True
    precision: str = "fp32"
    input_name: str = INPUT_NAME
    source: str = ""
    run_dir: str = ""
    git_sha: str = ""
    model_config: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    training_data: str = ""

    @classmethod
    def for_tasks(cls, tasks: tuple[str, ...] | list[str], **kwargs: Any) -> ModelInfo:
        """The info of a model with these heads; other fields from ``kwargs``."""
        tasks = tuple(tasks)
        if not tasks:
            raise ConfigError("a model needs at least one task")
        names = output_names(tasks)
        specs = [get_task(t) for t in tasks]
        return cls(
            tasks=tasks,
            outputs=tuple(names),
            labels={n: list(s.outputs) for n, s in zip(names, specs, strict=True)},
            activations={n: s.activation for n, s in zip(names, specs, strict=True)},
            transform=kwargs.pop("transform", transform_kind(tasks)),
            **kwargs,
        )

    @property
    def synthetic(self) -> bool:
        """Trained on SynthAU: for teaching, not for science on real faces."""
        return self.training_data == SYNTHAU

    def task_of(self, output: str) -> str:
        """The task whose head gives ``output``."""
        return self.tasks[self.outputs.index(output)]

    def with_precision(self, precision: str, **kwargs: Any) -> ModelInfo:
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        return replace(self, precision=precision, **kwargs)

    def to_props(self) -> dict[str, str]:
        """The ONNX ``metadata_props`` (string → string)."""
        out = {"format": FORMAT}
        for key, value in asdict(self).items():
            if key in _JSON_KEYS:
                out[key] = json.dumps(list(value) if isinstance(value, tuple) else value)
            elif isinstance(value, bool):
                out[key] = "1" if value else "0"
            else:
                out[key] = str(value)
        out["activation_applied"] = "1" if self.activation_applied else "0"
        return out

    @classmethod
    def from_props(cls, props: dict[str, str], where: str = "the model") -> ModelInfo:
        """Parse ``metadata_props``; a clear error for files not exported by this workbook."""
        if props.get("format") != FORMAT:
            raise CheckpointError(
                f"{where}: no libreface_nb metadata (format={props.get('format')!r}); export it "
                "with `libreface-nb export CHECKPOINT --out DIR` or libreface_nb.export.onnx"
            )
        kw: dict[str, Any] = {}
        for key in cls.__dataclass_fields__:
            if key not in props:
                continue
            raw = props[key]
            if key in _JSON_KEYS:
                kw[key] = json.loads(raw)
            elif key == "activation_applied":
                kw[key] = raw == "1"
            elif key in ("input_size", "aligned_size"):
                kw[key] = int(raw)
            else:
                kw[key] = raw
        kw["tasks"], kw["outputs"] = tuple(kw["tasks"]), tuple(kw["outputs"])
        return cls(**kw)


def alignment_options(info: Any) -> dict[str, Any]:
    """:func:`~libreface_nb.faces.align.align_face` keywords (method, border, transform_size)
    for the faces of a model whose ``alignment`` metadata is ``info.alignment``: a missing
    border (files written before it was recorded) is the mirror fill, ``reflect``."""
    parts = str(getattr(info, "alignment", "")).split("/")
    method = "reference" if "reference" in parts[1:2] else "fast"
    opts: dict[str, Any] = {"method": method}
    opts["border"] = "constant" if "constant" in parts[2:] else "reflect"
    if method == "reference":
        opts["transform_size"] = int(info.aligned_size)  # quad straight to the output size
    return opts
