"""Head pose (pitch, yaw, roll in degrees) from MediaPipe landmarks.

Method: orthogonal Procrustes (Kabsch) between seven 3-D landmarks (x, y, z in pixels; MediaPipe's
z has the x scale) and the same points of MediaPipe's canonical face model; this is how MediaPipe's
own face-geometry module relates landmarks to its canonical face. It needs no camera intrinsics,
so it cannot get a principal point wrong (LibreFace's own code swaps the principal point's
coordinates and multiplies radians by 360; LIBREFACE_FACTS §2 lists both as defects). A 2-D
``solvePnP`` on the same points was tried and rejected: MediaPipe's 2-D proportions differ from
the generic model enough to bias pitch by 20–30° on frontal photos.

Angles (degrees), for the head as seen in the image:

- ``pitch``: positive when the face tilts up (chin forward), negative when it looks down;
- ``yaw``: positive when the face turns towards the image's right (the subject's left);
- ``roll``: positive when the face is rotated clockwise in the image (rotating the image
  counter-clockwise by θ lowers roll by θ).

A frontal, upright face gives about (0, 0, 0). Mirroring the image flips the signs of yaw and
roll and keeps pitch.
"""

from __future__ import annotations

import numpy as np

#: MediaPipe landmark index → canonical face model vertex (x right, y up, z towards the camera,
#: centimetre-like units), copied from mediapipe/modules/face_geometry/data/
#: canonical_face_model.obj (vertex i of the file = landmark i).
CANONICAL_POINTS: dict[int, tuple[float, float, float]] = {
    1: (0.000000, -1.126865, 7.475604),  # nose tip
    10: (0.000000, 8.261778, 4.481535),  # top of the forehead
    152: (0.000000, -9.403378, 4.264492),  # chin
    33: (-4.445859, 2.663991, 3.173422),  # eye outer corner, image left
    263: (4.445859, 2.663991, 3.173422),  # eye outer corner, image right
    61: (-2.456206, -4.342621, 4.283884),  # mouth corner, image left
    291: (2.456206, -4.342621, 4.283884),  # mouth corner, image right
}
_INDICES = list(CANONICAL_POINTS)
# Object frame as OpenCV's camera frame for a frontal face: x right, y down, z away from camera.
_OBJECT = np.array([CANONICAL_POINTS[i] for i in _INDICES], dtype=np.float64) * [1.0, -1.0, -1.0]


def rotation_to_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """Rotation ``[3, 3]`` (object → camera, both x right, y down, z forward) → (pitch, yaw, roll).

    ``rot = Rz(r) · Ry(y) · Rx(p)`` in OpenCV camera axes; the signs are then set to the
    conventions of the module docstring.
    """
    r = np.asarray(rot, dtype=np.float64)
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    # Rx(+p) turns the face normal (−z) towards +y (down); Ry(+y) turns it towards −x (left).
    return float(-pitch), float(-yaw), float(roll)


def head_rotation(landmarks: np.ndarray) -> np.ndarray:
    """Rotation ``[3, 3]`` from the canonical face (x right, y down, z away) to the landmarks.

    Args:
        landmarks: ``[478, 3]`` (or ``[468, 3]``) pixels: x, y and MediaPipe's z in the x scale.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[_INDICES, :3]
    obj = _OBJECT - _OBJECT.mean(axis=0)
    pts = pts - pts.mean(axis=0)
    u, _s, vt = np.linalg.svd(obj.T @ pts)  # Kabsch: maximise trace(R · obj^T pts)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    return (u @ np.diag([1.0, 1.0, d]) @ vt).T


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Head pose ``(pitch, yaw, roll)`` in degrees from landmarks ``[478, 3]`` (pixels).

    See the module docstring for the signs; NaNs when the landmarks are not finite.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] < 468 or lm.shape[1] < 3:
        raise ValueError(f"want landmarks [478, 3], got shape {lm.shape}")
    if not np.isfinite(lm[_INDICES, :3]).all():
        return float("nan"), float("nan"), float("nan")
    return rotation_to_angles(head_rotation(lm))
