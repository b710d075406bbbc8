"""Metrics against independent references: scipy, scikit-learn, Shrout & Fleiss (1979)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.metrics import confusion_matrix as sk_confusion

from libreface_nb.eval import metrics as M
from libreface_nb.eval import uncertainty as U

# Shrout & Fleiss (1979), "Intraclass correlations: uses in assessing rater reliability",
# Psychological Bulletin 86(2), Table 2: 6 targets (rows) rated by 4 judges (columns).
# Their Table 4 gives ICC(2,1) = .29 and ICC(3,1) = .71 for these ratings.
SF_RATINGS = np.array(
    [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ],
    dtype=float,
)


def test_icc3_1_matches_shrout_fleiss_table():
    assert round(M.icc(SF_RATINGS, "3,1").value, 2) == 0.71


def test_icc2_1_matches_shrout_fleiss_table():
    assert round(M.icc(SF_RATINGS, "2,1").value, 2) == 0.29


def test_consistency_ignores_a_judge_offset_agreement_does_not():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 5, 200)
    p = t + 1.0  # a prediction that is exactly right up to a constant offset
    ratings = np.stack([t, p], axis=1)
    assert M.icc(ratings, "3,1").value == pytest.approx(1.0)
    # Agreement by hand: BMS = 2·s², EMS = 0, JMS = n·d²/2 → s² / (s² + d²/2) with d = 1.
    s2 = t.var(ddof=1)
    assert M.icc(ratings, "2,1").value == pytest.approx(s2 / (s2 + 0.5))  # ≈ 0.82, not 1


def test_pcc_matches_scipy():
    rng = np.random.default_rng(1)
    t, p = rng.normal(size=50), rng.normal(size=50)
    p += t
    assert M.pcc(t, p).value == pytest.approx(pearsonr(t, p).statistic, abs=1e-12)


def test_pcc_masks_unknown_labels():
    t = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    p = np.array([0.5, 1.0, 9.0, 2.0, 4.5])
    keep = ~np.isnan(t)
    assert M.pcc(t, p).value == pytest.approx(pearsonr(t[keep], p[keep]).statistic)


def test_pcc_of_a_constant_au_is_nan_with_a_reason():
    score = M.pcc(np.zeros(10), np.arange(10.0))
    assert np.isnan(score.value)
    assert score.reason == "true labels are constant (r undefined)"


def test_pcc_per_subject_is_the_mean_of_within_subject_r():
    t = np.array([0, 1, 2, 3, 0, 1, 2, 3, 1, 1], float)
    p = np.array([0, 1, 3, 2, 3, 2, 1, 0, 0, 2], float)
    s = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 2)  # c's labels are constant: skipped
    expected = (pearsonr(t[:4], p[:4]).statistic + pearsonr(t[4:8], p[4:8]).statistic) / 2
    score = M.pcc_per_subject(t, p, s)
    assert score.value == pytest.approx(expected)
    assert score.reason == "skipped ['c']"


def test_mae_mse_by_hand():
    t, p = np.array([0.0, 2.0, np.nan, 5.0]), np.array([1.0, 2.0, 0.0, 3.0])
    assert M.mae(t, p).value == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    assert M.mse(t, p).value == pytest.approx(5 / 3)  # (1 + 0 + 4) / 3


def test_f1_binary_matches_sklearn_with_masking():
    rng = np.random.default_rng(2)
    t = (rng.uniform(size=80) > 0.6).astype(float)
    prob = np.clip(0.5 * t + rng.uniform(size=80) * 0.7, 0, 1)
    t[::9] = np.nan
    keep = ~np.isnan(t)
    expected = f1_score(t[keep], prob[keep] >= 0.5)
    assert M.f1_binary(t, prob).value == pytest.approx(expected)


def test_f1_without_any_positive_is_nan_not_zero():
    score = M.f1_binary(np.zeros(5), np.zeros(5))
    assert np.isnan(score.value)
    assert "0/0" in score.reason


def test_roc_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    t = (rng.uniform(size=60) > 0.5).astype(float)
    score = np.round(0.4 * t + rng.uniform(size=60), 1)  # rounding makes ties
    assert M.roc_auc(t, score).value == pytest.approx(roc_auc_score(t, score), abs=1e-12)


def test_roc_auc_with_one_class_is_nan_with_a_reason():
    score = M.roc_auc(np.ones(4), np.array([0.1, 0.2, 0.3, 0.4]))
    assert score.reason == "one class only (4 positive, 0 negative): AUC undefined"


def test_expression_metrics_match_sklearn():
    rng = np.random.default_rng(4)
    t = rng.integers(0, 8, 100)
    p = np.where(rng.uniform(size=100) < 0.6, t, rng.integers(0, 8, 100))
    t[:7] = -1  # unknown
    table = M.expression_metrics(t, p, [f"c{i}" for i in range(8)])
    s = M.summary(table)
    keep = t >= 0
    assert s["accuracy"] == pytest.approx(accuracy_score(t[keep], p[keep]))
    assert s["f1_macro"] == pytest.approx(f1_score(t[keep], p[keep], average="macro"))


def test_confusion_matrix_matches_sklearn():
    t = np.array([0, 1, 2, 2, -1, 7, 7])
    p = np.array([0, 2, 2, 1, 3, 7, 0])
    expected = sk_confusion(t[t >= 0], p[t >= 0], labels=range(8))
    np.testing.assert_array_equal(M.confusion_matrix(t, p, 8), expected)


def test_all_expressions_unknown_give_nan_with_reason():
    table = M.expression_metrics(np.full(5, -1), np.zeros(5, int), ["a", "b"])
    assert table["value"].isna().all()
    assert set(table["reason"]) == {"every label is unknown (-1)"}


def test_detection_micro_f1_pools_counts_and_matches_sklearn():
    t = np.array([[1, 0], [1, 1], [0, 0], [0, 1], [1, np.nan]], float)
    prob = np.array([[0.9, 0.6], [0.2, 0.7], [0.1, 0.1], [0.8, 0.4], [0.7, 0.9]])
    table = M.detection_metrics(t, prob, ["AU01", "AU02"])
    keep = ~np.isnan(t)
    expected = f1_score(t[keep], prob[keep] >= 0.5)  # pooled over AUs = micro
    assert M.summary(table)["f1_micro"] == pytest.approx(expected)


def test_mean_over_aus_skips_undefined_and_says_so():
    t = np.stack([np.arange(6.0), np.full(6, 2.0)], axis=1)  # AU02 constant
    p = np.stack([np.arange(6.0) ** 2, np.arange(6.0)], axis=1)
    table = M.intensity_metrics(t, p, ["AU01", "AU02"]).set_index(["output", "metric"])
    assert table.loc[("mean", "pcc"), "value"] == pytest.approx(pearsonr(t[:, 0], p[:, 0])[0])
    assert table.loc[("mean", "pcc"), "reason"] == "mean over 1 of 2; skipped ['AU02']"


def test_intensity_metrics_on_all_unknown_labels_do_not_crash():
    table = M.intensity_metrics(np.full((4, 1), np.nan), np.ones((4, 1)), ["AU01"])
    assert table["value"].isna().all()
    assert (table["reason"] != "").all()


def test_across_folds_mean_and_sample_std():
    folds = {
        f: pd.DataFrame([("mean", "pcc", v, 10, "")], columns=list(M.COLUMNS))
        for f, v in {"f1": 0.5, "f2": 0.7, "f3": 0.6}.items()
    }
    row = U.across_folds(folds).iloc[0]
    assert row["mean"] == pytest.approx(0.6)
    assert row["std"] == pytest.approx(0.1)  # sample std (ddof 1) of .5 .6 .7


def test_across_one_fold_gives_nan_std_with_reason():
    one = {"f1": pd.DataFrame([("mean", "pcc", 0.5, 10, "")], columns=list(M.COLUMNS))}
    row = U.across_folds(one).iloc[0]
    assert row["reason"] == "1 fold(s): std needs 2"


def _intensity_case(n_subjects=6, frames=30, seed=5):
    rng = np.random.default_rng(seed)
    subj = np.repeat([f"S{i}" for i in range(n_subjects)], frames)
    t = rng.uniform(0, 5, (subj.size, 1))
    p = t + rng.normal(0, 1.0, t.shape)
    return subj, t, p


def test_cluster_bootstrap_is_seeded_and_brackets_the_estimate():
    subj, t, p = _intensity_case()

    def compute(rows):
        return M.intensity_metrics(t[rows], p[rows], ["AU01"])

    a = U.bootstrap_ci(compute, subj, n_boot=50, seed=7)
    b = U.bootstrap_ci(compute, subj, n_boot=50, seed=7)
    pd.testing.assert_frame_equal(a, b)
    row = a.set_index(["output", "metric"]).loc[("AU01", "pcc")]
    assert row["ci_low"] < row["value"] < row["ci_high"]


def test_cluster_bootstrap_resamples_whole_subjects():
    subj, t, _ = _intensity_case(n_subjects=3, frames=4)
    seen = []

    def compute(rows):
        seen.append(rows)
        return M.intensity_metrics(t[rows], t[rows], ["AU01"])

    U.bootstrap_ci(compute, subj, n_boot=5, seed=0)
    sizes = {len(r) for r in seen[1:]}
    assert sizes == {12}  # 3 subjects drawn × 4 frames each, every replicate
    blocks = {tuple(r[i : i + 4] // 4) for r in seen[1:] for i in range(0, 12, 4)}
    assert all(len(set(b)) == 1 for b in blocks)  # each 4-frame block is one subject


def test_bootstrap_with_one_subject_is_nan_with_reason():
    subj, t, p = _intensity_case(n_subjects=1)
    out = U.bootstrap_ci(lambda r: M.intensity_metrics(t[r], p[r], ["AU01"]), subj, n_boot=10)
    assert out["ci_low"].isna().all()
    assert out["ci_reason"].iloc[0] == "1 subject(s), 10 replicates: needs 2 and 1"


def test_format_ci():
    assert U.format_ci(0.6349, 0.551, 0.7) == "0.63 [0.55, 0.70]"
