"""Folds: published partitions, k-fold by subject, validation from the training side, files.

The central property: in every fold, no subject is on two sides (train / val / test).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from libreface_nb.data.folds import (
    assign_folds,
    bp4d_three_fold,
    check_exclusive,
    disfa_three_fold,
    fold_split,
    official_split,
    read_folds,
    subject_kfold,
    with_validation,
    write_folds,
)
from libreface_nb.errors import ConfigError, DatasetLayoutError


def _index(subjects: list[str], frames: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {"subject": np.repeat(subjects, frames), "frame": np.tile(np.arange(frames), len(subjects))}
    )


def _assert_subject_exclusive(index: pd.DataFrame, folds: dict) -> None:
    """Each subject has exactly one role per fold; every test subject is tested once overall."""
    roles = assign_folds(index, folds)
    for name in folds:
        per_subject = roles[name].groupby(index["subject"]).nunique()
        assert (per_subject == 1).all(), f"{name}: a subject is on two sides"
        sides = {r: set(index.loc[roles[name] == r, "subject"]) for r in ("train", "val", "test")}
        assert not (sides["train"] & sides["test"]) and not (sides["val"] & sides["test"])
        assert not (sides["train"] & sides["val"])
        assert sides["train"] and sides["test"]


def test_disfa_partition_is_the_published_one():
    folds = disfa_three_fold()
    subjects = [s for part in folds.values() for s in part]
    assert len(folds) == 3 and [len(p) for p in folds.values()] == [9, 9, 9]
    assert len(set(subjects)) == 27 and {"SN001", "SN032", "SN004"} <= set(subjects)
    assert "SN014" not in subjects and "SN015" not in subjects  # not among DISFA's 27
    assert folds["fold1"][:3] == ["SN002", "SN010", "SN001"]


def test_bp4d_partition_covers_41_subjects_once():
    subjects = [s for part in bp4d_three_fold().values() for s in part]
    assert len(subjects) == len(set(subjects)) == 41
    assert sum(s.startswith("F") for s in subjects) == 23


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("n", [6, 7, 27])
def test_kfold_tests_each_subject_once_and_never_trains_on_it(k, n):
    subjects = [f"S{i:02d}" for i in range(n)]
    test_folds = subject_kfold(subjects * 2, k, seed=1)  # repeats do not matter
    tested = [s for fold in test_folds.values() for s in fold]
    assert sorted(tested) == subjects
    sizes = [len(f) for f in test_folds.values()]
    assert max(sizes) - min(sizes) <= 1
    folds = with_validation(test_folds, subjects, seed=1)
    _assert_subject_exclusive(_index(subjects), folds)
    assert all(len(f["val"]) >= 1 for f in folds.values())


def test_kfold_seeded():
    subjects = [f"S{i}" for i in range(12)]
    assert subject_kfold(subjects, 3, seed=5) == subject_kfold(subjects, 3, seed=5)
    assert subject_kfold(subjects, 3, seed=5) != subject_kfold(subjects, 3, seed=6)
    with pytest.raises(ConfigError):
        subject_kfold(subjects, 13)
    with pytest.raises(ConfigError):
        subject_kfold(subjects, 1)


def test_disfa_partition_on_a_three_subject_fixture():
    subjects = ["SN002", "SN013", "SN003"]  # one subject from each part, as the fixture writes
    folds = with_validation(disfa_three_fold(), subjects)
    assert [f["test"] for f in folds.values()] == [["SN002"], ["SN013"], ["SN003"]]
    _assert_subject_exclusive(_index(subjects), folds)
    with pytest.raises(ConfigError, match="fold1: 1 training-side subjects"):
        with_validation(disfa_three_fold(), ["SN002", "SN003"])
    with pytest.raises(ConfigError, match="fold2: none of its test subjects"):
        with_validation(disfa_three_fold(), ["SN002", "SN003"], min_val=0)


def test_full_disfa_partition_with_validation():
    subjects = [s for part in disfa_three_fold().values() for s in part]
    folds = with_validation(disfa_three_fold(), subjects, val_fraction=0.15, seed=0)
    _assert_subject_exclusive(_index(subjects), folds)
    assert [len(f["val"]) for f in folds.values()] == [3, 3, 3]  # 15 % of 18, rounded


def test_check_exclusive_detects_overlap():
    with pytest.raises(ConfigError, match="SN001"):
        check_exclusive({"fold1": {"test": ["SN001"], "val": ["SN001"]}})
    with pytest.raises(ConfigError, match="not in the index"):
        check_exclusive({"fold1": {"test": ["SN001"], "val": ["SN009"]}}, ["SN001", "SN002"])


def test_official_split_keeps_test_and_stratifies_validation():
    rng = np.random.default_rng(0)
    n_train, n_test = 200, 40
    index = pd.DataFrame({
        "subject": [f"train_{i:05d}" for i in range(n_train)]
        + [f"test_{i:04d}" for i in range(n_test)],
        "split": ["train"] * n_train + ["test"] * n_test,
        "expression": np.concatenate([np.repeat([0, 1, 2, 3], 50), rng.integers(0, 4, n_test)]),
    })  # fmt: skip
    folds = official_split(index, val_fraction=0.1, seed=0)
    fold = folds["official"]
    assert set(fold["test"]) == set(index.loc[index["split"] == "test", "subject"])
    role = fold_split(index, fold)
    assert (role[index["split"] == "test"] == "test").all()
    val_classes = index.loc[role == "val", "expression"].value_counts()
    assert list(val_classes.sort_index()) == [5, 5, 5, 5]
    _assert_subject_exclusive(index, folds)


def test_fold_file_round_trip_and_rejects_overlap(tmp_path):
    subjects = [f"S{i}" for i in range(9)]
    folds = with_validation(subject_kfold(subjects, 3, seed=2), subjects, seed=2)
    path = write_folds(
        tmp_path / "folds" / "disfa.json", folds, dataset="disfa", kind="kfold", seed=2
    )
    payload = read_folds(path)
    assert payload["folds"] == folds and payload["kind"] == "kfold" and payload["seed"] == 2
    bad = dict(payload, folds={"fold1": {"test": ["S1"], "val": ["S1"]}})
    path.write_text(json.dumps(bad))
    with pytest.raises(DatasetLayoutError, match=str(path)):
        read_folds(path)
    with pytest.raises(DatasetLayoutError, match="missing"):
        read_folds(tmp_path / "none.json")


def test_official_split_gives_every_class_of_two_or_more_a_validation_image():
    """4 train images per class at val_fraction 0.1 would round to 0: one is held out instead."""
    rows = [
        {"subject": f"train_{c}_{i}", "split": "train", "expression": c}
        for c in range(3)
        for i in range(4)
    ]
    rows += [{"subject": "test_0", "split": "test", "expression": 0}]
    rows += [{"subject": "train_lonely", "split": "train", "expression": 5}]
    fold = official_split(pd.DataFrame(rows), seed=0)["official"]
    val_classes = sorted(int(s.split("_")[1]) for s in fold["val"])
    assert val_classes == [0, 1, 2]  # one each; the single image of class 5 stays in train
