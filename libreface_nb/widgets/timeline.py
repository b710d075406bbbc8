"""The video view's data: one face's track from a ``predict`` table, smoothing, frames on demand.

The video is processed once, by :func:`libreface_nb.predict` with ``landmarks=True``; the view
then only reads the table and decodes the one frame it shows, so moving the slider over a long
video costs one seek and one decode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from libreface_nb.errors import ConfigError, UnreadableInputError


def face_track(table: pd.DataFrame, source: str | None = None, face: int = 0) -> pd.DataFrame:
    """One row per decoded frame of ``source``: that frame's face ``face`` (or its no-face row).

    Args:
        table: :func:`libreface_nb.predict` output (native column names).
        source: the video (default: the table's first source).
        face: face index within each frame (0 = largest).

    Returns:
        Rows sorted by frame, index reset; frames where that face is missing keep a row with
        NaN predictions (status ``no_face`` or the frame's own status).
    """
    if "status" not in table.columns or "frame" not in table.columns:
        raise ConfigError("want a libreface_nb.predict table (native columns, not OpenFace's)")
    source = source if source is not None else str(table["source"].iloc[0])
    rows = table[table["source"].astype(str) == str(source)]
    if rows.empty:
        raise ConfigError(f"{source}: no rows in the table; sources: {table.source.unique()[:4]}")
    picked = rows[rows["face"] == face]
    missing = rows[~rows["frame"].isin(picked["frame"])].drop_duplicates("frame")
    if not missing.empty:
        missing = missing.copy()
        value_cols = [c for c in rows.columns if c.startswith(("AU", "prob_", "x_", "y_"))]
        missing.loc[:, value_cols] = np.nan
        missing.loc[missing["status"] == "ok", "status"] = "no_face"
    out = pd.concat([picked, missing]).sort_values("frame", kind="stable")
    return out.reset_index(drop=True)


def landmarks(row: pd.Series) -> np.ndarray | None:
    """``[478, 2]`` landmark pixels of a row with ``x_0``… ``y_477``, None if absent or NaN."""
    if "x_0" not in row.index:
        return None
    n = sum(1 for c in row.index if c.startswith("x_"))
    xy = np.stack(
        [row[[f"x_{i}" for i in range(n)]].to_numpy(float),
         row[[f"y_{i}" for i in range(n)]].to_numpy(float)], axis=1
    )  # fmt: skip
    return None if np.isnan(xy).any() else xy.astype(np.float32)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean over ``window`` frames (1 = unchanged); NaNs are skipped, not spread.

    Near the ends the window shrinks (pandas ``rolling(center=True, min_periods=1)``).
    """
    if window < 1:
        raise ConfigError(f"smoothing window must be ≥ 1, got {window}")
    s = pd.Series(np.asarray(values, float))
    if window == 1:
        return s.to_numpy(copy=True)
    out = s.rolling(window, center=True, min_periods=1).mean().to_numpy(copy=True)
    out[s.isna().to_numpy()] = np.nan  # a frame without a face stays without a value
    return out


def au_columns(table: pd.DataFrame) -> list[str]:
    """AU value columns of a predict table: intensities ``AU01``…, else probabilities."""
    ints = [c for c in table.columns if c.startswith("AU") and c[2:].isdigit()]
    return ints or [c for c in table.columns if c.startswith("AU") and c.endswith("_prob")]


class FrameReader:
    """Random access to a video's frames (OpenCV seek), the last few kept in memory."""

    def __init__(self, path: str, cache: int = 8) -> None:
        self.path, self.cache = str(path), cache
        self._cap = None
        self._frames: dict[int, np.ndarray] = {}

    def __call__(self, index: int) -> np.ndarray:
        """uint8 RGB frame ``index`` (0-based)."""
        import cv2

        if index in self._frames:
            return self._frames[index]
        if self._cap is None:
            cap = cv2.VideoCapture(self.path)
            if not cap.isOpened():
                cap.release()
                raise UnreadableInputError(f"{self.path}: OpenCV cannot open this video")
            self._cap = cap
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise UnreadableInputError(f"{self.path}: cannot decode frame {index}")
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if len(self._frames) >= self.cache:
            self._frames.pop(next(iter(self._frames)))
        self._frames[index] = rgb
        return rgb

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
