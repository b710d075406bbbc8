"""Feature-wise distillation of a ViT teacher into a CNN student, as a :func:`fit` step.

LibreFace's recipe (docs/libreface_facts.md §5): the teacher is frozen and in eval mode; per
batch the teacher gives its 128-d feature ``t_feat`` and outputs ``t_raw``, the student its
feature ``s_feat`` (512-d for ResNet-18) and outputs ``s_raw``; ``s_feat`` is projected to the
teacher's width, the frozen teacher *head* is applied to the projection (gradients flow through it
into the student) and

    loss = alpha_feature · MSE(proj(s_feat), t_feat)          "feature"
         + alpha_kl      · KL(teacher head(t_feat) ‖ teacher head(proj(s_feat)))   "kl"
         + task_weight   · task loss of the student's own head    "task"

Each term is returned separately by :meth:`DistillStep.loss` (and so logged in the history),
each weight is explicit in :class:`DistillConfig`; LibreFace uses alpha 1 for both terms.

Feature term: ``feature_loss="mse"`` (LibreFace's) is the plain MSE, whose size is the teacher
feature's squared scale: an unnormalised 128-d ViT feature can make it hundreds of times the task
loss (measured on the 16 × 50-frame synth profile: ≈ 440 against ≈ 3.3), so at alpha 1 it drowns
the task.
``feature_loss="relative"`` divides it by the batch's mean squared teacher feature (detached), so
the term is 1 for a student feature of zeros and 0 for an exact match, whatever the teacher's
scale; the gradient's direction is the MSE's, only its size changes.

Projection: ``"nearest"`` (the paper's, parameter-free) keeps channel ``floor(i · Ds / Dt)`` for
output ``i`` (every 4th for 512 → 128, as 1-D nearest interpolation does); ``"linear"`` is a
learned Linear(Ds → Dt), trained with the student (then ``step.module`` is a
:class:`StudentWithProjection` holding both, and ``step.student`` is the student).

KL on the right activations (``kl="bernoulli"``, the default here): raw outputs are logits, so
the teacher's and the student-through-teacher-head's outputs are turned into proper distributions
first: for ``intensity`` and ``detection`` each output is a Bernoulli with p = sigmoid(raw)
(intensity / 5 for the intensity task) and the KL sums both outcomes over the outputs; for
``expression`` it is the KL of the two softmax distributions over the 8 classes. Both are
``sum over outputs, mean over the batch`` (PyTorch's ``batchmean``), no temperature.
``kl="reference"`` reproduces LibreFace's formula, ``kl_div(log(relu(s) + 1e-7), relu(t) + 1e-7,
batchmean)`` on sigmoid outputs (its heads end in a Sigmoid, for every task): there the vectors
are not distributions (they do not sum to 1, the ``1 − p`` outcome is missing), so the "KL" can be
negative and is not minimised at s = t; for expressions the reference never applies a softmax.
This, and its double squashing (Sigmoid heads under BCE-with-logits / cross-entropy), is why the
default differs.

Task losses and validation metrics are the teacher's (:mod:`libreface_nb.train.finetune`,
:mod:`libreface_nb.train.metrics`), so teacher and student are selected and compared alike:
``intensity`` MSE of 5·sigmoid(raw) against the 0–5 labels over known labels (``mask``),
``detection`` BCE-with-logits over known labels, ``expression`` cross-entropy with target -1
ignored; :meth:`DistillStep.validate` returns ``val_loss`` and ``val_pcc`` / ``val_f1`` /
``val_accuracy``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, get_args

import torch
import torch.nn.functional as F
from torch import nn

from libreface_nb.errors import ConfigError
from libreface_nb.models.factory import FaceModel, ModelConfig
from libreface_nb.models.tasks import get_task
from libreface_nb.train.choices import FeatureLoss, KLKind, Projection
from libreface_nb.train.finetune import metrics_of, predict, task_loss
from libreface_nb.train.loop import FitConfig, FitResult, fit

log = logging.getLogger(__name__)

#: ablation name (:data:`~libreface_nb.train.choices.Ablation`) → (feature term on, KL term on).
#: "none" = plain student training.
ABLATIONS: dict[str, tuple[bool, bool]] = {
    "both": (True, True),
    "feature": (True, False),
    "kl": (False, True),
    "none": (False, False),
}
#: display names of the students notebook 03 trains ("distilled" = the main, "both" student).
ABLATION_LABELS = {
    "distilled": "distilled (feature + KL)",
    "both": "feature + KL",
    "feature": "feature only",
    "kl": "KL only",
    "none": "no distillation",
}
EPS = 1e-7  # LibreFace's floor inside the reference KL


@dataclass
class DistillConfig:
    """Loss weights and variants of :class:`DistillStep` (defaults: LibreFace's, alpha 1)."""

    alpha_feature: float = 1.0
    alpha_kl: float = 1.0
    task_weight: float = 1.0
    projection: Projection = "nearest"  #: "nearest" (parameter-free, the paper's) or "linear"
    kl: KLKind = "bernoulli"  #: "bernoulli" (proper distributions) or "reference" (LibreFace's)
    feature_loss: FeatureLoss = "mse"  #: "mse" (LibreFace's) or "relative" (MSE / mean t²)

    def __post_init__(self) -> None:
        for name, kind in (("projection", Projection), ("kl", KLKind),
                           ("feature_loss", FeatureLoss)):  # fmt: skip
            choices = get_args(kind)
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} {getattr(self, name)!r}: use one of {list(choices)}")

    @classmethod
    def ablation(cls, name: str, alpha: float = 1.0, **kw: Any) -> DistillConfig:
        """The config of ablation ``name`` (:data:`ABLATIONS`) with weight ``alpha`` per term."""
        if name not in ABLATIONS:
            raise ConfigError(f"unknown ablation {name!r}; ablations are {list(ABLATIONS)}")
        feat, kl = ABLATIONS[name]
        return cls(alpha_feature=alpha * feat, alpha_kl=alpha * kl, **kw)

    @property
    def uses_teacher(self) -> bool:
        return bool(self.alpha_feature or self.alpha_kl)


def nearest_indices(d_in: int, d_out: int) -> torch.Tensor:
    """Channels kept by 1-D nearest down-sampling ``d_in → d_out``: ``floor(i · d_in / d_out)``."""
    return torch.div(torch.arange(d_out) * d_in, d_out, rounding_mode="floor")


class NearestProjection(nn.Module):
    """Parameter-free ``f32[N, Ds] → f32[N, Dt]`` keeping channels :func:`nearest_indices`."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.register_buffer("index", nearest_indices(d_in, d_out), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, self.index)


class StudentWithProjection(nn.Module):
    """The student and its learned projection, trained (and checkpointed) together."""

    def __init__(self, student: FaceModel, projection: nn.Module) -> None:
        super().__init__()
        self.student, self.projection = student, projection


def _bernoulli_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(Bern(p) ‖ Bern(q)) summed over outputs, mean over the batch; p, q in (0, 1)."""
    p, q = p.clamp(EPS, 1 - EPS), q.clamp(EPS, 1 - EPS)
    kl = p * (p.log() - q.log()) + (1 - p) * ((1 - p).log() - (1 - q).log())
    return kl.sum(1).mean()


def kl_term(task: str, s_raw: torch.Tensor, t_raw: torch.Tensor, mode: str) -> torch.Tensor:
    """KL between the teacher's outputs ``t_raw`` and the student's through the teacher head."""
    s_raw, t_raw = s_raw.float(), t_raw.float()  # float32 even under autocast
    if mode == "reference":
        s, t = torch.sigmoid(s_raw), torch.sigmoid(t_raw)  # LibreFace's Sigmoid heads
        return F.kl_div((F.relu(s) + EPS).log(), F.relu(t) + EPS, reduction="batchmean")
    if get_task(task).activation == "softmax":
        return F.kl_div(
            F.log_softmax(s_raw, 1), F.log_softmax(t_raw, 1), reduction="batchmean", log_target=True
        )
    return _bernoulli_kl(torch.sigmoid(t_raw), torch.sigmoid(s_raw))


def feature_term(s_feat: torch.Tensor, t_feat: torch.Tensor, mode: str = "mse") -> torch.Tensor:
    """The feature-matching term between projected student and teacher features ``[N, Dt]``.

    ``mse``: ``mean((s - t)²)``; ``relative``: the same divided by ``mean(t²)`` of the batch
    (detached, floored at 1e-12), scale-free (see the module docstring).
    """
    s_feat, t_feat = s_feat.float(), t_feat.float()
    mse = F.mse_loss(s_feat, t_feat)
    if mode == "relative":
        return mse / t_feat.detach().pow(2).mean().clamp_min(1e-12)
    return mse


def fit_size(model: FaceModel, x: torch.Tensor) -> torch.Tensor:
    """Resize images to ``model.config.img_size`` if they differ (bilinear, antialiased)."""
    size = model.config.img_size
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class DistillStep:
    """The distillation step for :func:`libreface_nb.train.loop.fit`.

    Args:
        student: a :class:`FaceModel` (e.g. resnet18) with ``task`` among its tasks.
        teacher: the fine-tuned teacher :class:`FaceModel` with ``task``; frozen here (its
            parameters get ``requires_grad=False``, it stays in eval mode). None is allowed only
            when both distillation weights are 0 (plain student training).
        cfg: weights and variants.
        task: the task distilled and supervised; default the student's first task.
    """

    def __init__(
        self,
        student: FaceModel,
        teacher: FaceModel | None,
        cfg: DistillConfig | None = None,
        task: str | None = None,
    ) -> None:
        self.cfg = cfg or DistillConfig()
        self.task = task or student.tasks[0]
        self.student, self.teacher = student, teacher
        if self.task not in student.tasks:
            raise ConfigError(f"task {self.task!r} is not a student task {student.tasks}")
        if teacher is None and self.cfg.uses_teacher:
            raise ConfigError("distillation weights > 0 need a teacher (or use ablation 'none')")
        self.projection: nn.Module = nn.Identity()
        if teacher is not None:
            if self.task not in teacher.tasks:
                raise ConfigError(f"task {self.task!r} is not a teacher task {teacher.tasks}")
            teacher.eval().requires_grad_(False)
            ds, dt = student.config.feature_dim, teacher.config.feature_dim
            lin = self.cfg.projection == "linear"
            self.projection = nn.Linear(ds, dt) if lin else NearestProjection(ds, dt)
        learned = any(True for _ in self.projection.parameters())
        self.module = StudentWithProjection(student, self.projection) if learned else student

    def _teacher_on(self, device: torch.device) -> FaceModel:
        t = self.teacher
        if next(t.parameters()).device != device:
            t.to(device)
        self.projection.to(device)
        return t.eval()  # whatever fit did to step.module, the teacher stays in eval mode

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """``{"loss", "feature", "kl", "task"}`` (scalars); feature/kl absent without a teacher."""
        x = batch["image"]
        out = self.student(fit_size(self.student, x))
        task = task_loss(self.task, out[self.task], batch)
        terms = {"task": task}
        total = self.cfg.task_weight * task
        if self.teacher is not None:
            teacher = self._teacher_on(x.device)
            with torch.no_grad():
                t_out = teacher(fit_size(teacher, x))
            proj = self.projection(out["feature"])
            s_traw = teacher.heads[self.task](proj)  # frozen head, gradients flow to the student
            terms["feature"] = feature_term(proj, t_out["feature"], self.cfg.feature_loss)
            terms["kl"] = kl_term(self.task, s_traw, t_out[self.task], self.cfg.kl)
            total = total + self.cfg.alpha_feature * terms["feature"]
            total = total + self.cfg.alpha_kl * terms["kl"]
        return {"loss": total, **terms}

    def validate(self, loader: Any) -> dict[str, float]:
        """``val_loss`` and the task's metrics (``val_pcc``/``val_f1``/``val_accuracy``…)."""
        m = metrics_of(self.task, predict(self.student, self.task, loader))
        return {f"val_{k}": float(v) for k, v in m.items() if k != "per_output"}


# --- one call for notebook 03 -------------------------------------------------------------


@dataclass
class StudentResult:
    """A trained student (best epoch's weights), fit's result and where ``model.pt`` went."""

    model: FaceModel
    fit: FitResult
    path: Path
    seconds: float


def train_student(
    datasets: dict[str, Any],
    teacher: FaceModel | None,
    student_cfg: ModelConfig,
    distill_cfg: DistillConfig,
    fit_cfg: FitConfig,
    out_dir: str | Path,
    *,
    extra: dict[str, Any] | None = None,
    init: str | Path | None = None,
) -> StudentResult:
    """Build a student (seeded by ``fit_cfg.seed``), distil or train it with ``fit``, save it.

    Args:
        datasets: ``{"train": …, "val": …}`` (:func:`libreface_nb.data.splits.make_datasets`).
        teacher: the frozen teacher; not used (may be None) when both distillation weights are 0.
        student_cfg: the student's :class:`~libreface_nb.models.factory.ModelConfig`.
        distill_cfg: loss weights (e.g. ``DistillConfig.ablation("kl")``).
        fit_cfg: a ``FitConfig`` (e.g. :meth:`.recipes.StudentRecipe.fit_config`).
        out_dir: gets fit's ``best.pt``, ``last.pt``, ``history.jsonl`` and ``model.pt``
            (:func:`~libreface_nb.models.factory.save_model` of the best epoch's student, its
            ``extra`` holding the task, the distillation config, best epoch and monitor value).
        init: a local file to start the student from (ImageNet CNN weights or a LibreFace
            student, :func:`libreface_nb.models.checkpoints.load_student_init`); None = random.
    """
    from libreface_nb.models.factory import create_model, save_model

    torch.manual_seed(fit_cfg.seed)
    student = create_model(student_cfg)
    if init:
        from libreface_nb.models.checkpoints import load_student_init

        load_student_init(student, init)
    step = DistillStep(student, teacher if distill_cfg.uses_teacher else None, distill_cfg)
    t0 = time.perf_counter()
    res = fit(step, datasets["train"], datasets["val"], fit_cfg, out_dir)
    seconds = time.perf_counter() - t0
    info = {"task": step.task, "distill": asdict(distill_cfg), "best_epoch": res.best_epoch,
            fit_cfg.monitor: res.best, "init": str(init or "")} | dict(extra or {})  # fmt: skip
    path = save_model(Path(out_dir) / "model.pt", student.cpu(), extra=info)
    return StudentResult(student, res, path, seconds)
