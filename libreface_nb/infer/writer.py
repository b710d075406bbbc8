"""Write :func:`libreface_nb.predict` results to CSV or Parquet as they stream in.

Rows reach the file chunk by chunk (memory stays flat for long videos) in a temporary file beside
the target, renamed over it when the last chunk is in (:func:`libreface_nb.atomic.atomic_path`):
a file under its final name is always complete, so ``--out-dir`` can skip inputs already done
and several processes can share one corpus. The columns are those of
:mod:`libreface_nb.infer.columns` (CSV: ``NaN`` written as an empty field).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from libreface_nb.atomic import atomic_path
from libreface_nb.errors import ConfigError
from libreface_nb.infer.backends import Backend
from libreface_nb.infer.columns import openface
from libreface_nb.infer.pipeline import PredictOptions, StageTimes, iter_predictions

FORMATS = {".csv": "csv", ".parquet": "parquet"}


def file_format(path: str | Path) -> str:
    """``csv`` or ``parquet`` from the suffix; a clear error otherwise."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: results are written as .csv or .parquet")
    return fmt


class _Sink:
    """Appends DataFrame chunks to one CSV or Parquet file with a fixed schema."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt, self.writer, self.schema, self.rows = path, fmt, None, None, 0

    def add(self, df: pd.DataFrame) -> None:
        if self.fmt == "csv":
            df.to_csv(self.path, mode="a", header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self.writer is None:
                table = pa.Table.from_pandas(df, preserve_index=False)
                self.schema = table.schema
                self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
            else:
                table = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
            self.writer.write_table(table)
        self.rows += len(df)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def predict_to_file(
    paths: Iterable[str | Path] | str | Path,
    out: str | Path,
    backend: Backend,
    opts: PredictOptions | None = None,
    *,
    openface_columns: bool = False,
    times: StageTimes | None = None,
    progress: Any = None,
) -> dict[str, int]:
    """Stream the results of ``paths`` into ``out`` (.csv or .parquet).

    Args:
        paths, backend, opts: as for :func:`libreface_nb.infer.pipeline.iter_predictions`.
        out: the results file, written atomically.
        openface_columns: OpenFace 2.0 column names.
        times: a :class:`StageTimes` to fill.
        progress: a tqdm bar to advance by rows (None: no bar).

    Returns:
        Rows written per status (``{"ok": 40, "no_face": 3}``); their sum is the row count.
    """
    out = Path(out)
    fmt = file_format(out)
    counts: dict[str, int] = {}
    with atomic_path(out) as tmp:
        tmp.unlink()  # the sink creates it (CSV appends; Parquet opens its own writer)
        sink = _Sink(tmp, fmt)
        try:
            for part in iter_predictions(paths, backend, opts, times):
                for status, n in part["status"].value_counts().items():
                    counts[status] = counts.get(status, 0) + int(n)
                sink.add(openface(part) if openface_columns else part)
                if progress is not None:
                    progress.update(len(part))
        finally:
            sink.close()
        if sink.rows == 0:  # nothing to read: still write a valid, empty file
            tmp.write_text("")
    return counts
