"""Fixture writers for the AU datasets: DISFA (videos + intensity files) and BP4D (frames + CSVs).

Each dataset has a pure *plan* (labels and render instructions, no IO) and a writer that
renders and lays the plan out on disk. Tests compare a reader's output with the plan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import BP4D_AUS, DISFA_AUS, DISFA_PRESENCE_THRESHOLD, au_name
from libreface_nb.data.fixtures import DEFAULT_SIZES, Backend, derive_seed, encode_jpeg, write_file
from libreface_nb.data.folds import DISFA_PARTS
from libreface_nb.errors import DatasetLayoutError

#: Seed streams, so that DISFA and BP4D fixtures with one seed do not share draws.
_DISFA, _BP4D = 1, 2
DISFA_FPS = 20.0  # DISFA videos are 20 frames/s (Mavadati et al. 2013)
#: AU columns written to a BP4D AU_OCC CSV (column "0" is the frame number).
BP4D_CSV_AUS: tuple[int, ...] = tuple(range(1, 28))
BP4D_TASKS: tuple[str, ...] = tuple(f"T{i}" for i in range(1, 9))


def disfa_subject_ids(n: int) -> list[str]:
    """DISFA ids taken from the three published parts in turn (SN002, SN013, SN003, …).

    With three or more subjects every part of :func:`~libreface_nb.data.folds.disfa_three_fold`
    has a test subject, so the real partition runs on the fixture.
    """
    ids = [part[i] for i in range(len(DISFA_PARTS[0])) for part in DISFA_PARTS]
    if not 1 <= n <= len(ids):
        raise DatasetLayoutError(f"a DISFA fixture holds 1–{len(ids)} subjects, not {n}")
    return ids[:n]


def bp4d_subject_ids(n: int) -> list[str]:
    """BP4D-style ids alternating women and men: F001, M001, F002, …"""
    return [f"{'FM'[i % 2]}{i // 2 + 1:03d}" for i in range(n)]


def disfa_plan(seed: int, sizes: dict, backend: Backend) -> pd.DataFrame:
    """One row per video frame: ``subject``, ``subject_idx``, ``native_frame`` (from 1),
    integer intensities ``AU01``… in DISFA order, and the ``frame_seed`` used to render it."""
    sizes = {**DEFAULT_SIZES["disfa"], **sizes}
    rows = []
    for i, subject in enumerate(disfa_subject_ids(sizes["n_subjects"])):
        curves = backend.au_curves(sizes["n_frames"], list(DISFA_AUS), derive_seed(seed, _DISFA, i))
        labels = np.clip(np.rint(np.asarray(curves, dtype=np.float64)), 0, 5).astype(np.int64)
        table = pd.DataFrame(labels, columns=[au_name(a) for a in DISFA_AUS])
        table.insert(0, "native_frame", np.arange(1, len(table) + 1))
        table.insert(0, "subject_idx", i)
        table.insert(0, "subject", subject)
        table["frame_seed"] = [derive_seed(seed, _DISFA, i, t) for t in range(len(table))]
        rows.append(table)
    return pd.concat(rows, ignore_index=True)


def _write_video(path: Path, frames: list[np.ndarray], size: int) -> None:
    """Motion-JPEG AVI at DISFA's frame rate; frames are uint8 RGB [size, size, 3]."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), DISFA_FPS, (size, size))
    if not writer.isOpened():
        raise DatasetLayoutError(f"{path}: cv2.VideoWriter cannot write MJPG here")
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()


def write_disfa(folder: Path, seed: int, sizes: dict, backend: Backend) -> None:
    """Lay out a DISFA fixture: left-camera videos and 12 label files per subject."""
    plan = disfa_plan(seed, sizes, backend)
    subjects = backend.make_subjects(sizes["n_subjects"], seed)
    size = sizes["size"]
    for (subject, idx), rows in plan.groupby(["subject", "subject_idx"], sort=False):
        frames = [
            backend.render_face(
                subjects[idx],
                {a: float(r[au_name(a)]) for a in DISFA_AUS},
                size=size,
                frame_seed=int(r["frame_seed"]),
            )
            for _, r in rows.iterrows()
        ]
        _write_video(folder / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi", frames, size)
        for au in DISFA_AUS:
            lines = "".join(
                f"{n},{v}\n" for n, v in zip(rows["native_frame"], rows[au_name(au)], strict=True)
            )
            write_file(folder / "ActionUnit_Labels" / subject / f"{subject}_au{au}.txt", lines)


def _bp4d_session(seed: int, i: int, j: int, n_frames: int, backend: Backend) -> pd.DataFrame:
    """Labels of one subject/task: occurrence 0/1 (NaN where the CSV will say 9) and the
    intensities to render (the AU curve where present, 0 where absent)."""
    rng = np.random.default_rng(derive_seed(seed, _BP4D, i, j))
    curves = np.asarray(
        backend.au_curves(n_frames, list(BP4D_AUS), derive_seed(seed, _BP4D, i, j, 1))
    )
    present = curves >= DISFA_PRESENCE_THRESHOLD
    labels = present.astype(np.float32)
    # Unknowns: one AU over a short run, and one frame where nothing was codable.
    au_col = int(rng.integers(len(BP4D_AUS)))
    run = int(rng.integers(0, max(1, n_frames - 3)))
    labels[run : run + 3, au_col] = np.nan
    labels[int(rng.integers(n_frames)), :] = np.nan
    start = 1 + int(rng.integers(0, 900))  # coded segments do not start at frame 1
    table = pd.DataFrame(labels, columns=[au_name(a) for a in BP4D_AUS])
    for k, au in enumerate(BP4D_AUS):
        table[f"render_{au}"] = np.where(present[:, k], curves[:, k], 0.0)
    table.insert(0, "native_frame", np.arange(start, start + n_frames))
    table["frame_seed"] = [derive_seed(seed, _BP4D, i, j, 2, t) for t in range(n_frames)]
    return table


def bp4d_plan(seed: int, sizes: dict, backend: Backend) -> pd.DataFrame:
    """One row per frame image: ``subject``, ``subject_idx``, ``session`` (task),
    ``native_frame``, occurrence labels ``AU01``… (NaN = unknown), ``render_<au>``
    intensities and ``frame_seed``."""
    sizes = {**DEFAULT_SIZES["bp4d"], **sizes}
    if not 1 <= sizes["n_tasks"] <= len(BP4D_TASKS):
        raise DatasetLayoutError(f"a BP4D fixture holds 1–8 tasks, not {sizes['n_tasks']}")
    parts = []
    for i, subject in enumerate(bp4d_subject_ids(sizes["n_subjects"])):
        for j, task in enumerate(BP4D_TASKS[: sizes["n_tasks"]]):
            table = _bp4d_session(seed, i, j, sizes["n_frames"], backend)
            parts.append(table.assign(subject=subject, subject_idx=i, session=task))
    return pd.concat(parts, ignore_index=True)


def _occ_csv(rows: pd.DataFrame) -> str:
    """AU_OCC CSV text: header ``0,1,2,…``; AUs we do not render are written 0; NaN → 9."""
    lines = [",".join(["0"] + [str(a) for a in BP4D_CSV_AUS])]
    for _, r in rows.iterrows():
        cells = [str(int(r["native_frame"]))]
        for au in BP4D_CSV_AUS:
            value = r[au_name(au)] if au in BP4D_AUS else 0.0
            cells.append("9" if np.isnan(value) else str(int(value)))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_bp4d(folder: Path, seed: int, sizes: dict, backend: Backend) -> None:
    """Lay out a BP4D fixture: ``Sequences/<subject>/<task>/<frame>.jpg`` plus AU_OCC CSVs."""
    plan = bp4d_plan(seed, sizes, backend)
    subjects = backend.make_subjects(sizes["n_subjects"], seed)
    for (subject, task, idx), rows in plan.groupby(
        ["subject", "session", "subject_idx"], sort=False
    ):
        for _, r in rows.iterrows():
            image = backend.render_face(
                subjects[idx],
                {a: float(r[f"render_{a}"]) for a in BP4D_AUS},
                size=sizes["size"],
                frame_seed=int(r["frame_seed"]),
            )
            name = f"{int(r['native_frame']):04d}.jpg"
            write_file(folder / "Sequences" / subject / task / name, encode_jpeg(image))
        write_file(folder / "AUCoding" / "AU_OCC" / f"{subject}_{task}.csv", _occ_csv(rows))
