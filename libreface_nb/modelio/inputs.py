"""Aligned faces → the model's input tensor, the same for every engine.

:func:`prepare_faces` prepares 256×256 aligned faces exactly as
:func:`libreface_nb.data.transforms.build_transform` prepares them for evaluation (``au``: resize
to round(S·256/224) with Pillow's antialiased bilinear filter, as torchvision's ``Resize`` does,
then centre crop S; ``fer``: resize to S×S), then ImageNet normalization. Inference
(:mod:`libreface_nb.infer.backends`) and int8 calibration (:mod:`libreface_nb.export.calibration`)
both use it, so the quantizer sees the faces the model will meet.
"""

from __future__ import annotations

import numpy as np

from libreface_nb.modelio.metadata import ModelInfo


def prepare_faces(faces: np.ndarray | list[np.ndarray], info: ModelInfo) -> np.ndarray:
    """Aligned uint8 faces ``[N, A, A, 3]`` (A = ``info.aligned_size``) → f32 ``[N, 3, S, S]``."""
    from PIL import Image

    s = info.input_size
    side = round(s * info.aligned_size / 224) if info.transform == "au" else s
    out = np.empty((len(faces), s, s, 3), np.uint8)
    for i, face in enumerate(faces):
        img = np.asarray(face)
        if img.shape[:2] != (side, side):
            img = np.asarray(Image.fromarray(img).resize((side, side), Image.BILINEAR))
        top = int(round((side - s) / 2.0))  # torchvision CenterCrop's offset
        out[i] = img[top : top + s, top : top + s]
    # (v - mean) * inv_std for the 256 possible values of each channel, looked up straight into
    # the NCHW layout: the same float32 numbers as the arithmetic, in one pass over the pixels.
    mean = np.asarray(info.mean, np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(info.std, np.float32) * 255.0)
    lut = np.ascontiguousarray(((np.arange(256, dtype=np.float32)[:, None] - mean) * inv_std).T)
    x = np.empty((len(faces), 3, s, s), np.float32)
    for c in range(3):
        np.take(lut[c], out[..., c], out=x[:, c], mode="clip")  # uint8: always in range
    return x
