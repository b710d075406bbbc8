"""Uncertainty of metric tables: mean ± std across folds and a subject-level bootstrap.

Both work on the long tables of :mod:`libreface_nb.eval.metrics` (one row per output and
metric) and add columns to them.

- :func:`across_folds`: ``mean`` and ``std`` (sample std, ddof = 1) of each (output, metric) over
  the folds where the value is defined; ``n_folds`` counts them. One fold → std NaN with a reason.
- :func:`bootstrap_ci`: a *cluster* bootstrap. Frames of one subject are strongly correlated, so
  resampling frames would make intervals far too narrow; each replicate instead draws as many
  subjects as the test set has, with replacement, and takes all their frames (a subject drawn
  twice counts twice). The metric table is recomputed on every replicate; ``ci_low``/``ci_high``
  are the (1 − level)/2 and (1 + level)/2 percentiles of the replicates where the value is
  defined (percentile method, Efron & Tibshirani 1993, §13.3). Randomness: one
  ``numpy.random.default_rng(seed)`` stream draws every replicate in order, so a seed gives the
  same intervals on every machine. Fewer than 2 subjects → NaN intervals with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

KEY = ["output", "metric"]


def across_folds(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per (output, metric): ``mean``, ``std`` (ddof 1), ``n_folds`` and ``reason``.

    Args:
        tables: fold name → long metric table of that fold's test subjects.
    """
    long = pd.concat([t.assign(fold=f) for f, t in tables.items()], ignore_index=True)
    rows = []
    for (output, metric), part in long.groupby(KEY, sort=False):
        vals = part["value"].dropna().to_numpy(float)
        missing = sorted(set(part["fold"]) - set(part.loc[part["value"].notna(), "fold"]))
        reason = f"undefined in folds {missing}" if missing else ""
        std = float(vals.std(ddof=1)) if vals.size >= 2 else np.nan
        if vals.size < 2:
            reason = (reason + "; " if reason else "") + f"{vals.size} fold(s): std needs 2"
        mean = float(vals.mean()) if vals.size else np.nan
        rows.append((output, metric, mean, std, int(vals.size), reason))
    cols = [*KEY, "mean", "std", "n_folds", "reason"]
    return pd.DataFrame(rows, columns=cols)


def bootstrap_ci(
    compute: Callable[[np.ndarray], pd.DataFrame],
    subjects: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """The metric table on all frames, with subject-bootstrap percentile intervals.

    Args:
        compute: row indices [M] → long metric table of those rows (repeats allowed).
        subjects: [N] subject of each row.
        n_boot: replicates.
        seed: seed of the resampling stream.
        level: confidence level of the two-sided interval.

    Returns:
        ``compute(all rows)`` with ``ci_low``, ``ci_high``, ``n_boot`` (replicates where the value
        was defined) and ``ci_reason`` ("" or why the interval is NaN or rests on fewer
        replicates).
    """
    subjects = np.asarray(subjects).astype(str)
    base = compute(np.arange(subjects.size)).reset_index(drop=True)
    groups = {s: np.flatnonzero(subjects == s) for s in np.unique(subjects)}
    base["ci_low"], base["ci_high"], base["n_boot"] = np.nan, np.nan, 0
    if len(groups) < 2 or n_boot < 1:
        base["ci_reason"] = f"{len(groups)} subject(s), {n_boot} replicates: needs 2 and 1"
        return base
    rng = np.random.default_rng(seed)
    names = list(groups)
    keys = pd.MultiIndex.from_frame(base[KEY])
    order = base[KEY].to_numpy().tolist()
    reps = np.full((n_boot, len(base)), np.nan)
    for b in range(n_boot):
        pick = rng.integers(0, len(names), size=len(names))
        rows = np.concatenate([groups[names[i]] for i in pick])
        table = compute(rows)
        if table[KEY].to_numpy().tolist() == order:  # the usual case: same rows, same order
            reps[b] = table["value"].to_numpy(float)
        else:
            reps[b] = table.set_index(KEY)["value"].reindex(keys).to_numpy(float)
    ok = np.isfinite(reps)
    base["n_boot"] = ok.sum(axis=0)
    alpha = 100 * (1 - level) / 2
    defined = base["n_boot"].to_numpy() > 0
    with np.errstate(all="ignore"):
        lo = np.nanpercentile(reps[:, defined], alpha, axis=0)
        hi = np.nanpercentile(reps[:, defined], 100 - alpha, axis=0)
    base.loc[defined, "ci_low"], base.loc[defined, "ci_high"] = lo, hi
    base["ci_reason"] = [
        "undefined in every replicate"
        if k == 0
        else (f"defined in {k} of {n_boot} replicates" if k < n_boot else "")
        for k in base["n_boot"]
    ]
    return base


def format_ci(value: float, low: float, high: float, digits: int = 2) -> str:
    """``0.63 [0.55, 0.70]``; ``–`` for NaN parts."""

    def f(v: float) -> str:
        return "–" if not np.isfinite(v) else f"{v:.{digits}f}"

    return f(value) if not np.isfinite(low) else f"{f(value)} [{f(low)}, {f(high)}]"
