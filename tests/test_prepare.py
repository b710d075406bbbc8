"""Notebook 01's package steps: fixture sizes, folds, atlas AUs, face sampling errors."""

from __future__ import annotations

import pandas as pd
import pytest

from libreface_nb.config import DISFA_AUS
from libreface_nb.data import prepare
from libreface_nb.errors import ConfigError, NoFaceError


def _index(subjects, dataset="disfa", aus=("AU01", "AU12")):
    rows = [
        {"dataset": dataset, "subject": s, "session": "", "source": f"/x/{s}.avi", "frame": f,
         "native_frame": f + 1, "split": "", **{a: 0.0 for a in aus}}
        for s in subjects for f in range(2)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_make_folds_uses_published_disfa_partition_when_it_fits():
    index = _index(["SN002", "SN013", "SN003"])
    folds, kind = prepare.make_folds(index, "disfa", 3, seed=0)
    assert kind == "disfa-3fold-published"
    assert [f["test"] for f in folds.values()] == [["SN002"], ["SN013"], ["SN003"]]
    for f in folds.values():
        assert len(f["val"]) == 1 and not set(f["val"]) & set(f["test"])


def test_make_folds_falls_back_to_subject_kfold():
    index = _index(["SN001", "SN002", "SN010", "SN009"])  # all in DISFA part 1
    folds, kind = prepare.make_folds(index, "disfa", 2, seed=0)
    assert kind == "subject-2fold" and len(folds) == 2
    tests = [s for f in folds.values() for s in f["test"]]
    assert sorted(tests) == ["SN001", "SN002", "SN009", "SN010"]  # every subject tested once


def test_unknown_dataset_and_atlas_aus():
    with pytest.raises(ConfigError, match="expected one of"):
        prepare.load_dataset("ck+")
    assert prepare.atlas_aus(_index(["a"], aus=("AU07", "AU23"))) == [7, 23]
    assert prepare.atlas_aus(_index(["a"], aus=())) == list(DISFA_AUS)


def test_fixture_sizes_map_onto_each_layout():
    assert prepare.fixture_sizes("disfa", 3, 40) == {"n_subjects": 3, "n_frames": 40}
    assert prepare.fixture_sizes("bp4d", 3, 40) == {"n_subjects": 3, "n_frames": 20}
    assert prepare.fixture_sizes("rafdb", 4, 40) == {"n_identities": 4, "n_train": 32, "n_test": 8}
    fer = prepare.fixture_sizes("affectnet", 4, 40)
    assert fer == {"n_identities": 4, "n_train": 32, "n_validation": 8}


def test_sample_faces_without_any_aligned_face_says_why(tmp_path):
    index = _index(["SN002"])
    manifest = pd.DataFrame(
        {"source": index.source, "frame": index.frame, "face": -1, "status": "no_face",
         "face_file": ""}
    )  # fmt: skip
    with pytest.raises(NoFaceError, match="no_face"):
        prepare.sample_faces(index, manifest, tmp_path, 4, seed=0)


def test_fixture_roots_differ_by_seed_and_size(tmp_path):
    a = prepare.fixture_root({"n_frames": 40}, 0, tmp_path)
    assert a != prepare.fixture_root({"n_frames": 20}, 0, tmp_path)
    assert a != prepare.fixture_root({"n_frames": 40}, 1, tmp_path)
    assert a.parent == tmp_path
