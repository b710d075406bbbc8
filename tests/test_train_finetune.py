"""Teacher fine-tuning: masked losses, metrics vs scipy/sklearn, all three tasks, MAE import."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import f1_score

from libreface_nb.errors import ConfigError, RunError
from libreface_nb.models.factory import ModelConfig, load_model
from libreface_nb.train import metrics as M
from libreface_nb.train.finetune import (
    FinetuneResult,
    FinetuneStep,
    choose_on_validation,
    evaluate,
    finetune_teacher,
    publish_teacher,
    task_loss,
)
from libreface_nb.train.loop import FitResult
from libreface_nb.train.mae import MAE, save_mae_checkpoint
from libreface_nb.train.recipes import TeacherRecipe


# -- metrics --------------------------------------------------------------------------------
def test_pcc_matches_scipy_on_known_frames():
    rng = np.random.default_rng(0)
    pred, true = rng.random((30, 2)), rng.random((30, 2))
    mask = np.ones((30, 2))
    mask[:5, 1] = 0
    mean, per = M.pcc(pred, true, mask)
    assert per[1] == pytest.approx(pearsonr(pred[5:, 1], true[5:, 1]).statistic, abs=1e-12)
    assert mean == pytest.approx((pearsonr(pred[:, 0], true[:, 0]).statistic + per[1]) / 2)


def test_pcc_excludes_a_constant_au():
    pred, true = (
        np.array([[0.1, 1.0], [0.5, 2.0], [0.9, 3.0]]),
        np.array([[0, 1.0], [0, 2], [0, 3]]),
    )
    mean, per = M.pcc(pred, true, np.ones((3, 2)))
    assert (np.isnan(per[0]), mean) == (True, pytest.approx(1.0))


def test_f1_matches_sklearn():
    rng = np.random.default_rng(1)
    prob, true = rng.random((40, 3)), (rng.random((40, 3)) > 0.6) * 1.0
    mean, per = M.f1(prob, true, np.ones((40, 3)))
    ref = [f1_score(true[:, k], prob[:, k] >= 0.5) for k in range(3)]
    assert per == pytest.approx(ref)


def test_accuracy_skips_unknown_targets():
    logits = np.array([[2.0, 0], [0, 2.0], [2.0, 0]])
    assert M.accuracy(logits, np.array([0, 0, -1]))[0] == 0.5


# -- losses ---------------------------------------------------------------------------------
def test_intensity_loss_is_masked_mse_on_the_0_5_scale():
    raw = torch.zeros(2, 2)  # 5·sigmoid(0) = 2.5
    batch = {
        "labels": torch.tensor([[0.5, 4.5], [2.5, 0.0]]),
        "mask": torch.tensor([[1.0, 1], [1, 0]]),
    }
    assert task_loss("intensity", raw, batch).item() == pytest.approx((4 + 4 + 0) / 3)


def test_detection_loss_ignores_unknown_labels():
    raw = torch.tensor([[0.0, 100.0]])
    batch = {"labels": torch.tensor([[1.0, 0.0]]), "mask": torch.tensor([[1.0, 0.0]])}
    assert task_loss("detection", raw, batch).item() == pytest.approx(np.log(2))


def test_expression_loss_ignores_minus_one():
    raw = torch.tensor([[0.0, 0.0], [50.0, 0.0]])
    assert task_loss(
        "expression", raw, {"expression": torch.tensor([0, -1])}
    ).item() == pytest.approx(np.log(2))


# -- training -------------------------------------------------------------------------------
class Faces(torch.utils.data.Dataset):
    """Tiny images whose brightness encodes every label: a task a small ViT learns in seconds."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.level = torch.rand(n, generator=g)
        self.noise = 0.1 * torch.randn(n, 3, 32, 32, generator=g)

    def __len__(self) -> int:
        return len(self.level)

    def __getitem__(self, i: int) -> dict:
        lv = float(self.level[i])
        expression = torch.tensor(int(lv > 0.5))
        return {"image": self.noise[i] + 4 * lv - 2, "labels": torch.full((12,), 5 * lv),
                "mask": torch.ones(12), "expression": expression, "row": i}  # fmt: skip


def _teacher(task: str) -> ModelConfig:
    return ModelConfig(arch="vit", tasks=(task,), img_size=32, vit_size="tiny", pool="mean")


@pytest.mark.parametrize("task", ["intensity", "detection", "expression"])
def test_finetune_each_task_writes_a_loadable_teacher(tmp_path, task):
    data = {"train": Faces(32, 0), "val": Faces(16, 1)}
    cfg = TeacherRecipe(task=task, epochs=2, batch_size=16, lr=1e-3, progress=False).fit_config()
    res = finetune_teacher(data, task, _teacher(task), cfg, tmp_path)
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.config.tasks == (task,)
    assert (
        res.fit.history[-1][get_monitor(task)] == res.fit.history[-1][get_monitor(task)]
    )  # not NaN


def get_monitor(task: str) -> str:
    from libreface_nb.models.tasks import get_task

    return get_task(task).monitor


def test_intensity_teacher_learns_the_toy_task(tmp_path):
    data = {"train": Faces(64, 0), "val": Faces(32, 1)}
    cfg = TeacherRecipe(epochs=6, batch_size=16, lr=1e-3, progress=False).fit_config()
    res = finetune_teacher(data, "intensity", _teacher("intensity"), cfg, tmp_path)
    assert evaluate(res.model, "intensity", Faces(32, 2))["pcc"] > 0.9


def test_mae_checkpoint_loads_with_no_missing_encoder_key(tmp_path):
    mae = MAE("tiny", 32, class_token=False, decoder="small")
    path = save_mae_checkpoint(tmp_path / "encoder.pth", mae)
    data = {"train": Faces(16, 0), "val": Faces(8, 1)}
    cfg = replace(
        TeacherRecipe(epochs=1, batch_size=8, progress=False).fit_config(), restore_best=False
    )
    res = finetune_teacher(data, "intensity", _teacher("intensity"), cfg, tmp_path / "t",
                           encoder_checkpoint=path)  # fmt: skip
    assert (res.import_report.missing, len(res.import_report.loaded)) == ([], 12 * 12 + 4)


def test_finetune_step_validate_reports_the_monitor():
    from libreface_nb.models.factory import create_model

    step = FinetuneStep(create_model(_teacher("detection")), "detection")
    out = step.validate(torch.utils.data.DataLoader(Faces(8, 0), batch_size=4))
    assert sorted(out) == ["val_f1", "val_loss"]


# -- choosing the run's teacher ---------------------------------------------------------------
def _result(best: float | None) -> FinetuneResult:
    fit = FitResult(best, 0, [], Path("b"), Path("l"), Path("h"), steps=1, stopped_early=False)
    return FinetuneResult(model=None, fit=fit)


def test_choose_on_validation_takes_the_best_and_the_first_on_a_tie():
    assert (
        choose_on_validation({"pretrained": _result(0.66), "scratch": _result(0.76)}) == "scratch"
    )
    assert (
        choose_on_validation({"pretrained": _result(0.7), "scratch": _result(0.7)}) == "pretrained"
    )
    low = {"a": _result(0.3), "b": _result(0.2)}
    assert choose_on_validation(low, mode="min") == "b"


def test_choose_on_validation_refuses_an_unvalidated_fit():
    with pytest.raises(ConfigError, match="scratch"):
        choose_on_validation({"pretrained": _result(0.5), "scratch": _result(float("nan"))})
    with pytest.raises(ConfigError, match="scratch"):
        choose_on_validation({"pretrained": _result(0.5), "scratch": _result(None)})


def test_publish_teacher_writes_the_chosen_model_and_history_once(tmp_path):
    data = {"train": Faces(16, 0), "val": Faces(8, 1)}
    cfg = TeacherRecipe(epochs=2, batch_size=8, progress=False).fit_config()
    res = finetune_teacher(data, "intensity", _teacher("intensity"), cfg, tmp_path / "scratch")
    path = publish_teacher(res, tmp_path / "teacher", extra={"teacher_source": "scratch"})
    loaded = load_model(path)
    for key, value in res.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.extra["teacher_source"] == "scratch"
    assert loaded.extra["best_epoch"] == res.fit.best_epoch
    history = (tmp_path / "teacher" / "history.jsonl").read_bytes()
    assert history == (tmp_path / "scratch" / "history.jsonl").read_bytes()
    with pytest.raises(RunError, match="already holds"):
        publish_teacher(res, tmp_path / "teacher")
