"""Notebook 01's package steps: fixture sizes, folds, atlas AUs, face sampling errors."""

from __future__ import annotations

import numpy as np
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


def test_fold_role_table_counts_rows_per_role_and_fold():
    index = _index(["SN002", "SN013", "SN003", "SN010"])  # 2 rows each
    folds = {
        "fold1": {"test": ["SN002"], "val": ["SN013"]},
        "fold2": {"test": ["SN013", "SN003"], "val": []},
    }
    table = prepare.fold_role_table(index, folds)
    assert list(table.index) == ["train", "val", "test"]
    assert list(table.columns) == ["fold1", "fold2"]
    assert table["fold1"].tolist() == [4, 2, 2]
    assert table["fold2"].tolist() == [4, 0, 4]  # no val subject: 0, not NaN
    assert str(table.dtypes.unique()[0]) == "int64"


def test_face_metrics_are_the_notebook_headline_numbers():
    index = _index(["SN002", "SN013"])  # 4 frames
    manifest = pd.DataFrame(
        {"source": list(index.source) + [index.source[0]],
         "frame": list(index.frame) + [index.frame[0]],
         "face": [0, -1, 0, 0, 1], "status": ["ok", "no_face", "ok", "ok", "ok"]}
    )  # fmt: skip
    got = prepare.face_metrics(index, manifest)
    assert got["n_frames"] == 4
    assert got["n_manifest_rows"] == 5
    assert got["n_faces_ok"] == 4
    assert got["face_detection_rate"] == 0.75


def test_showcase_grid_flattens_rows_and_titles_their_first_view():
    from libreface_nb.data.transforms import showcase_grid

    a, b, c = (np.full((2, 2, 3), v, np.uint8) for v in (1, 2, 3))
    views, titles = showcase_grid({"crop": [a, b], "flip": [c]})
    assert [int(v[0, 0, 0]) for v in views] == [1, 2, 3]
    assert titles == ["crop", "", "flip"]
