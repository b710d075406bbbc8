"""SynthAU appearance: the skin changes FACS describes, painted into the base texture.

Shape alone is a caricature: FACS identifies many AUs as much by what they do to the skin as by
how far landmarks move (Ekman, Friesen & Hager 2002, the *appearance changes* of each AU). This
module paints those changes — creases, furrows, bulges — into the subject's working image
*before* the mesh warp, so that they move with the skin under every AU and every head pose.

Each feature is tied to MediaPipe landmarks of the base photo with offsets in the face frame
(IOD units, see :mod:`.aus`), given for the subject's right side and mirrored for the left:

- AU1: horizontal forehead lines over the middle of the forehead;
- AU2: forehead lines over the outer brows;
- AU4: vertical glabellar furrows between the brows and a horizontal fold at the nasal root;
- AU6: crow's feet at the outer eye corners, the infra-orbital furrow under the lower lid and a
  lit cheek bulge;
- AU9: horizontal wrinkles across the nose bridge;
- AU10, AU12: the nasolabial fold (AU10 its upper part mostly, AU12 all of it, curved outward);
- AU15: the fold below the lip corners (marionette line);
- AU17: the chin boss: a lit bulge with a dimpled ("orange peel") texture and a deeper
  mentolabial sulcus under the lower lip.

A crease is a dark groove with a lighter ridge just above it; a bulge is a soft highlight with a
shadow at its lower edge. Darkness grows linearly with intensity (``v / 5``); at intensity 0 a
feature is not drawn at all, so a face whose AUs are all 0 is untouched, pixel for pixel.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from libreface_nb.config import INTENSITY_MAX

#: A point of a feature: (landmark on the subject's right, its mirror on the left, outward
#: offset, downward offset), offsets in IOD (outward = away from the face midline).
Point = tuple[int, int, float, float]


@dataclass(frozen=True)
class Crease:
    """A polyline groove (``kind="crease"``) or an elliptic bulge (``kind="bulge"``).

    Attributes:
        points: the polyline, or for a bulge its centre (first point) and the points whose
            spread gives its radii.
        depth: darkening of the groove at intensity 5 (fraction of the pixel value).
        width: groove width in IOD.
        kind: ``"crease"`` or ``"bulge"``.
        bilateral: drawn on both sides (mirrored); False = a midline feature drawn once.
    """

    points: tuple[Point, ...]
    depth: float
    width: float = 0.016
    kind: str = "crease"
    bilateral: bool = True


def _line(ids: tuple[tuple[int, int], ...], dx: float, dy: float, step: float = 0.0) -> tuple:
    """Points on landmarks ``ids`` shifted by ``(dx, dy)``; ``step`` bows the middle upward."""
    n = len(ids)
    bow = [step * np.sin(np.pi * k / max(n - 1, 1)) for k in range(n)]
    return tuple((r, lm, dx, dy - b) for (r, lm), b in zip(ids, bow, strict=True))


_INNER_BROW = ((107, 336), (66, 296), (9, 9))
_OUTER_BROW = ((70, 300), (63, 293), (105, 334), (66, 296))

#: Appearance features per AU (FACS appearance changes; see the module docstring).
AU_FEATURES: dict[int, tuple[Crease, ...]] = {
    1: tuple(
        Crease(_line(_INNER_BROW, 0.0, -0.13 - 0.1 * k, 0.015), 0.16 - 0.03 * k) for k in range(3)
    ),
    2: tuple(
        Crease(_line(_OUTER_BROW, 0.0, -0.12 - 0.1 * k, 0.02), 0.14 - 0.03 * k) for k in range(3)
    ),
    4: (
        Crease(((55, 285, -0.03, 0.03), (55, 285, -0.05, -0.06), (107, 336, -0.07, -0.13)), 0.22),
        Crease(((55, 285, -0.09, 0.05), (107, 336, -0.1, -0.06)), 0.12, 0.012),
        Crease(((193, 417, 0.0, -0.02), (168, 168, 0.0, -0.03)), 0.12, bilateral=True),
    ),
    6: (
        *(
            Crease(((33, 263, 0.07, 0.06 * k), (33, 263, 0.2, 0.11 * k - 0.01)), 0.2, 0.014)
            for k in (-1, 0, 1)
        ),
        Crease(_line(((47, 277), (120, 349), (119, 348), (118, 347)), 0.0, 0.02), 0.13, 0.02),
        Crease(
            ((50, 280, -0.02, -0.02), (101, 330, 0.0, 0.0), (205, 425, 0.0, 0.0)), 0.1, 0.0, "bulge"
        ),  # fmt: skip
    ),
    9: tuple(
        Crease(((6, 6, 0.0, 0.03 * k - 0.05), (122, 351, 0.01, 0.03 * k - 0.03)), 0.2, 0.013)
        for k in range(3)
    ),
    10: (Crease(((129, 358, 0.02, -0.02), (203, 423, 0.02, 0.0), (206, 426, 0.02, 0.0)), 0.22),),
    12: (
        Crease(
            (
                (129, 358, 0.02, -0.01),
                (203, 423, 0.03, 0.0),
                (206, 426, 0.03, 0.0),
                (216, 436, 0.03, 0.0),
                (212, 432, 0.02, 0.02),
            ),
            0.24,
            0.02,
        ),  # fmt: skip
    ),
    15: (Crease(((57, 287, 0.0, 0.03), (43, 273, 0.0, 0.0), (106, 335, 0.0, 0.0)), 0.2, 0.018),),
    17: (
        Crease(((83, 313, 0.0, -0.01), (18, 18, 0.0, 0.0)), 0.22, 0.02),
        Crease(
            ((200, 200, 0.0, 0.04), (201, 421, 0.0, 0.0), (199, 199, 0.0, 0.0)),
            0.1,
            0.0,
            "bulge",
            bilateral=False,
        ),  # fmt: skip
    ),
}
#: AUs with a dimpled texture (mentalis) and the bulge index whose area it fills.
DIMPLED = {17: 1}


def _pixel(mesh: np.ndarray, to_pixels, point: Point, left: bool) -> np.ndarray:
    r, lm, dx, dy = point
    idx = lm if left else r
    sign = 1.0 if left else -1.0
    if r == lm:  # a midline landmark: outward has no direction
        sign = 0.0 if dx == 0 else sign
    return mesh[idx] + to_pixels(np.array([[sign * dx, dy]]))[0]


def feature_points(base, au: int, side: str = "both") -> list[np.ndarray]:
    """Working-image pixel polylines ``[K, 2]`` of an AU's features on one side (or both)."""
    out = []
    for crease in AU_FEATURES.get(au, ()):
        sides = [False, True] if crease.bilateral else [False]
        for left in sides:
            if crease.bilateral and side not in ("both", "left" if left else "right"):
                continue
            pts = [_pixel(base.mesh, base.to_pixels, p, left) for p in crease.points]
            out.append(np.asarray(pts))
    return out


@functools.lru_cache(maxsize=8)
def _dimples(side: int, iod: float) -> np.ndarray:
    """Fixed band-pass noise ``[side, side]`` in [0, 1]: pits about 0.03 IOD wide."""
    import cv2

    noise = np.random.default_rng(1717).standard_normal((side, side)).astype(np.float32)
    fine = cv2.GaussianBlur(noise, (0, 0), max(0.6, 0.012 * iod))
    coarse = cv2.GaussianBlur(noise, (0, 0), max(1.5, 0.04 * iod))
    band = fine - coarse
    out = np.clip(band / (3 * band.std() + 1e-6), 0.0, 1.0)
    out.setflags(write=False)
    return out


def _draw(canvas: np.ndarray, glow: np.ndarray, crease: Crease, pts: np.ndarray, iod: float,
          weight: float, dimples: np.ndarray | None) -> None:  # fmt: skip
    """Add one feature to the groove (``canvas``) and highlight (``glow``) maps, in place;
    ``dimples``: the dimple texture over the same area, for a dimpled bulge."""
    import cv2

    shift = 4
    fixed = np.round(pts * (1 << shift)).astype(np.int32)
    if crease.kind == "crease":
        thick = max(1, int(round(crease.width * iod)))
        tmp = np.zeros_like(canvas)
        cv2.polylines(tmp, [fixed], False, weight * crease.depth, thick, cv2.LINE_AA, shift)
        np.maximum(canvas, tmp, out=canvas)
        # The skin rolls over a crease: a faint ridge just above it.
        up = np.round((pts - [0.0, 0.6 * thick + 0.6]) * (1 << shift)).astype(np.int32)
        tmp[:] = 0
        cv2.polylines(tmp, [up], False, 0.35 * weight * crease.depth, thick, cv2.LINE_AA, shift)
        np.maximum(glow, tmp, out=glow)
        return
    centre = pts[0]
    radii = np.maximum(np.abs(pts[1:] - centre).max(0), 0.06 * iod) * 1.15
    h, w = canvas.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d2 = ((xs - centre[0]) / radii[0]) ** 2 + ((ys - centre[1]) / radii[1]) ** 2
    bump = np.exp(-1.5 * d2)
    # Light from above: the top of the bulge brightens, its lower rim darkens.
    below = np.clip((ys - centre[1]) / radii[1], 0.0, None) * np.exp(-1.2 * d2)
    np.maximum(glow, weight * crease.depth * bump * (1.0 - 0.5 * below), out=glow)
    np.maximum(canvas, weight * crease.depth * 0.8 * below, out=canvas)
    if dimples is not None:
        np.maximum(canvas, weight * 0.3 * dimples * (bump > 0.25) * bump, out=canvas)


def paint(
    image: np.ndarray,
    base,
    intensities: Mapping[int, float],
    sides: Mapping[int, str] | None = None,
) -> np.ndarray:
    """The working image with the appearance features of these intensities painted in.

    Args:
        image: the subject's working image uint8 ``[R, R, 3]`` (not modified).
        base: its :class:`~libreface_nb.data.synth.base.BaseFace` (mesh, face frame).
        intensities: ``{au: 0–5}``; AUs without features or at 0 draw nothing.
        sides: ``{au: "left" | "right"}`` for unilateral AUs.

    Returns:
        ``image`` itself when nothing is drawn, else a new uint8 array.
    """
    import cv2

    sides = dict(sides or {})
    active = {au: v for au, v in intensities.items() if v > 0 and au in AU_FEATURES}
    if not active:
        return image
    jobs = []  # (crease, polyline in working pixels, weight, dimpled)
    for au, v in sorted(active.items()):
        side = sides.get(au, "both")
        for k, crease in enumerate(AU_FEATURES[au]):
            for left in (False, True) if crease.bilateral else (False,):
                if crease.bilateral and side not in ("both", "left" if left else "right"):
                    continue
                pts = np.asarray(
                    [_pixel(base.mesh, base.to_pixels, p, left) for p in crease.points]
                )
                jobs.append((crease, pts, float(v) / INTENSITY_MAX, DIMPLED.get(au) == k))
    if not jobs:
        return image
    # Draw in the features' bounding box only (plus room for bulges and the blur).
    h, w = image.shape[:2]
    allpts = np.concatenate([j[1] for j in jobs])
    pad = 0.3 * base.iod
    x0, y0 = np.maximum(np.floor(allpts.min(0) - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(allpts.max(0) + pad).astype(int) + 1, [w, h])
    off = np.array([x0, y0], np.float64)
    dark = np.zeros((y1 - y0, x1 - x0), np.float32)
    glow = np.zeros_like(dark)
    pits = _dimples(h, base.iod)[y0:y1, x0:x1]
    for crease, pts, weight, dimpled in jobs:
        _draw(dark, glow, crease, pts - off, base.iod, weight, pits if dimpled else None)
    sigma = max(0.5, 0.008 * base.iod)
    dark = cv2.GaussianBlur(dark, (0, 0), sigma)
    glow = cv2.GaussianBlur(glow, (0, 0), sigma)
    gain = (1.0 - np.clip(dark, 0.0, 0.9)) * (1.0 + np.clip(glow, 0.0, 0.5))
    out = image.copy()
    roi = image[y0:y1, x0:x1].astype(np.float32) * gain[..., None]
    out[y0:y1, x0:x1] = np.clip(np.round(roi), 0, 255).astype(np.uint8)
    return out
