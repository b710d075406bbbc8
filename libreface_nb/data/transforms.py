"""Image transforms for training and evaluation (torchvision.transforms.v2).

LibreFace's own recipe (facts: docs/libreface_facts.md §3), on the 256×256 aligned face:

- AU tasks (``task="au"``): train = random 224 crop (offsets 0–32 on each axis) + horizontal flip
  with p = 0.5; eval = centre crop 224 (offset 16). ``crop_jitter`` narrows the random crop's
  range (1 = LibreFace's 0–32, 0.25 = offsets 12–20, 0 = the eval centre crop): the aligned faces
  are already registered, and on SynthAU at CPU budgets the translation cost more than it gave
  (profiles/synth.yaml says what was measured).
- FER (``task="fer"``): resize to 224×224, no augmentation by default.
- Both: RGB scaled to [0, 1], then ImageNet mean/std normalization.

The paper also mentions rotations, flips and upside-down faces as augmentations; those and colour
jitter and blur are optional parameters, all off by default. Optional augmentations act only when
``train=True``; an eval transform is always deterministic, so one config can build both.

Every transform takes a uint8 face, either an RGB array [H, W, 3] or a tensor [3, H, W], and returns
a plain float32 tensor [3, 224, 224]. Randomness comes from torch's global RNG (torchvision's
convention); :class:`libreface_nb.data.dataset.FaceDataset` seeds it per sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from libreface_nb.config import ALIGNED_SIZE, IMAGENET_MEAN, IMAGENET_STD, INPUT_SIZE
from libreface_nb.errors import ConfigError

if TYPE_CHECKING:  # torch stays a lazy import: `import libreface_nb.data.transforms` is cheap
    import torch

TASKS = ("au", "fer")
#: LibreFace's horizontal-flip probability at train time, per task (FER: no augmentation).
DEFAULT_HFLIP = {"au": 0.5, "fer": 0.0}
#: Gaussian blur kernel (pixels, on the 256 face) and sigma range used by ``blur``.
BLUR_KERNEL = 9
BLUR_SIGMA = (0.1, 2.0)
#: Rotated-in corners are filled with the ImageNet mean colour, i.e. ~0 after normalization.
_MEAN_FILL = [round(255 * m) for m in IMAGENET_MEAN]


def _check_prob(name: str, value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{name}={value!r} is a probability: give a value in [0, 1]")
    return float(value)


def _check_nonneg(name: str, value: float) -> float:
    if float(value) < 0.0:
        raise ConfigError(f"{name}={value!r} must be >= 0 (0 turns the augmentation off)")
    return float(value)


class _CheckAlignedSize:
    """Fails clearly when an AU transform gets a face that is not the aligned 256×256 size.

    A random 224 crop of any other size would silently change LibreFace's crop geometry.
    """

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        if (h, w) != (ALIGNED_SIZE, ALIGNED_SIZE):
            raise ConfigError(
                f"the 'au' transform expects aligned {ALIGNED_SIZE}x{ALIGNED_SIZE} faces,"
                f" got {w}x{h}: re-align the store at size={ALIGNED_SIZE}"
                " or use task='fer' (resize to 224)"
            )
        return image


def _optional_augmentations(
    *, rotation: float, color: float, blur: float, upside_down: float
) -> list[Any]:
    """The paper's optional augmentations, applied on uint8 before the crop/resize."""
    from torchvision.transforms import v2

    steps: list[Any] = []
    if upside_down > 0:
        # 180° rotation done as two exact flips (no resampling, no filled corners).
        both = v2.Compose([v2.RandomHorizontalFlip(1.0), v2.RandomVerticalFlip(1.0)])
        steps.append(v2.RandomApply([both], p=upside_down))
    if rotation > 0:
        steps.append(
            v2.RandomRotation(
                degrees=rotation, interpolation=v2.InterpolationMode.BILINEAR, fill=_MEAN_FILL
            )
        )
    if color > 0:
        # Brightness, contrast and saturation factors in [1 - color, 1 + color]; hue moves less
        # (color / 10 of the colour circle) because faces with shifted hue look unnatural.
        hue = min(color / 10, 0.5)
        steps.append(v2.ColorJitter(brightness=color, contrast=color, saturation=color, hue=hue))
    if blur > 0:
        steps.append(v2.RandomApply([v2.GaussianBlur(BLUR_KERNEL, BLUR_SIGMA)], p=blur))
    return steps


def build_transform(
    task: str,
    train: bool,
    *,
    hflip: float | None = None,
    rotation: float = 0.0,
    color: float = 0.0,
    blur: float = 0.0,
    upside_down: float = 0.0,
    crop_jitter: float = 1.0,
    size: int = INPUT_SIZE,
) -> Any:
    """Build LibreFace's train or eval transform, with optional extra augmentations.

    Args:
        task: ``"au"`` (random/centre 224 crop of the 256 aligned face) or ``"fer"`` (resize 224).
        train: True adds the random steps; False gives the deterministic eval transform.
        hflip: horizontal-flip probability at train time; None = LibreFace's default for the task
            (0.5 for ``"au"``, 0 for ``"fer"``).
        rotation: random rotation range in degrees (±rotation); 0 = off.
        color: colour-jitter strength: brightness/contrast/saturation ±color, hue ±color/10;
            0 = off.
        blur: probability of a Gaussian blur (kernel 9, sigma 0.1–2); 0 = off.
        upside_down: probability of turning the face by 180°; 0 = off.
        crop_jitter: ``"au"`` train crops only: share of LibreFace's random-crop range kept,
            centred (1 = offsets 0–32 of the 256 face, LibreFace; 0.5 = 8–24; 0 = always the
            centre crop, offset 16). Ignored by eval transforms and by ``"fer"`` (no crop).
        size: network input side (224 as in LibreFace). A smaller side (e.g. 112 for CPU
            profiles) keeps LibreFace's geometry scaled: the aligned face is first resized to
            ``round(size·256/224)`` so the crop covers the same part of the face.

    Returns:
        A callable: uint8 face [H, W, 3] array or [3, H, W] tensor → float32 tensor
        [3, size, size], ImageNet-normalized.
    """
    import torch
    from torchvision.transforms import v2

    if task not in TASKS:
        raise ConfigError(f"task={task!r} is not one of {TASKS}")
    hflip = DEFAULT_HFLIP[task] if hflip is None else _check_prob("hflip", hflip)
    rotation = _check_nonneg("rotation", rotation)
    color = _check_nonneg("color", color)
    blur = _check_prob("blur", blur)
    upside_down = _check_prob("upside_down", upside_down)
    crop_jitter = _check_prob("crop_jitter", crop_jitter)
    if int(size) != size or not 16 <= size <= INPUT_SIZE:
        raise ConfigError(f"size={size!r} must be an integer in 16..{INPUT_SIZE} (input pixels)")
    size = int(size)

    steps: list[Any] = [v2.ToImage()]
    side = ALIGNED_SIZE if size == INPUT_SIZE else round(size * ALIGNED_SIZE / INPUT_SIZE)
    if task == "au":
        steps.append(_CheckAlignedSize())
        if size != INPUT_SIZE:
            steps.append(v2.Resize((side, side), antialias=True))
    else:
        # Resize first: the optional augmentations are then cheaper on the smaller image.
        steps.append(v2.Resize((size, size), antialias=True))
    if train:
        steps += _optional_augmentations(
            rotation=rotation, color=color, blur=blur, upside_down=upside_down
        )
    if task == "au":
        # 256 - 224 = 32: RandomCrop draws each offset uniformly from 0..32 (inclusive); a
        # jitter below 1 first centre-crops the margin down to round(jitter * 32) pixels.
        margin = round(crop_jitter * (side - size))
        if train and margin < side - size:
            steps.append(v2.CenterCrop(size + margin))
        steps.append(v2.RandomCrop(size) if train and margin > 0 else v2.CenterCrop(size))
    if train and hflip > 0:
        steps.append(v2.RandomHorizontalFlip(hflip))
    steps += [
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD)),
        v2.ToPureTensor(),
    ]
    return v2.Compose(steps)


def denormalize(tensor: torch.Tensor) -> np.ndarray:
    """Undo ImageNet normalization for display.

    Args:
        tensor: normalized image [3, H, W] or batch [N, 3, H, W].

    Returns:
        uint8 RGB array [H, W, 3] or [N, H, W, 3].
    """
    import torch

    t = torch.as_tensor(tensor).detach().to("cpu", torch.float32)
    if t.ndim not in (3, 4) or t.shape[-3] != 3:
        raise ValueError(f"denormalize expects [3, H, W] or [N, 3, H, W], got {tuple(t.shape)}")
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    rgb = (t * std + mean).mul(255.0).round().clamp(0, 255).to(torch.uint8)
    return rgb.movedim(-3, -1).contiguous().numpy()


def augmentation_gallery(
    face: np.ndarray,
    n: int = 8,
    *,
    task: str = "au",
    seed: int = 0,
    train: bool = True,
    **augment: float,
) -> list[np.ndarray]:
    """Augmented views of one face, for a figure.

    Args:
        face: uint8 RGB aligned face [256, 256, 3].
        n: number of views.
        task: ``"au"`` or ``"fer"`` (see :func:`build_transform`).
        seed: the same seed gives the same views.
        train: False shows the (deterministic) eval view.
        **augment: ``hflip``, ``rotation``, ``color``, ``blur``, ``upside_down`` as in
            :func:`build_transform`.

    Returns:
        n uint8 RGB arrays [224, 224, 3].
    """
    import torch

    transform = build_transform(task, train, **augment)
    views = []
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG untouched
        torch.manual_seed(seed)
        for _ in range(n):
            views.append(denormalize(transform(np.ascontiguousarray(face))))
    return views


#: The notebook's augmentation gallery: one row per setting (title → build_transform arguments).
GALLERY_ROWS: dict[str, dict[str, Any]] = {
    "eval: centre crop 224": {"train": False},
    "LibreFace train: crop 0-32 + flip 0.5": {},
    "+ rotation ±15°": {"rotation": 15.0, "hflip": 0.0},
    "+ colour jitter 0.4": {"color": 0.4, "hflip": 0.0},
    "+ blur (p=1)": {"blur": 1.0, "hflip": 0.0},
    "+ upside down (p=0.5)": {"upside_down": 0.5, "hflip": 0.0},
}


def augmentation_showcase(
    face: np.ndarray,
    n: int = 4,
    *,
    seed: int = 0,
    rows: dict[str, dict[str, Any]] | None = None,
) -> dict[str, list[np.ndarray]]:
    """Views of one face under each setting of :data:`GALLERY_ROWS` (AU task).

    Returns:
        row title → n uint8 RGB arrays [224, 224, 3].
    """
    out: dict[str, list[np.ndarray]] = {}
    for i, (title, kwargs) in enumerate((rows or GALLERY_ROWS).items()):
        kw = dict(kwargs)
        train = bool(kw.pop("train", True))
        out[title] = augmentation_gallery(face, n, task="au", seed=seed + i, train=train, **kw)
    return out


def showcase_grid(show: dict[str, list[np.ndarray]]) -> tuple[list[np.ndarray], list[str]]:
    """Flatten :func:`augmentation_showcase` row by row for a face grid.

    Returns:
        (views, titles): every view in row order, and one title per view: the row's setting on
        its first view, "" on the others.
    """
    views = [v for row in show.values() for v in row]
    titles = [title if i == 0 else "" for title, row in show.items() for i in range(len(row))]
    return views, titles


def transform_params(task: str, train: bool, **augment: float) -> dict[str, Any]:
    """The resolved settings of :func:`build_transform`, for run provenance (``run.json``)."""
    if task not in TASKS:
        raise ConfigError(f"task={task!r} is not one of {TASKS}")
    names = ("rotation", "color", "blur", "upside_down")
    unknown = set(augment) - {"hflip", "crop_jitter", *names}
    if unknown:
        raise ConfigError(f"unknown augmentation parameter(s) {sorted(unknown)}")
    hflip = augment.get("hflip")
    out: dict[str, Any] = {"task": task, "train": train}
    out["hflip"] = float(DEFAULT_HFLIP[task] if hflip is None else hflip)
    out.update({k: float(augment.get(k, 0.0)) for k in names})
    out["crop_jitter"] = float(augment.get("crop_jitter", 1.0)) if task == "au" else 0.0
    if not train:  # eval transforms ignore every random step
        out.update(dict.fromkeys(("hflip", "crop_jitter", *names), 0.0))
    return out
