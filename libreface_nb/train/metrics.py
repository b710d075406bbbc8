"""Small validation metrics for model selection during training (per task, on arrays).

The full evaluation module (``libreface_nb.eval``) has the published metric variants; these are
the three :func:`~libreface_nb.train.loop.fit` monitors, defined as LibreFace reports them
(LIBREFACE_FACTS §7):

- ``pcc``: Pearson's r per AU over all frames pooled (intensities on the 0–5 scale), averaged
  over AUs. Frames with an unknown label (mask 0) are left out per AU. An AU with fewer than two
  known frames, or whose labels or predictions are constant (r undefined), is excluded from the
  mean and named in the log.
- ``f1``: binary F1 per AU (positive = 1, prediction = probability ≥ 0.5), averaged over AUs;
  unknown labels left out; an AU with no positive label and no positive prediction (F1 = 0/0)
  is excluded and logged.
- ``accuracy``: top-1 accuracy over samples whose expression is known (target ≠ -1).

Each returns ``(mean, per_output)``, ``per_output`` a list with NaN for excluded outputs; the mean
is NaN when every output is excluded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


def _mean(values: list[float], names: Sequence[str], what: str) -> float:
    skipped = [n for n, v in zip(names, values, strict=True) if np.isnan(v)]
    if skipped:
        log.info("%s: %s excluded (undefined: constant or unknown)", what, skipped)
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


def pcc(pred: np.ndarray, true: np.ndarray, mask: np.ndarray, names: Sequence[str] = ()):
    """Mean over outputs of Pearson's r on known entries; arrays [N, K] (see the module doc)."""
    names = list(names) or [str(k) for k in range(pred.shape[1])]
    per = []
    for k in range(pred.shape[1]):
        keep = mask[:, k] > 0
        p, t = pred[keep, k].astype(np.float64), true[keep, k].astype(np.float64)
        if len(p) < 2 or np.ptp(p) == 0 or np.ptp(t) == 0:
            per.append(float("nan"))
            continue
        p, t = p - p.mean(), t - t.mean()
        per.append(float((p * t).sum() / np.sqrt((p * p).sum() * (t * t).sum())))
    return _mean(per, names, "pcc"), per


def f1(prob: np.ndarray, true: np.ndarray, mask: np.ndarray, names: Sequence[str] = ()):
    """Mean over outputs of binary F1 at 0.5 on known entries; arrays [N, K]."""
    names = list(names) or [str(k) for k in range(prob.shape[1])]
    per = []
    for k in range(prob.shape[1]):
        keep = mask[:, k] > 0
        p, t = prob[keep, k] >= 0.5, true[keep, k] >= 0.5
        tp, fp, fn = int((p & t).sum()), int((p & ~t).sum()), int((~p & t).sum())
        per.append(float("nan") if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return _mean(per, names, "f1"), per


def accuracy(logits: np.ndarray, target: np.ndarray) -> tuple[float, list[float]]:
    """Top-1 accuracy over samples with ``target`` ≠ -1; logits [N, C], target [N]."""
    keep = target >= 0
    if not keep.any():
        return float("nan"), []
    return float((logits[keep].argmax(axis=1) == target[keep]).mean()), []
