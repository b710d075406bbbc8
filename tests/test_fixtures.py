"""Fixture writers: native layouts, determinism, reuse / refuse / fresh-folder protocol.

Most tests use a cheap stand-in renderer (``FAKE``); the ``real`` tests use SynthAU itself,
one per dataset, and read the result back with the dataset's reader.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from libreface_nb.config import BP4D_AUS, DISFA_AUS, EXPRESSIONS, au_name
from libreface_nb.data import affectnet, bp4d, disfa, rafdb
from libreface_nb.data.fixtures import (
    FIXTURE_FILE,
    fixture_stats,
    load_backend,
    make_fixture,
    read_fixture_info,
)
from libreface_nb.data.fixtures.au import bp4d_plan, disfa_plan
from libreface_nb.data.fixtures.fer import affectnet_plan, rafdb_plan
from libreface_nb.data.index import validate_index
from libreface_nb.errors import ConfigError, DatasetLayoutError

READERS = {"disfa": disfa, "bp4d": bp4d, "rafdb": rafdb, "affectnet": affectnet}
SMALL = {
    "disfa": {"n_subjects": 3, "n_frames": 6, "size": 64},
    "bp4d": {"n_subjects": 2, "n_tasks": 2, "n_frames": 6, "size": 64},
    "rafdb": {"n_train": 8, "n_test": 3, "size": 64},
    "affectnet": {"n_train": 10, "n_validation": 3, "size": 64},
}


def _fake_render(subject, intensities, *, size=256, frame_seed=0, pose=True):
    """Grey image whose stripes encode the intensities, plus seeded noise."""
    rng = np.random.default_rng(frame_seed)
    img = np.full((size, size, 3), 90 + 10 * (zlib.crc32(str(subject).encode()) % 5), np.uint8)
    for k, (au, value) in enumerate(sorted(intensities.items())):
        img[(k * 3) % size, :, k % 3] = np.uint8(min(255, 40 * value + au))
    return np.clip(img + rng.integers(0, 12, img.shape), 0, 255).astype(np.uint8)


def _fake_curves(n_frames, aus, seed, *, n_events=3):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n_frames)[:, None]
    return (2.5 + 2.5 * np.sin(7 * t + rng.uniform(0, 6.3, len(aus)))).astype(np.float32)


FAKE = SimpleNamespace(
    make_subjects=lambda n, seed: [f"fake{seed}_{i}" for i in range(n)],
    render_face=_fake_render,
    au_curves=_fake_curves,
    expression_intensities=lambda e, seed: {12: 3.0, 6: 2.0} if e == 1 else {4: float(e % 5)},
)


def _digest_tree(folder: Path) -> dict[str, str]:
    """sha1 of every file except fixture.json (its stats hold timings) and videos."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != FIXTURE_FILE and path.suffix != ".avi":
            out[str(path.relative_to(folder))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


def _decoded(video: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


@pytest.mark.parametrize("name", list(SMALL))
def test_layout_files_and_flag(tmp_path, name):
    folder = make_fixture(name, tmp_path, synth=FAKE, **SMALL[name])
    assert folder == tmp_path.resolve() / name
    expected = {
        "disfa": ["Videos_LeftCamera/LeftVideoSN002_comp.avi",
                  "ActionUnit_Labels/SN002/SN002_au26.txt"],
        "bp4d": ["AUCoding/AU_OCC/F001_T1.csv", "AUCoding/AU_OCC/M001_T2.csv"],
        "rafdb": ["basic/EmoLabel/list_patition_label.txt", "basic/Image/original/train_00001.jpg",
                  "basic/Image/aligned/test_0001_aligned.jpg"],
        "affectnet": ["Manually_Annotated_file_lists/training.csv",
                      "Manually_Annotated_file_lists/validation.csv"],
    }[name]  # fmt: skip
    for rel in expected:
        assert (folder / rel).is_file(), rel
    info = read_fixture_info(folder)
    assert info["complete"] is True and info["params"]["sizes"]["size"] == 64
    stats = fixture_stats(folder)
    assert stats["files"] > 0 and stats["bytes"] > 0 and stats["seconds"] >= 0
    assert not list(tmp_path.glob(".*partial*")), "temporary folder left behind"


def test_disfa_labels_and_video_match_plan(tmp_path):
    folder = make_fixture("disfa", tmp_path, synth=FAKE, **SMALL["disfa"])
    plan = disfa_plan(0, {**SMALL["disfa"]}, load_backend(synth=FAKE))
    rows = plan[plan["subject"] == "SN013"]
    lines = (folder / "ActionUnit_Labels/SN013/SN013_au12.txt").read_text().splitlines()
    assert lines == [f"{n},{v}" for n, v in zip(rows["native_frame"], rows["AU12"], strict=True)]
    assert lines[0].startswith("1,")  # DISFA label frames count from 1
    assert (
        len(_decoded(folder / "Videos_LeftCamera/LeftVideoSN013_comp.avi"))
        == SMALL["disfa"]["n_frames"]
    )


def test_bp4d_csv_has_nines_for_unknowns(tmp_path):
    folder = make_fixture("bp4d", tmp_path, synth=FAKE, **SMALL["bp4d"])
    text = (folder / "AUCoding/AU_OCC/F001_T1.csv").read_text().splitlines()
    header = text[0].split(",")
    assert header[0] == "0" and header[1:4] == ["1", "2", "3"]
    cells = [line.split(",") for line in text[1:]]
    assert any("9" in row[1:] for row in cells)
    assert {c for row in cells for c in row[1:]} <= {"0", "1", "9"}
    frames = sorted(p.name for p in (folder / "Sequences/F001/T1").iterdir())
    assert frames == [f"{int(row[0]):04d}.jpg" for row in cells]


def test_affectnet_validation_list_has_no_header(tmp_path):
    folder = make_fixture("affectnet", tmp_path, synth=FAKE, **SMALL["affectnet"])
    lists = folder / "Manually_Annotated_file_lists"
    assert lists.joinpath("training.csv").read_text().startswith("subDirectory_filePath,")
    first = lists.joinpath("validation.csv").read_text().splitlines()[0]
    assert not first.startswith("subDirectory_filePath") and first.count(",") == 8


@pytest.mark.parametrize("name", list(SMALL))
def test_same_seed_same_bytes_other_seed_differs(tmp_path, name):
    a = make_fixture(name, tmp_path / "a", seed=3, synth=FAKE, **SMALL[name])
    b = make_fixture(name, tmp_path / "b", seed=3, synth=FAKE, **SMALL[name])
    c = make_fixture(name, tmp_path / "c", seed=4, synth=FAKE, **SMALL[name])
    assert _digest_tree(a) == _digest_tree(b)
    assert _digest_tree(a) != _digest_tree(c)
    for video in a.rglob("*.avi"):
        frames_a, frames_b = _decoded(video), _decoded(b / video.relative_to(a))
        assert len(frames_a) == len(frames_b) > 0
        assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b, strict=True))


def test_complete_fixture_is_reused(tmp_path):
    first = make_fixture("rafdb", tmp_path, synth=FAKE, **SMALL["rafdb"])
    stamp = (first / FIXTURE_FILE).stat().st_mtime_ns
    second = make_fixture("rafdb", tmp_path, synth=FAKE, **SMALL["rafdb"])
    assert second == first and (first / FIXTURE_FILE).stat().st_mtime_ns == stamp


def test_other_parameters_or_foreign_folder_refused(tmp_path):
    folder = make_fixture("disfa", tmp_path, synth=FAKE, **SMALL["disfa"])
    before = _digest_tree(folder)
    with pytest.raises(DatasetLayoutError, match="other parameters"):
        make_fixture("disfa", tmp_path, synth=FAKE, **{**SMALL["disfa"], "n_frames": 7})
    assert _digest_tree(folder) == before
    foreign = tmp_path / "bp4d"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("user data")
    with pytest.raises(DatasetLayoutError, match=str(foreign)):
        make_fixture("bp4d", tmp_path, synth=FAKE, **SMALL["bp4d"])
    assert (foreign / "mine.txt").read_text() == "user data"


def test_half_written_fixture_left_alone_and_rebuilt_fresh(tmp_path):
    half = tmp_path / "affectnet"
    half.mkdir()
    (half / FIXTURE_FILE).write_text(json.dumps({"complete": False, "params": {}}))
    (half / "partial.jpg").write_bytes(b"x")
    folder = make_fixture("affectnet", tmp_path, synth=FAKE, **SMALL["affectnet"])
    assert folder == tmp_path.resolve() / "affectnet-2"
    assert read_fixture_info(folder)["complete"] is True
    assert (half / "partial.jpg").read_bytes() == b"x"
    assert make_fixture("affectnet", tmp_path, synth=FAKE, **SMALL["affectnet"]) == folder


def test_failed_build_leaves_nothing(tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        make_fixture("bp4d", tmp_path, synth=FAKE, render=broken, **SMALL["bp4d"])
    assert list(tmp_path.iterdir()) == []


def test_bad_parameters(tmp_path):
    with pytest.raises(ConfigError, match="n_frames"):
        make_fixture("rafdb", tmp_path, synth=FAKE, n_frames=3)
    with pytest.raises(ConfigError, match="unknown fixture"):
        make_fixture("ck+", tmp_path, synth=FAKE)


# --- the real SynthAU renderer, one test per dataset -------------------------------------


def test_real_disfa_read_back(tmp_path):
    sizes = {"n_subjects": 2, "n_frames": 4, "size": 128}
    folder = make_fixture("disfa", tmp_path, **sizes)
    index = validate_index(disfa.read_index(folder, check_frames=True))
    plan = disfa_plan(0, sizes, load_backend())
    assert len(index) == 8 and list(index["frame"][:4]) == [0, 1, 2, 3]
    cols = [au_name(a) for a in DISFA_AUS]
    np.testing.assert_array_equal(index[cols].to_numpy(), plan[cols].to_numpy(dtype=np.float32))
    frame = _decoded(Path(index["source"][0]))[0]
    assert frame.shape == (128, 128, 3) and frame.std() > 10  # a picture, not a blank


def test_real_bp4d_read_back(tmp_path):
    sizes = {"n_subjects": 1, "n_tasks": 2, "n_frames": 4, "size": 128}
    folder = make_fixture("bp4d", tmp_path, **sizes)
    index = validate_index(bp4d.read_index(folder))
    plan = bp4d_plan(0, sizes, load_backend())
    cols = [au_name(a) for a in BP4D_AUS]
    np.testing.assert_array_equal(index[cols].to_numpy(), plan[cols].to_numpy(dtype=np.float32))
    assert index[cols].isna().any().any()  # 9s came back as NaN
    assert cv2.imread(index["source"][0]).shape == (128, 128, 3)


def test_real_rafdb_read_back(tmp_path):
    sizes = {"n_train": 7, "n_test": 2, "n_identities": 2, "size": 128}
    folder = make_fixture("rafdb", tmp_path, **sizes)
    index = validate_index(rafdb.read_index(folder))
    plan = rafdb_plan(0, {**sizes}, load_backend())
    assert list(index["expression"]) == list(plan["expression"])
    assert set(index.loc[index["split"] == "train", "expression"]) == set(
        range(len(EXPRESSIONS) - 1)
    )
    aligned = rafdb.read_index(folder, images="aligned")
    assert cv2.imread(aligned["source"][0]).shape == (100, 100, 3)


def test_real_affectnet_read_back(tmp_path):
    sizes = {"n_train": 5, "n_validation": 2, "n_identities": 2, "size": 128}
    folder = make_fixture("affectnet", tmp_path, **sizes)
    index = validate_index(affectnet.read_index(folder))
    plan = affectnet_plan(0, {**sizes}, load_backend())
    kept = plan[plan["expression"] < 8]
    assert list(index["expression"]) == list(kept["expression"])
    image = cv2.imread(index["source"][0])
    x, y, w, h = (int(index[c][0]) for c in ("face_x", "face_y", "face_width", "face_height"))
    assert x + w <= image.shape[1] and y + h <= image.shape[0] and w == 128
