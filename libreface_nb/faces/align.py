"""LibreFace face alignment: the FFHQ-style quad from MediaPipe landmarks, warped to a square.

Facts (docs/libreface_facts.md §2): LibreFace aligns with the FFHQ recipe on MediaPipe eye and
lip landmarks: an oriented square ("quad") around eyes and mouth, cropped with blurred padding and
mapped to a square. Two warps of the same quad are offered:

- ``"reference"``: the recipe step by step (shrink huge faces, crop with a border, reflect-pad with
  a blurred and median-blended fill, quad → square at ``transform_size`` px with bilinear
  sampling, LANCZOS down to ``size``). Our own code, following §2 step 5.
- ``"fast"`` (default): one ``cv2.warpAffine`` of the same quad to ``size``×``size``. Huge quads
  are first shrunk with area averaging (INTER_AREA) so the bilinear warp never aliases; the same
  crop edges get the same border, and where the reference pads, the same blur and median
  blend are applied with the reference's weights, computed in closed form on the output grid.

Beyond the image edge (``border``), both methods offer two fills:

- ``"constant"`` (the default of both): LibreFace 0.2.0's own fill (its aligner pads with zeros
  before the same blur and median blend, the median taken over the padded image zeros included):
  a dark, blurred band. **LibreFace parity needs it** (and, for its pip package, ``size=512``).
  The fast path takes the median of the crop's pixels plus the zero frame's count (the
  reference's median before its blur step, which moves it by a grey level or so at most).
- ``"reflect"``: the FFHQ recipe's mirrored copy of the image, blurred and median-blended; a face
  cut by the top edge of the frame gets a blurred mirror image of itself above the forehead (a
  "ghost face" that no LibreFace model saw in training). The default before face stores and
  model files recorded their border; a store or model file without one means this fill
  (:mod:`libreface_nb.faces.store`, :func:`libreface_nb.infer.pipeline.alignment_options`).

Coordinates: landmarks and quads are in pixel-index coordinates of the input image (pixel ``i``
is centred at ``i``), as in the FFHQ recipe, which adds 0.5 before Pillow's QUAD transform.
Quad corners are ordered ``c−x−y, c−x+y, c+x+y, c+x−y`` = top-left, bottom-left, bottom-right,
top-right of the aligned face.
"""

from __future__ import annotations

import numpy as np

from libreface_nb.config import ALIGNED_SIZE
from libreface_nb.faces.align_reference import BORDERS, DEFAULT_BORDER, align_reference
from libreface_nb.faces.quad import (  # noqa: F401 - re-exported: align's public geometry
    EYE_A,
    EYE_B,
    LIPS,
    as_quad,
    crop_and_pad,
    face_quad,
    quad_size,
    quad_to_affine,
    shrink_factor,
)

METHODS = ("fast", "reference")
#: The fast path warps at this multiple of the output side, then area-averages down.
SUPERSAMPLE = 2


def align_face(
    image: np.ndarray,
    landmarks_or_quad: np.ndarray,
    size: int = ALIGNED_SIZE,
    method: str = "fast",
    *,
    transform_size: int | None = None,
    border: str = DEFAULT_BORDER,
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
        border: fill beyond the image edge: ``"constant"`` (default, LibreFace 0.2.0's dark
            fill) or ``"reflect"`` (the FFHQ recipe's mirror). See the module docstring.

    Returns:
        uint8 ``[size, size, 3]``.
    """
    from libreface_nb.faces.io import to_rgb_uint8

    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    img = to_rgb_uint8(image)
    quad = as_quad(landmarks_or_quad)
    if method == "fast":
        return _align_fast(img, quad, size, border)
    if method == "reference":
        return align_reference(img, quad, size, transform_size or 4 * size, border)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _align_fast(img: np.ndarray, quad: np.ndarray, size: int, border: str) -> np.ndarray:
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
        borderMode=cv2.BORDER_REFLECT_101 if border == "reflect" else cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    if k > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    if max(pad) > 0:
        pads = np.array(pad) / pre
        median = None if border == "reflect" else _padded_median(sub, pads)
        out = _blend_padding(out, quad_to_affine(q, size), sub.shape[:2], pads, size, median)
    return out


def _padded_median(sub: np.ndarray, pad: np.ndarray) -> np.ndarray:
    """Per-channel median of ``sub`` padded with zeros by ``pad`` (left, top, right, bottom):
    the reference's median for ``border="constant"``, before its blur step."""
    h, w = sub.shape[:2]
    zeros = (h + pad[1] + pad[3]) * (w + pad[0] + pad[2]) - h * w
    half = (h * w + zeros) / 2.0
    out = np.empty(3, np.float32)
    for c in range(3):
        counts = np.bincount(sub[..., c].ravel(), minlength=256).astype(np.float64)
        counts[0] += zeros
        out[c] = float(np.searchsorted(np.cumsum(counts), half))
    return out


def _blend_padding(
    out: np.ndarray,
    m: np.ndarray,
    sub_shape: tuple[int, int],
    pad: np.ndarray,
    size: int,
    median: np.ndarray | None = None,
) -> np.ndarray:
    """The reference's blurred + median fill of padded areas, computed on the output grid.

    The reference weights, on the padded crop, are ``mask = max(-x/pl, (x-W+1)/pr, -y/pt,
    (y-H+1)/pb)`` (x, y = crop pixel indices): blur weight ``clip(3·mask + 1, 0, 1)``, median
    weight ``clip(mask, 0, 1)``, blur σ = 0.02·qsize (= 0.02·size on the output). ``median``:
    the fill's median per channel (None: the median of the blurred output, the reflect case).
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
    if median is None:
        median = np.median(f.reshape(-1, 3), axis=0)
    f += (median - f) * np.clip(mask, 0.0, 1.0)[:, :, None]
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)
