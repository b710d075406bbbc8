"""Notebook-04 figures: each returns a Figure with the expected content and saves PDF + PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from libreface_nb.eval import metrics as M
from libreface_nb.eval import predictions as P
from libreface_nb.plots import eval as E
from libreface_nb.plots import save_figure
from libreface_nb.plots.style import OKABE_ITO

AUS = ["AU01", "AU12"]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 40
    true = rng.uniform(0, 5, (n, 12))
    pred = np.clip(true + rng.normal(0, 1, true.shape), 0, 5)
    meta = pd.DataFrame({"subject": np.repeat(["S1", "S2"], n // 2),
                         "source": np.repeat(["a.avi", "b.avi"], n // 2),
                         "frame": np.tile(np.arange(n // 2), 2)})  # fmt: skip
    return P.build_table(meta, "intensity", true, pred)


def _saved(fig, tmp_path, name):
    paths = save_figure(fig, tmp_path, name)
    return [p.suffix for p in paths if p.stat().st_size > 1000]


def test_au_bars_one_bar_per_model_and_output_with_published_markers(table, tmp_path):
    result, _ = P.metrics_from_predictions(table, "intensity", n_boot=5)
    fig = E.au_bars({"a": result, "b": result}, "pcc", outputs=AUS,
                    published={"LibreFace": {"AU01": 0.63}})  # fmt: skip
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == 4  # 2 models × 2 AUs
    assert fig.axes[0].patches[0].get_facecolor()[:3] == pytest.approx(
        tuple(int(OKABE_ITO[0][k : k + 2], 16) / 255 for k in (1, 3, 5)))  # fmt: skip
    assert _saved(fig, tmp_path, "bars") == [".pdf", ".png"]


def test_au_bars_leave_nan_out(tmp_path):
    nan = pd.DataFrame([("AU01", "pcc", np.nan, 3, "constant")], columns=list(M.COLUMNS))
    fig = E.au_bars({"m": nan}, "pcc")
    assert np.isnan(fig.axes[0].patches[0].get_height())


def test_pred_vs_true_one_panel_per_au(table, tmp_path):
    fig = E.pred_vs_true(table, AUS, ncols=2)
    assert [ax.get_title() for ax in fig.axes] == AUS
    assert _saved(fig, tmp_path, "scatter") == [".pdf", ".png"]


def test_confusion_shows_counts(tmp_path):
    cm = np.array([[3, 1], [0, 2]])
    fig = E.confusion(cm, ["Neutral", "Happiness"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0", "1", "2", "3"]
    assert _saved(fig, tmp_path, "cm") == [".pdf", ".png"]


def test_subject_spread_one_dot_per_subject(table, tmp_path):
    per = P.per_subject_metrics(table, "intensity")
    fig = E.subject_spread({"teacher": per})
    assert len(fig.axes[0].collections[0].get_offsets()) == 2
    assert _saved(fig, tmp_path, "spread") == [".pdf", ".png"]


def test_au_time_series_follows_the_frames_of_one_video(table, tmp_path):
    fig = E.au_time_series(table, "b.avi", AUS)
    x = fig.axes[0].lines[0].get_xdata()
    assert list(x) == list(range(20))
    assert _saved(fig, tmp_path, "series") == [".pdf", ".png"]
