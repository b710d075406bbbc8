"""SynthAU (libreface_nb.data.synth): determinism, geometry, MediaPipe checks, curves, prototypes.

Landmark checks detect the rendered faces with MediaPipe and express movements in the face frame
of the neutral render (IOD units). Thresholds are about half of what was measured on the first
two subjects (astronaut, grace_hopper), so a real regression fails while MediaPipe's partial
tracking of small movements does not.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from libreface_nb.config import BP4D_AUS, DISFA_AUS, EXPRESSIONS
from libreface_nb.data import synth
from libreface_nb.data.synth import aus as A
from libreface_nb.data.synth import render
from libreface_nb.data.synth import warp as W
from libreface_nb.data.synth.base import base_face

CLEAN = {"pose": False, "degrade": False}


@pytest.fixture(scope="module")
def subjects() -> list[synth.SynthSubject]:
    return synth.make_subjects(6, seed=0)


def _landmarks(image: np.ndarray) -> np.ndarray:
    from libreface_nb.faces.mesh import detect_faces

    faces = detect_faces(image)
    assert faces, "MediaPipe found no face in a SynthAU render"
    return faces[0].landmarks[:, :2].astype(np.float64)


class _Mover:
    """Detected and intended landmark movements of one subject, face frame of its neutral."""

    def __init__(self, subject: synth.SynthSubject) -> None:
        self.subject = subject
        neutral = self._detect({})
        self.origin, self.rot, self.iod = A.face_frame(neutral)
        self.neutral = self._frame(neutral)
        self.intended_neutral = synth.target_mesh(subject, {})

    def _detect(self, intensities: dict) -> np.ndarray:
        img = synth.render_face(self.subject, intensities, **CLEAN)
        # A mirrored subject's image is flipped back so landmark ids keep their base meaning.
        return _landmarks(np.ascontiguousarray(img[:, ::-1]) if self.subject.mirror else img)

    def _frame(self, pts: np.ndarray) -> np.ndarray:
        return (pts - self.origin) @ self.rot.T / self.iod

    def detected(self, intensities: dict) -> np.ndarray:
        return self._frame(self._detect(intensities)) - self.neutral

    def intended(self, intensities: dict) -> np.ndarray:
        return synth.target_mesh(self.subject, intensities) - self.intended_neutral

    def outward(self, d: np.ndarray, idx: int) -> float:
        """Movement of landmark ``idx`` away from the face midline."""
        return float(np.sign(self.neutral[idx, 0]) * d[idx, 0])


@pytest.fixture(scope="module")
def movers(subjects) -> list[_Mover]:
    return [_Mover(s) for s in subjects[:2]]  # one astronaut, one grace_hopper subject


def test_synth_aus_cover_disfa_and_bp4d():
    assert set(synth.SYNTH_AUS) == set(DISFA_AUS) | set(BP4D_AUS)
    assert list(synth.SYNTH_AUS) == sorted(synth.SYNTH_AUS)
    assert set(A.AU_HANDLES) == set(synth.SYNTH_AUS)


def test_make_subjects_is_deterministic_and_alternates_bases():
    a, b = synth.make_subjects(5, seed=3), synth.make_subjects(5, seed=3)
    assert a == b
    assert synth.make_subjects(3, seed=3) == a[:3]  # subject i depends on (seed, i) only
    assert [s.base for s in a] == ["astronaut", "grace_hopper"] * 2 + ["astronaut"]
    assert len({s.subject_id for s in a}) == 5
    assert [s.mirror for s in a[:4]] == [False, False, True, True]
    assert synth.make_subjects(1, seed=4)[0].shape != a[0].shape


def test_render_is_deterministic(subjects):
    s = subjects[2]
    inten = {12: 3.5, 25: 2.0, 4: 1.0}
    first = synth.render_face(s, inten, frame_seed=7)
    render._styled_work.cache_clear()  # the same bytes must come back without caches
    again = synth.render_face(s, dict(inten), frame_seed=7)
    assert first.dtype == np.uint8 and first.shape == (256, 256, 3)
    assert first.tobytes() == again.tobytes()
    assert not np.array_equal(first, synth.render_face(s, inten, frame_seed=8))
    assert synth.render_face(s, inten, size=128, frame_seed=7).shape == (128, 128, 3)


def test_zero_intensities_give_the_styled_base(subjects):
    for s in subjects[:2]:
        zeros = synth.render_face(s, {au: 0.0 for au in synth.SYNTH_AUS}, **CLEAN)
        assert zeros.tobytes() == synth.render_face(s, {}, **CLEAN).tobytes()
        # Without identity change the mesh warp must be the identity: same as a plain resample.
        flat = dataclasses.replace(s, shape=(0.0,) * len(s.shape))
        diff = np.abs(
            synth.render_face(flat, {}, **CLEAN).astype(int) - synth.styled_base(flat).astype(int)
        )
        assert diff.mean() < 0.05 and diff.max() <= 8, (diff.mean(), diff.max())
        # The identity change is real (measured mean differences 1.2 and 4.1 grey levels).
        assert np.abs(zeros.astype(int) - synth.styled_base(s).astype(int)).mean() > 0.5


def test_background_stays_put(subjects):
    s = subjects[1]
    moved = synth.render_face(s, {26: 5.0, 12: 5.0, 1: 5.0}, **CLEAN)
    neutral = synth.render_face(s, {}, **CLEAN)
    border = np.ones(neutral.shape[:2], bool)
    border[12:-12, 12:-12] = False
    assert np.array_equal(moved[border], neutral[border])
    assert not np.array_equal(moved, neutral)


def test_triangulation_covers_the_working_image(subjects):
    import cv2

    base = base_face(subjects[0].base, 256)
    assert W.face_triangles().shape == (852, 3)
    side = base.image.shape[0]
    verts = np.concatenate([base.mesh, base.anchors])
    ids = np.zeros((side, side), np.int32)
    for i, tri in enumerate(base.triangles):
        cv2.fillConvexPoly(ids, np.round(verts[tri] * 16).astype(np.int32), i + 1, cv2.LINE_8, 4)
    assert (ids == 0).mean() < 1e-3  # every pixel belongs to a triangle (edge rounding aside)


@pytest.mark.parametrize("au", synth.SYNTH_AUS)
def test_each_au_moves_the_detected_mesh_as_intended(movers, au):
    """Cosine between MediaPipe's and the intended movement (landmarks moved > 0.03 IOD).

    Measured at intensity 5: cosine 0.48–0.98, gain (projection ratio) 0.24–1.02.
    """
    for m in movers:
        want = m.intended({au: 5.0})
        got = m.detected({au: 5.0})
        sel = np.linalg.norm(want, axis=1) > 0.03
        a, b = got[sel].ravel(), want[sel].ravel()
        cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        gain = (a @ b) / (b @ b)
        assert cos > 0.35 and gain > 0.12, (m.subject.base, au, cos, gain)


def test_named_movements_go_the_right_way(movers):
    for m in movers:
        d = m.detected({12: 5.0})  # lip corners up and out
        for c in A.MOUTH_CORNERS:
            assert d[c, 1] < -0.05 and m.outward(d, c) > 0.035, (m.subject.base, c, d[c])
        d = m.detected({15: 5.0})  # lip corners down
        assert (d[list(A.MOUTH_CORNERS), 1] > 0.06).all()
        d = m.detected({4: 5.0})  # brows down
        assert d[[105, 334], 1].mean() > 0.03
        d = m.detected({1: 5.0})  # inner brows up, more than the outer brows
        assert d[[107, 336], 1].mean() < -0.05
        assert d[[107, 336], 1].mean() < d[[70, 300], 1].mean()
        d = m.detected({26: 5.0})  # jaw drop: chin down, upper lip stays
        assert d[152, 1] > 0.06 and abs(d[0, 1]) < 0.03
        d = m.detected({25: 5.0})  # lips part: lower lip down, upper lip up
        assert d[14, 1] > 0.045 and d[13, 1] < 0.0


def test_displacement_grows_with_intensity(movers):
    for m in movers:
        for au, idx in ((12, [61, 291]), (26, [152])):
            unit = m.intended({au: 5.0})[idx].ravel()
            unit /= np.linalg.norm(unit)
            proj = [float(m.detected({au: v})[idx].ravel() @ unit) for v in (0, 1, 2, 3, 4, 5)]
            assert np.all(np.diff(proj) > 0.005), (m.subject.base, au, proj)


def test_mouth_interior_is_drawn_with_throat_and_teeth(movers):
    """Inside MediaPipe's inner-lip ring of an open mouth: a dark throat and bright teeth."""
    import cv2

    for m in movers:
        open_ = synth.render_face(m.subject, {25: 5.0, 26: 3.0}, **CLEAN)
        neutral = synth.render_face(m.subject, {}, **CLEAN)
        pts = _landmarks(open_)
        ring = [78, *A.LIP_INNER_UPPER, 308, *A.LIP_INNER_LOWER[::-1]]
        mask = np.zeros(open_.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(pts[ring]).astype(np.int32)], 1)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)
        assert mask.sum() > 50
        luma = open_[mask].astype(float).mean(1)
        dark = np.percentile(luma, 25)
        assert dark < neutral[mask].mean() - 40, (m.subject.base, dark)
        assert np.percentile(luma, 90) > dark + 60, (m.subject.base, np.percentile(luma, 90))


def test_mediapipe_finds_faces_in_random_frames(subjects):
    """≥ 95 % of 100 random frames (6 subjects, random AUs, pose, blur, noise, JPEG)."""
    from libreface_nb.faces.mesh import detect_faces

    rng = np.random.default_rng(0)
    found = 0
    for i in range(100):
        active = rng.random(len(synth.SYNTH_AUS)) < 0.4
        values = rng.uniform(0, 5, len(synth.SYNTH_AUS)) * active
        inten = dict(zip(synth.SYNTH_AUS, values.tolist(), strict=True))
        found += bool(detect_faces(synth.render_face(subjects[i % 6], inten, frame_seed=i)))
    assert found >= 95, found


def _folded_fraction(subject: synth.SynthSubject, intensities) -> float:
    base = base_face(subject.base, 256)
    src = np.concatenate([base.mesh, base.anchors])
    target = synth.target_mesh(subject, intensities)
    dst = np.concatenate([base.mesh + base.to_pixels(target - base.face), base.anchors])

    def area(tri: np.ndarray) -> np.ndarray:
        return 0.5 * np.abs(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]))

    flipped = base.triangles[W.folded(src, dst, base.triangles, 0.0)]
    return float(area(src[flipped]).sum() / area(src[W.face_triangles()]).sum())


def test_no_fold_overs(subjects):
    """Single AUs at 5 and expression prototypes keep the mesh untangled (measured ≤ 0.16 %
    of the triangulated area flips, all in slivers at the lips and mouth corners)."""
    for s in subjects:
        cases = [{au: 5.0} for au in synth.SYNTH_AUS]
        cases += [synth.expression_intensities(e, 3) for e in range(len(EXPRESSIONS))]
        worst = max(_folded_fraction(s, c) for c in cases)
        assert worst < 0.0025, (s.subject_id, worst)


def test_au_curves_have_onset_apex_offset_shape():
    n, k = 300, 3
    curves = synth.au_curves(n, DISFA_AUS, seed=5, n_events=k)
    assert curves.shape == (n, len(DISFA_AUS)) and curves.dtype == np.float32
    assert curves.min() >= 0.0 and curves.max() <= 5.0
    # Smooth: the steepest raised-cosine onset here lasts ≥ 9 frames → step ≤ 5·π/18 ≈ 0.87.
    assert np.abs(np.diff(curves, axis=0)).max() < 0.9
    for col in curves.T:
        pos = col > 0
        starts = np.flatnonzero(pos[1:] & ~pos[:-1]) + 1
        ends = np.flatnonzero(pos[:-1] & ~pos[1:]) + 1
        assert len(starts) == len(ends) == k and not pos[0] and not pos[-1]
        for a, b in zip(starts, ends, strict=True):
            event = col[a:b]
            top = int(np.argmax(event))
            assert np.all(np.diff(event[: top + 1]) >= 0)  # onset rises
            assert np.all(np.diff(event[top:]) <= 0)  # offset falls
            assert 1.0 <= event.max() <= 5.0
    np.testing.assert_array_equal(curves, synth.au_curves(n, DISFA_AUS, seed=5, n_events=k))
    assert not np.array_equal(curves, synth.au_curves(n, DISFA_AUS, seed=6, n_events=k))
    alone = synth.au_curves(n, [12], seed=5, n_events=k)[:, 0]
    np.testing.assert_array_equal(alone, curves[:, DISFA_AUS.index(12)])
    assert synth.au_curves(0, [1, 2], seed=0).shape == (0, 2)
    short = synth.au_curves(5, [1], seed=0)
    assert short.shape == (5, 1) and short.max() <= 5.0


def test_expression_prototypes():
    for e, name in enumerate(EXPRESSIONS):
        proto = set(synth.EXPRESSION_PROTOTYPES[e])
        seen_optional = set()
        for seed in range(12):
            v = synth.expression_intensities(e, seed)
            assert set(v) == set(synth.SYNTH_AUS)
            assert v == synth.expression_intensities(e, seed)
            if name == "Neutral":
                assert all(x == 0.0 for x in v.values())
                continue
            high = {au for au, x in v.items() if x >= 3.0}
            assert proto <= high, (name, seed, v)
            assert high - proto <= set(synth.EXPRESSION_OPTIONAL.get(e, ())), (name, v)
            assert all(x <= 0.6 for au, x in v.items() if au not in high)
            seen_optional |= high - proto
        if name == "Disgust":
            assert seen_optional == {10}  # the optional AU10 comes in some seeds
    assert synth.EXPRESSION_PROTOTYPES[EXPRESSIONS.index("Happiness")] == (6, 12)
    assert set(synth.EXPRESSION_PROTOTYPES[EXPRESSIONS.index("Fear")]) == {1, 2, 4, 5, 7, 20, 26}
    with pytest.raises(ValueError, match="expression"):
        synth.expression_intensities(len(EXPRESSIONS), 0)


def test_contempt_is_unilateral(movers):
    sides = {synth.expression_intensities(7, seed).sides[12] for seed in range(10)}
    assert sides == {"left", "right"}
    for m in movers:
        inten = synth.AUIntensities({12: 5.0, 14: 5.0}, {12: "right", 14: "right"})
        want = m.intended(inten)
        assert np.linalg.norm(want[61]) > 0.05 and np.linalg.norm(want[291]) < 0.01
        got = m.detected(inten)
        assert np.linalg.norm(got[61]) > np.linalg.norm(got[291]) + 0.03, (got[61], got[291])


def test_mirror_flips_the_image(subjects):
    s = subjects[2]
    assert s.mirror
    plain = dataclasses.replace(s, mirror=False)
    inten = {12: 4.0, 26: 2.0}
    a = synth.render_face(s, inten, **CLEAN)
    np.testing.assert_array_equal(a, synth.render_face(plain, inten, **CLEAN)[:, ::-1])


def test_atlas(subjects):
    grid = synth.atlas(subjects[0], aus=(1, 12, 26), levels=(0, 2.5, 5), size=96)
    assert grid.shape == (3, 3, 96, 96, 3) and grid.dtype == np.uint8
    neutral = synth.render_face(subjects[0], {}, size=96, **CLEAN)
    for row in grid:
        np.testing.assert_array_equal(row[0], neutral)
        d1, d2 = (np.abs(row[i].astype(int) - neutral).mean() for i in (1, 2))
        assert 0 < d1 < d2


def test_bad_inputs_raise(subjects):
    s = subjects[0]
    with pytest.raises(ValueError, match="AU3"):
        synth.render_face(s, {3: 1.0})
    for bad in (5.5, -1.0, float("nan")):
        with pytest.raises(ValueError, match="AU12"):
            synth.render_face(s, {12: bad})
    with pytest.raises(ValueError, match="side"):
        synth.render_face(s, {12: 1.0}, sides={12: "top"})
    with pytest.raises(ValueError, match="base"):
        synth.render_face(dataclasses.replace(s, base="mona_lisa"), {})
