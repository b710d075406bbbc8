"""Every numbered notebook runs through the runner on the fixture profile.

This is ``make test``'s second step.

The run folder is kept under outputs/runs/ for inspection; run.json must say every notebook passed,
and each notebook's headline numbers are checked loosely against what its header promises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from libreface_nb.config import REPO_ROOT
from libreface_nb.profiles import discover_notebooks

pytestmark = pytest.mark.notebooks

#: Loose checks of headline numbers (metrics.json) per notebook: name → predicate on the metrics.
EXPECTATIONS = {
    "01_data_prep_and_augmentation": lambda m: (
        m["face_detection_rate"] >= 0.9 and m["n_frames"] > 0 and m["n_folds"] >= 2
    ),
}


def _run_fixture(*args: str, timeout: int) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the runner on the fixture profile; returns its output and the new run folder."""
    runs_root = REPO_ROOT / "outputs" / "runs"
    before = set(runs_root.iterdir()) if runs_root.exists() else set()
    cmd = [sys.executable, "-m", "libreface_nb.run", "--profile", "fixture", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    print(out.stdout[-5000:], out.stderr[-5000:])
    (run_dir,) = set(runs_root.iterdir()) - before
    return out, run_dir


@pytest.mark.skipif(not discover_notebooks(), reason="no numbered notebooks yet")
def test_fixture_profile_runs_every_notebook(tmp_path):
    out, run_dir = _run_fixture(timeout=3300)
    record = json.loads((run_dir / "run.json").read_text())
    assert out.returncode == 0, f"run failed, see {run_dir}: {out.stdout[-3000:]}"
    assert record["status"] == "ok"
    names = [n["name"] for n in record["notebooks"]]
    assert names == [p.stem for p in discover_notebooks()]
    for nb in record["notebooks"]:
        assert nb["status"] == "ok", nb
        metrics = json.loads((run_dir / nb["name"] / "metrics.json").read_text())
        check = EXPECTATIONS.get(nb["name"])
        assert check is None or check(metrics), f"{nb['name']}: unexpected metrics {metrics}"
    assert (run_dir / "index.md").exists()


@pytest.mark.parametrize("dataset", ["bp4d", "rafdb", "affectnet"])
def test_notebook_01_reads_every_native_layout(dataset):
    """Notebook 01 on the SynthAU fixture in each other layout (the fixture profile uses DISFA)."""
    out, run_dir = _run_fixture("--only", "01", "--set", f"dataset={dataset}", timeout=1200)
    assert out.returncode == 0, f"run failed, see {run_dir}: {out.stdout[-3000:]}"
    name = "01_data_prep_and_augmentation"
    metrics = json.loads((run_dir / name / "metrics.json").read_text())
    assert metrics["dataset"] == dataset and metrics["n_frames"] > 0
    assert metrics["face_detection_rate"] >= 0.9
    expected_kind = "official" if dataset in ("rafdb", "affectnet") else "subject-3fold"
    assert metrics["fold_kind"].startswith(expected_kind.split("-")[0])
