"""Piecewise-affine warp over the face mesh, for SynthAU.

The triangulation has three parts, built once per base photograph:

* the face surface: MediaPipe's canonical tessellation (852 triangles over the 468 mesh points,
  recovered from ``FACEMESH_TESSELATION``'s edge list; the 10 iris points are not part of it);
* the three holes of that surface (mouth, both eyes), closed by a zipper of triangles between the
  paired upper and lower contours, so parted lips stretch over a real region;
* the surroundings: a Delaunay triangulation of the face oval, a ring of fixed points around the
  face and the corners of the working image, so the background stays put.

:func:`warp` rasterizes the moved triangles into a triangle-id image once per frame, builds a dense
inverse map from per-triangle affine transforms and resamples with one ``cv2.remap`` (≈2–4 ms at
256×256 on one core).
"""

from __future__ import annotations

import functools

import numpy as np

from libreface_nb.data.synth import aus as A

N_MESH = 468  # tessellated points (the 10 iris points, 468–477, are not)
#: Destination triangles smaller than this (square pixels) are not rasterized.
MIN_AREA = 0.5


@functools.lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """MediaPipe's face tessellation as int32 triangles ``[852, 3]``.

    ``FACEMESH_TESSELATION`` is an edge list; triangles are its 3-cliques, minus the two cliques
    whose three edges each already border two faces (they are not faces).
    """
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    adj: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    tris = sorted(
        {tuple(sorted((a, b, c))) for a, b in FACEMESH_TESSELATION for c in adj[a] & adj[b]}
    )
    uses: dict[tuple[int, int], int] = {}
    for t in tris:
        for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])):
            uses[e] = uses.get(e, 0) + 1
    keep = [t for t in tris if min(uses[(t[0], t[1])], uses[(t[1], t[2])], uses[(t[0], t[2])]) < 3]
    return np.asarray(keep, dtype=np.int32)


def _zipper(corner_a: int, upper: tuple, lower: tuple, corner_b: int) -> list[tuple[int, int, int]]:
    """Triangles closing a slit hole between paired contours (corner_a → corner_b)."""
    tris = [(corner_a, upper[0], lower[0])]
    for k in range(len(upper) - 1):
        tris.append((upper[k], upper[k + 1], lower[k]))
        tris.append((lower[k], upper[k + 1], lower[k + 1]))
    tris.append((upper[-1], corner_b, lower[-1]))
    return tris


def hole_triangles() -> np.ndarray:
    """Triangles filling the mouth and eye holes, int32 ``[T, 3]``."""
    m0, m1 = A.MOUTH_INNER_CORNERS
    tris = _zipper(m0, A.LIP_INNER_UPPER, A.LIP_INNER_LOWER, m1)
    tris += _zipper(A.EYE_CORNERS_R[0], A.LID_UPPER_R, A.LID_LOWER_R, A.EYE_CORNERS_R[1])
    tris += _zipper(A.EYE_CORNERS_L[0], A.LID_UPPER_L, A.LID_LOWER_L, A.EYE_CORNERS_L[1])
    return np.asarray(tris, dtype=np.int32)


#: Face oval of the MediaPipe mesh, in order (the outer boundary of the tessellation).
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip


def anchor_points(landmarks: np.ndarray, side: float) -> np.ndarray:
    """Fixed points ``[24, 2]`` around a face: a ring at 1.35× the oval, and the frame's border.

    Args:
        landmarks: ``[478, 2+]`` pixels of the mesh in the working image.
        side: the working image's side in pixels (square image).
    """
    oval = np.asarray(landmarks, np.float64)[list(FACE_OVAL), :2]
    centre = oval.mean(0)
    ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    radius = np.interp(ang, *_polar_profile(oval - centre), period=2 * np.pi)  # oval radius
    ring = centre + 1.35 * radius[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
    s = side - 1.0
    border = np.array(
        [[0, 0], [s / 2, 0], [s, 0], [s, s / 2], [s, s], [s / 2, s], [0, s], [0, s / 2]]
    )
    return np.concatenate([np.clip(ring, 0.0, s), border])


def _polar_profile(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ang = np.mod(np.arctan2(d[:, 1], d[:, 0]), 2 * np.pi)
    order = np.argsort(ang)
    return ang[order], np.linalg.norm(d, axis=1)[order]


def outer_triangles(landmarks: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Delaunay triangles between the face oval and the fixed anchors, int32 ``[T, 3]``.

    Vertex ids index ``concat(landmarks[:478], anchors)``; triangles inside the oval (covered by
    the tessellation) are dropped.
    """
    import cv2
    from scipy.spatial import Delaunay

    oval = np.asarray(landmarks, np.float64)[list(FACE_OVAL), :2]
    pts = np.concatenate([oval, anchors])
    ids = np.concatenate([np.asarray(FACE_OVAL), len(landmarks) + np.arange(len(anchors))])
    contour = oval.astype(np.float32).reshape(-1, 1, 2)
    keep = []
    for tri in Delaunay(pts).simplices:
        if (tri >= len(oval)).any():
            keep.append(ids[tri])
            continue
        cx, cy = pts[tri].mean(0)
        if cv2.pointPolygonTest(contour, (float(cx), float(cy)), False) < 0:
            keep.append(ids[tri])
    return np.asarray(keep, dtype=np.int32)


def triangulation(landmarks: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """All triangles in drawing order and the fixed anchors of one base mesh.

    Returns:
        ``(triangles [T, 3] int32, anchors [24, 2])``; vertex ids index
        ``concat(landmarks[:, :2], anchors)``. Drawing order: surroundings, face, holes (later
        triangles win where rasterized edges overlap).
    """
    anchors = anchor_points(landmarks, side)
    tris = np.concatenate([outer_triangles(landmarks, anchors), face_triangles(), hole_triangles()])
    return tris, anchors


def _affines(dst: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-triangle affine maps from ``dst`` to ``src`` triangles ``[T, 3, 2]`` → ``[T, 2, 3]``.

    Also returns a ``[T]`` bool array of usable destination triangles: slivers under
    ``MIN_AREA`` (a closed mouth's zipper) are left to their neighbours, whose rasterized edges
    cover them, because their near-singular maps would send edge pixels far away.
    """
    t = np.concatenate([dst, np.ones(dst.shape[:2] + (1,))], axis=2)  # [T, 3, 3] rows (x, y, 1)
    det = np.linalg.det(t)  # twice the signed area
    ok = np.abs(det) > 2 * MIN_AREA
    t[~ok] = np.eye(3)
    # Solve t @ M = src for M [T, 3, 2]: the affine whose rows map (x, y, 1) to source points.
    m = np.linalg.solve(t, src)
    return np.transpose(m, (0, 2, 1)), ok


def _rasterize(dst: np.ndarray, triangles: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangle id + 1 of each output pixel ``[size, size]`` int32 (0 = none, later triangles
    win) and the ``[T]`` usable-triangle mask of :func:`_affines`."""
    import cv2

    t = dst[triangles]
    det = (t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1]) - (t[:, 2, 0] - t[:, 0, 0]) * (
        t[:, 1, 1] - t[:, 0, 1]
    )
    ok = np.abs(det) > 2 * MIN_AREA
    ids = np.zeros((size, size), np.int32)
    fixed = np.round(dst * 16).astype(np.int32)  # 4 fractional bits for sub-pixel rasterizing
    for i in np.flatnonzero(ok):
        cv2.fillConvexPoly(ids, fixed[triangles[i]], int(i) + 1, cv2.LINE_8, 4)
    return ids, ok


def _evaluate(mats: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-pixel values of per-triangle affine maps ``mats`` ``[T + 1, K, 3]`` (row 0 = none)."""
    size = ids.shape[0]
    grid = np.arange(size, dtype=np.float32)
    m = mats[ids]  # [size, size, K, 3]
    return tuple(
        m[..., k, 0] * grid[None, :] + m[..., k, 1] * grid[:, None] + m[..., k, 2]
        for k in range(mats.shape[1])
    )


def warp(
    image: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    triangles: np.ndarray,
    background: np.ndarray,
    size: int,
    gain: np.ndarray | None = None,
) -> np.ndarray:
    """Piecewise-affine warp: the ``src`` mesh of ``image`` moves to ``dst`` in the output.

    Args:
        image: source image ``[H, W, 3]`` uint8.
        src: vertex positions in ``image`` pixels ``[V, 2]``.
        dst: the same vertices in output pixels ``[V, 2]``.
        triangles: ``[T, 3]`` vertex ids, in drawing order (later triangles hide earlier ones).
        background: ``[2, 3]`` affine from output to ``image`` pixels for pixels outside every
            triangle.
        size: output side in pixels.
        gain: optional per-vertex brightness gain ``[V]``, interpolated linearly over each
            triangle (1 outside every triangle): shading.

    Returns:
        ``[size, size, 3]`` uint8.
    """
    import cv2

    ids, ok = _rasterize(dst, triangles, size)
    mats, _ = _affines(dst[triangles], src[triangles])
    mats = np.concatenate([background[None], mats]).astype(np.float32)  # id 0 = background
    map_x, map_y = _evaluate(mats, ids)
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if gain is None:
        return out
    vals = np.repeat(np.asarray(gain, np.float64)[triangles][..., None], 2, axis=2)
    lin, _ = _affines(dst[triangles], vals)
    flat = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])
    lin = np.concatenate([flat, lin]).astype(np.float32)[:, :1]
    (field,) = _evaluate(lin, ids)
    shaded = out.astype(np.float32) * field[..., None]
    return np.clip(np.round(shaded), 0, 255).astype(np.uint8)


def folded(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, min_area: float) -> np.ndarray:
    """Bool ``[T]``: triangles whose orientation flips between ``src`` and ``dst``.

    Triangles with a source area below ``min_area`` (square pixels; e.g. a closed mouth's zipper)
    are never counted.
    """

    def signed_area(p: np.ndarray) -> np.ndarray:
        a, b, c = p[:, 0], p[:, 1], p[:, 2]
        return 0.5 * (
            (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
        )

    s, d = signed_area(src[triangles]), signed_area(dst[triangles])
    return (np.abs(s) >= min_area) & (np.sign(s) != np.sign(d))
