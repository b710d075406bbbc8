"""Checkpoint import: MAE / timm / LibreFace-MAE ViT encoders and LibreFace's released students.

Every file is built here with the real key names and shapes (random values).
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from libreface_nb.errors import CheckpointError
from libreface_nb.models.checkpoints import (
    LIBREFACE_FILES,
    REPVGG_DETECTION_OFFSET,
    libreface_model,
    libreface_weights,
    load_cnn_encoder,
    load_libreface_student,
    load_student_init,
    load_vit_encoder,
)
from libreface_nb.models.factory import ModelConfig, count_parameters, create_model
from libreface_nb.models.vit import build_vit_encoder

torch.set_num_threads(1)


def _mae_decoder(dim: int = 512, depth: int = 8, heads: int = 16, grid: int = 14) -> dict:
    """facebookresearch MAE decoder keys (ViT-B default: 512 wide, 8 blocks, 16 px patches)."""
    from timm.models.vision_transformer import Block

    sd = {
        "mask_token": torch.zeros(1, 1, dim),
        "decoder_pos_embed": torch.zeros(1, 1 + grid * grid, dim),
        "decoder_embed.weight": torch.randn(dim, 768 if grid == 14 else 192),
        "decoder_embed.bias": torch.zeros(dim),
        "decoder_norm.weight": torch.ones(dim),
        "decoder_norm.bias": torch.zeros(dim),
        "decoder_pred.weight": torch.randn(16 * 16 * 3, dim),
        "decoder_pred.bias": torch.zeros(16 * 16 * 3),
    }
    norm = partial(nn.LayerNorm, eps=1e-6)
    for i in range(depth):
        block = Block(dim, heads, qkv_bias=True, norm_layer=norm)
        sd.update({f"decoder_blocks.{i}.{k}": v for k, v in block.state_dict().items()})
    return sd


def _save(path, sd, wrap: str | None = "model"):
    torch.save({wrap: sd} if wrap else sd, path)
    return path


@pytest.mark.slow
def test_official_mae_vit_b_loads_with_no_missing_encoder_keys(tmp_path):
    src = build_vit_encoder("base", 224, class_token=True, fixed_pos=True).state_dict()
    decoder = _mae_decoder()
    path = _save(tmp_path / "mae_pretrain_vit_base.pth", {**src, **decoder})
    enc = build_vit_encoder("base", 224, class_token=True)
    report = load_vit_encoder(enc, path, strict=True)
    assert report.missing == []
    assert sorted(report.ignored) == sorted(decoder)
    assert torch.equal(enc.blocks[11].mlp.fc2.weight, src["blocks.11.mlp.fc2.weight"])
    assert torch.equal(enc.pos_embed, src["pos_embed"])


def test_mae_into_libreface_teacher_drops_the_cls_token_and_keeps_fixed_positions(tmp_path):
    src = build_vit_encoder("tiny", 32, class_token=True, fixed_pos=True).state_dict()
    path = _save(tmp_path / "mae.pth", {**src, **_mae_decoder(grid=2)})
    model = create_model(ModelConfig("vit", vit_size="tiny", img_size=32))  # no CLS, fixed pos
    report = load_vit_encoder(model, path, strict=True)
    assert report.layout == "mae"
    assert {"cls_token", "pos_embed"} <= set(report.ignored)
    assert torch.equal(model.encoder.blocks[0].attn.qkv.weight, src["blocks.0.attn.qkv.weight"])
    assert "max |file - model| 0" in " ".join(report.notes)  # MAE's positions are sin-cos too


def _timm_avg_vit() -> dict:
    import timm.models.vision_transformer as tvit

    vit = tvit.VisionTransformer(
        img_size=32, embed_dim=192, depth=12, num_heads=3, num_classes=10, global_pool="avg"
    )
    return vit.state_dict()


def test_timm_state_dict_with_fc_norm_and_head_reports_them(tmp_path):
    src = _timm_avg_vit()
    path = _save(tmp_path / "timm.pth", src, wrap=None)
    enc = build_vit_encoder("tiny", 32, class_token=True)
    report = load_vit_encoder(enc, path)
    assert report.layout == "timm"
    assert sorted(report.ignored) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert report.missing == ["norm.bias", "norm.weight"]  # avg-pool timm ViTs have no final norm


def test_strict_import_raises_on_missing_keys(tmp_path):
    path = _save(tmp_path / "timm.pth", _timm_avg_vit(), wrap=None)
    with pytest.raises(CheckpointError, match=r"timm\.pth: encoder keys missing: \['norm"):
        load_vit_encoder(build_vit_encoder("tiny", 32), path, strict=True)


def _videomae_layout(enc_sd: dict) -> dict:
    """Assumed LibreFace MAE layout: ``encoder.`` prefix, q/v biases, no CLS, no pos_embed."""
    sd = {}
    for k, v in enc_sd.items():
        if k in ("cls_token", "pos_embed"):
            continue
        if k.endswith("attn.qkv.bias"):
            q, _, vb = v.chunk(3)
            sd[f"encoder.{k[: -len('qkv.bias')]}q_bias"] = q
            sd[f"encoder.{k[: -len('qkv.bias')]}v_bias"] = vb
        else:
            sd[f"encoder.{k}"] = v
    sd["encoder_to_decoder.weight"] = torch.zeros(96, 192)
    sd["mask_token"] = torch.zeros(1, 1, 96)
    sd["decoder.blocks.0.norm1.weight"] = torch.ones(96)
    sd["decoder.head.weight"] = torch.zeros(768, 96)
    return sd


def test_libreface_mae_layout_loads_into_the_teacher(tmp_path):
    src = build_vit_encoder("tiny", 32, class_token=False, fixed_pos=True).state_dict()
    with torch.no_grad():
        for k in src:
            if k.endswith("attn.qkv.bias"):
                src[k][192:384] = 0.0  # VideoMAE has no k bias
    path = _save(tmp_path / "libreface_mae.pth", _videomae_layout(src))
    model = create_model(ModelConfig("vit", vit_size="tiny", img_size=32))
    report = load_vit_encoder(model, path, strict=True)
    assert report.layout.startswith("libreface-mae")
    assert report.missing == [] and report.unexpected == []
    assert torch.equal(model.encoder.blocks[3].attn.qkv.bias, src["blocks.3.attn.qkv.bias"])
    assert len(report.ignored) == 4


def test_pos_embed_is_resized_bicubically_with_the_cls_slot_kept(tmp_path):
    from timm.layers import resample_abs_pos_embed

    src = build_vit_encoder("tiny", 32, class_token=True).state_dict()  # 2×2 grid
    path = _save(tmp_path / "small_grid.pth", src)
    enc = build_vit_encoder("tiny", 64, class_token=True)  # 4×4 grid, learned positions
    report = load_vit_encoder(enc, path, strict=True)
    expected = resample_abs_pos_embed(
        src["pos_embed"], [4, 4], num_prefix_tokens=1, interpolation="bicubic", antialias=False
    )
    assert torch.allclose(enc.pos_embed, expected, atol=1e-6)
    assert any("2×2 to a 4×4" in n for n in report.notes)


def test_vit_of_another_width_is_refused_naming_both(tmp_path):
    src = build_vit_encoder("small", 32).state_dict()
    path = _save(tmp_path / "vit_s.pth", src)
    msg = r"vit_s\.pth: embed dim 384 \(ViT-S\) in file, model is ViT-Ti 192"
    with pytest.raises(CheckpointError, match=msg):
        load_vit_encoder(build_vit_encoder("tiny", 32), path)


def test_vit_of_another_depth_is_refused(tmp_path):
    src = {
        k: v for k, v in build_vit_encoder("tiny", 32).state_dict().items() if "blocks.11." not in k
    }
    path = _save(tmp_path / "shallow.pth", src)
    with pytest.raises(CheckpointError, match="depth 11 in file, model has 12"):
        load_vit_encoder(build_vit_encoder("tiny", 32), path)


def test_a_cnn_file_is_not_a_vit(tmp_path):
    path = _save(tmp_path / "cnn.pth", create_model(ModelConfig("resnet18")).state_dict())
    with pytest.raises(CheckpointError, match=r"cnn\.pth: no patch_embed"):
        load_vit_encoder(build_vit_encoder("tiny", 32), path)


def test_garbage_file_names_the_file(tmp_path):
    bad = tmp_path / "junk.pth"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"junk\.pth"):
        load_vit_encoder(build_vit_encoder("tiny", 32), bad)


# --- LibreFace students: an independent torchvision model with LibreFace's module layout -----


def _head(out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(512, 128),
        nn.ReLU(),
        nn.BatchNorm1d(128),
        nn.Dropout(0.1),
        nn.Linear(128, out),
        nn.Sigmoid(),
    )


class _LibreFaceStudent(nn.Module):
    """torchvision ResNet-18 children 0–8 as ``encoder``, ``classifier`` (+ ``classifier_2``)."""

    def __init__(self, joint: bool, out: int = 12):
        super().__init__()
        import torchvision

        tv = torchvision.models.resnet18(weights=None)
        self.encoder = nn.Sequential(*list(tv.children())[:-1])
        self.classifier = _head(out)
        self.classifier_2 = _head(12) if joint else None

    def forward(self, x):
        f = self.encoder(x).flatten(1)
        return [self.classifier(f)] + ([self.classifier_2(f)] if self.classifier_2 else [])


def _randomise_bn(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


@pytest.mark.parametrize("tasks", [("intensity",), ("intensity", "detection")])
def test_libreface_student_loads_strictly_and_gives_identical_outputs(tmp_path, tasks):
    torch.manual_seed(0)
    ref = _LibreFaceStudent(joint=len(tasks) == 2).eval()
    _randomise_bn(ref)
    path = _save(tmp_path / "student.pth", ref.state_dict())
    model = create_model(ModelConfig("resnet18", tasks, img_size=64)).eval()
    report = load_libreface_student(model, path)
    assert report.missing == [] and report.unexpected == []
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want, got = ref(x), model(x)
    for task, w in zip(tasks, want, strict=True):
        torch.testing.assert_close(torch.sigmoid(got[task]), w, rtol=1e-5, atol=1e-6)


def test_reference_student_has_libreface_parameter_count():
    ref = _LibreFaceStudent(joint=False)
    assert count_parameters(ref) == count_parameters(create_model(ModelConfig("resnet18")))


def test_joint_file_into_single_head_model_is_refused(tmp_path):
    path = _save(tmp_path / "joint.pth", _LibreFaceStudent(joint=True).state_dict())
    with pytest.raises(CheckpointError, match=r"joint\.pth: file has two heads"):
        load_libreface_student(create_model(ModelConfig("resnet18")), path)


def test_student_file_with_other_output_count_is_refused(tmp_path):
    path = _save(tmp_path / "fer.pth", _LibreFaceStudent(joint=False, out=8).state_dict())
    with pytest.raises(CheckpointError, match=r"heads\.intensity\.4\.weight \[8, 128\] in file"):
        load_libreface_student(create_model(ModelConfig("resnet18")), path)


def test_student_file_with_a_stray_key_is_refused(tmp_path):
    sd = _LibreFaceStudent(joint=False).state_dict()
    sd["fc.weight"] = torch.zeros(1)
    path = _save(tmp_path / "stray.pth", sd)
    with pytest.raises(CheckpointError, match=r"stray\.pth: unexpected key 'fc\.weight'"):
        load_libreface_student(create_model(ModelConfig("resnet18")), path)


def test_student_import_refuses_a_vit(tmp_path):
    path = _save(tmp_path / "s.pth", _LibreFaceStudent(joint=False).state_dict())
    model = create_model(ModelConfig("vit", vit_size="tiny", img_size=32))
    with pytest.raises(CheckpointError, match="needs a ResNet, model is 'vit'"):
        load_libreface_student(model, path)


def test_torchvision_resnet18_weights_load_into_the_student_encoder(tmp_path):
    import torchvision

    tv = torchvision.models.resnet18(weights=None).eval()
    _randomise_bn(tv)
    path = _save(tmp_path / "resnet18_imagenet.pth", tv.state_dict(), wrap=None)
    model = create_model(ModelConfig("resnet18", img_size=64)).eval()
    report = load_cnn_encoder(model, path)
    assert report.ignored == ["fc.bias", "fc.weight"] and report.missing == []
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = torch.flatten(nn.Sequential(*list(tv.children())[:-1])(x), 1)
        torch.testing.assert_close(model.features(x), want, rtol=1e-5, atol=1e-5)


def test_cnn_weights_of_another_arch_are_refused(tmp_path):
    import timm

    path = _save(tmp_path / "r10.pth", timm.create_model("resnet10t", num_classes=0).state_dict())
    with pytest.raises(CheckpointError, match=r"r10\.pth: not a resnet18 encoder: shapes differ"):
        load_cnn_encoder(create_model(ModelConfig("resnet18")), path)


def test_student_init_recognises_a_libreface_file(tmp_path):
    path = _save(tmp_path / "lf.pth", _LibreFaceStudent(joint=False).state_dict())
    report = load_student_init(create_model(ModelConfig("resnet18")), path)
    assert report.layout == "libreface-student"


def test_cnn_weights_with_missing_blocks_are_refused_strictly(tmp_path):
    sd = create_model(ModelConfig("resnet18")).encoder.state_dict()
    sd = {k: v for k, v in sd.items() if not k.startswith("layer4.")}
    path = _save(tmp_path / "cut.pth", sd, wrap=None)
    with pytest.raises(
        CheckpointError, match=r"cut\.pth: does not fit resnet18: .*missing: layer4"
    ):
        load_cnn_encoder(create_model(ModelConfig("resnet18")), path)


# --- LibreFace 0.2.0's RepVGG-A0 students and weights folder ---------------------------------


class _LibreFaceRepVGG(nn.Module):
    """timm ``repvgg_a0`` with ``head.fc`` → ``Sequential(head.fc, Linear(1000, 512))`` as
    ``encoder``, then ``classifier`` 512 → 128 → K, with a final Sigmoid (AU intensity, FER) or
    without (AU detection): LibreFace 0.2.0's layout, written here from its key names."""

    def __init__(self, out: int, sigmoid: bool):
        super().__init__()
        import timm

        enc = timm.create_model("repvgg_a0", pretrained=False)
        enc.head.fc = nn.Sequential(enc.head.fc, nn.Linear(1000, 512))
        self.encoder = enc
        self.classifier = _head(out) if sigmoid else _head(out)[:-1]

    def forward(self, x):
        return self.classifier(self.encoder(x).flatten(1))


def test_repvgg_file_keys_are_libreface_layout():
    keys = set(_LibreFaceRepVGG(12, sigmoid=False).state_dict())
    assert {"encoder.head.fc.0.weight", "encoder.head.fc.1.weight", "classifier.4.bias"} <= keys
    assert (
        "encoder.stem.conv_kxk.conv.weight" in keys
        and "encoder.stages.3.0.conv_1x1.bn.bias" in keys
    )


@pytest.mark.parametrize("out,sigmoid", [(12, False), (8, True)])
def test_libreface_repvgg_students_load_and_decide_as_libreface(tmp_path, out, sigmoid):
    torch.manual_seed(0)
    ref = _LibreFaceRepVGG(out, sigmoid).eval()
    _randomise_bn(ref)
    path = _save(tmp_path / "repvgg.pt", ref.state_dict())
    model, report = libreface_model(path, img_size=64)
    assert model.config.arch == "repvgg_a0" and report.missing == [] and report.unexpected == []
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        want, got = ref(x), model(x)
    if out == 12:  # AU detection: LibreFace keeps raw ≥ 0.5; here sigmoid ≥ 0.5, i.e. raw' ≥ 0
        assert model.tasks == ("detection",) and "last bias" in report.notes[0]
        torch.testing.assert_close(got["detection"], want - REPVGG_DETECTION_OFFSET)
        assert torch.equal(torch.sigmoid(got["detection"]) >= 0.5, want >= 0.5)
    else:  # FER: LibreFace's argmax of per-class sigmoids = argmax of the softmax here
        assert model.tasks == ("expression",)
        torch.testing.assert_close(torch.sigmoid(got["expression"]), want, rtol=1e-5, atol=1e-6)
        assert torch.equal(torch.softmax(got["expression"], 1).argmax(1), want.argmax(1))


def test_repvgg_file_into_a_resnet_is_refused(tmp_path):
    path = _save(tmp_path / "det.pt", _LibreFaceRepVGG(12, sigmoid=False).state_dict())
    with pytest.raises(CheckpointError, match="needs repvgg_a0 with encoder_classes=1000"):
        load_libreface_student(create_model(ModelConfig("resnet18", ("detection",))), path)


def test_libreface_model_builds_the_resnet_students(tmp_path):
    path = _save(tmp_path / "combined_resnet.pt", _LibreFaceStudent(joint=True).state_dict())
    model, _ = libreface_model(path, img_size=64)
    assert model.config.arch == "resnet18" and model.tasks == ("intensity", "detection")
    path = _save(tmp_path / "resnet.pt", _LibreFaceStudent(joint=False).state_dict())
    assert libreface_model(path, img_size=64)[0].tasks == ("intensity",)
    assert libreface_model(path, "detection", img_size=64)[0].tasks == ("detection",)


def _touch_folder(root, rels):
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    return root


def test_libreface_weights_follows_model_choice_and_falls_back(tmp_path):
    every = _touch_folder(tmp_path / "all", LIBREFACE_FILES)
    joint = libreface_weights(every)
    assert [(p.relative_to(every).as_posix(), t) for p, t in joint] == [
        ("AU_Recognition/weights/combined_resnet.pt", ("intensity", "detection")),
        ("Facial_Expression_Recognition/weights/repvgg.pt", ("expression",)),
    ]
    sep = [p.relative_to(every).as_posix() for p, _ in libreface_weights(every, "separate")]
    assert sep == [
        "AU_Recognition/weights/repvgg.pt",
        "AU_Detection/weights/repvgg.pt",
        "Facial_Expression_Recognition/weights/repvgg.pt",
    ]
    video_only = _touch_folder(tmp_path / "v", ["AU_Recognition/weights/combined_repvgg.pt"])
    assert [t for _, t in libreface_weights(video_only, "separate")] == [("intensity", "detection")]
    with pytest.raises(CheckpointError, match="no LibreFace weights"):
        libreface_weights(tmp_path / "empty")
