"""Every numbered notebook runs through the runner on the fixture profile.

This is ``make test``'s second step.

Runs go into a temporary runs root (``--runs-root``, which the runner also hands to the notebooks'
kernels as ``LIBREFACE_NB_RUNS_ROOT``), never into the user's outputs/runs. run.json must say
every notebook passed, and each notebook's headline numbers (metrics.json) must be exactly what
its header promises: one check per assert, so a failure names the number that broke.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from libreface_nb.config import REPO_ROOT
from libreface_nb.profiles import discover_notebooks
from libreface_nb.runs import RUNS_ROOT_ENV

pytestmark = pytest.mark.notebooks


def _check_01(m: dict) -> None:
    # Fixture profile: SynthAU in the DISFA layout, 3 pseudo-subjects × 40 frames.
    assert m["dataset"] == "disfa"
    assert m["synthetic"] is True
    assert m["n_frames"] == 120
    assert m["n_subjects"] == 3
    assert m["n_folds"] == 3
    assert m["fold_kind"] == "disfa-3fold-published"
    assert m["face_detection_rate"] == 1.0  # every SynthAU frame has a face MediaPipe finds
    assert m["n_faces_ok"] == 120


#: Headline-number checks per notebook (metrics.json): notebook name → function that asserts.
EXPECTATIONS: dict[str, Callable[[dict], None]] = {
    "01_data_prep_and_augmentation": _check_01,
}


def _run_fixture(
    runs_root: Path, *args: str, timeout: int
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the fixture profile into ``runs_root``; returns the output and the run folder."""
    cmd = [sys.executable, "-m", "libreface_nb.run", "--profile", "fixture",
           "--runs-root", str(runs_root), *args]  # fmt: skip
    env = {**os.environ, RUNS_ROOT_ENV: str(runs_root)}
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=env
    )
    print(out.stdout[-5000:], out.stderr[-5000:])
    (run_dir,) = list(runs_root.iterdir())
    return out, run_dir


@pytest.mark.skipif(not discover_notebooks(), reason="no numbered notebooks yet")
def test_fixture_profile_runs_every_notebook(tmp_path):
    out, run_dir = _run_fixture(tmp_path / "runs", timeout=3300)
    record = json.loads((run_dir / "run.json").read_text())
    assert out.returncode == 0, f"run failed, see {run_dir}: {out.stdout[-3000:]}"
    assert record["status"] == "ok"
    names = [n["name"] for n in record["notebooks"]]
    assert names == [p.stem for p in discover_notebooks()]
    for nb in record["notebooks"]:
        assert nb["status"] == "ok", nb
        metrics = json.loads((run_dir / nb["name"] / "metrics.json").read_text())
        check = EXPECTATIONS.get(nb["name"])
        if check is not None:
            check(metrics)
    assert (run_dir / "index.md").exists()


#: Notebook 01 on each other layout (fixture sizes 3 × 40): frames, folds and fold kind, from
#: the fixture writers' plans (BP4D: 3 subjects × 2 tasks × 20 frames; RAF-DB: 32 + 8 images;
#: AffectNet: 32 + 8 images, of which the reader leaves out the 4 with codes 8–10).
LAYOUTS = {
    "bp4d": {"n_frames": 120, "n_folds": 3, "fold_kind": "subject-3fold"},
    "rafdb": {"n_frames": 40, "n_folds": 1, "fold_kind": "official"},
    "affectnet": {"n_frames": 36, "n_folds": 1, "fold_kind": "official"},
}


@pytest.mark.parametrize("dataset", list(LAYOUTS))
def test_notebook_01_reads_every_native_layout(dataset, tmp_path):
    """Notebook 01 on the SynthAU fixture in each other layout (the fixture profile uses DISFA)."""
    args = ("--only", "01", "--set", f"dataset={dataset}")
    out, run_dir = _run_fixture(tmp_path / "runs", *args, timeout=1200)
    assert out.returncode == 0, f"run failed, see {run_dir}: {out.stdout[-3000:]}"
    name = "01_data_prep_and_augmentation"
    metrics = json.loads((run_dir / name / "metrics.json").read_text())
    want = LAYOUTS[dataset]
    assert metrics["dataset"] == dataset
    assert metrics["n_frames"] == want["n_frames"]
    assert metrics["n_folds"] == want["n_folds"]
    assert metrics["fold_kind"] == want["fold_kind"]
    assert metrics["face_detection_rate"] >= 0.9  # not yet measured per layout: a floor
