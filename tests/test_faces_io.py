"""Decoding: every supported layout becomes uint8 RGB; broken files raise errors naming the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from faces_helpers import astronaut, save_rgb, write_video
from PIL import Image

from libreface_nb.errors import UnreadableInputError
from libreface_nb.faces.io import is_video, iter_video, read_image, to_rgb_uint8, video_info


def _check_rgb(arr: np.ndarray, shape: tuple[int, int]) -> None:
    assert arr.dtype == np.uint8
    assert arr.shape == (*shape, 3)
    assert arr.flags["C_CONTIGUOUS"]


def test_to_rgb_uint8_layouts() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = to_rgb_uint8(gray)
    _check_rgb(out, (3, 4))
    assert (out == gray[:, :, None]).all()
    assert (to_rgb_uint8(gray[:, :, None]) == out).all()
    la = np.stack([gray, np.full_like(gray, 7)], axis=2)
    assert (to_rgb_uint8(la) == out).all()  # alpha dropped
    rgba = np.dstack([astronaut(), np.zeros(astronaut().shape[:2], np.uint8)])
    assert (to_rgb_uint8(rgba) == astronaut()).all()
    u16 = gray.astype(np.uint16) * 257  # exact 8 → 16 bit expansion
    assert (to_rgb_uint8(u16) == out).all()
    assert (to_rgb_uint8(gray / 255.0) == out).all()  # float in [0, 1]
    assert (to_rgb_uint8(gray.astype(np.float32)) == out).all()  # float in [0, 255]
    assert to_rgb_uint8(np.ones((2, 2), bool)).max() == 255
    assert to_rgb_uint8(np.asfortranarray(astronaut())).flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("shape", [(3,), (2, 2, 5), (0, 4)])
def test_to_rgb_uint8_rejects_non_images(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        to_rgb_uint8(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".webp", ".tif"])
def test_read_image_formats(tmp_path, suffix: str) -> None:
    img = astronaut()
    path = save_rgb(tmp_path / f"a{suffix}", img, **({"quality": 95} if suffix == ".jpg" else {}))
    out = read_image(path)
    _check_rgb(out, img.shape[:2])
    lossy = suffix in (".jpg", ".webp")
    assert np.abs(out.astype(int) - img).mean() < (4 if lossy else 1e-9)


def test_read_image_modes(tmp_path) -> None:
    img = astronaut()
    gray = np.asarray(Image.fromarray(img).convert("L"))
    _check_rgb(read_image(save_rgb(tmp_path / "g.png", gray)), gray.shape)
    assert (read_image(tmp_path / "g.png")[:, :, 1] == gray).all()
    rgba = np.dstack([img, np.full(img.shape[:2], 200, np.uint8)])
    assert (read_image(save_rgb(tmp_path / "rgba.png", rgba)) == img).all()
    la = Image.fromarray(gray).convert("LA")
    la.save(tmp_path / "la.png")
    assert (read_image(tmp_path / "la.png")[:, :, 0] == gray).all()
    Image.fromarray(img).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert np.abs(read_image(tmp_path / "cmyk.jpg").astype(int) - img).mean() < 6
    Image.fromarray(img).convert("P").save(tmp_path / "p.gif")
    _check_rgb(read_image(tmp_path / "p.gif"), img.shape[:2])


def test_read_image_16_bit(tmp_path) -> None:
    img = astronaut()
    gray16 = np.asarray(Image.fromarray(img).convert("L")).astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "g16.png"), gray16)
    out = read_image(tmp_path / "g16.png")
    assert (out[:, :, 0] == gray16 // 257).all()
    rgb16 = img.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[:, :, ::-1])
    assert (read_image(tmp_path / "c16.png") == img).all()
    cv2.imwrite(str(tmp_path / "c16.tif"), rgb16[:, :, ::-1])
    assert (read_image(tmp_path / "c16.tif") == img).all()


def test_read_image_applies_exif_orientation(tmp_path) -> None:
    img = astronaut()[:, :300]  # not square, so a rotation shows in the shape
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(img).save(tmp_path / "o.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "o.jpg")
    assert out.shape == (300, 512, 3)
    expected = np.rot90(img, k=-1)  # clockwise
    assert np.abs(out.astype(int) - expected).mean() < 4


def test_read_image_broken_files_name_the_file(tmp_path) -> None:
    good = save_rgb(tmp_path / "good.jpg", astronaut())
    data = good.read_bytes()
    cases = {
        "truncated.jpg": data[: len(data) // 2],
        "empty.png": b"",
        "text.jpg": b"this is not an image\n" * 10,
    }
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(UnreadableInputError, match=name):
            read_image(tmp_path / name)
    with pytest.raises(UnreadableInputError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_iter_video_reads_every_frame_without_writing(tmp_path) -> None:
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(7)]
    path = write_video(tmp_path / "v.avi", frames, fps=5.0)
    before = set(tmp_path.iterdir())
    got = list(iter_video(path))
    assert set(tmp_path.iterdir()) == before
    assert [f.index for f in got] == list(range(7))
    assert [f.time_s for f in got] == pytest.approx([i / 5.0 for i in range(7)])
    for f, ref in zip(got, frames, strict=True):
        _check_rgb(f.image, (48, 64))
        assert abs(float(f.image.mean()) - float(ref.mean())) < 3
    some = list(iter_video(path, frames={1, 4}))
    assert [f.index for f in some] == [1, 4]
    assert video_info(path)["fps"] == pytest.approx(5.0)
    assert is_video(path) and not is_video(tmp_path / "x.png")


def test_iter_video_broken_files(tmp_path) -> None:
    (tmp_path / "empty.avi").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(b"\x00junk" * 100)
    for name in ("empty.avi", "junk.mp4", "missing.avi"):
        with pytest.raises(UnreadableInputError, match=name):
            list(iter_video(tmp_path / name))
