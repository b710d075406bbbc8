"""Toy datasets and steps for the training-loop tests (and the DDP script): no face data needed."""

from __future__ import annotations

import torch
from torch import nn


class DictData(torch.utils.data.Dataset):
    """A synthetic linear regression y = x·w + noise as dict items; records set_epoch calls."""

    def __init__(self, n: int = 40, dim: int = 4, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, dim, generator=g)
        w = torch.arange(1, dim + 1, dtype=torch.float32)
        self.y = (self.x @ w)[:, None] + 0.1 * torch.randn(n, 1, generator=g)
        self.epochs: list[int] = []

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "y": self.y[i]}

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


class ToyStep:
    """MSE regression; ``dropout`` > 0 makes the result depend on the torch RNG (resume test)."""

    def __init__(self, dim: int = 4, dropout: float = 0.0, seed: int = 0) -> None:
        torch.manual_seed(seed)
        layers = [nn.Linear(dim, 16), nn.LayerNorm(16), nn.ReLU()]
        layers += [nn.Dropout(dropout)] if dropout else []
        self.module = nn.Sequential(*layers, nn.Linear(16, 1))

    def loss(self, batch: dict) -> dict:
        err = self.module(batch["x"]) - batch["y"]
        return {"loss": (err**2).mean(), "mae": err.abs().mean().detach()}

    def validate(self, loader) -> dict:
        dev = next(self.module.parameters()).device
        se, n = 0.0, 0
        for b in loader:
            err = self.module(b["x"].to(dev)) - b["y"].to(dev)
            se += float((err**2).sum())
            n += len(err)
        return {"val_loss": se / n}
