"""Persons: real base photos, screening, person-exclusive folds, and the real-face checks' math."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from libreface_nb.data import folds as F
from libreface_nb.data import persons, prepare, synth
from libreface_nb.data.fixtures import make_fixture, read_fixture_info
from libreface_nb.data.fixtures.au import disfa_subject_ids
from libreface_nb.data.synth import base as B
from libreface_nb.errors import ConfigError, DatasetLayoutError
from libreface_nb.eval import real_faces as R

LONDON = ("london_001", "london_002", "london_003")


def _real(person: str, kind: str = "neutral") -> str:
    return str(B.REAL_FACES / kind / f"{person}.jpg")


def test_real_faces_alias_gives_one_photo_per_person():
    keys = B.parse_base_photos("real_faces")
    assert len(keys) == 100
    assert len({B.person_of(k) for k in keys}) == 100
    assert B.person_of(_real("london_001")) == "london_001"
    assert B.person_of("astronaut") == "astronaut"


def test_photo_set_pairs_smiles_with_their_neutral_photo():
    photos = persons.photo_set(B.REAL_FACES)
    assert photos["person"].nunique() == 100
    assert int((photos["expression"] == "smiling").sum()) == 60
    smiling = set(photos.loc[photos["expression"] == "smiling", "person"])
    neutral = set(photos.loc[photos["expression"] == "neutral", "person"])
    assert smiling <= neutral
    assert all(p.startswith("london_") for p in smiling)


def test_photo_set_names_the_missing_folder(tmp_path):
    with pytest.raises(DatasetLayoutError, match="neutral/<person>.jpg"):
        persons.photo_set(tmp_path)


def test_screening_skips_unusable_photos_with_a_reason(tmp_path):
    import cv2

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    face = _real("london_001")
    two = tmp_path / "two.png"
    one = cv2.imread(face)
    cv2.imwrite(str(two), np.concatenate([one, one], axis=1))
    keys = tuple(B.base_key(p) for p in (face, blank, broken, two))
    kept, skipped = B.screen_bases(keys)
    assert kept == (keys[0],)
    reasons = dict(skipped)
    assert "NoFaceError" in reasons[keys[1]]
    assert "UnreadableInputError" in reasons[keys[2]]
    assert "two or more faces" in reasons[keys[3]]


@pytest.mark.parametrize(("pitch", "yaw", "kept"), [(0.0, 24.0, True), (0.0, 26.0, False),
                                                    (-30.0, 0.0, False)])  # fmt: skip
def test_screening_keeps_frontal_heads_only(monkeypatch, pitch, yaw, kept):
    monkeypatch.setattr("libreface_nb.faces.pose.head_pose", lambda lm: (pitch, yaw, 0.0))
    key = B.base_key(_real("london_001"))
    got, skipped = B.screen_bases((key,))
    assert (got == (key,)) is kept
    if not kept:
        assert "head turned" in skipped[0][1]


def test_meshes_are_cached_on_disk_by_content(tmp_path, monkeypatch):
    monkeypatch.setattr(B, "MESH_CACHE", tmp_path / "meshes")
    key = B.base_key(_real("london_002"))
    B._MESHES.clear()
    mesh = B.base_mesh(key).copy()
    files = list((tmp_path / "meshes").rglob("*.npy"))
    assert len(files) == 1
    assert files[0].stem == B.photo_hash(B.load_base_photo(key))
    B._MESHES.clear()

    def no_detection(*args, **kwargs):
        raise AssertionError("MediaPipe ran although the mesh was on disk")

    monkeypatch.setattr("libreface_nb.faces.mesh.detect_faces", no_detection)
    np.testing.assert_array_equal(B.base_mesh(key), mesh)


def test_subjects_of_many_persons_show_one_person_each():
    bases = [_real(p) for p in LONDON]
    subjects = synth.make_subjects(9, 0, bases=bases)
    assert all(s.mix_base == "" for s in subjects)
    # Two bases (the bundled pair) still mix skins, as every earlier fixture did.
    assert any(s.mix_base for s in synth.make_subjects(8, 0))


def test_disfa_ids_go_past_the_27_published_subjects():
    ids = disfa_subject_ids(30)
    assert len(set(ids)) == 30
    assert ids[27:] == ["SN101", "SN102", "SN103"]
    with pytest.raises(DatasetLayoutError):
        disfa_subject_ids(1000)


def _subject_persons(n_persons: int, per_person: int) -> dict[str, str]:
    return {f"S{p:02d}{k}": f"P{p:02d}" for p in range(n_persons) for k in "ab"[:per_person]}


def test_person_folds_keep_each_person_on_one_side():
    mapping = _subject_persons(12, 2)
    folds = F.person_folds(mapping, 3, seed=1)
    assert len(folds) == 3
    tested = sorted(p for f in folds.values() for p in f["test_persons"])
    assert tested == sorted(set(mapping.values()))  # every person tested exactly once
    for fold in folds.values():
        sides = {}
        for role in ("test", "val"):
            for s in fold[role]:
                sides.setdefault(mapping[s], set()).add(role)
        assert all(len(v) == 1 for v in sides.values())
        assert sorted(fold["test"]) == sorted(s for s, p in mapping.items()
                                               if p in fold["test_persons"])  # fmt: skip
        assert fold["val_persons"]


def test_check_person_exclusive_names_the_person_on_two_sides():
    mapping = {"S1": "P1", "S2": "P1", "S3": "P2", "S4": "P3"}
    leaky = {"fold1": {"test": ["S1"], "val": ["S3"]}}  # S2 (also P1) trains
    with pytest.raises(ConfigError, match="person P1 has subjects in test and in train"):
        F.check_person_exclusive(leaky, mapping)


def test_fold_file_records_persons_and_refuses_a_leak(tmp_path):
    mapping = _subject_persons(6, 2)
    folds = F.person_folds(mapping, 2)
    path = F.write_folds(tmp_path / "f.json", folds, dataset="disfa", kind="person-2fold", seed=0,
                         subject_persons=mapping)  # fmt: skip
    payload = F.read_folds(path)
    assert payload["subject_persons"] == dict(sorted(mapping.items()))
    moved = json.loads(path.read_text())
    first = next(iter(moved["folds"].values()))
    first["test"].append(next(s for s in mapping if s not in first["test"] + first["val"]))
    path.write_text(json.dumps(moved))
    with pytest.raises(DatasetLayoutError, match="person"):
        F.read_folds(path)


def _stub_render(subject, intensities, *, size=256, frame_seed=0, pose=True):
    rng = np.random.default_rng(frame_seed)
    return rng.integers(0, 255, (size, size, 3), dtype=np.uint8)


def test_fixture_from_a_folder_records_skips_and_gives_person_folds(tmp_path):
    import shutil

    import cv2

    folder = tmp_path / "photos"
    folder.mkdir()
    for p in ("london_001", "london_002", "london_003", "london_004", "canada_003f"):
        shutil.copy(_real(p), folder / f"{p}.jpg")
    cv2.imwrite(str(folder / "wall.png"), np.full((120, 120, 3), 90, np.uint8))
    root = make_fixture("disfa", tmp_path / "cache", base_photos=str(folder), render=_stub_render,
                        n_subjects=5, n_frames=2, size=64)  # fmt: skip
    info = read_fixture_info(root)
    skipped = info["params"]["skipped_bases"]
    assert [B.person_of(k) for k, _ in skipped] == ["wall"]
    bases = info["subject_bases"]
    assert sorted(B.person_of(b) for b in bases.values()) == sorted(
        ["london_001", "london_002", "london_003", "london_004", "canada_003f"]
    )
    index = pd.DataFrame({"subject": sorted(bases)})
    folds, kind = prepare.make_folds(index, "disfa", 3, 0, subject_bases=bases)
    assert kind == "person-3fold"
    assert all("test_persons" in f for f in folds.values())


def test_two_bundled_photos_keep_subject_folds():
    index = pd.DataFrame({"subject": ["SN002", "SN013", "SN003"]})
    bases = {"SN002": "astronaut", "SN013": "grace_hopper", "SN003": "astronaut"}
    _, kind = prepare.make_folds(index, "disfa", 3, 0, subject_bases=bases)
    assert kind == "disfa-3fold-published"


def test_with_persons_falls_back_to_the_subject():
    index = pd.DataFrame({"subject": ["SN001", "SN002"]})
    out = prepare.with_persons(index, {"SN001": "london_007"})
    assert list(out["person"]) == ["london_007", "SN002"]


# --- the real-face checks' arithmetic, against values worked out by hand -------------------------


def _predictions() -> pd.DataFrame:
    rows = []
    values = {  # person: (neutral AU12, smiling AU12)
        "a": (0.5, 2.0), "b": (1.0, 0.5), "c": (0.0, 1.0), "d": (0.2, 0.2),
    }  # fmt: skip
    for person, (n, s) in values.items():
        for kind, v in (("neutral", n), ("smiling", s)):
            rows.append({"person": person, "expression": kind, "path": f"{person}_{kind}.jpg",
                         "status": "ok", "reason": "",
                         "AU06": v / 2, "AU12": v, "AU25": 0.0})  # fmt: skip
    rows.append({"person": "e", "expression": "neutral", "path": "e.jpg", "status": "no_face",
                 "reason": "no face", "AU06": np.nan, "AU12": np.nan, "AU25": np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def test_smile_differences_and_summary_match_hand_values():
    diffs = R.smile_differences(_predictions())
    assert list(diffs["person"]) == ["a", "b", "c", "d"]  # e has no face, no smiling photo
    np.testing.assert_allclose(diffs["AU12_diff"], [1.5, -0.5, 1.0, 0.0])
    summary = R.smile_summary(diffs, n_boot=200, seed=0).set_index(["output", "metric"])
    assert summary.loc[("AU12", "smile_higher"), "value"] == pytest.approx(0.5)  # a and c
    assert summary.loc[("AU12", "smile_diff"), "value"] == pytest.approx(0.5)
    assert summary.loc[("AU25", "smile_higher"), "value"] == 0.0  # equal is not higher
    low, high = summary.loc[("AU12", "smile_diff"), ["ci_low", "ci_high"]]
    assert -0.5 <= low <= 0.5 <= high <= 1.5


def test_neutral_summary_averages_neutral_faces_only():
    summary = R.neutral_summary(_predictions(), n_boot=0).set_index("output")
    assert summary.loc["AU12", "value"] == pytest.approx((0.5 + 1.0 + 0.0 + 0.2) / 4)
    assert summary.loc["max", "value"] == pytest.approx(summary.loc["AU12", "value"])
    assert summary.loc["AU12", "n"] == 4


def test_held_out_drops_the_persons_a_model_saw():
    photos = persons.photo_set(B.REAL_FACES)
    index = pd.DataFrame({"subject": ["S1", "S2", "S3"], "person": list(LONDON)})
    roles = pd.Series(["train", "val", "test"])
    seen = R.seen_persons(index, roles)
    assert seen == {"london_001", "london_002"}
    kept = R.held_out(photos, seen)
    assert not set(kept["person"]) & seen
    assert "london_003" in set(kept["person"])
