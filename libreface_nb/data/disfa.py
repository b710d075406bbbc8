"""DISFA reader: the layout its providers ship, read into the index format.

Layout (Mavadati et al. 2013; as unpacked by users, see ``data_cards/disfa.md``)::

    <root>/ActionUnit_Labels/SN001/SN001_au1.txt    "frame,intensity" lines, frames from 1
    <root>/Videos_LeftCamera/LeftVideoSN001_comp.avi
    <root>/Videos_RightCamera/RightVideoSN001_comp.avi

Variants seen in the wild and accepted here: ``Video_LeftCamera`` for the video folder,
``leftVideoSN001_Comp.avi`` capitalisation, and a ``root`` that is the parent of a ``DISFA``
folder. Label frame ``n`` is video frame ``n - 1`` (0-based). AU columns follow
:data:`libreface_nb.config.DISFA_AUS`; intensities are 0–5.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import DISFA_AUS, INTENSITY_MAX, au_name
from libreface_nb.data.fixtures import au as fixture_au
from libreface_nb.data.folds import disfa_three_fold
from libreface_nb.data.index import attach_excluded, build_index, excluded_table, resolve_root
from libreface_nb.data.registry import DatasetSpec
from libreface_nb.errors import DatasetLayoutError

log = logging.getLogger(__name__)

LABEL_DIR = "ActionUnit_Labels"
CAMERAS = ("left", "right")
SUBJECT = re.compile(r"^SN\d{3}$")


def label_path(root: Path, subject: str, au: int) -> Path:
    """``<root>/ActionUnit_Labels/SN001/SN001_au1.txt``."""
    return root / LABEL_DIR / subject / f"{subject}_au{au}.txt"


def video_folder_names(camera: str) -> list[str]:
    """Folder names used for one camera's videos (the first is what we write)."""
    cam = camera.capitalize()
    return [f"Videos_{cam}Camera", f"Video_{cam}Camera"]


def video_name(subject: str, camera: str) -> str:
    """``LeftVideoSN001_comp.avi``."""
    return f"{camera.capitalize()}Video{subject}_comp.avi"


def read_label_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse one ``SNxxx_auN.txt`` file.

    Returns:
        frames int64 [N] (the file's own numbers) and intensities float32 [N] in 0–5.

    Raises:
        DatasetLayoutError: missing file, malformed line, value out of range, repeated frame.
    """
    if not path.is_file():
        raise DatasetLayoutError(
            f"DISFA label file missing: {path} (expected 'frame,intensity' lines)"
        )
    table = pd.read_csv(
        path, header=None, names=["frame", "intensity"], dtype=str, skip_blank_lines=True
    )
    numbers = table.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna().any(axis=1) | (numbers % 1 != 0).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        line = ",".join(str(v) for v in table.iloc[i].tolist())
        raise DatasetLayoutError(
            f"{path}: row {i + 1} is {line!r}, expected 'frame,intensity' integers"
        )
    frames = numbers["frame"].to_numpy(dtype=np.int64)
    values = numbers["intensity"].to_numpy(dtype=np.float32)
    if len(frames) == 0:
        raise DatasetLayoutError(f"{path}: empty label file")
    if ((values < 0) | (values > INTENSITY_MAX)).any():
        raise DatasetLayoutError(f"{path}: intensities outside 0–{INTENSITY_MAX:g}")
    if (frames < 1).any() or len(np.unique(frames)) != len(frames):
        raise DatasetLayoutError(f"{path}: frame numbers must be unique and start from 1")
    return frames, values


def read_subject_labels(root: Path, subject: str, aus: Sequence[int]) -> pd.DataFrame:
    """All AU files of one subject as a table: ``native_frame`` plus one column per AU.

    Raises:
        DatasetLayoutError: when an AU file is missing or its frames differ from the first.
    """
    ref_path = label_path(root, subject, aus[0])
    ref_frames, ref_values = read_label_file(ref_path)
    table = {"native_frame": ref_frames, au_name(aus[0]): ref_values}
    for au in aus[1:]:
        path = label_path(root, subject, au)
        frames, values = read_label_file(path)
        if len(frames) != len(ref_frames):
            raise DatasetLayoutError(
                f"{path}: {len(frames)} label lines, but {ref_path} has {len(ref_frames)}"
            )
        if not np.array_equal(frames, ref_frames):
            raise DatasetLayoutError(f"{path}: frame numbers differ from those in {ref_path}")
        table[au_name(au)] = values
    return pd.DataFrame(table)


def find_video(root: Path, subject: str, camera: str) -> Path:
    """The subject's video for ``camera``, tolerant of folder and capitalisation variants."""
    wanted = video_name(subject, camera).lower()
    for folder in video_folder_names(camera):
        if (root / folder).is_dir():
            for path in sorted((root / folder).iterdir()):
                if path.name.lower() == wanted:
                    return path
    expected = root / video_folder_names(camera)[0] / video_name(subject, camera)
    raise DatasetLayoutError(f"DISFA video missing for {subject}: expected {expected}")


def count_video_frames(path: Path) -> int:
    """Frames in a video, counted by grabbing every frame (exact, but reads the whole file)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DatasetLayoutError(f"{path}: cannot open video")
    n = 0
    while capture.grab():
        n += 1
    capture.release()
    return n


def reported_frame_count(path: Path) -> int:
    """The frame count the container declares (cv2 ``CAP_PROP_FRAME_COUNT``); 0 if unknown.

    Cheap (reads the header, decodes nothing) but not exact, in either direction. Measured
    with opencv-contrib-python 4.11 (FFmpeg backend) on MJPG AVIs: a file cut to half its
    bytes still reports all 200 frames while 95 decode (over-report, as ENV_FACTS says); a
    file whose stream header says 50 frames reports 50 while 200 decode, and an AVI whose
    writer never closed it reports 0 while 297 decode (under-report).
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DatasetLayoutError(f"{path}: cannot open video")
    value = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    capture.release()
    return int(value) if value > 0 else 0  # NaN and negatives mean "unknown"


#: Labels may run this many frames past a video's decodable end before reading fails: real DISFA
#: label files and videos can differ by a frame (data_cards/disfa.md). Such label rows are left
#: out of the index and counted in ``attrs["excluded"]``.
END_TOLERANCE = 2


def check_frame_count(
    video: Path, label_file: Path, native_frames: np.ndarray, *, exact: bool = False
) -> int | None:
    """Check that a video holds the labelled frames (label frame ``n`` = video frame ``n - 1``).

    Default (cheap): the container's declared count. Because it can under-report, a shortfall
    is confirmed by decoding; because it can over-report, a truncated video passes this check
    (use ``exact``). Labels up to :data:`END_TOLERANCE` frames past the decoded end are
    reported (the caller leaves them out); more raise. More frames than labels is only logged.
    ``exact``: decode and count every frame and require one label per frame.

    Args:
        native_frames: int [N] label frame numbers (from 1) of one subject.

    Returns:
        The decodable frame count when some labels lie past it (drop those labels), else None.

    Raises:
        DatasetLayoutError: naming ``video`` and ``label_file``, when labels run more than
            END_TOLERANCE frames past the video's last frame, or (``exact``) when the counts
            differ at all.
    """
    n_labels, last = len(native_frames), int(np.max(native_frames))
    if exact:
        n_video = count_video_frames(video)
        if n_video != n_labels or last > n_video:
            raise DatasetLayoutError(
                f"{video}: {n_video} frames, but {label_file} labels {n_labels} frames "
                f"(up to frame {last}); check_frames=True requires one label per frame"
            )
        return None
    n_video, how = reported_frame_count(video), "as its container reports"
    if last > n_video:
        n_video, how = count_video_frames(video), "decoded"  # the header may under-report
        if last > n_video + END_TOLERANCE:
            raise DatasetLayoutError(
                f"{label_file} labels frames up to {last}, but {video} has only {n_video} "
                "frames (counted by decoding)"
            )
        if last > n_video:
            log.warning(
                "%s labels %d frame(s) past the end of %s (%d frames); those labels are left "
                "out of the index", label_file, last - n_video, video, n_video,
            )  # fmt: skip
            return n_video
        log.warning("%s: the container under-reports its frames; %d decode", video, n_video)
    if n_video > n_labels:
        log.warning(
            "%s: %d frames (%s), but %s labels %d; the unlabelled frames are left out of the index",
            video, n_video, how, label_file, n_labels,
        )  # fmt: skip
    return None


def list_subjects(root: Path) -> list[str]:
    """Subject folders (``SN001`` …) under ``ActionUnit_Labels``, sorted."""
    label_dir = root / LABEL_DIR
    subjects = sorted(p.name for p in label_dir.iterdir() if p.is_dir() and SUBJECT.match(p.name))
    if not subjects:
        raise DatasetLayoutError(f"DISFA: no SNxxx subject folders in {label_dir}")
    return subjects


def read_index(
    root: str | Path,
    *,
    camera: str = "left",
    aus: Sequence[int] = DISFA_AUS,
    subjects: Sequence[str] | None = None,
    check_frames: bool = False,
) -> pd.DataFrame:
    """Read a DISFA root into the index format (one row per labelled video frame).

    Args:
        root: the DISFA folder (holding ``ActionUnit_Labels``) or its parent.
        camera: ``"left"`` or ``"right"``; stored in ``session``.
        aus: AU numbers to read, in column order.
        subjects: restrict to these subjects (default: every ``SNxxx`` label folder).
        check_frames: count each video's frames by decoding and require exactly one label
            per frame (slow on the real videos: it reads every frame). By default only the
            container's declared count is read (see :func:`check_frame_count`): labels past
            the video's end raise, a video with more frames than labels logs a warning.

    Raises:
        DatasetLayoutError: wrong root, missing label file or video, a video that cannot be
            opened, label files of one subject that disagree, labels past the video's last
            frame, or (``check_frames``) any label/frame count mismatch.
    """
    if camera not in CAMERAS:
        raise DatasetLayoutError(f"DISFA camera must be one of {CAMERAS}, not {camera!r}")
    root = resolve_root(root, LABEL_DIR, ["DISFA", "disfa"], "DISFA")
    available = list_subjects(root)
    chosen = list(subjects) if subjects is not None else available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise DatasetLayoutError(f"DISFA: subjects {unknown} have no folder in {root / LABEL_DIR}")
    parts, excluded = [], []
    for subject in chosen:
        labels = read_subject_labels(root, subject, aus)
        video = find_video(root, subject, camera)
        end = check_frame_count(
            video,
            label_path(root, subject, aus[0]),
            labels["native_frame"].to_numpy(),
            exact=check_frames,
        )
        if end is not None:
            past = labels["native_frame"] > end
            excluded.append(("", subject, f"labels past the end of {video.name}", int(past.sum())))
            labels = labels.loc[~past]
        labels.insert(0, "source", str(video))
        labels.insert(0, "subject", subject)
        parts.append(labels)
    table = pd.concat(parts, ignore_index=True)
    columns = {
        "dataset": "disfa",
        "subject": table["subject"],
        "session": camera,
        "source": table["source"],
        "frame": table["native_frame"] - 1,  # label frames count from 1, decoders from 0
        "native_frame": table["native_frame"],
        "split": "",
    }
    au_cols = [au_name(a) for a in aus]
    columns.update({c: table[c] for c in au_cols})
    df = build_index(columns, au_cols)
    log.info("DISFA: %d frames of %d subjects from %s", len(df), len(chosen), root)
    return attach_excluded(df, excluded_table(excluded), "DISFA")


#: The registry entry (:mod:`libreface_nb.data.registry`).
SPEC = DatasetSpec(
    name="disfa",
    read_index=read_index,
    write_fixture=fixture_au.write_disfa,
    fixture_sizes=fixture_au.DISFA_SIZES,
    notebook_sizes=fixture_au.disfa_notebook_sizes,
    published_folds=disfa_three_fold,
    card="disfa.md",
)
