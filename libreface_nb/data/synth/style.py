"""SynthAU style: colour and lighting styles per subject, frame degradations.

Pure array functions (uint8 RGB in, uint8 RGB out). A *style* (per pseudo-subject) is a colour
matrix (hue rotation, saturation, white balance), contrast, brightness, gamma and a linear
lighting gradient. *Degradations* (per frame) are Gaussian blur, sensor noise and JPEG
artefacts. The mouth interior is drawn by :mod:`.mouth`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# RGB → YIQ; a hue rotation is a rotation of the (I, Q) chroma plane.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_INV = np.linalg.inv(_YIQ)


@dataclass(frozen=True)
class Style:
    """Colour and lighting style of a pseudo-subject.

    Attributes:
        hue: hue rotation in degrees.
        saturation: chroma gain (1 = unchanged).
        gains: white balance, RGB multipliers.
        contrast: contrast gain around mid-grey.
        brightness: offset in [0, 1] units.
        gamma: output gamma (``v ** gamma``).
        light: lighting gradient strength (relative gain change across the frame).
        light_angle: direction of the gradient in radians.
    """

    hue: float = 0.0
    saturation: float = 1.0
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    contrast: float = 1.0
    brightness: float = 0.0
    gamma: float = 1.0
    light: float = 0.0
    light_angle: float = 0.0


def random_style(rng: np.random.Generator) -> Style:
    """A plausible random style (hue ±8°, saturation 0.7–1.25, gamma 0.8–1.25, lighting ±30 %)."""
    return Style(
        hue=float(rng.uniform(-8, 8)),
        saturation=float(rng.uniform(0.7, 1.25)),
        gains=tuple(float(g) for g in rng.uniform(0.9, 1.1, 3)),
        contrast=float(rng.uniform(0.85, 1.15)),
        brightness=float(rng.uniform(-0.06, 0.06)),
        gamma=float(rng.uniform(0.8, 1.25)),
        light=float(rng.uniform(-0.3, 0.3)),
        light_angle=float(rng.uniform(0, 2 * np.pi)),
    )


def colour_matrix(style: Style) -> np.ndarray:
    """The ``[3, 3]`` linear part of a style (hue, saturation, white balance) on RGB columns."""
    a = np.deg2rad(style.hue)
    chroma = style.saturation * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    yiq = np.eye(3)
    yiq[1:, 1:] = chroma
    return np.diag(style.gains) @ _YIQ_INV @ yiq @ _YIQ


def apply_style(image: np.ndarray, style: Style, lighting: bool = True) -> np.ndarray:
    """Apply a style to uint8 RGB ``[H, W, 3]`` (or colours ``[..., 3]`` in 0–255 when
    ``lighting`` is False) and return uint8 of the same shape."""
    x = image.astype(np.float32) / 255.0
    x = x @ colour_matrix(style).T.astype(np.float32)
    x = (x - 0.5) * style.contrast + 0.5 + style.brightness
    if lighting and style.light and x.ndim == 3:
        h, w = x.shape[:2]
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        d = np.cos(style.light_angle) * (xs / w - 0.5) + np.sin(style.light_angle) * (ys / h - 0.5)
        x = x * (1.0 + style.light * d)[..., None]
    x = np.clip(x, 0.0, 1.0) ** style.gamma
    return np.round(x * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class Degradation:
    """Per-frame image degradations.

    Attributes:
        blur: Gaussian blur sigma in pixels (0 = none).
        noise: Gaussian noise sigma in 0–255 units.
        jpeg: JPEG quality 1–100 (0 = no JPEG round trip).
        seed: noise seed.
    """

    blur: float = 0.0
    noise: float = 0.0
    jpeg: int = 0
    seed: int = 0


def random_degradation(rng: np.random.Generator) -> Degradation:
    """Blur (half the frames, sigma 0.3–1.2), noise (sigma 0–6) and JPEG (70 %, quality 35–95)."""
    blur = float(rng.uniform(0.3, 1.2)) if rng.random() < 0.5 else 0.0
    noise = float(rng.uniform(0.0, 6.0))
    jpeg = int(rng.integers(35, 96)) if rng.random() < 0.7 else 0
    return Degradation(blur, noise, jpeg, int(rng.integers(2**31)))


def degrade(image: np.ndarray, deg: Degradation) -> np.ndarray:
    """Apply a :class:`Degradation` to uint8 RGB ``[H, W, 3]``; returns a new array."""
    import cv2

    out = image
    if deg.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), deg.blur)
    if deg.noise > 0:
        rng = np.random.default_rng(deg.seed)
        noise = rng.standard_normal(out.shape, dtype=np.float32) * deg.noise
        out = np.clip(out.astype(np.float32) + noise, 0, 255).round().astype(np.uint8)
    if deg.jpeg > 0:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, deg.jpeg])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)
