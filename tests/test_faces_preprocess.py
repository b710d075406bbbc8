"""Preprocessing into the face store: a row for every requested frame, reruns, interruptions."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from faces_helpers import astronaut, blank, fit, grace_hopper, save_rgb, write_video

from libreface_nb.errors import ConfigError
from libreface_nb.faces.mesh import FaceMesh
from libreface_nb.faces.preprocess import (
    preprocess_folder,
    preprocess_images,
    preprocess_sources,
    preprocess_video,
)
from libreface_nb.faces.store import MANIFEST_COLUMNS, landmarks, load_face, load_manifest, quads

W, H = 320, 240


def _clip(tmp_path, pattern: str, name: str = "clip.avi", fps: float = 10.0):
    """A video from a pattern: 'a' astronaut, 'g' Grace Hopper, '.' blank, '2' both faces."""
    a, g = fit(astronaut(), W, H), fit(grace_hopper(), W, H)
    both = np.concatenate([fit(astronaut(), W // 2, H), fit(grace_hopper(), W // 2, H)], axis=1)
    frames = {"a": a, "g": g, ".": blank(W, H), "2": both}
    return write_video(tmp_path / name, [frames[c] for c in pattern], fps=fps)


class _Counter:
    """Counts FaceMesh.detect calls; raises KeyboardInterrupt on call number ``fail_at``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> None:
        self.calls, self.fail_at, original = 0, fail_at, FaceMesh.detect

        def detect(mesh: FaceMesh, image: np.ndarray):
            self.calls += 1
            if self.calls == self.fail_at:
                raise KeyboardInterrupt
            return original(mesh, image)

        monkeypatch.setattr(FaceMesh, "detect", detect)


def test_video_manifest_has_one_row_per_frame(tmp_path) -> None:
    video = _clip(tmp_path, "aa.gg..a")
    store = tmp_path / "store"
    m = preprocess_video(video, store, progress=False)
    assert list(m.columns) == list(MANIFEST_COLUMNS)
    assert m["frame"].tolist() == list(range(8))
    assert m["source"].eq(str(video)).all()
    expected = ["ok", "ok", "no_face", "ok", "ok", "no_face", "no_face", "ok"]
    assert m["status"].tolist() == expected
    assert m["time_s"].to_numpy() == pytest.approx(np.arange(8) / 10.0)
    ok = m[m["status"] == "ok"]
    assert (ok["face"] == 0).all() and (ok["score"].between(0.5, 1.0)).all()
    assert (m.loc[m["status"] != "ok", ["face", "track_id"]] == -1).all().all()
    assert (m.loc[m["status"] != "ok", "face_file"] == "").all()
    assert ok["reason"].eq("").all() and m.loc[m["status"] == "no_face", "reason"].ne("").all()
    # the astronaut keeps one track id, Grace Hopper gets another
    assert ok["track_id"].iloc[0] == ok["track_id"].iloc[1] != ok["track_id"].iloc[2]
    for f in ok["face_file"]:
        face = load_face(store, f)
        assert face.shape == (256, 256, 3) and face.dtype == np.uint8
    lms, qs = landmarks(m), quads(m)
    assert lms.shape == (8, 478, 3) and qs.shape == (8, 4, 2)
    assert np.isfinite(lms[ok.index]).all() and np.isnan(lms[m["status"] != "ok"]).all()
    assert ok[["pitch", "yaw", "roll"]].notna().all().all()
    assert load_manifest(store).equals(m)


def test_video_with_two_faces_per_frame(tmp_path) -> None:
    m = preprocess_video(_clip(tmp_path, "22.2"), tmp_path / "s", max_faces=2, progress=False)
    assert m.groupby("frame").size().tolist() == [2, 2, 1, 2]
    ok = m[m["status"] == "ok"]
    assert ok["face"].tolist() == [0, 1, 0, 1, 0, 1]
    ids = ok.groupby("frame")["track_id"].apply(frozenset)
    assert ids.nunique() <= 2 and len(ids.iloc[0]) == 2


def test_images_of_every_kind_get_their_status(tmp_path) -> None:
    img = astronaut()
    paths = [
        save_rgb(tmp_path / "ok.jpg", img, quality=95),
        save_rgb(tmp_path / "gray.png", cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)),
        save_rgb(tmp_path / "rgba.png", np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])),
        tmp_path / "deep.png",
        tmp_path / "truncated.jpg",
        tmp_path / "empty.jpg",
        tmp_path / "notes.png",
        tmp_path / "missing.jpg",
        save_rgb(tmp_path / "wall.png", blank()),
    ]
    cv2.imwrite(str(paths[3]), img[:, :, ::-1].astype(np.uint16) * 257)
    data = paths[0].read_bytes()
    paths[4].write_bytes(data[: len(data) // 3])
    paths[5].write_bytes(b"")
    paths[6].write_text("not an image")
    m = preprocess_images(paths, tmp_path / "store", progress=False)
    assert m["source"].tolist() == [str(p) for p in paths]  # one row each, in order
    expected = ["ok"] * 4 + ["unreadable"] * 4 + ["no_face"]
    assert m["status"].tolist() == expected
    for p, reason in zip(paths[4:8], m["reason"].iloc[4:8], strict=True):
        assert p.name in reason
    assert (m["frame"] == 0).all() and (m["track_id"] == -1).all()


def test_dataset_index_frames(tmp_path) -> None:
    video = _clip(tmp_path, "a.ag")
    still = save_rgb(tmp_path / "still.png", grace_hopper())
    index = pd.DataFrame(
        {
            "source": [str(video)] * 4 + [str(still), str(still)],
            "frame": [3, 1, 2, 99, 0, 2],
            "AU01": np.nan,
        }
    )
    m = preprocess_sources(index, tmp_path / "store", progress=False)
    got = m.set_index(["source", "frame"])["status"]
    assert got[(str(video), 1)] == "no_face"
    assert got[(str(video), 2)] == "ok" and got[(str(video), 3)] == "ok"
    assert got[(str(video), 99)] == "missing_frame"
    assert got[(str(still), 0)] == "ok" and got[(str(still), 2)] == "missing_frame"
    assert len(m) == 6 and (str(video), 0) not in got.index  # only the listed frames


def test_rerun_skips_finished_work(tmp_path, monkeypatch) -> None:
    video = _clip(tmp_path, "a.g")
    still = save_rgb(tmp_path / "still.png", astronaut())
    items = [(str(video), None), (str(still), 0)]
    first = preprocess_sources(items, tmp_path / "store", progress=False)
    counter = _Counter(monkeypatch)
    again = preprocess_sources(items, tmp_path / "store", progress=False)
    assert counter.calls == 0
    assert again.drop(columns=["quad", "landmarks"]).equals(
        first.drop(columns=["quad", "landmarks"])
    )
    with pytest.raises(ConfigError, match="store.json"):
        preprocess_sources(items, tmp_path / "store", method="reference", progress=False)


def test_interrupted_run_keeps_what_was_written(tmp_path, monkeypatch) -> None:
    video = _clip(tmp_path, "aa.ggg.a")
    store = tmp_path / "store"
    counter = _Counter(monkeypatch, fail_at=5)
    with pytest.raises(KeyboardInterrupt):
        preprocess_video(video, store, progress=False)
    partial = load_manifest(store)
    assert partial["frame"].tolist() == [0, 1, 2, 3]
    assert all((store / f).is_file() for f in partial["face_file"] if f)
    assert not list(store.rglob(".tmp-*"))  # no half-written file left
    counter.fail_at, counter.calls = None, 0
    full = preprocess_video(video, store, progress=False)
    assert counter.calls == 4  # only frames 4–7 were searched again
    assert full["frame"].tolist() == list(range(8))
    assert full["status"].tolist() == ["ok", "ok", "no_face", "ok", "ok", "ok", "no_face", "ok"]


def test_folder(tmp_path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    save_rgb(folder / "b.jpg", astronaut())
    save_rgb(folder / "sub" / "a.png", grace_hopper())
    _clip(folder, "a.", name="v.avi")
    (folder / "readme.txt").write_text("ignored")
    m = preprocess_folder(folder, tmp_path / "store", progress=False)
    names = [p.rsplit("/", 1)[-1] for p in m["source"]]
    assert names == ["b.jpg", "a.png", "v.avi", "v.avi"]
    assert m["status"].tolist() == ["ok", "ok", "ok", "no_face"]


def test_load_manifest_of_a_missing_store_names_it(tmp_path) -> None:
    from libreface_nb.errors import UnreadableInputError

    with pytest.raises(UnreadableInputError, match="nowhere"):
        load_manifest(tmp_path / "nowhere")
