"""A stand-in for stream models' FaceModel (the model contract), for export and inference tests.

``models.factory.create_model`` builds the real one; until it lands here, this wraps a timm
ResNet-18 to the same shape: ``.config`` (``tasks``, ``img_size``, ``to_dict()``), ``.encoder``,
``.heads`` and ``forward(x) -> {"feature": [N, 512], <task>: raw [N, K]}``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class TinyConfig:
    arch: str = "resnet18"
    tasks: tuple[str, ...] = ("intensity",)
    img_size: int = 64

    def to_dict(self) -> dict:
        return {**asdict(self), "tasks": list(self.tasks)}


def tiny_model(tasks=("intensity",), img_size=64, seed=0):
    """A random-weight ResNet-18 FaceModel stand-in in eval mode."""
    import timm
    import torch
    from torch import nn

    from libreface_nb.models.tasks import get_task

    class FaceModel(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.config = cfg
            self.encoder = timm.create_model("resnet18", pretrained=False, num_classes=0)
            self.heads = nn.ModuleDict(
                {
                    t: nn.Sequential(
                        nn.Linear(512, 128),
                        nn.ReLU(),
                        nn.BatchNorm1d(128),
                        nn.Dropout(0.1),
                        nn.Linear(128, get_task(t).n_outputs),
                    )  # fmt: skip
                    for t in cfg.tasks
                }
            )

        def forward(self, x):
            feat = self.encoder(x)
            return {"feature": feat, **{t: h(feat) for t, h in self.heads.items()}}

    torch.manual_seed(seed)
    model = FaceModel(TinyConfig(tasks=tuple(tasks), img_size=img_size))
    # Non-trivial BatchNorm statistics so that heads do not output constants.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
                m.running_mean.normal_(0.0, 0.1)
    return model.eval()


def random_faces(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Normalized-looking float32 inputs [n, 3, size, size]."""
    return np.random.default_rng(seed).normal(0, 1, (n, 3, size, size)).astype(np.float32)
