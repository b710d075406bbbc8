"""SynthAU appearance: colour and lighting styles, the drawn mouth interior, frame degradations.

Pure array functions (uint8 RGB in, uint8 RGB out). A *style* (per pseudo-subject) is a colour
matrix (hue rotation, saturation, white balance), contrast, brightness, gamma and a linear
lighting gradient. *Degradations* (per frame) are Gaussian blur, sensor noise and JPEG artefacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# RGB → YIQ; a hue rotation is a rotation of the (I, Q) chroma plane.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_INV = np.linalg.inv(_YIQ)

#: Mouth interior colours (RGB): dark oral cavity and upper teeth.
MOUTH_DARK = np.array([70.0, 24.0, 24.0])
TEETH = np.array([214.0, 204.0, 188.0])


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


def paint_mouth(
    image: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    opacity: float,
    teeth: float,
    down: np.ndarray,
    colours: tuple[np.ndarray, np.ndarray] = (MOUTH_DARK, TEETH),
) -> np.ndarray:
    """Draw the mouth interior between the inner lip contours (in place; returns ``image``).

    Args:
        image: uint8 RGB ``[H, W, 3]``.
        upper, lower: inner-lip contours ``[K, 2]`` in pixels, corner to corner, including both
            corners (same order).
        opacity: 0–1 blend of the drawing (0 = nothing drawn).
        teeth: height of the visible upper-teeth band in pixels (tapering to 0 at the corners).
        down: unit vector ``[2]``, the face's downward direction in the image.
        colours: RGB of the oral cavity and of the teeth (0–255).
    """
    import cv2

    if opacity <= 0:
        return image
    poly = np.concatenate([upper, lower[::-1]])
    band_poly = None
    if teeth >= 0.5:
        taper = np.sqrt(np.sin(np.pi * np.linspace(0.0, 1.0, len(upper))))
        edge = upper + (teeth * taper)[:, None] * np.asarray(down, np.float64)
        band_poly = np.concatenate([upper, edge[::-1]])
    # Work in the mouth's bounding box only (plus room for the blurs).
    pad = int(np.ceil(3 * max(1.0, teeth))) + 2
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(0)).astype(int) + pad + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return image
    roi = image[y0:y1, x0:x1]
    off = np.array([x0, y0], np.float64)
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round((poly - off) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    band = np.zeros_like(mask)
    if band_poly is not None:
        pts = np.round((band_poly - off) * 16).astype(np.int32)
        cv2.fillPoly(band, [pts], 255, cv2.LINE_AA, 4)
    m = cv2.GaussianBlur(mask, (0, 0), 0.6).astype(np.float32)[..., None] / 255.0
    t = (band.astype(np.float32)[..., None] / 255.0) * (mask[..., None] / 255.0)
    # The cavity darkens away from the lips (a blurred mask is ~1 deep inside, ~0.5 at edges).
    core = cv2.GaussianBlur(mask, (0, 0), max(1.0, teeth)).astype(np.float32)[..., None] / 255.0
    dark = np.asarray(colours[0], np.float32) * (1.3 - 0.6 * core)
    colour = dark * (1 - t) + np.asarray(colours[1], np.float32) * t
    out = roi.astype(np.float32) * (1 - opacity * m) + colour * (opacity * m)
    roi[:] = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return image


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
