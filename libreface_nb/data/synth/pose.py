"""SynthAU head turns: out-of-plane yaw and pitch from the mesh's depth, with directional light.

MediaPipe gives every landmark a depth (``z``, in the same pixel scale as x and y; negative =
towards the camera). A head turn rotates the moved mesh in 3-D about a vertical (yaw) and a
horizontal (pitch) axis through the face-box centre at the depth of the face oval, and projects
it back orthographically (a weak-perspective camera, fine at face-crop distances). The fixed
anchors around the face stay put, so the surroundings stretch and squeeze at the silhouette.

The hidden side: triangles are drawn far to near (painter's algorithm on their mean rotated
depth), so the nose hides the far cheek and triangles turned away from the camera end up under
nearer ones. The mouth and eye hole fillers are biased slightly nearer, so they still cover the
lips' seams.

Directional light: each vertex's brightness is scaled by the ratio of a Lambertian shade under
the frame's light (direction drawn per frame, up to 40° off the camera axis) with the rotated
normals, to the shade of the photo (lit from the camera) with the unrotated normals. With no
turn and the light on the camera axis the ratio is exactly 1.

Angles are in degrees: yaw > 0 turns the face towards the image's left, pitch > 0 tilts the chin
down (the face looks down).
"""

from __future__ import annotations

import math

import numpy as np

from libreface_nb.data.synth import warp as W

#: Largest yaw and pitch drawn for a frame (degrees), and the spread of the draws.
YAW_DEG, PITCH_DEG = 25.0, 20.0
YAW_SD, PITCH_SD = 11.0, 8.0
#: Largest angle of the frame's light from the camera axis (degrees); ambient share of light.
LIGHT_DEG = 40.0
AMBIENT = 0.55
#: Depth bias of hole-filling triangles (mouth, eyes) towards the camera, in IOD.
HOLE_BIAS = 0.05


def draw_turn(rng: np.random.Generator) -> tuple[float, float, np.ndarray]:
    """``(yaw, pitch, light)``: angles ~ N(0, 11°) and N(0, 8°) clipped to ±25° / ±20°, and a
    unit light direction ``[3]`` (towards the light) within 40° of the camera axis."""
    yaw = float(np.clip(rng.normal(0.0, YAW_SD), -YAW_DEG, YAW_DEG))
    pitch = float(np.clip(rng.normal(0.0, PITCH_SD), -PITCH_DEG, PITCH_DEG))
    az, tilt = rng.uniform(0, 2 * math.pi), math.radians(rng.uniform(0, LIGHT_DEG))
    light = np.array(
        [math.sin(tilt) * math.cos(az), math.sin(tilt) * math.sin(az), -math.cos(tilt)]
    )
    return yaw, pitch, light


def rotation(yaw: float, pitch: float) -> np.ndarray:
    """``[3, 3]`` rotation: pitch about x, then yaw about y (image axes, z into the image)."""
    a, b = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return ry @ rx


def rotate(xyz: np.ndarray, centre: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Points ``[N, 3]`` rotated by ``rot`` about ``centre`` ``[3]``."""
    return (xyz - centre) @ rot.T + centre


def vertex_normals(xyz: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit normals ``[N, 3]`` (area-weighted over ``triangles``), facing the camera (z < 0)."""
    t = xyz[triangles]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n *= np.where(n[:, 2:] > 0, -1.0, 1.0)  # towards the camera, whatever the winding
    out = np.zeros_like(xyz)
    for k in range(3):
        np.add.at(out, triangles[:, k], n)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    out = np.where(norm > 0, out / np.maximum(norm, 1e-12), [0.0, 0.0, -1.0])
    return out


def shade_ratio(normals: np.ndarray, rot: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Per-vertex gain ``[N]``: shade under ``light`` after ``rot`` over the photo's shade."""
    camera = np.array([0.0, 0.0, -1.0])
    before = AMBIENT + (1 - AMBIENT) * np.clip(normals @ camera, 0.0, None)
    after = AMBIENT + (1 - AMBIENT) * np.clip((normals @ rot.T) @ light, 0.0, None)
    return after / before


def depth_order(triangles: np.ndarray, z: np.ndarray, holes: int, bias: float) -> np.ndarray:
    """Permutation of ``triangles`` far to near (stable); the last ``holes`` are biased nearer."""
    depth = z[triangles].mean(1)
    if holes:
        depth[-holes:] -= bias
    return np.argsort(-depth, kind="stable")


def turn_mesh(
    base, moved: np.ndarray, yaw: float, pitch: float, light: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A moved mesh turned out of plane, for :func:`~libreface_nb.data.synth.warp.warp`.

    Args:
        base: the :class:`~libreface_nb.data.synth.base.BaseFace` (depth, normals, triangles).
        moved: the AU-moved mesh in working-image pixels ``[478, 2]``.
        yaw, pitch: degrees.
        light: unit direction towards the light ``[3]``; None = the photo's light (no gain).

    Returns:
        ``(mesh [478, 2], triangles [T, 3] in drawing order, per-vertex gain [V] or None)``;
        no turn and no light give back ``moved`` and ``base.triangles`` themselves.
    """
    if yaw == 0 and pitch == 0 and light is None:
        return moved, base.triangles, None
    rot = rotation(yaw, pitch)
    oval_z = float(np.median(base.depth[list(W.FACE_OVAL)]))
    xyz = rotate(np.column_stack([moved, base.depth]), np.array([*base.centre, oval_z]), rot)
    n_holes = len(W.hole_triangles())
    z = np.concatenate([xyz[:, 2], np.full(len(base.anchors), np.inf)])
    order = depth_order(base.triangles, z, n_holes, HOLE_BIAS * base.iod)
    gain = None
    if light is not None:
        gain = np.ones(len(z))
        gain[: len(moved)] = shade_ratio(base.normals, rot, light)
    return xyz[:, :2], base.triangles[order], gain
