"""Distillation step: each loss term against a hand computation, the frozen teacher, ablations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import entropy

from libreface_nb.errors import ConfigError
from libreface_nb.models.factory import ModelConfig, create_model, load_model
from libreface_nb.train.distill import (
    DistillConfig,
    DistillStep,
    NearestProjection,
    StudentWithProjection,
    feature_term,
    kl_term,
    nearest_indices,
    train_student,
)
from libreface_nb.train.finetune import task_loss
from libreface_nb.train.recipes import StudentRecipe

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    teacher = create_model(ModelConfig("vit", ("intensity",), img_size=32, vit_size="tiny"))
    student = create_model(ModelConfig("resnet18", ("intensity",), img_size=32))
    return teacher, student


def _fresh(models):
    teacher, student = models
    t = create_model(teacher.config)
    t.load_state_dict(teacher.state_dict())
    s = create_model(student.config)
    s.load_state_dict(student.state_dict())
    return t, s


def _batch(n: int = 4, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(n, 12)
    mask[0, :3] = 0
    return {
        "image": torch.randn(n, 3, 32, 32, generator=g),
        "labels": torch.rand(n, 12, generator=g) * 5,
        "mask": mask,
    }


def test_nearest_projection_keeps_every_fourth_channel():
    assert nearest_indices(512, 128).tolist() == list(range(0, 512, 4))


def test_nearest_projection_matches_1d_nearest_interpolation():
    x = torch.randn(3, 1280)
    want = F.interpolate(x[:, None], size=128, mode="nearest")[:, 0]
    assert torch.equal(NearestProjection(1280, 128)(x), want)


def test_bernoulli_kl_by_hand():
    t_raw = torch.logit(torch.tensor([[0.2, 0.9]]))
    s_raw = torch.zeros(1, 2)  # q = 0.5
    hand = sum(p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5) for p in (0.2, 0.9))
    assert kl_term("detection", s_raw, t_raw, "bernoulli").item() == pytest.approx(hand, rel=1e-5)


def test_softmax_kl_matches_scipy_entropy():
    g = torch.Generator().manual_seed(3)
    s_raw, t_raw = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    p, q = F.softmax(t_raw, 1).numpy(), F.softmax(s_raw, 1).numpy()
    want = np.mean([entropy(p[i], q[i]) for i in range(5)])
    assert kl_term("expression", s_raw, t_raw, "bernoulli").item() == pytest.approx(want, rel=1e-5)


def test_reference_kl_is_libreface_formula_by_hand():
    s_raw, t_raw = torch.tensor([[0.0, 1.0]]), torch.tensor([[2.0, -1.0]])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    s = [sig(0.0) + 1e-7, sig(1.0) + 1e-7]
    t = [sig(2.0) + 1e-7, sig(-1.0) + 1e-7]
    hand = sum(ti * (math.log(ti) - math.log(si)) for si, ti in zip(s, t, strict=True))
    assert kl_term("intensity", s_raw, t_raw, "reference").item() == pytest.approx(hand, rel=1e-5)


def test_kl_is_zero_for_identical_outputs():
    raw = torch.randn(4, 12)
    assert kl_term("intensity", raw, raw, "bernoulli").item() == pytest.approx(0.0, abs=1e-6)


def test_intensity_task_loss_by_hand():
    raw = torch.zeros(1, 2)  # 5·sigmoid(0) = 2.5
    batch = {"labels": torch.tensor([[1.0, 4.0]]), "mask": torch.tensor([[1.0, 0.0]])}
    assert task_loss("intensity", raw, batch).item() == pytest.approx(1.5**2)


def test_detection_task_loss_by_hand():
    raw = torch.tensor([[0.0, 2.0]])
    batch = {"labels": torch.tensor([[1.0, 0.0]]), "mask": torch.tensor([[1.0, 1.0]])}
    hand = (math.log(2.0) + math.log(1 + math.exp(2.0))) / 2
    assert task_loss("detection", raw, batch).item() == pytest.approx(hand, rel=1e-6)


def test_expression_task_loss_ignores_unknown_by_hand():
    raw = torch.tensor([[0.0, math.log(3.0)] + [-1e9] * 6, [5.0] * 8])
    batch = {"expression": torch.tensor([1, -1])}
    assert task_loss("expression", raw, batch).item() == pytest.approx(-math.log(0.75), rel=1e-6)


def test_feature_term_is_mse_of_every_fourth_student_channel(models):
    teacher, student = _fresh(models)
    step = DistillStep(student.eval(), teacher)
    batch = _batch()
    with torch.no_grad():
        out = step.loss(batch)
        s_feat = student.features(batch["image"])[:, ::4].numpy()
        t_feat = teacher.features(batch["image"]).numpy()
    assert out["feature"].item() == pytest.approx(float(((s_feat - t_feat) ** 2).mean()), rel=1e-5)


def test_kl_term_uses_the_teacher_head_on_the_projected_student_feature(models):
    teacher, student = _fresh(models)
    step = DistillStep(student.eval(), teacher)
    batch = _batch()
    with torch.no_grad():
        out = step.loss(batch)
        x = batch["image"]
        s_traw = teacher.heads["intensity"](student.features(x)[:, ::4])
        want = kl_term("intensity", s_traw, teacher(x)["intensity"], "bernoulli")
    assert out["kl"].item() == pytest.approx(want.item(), rel=1e-5)


def test_total_is_the_weighted_sum(models):
    teacher, student = _fresh(models)
    cfg = DistillConfig(alpha_feature=0.5, alpha_kl=2.0, task_weight=3.0)
    with torch.no_grad():
        out = DistillStep(student.eval(), teacher, cfg).loss(_batch())
    want = 0.5 * out["feature"] + 2.0 * out["kl"] + 3.0 * out["task"]
    assert out["loss"].item() == pytest.approx(want.item(), rel=1e-6)


def test_alpha_zero_loss_equals_the_task_loss(models):
    teacher, student = _fresh(models)
    with torch.no_grad():
        out = DistillStep(student.eval(), teacher, DistillConfig.ablation("none")).loss(_batch())
    assert out["loss"].item() == out["task"].item()


def test_teacher_unchanged_and_student_changed_after_a_step(models):
    teacher, student = _fresh(models)
    before_t = {k: v.clone() for k, v in teacher.state_dict().items()}
    before_s = student.encoder.conv1.weight.clone()
    step = DistillStep(student, teacher)
    step.module.train()
    opt = torch.optim.AdamW([p for p in step.module.parameters() if p.requires_grad], lr=1e-2)
    step.loss(_batch())["loss"].backward()
    opt.step()
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before_t.items())
    assert not torch.equal(before_s, student.encoder.conv1.weight)
    assert not teacher.training


def test_kl_gradients_flow_through_the_frozen_teacher_head(models):
    teacher, student = _fresh(models)
    cfg = DistillConfig(alpha_feature=0.0, alpha_kl=1.0, task_weight=0.0)
    step = DistillStep(student, teacher, cfg)
    step.loss(_batch())["loss"].backward()
    assert student.encoder.conv1.weight.grad.abs().sum().item() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_linear_projection_is_trained_with_the_student(models):
    teacher, student = _fresh(models)
    step = DistillStep(student, teacher, DistillConfig(projection="linear"))
    assert isinstance(step.module, StudentWithProjection)
    step.loss(_batch())["feature"].backward()
    assert step.projection.weight.grad.abs().sum().item() > 0


def test_relative_feature_term_by_hand_and_scale_free(models):
    teacher, student = _fresh(models)
    step = DistillStep(student.eval(), teacher, DistillConfig(feature_loss="relative"))
    batch = _batch()
    with torch.no_grad():
        out = step.loss(batch)
        s_feat = student.features(batch["image"])[:, ::4].numpy().astype(np.float64)
        t_feat = teacher.features(batch["image"]).numpy().astype(np.float64)
    want = ((s_feat - t_feat) ** 2).mean() / (t_feat**2).mean()
    assert out["feature"].item() == pytest.approx(want, rel=1e-5)
    s, t = torch.randn(5, 8), torch.randn(5, 8)
    assert feature_term(torch.zeros(5, 8), t, "relative").item() == pytest.approx(1.0)
    assert feature_term(t, t, "relative").item() == 0.0
    for scale in (1e-3, 1e3):  # the plain MSE scales with scale², the relative term does not
        assert feature_term(s * scale, t * scale, "relative").item() == pytest.approx(
            feature_term(s, t, "relative").item(), rel=1e-4
        )
        assert feature_term(s * scale, t * scale).item() == pytest.approx(
            feature_term(s, t).item() * scale**2, rel=1e-4
        )


def test_relative_feature_gradient_points_like_the_mse():
    s, t = torch.randn(4, 6, requires_grad=True), torch.randn(4, 6) * 30
    (g_mse,) = torch.autograd.grad(feature_term(s, t), s)
    (g_rel,) = torch.autograd.grad(feature_term(s, t, "relative"), s)
    cos = F.cosine_similarity(g_mse.flatten(), g_rel.flatten(), dim=0)
    assert cos.item() == pytest.approx(1.0, abs=1e-6)
    assert g_rel.norm() < g_mse.norm() / 100  # a teacher feature of scale 30 shrinks it 900x


def test_unknown_feature_loss_is_refused():
    with pytest.raises(ConfigError, match="feature_loss 'l1'"):
        DistillConfig(feature_loss="l1")


def test_plain_training_needs_no_teacher(models):
    _, student = _fresh(models)
    step = DistillStep(student, None, DistillConfig.ablation("none"))
    assert sorted(step.loss(_batch())) == ["loss", "task"]


def test_distillation_without_teacher_is_refused(models):
    with pytest.raises(ConfigError, match="need a teacher"):
        DistillStep(models[1], None)


def test_validate_returns_the_monitor_metric(models):
    teacher, student = _fresh(models)
    loader = [_batch(6, seed=1), _batch(6, seed=2)]
    metrics = DistillStep(student, teacher).validate(loader)
    assert sorted(metrics) == ["val_loss", "val_pcc"]


class _Faces(torch.utils.data.Dataset):
    """Random 32 px images with intensity labels (the FaceDataset item layout)."""

    def __init__(self, n: int, seed: int):
        b = _batch(n, seed)
        self.items = [{k: v[i] for k, v in b.items()} for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_train_student_with_fit_logs_every_term_and_saves_the_student(models, tmp_path):
    teacher, _ = _fresh(models)
    data = {"train": _Faces(8, 1), "val": _Faces(6, 2)}
    cfg = StudentRecipe(epochs=1, batch_size=4, progress=False).fit_config("intensity")
    student_cfg = ModelConfig("resnet18", ("intensity",), img_size=32)
    res = train_student(data, teacher, student_cfg, DistillConfig(), cfg, tmp_path / "s")
    (record,) = res.fit.history
    assert {"train_loss", "train_task", "train_feature", "train_kl", "val_pcc"} <= set(record)
    again = load_model(res.path).eval()
    x = _batch()["image"]
    with torch.no_grad():
        assert torch.equal(again(x)["intensity"], res.model.eval()(x)["intensity"])
    assert again.extra["distill"]["alpha_kl"] == 1.0
