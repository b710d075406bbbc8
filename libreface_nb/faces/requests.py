"""What ``preprocess_sources`` is asked for: items → a request table → one request per source.

An item is ``(source, frame)``: ``frame`` 0 for a still, a frame index for a video, or None
(NaN in a table) for every frame of a video. The table has one row per item (``frame`` -1 for
"every frame"); requests group it by source, in first-seen order, frames sorted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Request:
    """One source and the frames wanted from it (None: every frame of a video)."""

    source: str
    frames: list[int] | None


def request_table(items: Iterable | pd.DataFrame) -> pd.DataFrame:
    """Items → one row per item: ``source`` (str) and ``frame`` (int64; -1: every frame)."""
    if isinstance(items, pd.DataFrame):
        missing = {"source", "frame"} - set(items.columns)
        if missing:
            raise ValueError(f"the index table lacks column(s) {sorted(missing)}")
        sources = items["source"].astype(str).to_numpy()
        frames = items["frame"].reset_index(drop=True)
    else:
        pairs = list(items)
        sources = np.array([str(s) for s, _ in pairs], dtype=object)
        frames = pd.Series([f for _, f in pairs], dtype=object)
    whole = frames.isna().to_numpy()
    given = frames[~whole]
    odd = given.dtype == bool or (
        given.dtype == object and given.map(lambda f: isinstance(f, bool | str | bytes)).any()
    )
    if odd:
        raise ValueError(f"frame numbers must be integers or None; got {given.tolist()[:5]}")
    try:
        numbers = pd.to_numeric(given).to_numpy()
        bad = given[(numbers < 0) | (numbers % 1 != 0) | (numbers >= 2**62)]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"frame numbers must be integers or None: {exc}") from exc
    if len(bad):
        wanted = "frame numbers must be integers ≥ 0 (None: every frame of a video)"
        raise ValueError(f"{wanted}; got {bad.tolist()[:5]}")
    frame = np.full(len(frames), -1, dtype=np.int64)
    frame[~whole] = numbers.astype(np.int64)
    return pd.DataFrame({"source": pd.Series(sources, dtype=str), "frame": frame})


def requests_by_source(table: pd.DataFrame) -> list[Request]:
    """The request table → one request per source, in first-seen order, frames sorted."""
    table = table.drop_duplicates(["source", "frame"])
    codes, sources = pd.factorize(table["source"])
    frames = table["frame"].to_numpy()
    order = np.lexsort((frames, codes))  # by source, then frame (-1, "every frame", first)
    codes, frames = codes[order], frames[order]
    starts = np.flatnonzero(np.diff(codes)) + 1
    groups = np.split(frames, starts) if len(frames) else []
    return [
        Request(str(src), None if group[0] < 0 else group.tolist())
        for src, group in zip(sources, groups, strict=True)
    ]
