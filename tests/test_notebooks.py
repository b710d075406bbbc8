"""Every numbered notebook runs through the runner on the fixture profile.

This is ``make test``'s second step.

Runs go into a temporary runs root (``--runs-root``, which the runner also hands to the notebooks'
kernels as ``LIBREFACE_NB_RUNS_ROOT``), never into the user's outputs/runs. run.json must say
every notebook passed, and each notebook's headline numbers (metrics.json) must be exactly what
its "Expected results" cell says for the fixture profile (a column rendered from
``libreface_nb.results.FIXTURE_CHECKS``, whose every assert ``tests/test_results_pages.py`` finds
in the ``_check_NN`` functions below): one check per assert, so a failure names the number that
broke. Every file and folder that the table of libreface_nb/artifacts.py says a notebook (or the
runner) writes must be in the run folder, under the run's parameters: one test per artifact,
named by its constant.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from libreface_nb import artifacts
from libreface_nb.config import REPO_ROOT
from libreface_nb.profiles import declared_parameters, discover_notebooks
from libreface_nb.runs import RUNS_ROOT_ENV

pytestmark = pytest.mark.notebooks


def _check_01(m: dict, run: dict) -> None:
    # Fixture profile: SynthAU in the DISFA layout, 3 pseudo-subjects × 40 frames.
    assert m["dataset"] == "disfa"
    assert m["synthetic"] is True
    assert m["n_frames"] == 120
    assert m["n_subjects"] == 3
    assert m["n_folds"] == 3
    assert m["fold_kind"] == "disfa-3fold-published"
    assert m["face_detection_rate"] == 1.0  # every SynthAU frame has a face MediaPipe finds
    assert m["n_faces_ok"] == 120


def _check_02(m: dict, run: dict) -> None:
    # ViT-Tiny at 64 px on fold1 (train SN003, val SN013, test SN002: 40 frames each).
    assert m["task"] == "intensity"
    assert m["fold"] == "fold1"
    assert (m["n_train"], m["n_val"], m["n_test"]) == (40, 40, 40)
    assert m["mae_pretrained"] is True
    assert m["mae_val_loss_best"] < m["mae_val_loss_first"]  # the MAE learned something
    assert m["epochs_run"] == 3
    assert -1.0 <= m["test_pcc"] <= 1.0
    # teacher_choice = validation: the run's teacher is the better fine-tuning on validation.
    assert m["val_pcc"] == max(m["mae_init_val_pcc"], m["scratch_val_pcc"])
    chosen = {"mae": "mae_init", "scratch": "scratch"}[m["teacher_source"]]
    assert m["test_pcc"] == m[f"{chosen}_test_pcc"]


def _check_03(m: dict, run: dict) -> None:
    assert m["n_params_student"] == 11_243_980  # LibreFace's 12-output ResNet-18 student
    # The teacher's test PCC as notebook 03 measures it is notebook 02's number.
    assert m["test_pcc_teacher"] == pytest.approx(run[artifacts.NB02]["test_pcc"])
    for key in ("test_pcc", "test_pcc_none", "test_pcc_feature", "test_pcc_kl"):
        assert -1.0 <= m[key] <= 1.0, key


def _check_04(m: dict, run: dict) -> None:
    assert m["n_test_frames"] == 40
    # Recomputed from the predictions tables: the same numbers as the training notebooks'.
    assert m["pcc_teacher"] == pytest.approx(run[artifacts.NB02]["test_pcc"], abs=1e-4)
    assert m["pcc_student"] == pytest.approx(run[artifacts.NB03]["test_pcc"], abs=1e-4)
    assert m["pcc_hog_baseline"] > 0.3  # HOG + linear SVR reads SynthAU (0.72 measured)


def _check_05(m: dict, run: dict) -> None:
    assert m["parity_max_abs_diff"] <= 1e-4  # ONNX Runtime vs torch
    assert m["int8_mib"] < 0.4 * m["fp32_mib"]
    assert m["int8_pcc_min"] > 0.9  # int8 vs fp32 per output (0.97-0.98 measured, untrained)
    assert m["video_rows"] == 40  # one row per frame of the test subject's video
    assert m["video_frames_ok"] == 40
    assert m["readback_pairs"] == 6  # lip gap ~ AU25/26, mouth width ~ AU12/20, brows ~ AU1/2


def _check_06(m: dict, run: dict) -> None:
    assert m["image_faces"] == 2  # the two photos side by side
    assert m["video_frames"] == 40
    assert m["video_faces_ok"] == 40
    assert m["saliency_method"] == "gradcam"


#: Headline-number checks per notebook: notebook name → function(its metrics.json, every
#: notebook's metrics of the run) that asserts.
EXPECTATIONS: dict[str, Callable[[dict, dict], None]] = {
    artifacts.NB01: _check_01,
    artifacts.NB02: _check_02,
    artifacts.NB03: _check_03,
    artifacts.NB04: _check_04,
    artifacts.NB05: _check_05,
    artifacts.NB06: _check_06,
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


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The fixture profile, every notebook, run once for this module's tests."""
    if not discover_notebooks():
        pytest.skip("no numbered notebooks yet")
    return _run_fixture(tmp_path_factory.mktemp("fixture") / "runs", timeout=3300)


def test_fixture_profile_runs_every_notebook(fixture_run):
    out, run_dir = fixture_run
    record = json.loads((run_dir / artifacts.RUN_JSON).read_text())
    assert out.returncode == 0, f"run failed, see {run_dir}: {out.stdout[-3000:]}"
    assert record["status"] == "ok"
    names = [n["name"] for n in record["notebooks"]]
    assert names == [p.stem for p in discover_notebooks()]
    for nb in record["notebooks"]:
        assert nb["status"] == "ok", nb
    every = {n: json.loads((run_dir / artifacts.metrics_json(n)).read_text()) for n in names}
    for name in names:
        check = EXPECTATIONS.get(name)
        if check is not None:
            check(every[name], every)
    assert (run_dir / artifacts.RUN_INDEX).exists()


#: What the notebooks and the runner write (the benchmarks' rows are not made by a run).
RUN_ARTIFACTS = [a for a in artifacts.ARTIFACTS if a.by in (*artifacts.NOTEBOOKS, "runner")]


def _parameters(run_dir: Path, notebook: str) -> dict:
    """The parameters ``notebook`` ran with: its parameters cell's defaults, then run.json's."""
    declared = declared_parameters(REPO_ROOT / "notebooks" / f"{notebook}.ipynb")
    params = {k: ast.literal_eval(v["default"]) for k, v in declared.items()}
    record = json.loads((run_dir / artifacts.RUN_JSON).read_text())
    (entry,) = (nb for nb in record["notebooks"] if nb["name"] == notebook)
    return params | entry["parameters"]


@pytest.mark.parametrize("artifact", RUN_ARTIFACTS, ids=lambda a: a.constant)
def test_fixture_run_writes_what_the_artifacts_table_says(fixture_run, artifact):
    _, run_dir = fixture_run
    path = run_dir / artifact.path
    if artifact.when:
        params = _parameters(run_dir, artifact.by)
        if not artifacts.expected(artifact, params):
            pytest.skip(f"{artifact.constant} only when {artifact.when}; not in the fixture run")
    assert path.exists(), f"{artifact.constant}: {artifact.path} not written by {artifact.by}"


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
    metrics = json.loads((run_dir / artifacts.NB01_METRICS).read_text())
    want = LAYOUTS[dataset]
    assert metrics["dataset"] == dataset
    assert metrics["n_frames"] == want["n_frames"]
    assert metrics["n_folds"] == want["n_folds"]
    assert metrics["fold_kind"] == want["fold_kind"]
    assert metrics["face_detection_rate"] >= 0.9  # not yet measured per layout: a floor
