"""Label conventions shared by every module (facts: docs/libreface_facts.md §1).

AU names are zero-padded (``AU01``); OpenFace-style files add ``_r`` (intensity 0–5) or ``_c``
(presence 0/1). Expression indices follow LibreFace's AffectNet-8 order; RAF-DB's own 1–7 labels
are mapped onto it with :data:`RAFDB_TO_FER`.
"""

from __future__ import annotations

from pathlib import Path

#: DISFA AU-intensity head, in output order. Intensity = 5·sigmoid, clamped to [0, 5].
DISFA_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
#: BP4D AU-detection head, in output order. Present if probability ≥ 0.5.
BP4D_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
#: DISFA convention: an AU is present when its intensity is at least 2.
DISFA_PRESENCE_THRESHOLD = 2.0
#: Detection threshold on a probability.
DETECTION_THRESHOLD = 0.5
#: AU intensity range.
INTENSITY_MAX = 5.0

#: FER classes in LibreFace's AffectNet-8 order (index = class id).
EXPRESSIONS: tuple[str, ...] = (
    "Neutral",
    "Happiness",
    "Sadness",
    "Surprise",
    "Fear",
    "Disgust",
    "Anger",
    "Contempt",
)
#: RAF-DB basic labels (1–7 in its own file order) → index in :data:`EXPRESSIONS`.
RAFDB_TO_FER: dict[int, int] = {1: 3, 2: 4, 3: 5, 4: 1, 5: 2, 6: 6, 7: 0}

#: ImageNet normalization used by every model (RGB).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Aligned face side and network input side.
ALIGNED_SIZE = 256
INPUT_SIZE = 224


def au_name(au: int) -> str:
    """``1`` → ``"AU01"``."""
    return f"AU{au:02d}"


def au_names(aus: tuple[int, ...] | list[int]) -> list[str]:
    """Column names for a list of AU numbers."""
    return [au_name(a) for a in aus]


#: Repository root when the package is installed in editable mode from a checkout; the
#: default home of ``profiles/``, ``notebooks/`` and ``outputs/``.
REPO_ROOT = Path(__file__).resolve().parent.parent
