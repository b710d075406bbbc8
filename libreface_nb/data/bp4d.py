"""BP4D-Spontaneous reader: frame folders plus AU occurrence CSVs, read into the index format.

Layout (Zhang et al. 2014; see ``data_cards/bp4d.md`` for sources)::

    <root>/AUCoding/AU_OCC/F001_T1.csv       header row: frame column, then AU numbers
    <root>/Sequences/F001/T1/0001.jpg        one JPEG per frame, named by frame number

In the CSVs the first column is the frame number and the column headed ``n`` holds AU ``n``:
1 = present, 0 = absent, 9 = unknown (read as NaN, never as 0). Frame images may be named with
or without zero padding (``12.jpg``, ``012.jpg``, ``0012.jpg``); the folder may be called
``Sequences`` or ``Sequences(2D+3D)``. AU columns follow :data:`libreface_nb.config.BP4D_AUS`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import BP4D_AUS, au_name
from libreface_nb.data.fixtures import au as fixture_au
from libreface_nb.data.folds import bp4d_three_fold
from libreface_nb.data.index import attach_excluded, build_index, excluded_table, resolve_root
from libreface_nb.data.registry import DatasetSpec
from libreface_nb.errors import DatasetLayoutError

log = logging.getLogger(__name__)

OCC_DIR = Path("AUCoding") / "AU_OCC"
FRAME_DIRS = ("Sequences", "Sequences(2D+3D)", "2D+3D")
CSV_NAME = re.compile(r"^([FM]\d{3})_(T\d+)\.csv$")
AU_HEADER = re.compile(r"^(?:AU)?0*(\d+)$", re.IGNORECASE)
UNKNOWN = 9
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def occ_path(root: Path, subject: str, task: str) -> Path:
    """``<root>/AUCoding/AU_OCC/F001_T1.csv``."""
    return root / OCC_DIR / f"{subject}_{task}.csv"


def read_occ_file(path: Path, aus: Sequence[int]) -> pd.DataFrame:
    """One AU_OCC CSV as ``native_frame`` plus float32 AU columns (NaN where 9).

    Raises:
        DatasetLayoutError: unreadable file, a requested AU without a column, a value other
            than 0, 1 or 9, or repeated frame numbers.
    """
    try:
        raw = pd.read_csv(path, dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DatasetLayoutError(f"{path}: cannot read AU occurrence CSV ({err})") from err
    by_au = {}
    for col in raw.columns[1:]:
        match = AU_HEADER.match(str(col).strip())
        if match:
            by_au[int(match.group(1))] = col
    missing = [a for a in aus if a not in by_au]
    if missing:
        raise DatasetLayoutError(f"{path}: no column for AUs {missing} in the header row")
    frames = pd.to_numeric(raw.iloc[:, 0], errors="coerce")
    if frames.isna().any() or (frames % 1 != 0).any():
        raise DatasetLayoutError(f"{path}: first column must hold integer frame numbers")
    table = {"native_frame": frames.to_numpy(dtype=np.int64)}
    for au in aus:
        values = pd.to_numeric(raw[by_au[au]], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isin(values, (0, 1, UNKNOWN))
        if bad.any():
            i = int(np.argmax(bad))
            raise DatasetLayoutError(
                f"{path}: AU{au} is {raw[by_au[au]].iloc[i]!r} at frame "
                f"{table['native_frame'][i]}; expected 0, 1 or 9 (unknown)"
            )
        values[values == UNKNOWN] = np.nan  # unknown stays unknown: masked, never 0
        table[au_name(au)] = values.astype(np.float32)
    if len(np.unique(table["native_frame"])) != len(frames):
        raise DatasetLayoutError(f"{path}: repeated frame numbers")
    return pd.DataFrame(table)


def frame_folder(root: Path, subject: str, task: str) -> Path:
    """The folder of one subject/task's frames, under any accepted frames-folder name."""
    for name in FRAME_DIRS:
        folder = root / name / subject / task
        if folder.is_dir():
            return folder
    raise DatasetLayoutError(
        f"BP4D frames missing for {subject}/{task}: "
        f"expected a folder {root / FRAME_DIRS[0] / subject / task}"
    )


def frame_files(folder: Path) -> dict[int, Path]:
    """Map frame number → image path for every numerically named image in ``folder``.

    Raises:
        DatasetLayoutError: when two images name the same frame (``1.jpg`` and ``001.jpg``,
            or ``1.jpg`` and ``1.png``): which one is the labelled frame cannot be guessed.
    """
    files: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.stem.isdigit():
            number = int(path.stem)
            if number in files:
                raise DatasetLayoutError(
                    f"BP4D: {files[number]} and {path} are both frame {number}; keep one of them"
                )
            files[number] = path
    return files


def list_sessions(root: Path) -> list[tuple[str, str]]:
    """(subject, task) pairs that have an AU_OCC CSV, sorted."""
    pairs = []
    for path in (root / OCC_DIR).iterdir():
        match = CSV_NAME.match(path.name)
        if match:
            pairs.append((match.group(1), match.group(2)))
    if not pairs:
        raise DatasetLayoutError(f"BP4D: no <subject>_<task>.csv files in {root / OCC_DIR}")
    return sorted(pairs)


def _attach_sources(
    labels: pd.DataFrame, folder: Path, csv: Path, missing_frames: str
) -> tuple[pd.DataFrame, int]:
    """Add ``source`` per labelled frame; drop or raise on frames without an image."""
    files = frame_files(folder)
    sources = [files.get(int(n)) for n in labels["native_frame"]]
    missing = [int(n) for n, s in zip(labels["native_frame"], sources, strict=True) if s is None]
    if missing and missing_frames == "error":
        raise DatasetLayoutError(
            f"{csv}: {len(missing)} labelled frames have no image in {folder} "
            f"(first: frame {missing[0]}); pass missing_frames='drop' to skip them"
        )
    labels = labels.assign(source=[str(s) if s is not None else "" for s in sources])
    return labels[labels["source"] != ""], len(missing)


def read_index(
    root: str | Path,
    *,
    aus: Sequence[int] = BP4D_AUS,
    subjects: Sequence[str] | None = None,
    missing_frames: str = "error",
) -> pd.DataFrame:
    """Read a BP4D root into the index format (one row per labelled frame image).

    Args:
        root: the BP4D folder (holding ``AUCoding/AU_OCC``) or its parent.
        aus: AU numbers to read, in column order.
        subjects: restrict to these subjects (default: all with a CSV).
        missing_frames: ``"error"`` (default) raises when a labelled frame has no image;
            ``"drop"`` leaves such rows out and counts them in ``df.attrs["excluded"]``.

    Raises:
        DatasetLayoutError: wrong root, missing frame folder, malformed CSV, or a labelled
            frame without an image (``missing_frames="error"``).
    """
    if missing_frames not in ("error", "drop"):
        raise DatasetLayoutError(
            f"missing_frames must be 'error' or 'drop', not {missing_frames!r}"
        )
    root = resolve_root(root, str(OCC_DIR), ["BP4D", "BP4D-Spontaneous", "bp4d"], "BP4D")
    sessions = list_sessions(root)
    if subjects is not None:
        unknown = sorted(set(subjects) - {s for s, _ in sessions})
        if unknown:
            raise DatasetLayoutError(f"BP4D: subjects {unknown} have no CSV in {root / OCC_DIR}")
        sessions = [(s, t) for s, t in sessions if s in set(subjects)]
    parts, n_missing = [], 0
    for subject, task in sessions:
        csv = occ_path(root, subject, task)
        labels = read_occ_file(csv, aus)
        labels, dropped = _attach_sources(
            labels, frame_folder(root, subject, task), csv, missing_frames
        )
        n_missing += dropped
        parts.append(labels.assign(subject=subject, session=task))
    table = pd.concat(parts, ignore_index=True)
    au_cols = [au_name(a) for a in aus]
    columns = {
        "dataset": "bp4d",
        "subject": table["subject"],
        "session": table["session"],
        "source": table["source"],
        "frame": 0,  # still images
        "native_frame": table["native_frame"],
        "split": "",
    }
    columns.update({c: table[c] for c in au_cols})
    df = build_index(columns, au_cols)
    excluded = excluded_table(
        [("", "all", "labelled frame without image", n_missing)] if n_missing else []
    )
    log.info("BP4D: %d frames of %d sessions from %s", len(df), len(sessions), root)
    return attach_excluded(df, excluded, "BP4D")


#: The registry entry (:mod:`libreface_nb.data.registry`).
SPEC = DatasetSpec(
    name="bp4d",
    read_index=read_index,
    write_fixture=fixture_au.write_bp4d,
    fixture_sizes=fixture_au.BP4D_SIZES,
    notebook_sizes=fixture_au.bp4d_notebook_sizes,
    published_folds=bp4d_three_fold,
    card="bp4d.md",
)
