"""Run by test_train_loop's DDP test under torchrun: the toy regression, 2 processes, gloo."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from train_toys import DictData, ToyStep

from libreface_nb.train.loop import FitConfig, fit

if __name__ == "__main__":
    cfg = FitConfig(epochs=3, batch_size=8, lr=1e-2, warmup_epochs=0.5, monitor="val_loss",
                    mode="min", patience=0, progress=False)  # fmt: skip
    fit(ToyStep(), DictData(48), DictData(16, seed=1), cfg, sys.argv[1])
