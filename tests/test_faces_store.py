"""Face store: float32 landmarks, column subsets, small chunks, retries (latest attempt wins)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from libreface_nb.faces.store import (
    MANIFEST_COLUMNS,
    StoreWriter,
    landmarks,
    load_manifest,
    quads,
)

PARAMS = {"size": 256, "method": "fast", "max_faces": 1, "detector": "auto", "border": "constant"}
RNG = np.random.default_rng(7)


def _row(source: str, frame: int = 0, face: int = 0, status: str = "ok", lm=None) -> dict:
    """A manifest row; ok rows get landmarks (random unless given) and a quad."""
    ok = status == "ok"
    lm = RNG.uniform(0, 640, 478 * 3).astype(np.float32) if ok and lm is None else lm
    row = dict.fromkeys(MANIFEST_COLUMNS)
    row.update(source=source, frame=frame, time_s=0.0, face=face, track_id=-1,
               status=status, reason="" if ok else f"{status} here", score=0.9 if ok else np.nan,
               face_file=f"faces/x/{frame:07d}_{face}.png" if ok else "", width=640, height=480,
               detector="mesh", pitch=1.0 if ok else np.nan, yaw=2.0 if ok else np.nan,
               roll=3.0 if ok else np.nan, quad=np.arange(8.0) + frame if ok else None,
               landmarks=lm)  # fmt: skip
    return row


def test_landmarks_are_stored_as_float32_and_read_back_exactly(tmp_path) -> None:
    lm = RNG.uniform(0, 640, (2, 478 * 3)).astype(np.float32)
    rows = [_row("/a.png", lm=lm[0]), _row("/b.png", face=-1, status="no_face"),
            _row("/v.avi", 5, lm=lm[1])]  # fmt: skip
    w = StoreWriter(tmp_path, PARAMS)
    w.add_rows(rows)
    w.consolidate()
    schema = pq.read_schema(tmp_path / "manifest.parquet")
    assert schema.field("landmarks").type.value_type == pa.float32()
    assert schema.field("quad").type.value_type == pa.float64()
    m = load_manifest(tmp_path)
    assert list(m.columns) == list(MANIFEST_COLUMNS)
    assert m["source"].tolist() == ["/a.png", "/b.png", "/v.avi"]
    np.testing.assert_array_equal(landmarks(m)[[0, 2]], lm.reshape(2, 478, 3))
    assert np.isnan(landmarks(m)[1]).all() and m["landmarks"].iloc[1] is None
    np.testing.assert_array_equal(quads(m)[2], (np.arange(8.0) + 5).reshape(4, 2))
    assert m["frame"].dtype == np.int64 and m["pitch"].dtype == np.float64


def test_load_manifest_reads_only_the_columns_asked_for(tmp_path, monkeypatch) -> None:
    w = StoreWriter(tmp_path, PARAMS)
    w.add_rows([_row("/a.png"), _row("/b.png", face=-1, status="error")])
    w.flush()  # one chunk
    w.consolidate()
    w = StoreWriter(tmp_path, PARAMS)
    w.add_rows([_row("/c.png")])
    w.flush()  # manifest.parquet plus a chunk
    read: list = []
    original = pq.read_table

    def spy(source, *args, columns=None, **kwargs):
        read.append(columns)
        return original(source, *args, columns=columns, **kwargs)

    monkeypatch.setattr(pq, "read_table", spy)
    m = load_manifest(tmp_path, columns=["status", "source"])
    assert list(m.columns) == ["status", "source"]
    assert m["source"].tolist() == ["/a.png", "/b.png", "/c.png"]
    assert m["status"].tolist() == ["ok", "error", "ok"]
    StoreWriter(tmp_path, PARAMS)  # its start-up reads what is done: a few small columns only
    assert len(read) == 4 and all(c is not None for c in read)
    assert not any({"landmarks", "quad"} & set(c) for c in read)
    with pytest.raises(ValueError, match="nope"):
        load_manifest(tmp_path, columns=["source", "nope"])
    (tmp_path / "empty").mkdir()
    assert list(load_manifest(tmp_path / "empty", columns=["frame"]).columns) == ["frame"]


def test_rows_reach_the_disk_every_64_rows(tmp_path) -> None:
    w = StoreWriter(tmp_path, PARAMS)
    for i in range(63):
        w.add_rows([_row(f"/{i}.png")])
    assert not list(tmp_path.glob("manifest/part-*.parquet"))
    w.add_rows([_row("/63.png")])
    assert len(load_manifest(tmp_path)) == 64  # flushed without consolidate()


def test_failed_frames_are_retried_and_the_latest_attempt_wins(tmp_path) -> None:
    first = [
        _row("/zero.jpg", face=-1, status="unreadable"),  # a 0-byte file, fixed later
        _row("/pair.jpg", face=-1, status="error"),  # one error row, two faces on retry
        _row("/ok.jpg"),
        _row("/wall.jpg", face=-1, status="no_face"),
        _row("/half.jpg", face=0),  # face 0 aligned, face 1 failed: the frame is retried
        _row("/half.jpg", face=1, status="error"),
        _row("/v.avi", 9, face=-1, status="missing_frame"),
    ]
    w = StoreWriter(tmp_path, PARAMS)
    w.add_rows(first)
    assert w.done == {("/ok.jpg", 0), ("/wall.jpg", 0)}
    w.consolidate()

    w = StoreWriter(tmp_path, PARAMS)
    assert w.done == {("/ok.jpg", 0), ("/wall.jpg", 0)}  # read back from the store
    retry = [_row("/zero.jpg"), _row("/pair.jpg", face=0), _row("/pair.jpg", face=1),
             _row("/half.jpg", face=0), _row("/half.jpg", face=1),
             _row("/v.avi", 9, face=-1, status="missing_frame")]  # fmt: skip
    assert w.add_rows(retry) == 1  # one row still records a failure
    w.flush()
    for m in (load_manifest(tmp_path), w.consolidate()):  # chunks pending, then consolidated
        got = m.groupby("source", sort=False)["face"].apply(list).to_dict()
        assert got == {"/zero.jpg": [0], "/pair.jpg": [0, 1], "/ok.jpg": [0], "/wall.jpg": [-1],
                       "/half.jpg": [0, 1], "/v.avi": [-1]}  # fmt: skip
        want = ["ok", "ok", "ok", "ok", "no_face", "ok", "ok", "missing_frame"]
        assert m["status"].tolist() == want
    assert not list(tmp_path.glob("manifest/part-*.parquet"))
    assert StoreWriter(tmp_path, PARAMS).done == {
        (s, 0) for s in ("/zero.jpg", "/pair.jpg", "/ok.jpg", "/wall.jpg", "/half.jpg")
    }


def test_a_store_written_with_double_lists_still_loads(tmp_path) -> None:
    """Stores written before the float32 change hold list<double> columns."""
    rows = [_row("/a.png"), _row("/b.png", face=-1, status="no_face")]
    old = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    old["landmarks"] = [r["landmarks"].astype(np.float64).tolist() if r["landmarks"] is not None
                        else None for r in rows]  # fmt: skip
    old["quad"] = [r["quad"].tolist() if r["quad"] is not None else None for r in rows]
    (tmp_path / "manifest").mkdir()
    old.to_parquet(tmp_path / "manifest" / "part-000000.parquet", index=False)
    w = StoreWriter(tmp_path, PARAMS)
    assert w.done == {("/a.png", 0), ("/b.png", 0)}
    m = w.consolidate()
    np.testing.assert_array_equal(landmarks(m)[0].ravel(), rows[0]["landmarks"])
    schema = pq.read_schema(tmp_path / "manifest.parquet")
    assert schema.field("landmarks").type.value_type == pa.float32()


def test_a_store_without_border_is_the_mirror_fill_and_refused_for_the_dark_one(tmp_path) -> None:
    """store.json files written before ``border`` was recorded hold mirror-filled faces: they
    reopen with ``border="reflect"`` and are refused, naming the setting, with the default."""
    import json

    from libreface_nb.errors import ConfigError

    legacy = {k: v for k, v in PARAMS.items() if k != "border"}
    (tmp_path / "store.json").write_text(json.dumps(legacy))
    StoreWriter(tmp_path, {**legacy, "border": "reflect"})  # same faces: accepted
    with pytest.raises(ConfigError, match="border='reflect'.*align_border='reflect'"):
        StoreWriter(tmp_path, PARAMS)
