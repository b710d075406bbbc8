"""fit: schedule, weight-decay groups, checkpoints, history, early stopping, resume, DDP."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from libreface_nb.errors import ConfigError
from libreface_nb.models.factory import ModelConfig
from libreface_nb.train import state as S
from libreface_nb.train.loop import (
    FitConfig,
    FitInterrupted,
    epoch_order,
    fit,
    global_batches,
    param_groups,
)
from libreface_nb.train.schedule import lr_at

sys.path.insert(0, str(Path(__file__).parent))
from train_toys import DictData, ToyStep

VOLATILE = ("seconds", "images_per_s")


def _cfg(**kw) -> FitConfig:
    base = dict(epochs=3, batch_size=8, lr=1e-2, warmup_epochs=0.5, monitor="val_loss",
                mode="min", patience=0, progress=False)  # fmt: skip
    return FitConfig(**(base | kw))


def _stable(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in rec.items() if k not in VOLATILE} for rec in history]


# -- schedule -------------------------------------------------------------------------------
def test_lr_warmup_is_linear_from_one_step():
    assert [lr_at(s, 1.0, 10, 4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]


def test_lr_cosine_midpoint_is_half_way_to_the_floor():
    assert lr_at(7, 1.0, 10, 4, min_lr=0.2) == pytest.approx(
        0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * 0.5))
    )


def test_lr_cosine_reaches_the_floor_at_total():
    assert lr_at(10, 1.0, 10, 4, min_lr=0.1) == pytest.approx(0.1)


def test_lr_at_first_cosine_step_is_the_peak():
    assert lr_at(4, 3e-5, 10, 4) == pytest.approx(3e-5)


def test_lr_without_warmup_at_step_2_of_8():
    assert lr_at(2, 1.0, 8) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25)))


# -- pieces ---------------------------------------------------------------------------------
def test_param_groups_skip_biases_norms_and_positions():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_embed = nn.Parameter(torch.zeros(1, 4, 8))
            self.fc = nn.Linear(8, 8)
            self.norm = nn.LayerNorm(8)

    m = M()
    no_decay, decay = param_groups(m, 0.05)
    assert {id(p) for p in decay["params"]} == {id(m.fc.weight)}
    assert len(no_decay["params"]) == 4  # pos_embed, fc.bias, norm.weight, norm.bias


def test_epoch_order_depends_on_seed_and_epoch_only():
    assert epoch_order(10, 3, 1).tolist() == epoch_order(10, 3, 1).tolist()
    assert epoch_order(10, 3, 1).tolist() != epoch_order(10, 3, 2).tolist()


def test_global_batches_drop_last_and_small_datasets():
    assert (global_batches(41, 8, True, None), global_batches(41, 8, False, None)) == (5, 6)
    assert global_batches(5, 8, True, None) == 1
    assert global_batches(41, 8, True, 2) == 2


# -- fit ------------------------------------------------------------------------------------
def test_fit_writes_history_and_checkpoints(tmp_path):
    data, val = DictData(40), DictData(16, seed=1)
    res = fit(ToyStep(), data, val, _cfg(), tmp_path)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(lines) == 3
    rec = json.loads(lines[0])
    assert set(rec) == {"epoch", "step", "lr", "train_loss", "train_mae", "val_loss", "best",
                        "seconds", "images_per_s"}  # fmt: skip
    assert [r["step"] for r in res.history] == [5, 10, 15]
    assert data.epochs == [0, 1, 2]
    assert S.load(tmp_path / "last.pt")["done"] is True
    best = S.load(tmp_path / "best.pt")
    assert best["epoch"] == res.best_epoch
    assert res.history[-1]["val_loss"] < res.history[0]["val_loss"]


def test_fit_restores_the_best_weights(tmp_path):
    step = ToyStep()
    fit(step, DictData(40), DictData(16, seed=1), _cfg(), tmp_path)
    best = S.load(tmp_path / "best.pt")["model"]
    assert all(torch.equal(v, step.module.state_dict()[k]) for k, v in best.items())


def test_early_stopping_after_patience(tmp_path):
    class Never(ToyStep):
        def validate(self, loader):
            return {"val_loss": 1.0}  # never improves after the first epoch

    res = fit(Never(), DictData(40), DictData(8), _cfg(epochs=10, patience=2), tmp_path)
    assert (len(res.history), res.stopped_early, res.best_epoch) == (3, True, 0)


def test_missing_monitor_key_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="val_pcc"):
        fit(ToyStep(), DictData(16), DictData(8), _cfg(monitor="val_pcc", mode="max"), tmp_path)


def test_resume_mid_epoch_equals_an_uninterrupted_run(tmp_path):
    """Interrupted after 7 steps (epoch 1, batch 2 of 5), resumed: same weights and history."""
    cfg = _cfg(epochs=3)
    ref_step = ToyStep(dropout=0.3)
    ref = fit(ref_step, DictData(40), DictData(16, seed=1), cfg, tmp_path / "ref")
    with pytest.raises(FitInterrupted):
        fit(ToyStep(dropout=0.3), DictData(40), DictData(16, seed=1),
            _cfg(epochs=3, stop_after_steps=7), tmp_path / "run")  # fmt: skip
    ck = S.load(tmp_path / "run" / "last.pt")
    assert (ck["epoch"], ck["batch"], ck["step"]) == (1, 2, 7)
    resumed_step = ToyStep(dropout=0.3, seed=99)  # fresh weights: everything comes from last.pt
    data = DictData(40)
    res = fit(resumed_step, data, DictData(16, seed=1), cfg, tmp_path / "run")
    assert data.epochs == [1, 2]
    assert _stable(res.history) == _stable(ref.history)
    ref_sd, sd = ref_step.module.state_dict(), resumed_step.module.state_dict()
    assert all(torch.equal(ref_sd[k], sd[k]) for k in ref_sd)


def test_resume_with_another_batch_size_is_refused(tmp_path):
    with pytest.raises(FitInterrupted):
        fit(ToyStep(), DictData(40), DictData(8), _cfg(stop_after_steps=2), tmp_path)
    with pytest.raises(ConfigError, match="batch_size"):
        fit(ToyStep(), DictData(40), DictData(8), _cfg(batch_size=4), tmp_path)


def test_resume_on_another_training_set_is_refused(tmp_path):
    """Same FitConfig, other data: last.pt belongs to another run, so fit says so."""
    with pytest.raises(FitInterrupted):
        fit(ToyStep(), DictData(40), DictData(8), _cfg(stop_after_steps=2), tmp_path)
    with pytest.raises(ConfigError, match="train_images=40.*train_images=48"):
        fit(ToyStep(), DictData(48), DictData(8), _cfg(), tmp_path)


def test_resume_with_another_model_config_is_refused(tmp_path):
    """A config the state dict does not pin (here img_size, as a CNN's weights load at any
    size) is checked on resume; the same config resumes."""

    class Configured(ToyStep):
        def __init__(self, img_size: int) -> None:
            super().__init__()
            self.module.config = ModelConfig("resnet18", ("intensity",), img_size=img_size)

    with pytest.raises(FitInterrupted):
        fit(Configured(96), DictData(40), DictData(8), _cfg(stop_after_steps=2), tmp_path)
    with pytest.raises(ConfigError, match="img_size=96.*img_size=112"):
        fit(Configured(112), DictData(40), DictData(8), _cfg(), tmp_path)
    res = fit(Configured(96), DictData(40), DictData(8), _cfg(), tmp_path)
    assert len(res.history) == 3


def test_resume_ignores_a_config_that_is_not_a_dataclass(tmp_path):
    """A user module's own ``config`` object (repr with its address) does not block a resume."""

    class Opaque(ToyStep):
        def __init__(self) -> None:
            super().__init__()
            self.module.config = object()

    with pytest.raises(FitInterrupted):
        fit(Opaque(), DictData(40), DictData(8), _cfg(stop_after_steps=2), tmp_path)
    res = fit(Opaque(), DictData(40), DictData(8), _cfg(), tmp_path)
    assert len(res.history) == 3


# -- DDP ------------------------------------------------------------------------------------
def test_resume_partials_count_every_step_once_with_another_process_count():
    """A DDP last.pt keeps each process's running sums; resumed by as many processes each gets
    its own, by another number rank 0 gets their sum and the others zeros with the same keys."""
    from libreface_nb.train.distributed import Dist
    from libreface_nb.train.loop import _own_partial

    p0 = {"sums": {"loss": 1.0, "mae": 0.5}, "count": 2, "images": 8, "seconds": 3.0}
    p1 = {"sums": {"loss": 2.0, "mae": 0.25}, "count": 2, "images": 8, "seconds": 4.0}
    ck = {"partial": p0, "partials": [p0, p1]}
    assert _own_partial(ck, Dist(1, 2)) == p1
    summed = {"sums": {"loss": 3.0, "mae": 0.75}, "count": 4, "images": 16, "seconds": 3.0}
    assert _own_partial(ck, Dist(0, 1)) == summed
    zeros = {"sums": {"loss": 0.0, "mae": 0.0}, "count": 0, "images": 0, "seconds": 0.0}
    assert _own_partial({"partial": p0}, Dist(1, 2)) == zeros
    assert _own_partial({"partial": p0}, Dist(0, 2)) == p0
    assert _own_partial({"partial": p0}, Dist(0, 1)) == p0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(out: Path, *args: str) -> list[dict]:
    """tests/ddp_fit_script.py under torchrun (2 gloo processes); each rank's record."""
    script = Path(__file__).parent / "ddp_fit_script.py"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), str(script), str(out), *args]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, timeout=60, capture_output=True)
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def _unused_head_init() -> dict[str, torch.Tensor]:
    """The script's never-called head as built: ToyStep() (seed 0), then nn.Linear(16, 1)."""
    ToyStep()
    return {f"unused.{k}": v for k, v in nn.Linear(16, 1).state_dict().items()}


@pytest.mark.slow
def test_ddp_two_processes_follow_the_single_process_curve(tmp_path):
    """2 gloo processes, same global batch: per-epoch train loss equals one process's.

    Each process takes half of every global batch and DistributedDataParallel averages the
    gradients, so the update is the one-process update up to float32 summation order (~1e-7
    relative per step); over 18 steps of this well-conditioned regression that stays far below
    rtol 1e-4 (measured: 3.0e-8 train, 4.8e-8 validation). Every training loss went through the
    DDP wrapper; the checkpoint holds the bare module's keys; a head that no loss uses keeps its
    initial weights (DDP leaves its gradient None, as one process does, and AdamW skips it).
    """
    records = _torchrun(tmp_path / "ddp")
    assert records == [{"ddp": 18, "bare": 0, "group_left": True}] * 2
    ddp = S.read_history(tmp_path / "ddp" / "history.jsonl")
    single = fit(ToyStep(), DictData(48), DictData(16, seed=1), _cfg(), tmp_path / "one").history
    assert [r["train_loss"] for r in ddp] == pytest.approx(
        [r["train_loss"] for r in single], rel=1e-4
    )
    assert [r["val_loss"] for r in ddp] == pytest.approx([r["val_loss"] for r in single], rel=1e-4)
    model = S.load(tmp_path / "ddp" / "last.pt")["model"]
    toy_keys = {f"net.{k}" for k in ToyStep().module.state_dict()}
    assert set(model) == toy_keys | {"unused.weight", "unused.bias"}
    for key, value in _unused_head_init().items():
        assert torch.equal(model[key], value), key


@pytest.mark.slow
def test_ddp_resume_mid_epoch_equals_an_uninterrupted_ddp_run(tmp_path):
    """2 processes stopped after step 9 (mid-epoch 1) and resumed: same weights and history as
    2 processes uninterrupted (the bare module's last.pt loads before DDP wraps it)."""
    assert _torchrun(tmp_path / "cut", "9") == [{"ddp": 9, "bare": 0, "group_left": True}] * 2
    assert _torchrun(tmp_path / "cut") == [{"ddp": 9, "bare": 0, "group_left": True}] * 2
    _torchrun(tmp_path / "whole")
    cut, whole = S.load(tmp_path / "cut" / "last.pt"), S.load(tmp_path / "whole" / "last.pt")
    assert cut["step"] == whole["step"] == 18
    for key in whole["model"]:
        assert torch.equal(cut["model"][key], whole["model"][key]), key
    assert _stable(S.read_history(tmp_path / "cut" / "history.jsonl")) == _stable(
        S.read_history(tmp_path / "whole" / "history.jsonl")
    )
