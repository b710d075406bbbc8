"""Models for the export and inference tests: small FaceModels from stream models' factory.

``tiny_model`` is ``create_model(ModelConfig("resnet18", tasks, img_size))`` with random weights
and randomised BatchNorm statistics, so that heads do not output near-constants.
"""

from __future__ import annotations

import numpy as np


def tiny_model(tasks=("intensity",), img_size=64, seed=0):
    """A random-weight ResNet-18 FaceModel in eval mode."""
    import torch
    from torch import nn

    from libreface_nb.models.factory import ModelConfig, create_model

    torch.manual_seed(seed)
    model = create_model(ModelConfig(arch="resnet18", tasks=tuple(tasks), img_size=img_size))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
                m.running_mean.normal_(0.0, 0.1)
    return model.eval()


def libreface_state_dict(model):
    """``model``'s weights in LibreFace's released-student layout (``{"model": sd}``)."""
    back = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    heads = {t: ("classifier" if i == 0 else "classifier_2") for i, t in enumerate(model.tasks)}
    sd = {}
    for k, v in model.state_dict().items():
        part, name, rest = k.split(".", 2)
        if part == "encoder":
            sd[f"encoder.{back[name]}.{rest}"] = v.clone()
        elif part == "heads":
            sd[f"{heads[name]}.{rest}"] = v.clone()
    return {"model": sd}


def random_faces(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Normalized-looking float32 inputs [n, 3, size, size]."""
    return np.random.default_rng(seed).normal(0, 1, (n, 3, size, size)).astype(np.float32)
