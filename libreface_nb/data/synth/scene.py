"""SynthAU variety: backdrops, identity mixes (per subject) and occluders (per frame).

- **Backdrops** (:data:`BACKDROPS`): the photo around the head is replaced, outside a feathered
  head-shaped ellipse (1.3× the face oval's half-width, 1.5× its half-height, raised for the
  hair; everything below the chin stays), by a non-face image bundled with scikit-image
  (coffee, rocket, brick, gravel, grass, a microscopy slide, the Hubble deep field) or a
  procedural one (gradient, blurred blobs, soft stripes), slightly blurred like an
  out-of-focus background.
- **Identity mixes**: another base photo's skin is warped onto this base's mesh (shared
  MediaPipe tessellation) and blended inside the face oval with weight 0.25–0.5, a new face
  texture on this base's geometry (the mesh, and so every AU movement, stays this base's).
- **Occluders**: glasses frames over the eyes, or a hand- or hair-like blob over part of the
  face (at most about a sixth of its box). The AU labels are unchanged: an occluded AU is still
  labelled, as in real datasets.

All draws come from the caller's generators; every function is pure given its inputs.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from libreface_nb.data.synth import aus as A
from libreface_nb.data.synth import warp as W

#: Backdrop names: ``skimage:<data function>`` or ``procedural:<kind>``.
BACKDROPS: tuple[str, ...] = (
    "skimage:coffee",
    "skimage:rocket",
    "skimage:brick",
    "skimage:gravel",
    "skimage:grass",
    "skimage:immunohistochemistry",
    "skimage:hubble_deep_field",
    "procedural:gradient",
    "procedural:blobs",
    "procedural:stripes",
)
#: Probabilities: a subject keeps its photo's background; a frame gets glasses / a blob.
KEEP_BACKGROUND = 0.3
GLASSES, BLOB = 0.12, 0.1


def _procedural(kind: str, side: int, seed: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    c0, c1 = rng.uniform(30, 230, 3), rng.uniform(30, 230, 3)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    if kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        t = np.clip(0.5 + (math.cos(a) * (xs - 0.5) + math.sin(a) * (ys - 0.5)), 0, 1)
    elif kind == "blobs":
        noise = rng.standard_normal((side, side)).astype(np.float32)
        t = cv2.GaussianBlur(noise, (0, 0), side / 12)
        t = np.clip(0.5 + t / (4 * t.std() + 1e-6), 0, 1)
    else:
        t = 0.5 + 0.5 * np.sin(2 * math.pi * (rng.uniform(3, 8) * xs + rng.uniform(-2, 2) * ys))
    return (c0 * (1 - t[..., None]) + c1 * t[..., None]).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def backdrop(name: str, side: int, seed: int = 0) -> np.ndarray:
    """Backdrop ``name`` as uint8 RGB ``[side, side, 3]`` (a centre crop, resized, blurred)."""
    import cv2

    kind, what = name.split(":", 1)
    if kind == "procedural":
        img = _procedural(what, side, seed)
    else:
        import skimage.data

        img = np.asarray(getattr(skimage.data, what)())
        if img.ndim == 2:  # grey textures get a colour tint
            tint = np.random.default_rng(seed).uniform(0.6, 1.0, 3)
            img = (img[..., None] * tint).astype(np.uint8)
        img = np.ascontiguousarray(img[..., :3])
        h, w = img.shape[:2]
        s = min(h, w)
        img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    img = cv2.GaussianBlur(img, (0, 0), max(1.0, side / 200))
    img.setflags(write=False)
    return img


def head_mask(mesh: np.ndarray, side: int) -> np.ndarray:
    """Feathered head-ellipse weight ``[side, side]`` in [0, 1] (1 = keep the photo)."""
    import cv2

    oval = mesh[list(W.FACE_OVAL)]
    lo, hi = oval.min(0), oval.max(0)
    centre = (lo + hi) / 2 - [0.0, 0.12 * (hi[1] - lo[1])]
    axes = (1.3 * (hi[0] - lo[0]) / 2, 1.5 * (hi[1] - lo[1]) / 2)
    mask = np.zeros((side, side), np.float32)
    c = tuple(int(round(v * 16)) for v in centre)
    ax = tuple(int(round(v * 16)) for v in axes)
    cv2.ellipse(mask, c, ax, 0, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    mask[int(round(hi[1] + 0.1 * (hi[1] - lo[1]))) :] = 1.0  # neck, shoulders, clothes stay
    return cv2.GaussianBlur(mask, (0, 0), 0.06 * (hi[0] - lo[0]))


def with_backdrop(image: np.ndarray, mesh: np.ndarray, backdrop_img: np.ndarray) -> np.ndarray:
    """``image`` with its surroundings replaced by ``backdrop_img`` (same size)."""
    keep = head_mask(mesh, image.shape[0])[..., None]
    out = image.astype(np.float32) * keep + backdrop_img.astype(np.float32) * (1 - keep)
    return np.round(out).astype(np.uint8)


def mix_identity(this, other, weight: float) -> np.ndarray:
    """This base's working image with ``other``'s skin blended into the face oval.

    Args:
        this, other: :class:`~libreface_nb.data.synth.base.BaseFace` of equal size.
        weight: blend weight of the other face (0 = this photo unchanged).
    """
    import cv2

    side = this.image.shape[0]
    src = np.concatenate([other.mesh, other.anchors])
    dst = np.concatenate([this.mesh, this.anchors])
    tris = np.concatenate([W.face_triangles(), W.hole_triangles()])
    warped = W.warp(other.image, src, dst, tris, np.eye(2, 3), side)
    mask = np.zeros((side, side), np.float32)
    cv2.fillPoly(mask, [np.round(this.mesh[list(W.FACE_OVAL)] * 16).astype(np.int32)], 1.0,
                 cv2.LINE_AA, 4)  # fmt: skip
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=max(1, int(0.05 * this.iod)))
    mask = cv2.GaussianBlur(mask, (0, 0), 0.08 * this.iod)[..., None] * weight
    # Match the other face's mean colour to this one inside the oval, so only texture mixes.
    inside = mask[..., 0] > 0.5 * weight
    shift = this.image[inside].mean(0) - warped[inside].mean(0) if inside.any() else 0.0
    other_px = np.clip(warped.astype(np.float32) + shift, 0, 255)
    out = this.image.astype(np.float32) * (1 - mask) + other_px * mask
    return np.round(out).astype(np.uint8)


def _glasses(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator) -> None:
    import cv2

    eye_r, eye_l = pts[list(A.EYE_R)].mean(0), pts[list(A.EYE_L)].mean(0)
    axis = eye_l - eye_r
    iod = float(np.linalg.norm(axis))
    angle = math.degrees(math.atan2(axis[1], axis[0]))
    colour = tuple(float(c) for c in rng.uniform(10, 90, 3))
    thick = max(1, int(round(rng.uniform(0.03, 0.06) * iod)))
    size = (
        int(round(rng.uniform(0.26, 0.34) * iod * 16)),
        int(round(rng.uniform(0.17, 0.24) * iod * 16)),
    )
    for c in (eye_r, eye_l):
        centre = tuple(int(round(v * 16)) for v in c + [0.0, 0.03 * iod])
        cv2.ellipse(img, centre, size, angle, 0, 360, colour, thick, cv2.LINE_AA, 4)
    unit = axis / iod
    inner = [eye_r + unit * size[0] / 16, eye_l - unit * size[0] / 16]
    outer = [eye_r - unit * size[0] / 16, eye_l + unit * size[0] / 16]
    temples = [outer[0] - unit * 0.35 * iod, outer[1] + unit * 0.35 * iod]
    for a, b in ((inner[0], inner[1]), (outer[0], temples[0]), (outer[1], temples[1])):
        seg = np.round(np.stack([a, b]) * 16).astype(np.int32)
        cv2.polylines(img, [seg], False, colour, thick, cv2.LINE_AA, 4)


def _blob(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator) -> None:
    """A smooth random blob: skin-coloured from a side (hand) or dark from above (hair)."""
    import cv2

    lo, hi = pts[: W.N_MESH].min(0), pts[: W.N_MESH].max(0)
    box = hi - lo
    hand = rng.random() < 0.5
    if hand:  # over a cheek or the chin, from below or a side
        centre = lo + box * [rng.choice([0.1, 0.9]), rng.uniform(0.65, 0.95)]
        colour = np.median(img[int(lo[1]) : int(hi[1]), int(lo[0]) : int(hi[0])].reshape(-1, 3), 0)
        colour = colour * rng.uniform(0.8, 1.1)
    else:  # a lock of hair over the forehead's side
        centre = lo + box * [rng.choice([0.15, 0.85]), rng.uniform(0.0, 0.15)]
        colour = rng.uniform(20, 110) * np.array([1.0, 0.8, 0.6])
    ang = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    wobble = 1 + 0.25 * np.sin(3 * ang + rng.uniform(0, 6)) + 0.1 * np.sin(5 * ang)
    radius = rng.uniform(0.14, 0.2) * box.mean() * wobble
    poly = centre + radius[:, None] * np.stack([np.cos(ang) * 1.2, np.sin(ang)], 1)
    mask = np.zeros(img.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.2)
    # Shaded like a rounded object lit from above.
    ys = (np.arange(img.shape[0], dtype=np.float32) - centre[1]) / max(radius.mean(), 1.0)
    shade = np.clip(1.1 - 0.25 * ys, 0.7, 1.2)[:, None, None]
    col = np.clip(colour * shade, 0, 255)
    out = img.astype(np.float32) * (1 - mask[..., None]) + col * mask[..., None]
    img[:] = np.round(out).astype(np.uint8)


def occlude(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Draw this frame's occluders (in place) on the warped frame; returns their names.

    ``pts``: the moved mesh in output pixels ``[478+, 2]``. Glasses with probability
    :data:`GLASSES`, a hand or hair blob with probability :data:`BLOB`.
    """
    drawn = []
    u_glasses, u_blob = rng.random(2)
    if u_glasses < GLASSES:
        _glasses(img, pts, rng)
        drawn.append("glasses")
    if u_blob < BLOB:
        _blob(img, pts, rng)
        drawn.append("blob")
    return drawn
