"""FaceMesh wrapper: landmarks in pixels, scores, several faces, small faces, stable track ids."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from faces_helpers import astronaut, grace_hopper, photos

from libreface_nb.faces.mesh import Face, FaceMesh, detect_faces
from libreface_nb.faces.track import IoUTracker, box_iou


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_face_found_on_real_photos(name: str) -> None:
    img = photos()[name]
    faces = detect_faces(img)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks.shape == (478, 3)
    assert face.landmarks.dtype == np.float32
    # The float64 pixels LibreFace computes its quad from, whose float32 rounding is landmarks.
    assert face.exact.dtype == np.float64
    assert np.array_equal(face.exact.astype(np.float32), face.landmarks)
    assert 0.5 <= face.score <= 1.0
    h, w = img.shape[:2]
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert (x1 - x0) > 0.15 * w  # a portrait-sized face, not a speck
    assert face.box == pytest.approx(
        (*face.landmarks[:, :2].min(0), *face.landmarks[:, :2].max(0)), abs=1e-4
    )


def test_astronaut_nose_tip_regression() -> None:
    """ENV_FACTS: landmark 1 is normalized (0.43642, 0.25394, −0.04468) on the astronaut."""
    lm = detect_faces(astronaut())[0].landmarks
    assert lm[1] == pytest.approx(np.array([0.43642, 0.25394, -0.04468]) * 512, abs=0.05)


def test_input_layouts_give_the_same_face() -> None:
    img = astronaut()
    ref = detect_faces(img)[0].landmarks
    variants = {
        "gray": cv2.cvtColor(img, cv2.COLOR_RGB2GRAY),
        "rgba": np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]),
        "uint16": img.astype(np.uint16) * 257,
        "float": img / 255.0,
        "fortran": np.asfortranarray(img),
    }
    for name, arr in variants.items():
        faces = detect_faces(arr)
        assert len(faces) == 1, name
        err = np.abs(faces[0].landmarks[:, :2] - ref[:, :2]).mean()
        assert err < (3.0 if name == "gray" else 0.01), (name, err)


def test_no_face_gives_empty_list() -> None:
    rng = np.random.default_rng(0)
    assert detect_faces(np.full((240, 320, 3), 90, np.uint8)) == []
    assert detect_faces(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)) == []


def _two_faces() -> np.ndarray:
    """Astronaut (face ~95 px) and a larger Grace Hopper face side by side."""
    return np.ascontiguousarray(np.concatenate([astronaut(), grace_hopper()[:512]], axis=1))


def test_several_faces_largest_first() -> None:
    faces = detect_faces(_two_faces(), max_faces=2)
    assert len(faces) == 2
    assert faces[0].area >= faces[1].area
    centres = sorted((f.box[0] + f.box[2]) / 2 for f in faces)
    assert centres[0] < 512 < centres[1]  # one face in each half
    assert len(detect_faces(_two_faces(), max_faces=1)) == 1


def test_small_face_on_large_canvas_found_by_full_range_detector() -> None:
    rng = np.random.default_rng(1)
    canvas = rng.integers(60, 200, (960, 1280, 3), dtype=np.uint8)
    head = cv2.resize(astronaut()[40:240, 130:330], (80, 80), interpolation=cv2.INTER_AREA)
    canvas[600:680, 900:980] = head
    assert detect_faces(canvas, detector="mesh") == []  # FaceMesh alone misses it
    faces = detect_faces(canvas, detector="auto")
    assert len(faces) == 1 and faces[0].detector == "full_range"
    x0, y0, x1, y1 = faces[0].box
    assert 895 <= x0 < x1 <= 985 and 595 <= y0 < y1 <= 685
    assert 0.5 <= faces[0].score <= 1.0
    # landmarks agree with the full-size face mapped into the canvas
    ref = detect_faces(astronaut())[0].landmarks[:, :2]
    mapped = (ref - [130, 40] + 0.5) * (80 / 200) - 0.5 + [900, 600]
    assert np.abs(faces[0].landmarks[:, :2] - mapped).mean() < 2.0


def test_tracking_keeps_ids_stable() -> None:
    base = _two_faces()
    ids = []
    with FaceMesh(static=False, max_faces=2) as mesh:
        for dx in range(0, 40, 8):  # the scene pans right
            frame = np.ascontiguousarray(np.roll(base, dx, axis=1))
            faces = mesh.detect(frame)
            assert len(faces) == 2
            ids.append({f.track_id: (f.box[0] + f.box[2]) / 2 for f in faces})
    assert all(set(d) == set(ids[0]) for d in ids)  # same two ids throughout
    left = min(ids[0], key=ids[0].get)
    assert all(min(d, key=d.get) == left for d in ids)  # each id stays on its face
    assert all(0.5 <= f.score <= 1.0 for f in faces)


def test_iou_tracker() -> None:
    def face(x: float) -> Face:
        return Face(np.zeros((478, 3), np.float32), 0.9, (x, 0.0, x + 10.0, 10.0))

    tr = IoUTracker(max_age=1)
    a, b = face(0), face(50)
    tr.assign([a, b])
    a2, b2 = face(52), face(1)  # order swapped, small moves
    tr.assign([a2, b2])
    assert (b2.track_id, a2.track_id) == (a.track_id, b.track_id)
    far = face(200)
    tr.assign([far])
    assert far.track_id not in (a.track_id, b.track_id)
    tr.assign([])
    tr.assign([])
    back = face(1)
    tr.assign([back])  # the track of a was forgotten after max_age frames
    assert back.track_id not in (a.track_id, b.track_id, far.track_id)
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)


def test_mediapipe_start_up_chatter_is_mostly_silenced_and_stderr_still_works():
    """MediaPipe logs from its own threads, so a line can escape the silenced window; most
    don't (11 lines without silencing on this machine, 0–1 with)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, skimage.data\n"
        "from libreface_nb.faces.mesh import FaceMesh, detect_faces\n"
        "img = skimage.data.astronaut()\n"
        "detect_faces(img)\n"
        "with FaceMesh(static=False, detector='full_range') as m:\n"
        "    [m.detect(img) for _ in range(3)]\n"
        "print('after', file=sys.stderr)\n"
    )

    def stderr_lines(**extra: str) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k != "LIBREFACE_NB_MEDIAPIPE_LOGS"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**env, **extra})  # fmt: skip
        assert out.returncode == 0, out.stderr
        lines = out.stderr.splitlines()
        assert "after" in lines  # Python's stderr is intact
        return [line for line in lines if line != "after"]

    quiet, loud = stderr_lines(), stderr_lines(LIBREFACE_NB_MEDIAPIPE_LOGS="1")
    assert len(quiet) <= 2 < len(loud), (quiet, loud)
