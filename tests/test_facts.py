"""The label facts, pinned to literal values copied from docs/libreface_facts.md.

Every expected value here is typed from the facts sheet, never read from the code under test,
so a reordered AU list, a permuted expression map or a changed fold fails a test.
"""

from __future__ import annotations

from libreface_nb import config
from libreface_nb.data.folds import bp4d_three_fold, disfa_three_fold

# --- §1 Tasks and label orders --------------------------------------------------------------

#: AU intensity head (DISFA), output order.
DISFA_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
#: AU detection head (BP4D), output order.
BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
#: FER (AffectNet-8): index = class id.
FER = ("Neutral", "Happiness", "Sadness", "Surprise", "Fear", "Disgust", "Anger", "Contempt")
#: RAF-DB's own file order, 1–7, by name.
RAFDB_NAMES = {
    1: "Surprise",
    2: "Fear",
    3: "Disgust",
    4: "Happiness",
    5: "Sadness",
    6: "Anger",
    7: "Neutral",
}


def test_au_orders():
    assert config.DISFA_AUS == DISFA_AUS
    assert config.BP4D_AUS == BP4D_AUS
    assert config.au_names(config.DISFA_AUS)[:3] == ["AU01", "AU02", "AU04"]
    assert config.au_name(26) == "AU26"


def test_fer_order():
    assert tuple(config.EXPRESSIONS) == FER


def test_rafdb_labels_map_onto_fer_by_name():
    assert set(config.RAFDB_TO_FER) == set(range(1, 8))
    assert {k: config.EXPRESSIONS[v] for k, v in config.RAFDB_TO_FER.items()} == RAFDB_NAMES
    # The same map as indices into the literal FER order (no contempt in RAF-DB basic).
    assert config.RAFDB_TO_FER == {1: 3, 2: 4, 3: 5, 4: 1, 5: 2, 6: 6, 7: 0}


def test_thresholds_and_ranges():
    assert config.DISFA_PRESENCE_THRESHOLD == 2  # DISFA: present = intensity >= 2
    assert config.DETECTION_THRESHOLD == 0.5  # BP4D head: present if probability >= 0.5
    assert config.INTENSITY_MAX == 5  # intensities 0–5


# --- §2–§3 preprocessing constants ---------------------------------------------------------


def test_imagenet_normalization_and_sizes():
    assert tuple(config.IMAGENET_MEAN) == (0.485, 0.456, 0.406)  # RGB
    assert tuple(config.IMAGENET_STD) == (0.229, 0.224, 0.225)
    assert config.ALIGNED_SIZE == 256 and config.INPUT_SIZE == 224


# --- §7 Splits -------------------------------------------------------------------------------

DISFA_PART_1 = ("SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016")
DISFA_PART_2 = ("SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024")
DISFA_PART_3 = ("SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004")


def test_disfa_three_parts_are_the_published_lists():
    assert disfa_three_fold() == {
        "fold1": list(DISFA_PART_1),
        "fold2": list(DISFA_PART_2),
        "fold3": list(DISFA_PART_3),
    }


def test_bp4d_parts_cover_its_41_subjects():
    expected = {f"F{i:03d}" for i in range(1, 24)} | {f"M{i:03d}" for i in range(1, 19)}
    subjects = [s for part in bp4d_three_fold().values() for s in part]
    assert len(subjects) == 41 and set(subjects) == expected
