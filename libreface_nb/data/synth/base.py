"""SynthAU base photographs: load, find the mesh once, cut a working image, precompute geometry.

The bundled bases are public-domain portraits that ship inside installed packages, so nothing is
downloaded: scikit-image's ``astronaut`` (Eileen Collins, NASA; 512×512) and matplotlib's
``grace_hopper.jpg`` (US Navy; 600×512). Any other face photograph works too: a base is named by
a *key*, :func:`base_key` of a bundled name, an image path (key: the absolute path) or a uint8
RGB array (key: ``array:<content hash>``, registered in this process). ``"real_faces"`` names
the folder of real people the workbook carries (:data:`REAL_FACES`, 100 adults under CC BY 4.0,
``data_cards/real_faces.md``). Each photo is meshed by MediaPipe once per content: :func:`base_mesh`
caches per content hash in the process and on disk (:data:`MESH_CACHE`), so the same picture given
as a path and as an array is meshed once, and a later process reads the mesh back; everything a
frame needs that does not depend on the frame is computed here (:func:`base_face`, cached per key
and size).

**Persons.** Each base photo is one person (:func:`person_of`: the file's stem, the bundled name,
or the array key). Pseudo-subjects made from one person must never straddle training, validation
and test: :func:`~libreface_nb.data.folds.person_folds` keeps them together.

**Screening.** :func:`screen_bases` keeps the photos with exactly one usable, roughly frontal face
and returns the others with a reason (unreadable, no face, two faces, turned head), so a folder of
portraits with a bad file in it is used without it and the skip is recorded, never a crash.

Working image: a square of ``WORK_SCALE`` × ``CROP_SCALE`` × the face box around the face, resized
to ``WORK_SCALE × size`` pixels, so that the output (a ``CROP_SCALE`` × face-box view, rotated,
scaled and shifted by the frame's pose) stays inside it at a scale near 1.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from libreface_nb.config import REPO_ROOT
from libreface_nb.data.synth import aus as A
from libreface_nb.data.synth import warp as W
from libreface_nb.data.synth.pose import vertex_normals
from libreface_nb.errors import ConfigError, LibreFaceError, NoFaceError, UnreadableInputError

BASES = ("astronaut", "grace_hopper")
#: The real faces the workbook carries: ``neutral/<person>.jpg`` (100 people, the SynthAU bases)
#: and ``smiling/<person>.jpg`` (60 of them smiling, for the paired-smile check of notebook 04).
REAL_FACES = Path(__file__).resolve().parents[1] / "real_faces"
#: ``base_photos`` alias for :data:`REAL_FACES`'s neutral photos.
REAL_FACES_NAME = "real_faces"
#: On-disk cache per MediaPipe version and photo content hash: ``<hash>.npy`` = the mesh, float64
#: ``[478, 3]`` (x, y pixels; z), of the largest face; ``<hash>.faces`` = faces found (at most 2).
MESH_CACHE = REPO_ROOT / ".cache" / "base_meshes"
#: Screening: the largest head turn (yaw or pitch, degrees) of a usable base photo.
MAX_TURN_DEG = 25.0
#: Output view side relative to the face box (faces fill the frame like DISFA/BP4D face crops).
CROP_SCALE = 1.6
#: Working image side relative to the output view (room for rotation ±10°, scale 0.9 and shift).
WORK_SCALE = 1.5


#: Photos given as arrays, by key (``array:<hash>``); paths and bundled names are read again.
_ARRAYS: dict[str, np.ndarray] = {}
#: Meshes by content hash of the photo.
_MESHES: dict[str, np.ndarray] = {}
#: Landmark depths by content hash of the photo.
_DEPTHS: dict[str, np.ndarray] = {}


def photo_hash(photo: np.ndarray) -> str:
    """A short content hash of a uint8 RGB photo (its shape and bytes)."""
    arr = np.ascontiguousarray(photo, dtype=np.uint8)
    h = hashlib.sha256(str(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:16]


def base_key(base: str | Path | np.ndarray) -> str:
    """The key that names a base photo: a bundled name, an absolute image path, or
    ``array:<hash>`` for an array (registered so that :func:`load_base_photo` finds it).

    Raises:
        ConfigError: a string that is neither a bundled name nor an existing file.
        ValueError: an array that is not uint8 RGB ``[H, W, 3]``.
    """
    if isinstance(base, np.ndarray):
        if base.dtype != np.uint8 or base.ndim != 3 or base.shape[2] != 3:
            raise ValueError(f"a base photo array must be uint8 [H, W, 3], not {base.dtype} "
                             f"{base.shape}")  # fmt: skip
        key = f"array:{photo_hash(base)}"
        _ARRAYS.setdefault(key, np.ascontiguousarray(base))
        return key
    if str(base) in BASES:
        return str(base)
    path = Path(base).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"SynthAU base {str(base)!r}: not a bundled photo ({', '.join(BASES)}) nor an image "
            "file; pass a bundled name, a face photo's path or a folder of them"
        )
    return str(path.resolve())


def parse_base_photos(spec: str) -> tuple[str, ...]:
    """Base keys from a notebook parameter: comma-separated bundled names, image paths or
    folders (a folder gives its image files, sorted by name); ``""`` gives :data:`BASES`;
    ``"real_faces"`` gives the neutral photos of :data:`REAL_FACES`.

    Raises:
        ConfigError: an entry that is none of these, or a folder without images.
    """
    from libreface_nb.faces.io import is_image

    keys: list[str] = []
    for entry in (e.strip() for e in str(spec).split(",")):
        if not entry:
            continue
        folder = REAL_FACES / "neutral" if entry == REAL_FACES_NAME else Path(entry).expanduser()
        if entry not in BASES and folder.is_dir():
            photos = sorted(p for p in folder.iterdir() if p.is_file() and is_image(p))
            if not photos:
                raise ConfigError(f"base_photos: the folder {folder} holds no image file")
            keys += [base_key(p) for p in photos]
        else:
            keys.append(base_key(entry))
    return tuple(dict.fromkeys(keys)) or BASES


def load_base_photo(name: str) -> np.ndarray:
    """A base photograph as uint8 RGB ``[H, W, 3]``, by key (see :func:`base_key`)."""
    if name in _ARRAYS:
        return _ARRAYS[name]
    if name not in BASES and Path(name).is_file():
        from libreface_nb.faces.io import read_image

        return read_image(name)
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
    raise ValueError(f"unknown SynthAU base {name!r}; expected one of {BASES}, a path or an array")


def _cache_file(digest: str, suffix: str) -> Path:
    from importlib import metadata

    return MESH_CACHE / f"mediapipe-{metadata.version('mediapipe')}" / f"{digest}{suffix}"


def _store(path: Path, write) -> None:
    from libreface_nb import atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def _detect_base(photo: np.ndarray, name: str) -> list:
    from libreface_nb.faces.mesh import detect_faces

    faces = detect_faces(photo)
    if not faces:
        raise NoFaceError(
            f"MediaPipe found no face in the SynthAU base photo {name!r}; use a photo with "
            "one clearly visible, roughly frontal face"
        )
    return faces


def base_mesh(name: str) -> np.ndarray:
    """The 478-point mesh of a base photo, float64 ``[478, 2]`` pixels (detected once per content
    and kept in :data:`MESH_CACHE`; :func:`base_depth` has the depth).

    Raises:
        NoFaceError: MediaPipe finds no face in the photo (names it).
    """
    photo = load_base_photo(name)
    digest = photo_hash(photo)
    if digest not in _MESHES:
        path = _cache_file(digest, ".npy")
        try:
            landmarks = np.load(path)
        except (OSError, ValueError):
            landmarks = _detect_base(photo, name)[0].landmarks.astype(np.float64)
            _store(path, lambda fh: np.save(fh, landmarks))
        mesh = np.ascontiguousarray(landmarks[:, :2], dtype=np.float64)
        depth = np.ascontiguousarray(landmarks[:, 2], dtype=np.float64)
        for arr in (mesh, depth):
            arr.setflags(write=False)
        _MESHES[digest], _DEPTHS[digest] = mesh, depth
    return _MESHES[digest]


def count_faces(name: str) -> int:
    """Faces MediaPipe finds in a base photo, at most 2 (cached on disk like the mesh)."""
    photo = load_base_photo(name)
    path = _cache_file(photo_hash(photo), ".faces")
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        from libreface_nb.faces.mesh import detect_faces

        n = len(detect_faces(photo, max_faces=2))
        _store(path, lambda fh: fh.write(str(n).encode()))
        return n


def person_of(key: str) -> str:
    """The person a base key shows: a bundled name as it is, a photo file's stem, an array key."""
    if key in BASES or key.startswith("array:"):
        return key
    return Path(key).stem


def screen_bases(keys: tuple[str, ...]) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """Keep the base photos a SynthAU subject can be made from; say why for the others.

    A photo is kept when it can be read, MediaPipe finds exactly one face in it, and the head is
    turned by at most :data:`MAX_TURN_DEG` degrees (yaw and pitch from the mesh,
    :func:`~libreface_nb.faces.pose.head_pose`). Meshes are cached as in :func:`base_mesh`, so a
    second screening of the same folder costs one file read per photo.

    Returns:
        (kept keys in their order, [(skipped key, reason), …]).
    """
    from libreface_nb.faces.pose import head_pose

    kept, skipped = [], []
    for key in keys:
        try:
            if count_faces(key) > 1:
                skipped.append((key, "two or more faces: a base photo shows one person"))
                continue
            landmarks = np.column_stack([base_mesh(key), base_depth(key)])
        except (LibreFaceError, OSError, ValueError) as err:
            skipped.append((key, f"{type(err).__name__}: {err}"))
            continue
        pitch, yaw, _ = head_pose(landmarks)
        if not max(abs(pitch), abs(yaw)) <= MAX_TURN_DEG:
            skipped.append((key, f"head turned (yaw {yaw:.0f}°, pitch {pitch:.0f}°; at most "
                                 f"{MAX_TURN_DEG:.0f}° is frontal enough)"))  # fmt: skip
            continue
        kept.append(key)
    return tuple(kept), skipped


def base_depth(name: str) -> np.ndarray:
    """MediaPipe's depth of each landmark of a base photo, float64 ``[478]`` (photo pixels;
    negative = towards the camera)."""
    base_mesh(name)
    return _DEPTHS[photo_hash(load_base_photo(name))]


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
        depth: landmark depth in working-image pixels ``[478]`` (negative = nearer).
        normals: unit vertex normals ``[478, 3]`` of the meshed face (towards the camera).
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
    depth: np.ndarray
    normals: np.ndarray

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


@functools.lru_cache(maxsize=16)
def base_face(name: str, size: int) -> BaseFace:
    """The cached :class:`BaseFace` of base photo ``name`` for output side ``size``."""
    photo = load_base_photo(name)
    image, mesh = _work_crop(photo, base_mesh(name), size)
    depth = base_depth(name) * (image.shape[0] / round(WORK_SCALE * CROP_SCALE * _box(name)))
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
        depth=depth,
        normals=vertex_normals(np.column_stack([mesh, depth]), W.face_triangles()),
    )


def _box(name: str) -> float:
    """Side of the face box of a base photo in photo pixels (as :func:`_work_crop` uses it)."""
    mesh = base_mesh(name)
    return float((mesh[: W.N_MESH].max(0) - mesh[: W.N_MESH].min(0)).max())
