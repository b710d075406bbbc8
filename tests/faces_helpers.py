"""Shared helpers for the faces tests: real photos that ship with installed packages, media files.

Photos: scikit-image's ``astronaut`` (512×512) and matplotlib's ``grace_hopper.jpg`` (600×512).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np


@functools.cache
def astronaut() -> np.ndarray:
    """uint8 RGB [512, 512, 3]."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut())


def grace_hopper_path() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@functools.cache
def grace_hopper() -> np.ndarray:
    """uint8 RGB [600, 512, 3]."""
    from PIL import Image

    with Image.open(grace_hopper_path()) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def photos() -> dict[str, np.ndarray]:
    return {"astronaut": astronaut(), "grace_hopper": grace_hopper()}


def save_rgb(path: Path, image: np.ndarray, **kwargs) -> Path:
    """Write uint8 RGB with Pillow (format from the suffix)."""
    from PIL import Image

    Image.fromarray(image).save(path, **kwargs)
    return path


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize (keeping aspect) and centre ``image`` on a mid-grey canvas of width × height."""
    import cv2

    h, w = image.shape[:2]
    s = min(width / w, height / h)
    small = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 128, np.uint8)
    y0, x0 = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return canvas


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write RGB frames to an MJPG .avi (works offline with OpenCV's own encoder)."""
    import cv2

    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened(), f"cannot write {path}"
    for f in frames:
        out.write(np.ascontiguousarray(f[:, :, ::-1]))
    out.release()
    return path


def blank(width: int = 320, height: int = 240, value: int = 40) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)
