"""The LibreFace/FFHQ alignment recipe, step by step (LIBREFACE_FACTS §2 step 5). Our own code.

Slow on purpose: it is the yardstick that :func:`~libreface_nb.faces.align.align_face`'s fast path
is measured against. Steps: integer shrink of huge faces (area-preserving LANCZOS), crop to the
quad ± border, padding with a blurred (σ = 0.02·qsize) and median-blended fill, quad → square at
``transform_size`` px (bilinear), LANCZOS down to ``size`` (skipped when ``size`` equals
``transform_size``). Pillow ≥ 10 names the filters ``Image.Resampling.*`` (LibreFace's
``Image.ANTIALIAS`` crashes there).

The padding before the blur (``border``): ``"reflect"``, the FFHQ recipe's (a mirrored copy of
the image, so a face cut by the frame edge gets a blurred mirror image of itself beyond it), or
``"constant"``, LibreFace 0.2.0's (its aligner's default ``pad_mode='const'``: zeros, then the
same blur and median blend, where the median is taken over the padded image, zeros included: a
dark, blurred fill). With ``border="constant"``, ``size = transform_size = 512`` this is LibreFace
0.2.0's pip-package alignment (LIBREFACE_FACTS §2 step 5: its 512-px quad transform is returned
as is).
"""

from __future__ import annotations

import numpy as np

from libreface_nb.faces.quad import crop_and_pad, quad_size, shrink_factor

BORDERS = ("constant", "reflect")
#: LibreFace 0.2.0's dark fill (see :mod:`libreface_nb.faces.align`).
DEFAULT_BORDER = "constant"


def gaussian_blur(f: np.ndarray, sigma: float) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(f, [sigma, sigma, 0])`` of float32 ``[H, W, C]``, run by
    OpenCV: scipy's kernel (``exp(-x²/2σ²)``, normalized, radius ``int(4σ + 0.5)``) and its
    ``mode="reflect"`` edge (OpenCV's ``BORDER_REFLECT``, which reflects again for a kernel
    wider than the image). Two to three times faster than scipy on a padded 512-px face;
    ``tests/test_faces_align.py`` checks it against scipy itself."""
    import cv2

    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    out = cv2.sepFilter2D(f, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT)
    return out.reshape(f.shape)


def _blurred_padding(
    img: np.ndarray, pad: tuple[int, ...], qsize: float, border: str = DEFAULT_BORDER
) -> np.ndarray:
    """Pad ``img`` by ``pad`` (left, top, right, bottom; ``border`` mode: ``reflect`` or zeros)
    and soften the padded area."""
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    pl, pt, pr, pb = pad
    f = np.pad(img.astype(np.float32), ((pt, pb), (pl, pr), (0, 0)), mode=border)
    h, w = f.shape[:2]
    y, x, _ = np.ogrid[:h, :w, :1]
    x = x.astype(np.float32)
    y = y.astype(np.float32)
    # 1 at the outer edge of the padding, 0 at the image edge, negative inside the image.
    mask = np.maximum(
        1.0 - np.minimum(x / pl, (w - 1 - x) / pr),
        1.0 - np.minimum(y / pt, (h - 1 - y) / pb),
    )
    blur = qsize * 0.02
    f += (gaussian_blur(f, blur) - f) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    f += (np.median(f, axis=(0, 1)) - f) * np.clip(mask, 0.0, 1.0)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def align_reference(
    img: np.ndarray, quad: np.ndarray, size: int, transform_size: int, border: str = DEFAULT_BORDER
) -> np.ndarray:
    """Reference alignment of uint8 RGB ``img`` ``[H, W, 3]`` by ``quad`` ``[4, 2]``
    (``border``: see the module docstring).

    Returns:
        uint8 ``[size, size, 3]``.
    """
    from PIL import Image

    quad = np.asarray(quad, dtype=np.float64).copy()
    qsize = quad_size(quad)
    pil = Image.fromarray(img)
    shrink = shrink_factor(qsize, size)
    if shrink > 1:
        new = (int(np.rint(pil.width / shrink)), int(np.rint(pil.height / shrink)))
        pil = pil.resize(new, Image.Resampling.LANCZOS)
        quad /= shrink
        qsize /= shrink
    crop, pad = crop_and_pad(quad, qsize, (pil.height, pil.width))
    pil = pil.crop(crop)
    quad -= np.array(crop[:2], dtype=np.float64)
    if max(pad) > 0:
        pil = Image.fromarray(_blurred_padding(np.asarray(pil), pad, qsize, border))
        quad += np.array(pad[:2], dtype=np.float64)
    out = pil.transform(
        (transform_size, transform_size),
        Image.Transform.QUAD,
        tuple((quad + 0.5).flatten()),
        Image.Resampling.BILINEAR,
    )
    if size < transform_size:
        out = out.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(out)
