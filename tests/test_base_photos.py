"""SynthAU from any face photo: base keys, one mesh per content, fixtures and hold-out folds."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pandas as pd
import pytest

from libreface_nb.data import folds as F
from libreface_nb.data import prepare, synth
from libreface_nb.data.fixtures import fixture_subject_bases, make_fixture, read_fixture_info
from libreface_nb.data.synth import base as B
from libreface_nb.errors import ConfigError


def _stub_render(subject, intensities, *, size=256, frame_seed=0, pose=True):
    """A cheap renderer (no MediaPipe): grey level from the subject, noise from the frame."""
    rng = np.random.default_rng(frame_seed)
    img = np.full((size, size, 3), 60 + zlib.crc32(str(subject).encode()) % 100, np.uint8)
    return np.clip(img + rng.integers(0, 12, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def flipped_photo(tmp_path_factory):
    """The astronaut photo mirrored: another picture (other content hash) with a face."""
    import cv2

    photo = np.ascontiguousarray(B.load_base_photo("astronaut")[:, ::-1])
    folder = tmp_path_factory.mktemp("photos")
    path = folder / "mirrored.png"
    cv2.imwrite(str(path), photo[:, :, ::-1])
    return photo, path


def test_parse_base_photos_names_paths_and_folders(flipped_photo, tmp_path):
    _, path = flipped_photo
    assert B.parse_base_photos("") == B.BASES
    assert B.parse_base_photos(" astronaut , grace_hopper ") == B.BASES
    assert B.parse_base_photos(f"grace_hopper,{path}") == ("grace_hopper", str(path.resolve()))
    assert B.parse_base_photos(str(path.parent)) == (str(path.resolve()),)  # a folder's images
    with pytest.raises(ConfigError, match="not a bundled photo"):
        B.parse_base_photos("no_such_photo.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no image"):
        B.parse_base_photos(str(tmp_path / "empty"))


def test_make_subjects_takes_bases_in_turn():
    assert synth.make_subjects(4, 3) == synth.make_subjects(4, 3, bases=B.BASES)
    three = synth.make_subjects(6, 0, bases=["grace_hopper", "astronaut", "grace_hopper"])
    assert [s.base for s in three[:3]] == ["grace_hopper", "astronaut", "grace_hopper"]
    assert [s.mirror for s in three] == [False, False, False, True, True, True]
    # The same seeds and shapes as with the default bases: only the photo changes.
    assert [s.shape for s in three] == [s.shape for s in synth.make_subjects(6, 0)]


def test_one_mesh_per_photo_content(flipped_photo, monkeypatch, tmp_path):
    import libreface_nb.faces.mesh as mesh_module

    photo, path = flipped_photo
    monkeypatch.setattr(B, "MESH_CACHE", tmp_path / "meshes")  # no mesh on disk yet
    calls = []
    real = mesh_module.detect_faces
    monkeypatch.setattr(mesh_module, "detect_faces", lambda img, **kw: calls.append(1) or real(img))
    B._MESHES.pop(B.photo_hash(photo), None)
    by_path = B.base_mesh(B.base_key(path))
    by_array = B.base_mesh(B.base_key(photo.copy()))
    assert len(calls) == 1  # meshed once for both spellings of the same picture
    assert by_path is by_array
    assert by_path.shape == (478, 2)
    # Mirrored photo, mirrored mesh: the nose tip (landmark 1) moves to the other side.
    width = photo.shape[1]
    assert by_path[1, 0] == pytest.approx(width - 1 - B.base_mesh("astronaut")[1, 0], abs=6)


def test_render_face_from_a_photo_path(flipped_photo):
    _, path = flipped_photo
    (subject,) = synth.make_subjects(1, 0, bases=[path])
    img = synth.render_face(subject, {12: 4.0}, size=96, frame_seed=1)
    assert img.shape == (96, 96, 3)
    assert img.dtype == np.uint8
    assert subject.base == str(path.resolve())


def test_fixture_records_its_base_photos_and_subject_bases(flipped_photo, tmp_path):
    _, path = flipped_photo
    sizes = {"n_subjects": 3, "n_frames": 2, "size": 64}
    plain = make_fixture("disfa", tmp_path / "a", render=_stub_render, **sizes)
    assert "bases" not in read_fixture_info(plain)["params"]  # default: parameters unchanged
    assert fixture_subject_bases(plain) == {
        "SN002": "astronaut",
        "SN013": "grace_hopper",
        "SN003": "astronaut",
    }
    mine = make_fixture(
        "disfa", tmp_path / "b", render=_stub_render, base_photos=f"astronaut,{path}", **sizes
    )
    key = str(path.resolve())
    recorded = read_fixture_info(mine)["params"]["bases"]
    assert [k for k, _ in recorded] == ["astronaut", key]
    assert recorded[1][1] == B.photo_hash(B.load_base_photo(key))
    assert fixture_subject_bases(mine) == {"SN002": "astronaut", "SN013": key, "SN003": "astronaut"}


def test_holdout_fold_tests_exactly_one_base():
    bases = {"A": "astronaut", "B": "grace_hopper", "C": "astronaut", "D": "x.png", "E": "x.png"}
    folds = F.holdout_fold(bases, list(bases), "x.png", seed=0)
    assert list(folds) == ["holdout"]
    assert folds["holdout"]["test"] == ["D", "E"]
    (val,) = folds["holdout"]["val"]
    assert bases[val] != "x.png"
    index = pd.DataFrame({"subject": list(bases)})
    roles = F.fold_split(index, folds["holdout"])
    train = set(index.subject[roles == "train"])
    assert train == {"A", "B", "C"} - {val}
    with pytest.raises(ConfigError, match="no subject of this index"):
        F.holdout_fold(bases, list(bases), "other.png")
    with pytest.raises(ConfigError, match="at least 2"):
        F.holdout_fold({"A": "a", "B": "b"}, ["A", "B"], "a")


def test_make_folds_with_holdout_base():
    index = pd.DataFrame({"subject": ["SN002", "SN013", "SN003", "SN010"] * 2})
    bases = {"SN002": "astronaut", "SN013": "grace_hopper", "SN003": "astronaut",
             "SN010": "grace_hopper"}  # fmt: skip
    folds, kind = prepare.make_folds(
        index, "disfa", 3, 0, holdout_base="grace_hopper", subject_bases=bases
    )
    assert kind == "holdout-base"
    assert folds["holdout"]["test"] == ["SN010", "SN013"]
    assert set(folds["holdout"]["val"]) <= {"SN002", "SN003"}
    with pytest.raises(ConfigError, match="provider data has no base photos"):
        prepare.make_folds(index, "disfa", 3, 0, holdout_base="grace_hopper", subject_bases={})
    unchanged, kind = prepare.make_folds(index, "disfa", 3, 0, subject_bases=bases)
    assert kind == "disfa-3fold-published"
    assert json.dumps(unchanged) == json.dumps(prepare.make_folds(index, "disfa", 3, 0)[0])


def test_base_photos_are_for_fixtures_only(tmp_path):
    with pytest.raises(ConfigError, match="SynthAU fixtures only"):
        prepare.load_dataset("disfa", tmp_path, base_photos="astronaut")
