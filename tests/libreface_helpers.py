"""LibreFace 0.2.0's model layouts and input recipe, written here from its key names and facts
(docs/libreface_facts.md §2–§4; none of its code): reference modules with random weights, a
weights folder in its layout, and its preprocessing of an aligned face, for the parity tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def head(out: int, sigmoid: bool = True) -> nn.Sequential:
    layers = [nn.Linear(512, 128), nn.ReLU(), nn.BatchNorm1d(128), nn.Dropout(0.1)]
    layers += [nn.Linear(128, out)] + ([nn.Sigmoid()] if sigmoid else [])
    return nn.Sequential(*layers)


class ResNetStudent(nn.Module):
    """torchvision ResNet-18 children 0–8 as ``encoder``; ``classifier`` (+ ``classifier_2``)."""

    def __init__(self, joint: bool):
        super().__init__()
        import torchvision

        tv = torchvision.models.resnet18(weights=None)
        self.encoder = nn.Sequential(*list(tv.children())[:-1])
        self.classifier = head(12)
        self.classifier_2 = head(12) if joint else None

    def forward(self, x):
        f = self.encoder(x).flatten(1)
        return [self.classifier(f)] + ([self.classifier_2(f)] if self.classifier_2 else [])


class RepVGGStudent(nn.Module):
    """timm repvgg_a0, ``head.fc`` → ``Sequential(head.fc, Linear(1000, 512))``; a head with a
    Sigmoid (FER) or without (AU detection)."""

    def __init__(self, out: int, sigmoid: bool):
        super().__init__()
        import timm

        enc = timm.create_model("repvgg_a0", pretrained=False)
        enc.head.fc = nn.Sequential(enc.head.fc, nn.Linear(1000, 512))
        self.encoder = enc
        self.classifier = head(out, sigmoid)

    def forward(self, x):
        return [self.classifier(self.encoder(x).flatten(1))]


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Random BatchNorm statistics and a wide last layer, so that outputs vary between faces."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
        for name in ("classifier", "classifier_2"):
            h = getattr(model, name, None)
            if h is not None:
                h[4].weight.mul_(2.0)
    return model.eval()


#: file (under the weights folder) → reference module factory.
FILES = {
    "AU_Recognition/weights/combined_resnet.pt": lambda: ResNetStudent(joint=True),
    "AU_Recognition/weights/resnet.pt": lambda: ResNetStudent(joint=False),
    "AU_Detection/weights/repvgg.pt": lambda: RepVGGStudent(12, sigmoid=False),
    "Facial_Expression_Recognition/weights/repvgg.pt": lambda: RepVGGStudent(8, sigmoid=True),
}


def weights_folder(root: Path, files=tuple(FILES), seed: int = 0) -> dict[str, nn.Module]:
    """Write LibreFace-layout files with random weights under ``root``; their modules."""
    torch.manual_seed(seed)
    out = {}
    for i, rel in enumerate(files):
        module = randomise(FILES[rel](), seed + i)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": module.state_dict()}, root / rel)
        out[rel] = module
    return out


def libreface_inputs(aligned512: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """LibreFace's inputs from its 512-px aligned face: AU (Resize(256) bilinear, CenterCrop
    224) and FER (Pillow's default resize to 224), each ToTensor + ImageNet normalization."""
    from PIL import Image

    pil = Image.fromarray(aligned512)
    au = np.asarray(pil.resize((256, 256), Image.Resampling.BILINEAR))[16:240, 16:240]
    fer = np.asarray(pil.resize((224, 224), Image.Resampling.BICUBIC))

    def tensor(a: np.ndarray) -> torch.Tensor:
        x = (a.astype(np.float32) / 255.0 - np.float32(MEAN)) / np.float32(STD)
        return torch.from_numpy(x.transpose(2, 0, 1)[None].copy())

    return tensor(au), tensor(fer)
