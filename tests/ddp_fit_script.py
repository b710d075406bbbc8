"""Run by test_train_loop's DDP tests under torchrun: the toy regression, 2 processes, gloo.

``ddp_fit_script.py OUT [STOP_AFTER]``: fit the toy (plus a head the loss never uses) into OUT;
with STOP_AFTER, stop after that many steps (FitInterrupted, last.pt saved) and exit 0. Each
rank writes ``OUT/rank<r>.json``: how many training losses went through a
DistributedDataParallel forward, and how many through the bare module.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from train_toys import DictData, ToyStep

from libreface_nb.train.loop import FitConfig, FitInterrupted, fit


class WithUnused(nn.Module):
    """The toy network ``net`` and a head ``unused`` that the forward never calls."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.unused = net, nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class UnusedHeadStep(ToyStep):
    """ToyStep whose module also holds a head no loss uses (built after the toy's layers, so
    those start as in ToyStep()): DDP must leave its gradient None, as one process does, so
    AdamW leaves it at its initial value. Counts the losses computed inside a DDP forward."""

    def __init__(self) -> None:
        super().__init__()
        self.module = WithUnused(self.module)
        self.calls = {"ddp": 0, "bare": 0}

    def loss(self, batch: dict) -> dict:
        self.calls["ddp" if _in_ddp else "bare"] += 1
        return super().loss(batch)


_in_ddp = False
_ddp_forward = DistributedDataParallel.forward


def _counting_forward(self, *args, **kwargs):
    global _in_ddp
    _in_ddp = True
    try:
        return _ddp_forward(self, *args, **kwargs)
    finally:
        _in_ddp = False


DistributedDataParallel.forward = _counting_forward

if __name__ == "__main__":
    out = Path(sys.argv[1])
    stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
    cfg = FitConfig(epochs=3, batch_size=8, lr=1e-2, warmup_epochs=0.5, monitor="val_loss",
                    mode="min", patience=0, progress=False, stop_after_steps=stop)  # fmt: skip
    step = UnusedHeadStep()
    try:
        fit(step, DictData(48), DictData(16, seed=1), cfg, out)
    except FitInterrupted:
        pass
    # after fit the bare module trains on without the group (no DDP hook is left on it)
    step.module(torch.ones(2, 4)).sum().backward()
    rank = dist.get_rank() if dist.is_initialized() else int(os.environ["RANK"])
    record = step.calls | {"group_left": not dist.is_initialized()}
    (out / f"rank{rank}.json").write_text(json.dumps(record))
