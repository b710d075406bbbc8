"""benchmarks/synth_ceiling.py re-renders a run's own frames (checked against the fixture video)."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from libreface_nb.data import prepare, synth

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "synth_ceiling.py"


@pytest.fixture(scope="module")
def ceiling():
    spec = importlib.util.spec_from_file_location("synth_ceiling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def disfa(tmp_path_factory):
    """A real SynthAU DISFA fixture: 2 subjects x 4 frames, seed 5."""
    cache = tmp_path_factory.mktemp("ceiling")
    return prepare.load_dataset("disfa", seed=5, n_subjects=2, n_frames=4, cache_dir=cache).index


def test_rerender_matches_the_fixture_video_and_another_seed_is_refused(ceiling, disfa):
    subjects = ceiling._subjects(2, 5)
    worst = ceiling.check_fixture(disfa, subjects, 5)
    assert worst < ceiling.MAX_FRAME_DIFF / 2  # MJPG error only
    with pytest.raises(SystemExit, match="another seed"):
        ceiling.check_fixture(disfa, ceiling._subjects(2, 6), 6)


def test_rerender_of_a_real_faces_fixture_matches_and_the_bundled_photos_do_not(ceiling, tmp_path):
    index = prepare.load_dataset("disfa", seed=5, n_subjects=3, n_frames=2, cache_dir=tmp_path,
                                 base_photos="real_faces").index  # fmt: skip
    subjects = ceiling._subjects(3, 5, "real_faces")
    assert [Path(s.base).stem for s in subjects.values()] == ["canada_003f", "canada_008f",
                                                              "canada_010f"]  # fmt: skip
    assert ceiling.check_fixture(index, subjects, 5) < ceiling.MAX_FRAME_DIFF / 2
    with pytest.raises(SystemExit, match="other base photos"):
        ceiling.check_fixture(index, ceiling._subjects(3, 5), 5)


class _Dataset:
    """What rerender needs of a FaceDataset: ``table``, ``rows`` and ``face``."""

    def __init__(self, table):
        self.table, self.rows = table, np.arange(len(table))[::-1]

    def face(self, i):
        raise AssertionError("the stored faces must not be read")


def test_clean_variants_are_the_canonical_frames_with_and_without_identity(ceiling, disfa):
    subjects = ceiling._subjects(2, 5)
    with_id, without_id, again = _Dataset(disfa), _Dataset(disfa), _Dataset(disfa)
    cache = {}
    ceiling.rerender({"train": with_id}, subjects, 5, identity=True, cache=cache)
    ceiling.rerender({"train": again}, subjects, 5, identity=True, cache=cache)
    assert len(cache) == len(disfa) and again.face(2) is with_id.face(2)  # rendered once
    ceiling.rerender({"train": without_id}, subjects, 5, identity=False)
    row = disfa.iloc[with_id.rows[1]]
    subject = subjects[row["subject"]]
    labels = ceiling._labels(row)
    clean = {"pose": False, "degrade": False, "occluders": False, "size": 256}
    np.testing.assert_array_equal(with_id.face(1), synth.render_face(subject, labels, **clean))
    flat = dataclasses.replace(subject, shape=(0.0,) * len(subject.shape))
    np.testing.assert_array_equal(without_id.face(1), synth.render_face(flat, labels, **clean))
    assert np.abs(with_id.face(1).astype(int) - without_id.face(1)).mean() > 0.5


def test_procrustes_removes_scale_rotation_and_shift(ceiling):
    rng = np.random.default_rng(0)
    shape = rng.normal(size=(30, 2))
    a = np.deg2rad(25.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = 2.5 * shape @ rot.T + np.array([7.0, -3.0])
    other = rng.normal(size=(30, 2))  # a different shape keeps its difference
    out = ceiling._procrustes(np.stack([shape, moved, other]))
    np.testing.assert_allclose(out[0], out[1], atol=1e-9)
    assert np.abs(out[0] - out[2]).max() > 0.05
