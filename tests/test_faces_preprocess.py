"""Preprocessing into the face store: a row for every requested frame, reruns, interruptions."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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
    # stored as float32, not the list<double> that .tolist() gives (twice the bytes)
    schema = pq.read_schema(store / "manifest.parquet")
    assert schema.field("landmarks").type.value_type == pa.float32()


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
    assert list(zip(m["source"], m["frame"], strict=True)) == list(  # in request order
        zip(index["source"], index["frame"], strict=True)
    )


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
    assert not [p for p in store.rglob(".*") if p.name.endswith(".tmp")]  # no half-written file
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


def test_a_zero_byte_file_replaced_by_a_photo_is_retried(tmp_path, monkeypatch) -> None:
    good = save_rgb(tmp_path / "a.jpg", astronaut())
    late = tmp_path / "late.jpg"
    late.write_bytes(b"")
    store = tmp_path / "store"
    first = preprocess_images([good, late], store, progress=False)
    assert first["status"].tolist() == ["ok", "unreadable"]
    save_rgb(late, grace_hopper())  # the real photo arrives
    counter = _Counter(monkeypatch)
    again = preprocess_images([good, late], store, progress=False)
    assert counter.calls == 1  # a.jpg is done; only late.jpg is searched again
    assert again["status"].tolist() == ["ok", "ok"] and again["reason"].eq("").all()
    assert load_face(store, again["face_file"].iloc[1]).shape == (256, 256, 3)
    assert load_manifest(store)[["source", "status"]].equals(again[["source", "status"]])


def test_a_failing_face_becomes_an_error_row_and_is_retried(tmp_path, monkeypatch) -> None:
    import libreface_nb.faces.preprocess as pp

    pair = np.concatenate([fit(astronaut(), W // 2, H), fit(grace_hopper(), W // 2, H)], axis=1)
    paths = [save_rgb(tmp_path / n, im) for n, im in
             [("a.png", astronaut()), ("pair.png", pair), ("g.png", grace_hopper())]]  # fmt: skip
    broken = {"align": True, "detect": True}
    align, detect = pp.align_face, FaceMesh.detect

    def bad_align(image, quad, *args, **kwargs):
        if broken["align"] and image.shape[0] == 600:  # Grace Hopper's photo
            raise cv2.error("OpenCV(4.10) warp.cpp:1 (-215:Assertion failed) test")
        return align(image, quad, *args, **kwargs)

    def bad_detect(mesh, image):
        if broken["detect"] and image.shape[:2] == (H, W):  # the pair
            raise RuntimeError("graph failed")
        return detect(mesh, image)

    monkeypatch.setattr(pp, "align_face", bad_align)
    monkeypatch.setattr(FaceMesh, "detect", bad_detect)
    store = tmp_path / "store"
    m = preprocess_images(paths, store, max_faces=2, progress=False)  # runs to the end
    assert m["status"].tolist() == ["ok", "error", "error"]
    assert m["face"].tolist() == [0, -1, 0]
    assert "RuntimeError: graph failed" in m["reason"].iloc[1]
    assert "error: " in m["reason"].iloc[2] and "(-215" in m["reason"].iloc[2]
    assert m["face_file"].iloc[2] == "" and m["landmarks"].iloc[2] is None
    broken.update(align=False, detect=False)
    again = preprocess_images(paths, store, max_faces=2, progress=False)
    assert again["status"].tolist() == ["ok"] * 4  # the pair's error row gave way to 2 faces
    assert again["face"].tolist() == [0, 0, 1, 0]
    assert len(load_manifest(store, columns=["source"])) == 4


def test_selecting_20000_requests_from_20000_rows() -> None:
    from libreface_nb.faces import preprocess as pp

    rng = np.random.default_rng(0)
    stills = [f"/d/img_{i:05d}.png" for i in range(10000)]
    videos = [f"/d/vid_{i}.avi" for i in range(4)]
    keys = [(s, 0, k) for i, s in enumerate(stills) for k in range(1 + (i < 2000))]
    keys += [(v, f, 0) for v in videos for f in range(2000)]
    manifest = pd.DataFrame(keys, columns=["source", "frame", "face"]).assign(tag=np.arange(20000))
    requests = [(s, 0) for s in stills] + [(v, f) for v in videos[:3] for f in range(2000)]
    requests += [(videos[3], None)]
    requests += [(stills[i], 0) for i in rng.integers(0, 10000, 1000)]  # asked twice
    requests += [(videos[0], f) for f in range(2000, 3000)]  # beyond the end: no row
    requests += [(f"/elsewhere/{i}.png", 0) for i in range(1999)]  # not in the store
    assert len(requests) == 20000
    requests = [requests[i] for i in rng.permutation(20000)]

    rows: dict = {}
    for pos, (s, f) in enumerate(zip(manifest["source"], manifest["frame"], strict=True)):
        rows.setdefault((s, f), []).append(pos)
        rows.setdefault((s, None), []).append(pos)
    expected, seen = [], set()
    for pos in (p for req in requests for p in rows.get(req, [])):
        if pos not in seen:
            seen.add(pos)
            expected.append(pos)

    table = pp.request_table(requests)
    got = pp._select(manifest, table)
    assert got["tag"].tolist() == expected
    assert len(got) == 10000 + 2000 + 8000  # every row of the store, once
    by_source = {r.source: r.frames for r in pp.requests_by_source(table)}
    assert len(by_source) == 10000 + 4 + 1999
    assert by_source[videos[3]] is None and by_source[videos[0]] == list(range(3000))
    assert by_source[stills[0]] == [0]


def test_frame_numbers_are_checked(tmp_path) -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        preprocess_sources([("a.png", -1)], tmp_path / "s", progress=False)
    with pytest.raises(ValueError, match="integers"):
        preprocess_sources(pd.DataFrame({"source": ["a.png"], "frame": [1.5]}), tmp_path / "s")
    assert not (tmp_path / "s").exists()  # checked before anything is written
    empty = preprocess_sources([], tmp_path / "e", progress=False)
    assert empty.empty and list(empty.columns) == list(MANIFEST_COLUMNS)


# A child process that preprocesses with a stand-in FaceMesh (the same face in every image,
# found in `delay` seconds) and prints how many faces it searched for.
_CHILD = """
import json, sys, time
import numpy as np
from libreface_nb.faces import preprocess
from libreface_nb.faces.mesh import Face, landmarks_box

store, items, lm, delay = sys.argv[1], sys.argv[2], np.load(sys.argv[3]), float(sys.argv[4])

class StandIn:
    calls = 0
    def __init__(self, **kwargs): pass
    def __enter__(self): return self
    def __exit__(self, *exc): pass
    def close(self): pass
    def detect(self, image):
        StandIn.calls += 1
        time.sleep(delay)
        return [Face(lm, 0.9, landmarks_box(lm))]

preprocess.FaceMesh = StandIn
m = preprocess.preprocess_sources([tuple(i) for i in json.load(open(items))], store, progress=False)
print(json.dumps({"calls": StandIn.calls, "rows": len(m)}))
"""


def test_sigkill_loses_no_flushed_row_and_the_rerun_redoes_none(tmp_path) -> None:
    import json
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from libreface_nb.faces.mesh import detect_faces

    img = fit(astronaut(), 128, 128)
    np.save(tmp_path / "lm.npy", detect_faces(img)[0].landmarks)
    video = write_video(tmp_path / "v.avi", [img] * 6)
    stills = [save_rgb(tmp_path / "s0.png", img)]
    stills += [shutil.copyfile(stills[0], tmp_path / f"s{i}.png") for i in range(1, 200)]
    items = [(str(video), f) for f in range(6)] + [(str(p), 0) for p in stills]
    (tmp_path / "items.json").write_text(json.dumps(items))
    (tmp_path / "child.py").write_text(_CHILD)
    store = tmp_path / "store"
    args = [sys.executable, str(tmp_path / "child.py"), str(store), str(tmp_path / "items.json")]
    args.append(str(tmp_path / "lm.npy"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    with open(tmp_path / "child.log", "wb") as log:
        child = subprocess.Popen([*args, "0.01"], stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + 60
        while len(list(store.glob("manifest/part-*.parquet"))) < 2:  # the video + 64 stills
            assert child.poll() is None, (tmp_path / "child.log").read_text()
            assert time.monotonic() < deadline, "the child wrote nothing in 60 s"
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (store / "manifest.parquet").exists()  # never consolidated
    first = pd.read_parquet(store / "manifest" / "part-000000.parquet", columns=["source"])
    assert first["source"].eq(str(video)).all() and len(first) == 6  # flushed after the video
    flushed = load_manifest(store)
    assert 6 + 64 <= len(flushed) < len(items) and flushed["status"].eq("ok").all()
    stamps = {f: (store / f).stat().st_mtime_ns for f in flushed["face_file"]}

    rerun = subprocess.run([*args, "0"], capture_output=True, env=env, timeout=60, check=True)
    report = json.loads(rerun.stdout.decode().strip().splitlines()[-1])
    assert report["calls"] == len(items) - len(flushed)  # nothing flushed was searched again
    assert report["rows"] == len(items)
    final = load_manifest(store)
    assert list(zip(final["source"], final["frame"], strict=True)) == items  # one row each
    assert final["status"].eq("ok").all() and final["face"].eq(0).all()
    assert {f: (store / f).stat().st_mtime_ns for f in stamps} == stamps  # not rewritten
    assert not list(store.glob("manifest/part-*.parquet"))


def test_a_video_unreadable_on_rerun_keeps_its_good_rows(tmp_path, monkeypatch) -> None:
    import libreface_nb.faces.preprocess as pp

    video = _clip(tmp_path, "a.a")
    store = tmp_path / "store"
    align = pp.align_face
    calls = {"n": 0}

    def flaky_align(*args, **kwargs):  # frame 2 fails: no done marker for the video
        calls["n"] += 1
        if calls["n"] == 2:
            raise cv2.error("simulated")
        return align(*args, **kwargs)

    monkeypatch.setattr(pp, "align_face", flaky_align)
    first = preprocess_video(video, store, progress=False)
    assert first["status"].tolist() == ["ok", "no_face", "error"]
    video.write_bytes(b"not a video any more")
    again = preprocess_video(video, store, progress=False)
    assert again["status"].tolist() == ["ok", "no_face", "error"]  # frame 0 kept, not "unreadable"
    assert again["face_file"].iloc[0] != ""


@pytest.mark.parametrize("frame", [True, "1", 2**63, -1, 1.5])
def test_frame_numbers_that_are_not_plain_integers_are_refused(tmp_path, frame) -> None:
    with pytest.raises(ValueError, match="frame numbers must be integers"):
        preprocess_sources([(str(tmp_path / "a.png"), frame)], tmp_path / "store", progress=False)
