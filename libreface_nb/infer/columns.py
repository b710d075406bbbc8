"""The results table of :func:`libreface_nb.predict`: its columns, OpenFace names, ranking.

One row per decoded frame and face, in decode order (sources in the order given, folders sorted
by path, faces largest first). Columns, in order (dtype; value when there is no face):

==================  ===========  ============================================================
``source``          str          the file
``frame``           int64        0-based frame index (0 for a still image)
``time_s``          float64      ``frame / fps`` for a video, 0.0 for a still; NaN: unreadable
``face``            int64        face index in the frame, largest first; -1: no face
``track_id``        int64        per-video track id (tracking FaceMesh); -1: still or no face
``status``          str          ``ok``, ``no_face``, ``unreadable``, ``missing_frame``, ``error``
``reason``          str          why the status is not ``ok`` ("" when it is)
``score``           float64      face-detection score in [0, 1]; NaN
``pitch`` ``yaw``   float64      head pose in degrees (:mod:`libreface_nb.faces.pose`); NaN
``roll``
``AU01``…           float64      AU intensity 0–5 (intensity head, DISFA order); NaN
``AU01_prob``…      float64      AU probability 0–1 (detection head, BP4D order); NaN
``AU01_present``…   float64      1.0/0.0: detection probability ≥ 0.5 where the model has a
                                 detection head for the AU, else intensity ≥ 2 (DISFA); NaN
``prob_Neutral``…   float64      expression probabilities (AffectNet-8 order); NaN
``expression``      str          the most probable expression; ""
``x_0``… ``y_0``…   float32      478 landmark pixels, only with ``landmarks=True``; NaN
==================  ===========  ============================================================

With ``openface_columns=True`` (OpenFace 2.0's CSV names, read by many analysis tools):
``AU01`` → ``AU01_r``, ``AU01_present`` → ``AU01_c``, ``face`` → ``face_id``, ``time_s`` →
``timestamp``, ``success`` (1 when ``status == "ok"``), ``confidence`` (= ``score``) and
``pose_Rx``/``pose_Ry``/``pose_Rz`` (pitch, yaw, roll in radians, this workbook's signs) replace
``pitch``/``yaw``/``roll``. ``frame`` stays 0-based (OpenFace counts from 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from libreface_nb.config import DETECTION_THRESHOLD, DISFA_PRESENCE_THRESHOLD
from libreface_nb.errors import ConfigError
from libreface_nb.modelio.metadata import ModelInfo

STATUSES = ("ok", "no_face", "unreadable", "missing_frame", "error")
BASE = {
    "source": str, "frame": np.int64, "time_s": np.float64, "face": np.int64,
    "track_id": np.int64, "status": str, "reason": str, "score": np.float64,
    "pitch": np.float64, "yaw": np.float64, "roll": np.float64,
}  # fmt: skip
N_LANDMARKS = 478


def output_columns(info: ModelInfo) -> list[str]:
    """The model's own columns, in output order (one per label of each output)."""
    cols = []
    for name in info.outputs:
        task = info.task_of(name)
        for label in info.labels[name]:
            if task == "intensity":
                cols.append(label)
            elif task == "detection":
                cols.append(f"{label}_prob")
            else:
                cols.append(f"prob_{label}")
    return cols


def presence_sources(info: ModelInfo) -> dict[str, tuple[str, float]]:
    """``AU01_present`` → (column it thresholds, threshold); detection heads win."""
    out: dict[str, tuple[str, float]] = {}
    for task, suffix, thr in (
        ("detection", "_prob", DETECTION_THRESHOLD),
        ("intensity", "", DISFA_PRESENCE_THRESHOLD),
    ):
        for name in info.outputs:
            if info.task_of(name) == task:
                for au in info.labels[name]:
                    out.setdefault(f"{au}_present", (au + suffix, thr))
    return out


def landmark_columns() -> list[str]:
    return [f"x_{i}" for i in range(N_LANDMARKS)] + [f"y_{i}" for i in range(N_LANDMARKS)]


def build_table(
    rows: list[dict], preds: np.ndarray, info: ModelInfo, lms: np.ndarray | None = None
) -> pd.DataFrame:
    """Rows (BASE keys) + predictions ``[n, P]`` (NaN rows: no face) → the results table.

    Args:
        rows: one dict per row with the :data:`BASE` keys.
        preds: float ``[len(rows), len(output_columns(info))]``.
        info: the model's info.
        lms: float32 ``[len(rows), 478, 2]`` landmark pixels, or None (no landmark columns).
    """
    base = pd.DataFrame(rows, columns=list(BASE))
    table = base.astype({k: ("object" if v is str else v) for k, v in BASE.items()})
    cols = output_columns(info)
    data = {c: preds[:, j].astype(np.float64) for j, c in enumerate(cols)}
    for present, (col, thr) in sorted(presence_sources(info).items()):
        v = data[col]
        data[present] = np.where(np.isnan(v), np.nan, (v >= thr).astype(np.float64))
    exp = [n for n in info.outputs if info.task_of(n) == "expression"]
    if exp:
        classes = info.labels[exp[0]]
        probs = np.stack([data[f"prob_{c}"] for c in classes], axis=1)
        ok = ~np.isnan(probs).any(axis=1)
        best = np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1)
        data["expression"] = np.where(ok, np.asarray(classes, dtype=object)[best], "")
    if lms is not None:
        flat = np.concatenate([lms[:, :, 0], lms[:, :, 1]], axis=1).astype(np.float32)
        data.update({c: flat[:, j] for j, c in enumerate(landmark_columns())})
    return pd.concat([table, pd.DataFrame(data, index=table.index)], axis=1)


def openface(table: pd.DataFrame) -> pd.DataFrame:
    """The results table with OpenFace 2.0 column names (see the module docstring)."""
    out = table.copy()
    renames = {"face": "face_id", "time_s": "timestamp"}
    for col in table.columns:
        if col.endswith("_present"):
            renames[col] = col[: -len("_present")] + "_c"
        elif col.startswith("AU") and col[2:].isdigit():
            renames[col] = col + "_r"
    out = out.rename(columns=renames)
    at = out.columns.get_loc("pitch")
    pose = {
        "pose_Rx": np.radians(table["pitch"]),
        "pose_Ry": np.radians(table["yaw"]),
        "pose_Rz": np.radians(table["roll"]),
    }
    out = out.drop(columns=["pitch", "yaw", "roll"])
    for k, (name, values) in enumerate(pose.items()):
        out.insert(at + k, name, values.to_numpy())
    out.insert(out.columns.get_loc("status"), "success", (table["status"] == "ok").astype(int))
    out.insert(out.columns.get_loc("score"), "confidence", table["score"].to_numpy())
    return out.drop(columns=["score"])


def _score_column(table: pd.DataFrame, by: str) -> str:
    for col in (by, f"prob_{by}", f"{by}_r", f"{by}_prob"):
        if col in table.columns:
            return col
    scores = [c for c in table.columns if c.startswith(("AU", "prob_"))]
    raise ConfigError(f"cannot rank by {by!r}: no such column; try one of {scores[:8]}…")


def rank_faces(
    table: pd.DataFrame,
    by: str = "AU12",
    *,
    top: int | None = None,
    ascending: bool = False,
    one_per_source: bool = True,
) -> pd.DataFrame:
    """Faces sorted by an AU or expression score ("which generated faces smile most").

    Args:
        table: :func:`libreface_nb.predict` output (either column style).
        by: ``"AU12"`` (intensity, else detection probability) or an expression class
            (``"Happiness"`` → ``prob_Happiness``) or any column name.
        top: keep the first ``top`` rows (None: all).
        ascending: lowest first (e.g. the most neutral faces by ``"AU12"``).
        one_per_source: keep each source's best-scoring face only (one image = one entry).

    Returns:
        The ``ok`` rows, sorted (ties by source, frame), with ``rank`` (1 = first) and
        ``score_by`` (the column used, its values) columns in front.
    """
    col = _score_column(table, by)
    status = table["status"] == "ok" if "status" in table else table["success"] == 1
    ok = table[status & table[col].notna()]
    ok = ok.sort_values([col, "source", "frame"], ascending=[ascending, True, True], kind="stable")
    if one_per_source:
        ok = ok.drop_duplicates("source", keep="first")
    if top is not None:
        ok = ok.head(top)
    ok = ok.reset_index(drop=True)
    ok.insert(0, "score_by", ok[col].to_numpy())
    ok.insert(0, "rank", np.arange(1, len(ok) + 1))
    return ok


def with_truth(pred: pd.DataFrame, index: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Predictions joined to labels on (source, frame): ``true_<col>`` and ``pred_<col>``.

    Args:
        pred: :func:`libreface_nb.predict` rows (face 0 of each frame is used; frames without a
            face keep NaN predictions).
        index: a dataset index with ``source``, ``frame`` and the label ``columns``.
        columns: label columns the model also predicts (e.g. ``["AU01", "AU12"]``).

    Returns:
        One row per labelled frame of the predicted sources: ``source``, ``frame``, ``time_s``,
        ``status``, then ``true_<col>`` and ``pred_<col>`` per column, sorted by source and frame.
    """
    first = pred[pred["face"] <= 0].drop_duplicates(["source", "frame"])
    keep = first[["source", "frame", "time_s", "status", *columns]].rename(
        columns={c: f"pred_{c}" for c in columns}
    )
    truth = index[index["source"].isin(set(first["source"]))][["source", "frame", *columns]]
    truth = truth.rename(columns={c: f"true_{c}" for c in columns})
    out = truth.merge(keep, on=["source", "frame"], how="left")
    order = ["source", "frame", "time_s", "status"]
    order += [f"{p}_{c}" for c in columns for p in ("true", "pred")]
    return out[order].sort_values(["source", "frame"], kind="stable").reset_index(drop=True)


def pcc_table(joined: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Pearson r between ``true_<col>`` and ``pred_<col>`` per column (NaN if either is constant).

    Rows with a NaN on either side are left out; ``n`` says how many remain.
    """
    rows = []
    for c in columns:
        t, p = joined[f"true_{c}"].to_numpy(float), joined[f"pred_{c}"].to_numpy(float)
        ok = ~(np.isnan(t) | np.isnan(p))
        t, p = t[ok], p[ok]
        r = (
            float(np.corrcoef(t, p)[0, 1])
            if ok.sum() > 1 and t.std() > 0 and p.std() > 0
            else np.nan
        )
        rows.append({"column": c, "pcc": r, "n": int(ok.sum())})
    return pd.DataFrame(rows)
