"""One factory for the ViT teacher and the CNN students: config, model, save and load.

A :class:`FaceModel` is ``encoder`` → ``neck`` → ``feature f32[N, D]`` → one LibreFace head per
task (:mod:`libreface_nb.models.heads`), raw outputs per task (activations in
:mod:`libreface_nb.models.tasks`). The variants are entries of :class:`ModelConfig`:

| arch              | encoder                              | neck                 | D   | head     |
|-------------------|--------------------------------------|----------------------|-----|----------|
| vit, pool flatten | ``build_vit_encoder`` tokens         | flatten L·E → Linear | 128 | 128→32→K |
| vit, pool mean    | same                                 | mean E → Linear      | 128 | 128→32→K |
| resnet18 (timm)   | ``timm.create_model(num_classes=0)`` | none (pooled)        | 512 | 512→128→K|
| repvgg_a0 (LF2)   | same, ``encoder_classes=1000``       | Linear(1000 → 512)   | 512 | 512→128→K|

Only patch tokens enter the ViT neck (a CLS token, if any, is left out); L = (img_size / 16)²,
E the embed width. LibreFace's teacher is ViT-B/16 without CLS token, with fixed sin-cos positions
and the flatten neck (150,528 → 128). LibreFace 2.0's RepVGG-A0 students keep timm's 1000-way
ImageNet classifier and add Linear(1000→512) before the head (LIBREFACE_FACTS §4; no activation
between them is documented, none is used here). Parameter counts: the 12-output ResNet-18 student
has 11,243,980 parameters and the joint intensity + detection one 11,311,448, as LibreFace states.

Checkpoint file (:func:`save_model` / :func:`load_model`), one ``torch.save`` dict:

| key          | value                                                                |
|--------------|----------------------------------------------------------------------|
| ``format``   | ``"libreface_nb.model/1"``                                          |
| ``config``   | :meth:`ModelConfig.to_dict` (JSON types only)                        |
| ``state_dict`` | the model's ``state_dict()`` (tensors on CPU)                      |
| ``extra``    | dict of plain values (task, fold, metrics…); ``{}`` when none given  |

It is written atomically and read with ``torch.load(weights_only=True)``. Models are built with
random weights; weights come only from local files (``pretrained=False`` always).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from libreface_nb.atomic import atomic_path
from libreface_nb.errors import CheckpointError, ConfigError
from libreface_nb.models.heads import LibreFaceHead
from libreface_nb.models.tasks import get_task
from libreface_nb.models.vit import PATCH, VIT_SIZES, build_vit_encoder

log = logging.getLogger(__name__)

FORMAT = "libreface_nb.model/1"
#: Default feature width and head hidden width of the ViT teacher (LibreFace's).
TEACHER_FEATURE, TEACHER_HIDDEN = 128, 32
#: Default head hidden width of a CNN student (LibreFace's 512 → 128 → K).
STUDENT_HIDDEN = 128
POOLS = ("flatten", "mean")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a :class:`FaceModel`; JSON-serialisable.

    ``feature_dim`` and ``head_hidden`` at 0 mean the variant's default (teacher 128 / 32; CNN:
    the encoder's width, or ``neck_dim`` with a neck / 128); :func:`create_model` stores the
    resolved values in ``model.config``.
    """

    #: ``"vit"`` (teacher) or a timm CNN name (``"resnet18"``, ``"repvgg_a0"``…).
    arch: str = "vit"
    #: One task, or ``("intensity", "detection")`` for the joint student.
    tasks: tuple[str, ...] = ("intensity",)
    img_size: int = 224
    #: ViT only: ``tiny`` | ``small`` | ``base``; CLS token; fixed sin-cos positions; neck pooling.
    vit_size: str = "base"
    class_token: bool = False
    fixed_pos: bool = True
    pool: str = "flatten"
    drop_path_rate: float = 0.0
    feature_dim: int = 0
    head_hidden: int = 0
    dropout: float = 0.1
    #: CNN only: timm ``num_classes`` of the encoder (0 = pooled feature; LibreFace 2.0's
    #: RepVGG: 1000) and, when > 0, a Linear(encoder_classes → feature_dim) neck (default 512).
    encoder_classes: int = 0

    def __post_init__(self) -> None:
        self.tasks = tuple([self.tasks] if isinstance(self.tasks, str) else self.tasks)
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"tasks {self.tasks!r} must be one or more distinct task names")
        for t in self.tasks:
            get_task(t)
        if self.is_vit:
            if self.vit_size not in VIT_SIZES:
                raise ConfigError(f"unknown vit_size {self.vit_size!r}; sizes {sorted(VIT_SIZES)}")
            if self.pool not in POOLS:
                raise ConfigError(f"unknown pool {self.pool!r}; pools are {POOLS}")
            if self.img_size % PATCH:
                raise ConfigError(f"img_size {self.img_size} is not a multiple of {PATCH}")

    @property
    def is_vit(self) -> bool:
        return self.arch == "vit"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown ModelConfig fields {unknown}; known: {sorted(known)}")
        return cls(**{**d, "tasks": tuple(d.get("tasks", ("intensity",)))})


class FaceModel(nn.Module):
    """Encoder → neck → feature ``f32[N, D]`` → heads (raw outputs per task)."""

    def __init__(
        self, config: ModelConfig, encoder: nn.Module, neck: nn.Module, heads: nn.ModuleDict
    ):
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.neck = neck
        self.heads = heads
        #: the ``extra`` record of the file the model was loaded from ({} when built here).
        self.extra: dict[str, Any] = {}

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.config.tasks

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x: f32[N, 3, S, S]`` (ImageNet-normalised) → ``f32[N, D]``."""
        if self.config.is_vit:
            tokens = self.encoder.forward_features(x)  # [N, P + L, E], after the final norm
            tokens = tokens[:, self.encoder.num_prefix_tokens :]  # patch tokens [N, L, E]
            pooled = tokens.flatten(1) if self.config.pool == "flatten" else tokens.mean(1)
            return self.neck(pooled)
        return self.neck(self.encoder(x))

    def heads_forward(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        """``feat: f32[N, D]`` → ``{task: raw f32[N, K]}``."""
        return {t: self.heads[t](feat) for t in self.config.tasks}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"feature": f32[N, D], <task>: raw f32[N, K] for each task}``."""
        feat = self.features(x)
        return {"feature": feat, **self.heads_forward(feat)}


def _vit_parts(cfg: ModelConfig) -> tuple[nn.Module, nn.Module, int]:
    enc = build_vit_encoder(
        cfg.vit_size,
        cfg.img_size,
        class_token=cfg.class_token,
        fixed_pos=cfg.fixed_pos,
        drop_path_rate=cfg.drop_path_rate,
    )
    width = VIT_SIZES[cfg.vit_size][0]
    n_tokens = (cfg.img_size // PATCH) ** 2
    in_dim = n_tokens * width if cfg.pool == "flatten" else width
    dim = cfg.feature_dim or TEACHER_FEATURE
    return enc, nn.Linear(in_dim, dim), dim


def _cnn_parts(cfg: ModelConfig) -> tuple[nn.Module, nn.Module, int]:
    import timm

    try:
        enc = timm.create_model(cfg.arch, pretrained=False, num_classes=cfg.encoder_classes)
    except RuntimeError as e:  # timm: "Unknown model (...)"
        raise ConfigError(f"arch {cfg.arch!r} is not a timm model ({e}); e.g. resnet18") from None
    if cfg.encoder_classes:
        dim = cfg.feature_dim or 512
        return enc, nn.Linear(cfg.encoder_classes, dim), dim
    width = enc.num_features
    if cfg.feature_dim not in (0, width):
        raise ConfigError(
            f"feature_dim {cfg.feature_dim} differs from {cfg.arch}'s pooled width {width}; "
            "leave it 0 or set encoder_classes to add a Linear neck"
        )
    return enc, nn.Identity(), width


def create_model(cfg: ModelConfig) -> FaceModel:
    """Build the model ``cfg`` describes, with random weights (nothing is downloaded)."""
    cfg = ModelConfig.from_dict(cfg.to_dict())  # a private copy, resolved below
    enc, neck, dim = _vit_parts(cfg) if cfg.is_vit else _cnn_parts(cfg)
    hidden = cfg.head_hidden or (TEACHER_HIDDEN if cfg.is_vit else STUDENT_HIDDEN)
    cfg.feature_dim, cfg.head_hidden = dim, hidden
    heads = nn.ModuleDict(
        {t: LibreFaceHead(dim, hidden, get_task(t).n_outputs, cfg.dropout) for t in cfg.tasks}
    )
    return FaceModel(cfg, enc, neck, heads)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def save_model(path: str | Path, model: FaceModel, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (config + CPU state dict + ``extra``) to ``path`` atomically."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "state_dict": state,
        "extra": dict(extra or {}),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    log.info("saved %s model (%s) to %s", model.config.arch, ",".join(model.tasks), path)
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # pickle, zip and weights_only errors all mean "not a usable file"
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint ({type(e).__name__}: {str(e)[:200]}); "
            "expected a file written by torch.save with tensors and plain values only"
        ) from None


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> FaceModel:
    """Rebuild a model written by :func:`save_model`; ``extra`` is in ``model.extra``."""
    path = Path(path)
    ckpt = read_checkpoint(path, map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        hint = (
            "; a state dict from elsewhere (MAE, timm, LibreFace) goes through "
            "libreface_nb.models.checkpoints"
            if isinstance(ckpt, dict)
            else ""
        )
        raise CheckpointError(f"{path}: format {found!r}, expected {FORMAT!r}{hint}")
    try:
        model = create_model(ModelConfig.from_dict(ckpt["config"]))
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except (KeyError, TypeError, ConfigError, RuntimeError) as e:
        raise CheckpointError(f"{path}: does not rebuild its model: {e}") from None
    model.extra = dict(ckpt.get("extra") or {})
    return model.to(map_location)
