"""ViT encoders (timm's ``VisionTransformer``) in the variants the teacher and MAE share.

One function builds every encoder, so MAE pretraining, the fine-tuned teacher and checkpoint
import agree on the architecture. Variants (patch 16, LayerNorm eps 1e-6 as in MAE):

| size  | embed | depth | heads | params (224 px, no head) |
|-------|-------|-------|-------|--------------------------|
| tiny  | 192   | 12    | 3     | 5.5 M                    |
| small | 384   | 12    | 6     | 21.7 M                   |
| base  | 768   | 12    | 12    | 85.8 M                   |

``class_token=True`` with learned positions is the layout of facebookresearch MAE checkpoints
(``cls_token``, ``pos_embed`` [1, 1 + L, D], ``patch_embed.proj``, ``blocks.N.*``, ``norm``);
``class_token=False`` with ``fixed_pos=True`` is LibreFace's MAE encoder (VideoMAE style: no CLS
token, fixed 2-D sine-cosine positions that are not trained). The encoder's ``forward_features``
returns tokens ``[N, (1 +) L, D]`` after the final norm, L = (img_size / 16)².
"""

from __future__ import annotations

import numpy as np

from libreface_nb.errors import ConfigError

#: size → (embed dim, depth, heads)
VIT_SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
}
PATCH = 16


def sincos_pos_embed(embed_dim: int, grid: int, class_token: bool = False) -> np.ndarray:
    """2-D sine-cosine positions [(1 +) grid², D] (MAE's recipe: half the channels per axis).

    Row-major over the grid (token t = row·grid + col); the CLS slot, if any, is zeros.
    """
    if embed_dim % 4:
        raise ConfigError(f"embed_dim {embed_dim} must be divisible by 4 for sin-cos positions")
    omega = 1.0 / 10000 ** (np.arange(embed_dim // 4, dtype=np.float64) / (embed_dim / 4.0))
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")

    def axis(pos: np.ndarray) -> np.ndarray:
        out = np.outer(pos.reshape(-1), omega)  # [L, D/4]
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)  # [L, D/2]

    # MAE puts the width (column) axis first, then the height axis.
    emb = np.concatenate([axis(cols), axis(rows)], axis=1).astype(np.float32)
    if class_token:
        emb = np.concatenate([np.zeros((1, embed_dim), np.float32), emb], axis=0)
    return emb


def build_vit_encoder(
    size: str = "base",
    img_size: int = 224,
    *,
    class_token: bool = True,
    fixed_pos: bool = False,
    drop_path_rate: float = 0.0,
):
    """A timm ``VisionTransformer`` without a classifier (``num_classes=0``, no pooling).

    Args:
        size: ``tiny`` | ``small`` | ``base`` (:data:`VIT_SIZES`).
        img_size: input side in pixels, a multiple of 16 (224 as in the paper; 112 on a CPU).
        class_token: keep the CLS token (MAE checkpoints) or not (LibreFace's encoder).
        fixed_pos: fill ``pos_embed`` with 2-D sine-cosine values and freeze it.
        drop_path_rate: stochastic depth (MAE fine-tuning uses 0.1 for ViT-B).

    Random initialisation only: weights come from a local checkpoint, never from a hub.
    """
    from functools import partial

    import timm.models.vision_transformer as tvit
    import torch

    if size not in VIT_SIZES:
        raise ConfigError(f"unknown ViT size {size!r}; sizes are {sorted(VIT_SIZES)}")
    if img_size % PATCH:
        raise ConfigError(f"img_size {img_size} is not a multiple of the patch size {PATCH}")
    dim, depth, heads = VIT_SIZES[size]
    enc = tvit.VisionTransformer(
        img_size=img_size,
        patch_size=PATCH,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=4.0,
        qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_classes=0,
        global_pool="token" if class_token else "",
        class_token=class_token,
        drop_path_rate=drop_path_rate,
    )
    if fixed_pos:
        grid = img_size // PATCH
        pos = sincos_pos_embed(dim, grid, class_token=class_token)
        with torch.no_grad():
            enc.pos_embed.copy_(torch.from_numpy(pos)[None])
        enc.pos_embed.requires_grad_(False)
    return enc
