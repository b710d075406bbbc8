"""FaceDataset: joins index rows to the face store, masks unknown labels, lists dropped rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from libreface_nb.data.dataset import FaceDataset, make_loader
from libreface_nb.data.transforms import build_transform, denormalize
from libreface_nb.errors import ConfigError, DatasetLayoutError
from libreface_nb.faces.store import MANIFEST_COLUMNS, StoreWriter

NAN = np.nan


def _row(source: str, frame: int, face: int, status: str, reason: str = "", face_file: str = ""):
    row = dict.fromkeys(MANIFEST_COLUMNS)
    row.update(source=source, frame=frame, time_s=frame / 25, face=face, track_id=-1,
               status=status, reason=reason, score=0.9 if face >= 0 else NAN, face_file=face_file,
               width=256, height=256, detector="test", pitch=NAN, yaw=NAN, roll=NAN)  # fmt: skip
    return row


def _face(value: int) -> np.ndarray:
    """Red = ``value`` everywhere (which face it is); green, blue = column, row (crop and flip)."""
    yy, xx = np.mgrid[0:256, 0:256]
    return np.stack([np.full_like(xx, value), xx, yy], axis=-1).astype(np.uint8)


def _value(image: torch.Tensor) -> int:
    """The ``value`` of a :func:`_face` after a transform."""
    red = denormalize(image)[..., 0]
    assert (red == red.flat[0]).all()
    return int(red.flat[0])


SOURCES = {f"/data/img_{k}.png": 20 + 10 * k for k in range(8)}  # still image → face value
VIDEO = "/data/clip.mp4"


def _video_value(frame: int) -> int:
    return 150 + 10 * frame


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store in the real layout (written by faces.store.StoreWriter) with every status."""
    root = tmp_path_factory.mktemp("store")
    w = StoreWriter(root, {"size": 256, "method": "test"})
    rows = []
    for k in (0, 1, 2, 3, 5):  # ok stills (img_5's PNG is deleted below)
        src = f"/data/img_{k}.png"
        rows.append(_row(src, 0, 0, "ok", face_file=w.write_face(src, 0, 0, _face(SOURCES[src]))))
    rows.append(_row("/data/img_4.png", 0, -1, "unreadable", "truncated JPEG"))
    for face in (0, 1):  # two faces: face 0 is the one used
        src = "/data/img_6.png"
        rows.append(
            _row(src, 0, face, "ok", face_file=w.write_face(src, 0, face, _face(60 + face)))
        )
    for f in (0, 1, 2):
        rows.append(
            _row(VIDEO, f, 0, "ok", face_file=w.write_face(VIDEO, f, 0, _face(_video_value(f))))
        )
    rows.append(_row(VIDEO, 3, -1, "no_face", "no face found"))
    w.add_rows(rows)
    w.consolidate()
    (root / rows[4]["face_file"]).unlink()  # img_5: the manifest names a file that is gone
    return root


@pytest.fixture()
def index() -> pd.DataFrame:
    """Index rows: stills 0–7 (7 not in the store), video frames 0–3, a second row for img_1."""
    src = [f"/data/img_{k}.png" for k in range(8)] + [VIDEO] * 4 + ["/data/img_1.png"]
    frame = [0] * 8 + [0, 1, 2, 3] + [0]
    n = len(src)
    au01 = np.arange(n, dtype=np.float32)
    au02 = np.where(np.arange(n) % 3 == 0, NAN, 5 - np.arange(n) / 4).astype(np.float32)
    expr = (np.arange(n) % 9 - 1).astype(np.int64)  # -1..7
    return pd.DataFrame({"subject": [f"S{i}" for i in range(n)], "source": src, "frame": frame,
                         "AU01": au01, "AU02": au02, "expression": expr})  # fmt: skip


def _expected_value(row: pd.Series) -> int:
    return _video_value(row.frame) if row.source == VIDEO else SOURCES[row.source]


def test_items_join_the_right_rows(store, index):
    ds = FaceDataset(index, store, ["AU02", "AU01"], build_transform("au", False))
    assert len(ds) == len(index) - 4  # img_4, img_5, img_7 and video frame 3 have no face
    for i in range(len(ds)):
        item = ds[i]
        row = index.iloc[item["row"]]
        want_face = 60 if row.source == "/data/img_6.png" else _expected_value(row)
        assert _value(item["image"]) == want_face
        assert item["labels"][1] == row.AU01  # the caller's column order
        assert item["image"].shape == (3, 224, 224) and item["image"].dtype == torch.float32
        assert item["labels"].dtype == torch.float32 and item["mask"].dtype == torch.float32


def test_nan_labels_are_masked_not_zero(store, index):
    ds = FaceDataset(index, store, ["AU01", "AU02"])
    seen_nan = 0
    for i in range(len(ds)):
        item = ds[i]
        truth = index.iloc[item["row"]][["AU01", "AU02"]].to_numpy(np.float32)
        known = ~np.isnan(truth)
        np.testing.assert_array_equal(item["mask"].numpy(), known.astype(np.float32))
        np.testing.assert_array_equal(item["labels"].numpy(), np.where(known, truth, 0))
        seen_nan += int((~known).sum())
    assert seen_nan >= 2


def test_dropped_rows_have_reasons(store, index):
    ds = FaceDataset(index, store, ["AU01"])
    d = ds.dropped.set_index("source")
    assert sorted(ds.dropped["row"]) == [4, 5, 7, 11]
    assert d.loc["/data/img_4.png", "status"] == "unreadable"
    assert d.loc["/data/img_4.png", "reason"] == "truncated JPEG"
    assert "face file not found" in d.loc["/data/img_5.png", "reason"]
    assert d.loc["/data/img_7.png", "reason"] == "not in store"
    assert (d.loc[VIDEO, "status"], d.loc[VIDEO, "frame"]) == ("no_face", 3)
    # Nothing lost silently: kept + dropped = every index row, each once.
    assert sorted([*ds.rows, *ds.dropped["row"]]) == list(range(len(index)))
    assert {"subject", "AU01"} <= set(ds.dropped.columns)  # the index row is kept for tracing


def test_expression_target(store, index):
    ds = FaceDataset(index, store, [], target="expression")
    items = [ds[i] for i in range(len(ds))]
    assert all(it["labels"].shape == (0,) for it in items)
    got = [int(it["expression"]) for it in items]
    assert got == [int(index.expression.iloc[it["row"]]) for it in items]
    assert -1 in got and items[0]["expression"].dtype == torch.int64
    bad = index.assign(expression=index.expression.replace(7, 8))
    with pytest.raises(ConfigError, match="expression"):
        FaceDataset(bad, store, [], target="expression")


def test_loader_repeats_with_the_same_seed(store, index):
    def first_batch(seed: int, epoch: int = 0) -> dict:
        ds = FaceDataset(index, store, ["AU01", "AU02"], build_transform("au", True), seed=seed)
        ds.set_epoch(epoch)
        return next(iter(make_loader(ds, batch_size=4, shuffle=True, seed=seed)))

    torch.manual_seed(0)
    state = torch.get_rng_state()
    a, b = first_batch(7), first_batch(7)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is left alone
    assert a["image"].shape == (4, 3, 224, 224) and a["labels"].shape == (4, 2)
    assert all(torch.equal(a[k], b[k]) for k in ("image", "labels", "mask", "row"))
    for image, row in zip(a["image"], a["row"], strict=True):  # augmented, still the right face
        r = index.iloc[int(row)]
        assert _value(image) == (60 if r.source == "/data/img_6.png" else _expected_value(r))
    c = first_batch(8)
    assert not torch.equal(a["row"], c["row"]) or not torch.equal(a["image"], c["image"])
    e = first_batch(7, epoch=1)  # same order, new augmentations
    assert torch.equal(a["row"], e["row"]) and not torch.equal(a["image"], e["image"])


def test_augmentation_does_not_depend_on_workers(store, index):
    ds = FaceDataset(index, store, ["AU01"], build_transform("au", True, rotation=10), seed=3)
    one = torch.cat([b["image"] for b in make_loader(ds, batch_size=3, num_workers=0)])
    two = torch.cat([b["image"] for b in make_loader(ds, batch_size=3, num_workers=2)])
    assert torch.equal(one, two)


def test_cache_gives_the_same_items(store, index):
    plain = FaceDataset(index, store, ["AU01"], seed=1)
    cached = FaceDataset(index, store, ["AU01"], seed=1, cache=True)
    assert cached._cache is not None and len(cached._cache) == len(set(cached.face_files))
    for i in range(len(plain)):
        assert torch.equal(plain[i]["image"], cached[i]["image"])
        np.testing.assert_array_equal(plain.face(i), cached.face(i))


def test_errors_name_the_problem(store, index, tmp_path):
    with pytest.raises(ConfigError, match="AU99"):
        FaceDataset(index, store, ["AU01", "AU99"])
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        FaceDataset(index, tmp_path / "nowhere", ["AU01"])
    with pytest.raises(DatasetLayoutError, match="'frame'"):
        FaceDataset(index.drop(columns="frame"), store, ["AU01"])
    with pytest.raises(ConfigError, match="target"):
        FaceDataset(index, store, ["AU01"], target="gaze")
