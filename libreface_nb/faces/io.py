"""Robust decoding of images and video frames to contiguous uint8 RGB ``[H, W, 3]``.

Everything downstream (MediaPipe, alignment, models) sees images only through this module, so it
accepts what people actually have: JPEG, PNG, BMP, WebP, TIFF; grayscale, palette, RGBA and LA,
16-bit and float, CMYK; EXIF orientation is applied. Videos are read frame by frame with OpenCV;
no frame is ever written to disk (LibreFace's package writes every frame to PNG first).

Errors name the file: :class:`~libreface_nb.errors.UnreadableInputError` for a missing, empty,
truncated or non-image file.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from libreface_nb.errors import UnreadableInputError

log = logging.getLogger(__name__)

#: File suffixes treated as still images (lower case).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm"}
)
#: File suffixes treated as videos (lower case).
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
)


@dataclass(frozen=True)
class VideoFrame:
    """One decoded video frame.

    Attributes:
        index: 0-based frame index in the file (decode order).
        time_s: timestamp in seconds, ``index / fps`` (constant frame rate assumed; when the file
            reports no frame rate, the decoder's own position is used).
        image: uint8 RGB ``[H, W, 3]``, C-contiguous.
    """

    index: int
    time_s: float
    image: np.ndarray


def is_video(path: str | Path) -> bool:
    """True when the suffix names a video container."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_image(path: str | Path) -> bool:
    """True when the suffix names a still-image format."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Any numeric array → uint8 with the same shape, by the dtype's natural range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        # 65535 → 255 exactly; (x + 128) // 257 is the rounded division.
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        # Floats in [0, 1] are the usual convention (skimage); larger values mean 0–255.
        scale = 255.0 if finite.size == 0 or float(finite.max()) <= 1.0 else 1.0
        return np.clip(np.rint(finite * scale), 0, 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        top = int(arr.max()) if arr.size else 0
        if top <= 255:
            return np.clip(arr, 0, 255).astype(np.uint8)
        if top <= 65535:  # 16-bit data stored in a wider integer (Pillow mode "I").
            return _scale_to_uint8(np.clip(arr, 0, 65535).astype(np.uint16))
        return np.clip(arr.astype(np.float64) * (255.0 / top), 0, 255).astype(np.uint8)
    raise TypeError(f"cannot convert an array of dtype {arr.dtype} to an image")


def to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Convert an image array to contiguous uint8 RGB.

    Args:
        array: ``[H, W]`` grayscale, ``[H, W, 1]``, ``[H, W, 2]`` (gray + alpha), ``[H, W, 3]``
            RGB or ``[H, W, 4]`` RGBA; uint8, uint16 (scaled by 1/257), bool, other integers
            (16-bit range when above 255) or float (``[0, 1]`` when the maximum is ≤ 1, else
            ``[0, 255]``).

    Returns:
        uint8 ``[H, W, 3]`` RGB, C-contiguous. Alpha is dropped (the stored colour is kept, as
        Pillow's ``convert("RGB")`` does).

    Raises:
        ValueError: the shape is not an image.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        arr = arr[:, :, : arr.shape[2] - 1]  # drop alpha: LA → L, RGBA → RGB
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(_scale_to_uint8(arr)[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 3:
        arr = _scale_to_uint8(arr)
    else:
        raise ValueError(f"not an image array: shape {arr.shape} (want [H, W] or [H, W, 1-4])")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"empty image array: shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _pil_to_array(img) -> np.ndarray:  # PIL.Image.Image
    """A loaded Pillow image (any mode) → array that :func:`to_rgb_uint8` understands."""
    mode = img.mode
    if mode in ("RGB", "L", "RGBA", "LA", "I", "F") or mode.startswith("I;16"):
        arr = np.asarray(img)
        if mode.startswith("I;16") and arr.dtype != np.uint16:
            arr = arr.astype(np.uint16)
        return arr
    if mode == "P":
        return np.asarray(img.convert("RGBA" if "transparency" in img.info else "RGB"))
    if mode == "1":
        return np.asarray(img.convert("L"))
    # CMYK, YCbCr, LAB, HSV, RGBX, …: let Pillow do the colour conversion.
    return np.asarray(img.convert("RGB"))


def _read_with_cv2(path: Path) -> np.ndarray | None:
    """Fallback decoder for what Pillow cannot represent (e.g. 16-bit colour TIFF)."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if arr is None:
        return None
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[:, :, ::-1]  # BGR → RGB
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, [2, 1, 0, 3]]
    return arr


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to uint8 RGB ``[H, W, 3]`` with EXIF orientation applied.

    Multi-frame files (GIF, multi-page TIFF) give their first frame.

    Raises:
        UnreadableInputError: the file is missing, empty, truncated or not an image; the message
            names the file.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    if not path.is_file():
        raise UnreadableInputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UnreadableInputError(f"{path}: the file is empty (0 bytes)")
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so that truncation raises here
            arr = _pil_to_array(ImageOps.exif_transpose(img))
    except Exception as exc:  # Pillow raises many types; all mean "cannot decode"
        pil_error = exc
        arr = None
    else:
        pil_error = None
    if arr is None and isinstance(pil_error, ValueError | TypeError | KeyError):
        arr = _read_with_cv2(path)  # e.g. a colour layout Pillow does not support
    if arr is None:
        raise UnreadableInputError(
            f"{path}: not a readable image ({type(pil_error).__name__}: {pil_error}); "
            "check that the file is a complete JPEG/PNG/BMP/WebP/TIFF"
        ) from pil_error
    try:
        return to_rgb_uint8(arr)
    except (ValueError, TypeError) as exc:
        raise UnreadableInputError(f"{path}: decoded to an unusable array ({exc})") from exc


def video_info(path: str | Path) -> dict[str, float]:
    """Frame rate, claimed frame count (may over-report) and size of a video, without decoding.

    Raises:
        UnreadableInputError: OpenCV cannot open the file.
    """
    import cv2

    cap = _open_video(Path(path))
    try:
        return {
            "fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            "frame_count": float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0),
            "width": float(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0.0),
            "height": float(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0.0),
        }
    finally:
        cap.release()


def _open_video(path: Path):  # cv2.VideoCapture
    import cv2

    if not path.is_file():
        raise UnreadableInputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UnreadableInputError(f"{path}: the video file is empty (0 bytes)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise UnreadableInputError(f"{path}: OpenCV cannot open this video (unknown or broken)")
    return cap


def iter_video(
    path: str | Path, *, frames: Container[int] | None = None, stop: int | None = None
) -> Iterator[VideoFrame]:
    """Yield the frames of a video one at a time, reading until the decoder stops.

    ``CAP_PROP_FRAME_COUNT`` can over-report, so the end is where ``read()`` fails, never the
    claimed count. Nothing is written to disk.

    Args:
        path: video file.
        frames: if given, only these 0-based indices are converted and yielded; the others are
            grabbed (decoded, not converted), so the file is still read once, in order.
        stop: stop before this index (e.g. ``max(frames) + 1``); default: end of the file.

    Raises:
        UnreadableInputError: the file cannot be opened or holds no decodable frame.
    """
    import cv2

    path = Path(path)
    cap = _open_video(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        index = 0
        while stop is None or index < stop:
            want = frames is None or index in frames
            ok = cap.grab()
            if not ok:
                break
            if want:
                ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    break
                t = index / fps if fps > 0 else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                image = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                yield VideoFrame(index=index, time_s=float(t), image=image)
            index += 1
        if index == 0:
            raise UnreadableInputError(f"{path}: the video holds no decodable frame")
    finally:
        cap.release()
