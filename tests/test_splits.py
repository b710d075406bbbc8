"""Task labels and the notebook-01 reader behind every training notebook."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from libreface_nb.config import BP4D_AUS, DISFA_AUS, au_names
from libreface_nb.data import folds as F
from libreface_nb.data.splits import NB01, load_run_data, task_labels
from libreface_nb.errors import ConfigError, RunError


def _disfa_index() -> pd.DataFrame:
    rows = {"subject": ["SN001", "SN002"], "source": ["a.avi", "b.avi"], "frame": [0, 1]}
    rows.update({c: [0.0, 3.0] for c in au_names(DISFA_AUS)})
    rows["AU02"] = [np.nan, 1.0]
    return pd.DataFrame(rows)


def test_intensity_labels_keep_the_disfa_values():
    out = task_labels(_disfa_index(), "intensity")
    assert out["AU01"].tolist() == [0.0, 3.0]
    assert np.isnan(out.loc[0, "AU02"])


def test_detection_binarises_intensities_at_two_and_masks_unlabelled_aus():
    out = task_labels(_disfa_index(), "detection")
    assert out["AU01"].tolist() == [0.0, 1.0]
    assert out.loc[1, "AU02"] == 0.0  # intensity 1 < 2: absent
    assert np.isnan(out.loc[0, "AU02"])  # unknown stays unknown
    assert out["AU07"].isna().all()  # AU7 is not a DISFA AU
    assert set(au_names(BP4D_AUS)) <= set(out.columns)


def test_expression_task_on_an_au_index_names_the_fix():
    with pytest.raises(ConfigError, match="expression"):
        task_labels(_disfa_index(), "expression")


def _write_nb01(run, index):
    nb = run / NB01
    nb.mkdir(parents=True)
    index.to_parquet(nb / "index.parquet")
    folds = {"fold1": {"test": ["SN002"], "val": []}, "fold2": {"test": ["SN001"], "val": []}}
    F.write_folds(nb / "folds.json", folds, dataset="disfa", kind="test", seed=0)
    metrics = {"dataset": "disfa", "face_store": str(nb / "faces")}
    (nb / "metrics.json").write_text(json.dumps(metrics))
    (run / "run.json").write_text(json.dumps({"profile": "fixture", "notebooks": []}))


def test_load_run_data_reads_one_fold(tmp_path):
    run = tmp_path / "runs" / "r1"
    _write_nb01(run, _disfa_index())
    data = load_run_data(run, "fold2", runs_root=tmp_path / "runs")
    assert data.fold == "fold2"
    assert data.subjects("test") == ["SN001"]
    assert data.subjects("train") == ["SN002"]
    assert data.dataset == "disfa"


def test_load_run_data_lists_the_folds_when_one_is_unknown(tmp_path):
    run = tmp_path / "runs" / "r1"
    _write_nb01(run, _disfa_index())
    with pytest.raises(ConfigError, match="fold1"):
        load_run_data(run, "fold9", runs_root=tmp_path / "runs")


def test_load_run_data_without_notebook_01_says_what_to_run(tmp_path):
    with pytest.raises(RunError, match="--only 01"):
        load_run_data(tmp_path / "runs" / "r0", runs_root=tmp_path / "runs")
