"""Real-face checks on persons a model never saw: paired smiles and neutral faces.

SynthAU scores say how well a model reads the AUs SynthAU paints; these checks say whether that
transfers to photographs of real people. The workbook carries such photographs
(:data:`~libreface_nb.data.synth.base.REAL_FACES`, ``data_cards/real_faces.md``):

- **paired smiles**: each London person photographed neutral and smiling in one session. A smile
  pulls the lip corners up (AU12), in most people raises the cheeks (AU6) and shows the teeth
  (AU25). A model that reads AUs predicts more of each on the smiling photo of the *same* person:
  the per-person difference cancels who the person is. No intensity labels exist, only the sign.
- **neutral faces**: a model that reads AUs gives intensities near 0 on a neutral face; a model
  that learned the person reads a stranger's resting face as AU activity.

Only persons outside the run's training and validation sides are used (:func:`held_out`).

Photo set: :func:`libreface_nb.data.persons.photo_set` (``neutral/<person>.jpg`` and, for some
persons, ``smiling/<person>.jpg``).

Tables (``pandas``):

=====================  ============================================================================
photo set              ``person`` str, ``expression`` (``neutral``/``smiling``), ``path`` str
predictions            the photo set + ``status``, ``reason`` (from :func:`libreface_nb.predict`)
                       and ``AU01``… intensities 0–5 (NaN where no face was found)
smile differences      one row per person with both photos predicted: ``person``, then
                       ``<AU>_neutral``, ``<AU>_smiling``, ``<AU>_diff`` (smiling − neutral)
summary (long)         ``output`` (AU), ``metric``, ``value``, ``n`` (persons), ``reason``,
                       ``ci_low``, ``ci_high``, ``n_boot``, ``ci_reason``: a percentile bootstrap
                       over persons (:func:`~libreface_nb.eval.uncertainty.bootstrap_ci`)
=====================  ============================================================================

Metrics: ``smile_higher`` (share of persons whose AU is higher on the smiling photo),
``smile_diff`` (mean smiling − neutral), ``neutral_mean`` (mean predicted intensity on the
neutral photos). The ``mean`` row of ``neutral_mean`` averages the AUs; ``max`` is the largest
per-AU mean (the target "≤ 0.5 for every AU" reads it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb.data.persons import photo_set, resolve_folder  # noqa: F401 - re-exported

#: The AUs a smile moves, in the order reported: lip-corner puller, cheek raiser, lips part.
SMILE_AUS: tuple[str, ...] = ("AU12", "AU06", "AU25")


def held_out(photos: pd.DataFrame, seen_persons: Iterable[str]) -> pd.DataFrame:
    """The photos of persons not in ``seen_persons`` (the run's training and validation persons)."""
    seen = set(seen_persons)
    return photos[~photos["person"].isin(seen)].reset_index(drop=True)


def predict_photos(
    photos: pd.DataFrame, model: Any, *, batch_size: int = 16, device: str = "cpu"
) -> pd.DataFrame:
    """Run ``model`` (a ``.pt`` model file or FaceModel; torch) on every photo.

    Every photo gives one row (its largest face), with ``status``/``reason`` where no face was
    found: nothing is dropped.
    """
    from libreface_nb.infer.pipeline import predict

    table = predict(list(photos["path"]), model, backend="torch", device=device,
                    batch_size=batch_size, max_faces=1)  # fmt: skip
    table = table.drop_duplicates("source").set_index("source")
    aus = [c for c in table.columns if c.startswith("AU") and c[2:].isdigit()]
    out = photos.copy()
    for col in ["status", "reason", *aus]:
        out[col] = table[col].reindex(out["path"]).to_numpy()
    return out


def au_columns(predictions: pd.DataFrame) -> list[str]:
    """The intensity columns (``AU01``…) of a predictions table."""
    return [c for c in predictions.columns if c.startswith("AU") and c[2:].isdigit()]


def smile_differences(predictions: pd.DataFrame, aus: Sequence[str] = SMILE_AUS) -> pd.DataFrame:
    """Per person with both photos predicted: each AU neutral, smiling and their difference."""
    ok = predictions[predictions["status"] == "ok"]
    wide = ok.pivot_table(index="person", columns="expression", values=list(aus), aggfunc="first")
    out = pd.DataFrame(index=wide.index)
    for au in aus:
        if (au, "neutral") not in wide or (au, "smiling") not in wide:
            continue
        out[f"{au}_neutral"] = wide[(au, "neutral")]
        out[f"{au}_smiling"] = wide[(au, "smiling")]
        out[f"{au}_diff"] = out[f"{au}_smiling"] - out[f"{au}_neutral"]
    return out.dropna().reset_index()


def _long(rows: list[tuple[str, str, float, int]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["output", "metric", "value", "n"])
    table["reason"] = np.where(table["n"] > 0, "", "no person")
    return table


def smile_summary(
    diffs: pd.DataFrame, aus: Sequence[str] = SMILE_AUS, *, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """``smile_higher`` and ``smile_diff`` per AU, with a bootstrap over persons."""
    aus = [a for a in aus if f"{a}_diff" in diffs]

    def compute(rows: np.ndarray) -> pd.DataFrame:
        part = diffs.iloc[rows]
        out = []
        for au in aus:
            d = part[f"{au}_diff"].to_numpy(float)
            higher = float(np.mean(d > 0)) if d.size else np.nan
            out += [(au, "smile_higher", higher, d.size),
                    (au, "smile_diff", float(d.mean()) if d.size else np.nan, d.size)]  # fmt: skip
        return _long(out)

    from libreface_nb.eval.uncertainty import bootstrap_ci

    return bootstrap_ci(compute, diffs["person"].to_numpy(), n_boot=n_boot, seed=seed)


def neutral_summary(
    predictions: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """``neutral_mean`` per AU on the neutral photos (rows ``mean`` and ``max`` over AUs)."""
    ok = predictions[(predictions["status"] == "ok") & (predictions["expression"] == "neutral")]
    ok = ok.reset_index(drop=True)
    aus = au_columns(ok)

    def compute(rows: np.ndarray) -> pd.DataFrame:
        values = ok.iloc[rows][aus].to_numpy(float)
        means = values.mean(axis=0) if len(rows) else np.full(len(aus), np.nan)
        out = [(au, "neutral_mean", float(m), len(rows)) for au, m in zip(aus, means, strict=True)]
        out += [("mean", "neutral_mean", float(np.mean(means)), len(rows)),
                ("max", "neutral_mean", float(np.max(means)), len(rows))]  # fmt: skip
        return _long(out)

    from libreface_nb.eval.uncertainty import bootstrap_ci

    return bootstrap_ci(compute, ok["person"].to_numpy(), n_boot=n_boot, seed=seed)


def headline(model: str, smiles: pd.DataFrame, neutral: pd.DataFrame) -> dict[str, Any]:
    """Flat numbers for ``metrics.json``: ``real_<metric>_<AU>_<model>`` and their intervals."""
    out: dict[str, Any] = {}
    for table in (smiles, neutral):
        for _, r in table.iterrows():
            key = f"real_{r['metric']}_{r['output']}_{model}"
            for suffix, col in (("", "value"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
                v = float(r[col])
                out[key + suffix] = v if np.isfinite(v) else None
            out[f"real_{r['metric']}_n_{model}"] = int(r["n"])
    return out


def seen_persons(index: pd.DataFrame, roles: pd.Series) -> set[str]:
    """Persons of the index rows whose role is train or val (``person`` column, else subject)."""
    col = "person" if "person" in index.columns else "subject"
    return set(index.loc[roles.isin(["train", "val"]), col].astype(str))


@dataclass
class RealFaceCheck:
    """Every table of the real-face checks, per model (see the module docstring)."""

    photos: pd.DataFrame
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)
    diffs: dict[str, pd.DataFrame] = field(default_factory=dict)
    smiles: dict[str, pd.DataFrame] = field(default_factory=dict)
    neutral: dict[str, pd.DataFrame] = field(default_factory=dict)

    def headline(self) -> dict[str, Any]:
        """Flat numbers of every model for ``metrics.json`` (see :func:`headline`)."""
        out: dict[str, Any] = {"real_persons": int(self.photos["person"].nunique()),
                               "real_photos": int(len(self.photos))}  # fmt: skip
        for model in self.predictions:
            out.update(headline(model, self.smiles[model], self.neutral[model]))
            ok = self.predictions[model]["status"] == "ok"
            out[f"real_faces_found_{model}"] = int(ok.sum())
        return out


def run_checks(
    models: Mapping[str, Any],
    photos: pd.DataFrame,
    *,
    aus: Sequence[str] = SMILE_AUS,
    n_boot: int = 1000,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
) -> RealFaceCheck:
    """Predict every photo with each model, then the paired-smile and neutral summaries.

    Args:
        models: name → ``.pt`` model file or FaceModel with an intensity head.
        photos: :func:`photo_set` rows, usually :func:`held_out` ones.
    """
    check = RealFaceCheck(photos)
    for name, model in models.items():
        preds = predict_photos(photos, model, batch_size=batch_size, device=device)
        check.predictions[name] = preds
        check.diffs[name] = smile_differences(preds, aus)
        check.smiles[name] = smile_summary(check.diffs[name], aus, n_boot=n_boot, seed=seed)
        check.neutral[name] = neutral_summary(preds, n_boot=n_boot, seed=seed)
    return check
