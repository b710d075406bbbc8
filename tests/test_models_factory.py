"""The model factory: shapes per task, LibreFace's parameter counts, save/load round trip."""

from __future__ import annotations

import json

import pytest
import torch

from libreface_nb.errors import CheckpointError, ConfigError
from libreface_nb.models.factory import (
    FORMAT,
    ModelConfig,
    count_parameters,
    create_model,
    load_model,
    save_model,
)
from libreface_nb.models.heads import LibreFaceHead

torch.set_num_threads(1)


def _vit(**kw) -> ModelConfig:
    return ModelConfig(arch="vit", vit_size="tiny", img_size=32, **kw)


def _x(n: int = 2, s: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, s, s, generator=torch.Generator().manual_seed(0))


def test_single_resnet18_student_has_libreface_parameter_count():
    # LIBREFACE_FACTS §4: timm resnet18 without fc (11,176,512) + head 512→128→12 (67,468).
    assert count_parameters(create_model(ModelConfig("resnet18", ("intensity",)))) == 11_243_980


def test_joint_resnet18_student_has_libreface_parameter_count():
    cfg = ModelConfig("resnet18", ("intensity", "detection"))
    assert count_parameters(create_model(cfg)) == 11_311_448


@pytest.mark.parametrize(("task", "k"), [("intensity", 12), ("detection", 12), ("expression", 8)])
def test_student_outputs_per_task(task, k):
    model = create_model(ModelConfig("resnet18", (task,), img_size=32)).eval()
    out = model(_x())
    assert {n: tuple(v.shape) for n, v in out.items()} == {"feature": (2, 512), task: (2, k)}


def test_joint_student_has_two_heads_on_one_encoder():
    model = create_model(ModelConfig("resnet18", ("intensity", "detection"), img_size=32)).eval()
    out = model(_x())
    assert sorted(out) == ["detection", "feature", "intensity"]


def test_student_head_is_libreface_layout():
    head = create_model(ModelConfig("resnet18")).heads["intensity"]
    assert [type(m).__name__ for m in head] == [
        "Linear",
        "ReLU",
        "BatchNorm1d",
        "Dropout",
        "Linear",
    ]
    assert (head[0].in_features, head[0].out_features, head[4].out_features) == (512, 128, 12)


def test_student_features_are_the_pooled_encoder_output():
    model = create_model(ModelConfig("resnet18", img_size=32)).eval()
    x = _x()
    with torch.no_grad():
        expected = model.encoder.forward_head(model.encoder.forward_features(x), pre_logits=True)
        assert torch.equal(model.features(x), expected)


def test_teacher_flatten_neck_takes_all_patch_tokens():
    model = create_model(_vit(pool="flatten"))
    assert (model.neck.in_features, model.neck.out_features) == (4 * 192, 128)


def test_teacher_mean_neck_takes_the_token_mean():
    model = create_model(_vit(pool="mean"))
    assert model.neck.in_features == 192


def test_teacher_features_and_head_shapes():
    model = create_model(_vit(tasks=("expression",))).eval()
    out = model(_x())
    shapes = {n: tuple(v.shape) for n, v in out.items()}
    assert shapes == {"feature": (2, 128), "expression": (2, 8)}


def test_teacher_head_is_128_32_k():
    head = create_model(_vit()).heads["intensity"]
    assert (head[0].in_features, head[0].out_features, head[4].out_features) == (128, 32, 12)


def test_teacher_with_class_token_leaves_the_cls_token_out_of_the_neck():
    model = create_model(_vit(class_token=True, fixed_pos=False, pool="flatten")).eval()
    x = _x()
    with torch.no_grad():
        tokens = model.encoder.forward_features(x)[:, 1:]
        assert torch.allclose(model.features(x), model.neck(tokens.flatten(1)))


def test_teacher_mean_pool_is_the_mean_of_patch_tokens():
    model = create_model(_vit(pool="mean")).eval()
    x = _x()
    with torch.no_grad():
        expected = model.neck(model.encoder.forward_features(x).mean(1))
        assert torch.allclose(model.features(x), expected)


def test_repvgg_with_libreface2_neck():
    cfg = ModelConfig("repvgg_a0", ("detection",), img_size=32, encoder_classes=1000)
    model = create_model(cfg).eval()
    assert (model.neck.in_features, model.neck.out_features) == (1000, 512)
    assert tuple(model(_x())["detection"].shape) == (2, 12)


def test_repvgg_without_neck_uses_its_pooled_width():
    model = create_model(ModelConfig("repvgg_a0", img_size=32))
    assert model.config.feature_dim == 1280


def test_config_round_trips_through_json():
    cfg = create_model(_vit(tasks=("intensity", "detection"))).config
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_create_model_stores_resolved_dimensions():
    cfg = create_model(ModelConfig("resnet18")).config
    assert (cfg.feature_dim, cfg.head_hidden) == (512, 128)


def test_unknown_arch_is_a_config_error():
    with pytest.raises(ConfigError, match="not_a_net"):
        create_model(ModelConfig("not_a_net"))


def test_unknown_task_is_a_config_error():
    with pytest.raises(ConfigError, match="valence"):
        ModelConfig("resnet18", ("valence",))


def test_feature_dim_that_contradicts_the_encoder_is_refused():
    with pytest.raises(ConfigError, match="512"):
        create_model(ModelConfig("resnet18", feature_dim=256))


def test_unknown_config_field_is_refused():
    with pytest.raises(ConfigError, match="colour"):
        ModelConfig.from_dict({"arch": "vit", "colour": "red"})


def test_save_load_round_trip_gives_equal_outputs(tmp_path):
    model = create_model(_vit(tasks=("intensity", "detection"))).eval()
    path = save_model(tmp_path / "model.pt", model, extra={"fold": "fold1", "val_pcc": 0.5})
    again = load_model(path).eval()
    x = _x()
    with torch.no_grad():
        a, b = model(x), again(x)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert again.extra == {"fold": "fold1", "val_pcc": 0.5}


def test_save_writes_the_documented_format_and_no_temp_files(tmp_path):
    save_model(tmp_path / "model.pt", create_model(_vit()))
    ckpt = torch.load(tmp_path / "model.pt", weights_only=True)
    assert (ckpt["format"], sorted(ckpt)) == (FORMAT, ["config", "extra", "format", "state_dict"])
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_load_of_garbage_names_the_file(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_model(bad)


def test_load_of_a_plain_state_dict_says_wrong_format(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(create_model(_vit()).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"plain\.pt: format None"):
        load_model(path)


def test_load_refuses_pickled_objects_weights_only(tmp_path):
    # An arbitrary pickled object loads with weights_only=False but not with True.
    path = tmp_path / "pickled.pt"
    torch.save({"format": FORMAT, "config": {}, "head": LibreFaceHead(4, 2, 1)}, path)
    with pytest.raises(CheckpointError, match=r"pickled\.pt: not a readable torch checkpoint"):
        load_model(path)


def test_load_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(CheckpointError, match="nothere.pt"):
        load_model(tmp_path / "nothere.pt")


def test_load_with_a_state_dict_that_does_not_fit_names_the_file(tmp_path):
    path = save_model(tmp_path / "m.pt", create_model(_vit()))
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["pool"] = "mean"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=r"m\.pt: does not rebuild"):
        load_model(path)
