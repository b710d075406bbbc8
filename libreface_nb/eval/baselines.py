"""A classical baseline in the spirit of OpenFace 2.0: HOG features + linear SVR / SVM per AU.

OpenFace 2.0 (Baltrušaitis et al., FG 2018; AU models from Baltrušaitis, Mahmoud & Robinson,
FG 2015) describes each aligned 112×112 face by HOG features (8×8-pixel cells) and predicts each
AU with a linear SVR (intensity) or a linear SVM (presence); its "dynamic" models also subtract a
per-person median of the features. Ours follows that recipe with scikit-image and scikit-learn;
it is not OpenFace's code, features (Felzenszwalb HOG, PCA) or training data:

====================  ============================================================================
step                  what is done
====================  ============================================================================
face                  the store's 256×256 aligned face (no augmentation), grey, resized to
                      ``size`` px (112) with anti-aliasing
features              ``skimage.feature.hog``: ``orientations`` 9, ``cell`` 8×8 px, 2×2-cell
                      blocks, L2-Hys block normalisation (6,084 values at 112 px)
person normalisation  optional (``subject_median=True``): subtract each subject's median feature
                      vector, as OpenFace's dynamic models do
scaling               standardised with the mean and std of the training features
intensity             ``sklearn.svm.LinearSVR`` per AU on known labels, predictions clipped to 0–5
detection             ``sklearn.svm.LinearSVC`` per AU; ``pred`` = sigmoid(decision value), a
                      pseudo-probability whose 0.5 threshold is the SVM's own decision (ROC AUC
                      only uses its order)
C                     one value for all AUs, chosen from ``c_grid`` by the mean validation metric
                      (PCC / F1); then refit on train + validation with that C
====================  ============================================================================

``max_train`` caps the training frames (a random subset drawn with ``seed``) to bound the fit
time on large datasets. An AU without known training labels gets NaN predictions (reported as
undefined metrics); an AU whose training labels are all equal is predicted as that constant.
Fits are deterministic (``random_state=seed``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HogConfig:
    """Feature and model settings (see the module table)."""

    size: int = 112
    cell: int = 8
    block: int = 2
    orientations: int = 9
    subject_median: bool = False
    c_grid: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    max_iter: int = 5000
    #: Fit on at most this many training frames (a seeded random subset; 0 = all of them).
    max_train: int = 0


def hog_of_face(face: np.ndarray, cfg: HogConfig = HogConfig()) -> np.ndarray:
    """HOG vector (float32) of one uint8 RGB aligned face [H, W, 3]."""
    from skimage.color import rgb2gray
    from skimage.feature import hog
    from skimage.transform import resize

    grey = resize(rgb2gray(face), (cfg.size, cfg.size), anti_aliasing=True)
    return hog(
        grey,
        orientations=cfg.orientations,
        pixels_per_cell=(cfg.cell, cfg.cell),
        cells_per_block=(cfg.block, cfg.block),
        block_norm="L2-Hys",
        feature_vector=True,
    ).astype(np.float32)


def hog_features(dataset: Any, cfg: HogConfig = HogConfig()) -> np.ndarray:
    """[N, D] HOG features of every item's aligned face (``dataset.face(i)``)."""
    feats = np.stack([hog_of_face(dataset.face(i), cfg) for i in range(len(dataset))])
    if cfg.subject_median:
        from libreface_nb.eval.evaluate import dataset_meta

        subjects = dataset_meta(dataset)["subject"].astype(str).to_numpy()
        for s in np.unique(subjects):
            feats[subjects == s] -= np.median(feats[subjects == s], axis=0)
    return feats


def _fit_one(kind: str, x: np.ndarray, y: np.ndarray, c: float, cfg: HogConfig, seed: int):
    """A fitted estimator for one AU, or the constant to predict."""
    from sklearn.svm import LinearSVC, LinearSVR

    if np.unique(y).size < 2:
        return float(y[0])
    if kind == "intensity":
        model = LinearSVR(C=c, max_iter=cfg.max_iter, random_state=seed, dual="auto")
    else:
        model = LinearSVC(C=c, max_iter=cfg.max_iter, random_state=seed, dual="auto")
    return model.fit(x, y)


def _predict_one(kind: str, model: Any, x: np.ndarray) -> np.ndarray:
    if model is None:
        return np.full(len(x), np.nan)
    if isinstance(model, float):
        return np.full(len(x), model)  # the constant training label (0/1 as a probability)
    if kind == "intensity":
        return np.clip(model.predict(x), 0.0, 5.0)
    return 1.0 / (1.0 + np.exp(-model.decision_function(x)))


class HogBaseline:
    """HOG + linear SVR (intensity) / SVM (detection), one model per AU."""

    def __init__(self, task: str, cfg: HogConfig = HogConfig(), seed: int = 0) -> None:
        from libreface_nb.models.tasks import get_task

        spec = get_task(task)
        if spec.target != "au":
            raise ConfigError(f"the HOG baseline covers AU tasks, not {task!r}")
        self.task, self.kind, self.cfg, self.seed = task, spec.name, cfg, seed
        self.outputs = list(spec.outputs)
        self.models: list[Any] = []
        self.c: float | None = None
        self.val_scores: dict[float, float] = {}

    def _fit(self, x: np.ndarray, y: np.ndarray, c: float) -> None:
        from sklearn.preprocessing import StandardScaler

        self.scaler = StandardScaler().fit(x)
        xs = self.scaler.transform(x)
        self.models = []
        for j in range(y.shape[1]):
            known = np.isfinite(y[:, j])
            if not known.any():
                self.models.append(None)  # no label to learn from: NaN predictions
                continue
            self.models.append(_fit_one(self.kind, xs[known], y[known, j], c, self.cfg, self.seed))

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        """[N, K] intensities (0–5) or pseudo-probabilities from HOG features."""
        xs = self.scaler.transform(x)
        return np.stack([_predict_one(self.kind, m, xs) for m in self.models], axis=1)

    def _score(self, y: np.ndarray, pred: np.ndarray) -> float:
        from libreface_nb.eval import metrics as M

        if self.kind == "intensity":
            return M.summary(M.intensity_metrics(y, pred, self.outputs))["pcc"]
        return M.summary(M.detection_metrics(y, pred, self.outputs))["f1"]

    def fit_features(self, x_train, y_train, x_val=None, y_val=None) -> HogBaseline:
        """Choose C on validation (when given), then fit on train + validation."""
        grid: Sequence[float] = self.cfg.c_grid
        if x_val is not None and len(x_val) and len(grid) > 1:
            for c in grid:
                self._fit(x_train, y_train, c)
                self.val_scores[c] = self._score(y_val, self.predict_features(x_val))
            finite = {c: s for c, s in self.val_scores.items() if np.isfinite(s)}
            self.c = max(finite, key=finite.get) if finite else grid[len(grid) // 2]
            x_train, y_train = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
        else:
            self.c = grid[len(grid) // 2]
        log.info("HOG baseline %s: C=%g (validation %s)", self.task, self.c, self.val_scores)
        self._fit(x_train, y_train, self.c)
        return self


def run_hog_baseline(
    datasets: dict[str, Any], task: str, cfg: HogConfig = HogConfig(), seed: int = 0
) -> tuple[pd.DataFrame, HogBaseline]:
    """Fit on ``datasets["train"]`` (+ ``"val"``), predict ``datasets["test"]``.

    Args:
        datasets: role → dataset, as from :func:`libreface_nb.data.splits.make_datasets`.
        task: ``intensity`` or ``detection``.

    Returns:
        (the test predictions table, the fitted baseline: ``c``, ``val_scores``).
    """
    from libreface_nb.eval.evaluate import dataset_labels, dataset_meta
    from libreface_nb.eval.predictions import build_table

    base = HogBaseline(task, cfg, seed)
    xy = {
        role: (hog_features(ds, cfg), dataset_labels(ds, task))
        for role, ds in datasets.items()
        if role in ("train", "val", "test")
    }
    x, y = xy["train"]
    if 0 < cfg.max_train < len(x):
        keep = np.sort(np.random.default_rng(seed).choice(len(x), cfg.max_train, replace=False))
        x, y = x[keep], y[keep]
        log.info("HOG baseline: fitting on %d of %d training frames", len(x), len(xy["train"][0]))
    base.fit_features(x, y, *xy.get("val", (None, None)))
    pred = base.predict_features(xy["test"][0])
    table = build_table(dataset_meta(datasets["test"]), task, xy["test"][1], pred, "test")
    return table, base
