"""The training recipes of notebooks 02 and 03: every training default, once, as typed objects.

:class:`TeacherRecipe` (notebook 02: MAE pretraining and teacher fine-tuning) and
:class:`StudentRecipe` (notebook 03: distillation and its ablations) are frozen dataclasses whose
fields are the notebooks' recipe parameters, with the same names, types and defaults (the
parameters cell repeats them as literals for papermill; ``tests/test_recipes.py`` checks that both
agree in value and type). Their defaults are the paper's recipes: the teacher ViT-B/16 at 224 px,
AdamW lr 3e-5, weight decay 1e-4, batch 28, at most 20 epochs, patience 5; MAE 100 epochs of 64 at
lr 1.5e-4, weight decay 0.05, 75 % masking; the student LibreFace's DISFA distillation recipe,
ResNet-18 at 224 px, AdamW lr 1e-3, batch 128, 12 epochs, alpha 1. Profiles shrink them.

Checks (``__post_init__``, so a recipe that exists is valid): every field has its declared type
(an int is accepted, and stored as a float, where a float is declared), every ``Literal`` field one
of its choices, every number its range (:func:`_param`), and the rules between fields
(:meth:`TeacherRecipe._check_rules`, :meth:`StudentRecipe._check_rules`). Each failure is a
:class:`~libreface_nb.errors.ConfigError` naming the field, its value and where to set it: the
notebook's parameters cell, the profile's ``notebooks: "NN":`` section, or ``--set NN.name=…``.

What is fixed rather than a parameter (class constants): AdamW's betas (MAE's (0.9, 0.95) for
pretraining), gradient clipping at 1.0, a cosine decay to 0 (:class:`~.loop.FitConfig`'s loop
settings), early stopping on the task's validation metric (higher is better).

This module imports no torch: the methods that build model or loop configs import them lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, Self, get_args, get_origin, get_type_hints

from libreface_nb.errors import ConfigError
from libreface_nb.tasks import TaskMetrics, get_task
from libreface_nb.train.choices import (
    Ablation,
    FeatureLoss,
    KLKind,
    MaeDecoder,
    MaeFaces,
    Pool,
    Projection,
    StudentTask,
    Task,
    TeacherChoice,
    VitSize,
)

PATCH = 16  #: ViT patch side: the teacher's img_size is a multiple of it
MIN_SIZE, MAX_SIZE = 16, 224  #: input sides build_transform accepts


def _param(default: Any, lo: float | None = None, hi: float | None = None, *,
           lo_open: bool = False, hi_open: bool = False) -> Any:  # fmt: skip
    """A recipe field with its allowed range ``lo ≤ value ≤ hi`` (``<`` where open)."""
    return field(default=default, metadata={"range": (lo, hi, lo_open, hi_open)})


def _in_range(value: float, spec: tuple) -> bool:
    lo, hi, lo_open, hi_open = spec
    above = lo is None or (value > lo if lo_open else value >= lo)
    below = hi is None or (value < hi if hi_open else value <= hi)
    return above and below


def _range_text(spec: tuple) -> str:
    lo, hi, lo_open, hi_open = spec
    if hi is None:
        return f"must be {'>' if lo_open else '≥'} {lo}"
    if lo is None:
        return f"must be {'<' if hi_open else '≤'} {hi}"
    return f"must be in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def _type_problem(value: Any, hint: Any) -> str | None:
    """Why ``value`` does not fit ``hint`` (a Literal, bool, int, float or str); None if it does."""
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        return None if value in choices else f"is not one of {list(choices)}"
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return None
    if hint is int and isinstance(value, bool):
        return "must be an int, not a bool"
    return None if isinstance(value, hint) else f"must be of type {hint.__name__}"


class _Recipe:
    """Checks and constructors shared by the recipes (see the module docstring)."""

    NOTEBOOK: ClassVar[str]  #: "02" or "03"
    #: Parameters of the notebook that are not part of the recipe (where the run goes, figures).
    NOTEBOOK_ONLY: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            problem = _type_problem(value, hints[f.name])
            if problem:
                raise self._error(f.name, problem)
            if hints[f.name] is float:
                object.__setattr__(self, f.name, float(value))
            spec = f.metadata.get("range")
            if spec and not _in_range(value, spec):
                raise self._error(f.name, _range_text(spec))
        self._check_rules()

    def _check_rules(self) -> None:
        """Rules between fields (subclasses)."""

    def _error(self, name: str, problem: str) -> ConfigError:
        nb = self.NOTEBOOK
        return ConfigError(
            f"{type(self).__name__}: {name}={getattr(self, name)!r} {problem}; set {name} in"
            f' notebook {nb}\'s parameters cell, in the profile under notebooks: "{nb}":, or'
            f" with --set {nb}.{name}=…"
        )

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """The notebook parameters this recipe holds (its field names, in order)."""
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    @classmethod
    def from_parameters(cls, namespace: dict[str, Any]) -> Self:
        """The recipe from a notebook's parameters: ``TeacherRecipe.from_parameters(globals())``.

        Reads exactly :meth:`parameter_names` from ``namespace``; other names (the notebook-only
        parameters, imports) are ignored. Raises ConfigError when one is missing or invalid.
        """
        missing = [n for n in cls.parameter_names() if n not in namespace]
        if missing:
            raise ConfigError(
                f"{cls.__name__} needs the parameters {missing}: notebook {cls.NOTEBOOK}'s"
                " parameters cell must declare them (see libreface_nb/train/recipes.py)"
            )
        return cls(**{n: namespace[n] for n in cls.parameter_names()})


@dataclass(frozen=True)
class Augment:
    """The training augmentations of :func:`~libreface_nb.data.transforms.build_transform`.

    ``rotation``: random rotation range in degrees (0 = off); ``color``: colour-jitter strength
    (0 = off); ``crop_jitter``: share of LibreFace's random-crop range kept (1 = offsets 0–32 px
    of the 256 px face, 0 = the centre crop). Built by the recipes, which hold the defaults.
    """

    rotation: float
    color: float
    crop_jitter: float

    def __post_init__(self) -> None:
        for name in ("rotation", "color", "crop_jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"Augment.{name}={value!r} must be a number ≥ 0")
        if self.crop_jitter > 1:
            raise ConfigError(f"Augment.crop_jitter={self.crop_jitter!r} must be in [0, 1]")

    def kwargs(self) -> dict[str, float]:
        """``build_transform`` keyword arguments (``make_datasets(augment=…)``)."""
        return {"rotation": float(self.rotation), "color": float(self.color),
                "crop_jitter": float(self.crop_jitter)}  # fmt: skip


def _fit_config(r: Any, monitor: str, **recipe: Any) -> Any:
    from libreface_nb.train.loop import FitConfig

    return FitConfig(**recipe, monitor=monitor, mode="max" if monitor != "val_loss" else "min",
                     seed=r.seed, max_steps_per_epoch=r.max_steps_per_epoch or None,
                     num_workers=r.num_workers, progress=r.progress)  # fmt: skip


@dataclass(frozen=True)
class TeacherRecipe(TaskMetrics, _Recipe):
    """Notebook 02's recipe: MAE pretraining, then fine-tuning the ViT teacher on one task."""

    NOTEBOOK: ClassVar[str] = "02"
    NOTEBOOK_ONLY: ClassVar[tuple[str, ...]] = ("run_dir", "fold", "n_reconstructions")
    MAE_BETAS: ClassVar[tuple[float, float]] = (0.9, 0.95)  #: MAE's AdamW betas

    seed: int = _param(0, 0)  #: weights, shuffling, masking and augmentation
    task: Task = "intensity"
    vit_size: VitSize = "base"  #: the paper: ViT-B/16
    img_size: int = _param(224, MIN_SIZE, MAX_SIZE)  #: a multiple of 16
    pool: Pool = "flatten"  #: the paper: all tokens flattened, then Linear to 128
    class_token: bool = False  #: LibreFace's MAE encoder has none
    pretrain_mae: bool = True
    mae_checkpoint: str = ""  #: a local MAE / timm ViT file instead of pretraining
    mae_faces: MaeFaces = "train"
    mae_folder: str = ""  #: a folder of images or videos to pretrain on instead
    mae_epochs: int = _param(100, 1)
    mae_batch_size: int = _param(64, 1)
    mae_lr: float = _param(1.5e-4, 0, lo_open=True)
    mae_weight_decay: float = _param(0.05, 0)
    mae_warmup_epochs: float = _param(5.0, 0)
    mae_decoder: MaeDecoder = "mae"
    mae_mask_ratio: float = _param(0.75, 0, 1, lo_open=True, hi_open=True)
    epochs: int = _param(20, 1)
    batch_size: int = _param(28, 1)
    lr: float = _param(3e-5, 0, lo_open=True)
    weight_decay: float = _param(1e-4, 0)
    warmup_epochs: float = _param(1.0, 0)
    patience: int = _param(5, 0)  #: 0 never stops early
    drop_path_rate: float = _param(0.0, 0, 1, hi_open=True)
    rotation: float = _param(0.0, 0)
    color: float = _param(0.0, 0)
    crop_jitter: float = _param(1.0, 0, 1)
    max_steps_per_epoch: int = _param(0, 0)  #: 0 = every batch
    compare_scratch: bool = False  #: also fine-tune from random weights
    teacher_choice: TeacherChoice = "mae"
    num_workers: int = _param(0, 0)
    progress: bool = True

    def _check_rules(self) -> None:
        if self.img_size % PATCH:
            raise self._error("img_size", f"is not a multiple of the ViT patch ({PATCH} px)")
        if self.teacher_choice == "validation" and not self.compare_scratch:
            raise self._error(
                "teacher_choice",
                "picks between the MAE-initialised and the no-MAE teacher, so it needs"
                " compare_scratch=True (or give teacher_choice='mae')",
            )
        if self.mae_folder and self.mae_checkpoint:
            raise self._error("mae_folder", "and mae_checkpoint are both given: keep one")
        if self.mae_folder and not self.pretrain_mae:
            raise self._error("mae_folder", "is only read when pretrain_mae=True")

    @property
    def augment(self) -> Augment:
        return Augment(self.rotation, self.color, self.crop_jitter)

    @property
    def runs_mae(self) -> bool:
        """Whether notebook 02 pretrains an MAE (no checkpoint given instead)."""
        return self.pretrain_mae and not self.mae_checkpoint

    @property
    def choose_on_validation(self) -> bool:
        return self.teacher_choice == "validation"

    def model_config(self) -> Any:
        """The teacher's :class:`~libreface_nb.models.factory.ModelConfig`."""
        from libreface_nb.models.factory import ModelConfig

        return ModelConfig(arch="vit", tasks=(self.task,), img_size=self.img_size,
                           vit_size=self.vit_size, class_token=self.class_token, fixed_pos=True,
                           pool=self.pool, drop_path_rate=self.drop_path_rate)  # fmt: skip

    def fit_config(self) -> Any:
        """Fine-tuning's :class:`~libreface_nb.train.loop.FitConfig` (early stopping on
        :attr:`monitor`)."""
        return _fit_config(self, self.monitor, epochs=self.epochs, batch_size=self.batch_size,
                           lr=self.lr, weight_decay=self.weight_decay,
                           warmup_epochs=self.warmup_epochs, patience=self.patience)  # fmt: skip

    def mae_fit_config(self) -> Any:
        """MAE pretraining's FitConfig: every epoch runs (patience 0), ``val_loss`` kept lowest."""
        return _fit_config(self, "val_loss", epochs=self.mae_epochs,
                           batch_size=self.mae_batch_size, lr=self.mae_lr,
                           weight_decay=self.mae_weight_decay, betas=self.MAE_BETAS,
                           warmup_epochs=self.mae_warmup_epochs, patience=0)  # fmt: skip


@dataclass(frozen=True)
class StudentRecipe(_Recipe):
    """Notebook 03's recipe: the distilled student, the undistilled one and the ablations."""

    NOTEBOOK: ClassVar[str] = "03"
    NOTEBOOK_ONLY: ClassVar[tuple[str, ...]] = ("run_dir", "fold")

    seed: int = _param(0, 0)  #: student initialisation, batch order, augmentation
    task: StudentTask = ""  #: "" = the teacher's task
    student_arch: str = "resnet18"  #: a timm CNN (LibreFace 2.0: repvgg_a0)
    encoder_classes: int = _param(0, 0)  #: LibreFace 2.0 RepVGG: 1000
    student_init: str = ""  #: a local file to start every student from
    img_size: int = _param(224, MIN_SIZE, MAX_SIZE)
    crop_jitter: float = _param(1.0, 0, 1)
    epochs: int = _param(12, 1)
    batch_size: int = _param(128, 1)
    lr: float = _param(1e-3, 0, lo_open=True)
    weight_decay: float = _param(1e-4, 0)
    warmup_epochs: float = _param(0.0, 0)
    patience: int = _param(5, 0)  #: 0 never stops early
    max_steps_per_epoch: int = _param(0, 0)  #: 0 = every batch
    num_workers: int = _param(0, 0)
    alpha: float = _param(1.0, 0)  #: weight of the feature and of the KL term
    projection: Projection = "nearest"
    kl: KLKind = "bernoulli"
    feature_loss: FeatureLoss = "mse"
    ablations: str = "feature,kl"  #: comma-separated, besides "distilled" and "none"
    eval_batch_size: int = _param(64, 1)
    progress: bool = True

    def _check_rules(self) -> None:
        if not self.student_arch.strip() or self.student_arch == "vit":
            raise self._error("student_arch", "must name a timm CNN such as 'resnet18'")
        extra = [a.strip() for a in self.ablations.split(",") if a.strip()]
        allowed = [a for a in get_args(Ablation) if a != "none"]
        wrong = [a for a in extra if a not in allowed]
        if wrong:
            raise self._error(
                "ablations", f"names {wrong}: use a comma-separated subset of {allowed} ('none'"
                " always runs)",
            )  # fmt: skip
        if len(set(extra)) != len(extra):
            raise self._error("ablations", "names an ablation twice")

    @property
    def augment(self) -> Augment:
        return Augment(rotation=0.0, color=0.0, crop_jitter=self.crop_jitter)

    @property
    def ablation_names(self) -> tuple[str, ...]:
        """The comparison students: ``none`` (no distillation), then :attr:`ablations`."""
        return ("none", *(a.strip() for a in self.ablations.split(",") if a.strip()))

    @property
    def init(self) -> str | None:
        return self.student_init or None

    def model_config(self, task: str) -> Any:
        """The student's :class:`~libreface_nb.models.factory.ModelConfig` for ``task``."""
        from libreface_nb.models.factory import ModelConfig

        return ModelConfig(self.student_arch, (task,), img_size=self.img_size,
                           encoder_classes=self.encoder_classes)  # fmt: skip

    def fit_config(self, task: str) -> Any:
        """The FitConfig of every student (early stopping on ``task``'s validation metric)."""
        return _fit_config(self, get_task(task).monitor, epochs=self.epochs,
                           batch_size=self.batch_size, lr=self.lr,
                           weight_decay=self.weight_decay, warmup_epochs=self.warmup_epochs,
                           patience=self.patience)  # fmt: skip

    def distill_config(self, ablation: str) -> Any:
        """The :class:`~libreface_nb.train.distill.DistillConfig` of ``ablation`` (``both`` is
        the distilled student), each distillation term weighted :attr:`alpha`."""
        from libreface_nb.train.distill import DistillConfig

        return DistillConfig.ablation(ablation, self.alpha, projection=self.projection,
                                      kl=self.kl, feature_loss=self.feature_loss)  # fmt: skip
