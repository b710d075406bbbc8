"""Streaming predict: exact rows and statuses on photos, folders and tiny videos; backends."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from export_helpers import tiny_model
from faces_helpers import astronaut, blank, fit, grace_hopper, save_rgb, write_video

from libreface_nb.config import BP4D_AUS, DISFA_AUS, au_names


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    from libreface_nb.export.onnx import export_onnx

    d = tmp_path_factory.mktemp("infer")
    model = tiny_model(("intensity", "detection"), img_size=64)
    return model, export_onnx(model, d / "student_fp32.onnx"), d


@pytest.fixture(scope="module")
def media(model_files):
    d = model_files[2] / "media"
    d.mkdir()
    face = fit(astronaut(), 320, 240)
    # Faces only in the second half: 3 blank frames, then 3 frames with the astronaut.
    write_video(d / "b_clip.avi", [blank()] * 3 + [face] * 3, fps=10.0)
    save_rgb(d / "a_astronaut.png", astronaut())
    (d / "c_broken.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    save_rgb(d / "d_grace.jpg", grace_hopper())
    return d


def test_video_rows_have_every_frame_with_its_status(model_files, media):
    from libreface_nb import predict

    t = predict(media / "b_clip.avi", model_files[1], batch_size=2)
    assert t["frame"].tolist() == [0, 1, 2, 3, 4, 5]
    assert t["status"].tolist() == ["no_face"] * 3 + ["ok"] * 3
    assert t["time_s"].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert t["face"].tolist() == [-1, -1, -1, 0, 0, 0]
    assert t["track_id"].tolist() == [-1, -1, -1, 0, 0, 0]
    assert t["AU01"].isna().tolist() == [True] * 3 + [False] * 3


def test_folder_with_an_unreadable_file_keeps_order_and_statuses(model_files, media):
    from libreface_nb import predict

    t = predict(media, model_files[1])
    names = [s.rsplit("/", 1)[-1] for s in t["source"]]
    assert names == ["a_astronaut.png"] + ["b_clip.avi"] * 6 + ["c_broken.jpg", "d_grace.jpg"]
    assert t["status"].tolist() == ["ok"] + ["no_face"] * 3 + ["ok"] * 3 + ["unreadable", "ok"]
    assert "c_broken.jpg" in t.loc[7, "reason"]


def test_columns_and_value_ranges(model_files, media):
    from libreface_nb import predict

    t = predict(media / "a_astronaut.png", model_files[1])
    assert [c for c in t.columns if c.startswith("AU") and c[2:].isdigit()] == au_names(DISFA_AUS)
    assert f"AU{BP4D_AUS[-1]:02d}_prob" in t.columns
    assert 0.0 <= t.loc[0, "AU12"] <= 5.0
    assert t.loc[0, "AU12_present"] == float(t.loc[0, "AU12_prob"] >= 0.5)  # detection wins
    assert t.loc[0, "AU05_present"] == float(t.loc[0, "AU05"] >= 2.0)  # intensity-only AU


def test_every_nth_frame_and_landmarks(model_files, media):
    from libreface_nb import predict

    t = predict(media / "b_clip.avi", model_files[1], every_nth_frame=2, landmarks=True)
    assert t["frame"].tolist() == [0, 2, 4]
    assert t["x_1"].isna().tolist() == [True, True, False]
    assert 100 < t.loc[2, "x_1"] < 220  # nose tip inside the centred 320-px frame


def test_openface_columns(model_files, media):
    from libreface_nb import predict

    t = predict(media / "a_astronaut.png", model_files[1], openface_columns=True)
    for col in ("AU01_r", "AU01_c", "success", "confidence", "pose_Rx", "face_id", "timestamp"):
        assert col in t.columns, col
    assert "pitch" not in t.columns
    assert t.loc[0, "success"] == 1


def test_torch_and_ort_backends_agree(model_files, media):
    from libreface_nb import predict

    model, path, _ = model_files
    a = predict(media / "d_grace.jpg", path)
    b = predict(media / "d_grace.jpg", model, backend="torch")
    cols = [c for c in a.columns if c.startswith("AU")]
    assert np.abs(a[cols].to_numpy() - b[cols].to_numpy()).max() < 1e-4


def test_prepare_faces_matches_the_training_eval_transform():
    from libreface_nb.data.transforms import build_transform
    from libreface_nb.modelio.inputs import prepare_faces
    from libreface_nb.modelio.metadata import ModelInfo

    face = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    for size, tol in ((224, 1e-5), (112, 0.02)):
        info = ModelInfo.for_tasks(("intensity",), input_size=size)
        ours = prepare_faces(face[None], info)[0]
        ref = build_transform("au", False, size=size)(face).numpy()
        assert np.abs(ours - ref).mean() <= tol, size


def test_prepare_faces_lookup_equals_the_arithmetic_exactly():
    from libreface_nb.modelio.inputs import prepare_faces
    from libreface_nb.modelio.metadata import ModelInfo

    faces = np.random.default_rng(1).integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    info = ModelInfo.for_tasks(("intensity",), input_size=224)
    mean = np.asarray(info.mean, np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(info.std, np.float32) * 255.0)
    crop = faces[:, 16:240, 16:240].astype(np.float32)
    want = ((crop - mean) * inv_std).transpose(0, 3, 1, 2)
    got = prepare_faces(faces, info)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def test_rank_faces_sorts_ok_rows_by_score():
    from libreface_nb import rank_faces

    t = pd.DataFrame(
        {
            "source": ["a", "b", "c", "d", "b"],
            "frame": [0, 0, 0, 0, 0],
            "status": ["ok", "ok", "no_face", "ok", "ok"],
            "AU12": [1.0, 4.0, np.nan, 2.5, 0.5],
            "prob_Happiness": [0.2, 0.9, np.nan, 0.1, 0.3],
        }
    )
    assert rank_faces(t, "AU12")["source"].tolist() == ["b", "d", "a"]
    assert rank_faces(t, "Happiness", top=2)["source"].tolist() == ["b", "a"]
    assert rank_faces(t, "AU12", ascending=True)["source"].tolist() == ["b", "a", "d"]
    assert rank_faces(t, "AU12", one_per_source=False)["rank"].tolist() == [1, 2, 3, 4]


def test_cli_predict_video_to_csv(model_files, media, tmp_path, capsys):
    from libreface_nb import cli

    out = tmp_path / "clip.csv"
    code = cli.main(["predict", str(media / "b_clip.avi"), "--model", str(model_files[1]),
                     "--out", str(out), "--no-progress"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "student_fp32.onnx" in text
    assert "for teaching" not in text  # exported without a run folder: training data unknown
    t = pd.read_csv(out)
    assert t["status"].tolist() == ["no_face"] * 3 + ["ok"] * 3
    assert "6 rows (no_face 3, ok 3)" in text


def test_cli_out_dir_one_file_per_input_and_skips_done(model_files, media, tmp_path, capsys):
    from libreface_nb import cli

    argv = ["predict", str(media), "--model", str(model_files[1]), "--out-dir", str(tmp_path),
            "--format", "parquet", "--openface-columns", "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["a_astronaut.parquet", "b_clip.parquet", "c_broken.parquet", "d_grace.parquet"]
    broken = pd.read_parquet(tmp_path / "c_broken.parquet")
    assert (broken["status"].tolist(), broken["success"].tolist()) == (["unreadable"], [0])
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "skipping 4 input(s)" in capsys.readouterr().out


def test_cli_refuses_an_unknown_results_format(model_files, media, tmp_path):
    from libreface_nb import cli

    argv = ["predict", str(media / "a_astronaut.png"), "--model", str(model_files[1]),
            "--out", str(tmp_path / "r.xlsx"), "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 2


def test_default_model_is_the_newest_export(tmp_path):
    from libreface_nb.errors import CheckpointError
    from libreface_nb.infer.backends import find_default_model

    with pytest.raises(CheckpointError, match="no exported model"):
        find_default_model(tmp_path)
    for run in ("20260101-000000_fixture_aaaaaaa", "20260102-000000_fixture_bbbbbbb"):
        d = tmp_path / run / "05_onnx_cpu_profiling"
        d.mkdir(parents=True)
        for name in ("student_fp32.onnx", "student_int8.onnx"):
            (d / name).write_bytes(b"")
    newest = find_default_model(tmp_path)
    assert (newest.parent.parent.name[:8], newest.name) == ("20260102", "student_int8.onnx")


def test_import_libreface_student_to_onnx_gives_its_outputs(tmp_path, capsys):
    import torch
    from export_helpers import libreface_state_dict, random_faces

    from libreface_nb import cli
    from libreface_nb.export.onnx import ort_session, run_onnx

    src = tiny_model(("intensity", "detection"), img_size=64, seed=3)
    torch.save(libreface_state_dict(src), tmp_path / "lf.pth")
    out = tmp_path / "lf_fp32.onnx"
    argv = ["import-libreface", str(tmp_path / "lf.pth"), "--out", str(out), "--img-size", "64"]
    assert cli.main(argv) == 0
    x = random_faces(3, 64)
    got = run_onnx(ort_session(out), x)["AUs"]
    with torch.no_grad():
        want = 5 * torch.sigmoid(src(torch.from_numpy(x))["intensity"])
    assert np.abs(got - want.numpy()).max() < 1e-4
    capsys.readouterr()
    face = tmp_path / "face.png"
    save_rgb(face, astronaut())
    argv = ["predict", str(face), "--model", str(out), "--out", str(tmp_path / "r.csv"),
            "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "lf_fp32.onnx" in text and "for teaching" not in text  # LibreFace's, not SynthAU


def _fake_run(folder, synthetic: bool):
    """A run folder whose notebook 01 read a SynthAU fixture (or DISFA itself)."""
    nb01 = folder / "01_data_prep_and_augmentation"
    nb01.mkdir(parents=True)
    (folder / "run.json").write_text('{"profile": "fixture"}')
    (nb01 / "metrics.json").write_text(json.dumps({"synthetic": synthetic, "dataset": "disfa"}))
    return folder


def test_cli_teaching_note_only_for_a_model_whose_metadata_says_synthau(media, tmp_path, capsys):
    """export of a run's model.pt records the run's training data; predict prints the note for
    SynthAU only: not for a provider-data run, not for an imported LibreFace model (even one kept
    inside a SynthAU run folder)."""
    import torch
    from export_helpers import libreface_state_dict

    from libreface_nb import cli
    from libreface_nb.export.onnx import read_metadata
    from libreface_nb.models.factory import save_model

    torch.save(libreface_state_dict(tiny_model(seed=3)), tmp_path / "lf.pth")
    cases = {"synth": "SynthAU", "disfa": "disfa", "imported": ""}
    for name, want in cases.items():
        run = _fake_run(tmp_path / name, synthetic=name != "disfa")
        model = run / "03_resnet18_distillation" / "student" / "model.pt"
        model.parent.mkdir(parents=True)
        if name == "imported":
            argv = ["import-libreface", str(tmp_path / "lf.pth"), "--out", str(model),
                    "--img-size", "64"]  # fmt: skip
            assert cli.main(argv) == 0
        else:
            save_model(model, tiny_model(img_size=64))
        assert cli.main(["export", str(model), "--out", str(run / "x")]) == 0
        onnx = run / "x" / "student_fp32.onnx"
        assert read_metadata(onnx).training_data == want, name
        capsys.readouterr()
        argv = ["predict", str(media / "a_astronaut.png"), "--model", str(onnx),
                "--out", str(run / "r.csv"), "--no-progress"]  # fmt: skip
        assert cli.main(argv) == 0
        assert ("for teaching" in capsys.readouterr().out) == (want == "SynthAU"), name


@pytest.mark.slow
def test_cli_export_fp32_and_int8_from_a_model_file(media, tmp_path, capsys):
    from libreface_nb import cli
    from libreface_nb.faces.preprocess import preprocess_folder
    from libreface_nb.models.factory import save_model

    store = tmp_path / "store"
    preprocess_folder(media, store, progress=False)  # 3 photos + 3 video frames with a face
    save_model(tmp_path / "model.pt", tiny_model(img_size=64))
    argv = ["export", str(tmp_path / "model.pt"), "--out", str(tmp_path / "x"),
            "--calibrate", str(store)]  # fmt: skip
    assert cli.main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "student_fp32.onnx", "student_int8.onnx"]  # fmt: skip
    assert "calibrated on 5 faces" in capsys.readouterr().out


def test_with_truth_and_pcc_table():
    from libreface_nb.infer.columns import pcc_table, with_truth

    pred = pd.DataFrame(
        {
            "source": ["v"] * 4, "frame": [0, 1, 2, 3], "time_s": [0.0, 0.1, 0.2, 0.3],
            "face": [-1, 0, 0, 0], "status": ["no_face", "ok", "ok", "ok"],
            "AU12": [np.nan, 1.0, 2.0, 4.0],
        }
    )  # fmt: skip
    index = pd.DataFrame({"source": ["v", "v", "v", "v", "w"], "frame": [3, 0, 1, 2, 0],
                          "AU12": [3.0, 0.0, 1.0, 2.0, 5.0]})  # fmt: skip
    joined = with_truth(pred, index, ["AU12"])
    assert joined["frame"].tolist() == [0, 1, 2, 3]
    assert joined["true_AU12"].tolist() == [0.0, 1.0, 2.0, 3.0]
    table = pcc_table(joined, ["AU12"])
    want = np.corrcoef([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])[0, 1]
    assert (table.loc[0, "n"], table.loc[0, "pcc"]) == (3, pytest.approx(want))


def test_rows_stream_in_chunks_even_without_faces(model_files, media):
    from libreface_nb.infer.backends import OrtBackend
    from libreface_nb.infer.pipeline import PredictOptions, iter_predictions

    opts = PredictOptions(batch_size=16, chunk_rows=2)
    parts = list(iter_predictions(media / "b_clip.avi", OrtBackend(model_files[1]), opts))
    assert [len(p) for p in parts] == [2, 2, 2]


def test_an_unexpected_failure_on_one_file_is_an_error_row(model_files, media, monkeypatch):
    from libreface_nb import predict
    from libreface_nb.infer import pipeline

    real = pipeline.io.read_image

    def flaky(path):
        if str(path).endswith("a_astronaut.png"):
            raise RuntimeError("disk on fire")
        return real(path)

    monkeypatch.setattr(pipeline.io, "read_image", flaky)
    t = predict([media / "a_astronaut.png", media / "d_grace.jpg"], model_files[1])
    assert t["status"].tolist() == ["error", "ok"]
    assert "disk on fire" in t.loc[0, "reason"]


def test_onnx_runtime_inference_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; import libreface_nb.infer.writer, libreface_nb.infer.pipeline;"
        "import libreface_nb.modelio.runtime; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # a predict process stays small (no CUDA torch)


def test_unknown_predict_options_are_refused(model_files, media):
    from libreface_nb import predict
    from libreface_nb.errors import ConfigError

    with pytest.raises(ConfigError, match="every_nth"):
        predict(media / "a_astronaut.png", model_files[1], every_nth=2)


def test_cli_no_tracking_finds_faces_anew_in_each_video_frame(model_files, media, tmp_path):
    from libreface_nb import cli

    out = tmp_path / "static.csv"
    argv = ["predict", str(media / "b_clip.avi"), "--model", str(model_files[1]), "--out",
            str(out), "--no-tracking", "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    t = pd.read_csv(out)
    assert t["status"].tolist() == ["no_face"] * 3 + ["ok"] * 3
    assert t["track_id"].tolist() == [-1] * 6  # static FaceMesh: no tracks


def test_rows_do_not_depend_on_the_number_of_alignment_workers(model_files, media):
    """Faces are aligned and prepared in ``workers`` threads; the table is the same, in the
    same order, for one worker or several (stills, a video, an unreadable file, two faces)."""
    from libreface_nb import predict

    one = predict(media, model_files[1], max_faces=2, landmarks=True, workers=1)
    three = predict(media, model_files[1], max_faces=2, landmarks=True, workers=3)
    pd.testing.assert_frame_equal(one, three)
    assert one["status"].tolist()[-2:] == ["unreadable", "ok"]


def test_a_face_that_fails_to_align_is_an_error_row_in_its_place(model_files, media, monkeypatch):
    from libreface_nb import predict
    from libreface_nb.errors import ConfigError
    from libreface_nb.faces import align

    real = align.align_face
    calls = []

    def flaky(image, quad, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the clip's first face (frame 3), in a worker thread
            raise ValueError("quad out of this world")
        return real(image, quad, *args, **kwargs)

    monkeypatch.setattr(align, "align_face", flaky)
    t = predict([media / "a_astronaut.png", media / "b_clip.avi"], model_files[1], workers=1)
    assert t["status"].tolist() == ["ok"] + ["no_face"] * 3 + ["error", "ok", "ok"]
    assert "face 0 failed: ValueError: quad out of this world" in t.loc[4, "reason"]
    with pytest.raises(ConfigError, match="workers must be ≥ 1"):
        predict(media / "a_astronaut.png", model_files[1], workers=0)
