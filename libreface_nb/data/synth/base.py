"""SynthAU base photographs: load, find the mesh once, cut a working image, precompute geometry.

The bases are public-domain portraits that ship inside installed packages, so nothing is
downloaded: scikit-image's ``astronaut`` (Eileen Collins, NASA; 512×512) and matplotlib's
``grace_hopper.jpg`` (US Navy; 600×512). Each is read and meshed by MediaPipe once per process
(:func:`base_face` is cached); everything a frame needs that does not depend on the frame is
computed here.

Working image: a square of ``WORK_SCALE`` × ``CROP_SCALE`` × the face box around the face, resized
to ``WORK_SCALE × size`` pixels, so that the output (a ``CROP_SCALE`` × face-box view, rotated,
scaled and shifted by the frame's pose) stays inside it at a scale near 1.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from libreface_nb.data.synth import aus as A
from libreface_nb.data.synth import warp as W
from libreface_nb.errors import NoFaceError, UnreadableInputError

BASES = ("astronaut", "grace_hopper")
#: Output view side relative to the face box (faces fill the frame like DISFA/BP4D face crops).
CROP_SCALE = 1.6
#: Working image side relative to the output view (room for rotation ±10°, scale 0.9 and shift).
WORK_SCALE = 1.5


def load_base_photo(name: str) -> np.ndarray:
    """A base photograph as uint8 RGB ``[H, W, 3]`` (``"astronaut"`` or ``"grace_hopper"``)."""
    if name == "astronaut":
        import skimage.data

        return np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    if name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        try:
            with Image.open(path) as im:
                return np.ascontiguousarray(np.asarray(im.convert("RGB")))
        except OSError as err:
            raise UnreadableInputError(f"{path}: cannot read matplotlib's sample photo") from err
    raise ValueError(f"unknown SynthAU base {name!r}; expected one of {BASES}")


@functools.lru_cache(maxsize=len(BASES))
def base_mesh(name: str) -> np.ndarray:
    """The 478-point mesh of a base photo, float64 ``[478, 2]`` pixels (detected once)."""
    from libreface_nb.faces.mesh import detect_faces

    faces = detect_faces(load_base_photo(name))
    if not faces:
        raise NoFaceError(f"MediaPipe found no face in the SynthAU base photo {name!r}")
    return faces[0].landmarks[:, :2].astype(np.float64)


@dataclass(frozen=True, eq=False)
class BaseFace:
    """Everything about one base photo at one output size that frames share.

    Attributes:
        name: base photo name.
        size: output side in pixels.
        image: working image uint8 ``[R, R, 3]``, ``R = round(WORK_SCALE * size)``.
        mesh: landmarks in working-image pixels ``[478, 2]``.
        anchors: fixed points ``[24, 2]`` (working-image pixels).
        triangles: ``[T, 3]`` ids into ``concat(mesh, anchors)``, drawing order.
        face: the mesh in the face frame ``[478, 2]`` (IOD units).
        origin, rot, iod: the face frame in working-image pixels (see
            :func:`~libreface_nb.data.synth.aus.face_frame`).
        centre: face-box centre in working-image pixels ``[2]``; ``box``: its side in pixels.
        fields: per-AU displacement fields at intensity 5 (see
            :func:`~libreface_nb.data.synth.aus.au_fields`).
    """

    name: str
    size: int
    image: np.ndarray
    mesh: np.ndarray
    anchors: np.ndarray
    triangles: np.ndarray
    face: np.ndarray
    origin: np.ndarray
    rot: np.ndarray
    iod: float
    centre: np.ndarray
    box: float
    fields: dict

    def to_pixels(self, disp: np.ndarray) -> np.ndarray:
        """Face-frame displacements ``[N, 2]`` (IOD) → working-image pixel displacements."""
        return disp * self.iod @ self.rot


def _work_crop(photo: np.ndarray, mesh: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Square working image around the face and the mesh in its pixels."""
    import cv2

    lo, hi = mesh[: W.N_MESH].min(0), mesh[: W.N_MESH].max(0)
    centre, box = (lo + hi) / 2, float((hi - lo).max())
    side = int(round(WORK_SCALE * CROP_SCALE * box))
    x0, y0 = (np.round(centre - side / 2)).astype(int)
    h, w = photo.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:  # a face near the photo's edge: mirror the photo outwards
        photo = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    crop = photo[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
    out = int(round(WORK_SCALE * size))
    interp = cv2.INTER_AREA if out < side else cv2.INTER_CUBIC
    image = cv2.resize(crop, (out, out), interpolation=interp)
    scale = out / side
    # Pixel centres: crop pixel j covers [j, j+1) → output coordinate (j + 0.5) * scale - 0.5.
    return image, (mesh - [x0, y0] + 0.5) * scale - 0.5


@functools.lru_cache(maxsize=8)
def base_face(name: str, size: int) -> BaseFace:
    """The cached :class:`BaseFace` of base photo ``name`` for output side ``size``."""
    image, mesh = _work_crop(load_base_photo(name), base_mesh(name), size)
    triangles, anchors = W.triangulation(mesh, image.shape[0])
    origin, rot, iod = A.face_frame(mesh)
    face = A.to_face(mesh)
    lo, hi = mesh[: W.N_MESH].min(0), mesh[: W.N_MESH].max(0)
    image.setflags(write=False)
    return BaseFace(
        name=name,
        size=size,
        image=image,
        mesh=mesh,
        anchors=anchors,
        triangles=triangles,
        face=face,
        origin=origin,
        rot=rot,
        iod=iod,
        centre=(lo + hi) / 2,
        box=float((hi - lo).max()),
        fields=A.au_fields(face),
    )
