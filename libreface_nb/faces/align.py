"""LibreFace face alignment: the FFHQ-style quad from MediaPipe landmarks, warped to a square.

Facts (../shared/LIBREFACE_FACTS.md §2): LibreFace aligns with the FFHQ recipe on MediaPipe eye and
lip landmarks: an oriented square ("quad") around eyes and mouth, cropped with blurred padding and
mapped to a square. Two warps of the same quad are offered:

- ``"reference"``: the recipe step by step (shrink huge faces, crop with a border, reflect-pad with
  a blurred and median-blended fill, quad → square at ``transform_size`` px with bilinear
  sampling, LANCZOS down to ``size``). Our own code, following §2 step 5.
- ``"fast"`` (default): one ``cv2.warpAffine`` of the same quad to ``size``×``size``. Huge quads
  are first shrunk with area averaging (INTER_AREA) so the bilinear warp never aliases; the same
  crop edges get the same reflect border, and where the reference pads, the same blur and median
  blend are applied with the reference's weights, computed in closed form on the output grid.

Coordinates: landmarks and quads are in pixel-index coordinates of the input image (pixel ``i``
is centred at ``i``), as in the FFHQ recipe, which adds 0.5 before Pillow's QUAD transform.
Quad corners are ordered ``c−x−y, c−x+y, c+x+y, c+x−y`` = top-left, bottom-left, bottom-right,
top-right of the aligned face.
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
METHODS = ("fast", "reference")
#: The fast path warps at this multiple of the output side, then area-averages down.
SUPERSAMPLE = 2


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


def _as_quad(landmarks_or_quad: np.ndarray) -> np.ndarray:
    arr = np.asarray(landmarks_or_quad, dtype=np.float64)
    if arr.shape == (4, 2):
        return arr
    if arr.ndim == 2 and arr.shape[0] >= 468 and arr.shape[1] >= 2:
        return face_quad(arr)
    raise ValueError(f"want landmarks [478, 2|3] or a quad [4, 2], got shape {arr.shape}")


def align_face(
    image: np.ndarray,
    landmarks_or_quad: np.ndarray,
    size: int = ALIGNED_SIZE,
    method: str = "fast",
    *,
    transform_size: int | None = None,
) -> np.ndarray:
    """Aligned face crop.

    Args:
        image: uint8 RGB ``[H, W, 3]`` (see :func:`~libreface_nb.faces.io.to_rgb_uint8`).
        landmarks_or_quad: landmarks ``[478, 2|3]`` in pixels, or a quad ``[4, 2]``.
        size: output side in pixels.
        method: ``"fast"`` (one affine warp) or ``"reference"`` (the recipe step by step).
        transform_size: ``"reference"`` only: side of the intermediate square (LibreFace's
            training script used 4096; default ``4 * size``, which differs from 4096 by less
            than 0.2 grey levels on average).

    Returns:
        uint8 ``[size, size, 3]``.
    """
    from libreface_nb.faces.io import to_rgb_uint8

    img = to_rgb_uint8(image)
    quad = _as_quad(landmarks_or_quad)
    if method == "fast":
        return _align_fast(img, quad, size)
    if method == "reference":
        from libreface_nb.faces.align_reference import align_reference

        return align_reference(img, quad, size, transform_size or 4 * size)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


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


def _align_fast(img: np.ndarray, quad: np.ndarray, size: int) -> np.ndarray:
    """One affine warp of ``quad`` to ``size``×``size`` (see the module docstring)."""
    import cv2

    qsize = quad_size(quad)
    crop, pad = crop_and_pad(quad, qsize, img.shape[:2])
    sub = img[crop[1] : crop[3], crop[0] : crop[2]]
    q = quad - np.array(crop[:2], dtype=np.float64)
    ratio = qsize / size  # input pixels per output pixel
    pre = int(np.ceil(ratio / SUPERSAMPLE))
    if pre > 1:
        # Area-average huge crops by an integer factor (OpenCV's fast path; sizes trimmed to a
        # multiple) so that the supersampled warp below never aliases.
        h_sub, w_sub = (sub.shape[0] // pre) * pre, (sub.shape[1] // pre) * pre
        sub = cv2.resize(
            sub[:h_sub, :w_sub], (w_sub // pre, h_sub // pre), interpolation=cv2.INTER_AREA
        )
        q = (q + 0.5) / pre - 0.5  # index coords scale about pixel edges
    # Downscaling: warp at 2× then area-average 2:1 (≈ the reference's LANCZOS down-sampling);
    # upscaling: a single bilinear warp, as the reference's bilinear QUAD transform does.
    k = SUPERSAMPLE if ratio > 1.0 else 1
    out = cv2.warpAffine(
        sub,
        quad_to_affine(q, size * k),
        (size * k, size * k),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    if k > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    if max(pad) > 0:
        out = _blend_padding(out, quad_to_affine(q, size), sub.shape[:2], np.array(pad) / pre, size)
    return out


def _blend_padding(
    out: np.ndarray, m: np.ndarray, sub_shape: tuple[int, int], pad: np.ndarray, size: int
) -> np.ndarray:
    """The reference's blurred + median fill of padded areas, computed on the output grid.

    The reference weights, on the padded crop, are ``mask = max(-x/pl, (x-W+1)/pr, -y/pt,
    (y-H+1)/pb)`` (x, y = crop pixel indices): blur weight ``clip(3·mask + 1, 0, 1)``, median
    weight ``clip(mask, 0, 1)``, blur σ = 0.02·qsize (= 0.02·size on the output).
    """
    import cv2

    h, w = sub_shape
    inv = cv2.invertAffineTransform(m)
    v, u = np.mgrid[0:size, 0:size].astype(np.float32)
    x = inv[0, 0] * u + inv[0, 1] * v + inv[0, 2]
    y = inv[1, 0] * u + inv[1, 1] * v + inv[1, 2]
    pl, pt, pr, pb = np.maximum(pad, 1e-6)
    mask = np.maximum.reduce([-x / pl, (x - w + 1) / pr, -y / pt, (y - h + 1) / pb])
    sigma = 0.02 * size
    f = out.astype(np.float32)
    blurred = cv2.GaussianBlur(f, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    f += (blurred - f) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)[:, :, None]
    median = np.median(f.reshape(-1, 3), axis=0)
    f += (median - f) * np.clip(mask, 0.0, 1.0)[:, :, None]
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)
