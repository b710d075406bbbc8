"""SynthAU appearance, mouth interior and head turns (libreface_nb.data.synth appearance, mouth,
pose): nothing painted at intensity 0, changes confined to each AU's region, teeth heights from
the stated anatomy rules, turns that MediaPipe still reads and that move the nose the right way.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from libreface_nb.data import synth
from libreface_nb.data.synth import appearance as P
from libreface_nb.data.synth import aus as A
from libreface_nb.data.synth import mouth as M
from libreface_nb.data.synth import pose as P3
from libreface_nb.data.synth import scene as C
from libreface_nb.data.synth.base import base_face

CLEAN = {"pose": False, "degrade": False}


@pytest.fixture(scope="module")
def subjects() -> list[synth.SynthSubject]:
    return synth.make_subjects(2, seed=0)  # astronaut, grace_hopper


def test_appearance_at_zero_paints_nothing(subjects):
    zeros = {au: 0.0 for au in synth.SYNTH_AUS}
    for s in subjects:
        with_layer = synth.render_face(s, zeros, **CLEAN)
        without = synth.render_face(s, zeros, appearance=False, **CLEAN)
        assert with_layer.tobytes() == without.tobytes()
        # An AU without appearance features (AU5 moves the lids only) paints nothing either.
        a = synth.render_face(s, {5: 5.0}, **CLEAN)
        assert a.tobytes() == synth.render_face(s, {5: 5.0}, appearance=False, **CLEAN).tobytes()


@pytest.mark.parametrize("au", sorted(P.AU_FEATURES))
def test_appearance_change_is_confined_to_the_au_region(subjects, au):
    s = subjects[0]
    base = base_face(s.base, 256)
    on = synth.render_face(s, {au: 5.0}, **CLEAN).astype(int)
    off = synth.render_face(s, {au: 5.0}, appearance=False, **CLEAN).astype(int)
    changed = np.abs(on - off).max(2) > 3
    assert changed.sum() > 30, changed.sum()  # the features are visible
    view = synth.view_matrix(s, 256, None)
    pts = np.concatenate(P.feature_points(base, au)) @ view[:, :2].T + view[:, 2]
    margin = 0.3 * base.iod * abs(np.linalg.det(view[:, :2])) ** 0.5  # AU motion + blur
    ys, xs = np.nonzero(changed)
    assert xs.min() >= pts[:, 0].min() - margin and xs.max() <= pts[:, 0].max() + margin
    assert ys.min() >= pts[:, 1].min() - margin and ys.max() <= pts[:, 1].max() + margin
    # Darkening grows with intensity.
    weak = synth.render_face(s, {au: 1.0}, **CLEAN).astype(int)
    weak_off = synth.render_face(s, {au: 1.0}, appearance=False, **CLEAN).astype(int)
    assert np.abs(weak - weak_off).sum() < np.abs(on - off).sum()


def test_unilateral_appearance_stays_on_its_side(subjects):
    s = subjects[0]
    inten = synth.AUIntensities({12: 5.0}, {12: "right"})  # the subject's right = image left
    on = synth.render_face(s, inten, **CLEAN).astype(int)
    off = synth.render_face(s, inten, appearance=False, **CLEAN).astype(int)
    cols = np.nonzero(np.abs(on - off).max(2) > 3)[1]
    assert cols.size > 30
    assert cols.max() < 128  # all on the image's left half


def _flat_mouth(gap_iod: float, jaw: float, iod: float = 100.0) -> np.ndarray:
    xs = np.linspace(50.0, 150.0, 11)
    upper = np.stack([xs, np.full_like(xs, 60.0)], 1)
    lower = np.stack([xs, np.full_like(xs, 60.0 + gap_iod * iod)], 1)
    lower[[0, -1], 1] = 60.0  # shared corners
    img = np.full((200, 200, 3), 128, np.uint8)
    colours = {"cavity": M.CAVITY, "throat": M.THROAT, "tongue": M.TONGUE,
               "teeth": np.array([250.0, 250.0, 250.0])}  # fmt: skip
    return M.paint(img, upper, lower, opacity=1.0, gap=gap_iod, jaw=jaw, iod=iod,
                   down=np.array([0.0, 1.0]), colours=colours)  # fmt: skip


def _teeth_rows(img: np.ndarray, top: float, bottom: float) -> tuple[int, int]:
    """Bright rows at the mouth's centre column, from the top and from the bottom of the gap."""
    col = img[:, 100].astype(int).min(1) > 200
    rows = np.flatnonzero(col)
    upper = int(((rows >= top) & (rows < (top + bottom) / 2)).sum())
    lower = int(((rows > (top + bottom) / 2) & (rows <= bottom)).sum())
    return upper, lower


@pytest.mark.parametrize(("gap", "jaw"), [(0.1, 0.0), (0.16, 0.0), (0.3, 0.0), (0.3, 1.0)])
def test_teeth_heights_follow_gap_and_jaw(gap, jaw):
    img = _flat_mouth(gap, jaw)
    upper, lower = _teeth_rows(img, 60.0, 60.0 + 100 * gap)
    want_upper = 100 * min(M.UPPER_TEETH[0] * gap, M.UPPER_TEETH[1])
    want_lower = 100 * min(M.LOWER_TEETH[0] * gap * (0.35 + 0.65 * jaw), M.LOWER_TEETH[1])
    assert abs(upper - want_upper) <= 2.5, (upper, want_upper)
    assert abs(lower - want_lower) <= 2.5, (lower, want_lower)


def test_mouth_has_dark_throat_and_tongue():
    img = _flat_mouth(0.3, 1.0).astype(int)
    centre = img[75, 100]  # between the teeth rows, the middle of the opening
    assert centre.sum() < 3 * 90
    tongue = img[60 + 30 - 8, 100]  # above the lower teeth, on the floor of the mouth
    assert tongue[0] > tongue[1] + 25  # red, not dark or grey
    assert _flat_mouth(0.05, 0.0)[60:66, 100].min() < 128  # a narrow gap is dark


def test_teeth_colour_from_the_photo(subjects):
    astro = M.photo_teeth(base_face("astronaut", 256))
    assert astro is not None and astro.mean() > 150  # she smiles: teeth show
    assert M.photo_teeth(base_face("grace_hopper", 256)) is None  # closed mouth


def _nose_offset(image: np.ndarray) -> float:
    """Nose tip's x relative to the eye midpoint, in IOD (MediaPipe landmarks)."""
    from libreface_nb.faces.mesh import detect_faces

    faces = detect_faces(image)
    assert faces, "no face found"
    p = faces[0].landmarks[:, :2].astype(np.float64)
    eyes = (p[468] + p[473]) / 2
    return float((p[1, 0] - eyes[0]) / np.linalg.norm(p[473] - p[468]))


def test_head_turns_move_the_nose_and_stay_detectable(subjects):
    for s in subjects:
        frontal = _nose_offset(synth.render_face(s, {}, **CLEAN))
        left = _nose_offset(synth.render_face(s, {}, yaw=25.0, **CLEAN))
        right = _nose_offset(synth.render_face(s, {}, yaw=-25.0, **CLEAN))
        assert left < frontal - 0.05 < frontal + 0.05 < right, (left, frontal, right)
        for pitch in (-20.0, 20.0):
            _nose_offset(synth.render_face(s, {12: 3.0}, pitch=pitch, **CLEAN))


def test_no_turn_is_the_identity(subjects):
    s = subjects[1]
    plain = synth.render_face(s, {12: 3.0}, **CLEAN)
    assert plain.tobytes() == synth.render_face(s, {12: 3.0}, yaw=0.0, pitch=0.0, **CLEAN).tobytes()
    rot = P3.rotation(0.0, 0.0)
    np.testing.assert_array_equal(rot, np.eye(3))
    base = base_face(s.base, 256)
    np.testing.assert_allclose(P3.shade_ratio(base.normals, rot, np.array([0, 0, -1.0])), 1.0)


def test_turn_draws_are_bounded_and_seeded():
    draws = [P3.draw_turn(np.random.default_rng(i)) for i in range(300)]
    yaws = np.array([d[0] for d in draws])
    pitches = np.array([d[1] for d in draws])
    assert np.abs(yaws).max() <= P3.YAW_DEG and np.abs(pitches).max() <= P3.PITCH_DEG
    assert np.abs(yaws).max() > 20  # the range is used
    lights = np.array([d[2] for d in draws])
    np.testing.assert_allclose(np.linalg.norm(lights, axis=1), 1.0)
    assert np.degrees(np.arccos(-lights[:, 2])).max() <= P3.LIGHT_DEG + 1e-9
    a, b = P3.draw_turn(np.random.default_rng(5)), P3.draw_turn(np.random.default_rng(5))
    assert a[:2] == b[:2]


def test_subjects_draw_backdrops_and_mixes_after_their_old_fields():
    many = synth.make_subjects(40, seed=0)
    assert {s.backdrop for s in many} - {""} <= set(C.BACKDROPS)
    assert 0.5 < np.mean([bool(s.backdrop) for s in many]) < 0.9  # 70 % expected
    assert not any(s.mix_base for s in many[:2])  # each base's first subject is the photo
    mixed = [s for s in many if s.mix_base]
    assert mixed and all(s.mix_base != s.base and 0.25 <= s.mix <= 0.5 for s in mixed)
    assert synth.make_subjects(12, seed=0) == many[:12]


def test_backdrop_replaces_the_surroundings_only(subjects):
    s = dataclasses.replace(subjects[0], backdrop="")
    plain = synth.render_face(s, {}, **CLEAN).astype(int)
    swapped = synth.render_face(
        dataclasses.replace(s, backdrop="procedural:stripes"), {}, **CLEAN
    ).astype(int)
    diff = np.abs(plain - swapped).max(2)
    assert diff[:20, :20].mean() > 10  # the top corner is backdrop now
    assert diff[100:160, 100:160].max() == 0  # the face centre is untouched


def test_identity_mix_changes_the_face_not_the_surroundings(subjects):
    s = dataclasses.replace(subjects[0], backdrop="")
    mixed = dataclasses.replace(s, mix_base="grace_hopper", mix=0.5)
    a = synth.render_face(s, {}, **CLEAN).astype(int)
    b = synth.render_face(mixed, {}, **CLEAN).astype(int)
    diff = np.abs(a - b).max(2)
    assert diff[100:160, 100:160].mean() > 5
    assert diff[:15].max() == 0 and diff[:, :15].max() == 0


def test_occluders_are_drawn_at_their_rates_and_only_when_asked(subjects):
    rates = np.array(
        [C.occlude(np.zeros((64, 64, 3), np.uint8), _toy_mesh(), np.random.default_rng(i))
         for i in range(400)], dtype=object)  # fmt: skip
    glasses = np.mean(["glasses" in r for r in rates])
    blobs = np.mean(["blob" in r for r in rates])
    assert abs(glasses - C.GLASSES) < 0.05 and abs(blobs - C.BLOB) < 0.05
    s = subjects[0]
    seed = next(i for i in range(100) if np.random.default_rng([s.seed, i, 9]).random() < C.GLASSES)
    on = synth.render_face(s, {}, frame_seed=seed, pose=False, degrade=False, occluders=True)
    assert not np.array_equal(on, synth.render_face(s, {}, frame_seed=seed, **CLEAN))


def _toy_mesh() -> np.ndarray:
    """A base mesh scaled into a 64-pixel frame (only the point layout matters here)."""
    mesh = base_face("astronaut", 64).mesh
    return (mesh - mesh.min(0)) / (mesh.max(0) - mesh.min(0)).max() * 40 + 12


_RENDER_SCRIPT = """
import hashlib, sys
from libreface_nb.data import synth
people = synth.make_subjects(6, seed=0)
h = hashlib.sha256()
for i, s in enumerate(people):
    inten = {12: 3.0, 25: 2.5, 26: 1.5, 6: 2.0, 4: 1.0, 17: 2.0}
    h.update(synth.render_face(s, inten, size=96, frame_seed=i, occluders=True).tobytes())
print(h.hexdigest())
"""


@pytest.mark.slow
def test_frames_are_byte_identical_across_processes():
    """Frames with turns, light, appearance, mouth, backdrops, mixes and occluders."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "GLOG_minloglevel": "2"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _RENDER_SCRIPT],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.strip()  # fmt: skip
        for _ in range(2)
    ]
    assert len(runs[0]) == 64
    assert runs[0] == runs[1]


def test_upper_teeth_come_from_the_photo_that_shows_them(subjects):
    """The astronaut's open mouth shows her own (photo) teeth, not the drawn enamel rows."""
    base = base_face("astronaut", 256)
    work = synth.render._styled_work(subjects[0], 256)
    contour = np.stack([np.linspace(100, 160, 11), np.full(11, 150.0)], 1)
    photo = (
        work,
        base.mesh[[78, *A.LIP_INNER_UPPER, 308]],
        base.mesh[[78, *A.LIP_INNER_LOWER, 308]],
    )
    band = M._photo_band(photo, contour, 10.0, np.array([0.0, 1.0]), 256)
    teeth = band[151:158, 115:145]
    assert teeth.mean() > 150  # bright: teeth
    assert teeth.std() > 5  # textured, not a flat colour
