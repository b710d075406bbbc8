"""Real-face read-back: do a model's AU outputs move with the face's own geometry?

A **sanity check, not a metric**. On any real video or photos (no labels needed) MediaPipe's
landmarks give simple geometric proxies of a few AUs; a model whose AU output moves *against*
its proxy across many frames has learned something other than the AU (a shortcut of its
training data). Agreement does not make a model accurate: a proxy is geometry only (AU26 and
AU25 both open the lips; a wide mouth may be AU12 or AU20 or the face's shape), head pose and
identity shift it, and correlations over one person's frames say nothing about another person.

Proxies (:data:`PROXIES`), each over the inter-ocular distance (IOD, between the iris centres
468 and 473, so that face size and distance cancel), paired with the AUs they should rise with:

============== ==================================================== ==============
proxy          landmarks (MediaPipe 478)                            AUs (expected)
============== ==================================================== ==============
``lip_gap``    inner-lip gap, mean of 82–87, 13–14, 312–317         AU25, AU26 (+)
``mouth_width`` mouth-corner distance 61–291                        AU12, AU20 (+)
``brow_raise`` brow (105, 66, 107 / 334, 296, 336) to eye-centre    AU01, AU02 (+)
               height, both sides, along the face's vertical axis
============== ==================================================== ==============

Inputs: a predictions table with one row per frame and face: AU columns named ``AU01``… (the
``predict`` table) or ``pred_AU01``… (the evaluation table), and landmarks given either as a
``landmarks`` column (an array ``[478, 2+]`` per row), as ``x_0``…``x_477`` / ``y_0``…``y_477``
columns (``predict(..., landmarks=True)``), or as a separate ``[N, 478, 2+]`` array. Rows without
landmarks (NaN) are left out.

Typical use::

    table = readback.readback(predictions)            # one row per (proxy, AU) pair
    fig = plots.readback.readback_figure(readback.proxies_of(predictions), predictions, table)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from libreface_nb.errors import ConfigError

IRIS_R, IRIS_L = 468, 473
LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
CORNERS = (61, 291)
BROWS = ((105, 66, 107), (334, 296, 336))
EYES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398),
)
#: Proxy → the AUs it should rise with (all expected correlations are positive).
PROXIES: dict[str, tuple[str, ...]] = {
    "lip_gap": ("AU25", "AU26"),
    "mouth_width": ("AU12", "AU20"),
    "brow_raise": ("AU01", "AU02"),
}


def geometric_proxies(landmarks: np.ndarray) -> pd.DataFrame:
    """The proxies of :data:`PROXIES` for landmarks ``[N, 478, 2+]`` (pixels): one row each.

    Rows whose landmarks hold NaN give NaN. Distances are in IOD units.
    """
    p = np.asarray(landmarks, np.float64)
    if p.ndim != 3 or p.shape[1] < 478 or p.shape[2] < 2:
        raise ValueError(f"landmarks must be [N, 478, 2+], got {p.shape}")
    p = p[:, :, :2]
    x_axis = p[:, IRIS_L] - p[:, IRIS_R]
    iod = np.linalg.norm(x_axis, axis=1)
    ex = x_axis / iod[:, None]
    ey = np.stack([-ex[:, 1], ex[:, 0]], axis=1)  # the face's downward direction

    def along(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
        return (v * axis).sum(-1)

    gap = np.mean([along(p[:, lo] - p[:, up], ey) for up, lo in LIP_PAIRS], axis=0)
    width = np.linalg.norm(p[:, CORNERS[1]] - p[:, CORNERS[0]], axis=1)
    raise_ = np.mean(
        [
            along(p[:, list(eye)].mean(1) - p[:, list(brow)].mean(1), ey)
            for brow, eye in zip(BROWS, EYES, strict=True)
        ],
        axis=0,
    )
    return pd.DataFrame(
        {"lip_gap": gap / iod, "mouth_width": width / iod, "brow_raise": raise_ / iod}
    )


def table_landmarks(table: pd.DataFrame) -> np.ndarray:
    """Landmarks ``[N, 478, 2+]`` from a table's ``landmarks`` column or ``x_i``/``y_i`` columns.

    Raises:
        ConfigError: neither form is present.
    """
    if "landmarks" in table.columns:
        rows = [
            np.full((478, 2), np.nan) if not isinstance(v, np.ndarray | list) else np.asarray(v)
            for v in table["landmarks"]
        ]
        return np.stack([r[:, :2].astype(np.float64) for r in rows])
    xs, ys = [f"x_{i}" for i in range(478)], [f"y_{i}" for i in range(478)]
    if set(xs) <= set(table.columns) and set(ys) <= set(table.columns):
        return np.stack([table[xs].to_numpy(np.float64), table[ys].to_numpy(np.float64)], -1)
    raise ConfigError(
        "read-back needs landmarks: a 'landmarks' column ([478, 3] per row) or x_0…x_477 / "
        "y_0…y_477 columns (predict(..., landmarks=True)), or pass landmarks= explicitly"
    )


def _au_column(table: pd.DataFrame, au: str) -> str | None:
    for name in (au, f"pred_{au}"):
        if name in table.columns:
            return name
    return None


def proxies_of(table: pd.DataFrame, landmarks: np.ndarray | None = None) -> pd.DataFrame:
    """Proxies for each row of ``table`` (same index), from ``landmarks`` or the table's own."""
    lms = table_landmarks(table) if landmarks is None else np.asarray(landmarks)
    if len(lms) != len(table):
        raise ValueError(f"{len(lms)} landmark sets for {len(table)} rows")
    out = geometric_proxies(lms)
    out.index = table.index
    return out


def readback(
    table: pd.DataFrame, landmarks: np.ndarray | None = None, min_rows: int = 5
) -> pd.DataFrame:
    """Correlate each proxy with the model's outputs for its AUs.

    Args:
        table: predictions, one row per frame (and face); see the module docstring.
        landmarks: optional ``[N, 478, 2+]`` for the rows of ``table`` (else the table's own).
        min_rows: pairs with fewer usable rows (finite proxy and output) get NaN correlations.

    Returns:
        One row per (proxy, AU) pair present: ``proxy``, ``au``, ``column``, ``n``,
        ``pearson``, ``spearman``, ``expected`` (+1), ``agrees`` (``pearson > 0``; False
        when NaN). Pairs whose AU the table lacks are left out.
    """
    from scipy import stats

    prox = proxies_of(table, landmarks)
    rows = []
    for proxy, aus in PROXIES.items():
        for au in aus:
            col = _au_column(table, au)
            if col is None:
                continue
            x = prox[proxy].to_numpy(np.float64)
            y = table[col].to_numpy(np.float64)
            ok = np.isfinite(x) & np.isfinite(y)
            n = int(ok.sum())
            r = rho = np.nan
            if n >= min_rows and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
                r = float(stats.pearsonr(x[ok], y[ok])[0])
                rho = float(stats.spearmanr(x[ok], y[ok])[0])
            rows.append(
                {
                    "proxy": proxy,
                    "au": au,
                    "column": col,
                    "n": n,
                    "pearson": r,
                    "spearman": rho,
                    "expected": 1,
                    "agrees": bool(r > 0),
                }  # fmt: skip
            )
    return pd.DataFrame(rows)


def detect_landmarks(images: Iterable[np.ndarray]) -> np.ndarray:
    """MediaPipe landmarks ``[N, 478, 3]`` of the largest face in each image (NaN: no face)."""
    from libreface_nb.faces.mesh import detect_faces

    out = []
    for img in images:
        faces = detect_faces(np.ascontiguousarray(img))
        out.append(faces[0].landmarks.astype(np.float64) if faces else np.full((478, 3), np.nan))
    return np.stack(out) if out else np.zeros((0, 478, 3))
