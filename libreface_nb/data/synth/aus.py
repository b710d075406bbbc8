"""SynthAU displacement fields: how each Action Unit and each identity trait moves the mesh.

Pure numeric core of :mod:`libreface_nb.data.synth`. Everything here works in a *face frame*
built from the 478-point MediaPipe mesh of one base photograph: origin at the midpoint of the two
eye centres, x along the eye-to-eye direction (towards the image right of the base photo, the
subject's left), y perpendicular and pointing down (chin), unit = inter-ocular distance (IOD).
A displacement field is a float32 array ``[478, 2]`` in that frame.

An AU is a sum of *handles*: a smooth, anisotropic Gaussian bump around an anchor landmark group
that moves nearby landmarks by ``(outward, downward)`` IOD at intensity 5. Handles that act on one
lip or one eyelid are cut sharply at the mouth or eye slit by a *split mask*, so that parting the
lips does not drag the other lip along. The movements follow FACS descriptions of each AU
(Ekman & Friesen's manual, e.g. AU12 pulls the lip corners up and back, AU26 drops the jaw).
Displacement grows linearly with intensity 0–5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- MediaPipe landmark groups: (subject's right = image left, subject's left = image right).
# Eye blocks as in LibreFace's aligner (docs/libreface_facts.md §2).
EYE_R = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
EYE_L = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
# Lid contours from the outer to the inner eye corner, paired point by point.
LID_UPPER_R = (246, 161, 160, 159, 158, 157, 173)
LID_LOWER_R = (7, 163, 144, 145, 153, 154, 155)
LID_UPPER_L = (466, 388, 387, 386, 385, 384, 398)
LID_LOWER_L = (249, 390, 373, 374, 380, 381, 382)
EYE_CORNERS_R = (33, 133)
EYE_CORNERS_L = (263, 362)
# Lip contours from the subject's right corner to the left corner (MediaPipe FACEMESH_LIPS).
LIP_OUTER_UPPER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LIP_OUTER_LOWER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
LIP_INNER_UPPER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LIP_INNER_LOWER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_CORNERS = (61, 291)  # outer contour corners
MOUTH_INNER_CORNERS = (78, 308)
#: Typical lip height (IOD) over which movements towards the mouth slit fade in.
LIP_THICKNESS = 0.15

#: Named anchor groups: (right side, left side); a midline group has ``()`` as its left side.
GROUPS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "brow_inner": ((107, 66, 55, 65), (336, 296, 285, 295)),
    "brow_mid": ((105, 52, 66, 65), (334, 282, 296, 295)),
    "brow_outer": ((70, 63, 46, 53), (300, 293, 276, 283)),
    "brow": (
        (70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
        (300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
    ),
    "eye": (EYE_R, EYE_L),
    "lid_upper": ((160, 159, 158), (387, 386, 385)),
    "lid_lower": ((144, 145, 153), (373, 374, 380)),
    "cheek": ((118, 50, 117, 101), (347, 280, 346, 330)),
    "nose_wing": ((98, 64, 48), (327, 294, 278)),
    "corner": ((61, 78), (291, 308)),
    "upper_lip_side": ((40, 39, 80, 81), (270, 269, 310, 311)),
    "lower_lip_side": ((91, 181, 88, 178), (321, 405, 318, 402)),
    "upper_lip": ((0, 37, 267, 13, 82, 312, 39, 269), ()),
    "upper_lip_outer": ((0, 37, 267, 39, 269), ()),
    "lower_lip": ((17, 84, 314, 14, 87, 317, 181, 405), ()),
    "lower_lip_outer": ((17, 84, 314, 181, 405), ()),
    "chin": ((152, 175, 199, 200, 18), ()),
    "nose_tip": ((1, 4, 2, 98, 327), ()),
}


@dataclass(frozen=True)
class Handle:
    """A smooth bump of displacement around an anchor group.

    Attributes:
        group: key of :data:`GROUPS`; paired groups act on both sides (mirrored).
        move: ``(outward, downward)`` displacement in IOD at intensity 5 (outward = away from the
            face midline; negative = inward / upward).
        sigma: ``(across, above, below)`` Gaussian widths in IOD.
        split: ``""`` or one of ``mouth_upper``, ``mouth_lower``, ``eye_upper``, ``eye_lower``:
            restrict the handle to one side of the mouth or eye slit; ``mouth_above`` and
            ``mouth_below`` also fade it to 0 at the mouth slit (for movements towards it).
    """

    group: str
    move: tuple[float, float]
    sigma: tuple[float, float, float]
    split: str = ""


def _h(group: str, move: tuple, sigma: tuple, split: str = "") -> Handle:
    return Handle(group, (float(move[0]), float(move[1])), tuple(map(float, sigma)), split)


#: Handles per AU at intensity 5 (IOD units; a 256-px SynthAU face has an IOD of ~60–70 px, so
#: 0.2 IOD ≈ 13 px at intensity 5 and ≈ 3 px at intensity 1).
AU_HANDLES: dict[int, tuple[Handle, ...]] = {
    1: (_h("brow_inner", (0.0, -0.22), (0.16, 0.35, 0.10)),),  # inner brows up
    2: (_h("brow_outer", (0.02, -0.22), (0.18, 0.35, 0.10)),),  # outer brows up
    4: (_h("brow_mid", (-0.08, 0.11), (0.22, 0.35, 0.16)),),  # brows down and together
    5: (_h("lid_upper", (0.0, -0.09), (0.14, 0.15, 0.04), "eye_upper"),),  # upper lids up
    6: (  # cheeks up, lower lids pushed up
        _h("cheek", (0.0, -0.14), (0.28, 0.20, 0.30)),
        _h("lid_lower", (0.0, -0.06), (0.18, 0.04, 0.15), "eye_lower"),
    ),
    7: (  # lids tightened: lower lid up, upper lid slightly down
        _h("lid_lower", (0.0, -0.07), (0.16, 0.04, 0.07), "eye_lower"),
        _h("lid_upper", (0.0, 0.03), (0.14, 0.05, 0.04), "eye_upper"),
    ),
    9: (  # nose wings up, a little upper lip and inner brow lowering
        _h("nose_wing", (0.0, -0.13), (0.12, 0.20, 0.10)),
        _h("upper_lip", (0.0, -0.04), (0.30, 0.15, 0.10), "mouth_upper"),
        _h("brow_inner", (0.0, 0.05), (0.15, 0.25, 0.10)),
    ),
    10: (_h("upper_lip_side", (0.0, -0.15), (0.12, 0.20, 0.10), "mouth_upper"),),  # upper lip up
    12: (_h("corner", (0.14, -0.12), (0.20, 0.25, 0.25)),),  # corners up and out
    14: (_h("corner", (-0.08, -0.01), (0.12, 0.12, 0.12)),),  # corners tightened inward
    15: (_h("corner", (0.01, 0.13), (0.18, 0.20, 0.25)),),  # corners down
    17: (_h("chin", (0.0, -0.12), (0.40, 0.32, 0.40), "mouth_below"),),  # chin, lower lip up
    20: (_h("corner", (0.14, 0.02), (0.18, 0.18, 0.18)),),  # corners stretched sideways
    23: (  # lips narrowed: corners in, red margins thinned
        _h("corner", (-0.06, 0.0), (0.12, 0.12, 0.12)),
        _h("upper_lip_outer", (0.0, 0.05), (0.30, 0.10, 0.10), "mouth_above"),
        _h("lower_lip_outer", (0.0, -0.05), (0.30, 0.10, 0.10), "mouth_below"),
    ),
    24: (  # lips pressed together: both lips flattened, lower lip and chin bulge up
        _h("upper_lip", (0.0, 0.04), (0.35, 0.12, 0.08), "mouth_above"),
        _h("lower_lip", (0.0, -0.06), (0.35, 0.10, 0.20), "mouth_below"),
    ),
    25: (  # lips parted (the renderer draws the mouth interior)
        _h("upper_lip", (0.0, -0.04), (0.40, 0.15, 0.10), "mouth_upper"),
        _h("lower_lip", (0.0, 0.10), (0.40, 0.10, 0.20), "mouth_lower"),
    ),
    26: (  # jaw dropped: everything below the mouth slit moves down, chin most
        _h("lower_lip", (0.0, 0.14), (0.55, 0.80, 0.60), "mouth_lower"),
        _h("chin", (0.0, 0.10), (0.55, 0.45, 0.60), "mouth_lower"),
    ),
}

#: Identity traits of a pseudo-subject: handles at coefficient 1 (coefficients are ~N(0, 1)).
IDENTITY_HANDLES: tuple[tuple[Handle, ...], ...] = (
    (_h("eye", (0.035, 0.0), (0.30, 0.30, 0.30)),),  # eye distance
    (_h("nose_tip", (0.0, 0.04), (0.30, 0.25, 0.12)),),  # nose length
    (_h("corner", (0.04, 0.0), (0.15, 0.15, 0.15)),),  # mouth width
    (_h("brow", (0.0, -0.035), (0.40, 0.30, 0.08)),),  # brow height
    (_h("chin", (0.0, 0.05), (0.50, 0.22, 0.60), "mouth_below"),),  # chin length
    (  # lip fullness
        _h("upper_lip_outer", (0.0, -0.012), (0.30, 0.08, 0.08), "mouth_above"),
        _h("lower_lip_outer", (0.0, 0.015), (0.30, 0.08, 0.08), "mouth_below"),
    ),
)
#: Face width is a global trait: x scaled by this × coefficient, ramped in from the eyes out.
FACE_WIDTH_SCALE = 0.05
N_IDENTITY = len(IDENTITY_HANDLES) + 1


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Face frame of a mesh.

    Args:
        landmarks: ``[478, 2+]`` pixels.

    Returns:
        ``(origin [2], rot [2, 2], iod)``: ``p_face = (p - origin) @ rot.T / iod``; rows of ``rot``
        are the face x (eye to eye) and y (down) axes in pixel coordinates.
    """
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    right, left = xy[list(EYE_R)].mean(0), xy[list(EYE_L)].mean(0)
    ex = left - right
    iod = float(np.linalg.norm(ex))
    ex = ex / iod
    rot = np.stack([ex, np.array([-ex[1], ex[0]])])
    return (right + left) / 2, rot, iod


def to_face(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks ``[N, 2+]`` in pixels → face-frame coordinates ``[N, 2]`` (IOD units)."""
    origin, rot, iod = face_frame(landmarks)
    return (np.asarray(landmarks, np.float64)[:, :2] - origin) @ rot.T / iod


def _slit_side(
    p: np.ndarray, upper: tuple, lower: tuple, corners: tuple, regions: tuple = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Signed side of each point relative to a slit, in [-1, 1] (-1 above, +1 below), and its
    height below the slit line ``[N]`` (IOD).

    The slit runs through the midpoints of the paired ``upper``/``lower`` contour points between
    the two ``corners``; contour points (and points inside ``regions``, a list of
    ``(polygon, side)``) take their side from membership, others from their height over the slit,
    with a transition that widens beyond the corners so that cheeks bend smoothly.
    """
    import cv2

    u, lo, c = p[list(upper)], p[list(lower)], p[list(corners)]
    mid = np.concatenate([c[:1], (u + lo) / 2, c[1:]])
    mid = mid[np.argsort(mid[:, 0])]
    y_slit = np.interp(p[:, 0], mid[:, 0], mid[:, 1])
    beyond = np.maximum(0.0, np.maximum(mid[0, 0] - p[:, 0], p[:, 0] - mid[-1, 0]))
    tau = 0.015 + 0.5 * beyond
    side = np.tanh((p[:, 1] - y_slit) / tau)
    for poly, s in regions:
        contour = p[list(poly)].astype(np.float32).reshape(-1, 1, 2)
        for i in range(len(p)):
            if cv2.pointPolygonTest(contour, (float(p[i, 0]), float(p[i, 1])), False) > 0:
                side[i] = s
    side[list(upper)] = -1.0
    side[list(lower)] = 1.0
    side[list(corners)] = 0.0
    return side, p[:, 1] - y_slit


def split_masks(p: np.ndarray) -> dict[str, np.ndarray]:
    """Split masks ``{name: [N]}`` in [0, 1] for a face-frame mesh ``p`` ``[478, 2]``."""
    c0, c1 = MOUTH_CORNERS
    ic0, ic1 = MOUTH_INNER_CORNERS
    upper_lip = (c0, *LIP_OUTER_UPPER, c1, ic1, *LIP_INNER_UPPER[::-1], ic0)
    lower_lip = (c0, *LIP_OUTER_LOWER, c1, ic1, *LIP_INNER_LOWER[::-1], ic0)
    mouth, depth = _slit_side(
        p,
        LIP_OUTER_UPPER + LIP_INNER_UPPER,
        LIP_OUTER_LOWER + LIP_INNER_LOWER,
        MOUTH_CORNERS + MOUTH_INNER_CORNERS,
        regions=((upper_lip, -1.0), (lower_lip, 1.0)),
    )
    eye_r, _ = _slit_side(p, LID_UPPER_R, LID_LOWER_R, EYE_CORNERS_R)
    eye_l, _ = _slit_side(p, LID_UPPER_L, LID_LOWER_L, EYE_CORNERS_L)
    eye = np.where(p[:, 0] < 0, eye_r, eye_l)
    # Movements towards a closed mouth's slit fade to 0 at the slit over one lip's thickness,
    # so a lip is compressed rather than pushed through the other lip.
    fade = np.clip(np.abs(depth) / LIP_THICKNESS, 0.0, 1.0)
    return {
        "mouth_upper": (1 - mouth) / 2,
        "mouth_lower": (1 + mouth) / 2,
        "mouth_above": (1 - mouth) / 2 * fade,
        "mouth_below": (1 + mouth) / 2 * fade,
        "eye_upper": (1 - eye) / 2,
        "eye_lower": (1 + eye) / 2,
    }


def _bump(p: np.ndarray, centre: np.ndarray, sigma: tuple[float, float, float]) -> np.ndarray:
    """Anisotropic Gaussian weight ``[N]`` around ``centre`` (different widths above / below)."""
    d = p - centre
    sy = np.where(d[:, 1] < 0, sigma[1], sigma[2])
    return np.exp(-0.5 * ((d[:, 0] / sigma[0]) ** 2 + (d[:, 1] / sy) ** 2))


def handle_field(p: np.ndarray, masks: dict, handle: Handle, sides: str = "both") -> np.ndarray:
    """Displacement ``[N, 2]`` of one handle (at intensity 5) on a face-frame mesh ``p``.

    ``sides`` is ``"both"``, ``"right"`` or ``"left"`` (the subject's side; a midline group
    counts half on each side).
    """
    right, left = GROUPS[handle.group]
    out = np.zeros_like(p)
    mask = masks[handle.split] if handle.split else 1.0
    if not left:  # midline group: outward has no meaning, it moves straight
        w = 1.0 if sides == "both" else 0.5
        out += w * _bump(p, p[list(right)].mean(0), handle.sigma)[:, None] * [0.0, handle.move[1]]
        return out * np.asarray(mask)[..., None] if handle.split else out
    for group, sign, name in ((right, -1.0, "right"), (left, 1.0, "left")):
        if sides not in ("both", name):
            continue
        w = _bump(p, p[list(group)].mean(0), handle.sigma)
        out += w[:, None] * np.array([sign * handle.move[0], handle.move[1]])
    return out * np.asarray(mask)[..., None] if handle.split else out


def au_fields(p: np.ndarray) -> dict[int, dict[str, np.ndarray]]:
    """Per-AU fields ``{au: {"right": [N, 2], "left": [N, 2]}}`` at intensity 5.

    Bilateral movement is ``right + left``; a unilateral AU (contempt's AU12 + AU14) uses one.
    """
    masks = split_masks(p)
    return {
        au: {
            side: sum(handle_field(p, masks, h, side) for h in handles)
            for side in ("right", "left")
        }
        for au, handles in AU_HANDLES.items()
    }


def identity_field(p: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Identity shape change ``[N, 2]`` for coefficients ``coef`` ``[N_IDENTITY]``."""
    masks = split_masks(p)
    out = np.zeros_like(p)
    ramp = np.clip((np.abs(p[:, 0]) - 0.3) / 0.6, 0.0, 1.0)
    out[:, 0] += coef[0] * FACE_WIDTH_SCALE * p[:, 0] * ramp
    for c, handles in zip(coef[1:], IDENTITY_HANDLES, strict=True):
        for h in handles:
            out += c * handle_field(p, masks, h)
    return out


def keep_slits_open(p: np.ndarray, target: np.ndarray, min_eye: float = 0.25) -> np.ndarray:
    """Stop lids and lips from passing through each other.

    Paired lid points keep at least ``min_eye`` of their neutral gap (no AU here closes the eyes);
    paired inner-lip points never cross further than in the photo (pressed lips touch). Both
    points of a pair move by half the deficit. ``p`` neutral and ``target`` moved meshes, face
    frame ``[N, 2]``.
    """
    target = target.copy()
    pairs = (
        (LID_UPPER_R, LID_LOWER_R, min_eye),
        (LID_UPPER_L, LID_LOWER_L, min_eye),
        (LIP_INNER_UPPER, LIP_INNER_LOWER, 0.0),
    )
    for upper, lower, frac in pairs:
        u, lo = list(upper), list(lower)
        gap = p[lo, 1] - p[u, 1]
        # Lips may stay as (slightly) crossed as the photo's mesh has them, never more.
        floor = frac * np.maximum(gap, 0.0) if frac > 0 else np.minimum(gap, 0.0)
        deficit = np.maximum(floor - (target[lo, 1] - target[u, 1]), 0.0)
        target[u, 1] -= deficit / 2
        target[lo, 1] += deficit / 2
    return target


def mouth_gap(p: np.ndarray) -> float:
    """Mouth opening: mean vertical gap of the three central inner-lip pairs (IOD).

    The central pairs (82/87, 13/14, 312/317) ignore how lip corners move (AU12 curves the lips
    without parting them). ``p``: face frame ``[N, 2]``.
    """
    mid = slice(3, 6)
    return float(np.mean(p[list(LIP_INNER_LOWER[mid]), 1] - p[list(LIP_INNER_UPPER[mid]), 1]))
