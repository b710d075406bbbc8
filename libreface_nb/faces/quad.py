"""Alignment-quad geometry: the FFHQ-style quad from MediaPipe landmarks, its affine, its crop.

Pure array functions shared by both warps of :mod:`libreface_nb.faces.align` (``"fast"`` and
:mod:`~libreface_nb.faces.align_reference`), so neither imports the other for geometry.

Coordinates: landmarks and quads are in pixel-index coordinates of the input image (pixel ``i``
is centred at ``i``), as in the FFHQ recipe, which adds 0.5 before Pillow's QUAD transform.
Quad corners are ordered ``c−x−y, c−x+y, c+x+y, c+x−y`` = top-left, bottom-left, bottom-right,
top-right of the aligned face (LIBREFACE_FACTS §2).
"""

from __future__ import annotations

import numpy as np

from libreface_nb.config import ALIGNED_SIZE

# MediaPipe indices of the landmark groups LibreFace's aligner uses (LIBREFACE_FACTS §2).
#: Subject's left eye (image right for a frontal face).
EYE_A = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
#: Subject's right eye (image left).
EYE_B = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
#: Outer and inner lip contours (40 points).
LIPS = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
)  # fmt: skip


def face_quad(landmarks: np.ndarray) -> np.ndarray:
    """The LibreFace/FFHQ alignment quad from MediaPipe landmarks.

    Args:
        landmarks: ``[478, 2+]`` (or ``[468, 2+]``) landmark pixels; only x, y are used.

    Returns:
        float64 ``[4, 2]`` corners ``c−x−y, c−x+y, c+x+y, c+x−y`` (top-left, bottom-left,
        bottom-right, top-right of the aligned face).

    The recipe takes the mouth corners as the lip points with the smallest and largest x, so the
    quad turns with the face only while those are the true corners (in-plane rotations up to
    about ±60°); beyond, the reference behaves the same way.
    """
    lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
    eye_a = lm[list(EYE_A)].mean(axis=0)
    eye_b = lm[list(EYE_B)].mean(axis=0)
    eye_avg = (eye_a + eye_b) / 2
    eye_to_eye = eye_a - eye_b
    lips = lm[list(LIPS)]
    mouth = (lips[np.argmin(lips[:, 0])] + lips[np.argmax(lips[:, 0])]) / 2  # mouth corners
    eye_to_mouth = mouth - eye_avg
    rot90 = np.array([-1.0, 1.0])  # flipud(v) * [-1, 1] turns (a, b) into (-b, a)
    x = eye_to_eye - eye_to_mouth[::-1] * rot90
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = x[::-1] * rot90
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def quad_to_affine(quad: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """Affine ``[2, 3]`` mapping input pixel indices to output pixel indices of the aligned face.

    Quad corner 0 lands on the output's top-left pixel edge, corner 1 bottom-left, corner 3
    top-right (Pillow's QUAD convention with the recipe's +0.5 shift).
    """
    q = np.asarray(quad, dtype=np.float64)
    src = q[[0, 1, 3]] + 0.5  # continuous coords: pixel i spans [i, i + 1]
    dst = np.array([[0.0, 0.0], [0.0, size], [size, 0.0]])
    # Solve [x y 1] · M^T = dst for the three corners, in float64 (cv2's solver is float32).
    m_cont = np.linalg.solve(np.column_stack([src, np.ones(3)]), dst).T
    return _shift_to_index(m_cont)


def _shift_to_index(m_cont: np.ndarray) -> np.ndarray:
    """Affine in continuous coords (pixel i spans [i, i+1]) → affine on pixel-centre indices."""
    m = m_cont.copy()
    # out_i + 0.5 = A (in_i + 0.5) + b  →  out_i = A in_i + (A·0.5 + b − 0.5)
    m[:, 2] = m_cont[:, :2].sum(axis=1) * 0.5 + m_cont[:, 2] - 0.5
    return m


def as_quad(landmarks_or_quad: np.ndarray) -> np.ndarray:
    arr = np.asarray(landmarks_or_quad, dtype=np.float64)
    if arr.shape == (4, 2):
        return arr
    if arr.ndim == 2 and arr.shape[0] >= 468 and arr.shape[1] >= 2:
        return face_quad(arr)
    raise ValueError(f"want landmarks [478, 2|3] or a quad [4, 2], got shape {arr.shape}")


def quad_size(quad: np.ndarray) -> float:
    """Side of the quad, ``2·|x|`` (the recipe's qsize), in pixels."""
    q = np.asarray(quad, dtype=np.float64)
    return float(np.hypot(*(q[3] - q[0])))


def crop_and_pad(quad: np.ndarray, qsize: float, shape: tuple[int, int]) -> tuple:
    """The recipe's crop box and padding for a quad (shared by both methods).

    Args:
        quad: ``[4, 2]`` corners in pixels of an image of ``shape`` (H, W).
        qsize: quad side, ``2·|x|``.

    Returns:
        ``(crop, pad)``: crop ``(x0, y0, x1, y1)`` inside the image; pad ``(left, top, right,
        bottom)`` around the crop, all zero when no padding is needed.
    """
    h, w = shape
    border = max(int(np.rint(qsize * 0.1)), 3)
    lo = np.floor(quad.min(axis=0)).astype(int)
    hi = np.ceil(quad.max(axis=0)).astype(int)
    crop = (
        max(lo[0] - border, 0),
        max(lo[1] - border, 0),
        min(hi[0] + border, w),
        min(hi[1] + border, h),
    )
    lo_c = lo - np.array(crop[:2])
    hi_c = hi - np.array(crop[:2])
    cw, ch = crop[2] - crop[0], crop[3] - crop[1]
    pad = np.array(
        [
            max(-lo_c[0] + border, 0),
            max(-lo_c[1] + border, 0),
            max(hi_c[0] - cw + border, 0),
            max(hi_c[1] - ch + border, 0),
        ]
    )
    if pad.max() > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
    else:
        pad = np.zeros(4, dtype=int)
    return crop, tuple(int(p) for p in pad)


def shrink_factor(qsize: float, size: int) -> int:
    """The recipe's integer pre-shrink: ``floor(qsize / size / 2)`` when above 1, else 1."""
    shrink = int(np.floor(qsize / size * 0.5))
    return shrink if shrink > 1 else 1
