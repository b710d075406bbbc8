"""Transforms: LibreFace's crop/flip/normalize recipe and the optional augmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from libreface_nb.config import IMAGENET_MEAN, IMAGENET_STD
from libreface_nb.data.transforms import (
    GALLERY_ROWS,
    augmentation_gallery,
    augmentation_showcase,
    build_transform,
    denormalize,
    transform_params,
)
from libreface_nb.errors import ConfigError

MEAN = np.array(IMAGENET_MEAN, np.float32)
STD = np.array(IMAGENET_STD, np.float32)


@pytest.fixture(scope="module")
def coord_face() -> np.ndarray:
    """256×256 face whose red channel is the column and green channel the row (0–255)."""
    yy, xx = np.mgrid[0:256, 0:256]
    return np.stack([xx, yy, np.full_like(xx, 128)], axis=-1).astype(np.uint8)


def crop_origin(img: np.ndarray) -> tuple[int, int, bool, bool]:
    """(x0, y0, flipped_x, flipped_y) of a de-normalized 224 view of ``coord_face``.

    Fails unless the view is an exact, unresampled crop (possibly flipped).
    """
    r, g = img[..., 0].astype(int), img[..., 1].astype(int)
    flip_x, flip_y = r[0, 0] > r[0, -1], g[0, 0] > g[-1, 0]
    x0, y0 = int(r.min()), int(g.min())
    ramp = np.arange(224)
    want_r = x0 + (ramp[::-1] if flip_x else ramp)
    want_g = y0 + (ramp[::-1] if flip_y else ramp)
    np.testing.assert_array_equal(r, np.broadcast_to(want_r, (224, 224)))
    np.testing.assert_array_equal(g, np.broadcast_to(want_g[:, None], (224, 224)))
    return x0, y0, bool(flip_x), bool(flip_y)


@pytest.mark.parametrize("task", ["au", "fer"])
@pytest.mark.parametrize("train", [True, False])
def test_output_shape_dtype_range(coord_face, task, train):
    t = build_transform(task, train, rotation=10, color=0.3, blur=0.5, upside_down=0.5)
    out = t(coord_face)
    assert type(out) is torch.Tensor  # a plain tensor, not a tv_tensors subclass
    assert out.dtype == torch.float32 and tuple(out.shape) == (3, 224, 224)
    lo, hi = (0 - MEAN) / STD, (1 - MEAN) / STD
    per_channel = out.view(3, -1)
    assert np.all(per_channel.min(1).values.numpy() >= lo - 1e-5)
    assert np.all(per_channel.max(1).values.numpy() <= hi + 1e-5)


def test_imagenet_normalization_values():
    face = np.empty((256, 256, 3), np.uint8)
    face[:] = (200, 100, 50)
    out = build_transform("au", False)(face)
    want = (np.array([200, 100, 50]) / 255.0 - MEAN) / STD
    np.testing.assert_allclose(out[:, 5, 7].numpy(), want, atol=1e-6)


def test_eval_is_deterministic_centre_crop(coord_face):
    t = build_transform("au", False, rotation=30, color=0.5, blur=1.0, upside_down=1.0)
    a, b = t(coord_face), t(coord_face)
    assert torch.equal(a, b)
    assert crop_origin(denormalize(a)) == (16, 16, False, False)


def test_numpy_and_tensor_inputs_agree(coord_face):
    t = build_transform("au", False)
    chw = torch.from_numpy(coord_face).permute(2, 0, 1)
    assert torch.equal(t(coord_face), t(chw))


def test_train_crop_offsets_cover_0_to_32(coord_face):
    t = build_transform("au", True, hflip=0.0)
    torch.manual_seed(0)
    origins = [crop_origin(denormalize(t(coord_face))) for _ in range(400)]
    xs = {o[0] for o in origins}
    ys = {o[1] for o in origins}
    assert min(xs) == 0 and max(xs) == 32 and min(ys) == 0 and max(ys) == 32
    assert len(xs) > 25 and len(ys) > 25  # uniform-ish over 0..32, not a few fixed offsets
    assert not any(o[2] or o[3] for o in origins)  # hflip=0: never flipped


@pytest.mark.parametrize(("jitter", "lo", "hi"), [(0.5, 8, 24), (0.25, 12, 20)])
def test_crop_jitter_narrows_the_offsets_around_the_centre(coord_face, jitter, lo, hi):
    t = build_transform("au", True, hflip=0.0, crop_jitter=jitter)
    torch.manual_seed(0)
    origins = [crop_origin(denormalize(t(coord_face)))[:2] for _ in range(300)]
    xs = {o[0] for o in origins}
    ys = {o[1] for o in origins}
    assert (min(xs), max(xs), min(ys), max(ys)) == (lo, hi, lo, hi)


@pytest.mark.parametrize("size", [224, 96])
def test_crop_jitter_0_is_the_eval_crop(coord_face, size):
    t = build_transform("au", True, hflip=0.0, crop_jitter=0.0, size=size)
    ev = build_transform("au", False, size=size)
    torch.manual_seed(0)
    assert all(torch.equal(t(coord_face), ev(coord_face)) for _ in range(5))


def test_flip_probability(coord_face):
    always = build_transform("au", True, hflip=1.0)
    x0, _, flip_x, flip_y = crop_origin(denormalize(always(coord_face)))
    assert flip_x and not flip_y and 0 <= x0 <= 32
    default = build_transform("au", True)  # LibreFace: p = 0.5
    torch.manual_seed(1)
    flips = sum(crop_origin(denormalize(default(coord_face)))[2] for _ in range(200))
    assert 70 < flips < 130


def test_upside_down_turns_face_180(coord_face):
    t = build_transform("au", True, hflip=0.0, upside_down=1.0)
    _, _, flip_x, flip_y = crop_origin(denormalize(t(coord_face)))
    assert flip_x and flip_y


def test_fer_resizes_whole_face_and_has_no_default_augmentation(coord_face):
    train, ev = build_transform("fer", True), build_transform("fer", False)
    torch.manual_seed(0)
    views = [train(coord_face) for _ in range(5)]
    assert all(torch.equal(v, ev(coord_face)) for v in views)
    img = denormalize(views[0]).astype(int)
    # The whole 0–255 ramp is squeezed into 224 columns (resize, not crop).
    assert img[0, 0, 0] <= 2 and img[0, -1, 0] >= 253
    assert np.all(np.diff(img[100, :, 0]) >= 0)
    # FER accepts any face size (it resizes); AU needs the aligned 256 face.
    assert tuple(ev(coord_face[:200, :180]).shape) == (3, 224, 224)
    with pytest.raises(ConfigError, match="256x256"):
        build_transform("au", False)(coord_face[:240])


def test_rotation_fills_corners_with_mean_colour():
    white = np.full((256, 256, 3), 255, np.uint8)
    t = build_transform("au", True, hflip=0.0, rotation=45)
    torch.manual_seed(0)
    filled = 0
    for _ in range(20):
        out = t(white)
        near_zero = out.abs().amax(0) < 0.05  # mean colour ≈ 0 after normalization
        filled += bool(near_zero.any())
    assert filled >= 10
    assert torch.equal(
        build_transform("au", True, hflip=0.0)(white), build_transform("au", False)(white)
    )


def test_colour_jitter_changes_colours_only_at_train():
    grey = np.full((256, 256, 3), (150, 120, 100), np.uint8)
    torch.manual_seed(0)
    t = build_transform("au", True, hflip=0.0, color=0.5)
    means = {round(float(t(grey).mean()), 3) for _ in range(10)}
    assert len(means) >= 8
    ev = build_transform("au", False, color=0.5)
    assert torch.equal(ev(grey), build_transform("au", False)(grey))


def test_blur_smooths():
    checker = ((np.indices((256, 256)).sum(0) % 2) * 255).astype(np.uint8)
    checker = np.repeat(checker[..., None], 3, axis=-1)
    plain = build_transform("au", True, hflip=0.0)(checker).var()
    torch.manual_seed(0)
    blurred = build_transform("au", True, hflip=0.0, blur=1.0)
    variances = torch.stack([blurred(checker).var() for _ in range(10)])
    assert float(variances.mean()) < 0.5 * float(plain)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"task": "video"},
        {"hflip": 1.5},
        {"blur": -0.1},
        {"upside_down": 2},
        {"rotation": -5},
        {"color": -1},
        {"crop_jitter": 1.5},
        {"crop_jitter": -0.1},
    ],
)
def test_bad_parameters_raise(kwargs):
    kw = {"task": "au", "train": True, **kwargs}
    with pytest.raises(ConfigError):
        build_transform(**kw)


def test_denormalize_round_trip_and_shapes(coord_face):
    img = denormalize(build_transform("au", False)(coord_face))
    assert img.dtype == np.uint8 and img.shape == (224, 224, 3)
    np.testing.assert_array_equal(img, coord_face[16:240, 16:240])
    batch = torch.stack([build_transform("au", False)(coord_face)] * 2)
    assert denormalize(batch).shape == (2, 224, 224, 3)
    with pytest.raises(ValueError):
        denormalize(torch.zeros(1, 224, 224))


def test_gallery_is_seeded_and_leaves_global_rng_alone(coord_face):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = augmentation_gallery(coord_face, 6, seed=4, rotation=10)
    assert torch.equal(torch.get_rng_state(), state)
    b = augmentation_gallery(coord_face, 6, seed=4, rotation=10)
    c = augmentation_gallery(coord_face, 6, seed=5, rotation=10)
    assert len(a) == 6 and all(v.dtype == np.uint8 and v.shape == (224, 224, 3) for v in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert len({v.tobytes() for v in a}) > 1  # the views differ from each other


def test_showcase_rows(coord_face):
    rows = augmentation_showcase(coord_face, 3, seed=0)
    assert list(rows) == list(GALLERY_ROWS)
    eval_views = rows["eval: centre crop 224"]
    assert all(np.array_equal(v, eval_views[0]) for v in eval_views)


def test_transform_params():
    p = transform_params("au", True, rotation=15)
    assert p == {
        "task": "au",
        "train": True,
        "hflip": 0.5,
        "rotation": 15.0,
        "color": 0.0,
        "blur": 0.0,
        "upside_down": 0.0,
        "crop_jitter": 1.0,
    }
    assert transform_params("au", True, crop_jitter=0.25)["crop_jitter"] == 0.25
    assert transform_params("au", False)["crop_jitter"] == 0.0
    assert transform_params("fer", True)["crop_jitter"] == 0.0
    assert transform_params("fer", True)["hflip"] == 0.0
    assert transform_params("au", False, rotation=15)["rotation"] == 0.0
    with pytest.raises(ConfigError):
        transform_params("au", True, rotate=15)


def _pixels(t: torch.Tensor) -> np.ndarray:
    """Normalized [3, H, W] → float RGB [H, W, 3] on the 0–255 scale (no rounding)."""
    return (t.permute(1, 2, 0).numpy() * STD + MEAN) * 255.0


@pytest.mark.parametrize("task", ["au", "fer"])
def test_size_112_gives_112_inputs(coord_face, task):
    for train in (False, True):
        out = build_transform(task, train, size=112)(coord_face)
        assert tuple(out.shape) == (3, 112, 112)
        assert out.dtype == torch.float32


def test_eval_crop_at_112_covers_the_face_region_of_224(coord_face):
    """The 112 eval view is the 224 centre crop (x, y in 16..239 of 256), downsized 2×."""
    big = _pixels(build_transform("au", False)(coord_face))  # [224, 224, 3]
    small = _pixels(build_transform("au", False, size=112)(coord_face))  # [112, 112, 3]
    halved = big.reshape(112, 2, 112, 2, 3).mean(axis=(1, 3))  # 2×2 area average
    # coord_face: red = column, green = row, so one pixel of shift at 112 costs 2 grey levels.
    assert np.abs(small - halved)[..., :2].mean() < 1.0  # 0.5: the resize rounds to uint8
    shifted = halved[:, 1:] - small[:, :-1]  # the same comparison one column off
    assert np.abs(shifted[..., 0]).mean() > 1.5
    assert small[0, 0, 0] == pytest.approx(16.5, abs=0.6)  # first column: pixels 16 and 17
    assert small[0, -1, 0] == pytest.approx(238.5, abs=0.6)  # last column: pixels 238 and 239
