"""Head pose: known rotations are recovered; real photos rotate and mirror as they should."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest
from faces_helpers import photos

from libreface_nb.faces.mesh import detect_faces
from libreface_nb.faces.pose import _INDICES, _OBJECT, head_pose, rotation_to_angles


def _rot(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Rotation in OpenCV camera axes for the module's sign conventions (degrees)."""
    p, y, r = np.radians([-pitch, -yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _synthetic(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Landmarks [478, 3] px: the canonical points rotated, scaled ×20, moved to (300, 200)."""
    lm = np.zeros((478, 3))
    lm[_INDICES] = (_OBJECT @ _rot(pitch, yaw, roll).T) * 20.0 + [300.0, 200.0, 0.0]
    return lm


@pytest.mark.parametrize("angles", [(0, 0, 0), (15, 0, 0), (0, 25, 0), (0, 0, -20), (10, -30, 12)])
def test_known_rotation_is_recovered(angles: tuple[float, float, float]) -> None:
    assert head_pose(_synthetic(*angles)) == pytest.approx(angles, abs=1e-6)
    assert rotation_to_angles(_rot(*angles)) == pytest.approx(angles, abs=1e-9)


def test_signs_match_the_image() -> None:
    """Yaw > 0: the nose moves to the image right; pitch > 0: the nose moves up; roll > 0: the
    eye line turns clockwise (the image-right eye goes down)."""
    nose, eye_r = _INDICES.index(1), _INDICES.index(263)
    frontal = _synthetic(0, 0, 0)[_INDICES]
    assert _synthetic(0, 20, 0)[_INDICES][nose, 0] > frontal[nose, 0]
    assert _synthetic(20, 0, 0)[_INDICES][nose, 1] < frontal[nose, 1]
    assert _synthetic(0, 0, 20)[_INDICES][eye_r, 1] > frontal[eye_r, 1]


def test_mirrored_landmarks_flip_yaw_and_roll() -> None:
    lm = _synthetic(8, 22, -11)
    mirrored = lm.copy()
    mirrored[_INDICES, 0] = 640 - lm[_INDICES, 0]
    # mirroring swaps left and right landmark indices (263 ↔ 33, 291 ↔ 61); 1, 10, 152 stay
    swap = {33: 263, 263: 33, 61: 291, 291: 61}
    mirrored[list(swap)] = mirrored[list(swap.values())]
    pitch, yaw, roll = head_pose(mirrored)
    assert (pitch, yaw, roll) == pytest.approx((8, -22, 11), abs=1e-6)


@functools.cache
def _pose(name: str, angle: float = 0.0, mirror: bool = False) -> tuple[float, float, float]:
    img = photos()[name]
    if mirror:
        img = np.ascontiguousarray(img[:, ::-1])
    if angle:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        img = cv2.warpAffine(
            img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
        )
    return head_pose(detect_faces(img)[0].landmarks)


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
@pytest.mark.parametrize("angle", [-30.0, -15.0, 15.0, 30.0])
def test_rotated_photo_changes_roll_by_the_angle(name: str, angle: float) -> None:
    pitch0, yaw0, roll0 = _pose(name)
    pitch, yaw, roll = _pose(name, angle)
    # cv2 rotates counter-clockwise for a positive angle: roll drops by the angle (measured
    # error ≤ 3.3°); pitch and yaw stay within 3°.
    assert roll - roll0 == pytest.approx(-angle, abs=4.5)
    assert abs(pitch - pitch0) < 4.0 and abs(yaw - yaw0) < 4.0


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_mirrored_photo_flips_yaw_and_roll(name: str) -> None:
    pitch0, yaw0, roll0 = _pose(name)
    pitch, yaw, roll = _pose(name, mirror=True)
    assert yaw == pytest.approx(-yaw0, abs=3.0)
    assert roll == pytest.approx(-roll0, abs=3.0)
    assert pitch == pytest.approx(pitch0, abs=3.0)
    assert abs(roll0) > 1.5  # both photos are slightly tilted, so the roll flip is visible


def test_pose_rejects_bad_shapes_and_handles_nan() -> None:
    with pytest.raises(ValueError):
        head_pose(np.zeros((10, 3)))
    assert np.isnan(head_pose(np.full((478, 3), np.nan))).all()
