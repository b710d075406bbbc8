"""The manifest schema table: one definition read by the store, the preprocessing and the join."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from libreface_nb.faces import manifest as M
from libreface_nb.faces import store


def test_the_store_uses_the_one_schema():
    assert store.MANIFEST_COLUMNS == M.MANIFEST_COLUMNS
    assert store._schema().names == list(M.MANIFEST_COLUMNS)
    assert M.LISTS == {"quad": ("float64", 8), "landmarks": ("float32", 1434)}
    assert set(M.DTYPES) | set(M.LISTS) == set(M.MANIFEST_COLUMNS)


def test_new_row_holds_absent_values_then_the_frame_facts():
    row = M.new_row("/v.avi", 3, 0.15, (480, 640, 3), status="no_face", reason="none")
    assert list(row) == list(M.MANIFEST_COLUMNS)
    assert (row["frame"], row["time_s"], row["width"], row["height"]) == (3, 0.15, 640, 480)
    assert (row["face"], row["track_id"], row["face_file"]) == (-1, -1, "")
    assert math.isnan(row["score"])
    assert row["quad"] is None
    assert row["status"] == "no_face"
    assert M.new_row("/a.png", 0, 0.0)["width"] == 0  # unreadable: no shape


def test_new_row_refuses_unknown_columns():
    with pytest.raises(KeyError, match="not manifest columns"):
        M.new_row("/a.png", 0, 0.0, colour="red")


def _manifest(rows):
    return pd.DataFrame([M.new_row(s, f, 0.0, (1, 1), face=k, status=st) for s, f, k, st in rows])


def test_first_faces_keeps_ok_face_zero_once_per_frame():
    man = _manifest(
        [("/a", 0, 0, "ok"), ("/a", 0, 1, "ok"), ("/a", 1, -1, "no_face"), ("/b", 0, 0, "ok")]
    )
    got = M.first_faces(man)
    assert list(zip(got["source"], got["frame"], got["face"], strict=True)) == [
        ("/a", 0, 0),
        ("/b", 0, 0),
    ]


def test_detection_rate_counts_requested_frames_with_a_face():
    requested = pd.DataFrame({"source": ["/a", "/a", "/a", "/b", "/a"], "frame": [0, 1, 2, 0, 0]})
    man = _manifest([("/a", 0, 0, "ok"), ("/a", 0, 1, "ok"), ("/a", 1, -1, "no_face"),
                     ("/a", 2, -1, "error"), ("/b", 0, 0, "ok")])  # fmt: skip
    assert M.detection_rate(requested, man) == 0.5  # 2 of 4 distinct frames
    assert M.detection_rate(requested.iloc[:0], man) == 0.0
    assert M.detection_rate(requested, man.iloc[:0]) == 0.0


def test_detection_rate_ignores_rows_that_were_not_asked_for():
    requested = pd.DataFrame({"source": ["/a"], "frame": np.array([0], dtype=np.int64)})
    man = _manifest([("/a", 0, -1, "no_face"), ("/z", 0, 0, "ok")])
    assert M.detection_rate(requested, man) == 0.0
