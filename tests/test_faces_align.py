"""LibreFace quad and alignment: geometry, fast vs reference, invariance on real photos.

Metrics, stated once:

- quad error: mean distance between the corners of the quad found on a transformed copy (mapped
  back into the original's pixels) and the original quad, as a fraction of the quad's side;
- crop difference: mean absolute difference in grey levels (0–255, all three channels) between
  two aligned 256×256 crops on the central 224×224 (the network's input), after a Gaussian blur
  of σ = 3 px on both, so a 1-px landmark jitter does not dominate.

Thresholds (measured maxima on the two photos in brackets, 2026-11): quad error ≤ 4 % for
rotation ±30°, scale 0.5–2×, shift and mirror [2.9 %, mirror]; crop difference ≤ 8 for rotation,
scale and shift [5.0], ≤ 14 for mirror [10.1: FaceMesh itself is not mirror-symmetric]. Fast vs
reference, unblurred: ≤ 3 grey levels [2.6] and ≤ 4 where the quad leaves the image [2.7].
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest
from faces_helpers import photos

from libreface_nb.faces.align import align_face, crop_and_pad, face_quad, quad_size, quad_to_affine
from libreface_nb.faces.mesh import detect_faces


@functools.cache
def _landmarks(name: str) -> np.ndarray:
    return detect_faces(photos()[name])[0].landmarks


def _quad_of(img: np.ndarray) -> np.ndarray:
    faces = detect_faces(img)
    assert faces, "no face found on the transformed copy"
    return face_quad(faces[0].landmarks)


def crop_difference(a: np.ndarray, b: np.ndarray) -> float:
    a = cv2.GaussianBlur(a.astype(np.float32), (0, 0), 3)
    b = cv2.GaussianBlur(b.astype(np.float32), (0, 0), 3)
    return float(np.abs(a - b)[16:240, 16:240].mean())


def quad_error(q: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(q - ref, axis=1).mean() / quad_size(ref))


def _synthetic_landmarks(angle_deg: float = 0.0) -> np.ndarray:
    """Eyes at (±30, 0), mouth corners at (±20, 50) around (100, 100), rotated by ``angle``."""
    from libreface_nb.faces.align import EYE_A, EYE_B, LIPS

    lm = np.zeros((478, 3), np.float64)
    lm[list(EYE_A), :2] = [30.0, 0.0]
    lm[list(EYE_B), :2] = [-30.0, 0.0]
    lm[list(LIPS), :2] = [0.0, 50.0]
    lm[61, :2], lm[291, :2] = [-20.0, 50.0], [20.0, 50.0]
    t = np.radians(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    lm[:, :2] = lm[:, :2] @ rot.T + 100.0
    return lm


def test_face_quad_geometry() -> None:
    q = face_quad(_synthetic_landmarks())
    # eye_to_eye = (60, 0), eye_to_mouth = (0, 50): x = (60 + 50, 0) scaled to max(120, 90) = 120
    c = np.array([100.0, 100.0 + 5.0])  # eye_avg + 0.1 · eye_to_mouth
    expected = c + np.array([[-120, -120], [-120, 120], [120, 120], [120, -120]])
    assert q == pytest.approx(expected)
    assert quad_size(q) == pytest.approx(240.0)


@pytest.mark.parametrize("angle", [-30.0, 17.0, 45.0])
def test_face_quad_rotates_with_the_face(angle: float) -> None:
    t = np.radians(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    q0 = face_quad(_synthetic_landmarks()) - 100.0
    assert face_quad(_synthetic_landmarks(angle)) - 100.0 == pytest.approx(q0 @ rot.T)


def test_quad_to_affine_maps_corners_to_the_square() -> None:
    q = face_quad(_synthetic_landmarks(25.0))
    m = quad_to_affine(q, 256)
    out = q @ m[:, :2].T + m[:, 2]
    # corner 0 → pixel edge (0, 0) = index (−0.5, −0.5); corner 2 → (255.5, 255.5)
    corners = np.array([[-0.5, -0.5], [-0.5, 255.5], [255.5, 255.5], [255.5, -0.5]])
    assert out == pytest.approx(corners, abs=1e-9)


def test_align_face_output_and_errors() -> None:
    img = photos()["astronaut"]
    for method in ("fast", "reference"):
        out = align_face(img, _landmarks("astronaut"), method=method)
        assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert align_face(img, face_quad(_landmarks("astronaut")), size=112).shape == (112, 112, 3)
    with pytest.raises(ValueError, match="method"):
        align_face(img, _landmarks("astronaut"), method="nope")
    with pytest.raises(ValueError, match="shape"):
        align_face(img, np.zeros((5, 2)))


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_fast_matches_reference(name: str, scale: float) -> None:
    img = photos()[name]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=interp) if scale != 1 else img
    q = (face_quad(_landmarks(name)) + 0.5) * scale - 0.5
    fast = align_face(img, q, method="fast").astype(np.float32)
    ref = align_face(img, q, method="reference").astype(np.float32)
    assert np.abs(fast - ref)[16:240, 16:240].mean() <= 3.0


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_fast_matches_reference_with_padding(name: str) -> None:
    img = photos()[name]
    q = face_quad(_landmarks(name))
    cut = np.floor(q.min(axis=0) + 0.25 * quad_size(q)).astype(int)  # cut into the quad
    crop = np.ascontiguousarray(img[cut[1] :, cut[0] :])
    q = q - cut
    assert max(crop_and_pad(q, quad_size(q), crop.shape[:2])[1]) > 0  # the padding path runs
    fast = align_face(crop, q, method="fast").astype(np.float32)
    ref = align_face(crop, q, method="reference").astype(np.float32)
    assert np.abs(fast - ref).mean() <= 4.0


def _rotate(img: np.ndarray, angle: float, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    return out, m


def _transformed(img: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A transformed copy and the affine ``[2, 3]`` mapping original → copy pixels."""
    if kind == "rot20scale0.7":
        return _rotate(img, 20.0, 0.7)
    if kind.startswith("rot"):
        return _rotate(img, float(kind[3:]))
    if kind.startswith("scale"):
        s = float(kind[5:])
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
        out = cv2.resize(img, None, fx=s, fy=s, interpolation=interp)
        return out, np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5]])
    if kind == "shift":
        out = np.pad(img, ((97, 23), (41, 79), (0, 0)), mode="edge")
        return out, np.array([[1.0, 0, 41], [0, 1.0, 97]])
    raise ValueError(kind)


KINDS = ["rot-30", "rot-15", "rot15", "rot30", "scale0.5", "scale2", "shift", "rot20scale0.7"]


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
@pytest.mark.parametrize("kind", KINDS)
def test_alignment_is_invariant_to_rotation_scale_shift(name: str, kind: str) -> None:
    img = photos()[name]
    ref_quad = face_quad(_landmarks(name))
    ref_crop = align_face(img, ref_quad)
    copy, m = _transformed(img, kind)
    q = _quad_of(copy)
    q_back = (q - m[:, 2]) @ np.linalg.inv(m[:, :2]).T
    assert quad_error(q_back, ref_quad) <= 0.04
    assert crop_difference(align_face(copy, q), ref_crop) <= 8.0


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_alignment_of_mirrored_copy(name: str) -> None:
    img = photos()[name]
    w = img.shape[1]
    ref_quad = face_quad(_landmarks(name))
    mirrored = np.ascontiguousarray(img[:, ::-1])
    q = _quad_of(mirrored)
    q_back = np.column_stack([w - 1 - q[:, 0], q[:, 1]])[[3, 2, 1, 0]]  # TL ↔ TR, BL ↔ BR
    assert quad_error(q_back, ref_quad) <= 0.04
    flipped_back = align_face(mirrored, q)[:, ::-1]
    assert crop_difference(flipped_back, align_face(img, ref_quad)) <= 14.0


def test_metric_catches_a_misalignment() -> None:
    """Negative control: a quad moved by 8 % of its side exceeds the crop threshold."""
    img = photos()["astronaut"]
    q = face_quad(_landmarks("astronaut"))
    moved = q + 0.08 * quad_size(q) * np.array([1.0, 0.0])
    assert crop_difference(align_face(img, moved), align_face(img, q)) > 8.0


def _cut_by(edge: str, img: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``img`` cut by ``edge`` a quarter of the quad's side into the quad, and the moved quad."""
    cut = int(0.25 * quad_size(q))
    lo, hi = np.floor(q.min(axis=0)).astype(int), np.ceil(q.max(axis=0)).astype(int)
    q = q.copy()
    if edge == "top":
        img, q[:, 1] = img[lo[1] + cut :], q[:, 1] - (lo[1] + cut)
    elif edge == "left":
        img, q[:, 0] = img[:, lo[0] + cut :], q[:, 0] - (lo[0] + cut)
    elif edge == "bottom":
        img = img[: hi[1] - cut]
    else:
        img = img[:, : hi[0] - cut]
    return np.ascontiguousarray(img), q


@pytest.mark.parametrize("edge", ["top", "bottom", "left", "right"])
def test_constant_border_fast_matches_reference_on_a_face_cut_by_each_edge(edge: str) -> None:
    """LibreFace 0.2.0's dark fill beyond the frame edge (``border="constant"``): fast vs
    reference, unblurred, whole crop. Measured on astronaut and grace_hopper (2026-12): mean
    ≤ 0.92 grey levels at 256 px (reference at 1024 px then LANCZOS), ≤ 0.45 at 512 px (both
    straight to 512, LibreFace's pip alignment); 99th percentile ≤ 7 and ≤ 2."""
    img, q = _cut_by(edge, photos()["astronaut"], face_quad(_landmarks("astronaut")))
    assert max(crop_and_pad(q, quad_size(q), img.shape[:2])[1]) > 0  # the padding path runs
    for size, transform, tol in ((256, 1024, 1.5), (512, 512, 0.75)):
        fast = align_face(img, q, size, border="constant").astype(np.float32)
        ref = align_face(img, q, size, "reference", transform_size=transform, border="constant")
        assert np.abs(fast - ref.astype(np.float32)).mean() <= tol, size
    # Beyond the cut edge the fill is dark (zeros, blurred): far darker than the mirror fill.
    band = {
        "top": np.s_[:12],
        "bottom": np.s_[-12:],
        "left": np.s_[:, :12],
        "right": np.s_[:, -12:],
    }
    mirror = align_face(img, q, 256, border="reflect").astype(np.float32)
    dark = align_face(img, q, 256, border="constant").astype(np.float32)
    assert dark[band[edge]].mean() < 0.5 * mirror[band[edge]].mean()


@pytest.mark.parametrize("method", ["fast", "reference"])
def test_the_default_fill_is_librefaces_dark_fill(method: str) -> None:
    """Both methods default to ``border="constant"`` (LibreFace 0.2.0's fill), on a face cut by
    the top edge, where the two fills differ."""
    img, q = _cut_by("top", photos()["astronaut"], face_quad(_landmarks("astronaut")))
    default = align_face(img, q, 256, method)
    assert np.array_equal(default, align_face(img, q, 256, method, border="constant"))
    assert not np.array_equal(default, align_face(img, q, 256, method, border="reflect"))


@pytest.mark.parametrize(("shape", "sigma"), [((300, 260, 3), 5.12), ((9, 40, 3), 10.0)])
def test_reference_blur_is_scipys_gaussian_filter(shape: tuple, sigma: float) -> None:
    """The reference recipe's blur (run by OpenCV) against ``scipy.ndimage.gaussian_filter``
    itself, the filter LibreFace's aligner calls; the second case has a kernel (radius 40)
    wider than the image, where both must reflect more than once."""
    from scipy.ndimage import gaussian_filter

    from libreface_nb.faces.align_reference import gaussian_blur

    f = np.random.default_rng(3).uniform(0, 255, shape).astype(np.float32)
    want = gaussian_filter(f, [sigma, sigma, 0])
    assert np.abs(gaussian_blur(f, sigma) - want).max() <= 1e-3


def test_median_with_zeros_is_numpys_median() -> None:
    """The dark fill's median, which counts the far padding as zeros without building it, against
    ``np.median`` of the whole: odd and even counts, negatives, zeros, the middle in the zeros."""
    from libreface_nb.faces.align_reference import _median_with_zeros

    rng = np.random.default_rng(5)
    cases = [
        (rng.uniform(0, 255, 1001).astype(np.float32), 0),
        (rng.uniform(0, 255, 1000).astype(np.float32), 7),
        (rng.uniform(-5, 255, 999).astype(np.float32), 998),  # middle among the zeros
        (rng.uniform(1, 255, 500).astype(np.float32), 500),  # the last zero and the first value
        (np.r_[np.zeros(40), rng.uniform(1, 9, 60)].astype(np.float32), 10),
        (np.zeros(0, np.float32), 4),
    ]
    for vals, zeros in cases:
        want = np.median(np.r_[vals, np.zeros(zeros, np.float32)])
        got = _median_with_zeros(vals.copy(), zeros)
        assert got.dtype == np.float32 and got == want, (vals.size, zeros, got, want)


@pytest.mark.parametrize("edge", ["top", "bottom", "left", "right"])
def test_dark_fill_shortcut_gives_the_recipes_values(edge: str, monkeypatch) -> None:
    """``align_reference`` computes LibreFace's dark fill only where it can be nonzero
    (``_dark_padding``); value for value it is the recipe step by step (``_blurred_padding``):
    the padded crop, whole, on a face cut by each edge and with pads smaller than two blur radii,
    and the aligned face at 512 px (LibreFace's) and 256 px via 1024."""
    from libreface_nb.faces import align_reference as ar

    img, q = _cut_by(edge, photos()["astronaut"], face_quad(_landmarks("astronaut")))
    qsize = quad_size(q)
    crop, pad = crop_and_pad(q, qsize, img.shape[:2])
    sub = img[crop[1] : crop[3], crop[0] : crop[2]]
    for p in (pad, (3, 5, 40, 2)):
        want = ar._blurred_padding(sub, p, qsize, "constant")
        assert np.array_equal(ar._dark_padding(sub, p, qsize), want), p
        kept = ar._dark_padding(sub, p, qsize, keep=(20, 30, 200, 150))
        assert np.array_equal(kept[30:150, 20:200], want[30:150, 20:200])
        assert not kept[:30].any() and not kept[150:].any()
    fast = {s: ar.align_reference(img, q, s, t) for s, t in ((512, 512), (256, 1024))}
    calls: list = []

    def literal(i: np.ndarray, p: tuple, qs: float, keep: tuple | None = None) -> np.ndarray:
        calls.append(p)
        return ar._blurred_padding(i, p, qs, "constant")

    monkeypatch.setattr(ar, "_dark_padding", literal)
    for s, t in ((512, 512), (256, 1024)):
        assert np.array_equal(fast[s], ar.align_reference(img, q, s, t)), s
    assert len(calls) == 2  # the step-by-step recipe did run


def test_border_is_checked() -> None:
    with pytest.raises(ValueError, match="border must be one of"):
        align_face(photos()["astronaut"], face_quad(_landmarks("astronaut")), border="mirror")
