"""Import weights from local checkpoint files made elsewhere: MAE, timm, LibreFace.

Nothing is downloaded; every file is read with ``torch.load(weights_only=True)``. A wrapper dict
``{"model": sd}`` (facebookresearch MAE, LibreFace), ``{"state_dict": sd}`` or ``{"module": sd}``
is unwrapped, and a DDP ``module.`` prefix is stripped. Every import returns an
:class:`ImportReport` (loaded / missing / unexpected / ignored keys, notes) and logs it.

**ViT encoders** (:func:`load_vit_encoder`, into the teacher's ``encoder``), key layouts:

| layout          | keys in the file                                                        |
|-----------------|-------------------------------------------------------------------------|
| MAE (official)  | ``cls_token`` [1,1,D], ``pos_embed`` [1,1+L,D], ``patch_embed.proj.*``, |
|                 | ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*``, ``norm.*``; |
|                 | ignored: ``mask_token``, ``decoder_embed``, ``decoder_blocks``,          |
|                 | ``decoder_norm``, ``decoder_pred``, ``decoder_pos_embed``                |
| timm ViT        | the same names; ignored: ``head.*``, ``fc_norm.*`` (norm after pooling)  |
| LibreFace MAE   | assumed VideoMAE layout (the facts sheet only says "VideoMAE-style: no   |
| (assumption)    | CLS token, fixed sin-cos positions"): optional ``encoder.`` prefix, the  |
|                 | timm block names, ``attn.q_bias``/``attn.v_bias`` instead of             |
|                 | ``attn.qkv.bias`` (k bias = 0), no ``cls_token``, ``pos_embed`` absent    |
|                 | or [1,L,D]; ignored: ``decoder.*``, ``encoder_to_decoder.*``,            |
|                 | ``mask_token``                                                           |

Positions: a CLS slot is dropped (model without CLS token) or added as zeros (model with one);
a different grid is resized bicubically (CLS slot kept); a model with fixed sin-cos positions
keeps its own (the file's are reported, with their largest difference). A file whose embed width,
patch size or depth differs from the model's is refused, naming both.

**LibreFace's released students** (:func:`load_libreface_student`), loaded strictly:

| file key (``{"model": sd}``) | model key                                  |
|------------------------------|--------------------------------------------|
| ``encoder.0.*``              | ``encoder.conv1.*``                        |
| ``encoder.1.*``              | ``encoder.bn1.*``                          |
| ``encoder.4.*`` … ``.7.*``   | ``encoder.layer1.*`` … ``encoder.layer4.*`` |
| ``classifier.{0,2,4}.*``     | ``heads.<tasks[0]>.{0,2,4}.*``             |
| ``classifier_2.{0,2,4}.*``   | ``heads.<tasks[1]>.{0,2,4}.*`` (joint)      |

LibreFace's heads end in a Sigmoid (no weights): the raw outputs here are the values before it.

LibreFace 0.2.0 also loads RepVGG-A0 students (timm ``repvgg_a0`` whose classifier ``head.fc``
is replaced by ``Sequential(head.fc, Linear(1000 → 512))``, then the same 512 → 128 → K head):

| file key (``{"model": sd}``)        | model key (``repvgg_a0``, ``encoder_classes=1000``) |
|-------------------------------------|-----------------------------------------------------|
| ``encoder.head.fc.0.*`` [1000, 1280] | ``encoder.head.fc.*`` (timm's ImageNet classifier)  |
| ``encoder.head.fc.1.*`` [512, 1000]  | ``neck.*``                                          |
| ``encoder.<timm key>``               | ``encoder.<timm key>`` (``stem.*``, ``stages.*``)   |
| ``classifier.{0,2,4}.*``             | ``heads.<task>.{0,2,4}.*``                          |

The timm keys are those of timm 1.0's ``repvgg_a0`` before re-parameterisation (``conv_kxk``,
``conv_1x1``, ``identity`` branches); LibreFace 0.2.0 pins timm 1.0.9.

**Every model LibreFace 0.2.0 loads** (its ``inference.py`` files; paths under its weights
folder, ``weights_libreface/`` by default), with the architecture its code builds for each file
and the activation it applies (:data:`LIBREFACE_FILES`, :func:`libreface_weights`):

| file (under the weights folder)                     | built as  | heads                  |
|-----------------------------------------------------|-----------|------------------------|
| ``AU_Recognition/weights/combined_resnet.pt``       | ResNet-18 | intensity + detection  |
| ``AU_Recognition/weights/combined_repvgg.pt``       | ResNet-18 | intensity + detection  |
| ``AU_Recognition/weights/repvgg.pt``                | ResNet-18 | intensity              |
| ``AU_Recognition/weights/resnet.pt``                | ResNet-18 | intensity              |
| ``AU_Detection/weights/repvgg.pt``                  | RepVGG-A0 | detection              |
| ``Facial_Expression_Recognition/weights/repvgg.pt`` | RepVGG-A0 | expression (8 classes) |

The joint files are LibreFace's default ``model_choice`` (``combined_resnet.pt`` on its image
path, ``combined_repvgg.pt``, a ResNet-18 despite its name, on its video path); the intensity
files are its ``separate_prediction_heads`` choice (``repvgg.pt`` for images, ``resnet.pt`` for
videos, both built as ResNet-18), with the detection RepVGG.

Activations and decisions, LibreFace's → here: intensity ``clamp(5·sigmoid, 0, 5)`` → the same;
the ResNet detection head's ``sigmoid ≥ 0.5`` → the same; the RepVGG detection head has **no**
Sigmoid and LibreFace thresholds its raw output at 0.5 (i.e. a probability of sigmoid(0.5) ≈
0.622): on import the head's last bias is lowered by :data:`REPVGG_DETECTION_OFFSET` (0.5), so
that ``sigmoid(raw) ≥ 0.5`` here is exactly LibreFace's decision (the ``AU…_prob`` columns are
then ``sigmoid(raw_LibreFace − 0.5)``; the import report says so); the expression head ends in a
per-class Sigmoid and LibreFace takes the argmax: here a softmax over the same raw values (same
argmax, LIBREFACE_FACTS §1 class order).

**CNN encoders** (:func:`load_cnn_encoder`): a timm or torchvision state dict with timm's key
names (torchvision's ResNets share them: ``conv1``, ``bn1``, ``layer1``…), e.g. ImageNet
weights a user keeps locally (LibreFace initialises its student from torchvision's ImageNet
ResNet-18, timm tag ``resnet18.tv_in1k``); the classifier ``fc.*`` is ignored and reported.
:func:`load_student_init` picks between the two student layouts.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from libreface_nb.errors import CheckpointError
from libreface_nb.models.factory import FaceModel, read_checkpoint

log = logging.getLogger(__name__)

#: embed width → the usual ViT name, for messages.
VIT_NAMES = {192: "ViT-Ti", 384: "ViT-S", 768: "ViT-B", 1024: "ViT-L", 1280: "ViT-H"}
#: Keys of MAE / VideoMAE decoders and classifier heads: never loaded into an encoder.
_IGNORED = re.compile(
    r"^(mask_token|decoder_\w+|decoder\..*|encoder_to_decoder\..*|head\..*|fc_norm\..*)"
)
_STUDENT_ENCODER = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3"}
_STUDENT_ENCODER["7"] = "layer4"


@dataclass
class ImportReport:
    """What an import did: keys loaded, model keys missing, file keys unused, notes."""

    path: str
    layout: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.path} ({self.layout}): {len(self.loaded)} tensors loaded"]
        for name in ("missing", "unexpected", "ignored"):
            keys = getattr(self, name)
            if keys:
                shown = ", ".join(keys[:8]) + (f" … (+{len(keys) - 8})" if len(keys) > 8 else "")
                parts.append(f"{len(keys)} {name}: {shown}")
        return "; ".join(parts + self.notes)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped from ``model``/``state_dict``/``module``."""
    path = Path(path)
    ckpt = read_checkpoint(path)
    for key in ("model", "state_dict", "module"):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    if not isinstance(ckpt, dict) or not ckpt:
        raise CheckpointError(f"{path}: no state dict inside (found {type(ckpt).__name__})")
    sd = {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise CheckpointError(f"{path}: the dict holds no tensors; keys {sorted(ckpt)[:8]}")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


# --- ViT encoders --------------------------------------------------------------------------


def _vit_name(dim: int) -> str:
    return f"{VIT_NAMES.get(dim, 'ViT')} {dim}"


def _depth(keys: Any) -> int:
    idx = [int(m.group(1)) for k in keys if (m := re.match(r"blocks\.(\d+)\.", k))]
    return max(idx) + 1 if idx else 0


def _check_vit(path: Path, sd: dict[str, torch.Tensor], enc: nn.Module) -> None:
    w = sd.get("patch_embed.proj.weight")
    if w is None:
        raise CheckpointError(
            f"{path}: no patch_embed.proj.weight; not a ViT encoder (keys {sorted(sd)[:6]} …)"
        )
    mw = enc.patch_embed.proj.weight
    if w.ndim != 4:
        raise CheckpointError(
            f"{path}: patch embedding of shape {list(w.shape)} (a video encoder?); "
            "only image encoders with a 2-D patch embedding load"
        )
    if w.shape[0] != mw.shape[0]:
        name = VIT_NAMES.get(w.shape[0], "ViT")
        raise CheckpointError(
            f"{path}: embed dim {w.shape[0]} ({name}) in file, model is "
            f"{_vit_name(mw.shape[0])}; set vit_size to match the file"
        )
    if w.shape[2:] != mw.shape[2:]:
        raise CheckpointError(
            f"{path}: patch size {list(w.shape[2:])} in file, model has {list(mw.shape[2:])}"
        )
    depth, model_depth = _depth(sd), len(enc.blocks)
    if depth != model_depth:
        raise CheckpointError(f"{path}: depth {depth} in file, model has {model_depth} blocks")


def _resize_grid(pos: torch.Tensor, grid: int) -> torch.Tensor:
    """``pos [1, g², D]`` → ``[1, grid², D]`` by bicubic interpolation on the 2-D grid."""
    g, dim = math.isqrt(pos.shape[1]), pos.shape[2]
    img = pos.reshape(1, g, g, dim).permute(0, 3, 1, 2).float()
    img = nn.functional.interpolate(img, size=(grid, grid), mode="bicubic", align_corners=False)
    return img.permute(0, 2, 3, 1).reshape(1, grid * grid, dim).to(pos.dtype)


def adapt_pos_embed(
    pos: torch.Tensor, file_prefix: int, model_prefix: int, grid: int, notes: list[str]
) -> torch.Tensor:
    """A file's ``pos_embed [1, P + g², D]`` for a model with ``model_prefix`` CLS slots and
    a ``grid × grid`` patch grid (CLS slot kept, dropped or zero-filled; grid bicubic)."""
    prefix, patches = pos[:, :file_prefix], pos[:, file_prefix:]
    g = math.isqrt(patches.shape[1])
    if g * g != patches.shape[1]:
        raise CheckpointError(f"pos_embed has {patches.shape[1]} patch positions, not a square")
    if g != grid:
        patches = _resize_grid(patches, grid)
        notes.append(f"pos_embed resized bicubically from a {g}×{g} to a {grid}×{grid} grid")
    if model_prefix and not file_prefix:
        prefix = pos.new_zeros(1, 1, pos.shape[2])
        notes.append("pos_embed: no CLS slot in file, zeros used")
    elif file_prefix and not model_prefix:
        prefix = pos[:, :0]
        notes.append("pos_embed: CLS slot dropped (model has no CLS token)")
    return torch.cat([prefix, patches], dim=1)


def _map_vit_keys(sd: dict[str, torch.Tensor], report: ImportReport) -> dict[str, torch.Tensor]:
    """VideoMAE-style names (``encoder.`` prefix, q/v biases) → timm names; decoders dropped."""
    if any(k.startswith("encoder.patch_embed.") for k in sd):
        report.layout = "libreface-mae (VideoMAE names)"
        sd = {(k[len("encoder.") :] if k.startswith("encoder.") else k): v for k, v in sd.items()}
    out: dict[str, torch.Tensor] = {}
    n_qv = 0
    for k, v in sd.items():
        if _IGNORED.match(k):
            report.ignored.append(k)
        elif k.endswith(".attn.q_bias"):
            stem = k[: -len("q_bias")]
            v_bias = sd.get(stem + "v_bias")
            if v_bias is None:
                raise CheckpointError(f"{report.path}: {k} without {stem}v_bias")
            out[stem + "qkv.bias"] = torch.cat([v, torch.zeros_like(v), v_bias])
            n_qv += 1
        elif not k.endswith(".attn.v_bias"):
            out[k] = v
    if n_qv:
        report.notes.append(f"attn.q_bias/v_bias of {n_qv} blocks → attn.qkv.bias (k bias 0)")
    if report.layout == "mae/timm":
        decoder = any(k == "mask_token" or k.startswith("decoder_") for k in report.ignored)
        report.layout = "mae" if decoder else "timm"
    return out


def _encoder_of(model: nn.Module) -> nn.Module:
    enc = model.encoder if isinstance(model, FaceModel) else model
    if not hasattr(enc, "patch_embed") or not hasattr(enc, "blocks"):
        raise CheckpointError(f"{type(enc).__name__} is not a ViT encoder; use a vit FaceModel")
    return enc


def _positions(sd: dict[str, torch.Tensor], enc: nn.Module, report: ImportReport) -> None:
    """Fit the file's CLS token and positions to the model (in place on ``sd``)."""
    model_prefix = 1 if getattr(enc, "cls_token", None) is not None else 0
    file_prefix = 1 if "cls_token" in sd else 0
    if file_prefix and not model_prefix:
        del sd["cls_token"]
        report.ignored.append("cls_token")
        report.notes.append("cls_token dropped (model has no CLS token)")
    fixed = not enc.pos_embed.requires_grad
    if "pos_embed" not in sd:
        if not fixed:
            report.missing.append("pos_embed")
        return
    grid = enc.patch_embed.grid_size[0]
    pos = adapt_pos_embed(sd.pop("pos_embed"), file_prefix, model_prefix, grid, report.notes)
    if not fixed:
        sd["pos_embed"] = pos
        return
    diff = (pos - enc.pos_embed.detach()).abs().max().item()
    report.ignored.append("pos_embed")
    report.notes.append(f"model keeps its fixed sin-cos positions (max |file - model| {diff:.3g})")


def load_vit_encoder(model: nn.Module, path: str | Path, *, strict: bool = False) -> ImportReport:
    """Load an MAE / timm / LibreFace-MAE ViT checkpoint into ``model``'s ViT encoder.

    Args:
        model: a ``vit`` :class:`FaceModel` (its ``encoder`` is filled) or a bare encoder.
        path: local checkpoint file.
        strict: raise :class:`CheckpointError` if any encoder key stays missing.

    Returns:
        The :class:`ImportReport`; ``missing`` never lists a fixed (frozen) ``pos_embed``.
    """
    path = Path(path)
    enc = _encoder_of(model)
    report = ImportReport(str(path), "mae/timm")
    sd = _map_vit_keys(read_state_dict(path), report)
    _check_vit(path, sd, enc)
    _positions(sd, enc, report)
    target = enc.state_dict()
    mismatched = [
        f"{k} {list(v.shape)} in file, {list(target[k].shape)} in model"
        for k, v in sd.items()
        if k in target and v.shape != target[k].shape
    ]
    if mismatched:
        raise CheckpointError(f"{path}: shapes differ: " + "; ".join(mismatched[:5]))
    report.unexpected = sorted(k for k in sd if k not in target)
    load = {k: v for k, v in sd.items() if k in target}
    done = set(load) | set(report.missing) | {"pos_embed"}
    report.missing += sorted(k for k in target if k not in done)
    if strict and report.missing:
        raise CheckpointError(f"{path}: encoder keys missing: {report.missing[:10]}")
    enc.load_state_dict(load, strict=False)
    report.loaded = sorted(load)
    log.info("ViT import: %s", report.summary())
    return report


# --- LibreFace students --------------------------------------------------------------------


#: The two student architectures of LibreFace's released files → a key only that layout has.
LIBREFACE_ARCHS = {"resnet18": "encoder.0.weight", "repvgg_a0": "encoder.stem.conv_kxk.conv.weight"}
#: LibreFace's RepVGG-A0 neck: timm's 1000-way classifier, then Linear(1000 → 512).
REPVGG_CLASSES = 1000
#: LibreFace 0.2.0's AU_Detection RepVGG head has no Sigmoid and its code keeps ``raw ≥ 0.5``:
#: this is subtracted from the imported head's last bias so that ``sigmoid ≥ 0.5`` decides alike.
REPVGG_DETECTION_OFFSET = 0.5
_REPVGG_NECK = {"encoder.head.fc.0.": "encoder.head.fc.", "encoder.head.fc.1.": "neck."}

#: LibreFace 0.2.0's weight files (relative to its weights folder) → (architecture, tasks).
LIBREFACE_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AU_Recognition/weights/combined_resnet.pt": ("resnet18", ("intensity", "detection")),
    "AU_Recognition/weights/combined_repvgg.pt": ("resnet18", ("intensity", "detection")),
    "AU_Recognition/weights/resnet.pt": ("resnet18", ("intensity",)),
    "AU_Recognition/weights/repvgg.pt": ("resnet18", ("intensity",)),
    "AU_Detection/weights/repvgg.pt": ("repvgg_a0", ("detection",)),
    "Facial_Expression_Recognition/weights/repvgg.pt": ("repvgg_a0", ("expression",)),
}
#: LibreFace's ``model_choice`` → its files in the order tried (its image path's file first).
LIBREFACE_CHOICES = {
    "joint": (
        "AU_Recognition/weights/combined_resnet.pt",
        "AU_Recognition/weights/combined_repvgg.pt",
    ),
    "separate": (
        "AU_Recognition/weights/repvgg.pt",
        "AU_Recognition/weights/resnet.pt",
        "AU_Detection/weights/repvgg.pt",
    ),
}
LIBREFACE_FER = "Facial_Expression_Recognition/weights/repvgg.pt"


def libreface_arch(sd: dict[str, torch.Tensor]) -> str:
    """``"resnet18"`` or ``"repvgg_a0"``: the student layout of a LibreFace state dict."""
    for arch, key in LIBREFACE_ARCHS.items():
        if key in sd:
            return arch
    raise CheckpointError(
        f"not a LibreFace student: none of {sorted(LIBREFACE_ARCHS.values())} "
        f"(keys {sorted(sd)[:4]} …)"
    )


def libreface_student_tasks(
    sd: dict[str, torch.Tensor], task: str | None = None
) -> tuple[str, ...]:
    """The tasks of a LibreFace student state dict.

    ``classifier_2`` → the joint ``("intensity", "detection")``; 8 outputs → ``expression``;
    12 outputs → ``task`` if given, else ``intensity`` for a ResNet and ``detection`` for a
    RepVGG (the only 12-output files LibreFace 0.2.0 builds as each).
    """
    if any(k.startswith("classifier_2.") for k in sd):
        return ("intensity", "detection")
    key = "classifier.4.weight"
    if key not in sd:
        raise CheckpointError(f"not a LibreFace student: no {key!r} (keys {sorted(sd)[:4]} …)")
    k = int(sd[key].shape[0])
    if k == 8:
        return ("expression",)
    if k != 12:
        raise CheckpointError(f"a LibreFace head with {k} outputs: expected 8 or 12")
    if task not in (None, "intensity", "detection"):
        raise CheckpointError(f"a 12-output LibreFace head is intensity or detection, not {task!r}")
    return (task or ("detection" if libreface_arch(sd) == "repvgg_a0" else "intensity"),)


def map_libreface_student(
    sd: dict[str, torch.Tensor], tasks: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """LibreFace student keys → :class:`FaceModel` keys (tables in the module docstring)."""
    heads = {"classifier": tasks[0]}
    if len(tasks) > 1:
        heads["classifier_2"] = tasks[1]
    repvgg = libreface_arch(sd) == "repvgg_a0"
    out = {}
    for k, v in sd.items():
        head, _, rest = k.partition(".")
        if head == "encoder" and repvgg:
            prefix = next((p for p in _REPVGG_NECK if k.startswith(p)), None)
            out[_REPVGG_NECK[prefix] + k[len(prefix) :] if prefix else k] = v
        elif head == "encoder":
            idx, _, tail = rest.partition(".")
            if idx not in _STUDENT_ENCODER:
                raise CheckpointError(f"unknown encoder index in key {k!r}")
            out[f"encoder.{_STUDENT_ENCODER[idx]}.{tail}"] = v
        elif head in heads:
            out[f"heads.{heads[head]}.{rest}"] = v
        else:
            raise CheckpointError(f"unexpected key {k!r} (not encoder.N / classifier[_2].N)")
    return out


def _fits_libreface(model: FaceModel) -> str | None:
    """The LibreFace layout ``model`` can take, or None."""
    cfg = model.config
    if cfg.arch == "repvgg_a0" and cfg.encoder_classes == REPVGG_CLASSES:
        return "repvgg_a0"
    if hasattr(model.encoder, "layer4") and not cfg.encoder_classes:
        return "resnet18"
    return None


def load_libreface_student(model: FaceModel, path: str | Path) -> ImportReport:
    """Load one of LibreFace's released students into ``model``, strictly.

    ``model``: a timm ResNet :class:`FaceModel` (ResNet-18 files) or a ``repvgg_a0`` one with
    ``encoder_classes=1000`` (RepVGG files), with one task (single-head file) or the tasks
    ``("intensity", "detection")`` (joint file, ``classifier_2`` = detection). A RepVGG
    detection head gets LibreFace's decision (:data:`REPVGG_DETECTION_OFFSET`, noted).
    """
    path = Path(path)
    sd = read_state_dict(path)
    arch = libreface_arch(sd) if any(k in sd for k in LIBREFACE_ARCHS.values()) else "resnet18"
    fits = _fits_libreface(model)
    if fits != arch:
        want = "a ResNet" if arch == "resnet18" else "repvgg_a0 with encoder_classes=1000"
        raise CheckpointError(
            f"{path}: LibreFace students are ResNets or RepVGG-A0s; this file needs {want}, "
            f"model is {model.config.arch!r}"
        )
    n_heads = 2 if any(k.startswith("classifier_2.") for k in sd) else 1
    if n_heads != len(model.tasks):
        kind = "two heads (joint intensity + detection)" if n_heads == 2 else "one head"
        raise CheckpointError(f"{path}: file has {kind}; model has tasks {model.tasks}")
    try:
        mapped = map_libreface_student(sd, model.tasks)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    target = model.state_dict()
    layout = "libreface-student" + ("-repvgg" if arch != "resnet18" else "")
    report = ImportReport(str(path), layout)
    report.missing = sorted(set(target) - set(mapped))
    report.unexpected = sorted(set(mapped) - set(target))
    bad = [
        f"{k} {list(v.shape)} in file, {list(target[k].shape)} in model"
        for k, v in mapped.items()
        if k in target and v.shape != target[k].shape
    ]
    if report.missing or report.unexpected or bad:
        raise CheckpointError(
            f"{path}: does not fit {model.config.arch} {model.tasks}: {report.summary()}"
            + ("; shapes differ: " + "; ".join(bad[:5]) if bad else "")
        )
    if arch == "repvgg_a0" and model.tasks == ("detection",):
        key = "heads.detection.4.bias"
        mapped[key] = mapped[key] - REPVGG_DETECTION_OFFSET
        report.notes.append(
            f"RepVGG detection head (no Sigmoid in LibreFace, which keeps raw ≥ "
            f"{REPVGG_DETECTION_OFFSET}): last bias − {REPVGG_DETECTION_OFFSET}, so sigmoid ≥ 0.5 "
            "here is LibreFace's decision"
        )
    model.load_state_dict(mapped, strict=True)
    report.loaded = sorted(mapped)
    log.info("LibreFace student import: %s", report.summary())
    return report


def libreface_model(
    path: str | Path, task: str | None = None, img_size: int = 224
) -> tuple[FaceModel, ImportReport]:
    """A :class:`FaceModel` built for a LibreFace student file and loaded from it (eval mode).

    The architecture comes from the keys (:data:`LIBREFACE_ARCHS`), the tasks from the heads
    (:func:`libreface_student_tasks`; ``task`` picks intensity/detection for a 12-output head).
    """
    from libreface_nb.models.factory import ModelConfig, create_model

    sd = read_state_dict(path)
    arch = libreface_arch(sd)
    tasks = libreface_student_tasks(sd, task)
    classes = REPVGG_CLASSES if arch == "repvgg_a0" else 0
    cfg = ModelConfig(arch=arch, tasks=tasks, img_size=img_size, encoder_classes=classes)
    model = create_model(cfg)
    report = load_libreface_student(model, path)
    return model.eval(), report


def libreface_weights(folder: str | Path, choice: str = "joint") -> list[tuple[Path, tuple]]:
    """The files of a LibreFace 0.2.0 weights folder that ``predict`` runs, with their tasks.

    Args:
        folder: LibreFace's ``weights_download_dir`` (holding ``AU_Recognition/``,
            ``AU_Detection/``, ``Facial_Expression_Recognition/``).
        choice: LibreFace's ``model_choice``: ``"joint"`` (its default: one ResNet-18 with the
            intensity and detection heads) or ``"separate"`` (the intensity ResNet-18 and the
            detection RepVGG). When the chosen files are absent the other choice's are used.

    Returns:
        ``[(file, tasks)]``: the AU file(s), then the expression file if present. Within a choice,
        the file LibreFace's image path loads is preferred over its video path's.
    """
    folder = Path(folder)
    if choice not in LIBREFACE_CHOICES:
        raise CheckpointError(f"choice must be one of {sorted(LIBREFACE_CHOICES)}, got {choice!r}")
    found: list[tuple[Path, tuple]] = []
    for pick in (choice, *(c for c in LIBREFACE_CHOICES if c != choice)):
        have: set[str] = set()
        for rel in LIBREFACE_CHOICES[pick]:
            tasks = LIBREFACE_FILES[rel][1]
            if (folder / rel).is_file() and not have & set(tasks):
                found.append((folder / rel, tasks))
                have |= set(tasks)
        if found:
            break
    if (folder / LIBREFACE_FER).is_file():
        found.append((folder / LIBREFACE_FER, ("expression",)))
    if not found:
        raise CheckpointError(
            f"{folder}: no LibreFace weights; expected some of "
            + ", ".join(sorted(LIBREFACE_FILES))
        )
    return found


# --- CNN encoders (e.g. ImageNet weights a user has as a local file) -------------------------

#: Classifier keys of timm / torchvision CNN checkpoints: never loaded into a student's encoder.
_CNN_HEAD = re.compile(r"^(fc|head|classifier|head\.fc)\.")


def load_cnn_encoder(model: FaceModel, path: str | Path, *, strict: bool = True) -> ImportReport:
    """Load a timm (or torchvision ResNet) state dict into a CNN student's ``encoder``.

    The file's classifier (``fc.*``, ``head.*``, ``classifier.*``) is ignored and reported, unless
    the model keeps timm's classifier (``encoder_classes`` > 0, LibreFace 2.0's RepVGG), which then
    loads too. ``strict``: every encoder key must be in the file.
    """
    path = Path(path)
    sd = read_state_dict(path)
    target = model.encoder.state_dict()
    report = ImportReport(str(path), "timm-cnn")
    keep_head = bool(model.config.encoder_classes)
    report.ignored = sorted(k for k in sd if _CNN_HEAD.match(k) and not keep_head)
    sd = {k: v for k, v in sd.items() if k not in set(report.ignored)}
    bad = [
        f"{k} {list(v.shape)} in file, {list(target[k].shape)} in model"
        for k, v in sd.items()
        if k in target and v.shape != target[k].shape
    ]
    if bad:
        raise CheckpointError(
            f"{path}: not a {model.config.arch} encoder: shapes differ: " + "; ".join(bad[:5])
        )
    report.unexpected = sorted(set(sd) - set(target))
    report.missing = sorted(set(target) - set(sd))
    if strict and (report.missing or report.unexpected):
        raise CheckpointError(f"{path}: does not fit {model.config.arch}: {report.summary()}")
    load = {k: v for k, v in sd.items() if k in target}
    model.encoder.load_state_dict(load, strict=False)
    report.loaded = sorted(load)
    log.info("CNN encoder import: %s", report.summary())
    return report


def load_student_init(model: FaceModel, path: str | Path) -> ImportReport:
    """Initialise a student from a local file: a LibreFace student (``encoder.N``/``classifier``
    keys, loaded whole and strictly) or a timm/torchvision CNN (encoder only, strictly)."""
    sd_keys = read_state_dict(path).keys()
    if any(k.startswith(("encoder.0.", "classifier.")) for k in sd_keys):
        return load_libreface_student(model, path)
    return load_cnn_encoder(model, path)
