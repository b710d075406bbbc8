"""``predict`` with a LibreFace 0.2.0 weights folder: every head it finds, LibreFace's numbers.

The folder holds random weights in LibreFace's file layout (tests/libreface_helpers.py); the
expected values come from independent reference modules (torchvision / timm with LibreFace's
heads) on LibreFace's input recipe applied to the reference alignment of the same face.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from faces_helpers import astronaut, save_rgb
from libreface_helpers import libreface_inputs, weights_folder

from libreface_nb.config import BP4D_AUS, DISFA_AUS, EXPRESSIONS, au_names

torch.set_num_threads(1)
JOINT = "AU_Recognition/weights/combined_resnet.pt"
SEPARATE = "AU_Recognition/weights/resnet.pt"
DETECTION = "AU_Detection/weights/repvgg.pt"
FER = "Facial_Expression_Recognition/weights/repvgg.pt"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights_libreface")
    return root, weights_folder(root)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """The astronaut, and the same photo cut by the top edge through her forehead."""
    d = tmp_path_factory.mktemp("faces")
    img = astronaut()
    return {
        "whole": save_rgb(d / "whole.png", img),
        "cut_top": save_rgb(d / "cut_top.png", np.ascontiguousarray(img[75:])),
    }


def _reference(path, modules, choice="joint"):
    """LibreFace's outputs for the face in ``path``: reference alignment (LibreFace's recipe:
    dark fill, 512 px straight), its preprocessing, the reference modules."""
    from libreface_nb.faces.align import align_face, face_quad
    from libreface_nb.faces.io import read_image
    from libreface_nb.faces.mesh import detect_faces

    img = read_image(path)
    quad = face_quad(detect_faces(img)[0].exact)  # LibreFace: float64 pixels of MediaPipe's values
    aligned = align_face(img, quad, 512, "reference", transform_size=512, border="constant")
    au, fer = libreface_inputs(aligned)
    with torch.no_grad():
        if choice == "joint":
            inten, det = modules[JOINT](au)
        else:
            (inten,), (det,) = modules[SEPARATE](au), modules[DETECTION](au)
        (exp,) = modules[FER](fer)
    present = det >= 0.5  # ResNet heads end in a Sigmoid; the RepVGG detection head does not
    return (inten * 5).clamp(0, 5)[0].numpy(), present[0].numpy(), int(exp.argmax())


@pytest.mark.parametrize("align,tol", [("exact", 1e-4), ("fast", 0.02)])
@pytest.mark.parametrize("choice", ["joint", "separate"])
@pytest.mark.parametrize("face", ["whole", "cut_top"])
def test_predict_with_a_libreface_folder_gives_libreface_outputs(
    folder, faces, choice, face, align, tol
):
    from libreface_nb import predict

    root, modules = folder
    t = predict(faces[face], root, backend="torch", libreface_choice=choice, libreface_align=align)
    assert t["status"].tolist() == ["ok"]
    inten, present, exp = _reference(faces[face], modules, choice)
    got = t.loc[0, au_names(DISFA_AUS)].to_numpy(float)
    # Measured (2026-12), max |diff| on the 0–5 scale: exact alignment 0.0000 (the same pixels,
    # the same Pillow resizes); fast alignment ≤ 0.008 (≈ 0.5 grey levels apart); with the
    # mirror fill (border "reflect") the face cut by the top edge differed by 0.45–0.65.
    assert np.abs(got - inten).max() <= tol, np.abs(got - inten).max()
    bp4d = [f"{au}_present" for au in au_names(BP4D_AUS)]
    assert t.loc[0, bp4d].to_numpy(float).tolist() == present.astype(float).tolist()
    assert t.loc[0, "expression"] == EXPRESSIONS[exp]


def test_ort_runtime_gives_the_torch_outputs(folder, faces):
    from libreface_nb import predict

    root, _ = folder
    a = predict(faces["cut_top"], root, libreface_choice="separate")  # ort: the default
    b = predict(faces["cut_top"], root, backend="torch", libreface_choice="separate")
    cols = [c for c in a.columns if c.startswith(("AU", "prob_"))]
    assert np.abs(a[cols].to_numpy(float) - b[cols].to_numpy(float)).max() < 1e-4
    assert a.loc[0, "expression"] == b.loc[0, "expression"]


def test_ort_sessions_of_a_folder_do_not_spin(folder):
    """The folder's ONNX Runtime threads wait without spinning: the alignment workers need the
    cores between runs (``docs/lab_notes.md``: about 10 % more frames/s on 2 cores)."""
    from libreface_nb.infer.pipeline import LibreFaceBackend

    root, _ = folder
    backend = LibreFaceBackend(root, "separate", threads=1)
    entries = [s.get_session_options().get_session_config_entry for s in backend.sessions]
    assert len(entries) == 3 and all(e("session.intra_op.allow_spinning") == "0" for e in entries)


def test_folder_columns_and_cli(folder, faces, tmp_path, capsys):
    from libreface_nb import cli

    root, _ = folder
    out = tmp_path / "r.csv"
    argv = ["predict", str(faces["whole"]), "--model", str(root), "--out", str(out),
            "--libreface-choice", "separate", "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "tasks intensity, detection, expression" in text
    assert SEPARATE in text and DETECTION in text and FER in text and "for teaching" not in text
    t = pd.read_csv(out)
    for col in ("AU26", "AU24_prob", "AU24_present", "prob_Contempt", "expression"):
        assert col in t.columns, col


def test_folder_with_the_expression_model_only(tmp_path, faces):
    from libreface_nb import predict

    weights_folder(tmp_path, files=(FER,))
    t = predict(faces["whole"], tmp_path)
    assert t.loc[0, "expression"] in EXPRESSIONS
    assert not any(c.startswith("AU") for c in t.columns)


def test_a_folder_without_the_expression_model_gives_the_same_aus(folder, tmp_path, faces):
    """Its inputs skip the expression model's resize; the AU values are the full folder's."""
    from libreface_nb import predict

    weights_folder(tmp_path, files=(JOINT,))
    only = predict(faces["cut_top"], tmp_path)
    full = predict(faces["cut_top"], folder[0])
    assert "expression" not in only.columns
    cols = [c for c in only.columns if c.startswith("AU")]
    assert len(cols) > 12
    pd.testing.assert_frame_equal(only[cols], full[cols])


def test_import_libreface_repvgg_detection_keeps_its_decisions(tmp_path, capsys):
    from libreface_nb import cli
    from libreface_nb.models.factory import load_model

    modules = weights_folder(tmp_path, files=(DETECTION,))
    out = tmp_path / "det.pt"
    assert cli.main(["import-libreface", str(tmp_path / DETECTION), "--out", str(out)]) == 0
    assert "last bias" in capsys.readouterr().out
    model = load_model(out).eval()
    x = torch.randn(4, 3, 224, 224)
    with torch.no_grad():
        (want,) = modules[DETECTION](x)
        got = torch.sigmoid(model(x)["detection"])
    assert model.config.arch == "repvgg_a0"
    assert torch.equal(got >= 0.5, want >= 0.5)


def test_alignment_metadata_names_method_and_border():
    from libreface_nb.infer.pipeline import alignment_options
    from libreface_nb.modelio.metadata import ModelInfo

    def opts(alignment):
        return alignment_options(ModelInfo.for_tasks(("intensity",), alignment=alignment))

    assert opts("libreface_quad/fast") == {"method": "fast", "border": "reflect"}
    assert opts("libreface_quad/fast/constant") == {"method": "fast", "border": "constant"}
    want = {"method": "reference", "border": "constant", "transform_size": 256}
    assert opts("libreface_quad/reference/constant") == want


def test_videos_get_a_face_search_in_every_frame_with_a_libreface_folder(folder):
    """LibreFace's recipe (a static face mesh per frame) is a weights folder's default; tracking
    stays the default of the workbook's own models, and ``track_videos`` overrides either."""
    from libreface_nb.infer.cli import _predict_parser
    from libreface_nb.infer.pipeline import (
        LibreFaceBackend,
        PredictOptions,
        StageTimes,
        _Producer,
    )

    class Student:  # a backend without a preference, as OrtBackend and TorchBackend
        info = None

    def tracks(backend, track_videos=None) -> bool:
        opts = PredictOptions(track_videos=track_videos)
        return _Producer([], opts, backend, StageTimes()).track

    lf = LibreFaceBackend(folder[0])
    assert tracks(lf) is False
    assert tracks(lf, True) is True
    assert tracks(Student()) is True
    assert tracks(Student(), False) is False
    parse = _predict_parser().parse_args
    assert parse(["x.mp4", "--out", "r.csv"]).tracking is None
    assert parse(["x.mp4", "--out", "r.csv", "--tracking"]).tracking is True
    assert parse(["x.mp4", "--out", "r.csv", "--no-tracking"]).tracking is False
