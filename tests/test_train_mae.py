"""MAE pretraining: masking, loss on hidden patches only, learning, checkpoint layout, dataset."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from libreface_nb.data.transforms import build_transform
from libreface_nb.errors import ConfigError
from libreface_nb.faces.store import MANIFEST_COLUMNS, StoreWriter
from libreface_nb.train.loop import FitConfig, fit
from libreface_nb.train.mae import (
    MAE,
    MAEStep,
    mae_state_dict,
    patchify,
    random_masking,
    save_mae_checkpoint,
    unpatchify,
)
from libreface_nb.train.unlabeled import StoreFaces


def _mae_layout(dim, depth, ddim, ddepth, tokens, cls=True):
    """facebookresearch/mae models_mae.MaskedAutoencoderViT state-dict keys → shapes."""
    p3 = 16 * 16 * 3
    out = {"cls_token": (1, 1, dim)} if cls else {}
    out |= {"pos_embed": (1, tokens + cls, dim), "patch_embed.proj.weight": (dim, 3, 16, 16),
            "patch_embed.proj.bias": (dim,)}  # fmt: skip

    def block(prefix, d):
        return {f"{prefix}.norm1.weight": (d,), f"{prefix}.norm1.bias": (d,),
                f"{prefix}.attn.qkv.weight": (3 * d, d), f"{prefix}.attn.qkv.bias": (3 * d,),
                f"{prefix}.attn.proj.weight": (d, d), f"{prefix}.attn.proj.bias": (d,),
                f"{prefix}.norm2.weight": (d,), f"{prefix}.norm2.bias": (d,),
                f"{prefix}.mlp.fc1.weight": (4 * d, d), f"{prefix}.mlp.fc1.bias": (4 * d,),
                f"{prefix}.mlp.fc2.weight": (d, 4 * d), f"{prefix}.mlp.fc2.bias": (d,)}  # fmt: skip

    for i in range(depth):
        out |= block(f"blocks.{i}", dim)
    out |= {"norm.weight": (dim,), "norm.bias": (dim,), "mask_token": (1, 1, ddim),
            "decoder_pos_embed": (1, tokens + cls, ddim), "decoder_embed.weight": (ddim, dim),
            "decoder_embed.bias": (ddim,)}  # fmt: skip
    for i in range(ddepth):
        out |= block(f"decoder_blocks.{i}", ddim)
    out |= {"decoder_norm.weight": (ddim,), "decoder_norm.bias": (ddim,),
            "decoder_pred.weight": (p3, ddim), "decoder_pred.bias": (p3,)}  # fmt: skip
    return out


def _shapes(sd):
    return {k: tuple(v.shape) for k, v in sd.items()}


def test_masking_keeps_a_quarter_of_the_tokens():
    x = torch.randn(3, 16, 8)
    kept, mask, _ = random_masking(x, 0.75)
    assert kept.shape == (3, 4, 8)
    assert mask.sum(dim=1).tolist() == [12.0, 12.0, 12.0]


def test_masking_keeps_the_tokens_the_mask_marks_visible():
    x = torch.arange(16.0).reshape(1, 16, 1).repeat(2, 1, 1)
    kept, mask, _ = random_masking(x, 0.75, torch.Generator().manual_seed(0))
    for n in range(2):
        assert sorted(kept[n, :, 0].tolist()) == torch.nonzero(mask[n] == 0)[:, 0].float().tolist()


def test_restore_order_inverts_the_shuffle():
    x = torch.randn(2, 16, 4)
    gen = torch.Generator().manual_seed(1)
    _, _, ids_restore = random_masking(x, 0.75, gen)
    ids_shuffle = torch.argsort(torch.rand(2, 16, generator=torch.Generator().manual_seed(1)), 1)
    shuffled = torch.gather(x, 1, ids_shuffle[..., None].expand(-1, -1, 4))
    assert torch.equal(torch.gather(shuffled, 1, ids_restore[..., None].expand(-1, -1, 4)), x)


def test_patchify_round_trip():
    imgs = torch.randn(2, 3, 32, 32)
    assert torch.equal(unpatchify(patchify(imgs)), imgs)


def test_patchify_patch_order_is_row_major():
    imgs = torch.zeros(1, 3, 32, 32)
    imgs[0, :, 0:16, 16:32] = 1.0  # top-right patch = token 1
    assert patchify(imgs)[0].sum(dim=1).tolist() == [0.0, 768.0, 0.0, 0.0]


@pytest.mark.parametrize("cls", [True, False])
def test_loss_ignores_visible_patches(cls):
    torch.manual_seed(0)
    mae = MAE("tiny", 64, class_token=cls, decoder="small").eval()
    imgs = torch.randn(2, 3, 64, 64)
    _, pred, mask = mae(imgs, torch.Generator().manual_seed(3))
    visible = int(torch.nonzero(mask[0] == 0)[0, 0])
    r, c = divmod(visible, 4)
    changed = imgs.clone()
    changed[0, :, r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16] += 5.0 * torch.randn(3, 16, 16)
    assert mae.loss_fn(changed, pred, mask).item() == mae.loss_fn(imgs, pred, mask).item()


def test_loss_sees_hidden_patches():
    torch.manual_seed(0)
    mae = MAE("tiny", 64, decoder="small").eval()
    imgs = torch.randn(2, 3, 64, 64)
    _, pred, mask = mae(imgs, torch.Generator().manual_seed(3))
    hidden = int(torch.nonzero(mask[0] == 1)[0, 0])
    r, c = divmod(hidden, 4)
    changed = imgs.clone()
    changed[0, :, r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16] += 5.0 * torch.randn(3, 16, 16)
    assert mae.loss_fn(changed, pred, mask).item() != mae.loss_fn(imgs, pred, mask).item()


@pytest.mark.parametrize("cls", [True, False])
def test_checkpoint_has_the_mae_layout(tmp_path, cls):
    mae = MAE("tiny", 64, class_token=cls, decoder="small")
    path = save_mae_checkpoint(tmp_path / "mae.pth", mae)
    sd = torch.load(path, map_location="cpu", weights_only=True)["model"]
    assert _shapes(sd) == _mae_layout(192, 12, 128, 4, 16, cls=cls)


@pytest.mark.slow
def test_vit_base_with_the_default_decoder_matches_the_official_layout():
    """ViT-B/16 at 224 with the 512×8 decoder: mae_pretrain / mae_visualize_vit_base key set."""
    sd = mae_state_dict(MAE("base", 224, decoder="mae"))
    assert _shapes(sd) == _mae_layout(768, 12, 512, 8, 196)


def _face(k: int) -> np.ndarray:
    from skimage import data
    from skimage.transform import resize

    img = data.astronaut()[20 + 8 * k : 220 + 8 * k, 150 + 4 * k : 350 + 4 * k]
    return (resize(img, (256, 256)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    w = StoreWriter(root, {"size": 256, "method": "test"})
    rows = []
    for k in range(9):
        row = dict.fromkeys(MANIFEST_COLUMNS)
        ok = k < 8  # the 9th frame had no face
        row.update(source="/v.mp4", frame=k, time_s=k / 25, face=0 if ok else -1, track_id=-1,
                   status="ok" if ok else "no_face", reason="", score=0.9, width=256, height=256,
                   detector="test")  # fmt: skip
        row["face_file"] = w.write_face("/v.mp4", k, 0, _face(k)) if ok else ""
        rows.append(row)
    w.add_rows(rows)
    w.consolidate()
    return root


def test_store_faces_serves_every_ok_face(store):
    ds = StoreFaces(store, build_transform("au", True, size=64), seed=0)
    assert (len(ds), tuple(ds[0]["image"].shape)) == (8, (3, 64, 64))


def test_store_faces_can_keep_only_some_sources(store):
    from libreface_nb.errors import DatasetLayoutError

    with pytest.raises(DatasetLayoutError, match="no aligned face"):
        StoreFaces(store, build_transform("au", False, size=64), sources=["/other.mp4"])


def test_store_faces_augmentation_is_seeded_per_sample_and_epoch(store):
    ds = StoreFaces(store, build_transform("au", True, size=64), seed=0)
    first = ds[3]["image"]
    again = StoreFaces(store, build_transform("au", True, size=64), seed=0)[3]["image"]
    assert torch.equal(again, first)
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["image"], first)


def test_a_few_steps_on_eight_faces_reduce_the_loss(store, tmp_path):
    torch.manual_seed(0)
    ds = StoreFaces(store, build_transform("au", False, size=64), seed=0)
    step = MAEStep(MAE("tiny", 64, decoder="small"))
    before = step.validate(torch.utils.data.DataLoader(ds, batch_size=8))["val_loss"]
    cfg = FitConfig(epochs=12, batch_size=8, lr=2e-3, warmup_epochs=1, weight_decay=0.05,
                    monitor="val_loss", mode="min", patience=0, progress=False)  # fmt: skip
    res = fit(step, ds, ds, cfg, tmp_path)
    assert res.best < 0.85 * before  # measured: 1.318 → 0.987


def test_reconstruction_figure_has_three_panels_per_face():
    from libreface_nb.data.transforms import denormalize
    from libreface_nb.plots.train import reconstruction_figure

    mae = MAE("tiny", 32, decoder="small")
    out = mae.reconstruct(torch.randn(2, 3, 32, 32))
    fig = reconstruction_figure(
        *(denormalize(out[k]) for k in ("masked", "reconstruction", "original"))
    )
    assert len(fig.axes) == 6


def test_reconstruction_pastes_the_visible_patches_back():
    mae = MAE("tiny", 32, decoder="small")
    imgs = torch.randn(1, 3, 32, 32)
    out = mae.reconstruct(imgs)
    visible = (out["mask"][0] == 0).nonzero()[0, 0].item()
    r, c = divmod(visible, 2)
    patch = (slice(None), slice(None), slice(r * 16, r * 16 + 16), slice(c * 16, c * 16 + 16))
    assert torch.allclose(out["reconstruction"][patch], imgs[patch], atol=1e-6)


def test_training_curves_plot_every_run(tmp_path):
    from libreface_nb.plots.train import training_curves
    from libreface_nb.train.state import read_history, write_history

    recs = [
        {"epoch": e, "train_loss": 1 / (e + 1), "val_pcc": 0.1 * e, "best": True} for e in range(3)
    ]
    write_history(tmp_path / "h.jsonl", recs)
    hist = read_history(tmp_path / "h.jsonl")
    fig = training_curves({"a": hist, "b": pd.DataFrame(recs[:2])}, metric="val_pcc")
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 4]  # 2 curves + 2 best-epoch markers
    with pytest.raises(ConfigError, match="read_history"):
        training_curves({"a": tmp_path / "h.jsonl"})


def test_training_curves_default_to_every_loss_and_metric():
    # the keys stream train writes: epoch, step, lr, train_<loss>, val_<metric>, best, seconds
    from libreface_nb.plots.train import training_curves

    hist = pd.DataFrame({"epoch": [0, 1, 2], "step": [4, 8, 12], "lr": [1e-3] * 3,
                         "train_loss": [1, 0.6, 0.5], "train_kl": [0.3, 0.2, 0.1],
                         "val_pcc": [0.1, 0.2, 0.3], "val_mae": [0.9, 0.8, 0.7],
                         "best": [True, True, False], "seconds": [1.0, 1.0, 1.0]})  # fmt: skip
    fig = training_curves({"teacher": hist, "none yet": []})
    # left: train_loss (train_kl has no "loss"); right: val_pcc, val_mae + the best-epoch marker
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 3]


def test_read_history_skips_bad_lines_and_keeps_last_epoch(tmp_path):
    from libreface_nb.train.state import read_history

    path = tmp_path / "history.jsonl"
    lines = [
        {"epoch": 0, "loss": 1.0, "val_pcc": 0.1},
        "not json",
        {"epoch": 1, "loss": 0.5, "val_pcc": 0.3},
        {"epoch": 1, "loss": 0.4, "val_pcc": 0.4},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))
    assert [r["loss"] for r in read_history(path)] == [1.0, 0.4]  # 2 curves + 2 best-epoch markers
