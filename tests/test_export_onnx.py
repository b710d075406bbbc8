"""ONNX export: checker, metadata round trip, ORT vs torch parity, static int8 and its cost."""

from __future__ import annotations

import pytest
from export_helpers import random_faces, tiny_model
from fs_helpers import plain_mode

from libreface_nb.errors import CheckpointError, ConfigError
from libreface_nb.modelio.metadata import ModelInfo, output_names


def test_output_names_follow_the_dotnet_port_and_name_the_joint_model():
    assert output_names(["intensity"]) == ["AUs"]
    assert output_names(["expression"]) == ["FEs"]
    assert output_names(["intensity", "detection"]) == ["AUs", "AUs_c"]


def test_metadata_props_round_trip():
    info = ModelInfo.for_tasks(("intensity", "detection"), input_size=112, run_dir="r", source="s")
    back = ModelInfo.from_props(info.to_props())
    assert back == info


def test_training_data_round_trips_and_is_unknown_in_older_files():
    info = ModelInfo.for_tasks(("intensity",), training_data="SynthAU")
    assert ModelInfo.from_props(info.to_props()).synthetic
    older = {k: v for k, v in info.to_props().items() if k != "training_data"}
    back = ModelInfo.from_props(older)
    assert (back.training_data, back.synthetic) == ("", False)


def test_run_training_data_reads_notebook_01_of_the_run(tmp_path, monkeypatch):
    import json

    from libreface_nb.export.onnx import run_training_data

    monkeypatch.setenv("LIBREFACE_NB_RUNS_ROOT", str(tmp_path / "no_runs"))
    assert run_training_data("") == ""
    assert run_training_data(tmp_path) == ""  # no run.json: not a run folder
    (tmp_path / "run.json").write_text("{}")
    assert run_training_data(tmp_path) == ""  # no notebook 01 here nor in another run
    nb01 = tmp_path / "01_data_prep_and_augmentation"
    nb01.mkdir()
    for synthetic, want in ((True, "SynthAU"), (False, "bp4d")):
        (nb01 / "metrics.json").write_text(json.dumps({"synthetic": synthetic, "dataset": "bp4d"}))
        assert run_training_data(tmp_path) == want


def test_run_alignment_reads_the_runs_notebook_01(tmp_path, monkeypatch):
    """The exported ``alignment`` is how notebook 01 aligned the run's faces; a notebook 01
    from before ``align_border`` used the mirror fill; no run: LibreFace's dark fill."""
    import json

    from libreface_nb.export.onnx import run_alignment
    from libreface_nb.infer.pipeline import alignment_options

    monkeypatch.setenv("LIBREFACE_NB_RUNS_ROOT", str(tmp_path / "no_runs"))
    assert run_alignment("") == "libreface_quad/fast/constant"
    (tmp_path / "run.json").write_text("{}")
    nb01 = tmp_path / "01_data_prep_and_augmentation"
    nb01.mkdir()
    cases = (
        ({"align_method": "fast"}, "libreface_quad/fast/reflect"),
        (
            {"align_method": "reference", "align_border": "constant"},
            "libreface_quad/reference/constant",
        ),
    )
    for metrics, want in cases:
        (nb01 / "metrics.json").write_text(json.dumps(metrics))
        assert run_alignment(tmp_path) == want
    info = ModelInfo.for_tasks(("intensity",), alignment=run_alignment(tmp_path))
    assert alignment_options(info)["border"] == "constant"
    assert alignment_options(info)["method"] == "reference"


def test_foreign_metadata_is_refused():
    with pytest.raises(CheckpointError, match="no libreface_nb metadata"):
        ModelInfo.from_props({"producer": "x"}, "x.onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from libreface_nb.export.onnx import export_onnx

    model = tiny_model(("intensity", "detection"), img_size=64)
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "student_fp32.onnx", run_dir="R")
    return model, path


def test_exported_onnx_gets_the_mode_a_plain_open_gives(exported):
    """Readable by whoever may read the folder (0o644 under umask 022), not mkstemp's 0o600."""
    _, path = exported
    assert path.stat().st_mode & 0o777 == plain_mode(path.parent)


def test_export_passes_the_checker_and_has_a_dynamic_batch(exported):
    import onnx

    _, path = exported
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 3, 64, 64]


def test_export_metadata_is_complete(exported):
    from libreface_nb.export.onnx import read_metadata

    info = read_metadata(exported[1])
    assert (info.tasks, info.outputs, info.input_size) == (
        ("intensity", "detection"), ("AUs", "AUs_c"), 64)  # fmt: skip
    assert info.labels["AUs"][6] == "AU12"
    assert (info.precision, info.activation_applied, info.run_dir) == ("fp32", True, "R")


def test_ort_matches_torch_within_tolerance_at_batch_sizes_1_and_5(exported):
    from libreface_nb.export.onnx import PARITY_ATOL, check_parity

    model, path = exported
    for n in (1, 5):
        report = check_parity(model, path, random_faces(n, 64, seed=n))
        assert report["max_abs_diff"] <= PARITY_ATOL


def test_activated_outputs_are_in_range(exported):
    from libreface_nb.export.onnx import ort_session, run_onnx

    out = run_onnx(ort_session(exported[1]), random_faces(4, 64))
    assert out["AUs"].min() >= 0.0 and out["AUs"].max() <= 5.0
    assert out["AUs_c"].min() >= 0.0 and out["AUs_c"].max() <= 1.0


def test_file_names_say_the_precision(tmp_path):
    from libreface_nb.export.onnx import export_onnx

    with pytest.raises(ConfigError, match="_fp32.onnx"):
        export_onnx(tiny_model(img_size=32), tmp_path / "student.onnx")


@pytest.mark.slow
def test_int8_is_smaller_and_agrees_with_fp32(exported):
    from libreface_nb.export.onnx import agreement, quantize_int8, read_metadata

    _, fp32 = exported
    int8 = quantize_int8(fp32, random_faces(16, 64, seed=1))
    assert int8.name == "student_int8.onnx"
    assert int8.stat().st_mode & 0o777 == plain_mode(int8.parent)
    assert int8.stat().st_size < 0.4 * fp32.stat().st_size
    info = read_metadata(int8)
    assert (info.precision, info.calibration["faces"]) == ("int8", 16)
    table = agreement(fp32, int8, random_faces(32, 64, seed=2))
    assert len(table) == 24
    # Random weights on random inputs: agreement is looser than on trained models; the real
    # figures are measured in notebook 05 and the benchmark.
    assert table["pcc"].median() > 0.8


def test_vit_teacher_exports_with_parity(tmp_path):
    from libreface_nb.export.onnx import PARITY_ATOL, check_parity, export_onnx
    from libreface_nb.models.factory import ModelConfig, create_model

    cfg = ModelConfig(arch="vit", tasks=("expression",), img_size=32, vit_size="tiny")
    teacher = create_model(cfg).eval()
    path = export_onnx(teacher, tmp_path / "teacher_fp32.onnx")
    assert check_parity(teacher, path, random_faces(3, 32))["max_abs_diff"] <= PARITY_ATOL
