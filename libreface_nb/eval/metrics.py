"""Metrics for AU intensity, AU detection and expressions, each named exactly.

All core functions take numpy arrays and return numbers; nothing here reads files. Every metric
is computed per output (an AU or an expression class) over the frames of a split, then averaged
over outputs (the row ``output="mean"``). Results are *long* tables, one row per (output,
metric), with columns ``output``, ``metric``, ``value`` (float, NaN when undefined), ``n`` (frames,
or outputs for ``mean``, that entered the value) and ``reason`` ("" when the value is defined; else
why it is NaN, or which outputs a mean skipped). A degenerate input never crashes and never gives a
silent 0.

===============  =========================================================================
metric           definition (t = true label, p = prediction, over frames with t and p known)
===============  =========================================================================
``pcc``          Pearson r of t and p, frames of all subjects pooled (LibreFace's metric).
                 Undefined when t or p is constant or fewer than 2 frames are known.
``pcc_subject``  per-subject variant (optional): r within each subject, then the mean over
                 subjects where it is defined (``n`` = those subjects).
``icc3_1``       ICC(3,1) of Shrout & Fleiss (1979), "two-way mixed, consistency, single
                 rater" in McGraw & Wong (1996) = ICC(C,1): (BMS − EMS) / (BMS + (k−1)·EMS)
                 with k = 2 raters (truth, prediction) and the frames as targets. A constant
                 offset between truth and prediction does not lower it.
``icc2_1``       ICC(2,1) (optional): "two-way random, absolute agreement, single rater" =
                 McGraw & Wong's ICC(A,1): (BMS − EMS) / (BMS + (k−1)·EMS + k·(JMS − EMS)/n).
                 An offset lowers it. (py-feat labels its ICC "absolute agreement" while
                 computing the consistency form: here each form has its own name.)
``mae``, ``mse`` mean |t − p| and mean (t − p)² on the 0–5 scale.
``f1``           detection, per AU: binary F1 with positive class 1, p = probability ≥ 0.5;
                 2·TP / (2·TP + FP + FN). Undefined when TP + FP + FN = 0.
``auc``          detection, per AU: ROC AUC of the probability (Mann–Whitney, ties count ½).
                 Undefined with only one class among the known labels.
``f1_micro``     detection, ``output="all"``: F1 from TP, FP, FN pooled over every AU.
                 (The ``mean`` row of ``f1`` is the macro F1, LibreFace's "average F1".)
``f1``           expression, per class c: one-vs-rest 2·TP / (2·TP + FP + FN).
``f1_macro``     expression, ``output="all"``: mean of per-class F1 over the classes present
                 in t or p (scikit-learn's default ``average="macro"``).
``accuracy``     expression, ``output="all"``: share of frames with p = t.
===============  =========================================================================

Unknown labels are masked: NaN in an AU column, -1 for an expression. The ``mean`` row of a
metric averages the outputs whose value is defined; its ``reason`` lists the ones it skipped, so
a mean over 10 of 12 AUs is never mistaken for a mean over 12.

Uncertainty (:mod:`libreface_nb.eval.uncertainty`): per-fold mean ± std, and percentile
confidence intervals from a bootstrap that resamples subjects (clusters), not frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Long-table columns (see the module docstring).
COLUMNS = ("output", "metric", "value", "n", "reason")
ICC_FORMS = {"3,1": "icc3_1", "2,1": "icc2_1"}


@dataclass(frozen=True)
class Score:
    """One metric value; ``reason`` says why ``value`` is NaN, or what a defined value skipped."""

    value: float
    n: int
    reason: str = ""

    def __float__(self) -> float:
        return self.value


def _nan(n: int, reason: str) -> Score:
    return Score(float("nan"), int(n), reason)


def _known(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(t, float).ravel(), np.asarray(p, float).ravel()
    keep = np.isfinite(t) & np.isfinite(p)
    return t[keep], p[keep]


def pcc(t, p) -> Score:
    """Pearson correlation of known (t, p) pairs."""
    t, p = _known(t, p)
    if t.size < 2:
        return _nan(t.size, f"{t.size} known frame(s); Pearson r needs 2")
    dt, dp = t - t.mean(), p - p.mean()
    st, sp = np.sqrt((dt**2).sum()), np.sqrt((dp**2).sum())
    if st == 0 or sp == 0:
        which = "true labels are" if st == 0 else "predictions are"
        return _nan(t.size, f"{which} constant (r undefined)")
    return Score(float(np.clip((dt * dp).sum() / (st * sp), -1.0, 1.0)), t.size)


def _groups(subjects) -> dict[str, np.ndarray]:
    subjects = np.asarray(subjects).astype(str)
    names, inverse = np.unique(subjects, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(names.size + 1))
    return {str(n): order[bounds[i] : bounds[i + 1]] for i, n in enumerate(names)}


def pcc_per_subject(t, p, subjects, groups: dict[str, np.ndarray] | None = None) -> Score:
    """Mean over subjects of the within-subject Pearson r (subjects where r is defined).

    ``groups`` (subject → row indices) may be passed to skip regrouping ``subjects``.
    """
    t, p = np.asarray(t, float), np.asarray(p, float)
    groups = groups if groups is not None else _groups(subjects)
    scores = {s: pcc(t[rows], p[rows]) for s, rows in groups.items()}
    good = [sc.value for sc in scores.values() if not sc.reason]
    if not good:
        return _nan(0, f"r undefined in every subject ({len(scores)})")
    bad = sorted(str(s) for s, sc in scores.items() if sc.reason)
    return Score(float(np.mean(good)), len(good), f"skipped {bad}" if bad else "")


def icc(ratings, form: str = "3,1") -> Score:
    """ICC of a targets × raters matrix (rows with any NaN are dropped).

    Args:
        ratings: [n targets, k raters].
        form: ``"3,1"`` (consistency, ICC(C,1)) or ``"2,1"`` (absolute agreement, ICC(A,1)).
    """
    if form not in ICC_FORMS:
        raise ValueError(f"ICC form {form!r}; forms are {sorted(ICC_FORMS)}")
    x = np.asarray(ratings, float)
    x = x[np.isfinite(x).all(axis=1)]
    n, k = x.shape
    if n < 2 or k < 2:
        return _nan(n, f"{n} target(s) × {k} rater(s); ICC needs at least 2 × 2")
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    bms, jms = ss_rows / (n - 1), ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    denom = bms + (k - 1) * ems
    if form == "2,1":
        denom += k * (jms - ems) / n
    if not denom > 1e-12 * max(1.0, abs(bms)):
        return _nan(n, "no variance between targets or raters (ICC undefined)")
    return Score(float((bms - ems) / denom), n)


def mae(t, p) -> Score:
    """Mean absolute error of known pairs."""
    t, p = _known(t, p)
    return Score(float(np.abs(t - p).mean()), t.size) if t.size else _nan(0, "no known label")


def mse(t, p) -> Score:
    """Mean squared error of known pairs."""
    t, p = _known(t, p)
    return Score(float(((t - p) ** 2).mean()), t.size) if t.size else _nan(0, "no known label")


def _counts(t: np.ndarray, yhat: np.ndarray) -> tuple[int, int, int]:
    tp = int(((t == 1) & (yhat == 1)).sum())
    return tp, int(((t == 0) & (yhat == 1)).sum()), int(((t == 1) & (yhat == 0)).sum())


def _f1(tp: int, fp: int, fn: int, n: int) -> Score:
    if tp + fp + fn == 0:
        return _nan(n, "no positive label and no positive prediction (F1 = 0/0)")
    return Score(2 * tp / (2 * tp + fp + fn), n)


def f1_binary(t, prob, threshold: float = 0.5) -> Score:
    """Binary F1, positive class 1, prediction = ``prob >= threshold``; NaN labels masked."""
    t, prob = _known(t, prob)
    if not t.size:
        return _nan(0, "no known label")
    return _f1(*_counts(t, (prob >= threshold) * 1), t.size)


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties averaged (as scipy.stats.rankdata's default)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    first = np.r_[True, xs[1:] != xs[:-1]]
    idx = np.flatnonzero(np.r_[first, True])
    avg = (idx[:-1] + idx[1:] + 1) / 2.0  # mean of 1-based positions idx[i]+1 … idx[i+1]
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(avg, np.diff(idx))
    return ranks


def roc_auc(t, score) -> Score:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties ½."""
    t, score = _known(t, score)
    pos, neg = int((t == 1).sum()), int((t == 0).sum())
    if pos == 0 or neg == 0:
        return _nan(t.size, f"one class only ({pos} positive, {neg} negative): AUC undefined")
    r = _ranks(score)
    return Score(float((r[t == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)), t.size)


def confusion_matrix(t, p, n_classes: int) -> np.ndarray:
    """int64 [n_classes, n_classes]: rows true class, columns predicted; t = -1 masked."""
    t, p = np.asarray(t, np.int64).ravel(), np.asarray(p, np.int64).ravel()
    keep = (t >= 0) & (t < n_classes) & (p >= 0) & (p < n_classes)
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (t[keep], p[keep]), 1)
    return cm


# ---- long tables ---------------------------------------------------------------------------


def _rows(output: str, scores: dict[str, Score]) -> list[tuple]:
    return [(output, m, s.value, s.n, s.reason) for m, s in scores.items()]


def _mean_rows(rows: list[tuple]) -> list[tuple]:
    """One ``mean`` row per metric over the per-output rows (``all`` rows excluded)."""
    by_metric: dict[str, list[tuple[str, float]]] = {}
    for output, metric, value, _, _ in rows:
        if output != "all":
            by_metric.setdefault(metric, []).append((output, value))
    out = []
    for metric, pairs in by_metric.items():
        ok = [v for _, v in pairs if np.isfinite(v)]
        skipped = sorted(o for o, v in pairs if not np.isfinite(v))
        if not ok:
            out.append(("mean", metric, np.nan, 0, f"undefined for every output {skipped}"))
            continue
        why = f"mean over {len(ok)} of {len(pairs)}; skipped {skipped}" if skipped else ""
        out.append(("mean", metric, float(np.mean(ok)), len(ok), why))
    return out


def _table(rows: list[tuple], with_mean: bool = True) -> pd.DataFrame:
    table = pd.DataFrame(rows + (_mean_rows(rows) if with_mean else []), columns=list(COLUMNS))
    table["n"] = table["n"].astype("int64")
    return table


def intensity_metrics(
    true: np.ndarray,
    pred: np.ndarray,
    outputs: Sequence[str],
    *,
    subjects: Sequence[str] | None = None,
    icc_forms: Sequence[str] = ("3,1",),
    per_subject: bool = False,
) -> pd.DataFrame:
    """PCC, ICC, MAE, MSE per AU and their means (long table).

    Args:
        true, pred: [N, K] intensities (NaN = unknown).
        outputs: the K AU names.
        subjects: [N] subject of each frame (needed for ``per_subject``).
        icc_forms: ICC forms to report (``"3,1"``, ``"2,1"``).
        per_subject: add ``pcc_subject``.
    """
    true, pred = np.asarray(true, float), np.asarray(pred, float)
    if per_subject and subjects is None:
        raise ValueError("per_subject=True needs subjects")
    rows = []
    groups = _groups(subjects) if per_subject else None
    for j, name in enumerate(outputs):
        t, p = true[:, j], pred[:, j]
        scores = {"pcc": pcc(t, p)}
        if per_subject:
            scores["pcc_subject"] = pcc_per_subject(t, p, subjects, groups)
        for form in icc_forms:
            scores[ICC_FORMS[form]] = icc(np.stack([t, p], axis=1), form)
        scores.update(mae=mae(t, p), mse=mse(t, p))
        rows += _rows(name, scores)
    return _table(rows)


def detection_metrics(
    true: np.ndarray, prob: np.ndarray, outputs: Sequence[str], *, threshold: float = 0.5
) -> pd.DataFrame:
    """F1 and ROC AUC per AU, their means, and micro F1 (``output="all"``)."""
    true, prob = np.asarray(true, float), np.asarray(prob, float)
    rows, pooled = [], np.zeros(3, np.int64)
    for j, name in enumerate(outputs):
        rows += _rows(name, {"f1": f1_binary(true[:, j], prob[:, j], threshold)})
        rows += _rows(name, {"auc": roc_auc(true[:, j], prob[:, j])})
        t, p = _known(true[:, j], prob[:, j])
        pooled += _counts(t, (p >= threshold) * 1)
    n = int(np.isfinite(true).sum())
    table = _table(rows)
    micro = _rows("all", {"f1_micro": _f1(*map(int, pooled), n) if n else _nan(0, "no label")})
    return pd.concat([table, _table(micro, with_mean=False)], ignore_index=True)


def expression_metrics(true, pred, classes: Sequence[str]) -> pd.DataFrame:
    """Per-class F1, macro F1 and accuracy (``output="all"``); true = -1 masked."""
    true, pred = np.asarray(true, np.int64), np.asarray(pred, np.int64)
    keep = true >= 0
    t, p = true[keep], pred[keep]
    if not t.size:
        why = "every label is unknown (-1)"
        return _table([("all", m, np.nan, 0, why) for m in ("accuracy", "f1_macro")], False)
    rows, present = [], []
    for c, name in enumerate(classes):
        tp, fp, fn = _counts((t == c) * 1, (p == c) * 1)
        rows += _rows(name, {"f1": _f1(tp, fp, fn, t.size)})
        if tp + fp + fn:
            present.append(2 * tp / (2 * tp + fp + fn))
    table = _table(rows, with_mean=False)
    extra = _rows("all", {"accuracy": Score(float((t == p).mean()), t.size)})
    extra += _rows("all", {"f1_macro": Score(float(np.mean(present)), t.size)})
    return pd.concat([table, _table(extra, with_mean=False)], ignore_index=True)


def summary(table: pd.DataFrame) -> dict[str, float]:
    """metric → headline value: the ``mean`` row, else the ``all`` row."""
    out = {}
    for output in ("all", "mean"):
        for row in table[table["output"] == output].itertuples():
            out[row.metric] = float(row.value)
    return out


def definitions() -> str:
    """The metric-definition table of this module's docstring (plain text)."""
    doc = __doc__ or ""
    start = doc.index("=====")
    end = doc.rindex("=====") + doc[doc.rindex("=====") :].index("\n")
    return doc[start:end]
