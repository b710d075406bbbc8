"""Readers of the native layouts: values read back, unknowns masked, bad layouts named.

Fixtures are written with a cheap stand-in renderer (the readers only parse files); the
real renderer is exercised in test_fixtures.py.
"""

from __future__ import annotations

import logging
import shutil
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from libreface_nb.config import BP4D_AUS, DISFA_AUS, EXPRESSIONS, RAFDB_TO_FER, au_name
from libreface_nb.data import affectnet, bp4d, cards, disfa, rafdb
from libreface_nb.data.fixtures import load_backend, make_fixture
from libreface_nb.data.fixtures.au import bp4d_plan, disfa_plan
from libreface_nb.data.fixtures.fer import affectnet_plan
from libreface_nb.data.index import REQUIRED_COLUMNS, build_index, excluded_counts, validate_index
from libreface_nb.errors import DatasetLayoutError, LibreFaceError


def _render(subject, intensities, *, size=256, frame_seed=0, pose=True):
    rng = np.random.default_rng(frame_seed + zlib.crc32(str(subject).encode()))
    return rng.integers(60, 200, (size, size, 3), dtype=np.uint8)


def _curves(n_frames, aus, seed, *, n_events=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 5, (n_frames, len(aus))).astype(np.float32)


FAKE = SimpleNamespace(
    make_subjects=lambda n, seed: list(range(n)),
    render_face=_render,
    au_curves=_curves,
    expression_intensities=lambda e, seed: {12: float(e)},
)
SIZES = {
    "disfa": {"n_subjects": 3, "n_frames": 5, "size": 48},
    "bp4d": {"n_subjects": 2, "n_tasks": 2, "n_frames": 6, "size": 48},
    "rafdb": {"n_train": 9, "n_test": 4, "size": 48},
    "affectnet": {"n_train": 12, "n_validation": 4, "size": 48},
}


def _fixture(tmp_path: Path, name: str) -> Path:
    return make_fixture(name, tmp_path / "cache", synth=FAKE, **SIZES[name])


def _plan(name: str) -> pd.DataFrame:
    plans = {"disfa": disfa_plan, "bp4d": bp4d_plan, "affectnet": affectnet_plan}
    return plans[name](0, {**SIZES[name]}, load_backend(synth=FAKE))


# --- DISFA --------------------------------------------------------------------------------


def test_disfa_reads_back_what_was_written(tmp_path):
    folder = _fixture(tmp_path, "disfa")
    index = validate_index(disfa.read_index(folder, check_frames=True))
    plan = _plan("disfa").sort_values(["subject", "native_frame"], ignore_index=True)
    assert list(index.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert list(index["subject"].unique()) == ["SN002", "SN003", "SN013"]
    assert list(index["native_frame"]) == list(plan["native_frame"])
    assert (index["frame"] == index["native_frame"] - 1).all() and index["frame"].min() == 0
    assert set(index["session"]) == {"left"} and set(index["split"]) == {""}
    cols = [au_name(a) for a in DISFA_AUS]
    assert all(index[c].dtype == np.float32 for c in cols)
    np.testing.assert_array_equal(index[cols].to_numpy(), plan[cols].to_numpy(np.float32))
    assert all(Path(s).is_absolute() and Path(s).is_file() for s in index["source"])


def test_disfa_parent_root_and_subject_filter(tmp_path):
    _fixture(tmp_path, "disfa")
    index = disfa.read_index(tmp_path / "cache", subjects=["SN003"])
    assert set(index["subject"]) == {"SN003"} and len(index) == 5


def test_disfa_wrong_root_names_it(tmp_path):
    with pytest.raises(DatasetLayoutError, match=str(tmp_path)):
        disfa.read_index(tmp_path)
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        disfa.read_index(tmp_path / "nowhere")


def test_disfa_missing_label_file_named(tmp_path):
    folder = _fixture(tmp_path, "disfa")
    victim = folder / "ActionUnit_Labels/SN013/SN013_au15.txt"
    victim.unlink()
    with pytest.raises(DatasetLayoutError, match=str(victim)):
        disfa.read_index(folder)


def test_disfa_label_count_mismatch_names_file(tmp_path):
    folder = _fixture(tmp_path, "disfa")
    victim = folder / "ActionUnit_Labels/SN003/SN003_au9.txt"
    victim.write_text("".join(victim.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(DatasetLayoutError, match=str(victim)) as err:
        disfa.read_index(folder)
    assert "4 label lines" in str(err.value)


def test_disfa_bad_value_and_bad_line_named(tmp_path):
    folder = _fixture(tmp_path, "disfa")
    victim = folder / "ActionUnit_Labels/SN002/SN002_au1.txt"
    victim.write_text("1,0\n2,7\n3,0\n4,0\n5,0\n")
    with pytest.raises(DatasetLayoutError, match="outside 0–5"):
        disfa.read_index(folder)
    victim.write_text("1,0\n2;1\n3,0\n4,0\n5,0\n")
    with pytest.raises(DatasetLayoutError, match="row 2"):
        disfa.read_index(folder)


def test_disfa_video_checks(tmp_path):
    folder = _fixture(tmp_path, "disfa")
    video = folder / "Videos_LeftCamera/LeftVideoSN002_comp.avi"
    # Variant names found in the wild are accepted.
    variant = folder / "Video_LeftCamera"
    (folder / "Videos_LeftCamera").rename(variant)
    (variant / video.name).rename(variant / "leftVideoSN002_Comp.avi")
    index = disfa.read_index(folder, check_frames=True)
    assert Path(index["source"][0]).name == "leftVideoSN002_Comp.avi"
    # A video with fewer frames than labels (beyond the tolerance) is caught, by default and
    # when asked.
    other = variant / "LeftVideoSN013_comp.avi"
    shutil.copy(_short_video(tmp_path, 5 - disfa.END_TOLERANCE - 1), other)
    with pytest.raises(DatasetLayoutError, match=str(other)):
        disfa.read_index(folder)
    with pytest.raises(DatasetLayoutError, match=str(other)):
        disfa.read_index(folder, check_frames=True)
    (variant / "LeftVideoSN003_comp.avi").unlink()
    with pytest.raises(DatasetLayoutError, match="LeftVideoSN003_comp.avi"):
        disfa.read_index(folder)


def _edit_labels(folder: Path, subject: str, edit) -> Path:
    """Apply ``edit`` (text → text) to all 12 AU files of ``subject``; return the first one."""
    for path in sorted((folder / "ActionUnit_Labels" / subject).glob(f"{subject}_au*.txt")):
        path.write_text(edit(path.read_text()))
    return disfa.label_path(folder, subject, DISFA_AUS[0])  # the file the reader names


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_disfa_labels_past_the_video_end(tmp_path, caplog):
    folder = _fixture(tmp_path, "disfa")  # 5 frames per video, 5 label lines per file
    video = folder / "Videos_LeftCamera/LeftVideoSN013_comp.avi"
    # One or two labels past the end (as real DISFA files can have): left out, counted, logged.
    labels = _edit_labels(folder, "SN013", lambda t: t.rstrip("\n") + "\n6,0\n")
    with caplog.at_level(logging.WARNING):
        index = disfa.read_index(folder)
    assert index.loc[index.subject == "SN013", "native_frame"].max() == 5
    excluded = excluded_counts(index)
    assert excluded["count"].tolist() == [1] and "past the end" in excluded["reason"].iloc[0]
    assert any(str(labels) in w and str(video) in w for w in _warnings(caplog))
    with pytest.raises(DatasetLayoutError, match=str(video)):
        disfa.read_index(folder, check_frames=True)  # the exact check still refuses
    # More than END_TOLERANCE frames past the end: an error naming both files.
    _edit_labels(folder, "SN013", lambda t: t.rstrip("\n") + "\n7,0\n8,0\n")
    with pytest.raises(DatasetLayoutError, match="up to 8") as err:
        disfa.read_index(folder)
    assert str(video) in str(err.value) and str(labels) in str(err.value)


def test_disfa_more_frames_than_labels_warns_by_default(tmp_path, caplog):
    folder = _fixture(tmp_path, "disfa")
    labels = _edit_labels(folder, "SN002", lambda t: "".join(t.splitlines(keepends=True)[:-1]))
    video = folder / "Videos_LeftCamera/LeftVideoSN002_comp.avi"
    with caplog.at_level(logging.WARNING, logger="libreface_nb.data.disfa"):
        index = disfa.read_index(folder)
    assert (index["subject"] == "SN002").sum() == 4 and len(index) == 14
    (message,) = _warnings(caplog)
    assert str(video) in message and str(labels) in message and "5 frames" in message
    with pytest.raises(DatasetLayoutError, match=str(video)):
        disfa.read_index(folder, check_frames=True)  # the exact check still demands a match


def test_disfa_header_that_under_reports_is_confirmed_by_decoding(tmp_path, caplog):
    folder = _fixture(tmp_path, "disfa")
    video = folder / "Videos_LeftCamera/LeftVideoSN003_comp.avi"
    data = bytearray(video.read_bytes())
    at = data.index(b"strh") + 8 + 32  # AVISTREAMHEADER.dwLength: the stream's frame count
    data[at : at + 4] = (2).to_bytes(4, "little")
    video.write_bytes(bytes(data))
    assert disfa.reported_frame_count(video) == 2 and disfa.count_video_frames(video) == 5
    with caplog.at_level(logging.WARNING, logger="libreface_nb.data.disfa"):
        index = disfa.read_index(folder)
    assert (index["subject"] == "SN003").sum() == 5
    (message,) = _warnings(caplog)
    assert "under-reports" in message and str(video) in message


def test_disfa_truncated_video_needs_the_exact_check(tmp_path):
    folder = _fixture(tmp_path, "disfa")
    video = folder / "Videos_LeftCamera/LeftVideoSN013_comp.avi"
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])  # the header still declares 5 frames
    assert disfa.reported_frame_count(video) == 5 > disfa.count_video_frames(video)
    assert len(disfa.read_index(folder)) == 15  # the cheap default cannot see it ...
    with pytest.raises(DatasetLayoutError, match=str(video)):
        disfa.read_index(folder, check_frames=True)  # ... decoding does


def test_disfa_unreadable_video_named_by_default(tmp_path):
    folder = _fixture(tmp_path, "disfa")
    video = folder / "Videos_LeftCamera/LeftVideoSN003_comp.avi"
    video.write_bytes(b"not a video")
    with pytest.raises(DatasetLayoutError, match=f"{video}: cannot open video"):
        disfa.read_index(folder)


def _short_video(tmp_path: Path, n: int) -> Path:
    import cv2

    path = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (48, 48))
    for _ in range(n):
        writer.write(np.zeros((48, 48, 3), np.uint8))
    writer.release()
    return path


# --- BP4D ---------------------------------------------------------------------------------


def test_bp4d_reads_back_with_unknowns_as_nan(tmp_path):
    folder = _fixture(tmp_path, "bp4d")
    index = validate_index(bp4d.read_index(folder))
    plan = _plan("bp4d").sort_values(["subject", "session", "native_frame"], ignore_index=True)
    cols = [au_name(a) for a in BP4D_AUS]
    np.testing.assert_array_equal(index[cols].to_numpy(), plan[cols].to_numpy(np.float32))
    assert index[cols].isna().sum().sum() == plan[cols].isna().sum().sum() > 0
    assert set(np.unique(index[cols].to_numpy()[~np.isnan(index[cols].to_numpy())])) <= {0.0, 1.0}
    assert set(index["session"]) == {"T1", "T2"} and (index["frame"] == 0).all()
    names = [Path(s).stem for s in index["source"]]
    assert [int(n) for n in names] == list(index["native_frame"])


def test_bp4d_nine_is_nan_never_zero(tmp_path):
    root = tmp_path / "BP4D"
    (root / "AUCoding/AU_OCC").mkdir(parents=True)
    frames = root / "Sequences(2D+3D)/F007/T3"
    frames.mkdir(parents=True)
    for n in (8, 9, 10):
        (frames / f"{n}.jpg").write_bytes(b"jpg")  # unpadded names are accepted
    header = "0," + ",".join(str(a) for a in range(1, 25))
    unknown = {(8, 1), (9, 24)}
    rows = [
        f"{n}," + ",".join("9" if (n, a) in unknown else str(n % 2) for a in range(1, 25))
        for n in (8, 9, 10)
    ]
    (root / "AUCoding/AU_OCC/F007_T3.csv").write_text("\n".join([header, *rows]) + "\n")
    index = bp4d.read_index(tmp_path)  # parent of the BP4D folder
    assert np.isnan(index.loc[0, "AU01"]) and np.isnan(index.loc[1, "AU24"])
    assert (
        index.loc[1, "AU01"] == 1.0 and index.loc[0, "AU02"] == 0.0 and index.loc[2, "AU24"] == 0.0
    )
    assert list(index["native_frame"]) == [8, 9, 10]


def test_bp4d_missing_frames_raise_or_drop(tmp_path):
    folder = _fixture(tmp_path, "bp4d")
    images = sorted((folder / "Sequences/M001/T2").iterdir())
    images[0].unlink()
    csv = folder / "AUCoding/AU_OCC/M001_T2.csv"
    with pytest.raises(DatasetLayoutError, match=str(csv)):
        bp4d.read_index(folder)
    index = bp4d.read_index(folder, missing_frames="drop")
    assert len(index) == 2 * 2 * 6 - 1
    assert excluded_counts(index)["count"].sum() == 1


def test_bp4d_two_images_of_one_frame_named(tmp_path):
    folder = _fixture(tmp_path, "bp4d")
    padded = sorted((folder / "Sequences/F001/T2").iterdir())[0]  # e.g. 0591.jpg
    number = int(padded.stem)
    assert padded.stem.startswith("0")
    unpadded = padded.with_name(f"{number}.jpg")
    shutil.copy(padded, unpadded)
    with pytest.raises(DatasetLayoutError, match=f"frame {number};") as err:
        bp4d.read_index(folder)
    assert str(padded) in str(err.value) and str(unpadded) in str(err.value)
    other = unpadded.rename(padded.with_name(f"{number:06d}.png"))  # other suffix, same frame
    with pytest.raises(DatasetLayoutError, match=other.name):
        bp4d.read_index(folder)


def test_bp4d_bad_csv_named(tmp_path):
    folder = _fixture(tmp_path, "bp4d")
    csv = folder / "AUCoding/AU_OCC/F001_T1.csv"
    lines = csv.read_text().splitlines()
    cells = lines[1].split(",")
    cells[12] = "2"  # AU12 cannot be 2 in an occurrence file
    csv.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(DatasetLayoutError, match=f"{csv}.*AU12"):
        bp4d.read_index(folder)
    csv.write_text(
        "\n".join(
            [",".join(lines[0].split(",")[:10])] + [",".join(r.split(",")[:10]) for r in lines[1:]]
        )
    )
    with pytest.raises(DatasetLayoutError, match="no column for AUs"):
        bp4d.read_index(folder)
    shutil.rmtree(folder / "Sequences/F001/T2")
    csv.unlink()
    with pytest.raises(DatasetLayoutError, match="Sequences/F001/T2"):
        bp4d.read_index(folder)


# --- RAF-DB -------------------------------------------------------------------------------


def test_rafdb_reads_back_labels_in_fer_order(tmp_path):
    folder = _fixture(tmp_path, "rafdb")
    index = validate_index(rafdb.read_index(folder))
    lines = (folder / "basic/EmoLabel/list_patition_label.txt").read_text().split()
    names, labels = lines[::2], [int(v) for v in lines[1::2]]
    assert [Path(s).name for s in index["source"]] == names
    assert list(index["native_label"]) == labels
    assert list(index["expression"]) == [RAFDB_TO_FER[v] for v in labels]
    assert list(index["split"].value_counts().sort_index()) == [4, 9]
    assert index["subject"][0] == "train_00001"
    aligned = rafdb.read_index(folder / "basic", images="aligned")
    assert aligned["source"][0].endswith("Image/aligned/train_00001_aligned.jpg")


def test_rafdb_labels_by_name(tmp_path):
    # Written by hand from RAF-DB's own order (1 Surprise … 4 Happiness … 7 Neutral).
    labels = tmp_path / "basic/EmoLabel/list_patition_label.txt"
    labels.parent.mkdir(parents=True)
    labels.write_text("train_00001.jpg 1\ntest_0001.jpg 4\n")
    index = rafdb.read_index(tmp_path, check_files=False)
    assert [EXPRESSIONS[e] for e in index["expression"]] == ["Surprise", "Happiness"]
    assert list(index["native_label"]) == [1, 4] and list(index["split"]) == ["train", "test"]


def test_rafdb_bad_label_and_missing_image_named(tmp_path):
    folder = _fixture(tmp_path, "rafdb")
    labels = folder / "basic/EmoLabel/list_patition_label.txt"
    text = labels.read_text()
    labels.write_text(text + "test_0009.jpg 8\n")  # RAF-DB labels stop at 7
    with pytest.raises(DatasetLayoutError, match=f"{labels}:14"):
        rafdb.read_index(folder)
    labels.write_text(text)
    image = folder / "basic/Image/original/test_0002.jpg"
    image.unlink()
    with pytest.raises(DatasetLayoutError, match=str(image)):
        rafdb.read_index(folder)
    labels.unlink()
    with pytest.raises(DatasetLayoutError, match="list_patition_label.txt"):
        rafdb.read_index(folder)


# --- AffectNet ----------------------------------------------------------------------------


def test_affectnet_keeps_fer_rows_and_counts_the_rest(tmp_path):
    folder = _fixture(tmp_path, "affectnet")
    index = validate_index(affectnet.read_index(folder))
    plan = _plan("affectnet")
    kept = plan[plan["expression"] < 8]
    assert list(index["expression"]) == list(kept["expression"])
    assert list(index["split"]) == list(kept["split"])
    excluded = excluded_counts(index)
    assert excluded["count"].sum() == (plan["expression"] >= 8).sum() == 4
    assert set(excluded["label"]) == {"8 None", "9 Uncertain", "10 Non-Face"}
    assert (index["face_width"] == 48).all() and index["valence"].between(-1, 1).all()


def test_affectnet_header_variants_and_seven_classes(tmp_path):
    folder = _fixture(tmp_path, "affectnet")
    lists = folder / "Manually_Annotated_file_lists"
    header = lists.joinpath("training.csv").read_text().splitlines()[0]
    val = lists / "validation.csv"
    val.write_text(header + "\n" + val.read_text())  # a validation list with a header row
    eight = affectnet.read_index(folder)
    seven = affectnet.read_index(folder, classes=7)
    assert (eight["split"] == "validation").sum() == 3
    assert len(eight) - len(seven) == (eight["expression"] == 7).sum() > 0
    assert "7 Contempt (AffectNet-7)" in set(excluded_counts(seven)["label"])


def test_affectnet_errors_named(tmp_path):
    folder = _fixture(tmp_path, "affectnet")
    train = folder / "Manually_Annotated_file_lists/training.csv"
    lines = train.read_text().splitlines()
    row = next(i for i, line in enumerate(lines[1:], start=1) if int(line.split(",")[6]) < 8)
    cells = lines[row].split(",")
    image = folder / "Manually_Annotated_Images" / cells[0]
    image.unlink()
    with pytest.raises(DatasetLayoutError, match=str(image)):
        affectnet.read_index(folder)
    assert len(affectnet.read_index(folder, check_files=False)) == 12
    cells[6] = "11"
    train.write_text("\n".join([*lines[:row], ",".join(cells), *lines[row + 1 :]]) + "\n")
    with pytest.raises(DatasetLayoutError, match=f"{train}: line {row + 1} "):
        affectnet.read_index(folder, check_files=False)
    shutil.rmtree(folder / "Manually_Annotated_Images")
    with pytest.raises(DatasetLayoutError, match="Manually_Annotated_Images"):
        affectnet.read_index(folder)


# --- the index schema and the data-card counts ---------------------------------------------


def _tiny_index(**overrides) -> pd.DataFrame:
    columns = {"dataset": "disfa", "subject": ["SN001", "SN001"], "session": "left",
               "source": ["/v.avi", "/v.avi"], "frame": [0, 1], "native_frame": [1, 2], "split": "",
               "AU01": [0.0, np.nan]}  # fmt: skip
    columns.update(overrides)
    return build_index(columns, ["AU01"])


def test_validate_index_catches_schema_breaks():
    validate_index(_tiny_index())
    bad = {
        "relative": _tiny_index(source=["v.avi", "v.avi"]),
        "range": _tiny_index(AU01=[0.0, 6.0]),
        "duplicated": _tiny_index(frame=[0, 0]),
        "unknown dataset": _tiny_index(dataset="ckplus"),
    }
    for what, df in bad.items():
        with pytest.raises(DatasetLayoutError):
            validate_index(df)
        assert what
    as_float64 = _tiny_index()
    as_float64["AU01"] = as_float64["AU01"].astype("float64")
    with pytest.raises(DatasetLayoutError, match="float32"):
        validate_index(as_float64)
    with pytest.raises(DatasetLayoutError, match="missing columns"):
        validate_index(_tiny_index().drop(columns=["split"]))


def test_excluded_counts_survive_concat(tmp_path):
    folder = _fixture(tmp_path, "affectnet")
    a, b = affectnet.read_index(folder), affectnet.read_index(folder, classes=7)
    both = pd.concat([a, b], ignore_index=True)  # differing attrs must not break concat
    assert len(both) == len(a) + len(b)


def test_write_counts_replaces_only_the_block(tmp_path):
    folder = _fixture(tmp_path, "bp4d")
    index = bp4d.read_index(folder)
    card = tmp_path / "card.md"
    card.write_text("# Card\n\nbefore\n<!-- counts:begin -->\nold\n<!-- counts:end -->\nafter\n")
    block = cards.write_counts(card, index, title="a test fixture")
    text = card.read_text()
    assert text.startswith("# Card\n\nbefore\n<!-- counts:begin -->\n") and text.endswith(
        "<!-- counts:end -->\nafter\n"
    )
    assert "old" not in text and "a test fixture" in block
    au01 = next(line for line in block.splitlines() if line.startswith("| AU01 |")).split("|")
    assert (
        int(au01[2]) == index["AU01"].notna().sum() and int(au01[3]) == index["AU01"].isna().sum()
    )
    assert f"| all | 2 | 4 | {len(index)} | {len(index)} |" in block
    cards.write_counts(card, index, title="a test fixture")
    assert card.read_text() == text  # deterministic
    card.write_text("no markers")
    with pytest.raises(LibreFaceError, match=str(card)):
        cards.write_counts(card, index)
