"""Notebook 04's helpers: optional run files, headline numbers for metrics.json, figure picks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from libreface_nb.eval import pipeline
from libreface_nb.eval import predictions as P
from libreface_nb.eval import report as R


def test_find_optional_reports_what_is_missing(tmp_path):
    run = tmp_path / "runs" / "r1"
    (run / "02_mae_teacher_finetune" / "teacher").mkdir(parents=True)
    (run / "02_mae_teacher_finetune" / "teacher" / "model.pt").write_bytes(b"x")
    (run / "run.json").write_text(json.dumps({"profile": "fixture", "notebooks": []}))
    found, missing = pipeline.find_optional(run, pipeline.RUN_MODELS, runs_root=tmp_path / "runs")
    assert list(found) == ["teacher"]
    assert "run notebook 03_resnet18_distillation first" in missing["student"]


def _result(value, low=np.nan, high=np.nan, reason=""):
    return pd.DataFrame({"output": ["mean"], "metric": ["pcc"], "value": [value], "n": [12],
                         "reason": [""], "ci_low": [low], "ci_high": [high],
                         "ci_reason": [reason]})  # fmt: skip


def test_headline_writes_null_not_nan_for_json():
    out = pipeline.headline({"a": {"pcc": 0.5}, "b": {"pcc": float("nan")}}, "pcc")
    assert json.dumps(out) == '{"pcc_a": 0.5, "pcc_b": null}'


def test_headline_ci_reads_the_mean_row():
    out = pipeline.headline_ci({"a": _result(0.5, 0.4, 0.6)}, "pcc")
    assert out == {"pcc_a_ci_low": 0.4, "pcc_a_ci_high": 0.6}


def test_missing_interval_is_explained_in_the_table_notes():
    table = R.au_table({"a": _result(0.5, reason="1 subject(s), 50 replicates: needs 2 and 1")},
                       "pcc")  # fmt: skip
    assert table.notes == ["No interval for a: 1 subject(s), 50 replicates: needs 2 and 1."]


def test_published_points_for_the_bars():
    points = pipeline.published_points("disfa", "pcc")
    assert points["OpenFace 2.0"]["AU12"] == pytest.approx(0.85)


def test_time_series_picks():
    true = np.zeros((6, 12))
    true[:, 3] = [0, 5, 0, 5, 0, 5]
    true[:, 7] = [0, 1, 0, 1, 0, 1]
    meta = pd.DataFrame({"subject": "S", "source": ["a"] * 2 + ["b"] * 4, "frame": range(6)})
    table = P.build_table(meta, "intensity", true, true)
    assert pipeline.longest_source(table) == "b"
    from libreface_nb.models.tasks import get_task

    outputs = list(get_task("intensity").outputs)
    assert pipeline.most_active(table, outputs, k=2) == [outputs[3], outputs[7]]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder with notebook 01's outputs (3 subjects) and a teacher, but no student."""
    import torch
    from eval_helpers import make_store

    from libreface_nb.data import folds as F
    from libreface_nb.data.splits import NB01
    from libreface_nb.models.factory import ModelConfig, create_model, save_model

    root = tmp_path_factory.mktemp("runs")
    run = root / "r1"
    nb = run / NB01
    index, store = make_store(nb / "faces", frames=3)
    index.to_parquet(nb / "index.parquet")
    F.write_folds(nb / "folds.json", {"fold1": {"test": ["S3"], "val": ["S2"]}}, dataset="disfa",
                  kind="test", seed=0)  # fmt: skip
    (nb / "metrics.json").write_text(json.dumps({"dataset": "disfa", "face_store": str(store)}))
    (run / "run.json").write_text(json.dumps({"profile": "fixture", "notebooks": []}))
    torch.manual_seed(0)
    model = create_model(ModelConfig(arch="resnet18", tasks=("intensity",), img_size=32))
    save_model(run / pipeline.RUN_MODELS["teacher"], model)
    return run, root


def test_evaluate_run_models_evaluates_what_the_run_has(run, tmp_path):
    from libreface_nb.data.splits import load_run_data

    run_dir, root = run
    data = load_run_data(run_dir, runs_root=root)
    tables, skipped = pipeline.evaluate_run_models(run_dir, ["teacher", "student"], data,
                                                   "intensity", out_dir=tmp_path,
                                                   runs_root=root)  # fmt: skip
    assert tables["teacher"]["subject"].unique().tolist() == ["S3"]
    assert (tmp_path / "predictions" / "teacher.parquet").is_file()
    assert "run notebook 03_resnet18_distillation first" in skipped["student"]


def test_a_model_without_the_task_head_is_skipped_with_the_reason(run):
    from libreface_nb.data.splits import load_run_data

    run_dir, root = run
    data = load_run_data(run_dir, runs_root=root)
    tables, skipped = pipeline.evaluate_run_models(run_dir, ["teacher"], data, "detection",
                                                   runs_root=root)  # fmt: skip
    assert tables == {}
    assert "no 'detection' head" in skipped["teacher"]
