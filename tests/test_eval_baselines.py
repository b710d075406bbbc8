"""The HOG + linear SVR/SVM baseline learns a case its features can separate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from eval_helpers import au_dataset, face_for, make_store

from libreface_nb.eval import predictions as P
from libreface_nb.eval.baselines import HogConfig, hog_of_face, run_hog_baseline


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    index, store = make_store(tmp_path_factory.mktemp("store"), frames=24, seed=3)
    roles = {"train": "S1", "val": "S2", "test": "S3"}
    return {
        task: {
            r: au_dataset(index[index["subject"] == s], store, task=task) for r, s in roles.items()
        }
        for task in ("intensity", "detection")
    }


def test_hog_vector_length_at_112_px():
    # 14×14 cells of 8 px → 13×13 blocks of 2×2 cells × 9 orientations
    assert hog_of_face(face_for(0, 0)).shape == (13 * 13 * 4 * 9,)


def test_intensity_baseline_learns_the_bars(datasets):
    table, base = run_hog_baseline(
        datasets["intensity"], "intensity", HogConfig(c_grid=(1e-3, 1e-2))
    )
    result, _ = P.metrics_from_predictions(table, "intensity")
    pcc = result.set_index(["output", "metric"])["value"]
    assert pcc[("AU01", "pcc")] > 0.7  # the bar height encodes AU01
    assert pcc[("AU12", "pcc")] > 0.7  # the bar width encodes AU12


def test_intensity_predictions_are_clipped_and_c_is_chosen_on_val(datasets):
    table, base = run_hog_baseline(
        datasets["intensity"], "intensity", HogConfig(c_grid=(1e-3, 1e-2))
    )
    preds = table[[c for c in table if c.startswith("pred_")]].to_numpy()
    assert np.nanmin(preds) >= 0.0
    assert np.nanmax(preds) <= 5.0
    assert base.c == max(base.val_scores, key=base.val_scores.get)


def test_constant_au_is_predicted_as_its_constant(datasets):
    table, _ = run_hog_baseline(datasets["intensity"], "intensity", HogConfig(c_grid=(1e-2,)))
    assert set(table["pred_AU04"]) == {0.0}  # AU04 is 0 in every training frame


def test_detection_baseline_separates_presence(datasets):
    table, _ = run_hog_baseline(datasets["detection"], "detection", HogConfig(c_grid=(1e-2,)))
    result, _ = P.metrics_from_predictions(table, "detection")
    auc = result.set_index(["output", "metric"])["value"]
    assert auc[("AU01", "auc")] > 0.9  # AU01 ≥ 2 ↔ a tall bar


def test_max_train_fits_on_a_seeded_subset(datasets):
    cfg = HogConfig(c_grid=(1e-2,), max_train=10)
    a, _ = run_hog_baseline(datasets["intensity"], "intensity", cfg, seed=1)
    b, _ = run_hog_baseline(datasets["intensity"], "intensity", cfg, seed=1)
    full, _ = run_hog_baseline(datasets["intensity"], "intensity", HogConfig(c_grid=(1e-2,)))
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["pred_AU01"], full["pred_AU01"])  # fewer frames, another fit
