"""SynthAU mouth interior: throat, tongue, upper and lower teeth, shaded inner lip edges.

Drawn in output pixels after the mesh warp, between the moved inner-lip contours, wherever the
lips have parted beyond the subject's neutral gap (the base photo's own mouth shows at 0). What
shows follows the anatomy of an opening mouth:

- the upper incisors hang from under the upper lip: their visible height grows with the lip gap
  (45 % of it) up to 0.085 IOD (a crown of ~10 mm on an IOD of ~63 mm shows ~5–6 mm);
- the lower incisors rise from behind the lower lip only as the jaw drops: height
  ``0.3 × gap × (0.35 + 0.65 × AU26 / 5)``, at most 0.05 IOD;
- the tongue lies on the floor of the mouth behind the lower teeth once the gap passes 0.08 IOD;
- the cavity darkens towards its centre (the throat), and the inner lip edges, rolled inward
  and wet, are drawn darker.

Where the base photo shows teeth (the astronaut smiles: at least a quarter of the pixels between
her inner lips are bright), the upper row is the photo's own teeth, warped from between its
inner lips into the row, and the lower row takes their median colour; otherwise both rows are
drawn in a neutral enamel colour with gaps between the teeth. Colours go through the subject's
colour style. Every element is a pure function of the contours, the gap
and the jaw value, so labels and pixels stay in lockstep.
"""

from __future__ import annotations

import functools

import numpy as np

from libreface_nb.data.synth import aus as A
from libreface_nb.data.synth import style as S

#: Colours (RGB 0–255): oral cavity, throat (deepest), tongue, default enamel.
CAVITY = np.array([92.0, 34.0, 36.0])
THROAT = np.array([28.0, 8.0, 10.0])
TONGUE = np.array([176.0, 84.0, 88.0])
TEETH = np.array([214.0, 204.0, 188.0])
#: Upper / lower teeth: fraction of the gap shown, cap (IOD); tongue appears past this gap.
UPPER_TEETH = (0.45, 0.085)
LOWER_TEETH = (0.30, 0.05)
TONGUE_GAP = 0.08


@functools.lru_cache(maxsize=32)
def photo_teeth(base) -> np.ndarray | None:
    """Teeth colour of a base photo ``[3]``, or None where its mouth shows no teeth.

    Teeth show when the neutral inner-lip gap is over 0.03 IOD and at least a quarter of the
    pixels between the inner lips are bright (luma over 130): their median colour.
    """
    import cv2

    if A.mouth_gap(base.face) < 0.03:
        return None
    m0, m1 = A.MOUTH_INNER_CORNERS
    ring = np.concatenate([base.mesh[[m0, *A.LIP_INNER_UPPER, m1]],
                           base.mesh[list(A.LIP_INNER_LOWER)][::-1]])  # fmt: skip
    mask = np.zeros(base.image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(ring).astype(np.int32)], 1)
    pix = base.image[mask.astype(bool)].astype(np.float64)
    if len(pix) < 10:
        return None
    luma = pix @ [0.299, 0.587, 0.114]
    bright = pix[luma > 130]
    if len(bright) < 0.25 * len(pix):
        return None
    return np.median(bright, axis=0)


def _band(contour: np.ndarray, height: float, direction: np.ndarray) -> np.ndarray:
    """Polygon of a band hanging ``height`` px from ``contour`` along ``direction``, tapered."""
    taper = np.sqrt(np.sin(np.pi * np.linspace(0.0, 1.0, len(contour))))
    edge = contour + (height * taper)[:, None] * direction
    return np.concatenate([contour, edge[::-1]])


def _fill(shape: tuple[int, int], poly: np.ndarray, off: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round((poly - off) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255.0


def _photo_band(photo: tuple, contour: np.ndarray, height: float, direction: np.ndarray,
                size: int) -> np.ndarray:  # fmt: skip
    """The photo's own teeth warped into a band below ``contour`` (full frame, float32).

    ``photo``: ``(working image, its upper inner-lip contour, its lower one)``; the source band
    runs from the upper contour to 80 % of the way to the lower one (the teeth it shows).
    """
    from libreface_nb.data.synth import warp as W

    image, up0, lo0 = photo
    k = len(contour)
    taper = np.sqrt(np.sin(np.pi * np.linspace(0.0, 1.0, k)))
    src = np.concatenate([up0, up0 + 0.8 * (lo0 - up0)])
    dst = np.concatenate(
        [contour, contour + (height * np.maximum(taper, 0.3))[:, None] * direction]
    )
    tris = [(i, i + 1, k + i) for i in range(k - 1)] + [
        (k + i, i + 1, k + i + 1) for i in range(k - 1)
    ]
    out = W.warp(image, src, dst, np.asarray(tris, np.int32), np.eye(2, 3), size)
    return out.astype(np.float32)


def _teeth_layer(shape, contour, height, direction, off, colour, iod, texture=None) -> tuple:
    """Coverage ``[h, w]`` and colour ``[h, w, 3]`` of one row of teeth: ``texture`` (the
    photo's teeth, ROI-sized) or ``colour`` with drawn gaps between teeth."""
    import cv2

    cover = _fill(shape, _band(contour, height, direction), off)
    if texture is not None:
        return cover, texture
    col = np.broadcast_to(np.asarray(colour, np.float32), shape + (3,)).copy()
    # Teeth recede into the mouth towards the corners: darker there.
    width = float(np.linalg.norm(contour[-1] - contour[0]))
    xs = np.arange(shape[1], dtype=np.float32) + off[0]
    mid = (contour[0, 0] + contour[-1, 0]) / 2
    falloff = 1.0 - 0.45 * np.clip(np.abs(xs - mid) / (width / 2 + 1e-6), 0, 1) ** 2
    col *= falloff[None, :, None]
    # Dark gaps between teeth: incisors ~0.085 IOD wide, the gaps about a pixel.
    gaps = np.zeros(shape, np.float32)
    s = np.linspace(0.0, 1.0, len(contour))
    for k in range(-3, 4) if height > 3 else ():
        t = 0.5 + (k + 0.5) * 0.085 * iod / max(width, 1e-6)
        if not 0.05 < t < 0.95:
            continue
        p = np.array([np.interp(t, s, contour[:, 0]), np.interp(t, s, contour[:, 1])])
        q = p + height * direction
        pts = np.round((np.stack([p, q]) - off) * 16).astype(np.int32)
        cv2.polylines(gaps, [pts], False, 0.18, 1, cv2.LINE_AA, 4)
    col *= (1.0 - gaps)[..., None]
    return cover, col


def paint(
    image: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    *,
    opacity: float,
    gap: float,
    jaw: float,
    iod: float,
    down: np.ndarray,
    colours: dict[str, np.ndarray],
    photo: tuple | None = None,
) -> np.ndarray:
    """Draw the mouth interior between the inner lip contours (in place; returns ``image``).

    Args:
        image: uint8 RGB ``[H, W, 3]``.
        upper, lower: inner-lip contours ``[K, 2]`` in pixels, corner to corner, both corners
            included (same order).
        opacity: 0–1 blend of the drawing (0 = nothing drawn).
        gap: the lips' gap in IOD (:func:`~libreface_nb.data.synth.aus.mouth_gap`).
        jaw: jaw drop 0–1 (AU26 / 5).
        iod: inter-ocular distance in output pixels.
        down: unit vector ``[2]``, the face's downward direction in the image.
        colours: RGB for ``cavity``, ``throat``, ``tongue``, ``teeth`` (0–255).
        photo: ``(styled working image, its upper and lower inner-lip contours)`` of a base
            photo that shows teeth: its upper teeth are warped into the upper row.
    """
    import cv2

    if opacity <= 0:
        return image
    down = np.asarray(down, np.float64)
    poly = np.concatenate([upper, lower[::-1]])
    pad = int(np.ceil(0.05 * iod)) + 3
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(0)).astype(int) + pad + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return image
    roi = image[y0:y1, x0:x1]
    shape, off = roi.shape[:2], np.array([x0, y0], np.float64)
    mask = cv2.GaussianBlur(_fill(shape, poly, off), (0, 0), 0.6)
    gap_px = gap * iod
    # Cavity: the blurred mask is ~1 deep inside the opening and ~0.5 at its rim.
    core = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.35 * gap_px))[..., None]
    cavity, throat = colours["cavity"], colours["throat"]
    colour = cavity * (1 - core) + throat * core
    if gap > TONGUE_GAP:
        fade = min(1.0, (gap - TONGUE_GAP) / 0.06)
        mid = (lower[len(lower) // 2] + upper[len(upper) // 2]) / 2
        centre = lower[len(lower) // 2] - 0.3 * gap_px * down
        axes = (0.3 * np.linalg.norm(upper[-1] - upper[0]), 0.28 * gap_px)
        tongue = np.zeros(shape, np.float32)
        angle = float(np.degrees(np.arctan2(-down[0], down[1])))
        c = np.round((centre - off) * 16).astype(np.int32)
        ax = tuple(int(round(a * 16)) for a in axes)
        cv2.ellipse(tongue, tuple(c), ax, angle, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
        tongue = cv2.GaussianBlur(tongue, (0, 0), 1.0)[..., None] * fade
        # Lit from the front: its tip (towards the teeth) brighter than its back.
        ys = (np.arange(shape[0], dtype=np.float32) + off[1] - mid[1]) / max(gap_px, 1.0)
        shade = np.clip(0.75 + 0.5 * ys, 0.6, 1.1)[:, None, None]
        colour = colour * (1 - tongue) + colours["tongue"] * shade * tongue
    for contour, (frac, cap), sign, scale in (
        (lower, LOWER_TEETH, -1.0, 0.35 + 0.65 * jaw),
        (upper, UPPER_TEETH, 1.0, 1.0),
    ):
        height = min(frac * gap * scale, cap) * iod
        if height >= 0.5:
            texture = None
            if photo is not None and sign > 0:
                band = _photo_band(photo, contour, height, down, h)
                texture = band[y0:y1, x0:x1]
            cover, col = _teeth_layer(shape, contour, height, sign * down, off,
                                      colours["teeth"], iod, texture)  # fmt: skip
            colour = colour * (1 - cover[..., None]) + col * cover[..., None]
    # Inner lip edges: rolled inward and wet, a darker line along each contour.
    edge = np.zeros(shape, np.float32)
    thick = max(1, int(round(0.02 * iod)))
    for contour in (upper, lower):
        pts = np.round((contour - off) * 16).astype(np.int32)
        cv2.polylines(edge, [pts], False, 0.35, thick, cv2.LINE_AA, 4)
    edge = cv2.GaussianBlur(edge, (0, 0), 0.7)[..., None]
    m = (opacity * mask)[..., None]
    out = roi.astype(np.float32) * (1 - m) + colour * m
    out *= 1.0 - opacity * edge
    roi[:] = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return image


def draw(
    img: np.ndarray,
    base,
    style: S.Style,
    target: np.ndarray,
    pts: np.ndarray,
    opening: float,
    jaw: float,
    work: np.ndarray | None = None,
) -> None:
    """Draw the mouth interior of a frame where the lips parted beyond the neutral gap.

    Args:
        img: the warped frame (modified in place).
        base: its :class:`~libreface_nb.data.synth.base.BaseFace`.
        style: the subject's colour style (applied to the interior's colours).
        target: the moved mesh in the face frame ``[478, 2]`` (IOD).
        pts: the moved mesh (+ anchors) in output pixels.
        opening: lip gap beyond the subject's neutral gap (IOD). Openings under 0.015 IOD are
            not drawn; the drawing fades in over the next 0.04 IOD.
        jaw: AU26 / 5.
        work: the frame's styled working image; where the base photo shows teeth, its upper
            teeth are taken from there (else teeth are drawn in the photo's teeth colour).
    """
    opacity = float(np.clip((opening - 0.015) / 0.04, 0.0, 1.0))
    if opacity <= 0:
        return
    m0, m1 = A.MOUTH_INNER_CORNERS
    eye_axis = pts[list(A.EYE_L)].mean(0) - pts[list(A.EYE_R)].mean(0)
    iod_px = float(np.linalg.norm(eye_axis))
    teeth = photo_teeth(base)
    raw = np.stack([CAVITY, THROAT, TONGUE, TEETH if teeth is None else teeth])
    styled = S.apply_style(raw, style, lighting=False).astype(np.float32)
    paint(
        img,
        pts[[m0, *A.LIP_INNER_UPPER, m1]],
        pts[[m0, *A.LIP_INNER_LOWER, m1]],
        opacity=opacity,
        gap=A.mouth_gap(target),
        jaw=jaw,
        iod=iod_px,
        down=np.array([-eye_axis[1], eye_axis[0]]) / iod_px,
        colours=dict(zip(("cavity", "throat", "tongue", "teeth"), styled, strict=True)),
        photo=None
        if teeth is None or work is None
        else (
            work,
            base.mesh[[m0, *A.LIP_INNER_UPPER, m1]],
            base.mesh[[m0, *A.LIP_INNER_LOWER, m1]],
        ),
    )
