"""Profiling tables and their figures on a tiny model and a tiny video."""

from __future__ import annotations

import pytest
from export_helpers import tiny_model
from faces_helpers import astronaut, blank, fit, write_video


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from libreface_nb.export.onnx import export_onnx
    from libreface_nb.infer.profile import standard_engines

    d = tmp_path_factory.mktemp("profile")
    model = tiny_model(("intensity",), img_size=32)
    fp32 = export_onnx(model, d / "s_fp32.onnx")
    video = write_video(d / "v.avi", [blank()] * 2 + [fit(astronaut(), 320, 240)] * 4)
    return standard_engines(fp32, None, model, threads=(1,)), video


def test_model_latency_table(engines):
    from libreface_nb.infer.profile import model_latency
    from libreface_nb.plots.profile import model_latency as plot

    table = model_latency(engines[0], (1, 2), warmup=1, repeats=2)
    assert table[["engine", "batch"]].values.tolist() == [
        ["ort", 1], ["ort", 2], ["torch", 1], ["torch", 2]]  # fmt: skip
    assert (table["ms_per_face"] * table["batch"]).tolist() == pytest.approx(
        table["ms_per_batch"].tolist()
    )
    assert len(plot(table).axes[0].lines) == 2


def test_pipeline_stages_table(engines):
    from libreface_nb.infer.profile import pipeline_stages
    from libreface_nb.plots.profile import stage_times

    table = pipeline_stages(engines[1], engines[0][:1], batch_size=2, warmup_frames=2)
    row = table.iloc[0]
    assert (row["frames"], row["faces"], row["rows"]) == (6, 4, 6)
    assert row["model_ms"] > 0 and row["landmarks_ms"] > 0
    assert row["frames_per_s"] == pytest.approx(6 / row["wall_s"])
    assert len(stage_times(table).axes[0].patches) == 6  # one bar segment per stage


def test_save_profile_and_predictions_over_time(tmp_path):
    import numpy as np
    import pandas as pd

    from libreface_nb.infer.profile import save_profile
    from libreface_nb.plots.profile import predictions_over_time

    lat = pd.DataFrame({"engine": ["ort"], "batch": [1], "ms_per_face": [5.0]})
    st = pd.DataFrame({"engine": ["ort"], "frames_per_s": [60.0]})
    back = pd.read_csv(save_profile(lat, st, tmp_path / "profile.csv"))
    assert back["table"].tolist() == ["model", "pipeline"]
    assert back["frames_per_s"].isna().tolist() == [True, False]
    joined = pd.DataFrame({"frame": [0, 1, 2], "true_AU12": [0.0, 1.0, 2.0],
                           "pred_AU12": [np.nan, 0.5, 1.5]})  # fmt: skip
    fig = predictions_over_time(joined, ["AU12"])
    assert [ln.get_label() for ln in fig.axes[0].lines] == ["true", "predicted"]
