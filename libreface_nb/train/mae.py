"""Masked-autoencoder (MAE) pretraining of the ViT encoder on unlabeled aligned faces.

The recipe of He et al., *Masked Autoencoders Are Scalable Vision Learners* (CVPR 2022), as in
facebookresearch/mae ``models_mae.py``: the image is cut into 16×16 patches, 75 % of them are
hidden at random (a new mask per sample and step), the encoder (:func:`build_vit_encoder`) sees
only the visible 25 %, a small decoder gets the encoded visible tokens plus a learned
``mask_token`` at every hidden position (with fixed sine-cosine positions) and predicts the pixels
of every patch; the loss is the mean squared error on the *hidden* patches only, against pixels
normalised per patch (mean 0, variance 1 inside each patch: MAE's ``norm_pix_loss``, which gives
sharper features). Nothing about labels is needed, which is why it suits unlabeled face video.

Decoder sizes (width, depth, heads): MAE's default is 512 × 8 with 16 heads; on a CPU the
``"small"`` decoder 128 × 4 with 4 heads learns the same task ~15× cheaper.

:func:`save_mae_checkpoint` writes ``{"model": state_dict}`` with MAE's key names: the encoder's
timm names (``cls_token`` [1, 1, D] when there is a CLS token, ``pos_embed`` [1, (1 +) L, D],
``patch_embed.proj.weight`` [D, 3, 16, 16] and ``.bias``, ``blocks.N.{norm1, attn.qkv, attn.proj,
norm2, mlp.fc1, mlp.fc2}.*``, ``norm.*``) and the decoder's (``mask_token`` [1, 1, Dd],
``decoder_pos_embed`` [1, (1 +) L, Dd], ``decoder_embed`` [Dd, D], ``decoder_blocks.N.*``,
``decoder_norm.*``, ``decoder_pred`` [16·16·3, Dd]), so it loads like a downloaded MAE checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from libreface_nb.errors import ConfigError
from libreface_nb.models.vit import PATCH, build_vit_encoder, sincos_pos_embed

log = logging.getLogger(__name__)

#: decoder name → (width, depth, heads)
DECODERS: dict[str, tuple[int, int, int]] = {
    "small": (128, 4, 4),  # CPU profiles
    "medium": (256, 4, 8),
    "mae": (512, 8, 16),  # facebookresearch/mae default
}
MASK_RATIO = 0.75


def patchify(imgs: torch.Tensor, p: int = PATCH) -> torch.Tensor:
    """Images [N, 3, H, W] → patches [N, L, p·p·3] (row-major patches, (row, col, channel))."""
    n, c, h, w = imgs.shape
    x = imgs.reshape(n, c, h // p, p, w // p, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(x: torch.Tensor, p: int = PATCH) -> torch.Tensor:
    """Patches [N, L, p·p·3] → images [N, 3, H, W] (the inverse of :func:`patchify`)."""
    n, length, _ = x.shape
    g = int(round(length**0.5))
    x = x.reshape(n, g, g, p, p, 3)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(n, 3, g * p, g * p)


def random_masking(
    x: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random ``1 − mask_ratio`` of each sample's tokens (MAE's per-sample shuffle).

    Args:
        x: tokens [N, L, D].
        mask_ratio: share hidden; ``int(L · (1 − ratio))`` tokens are kept.
        generator: source of the noise (None = torch's global RNG).

    Returns:
        ``x_kept`` [N, L_keep, D] (in shuffled order), ``mask`` [N, L] (0 kept, 1 hidden, in the
        original order), ``ids_restore`` [N, L] (position of each original token in the
        shuffled sequence: ``gather(shuffled, ids_restore)`` puts tokens back in place).
    """
    n, length, d = x.shape
    keep = int(length * (1 - mask_ratio))
    noise = torch.rand(n, length, generator=generator, device="cpu").to(x.device)  # [N, L]
    ids_shuffle = torch.argsort(noise, dim=1)  # ascending: the smallest noise is kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]  # [N, L_keep]
    x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
    mask = torch.ones(n, length, device=x.device)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)  # back to the original order
    return x_kept, mask, ids_restore


class MAE(nn.Module):
    """A ViT encoder (timm) with MAE's decoder; ``forward(imgs) -> (loss, pred, mask)``.

    Args:
        size: ViT size (``tiny``, ``small``, ``base``).
        img_size: input side (multiple of 16).
        class_token: keep a CLS token (MAE) or not (LibreFace's encoder).
        decoder: a :data:`DECODERS` name.
        mask_ratio: share of patches hidden (0.75).
        norm_pix_loss: normalise target pixels per patch (MAE's best setting).

    Encoder positions are fixed sine-cosine values (MAE pretrains with frozen positions).
    """

    def __init__(
        self,
        size: str = "base",
        img_size: int = 224,
        *,
        class_token: bool = True,
        decoder: str = "mae",
        mask_ratio: float = MASK_RATIO,
        norm_pix_loss: bool = True,
    ) -> None:
        super().__init__()
        from functools import partial

        from timm.models.vision_transformer import Block

        if decoder not in DECODERS:
            raise ConfigError(f"unknown MAE decoder {decoder!r}; decoders are {sorted(DECODERS)}")
        self.encoder = build_vit_encoder(size, img_size, class_token=class_token, fixed_pos=True)
        self.class_token, self.mask_ratio, self.norm_pix_loss = (
            class_token,
            mask_ratio,
            norm_pix_loss,
        )
        self.img_size, self.size, self.decoder_name = img_size, size, decoder
        dim = self.encoder.embed_dim
        ddim, depth, heads = DECODERS[decoder]
        grid = img_size // PATCH
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.decoder_embed = nn.Linear(dim, ddim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
        pos = torch.from_numpy(sincos_pos_embed(ddim, grid, class_token=class_token))[None]
        self.decoder_pos_embed = nn.Parameter(pos, requires_grad=False)  # fixed, as in MAE
        self.decoder_blocks = nn.ModuleList(
            Block(ddim, heads, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(depth)
        )
        self.decoder_norm = norm(ddim)
        self.decoder_pred = nn.Linear(ddim, PATCH * PATCH * 3)
        self._init_decoder()

    def _init_decoder(self) -> None:
        torch.nn.init.normal_(self.mask_token, std=0.02)
        for name, m in self.named_modules():
            if name.startswith("encoder"):
                continue  # timm's own init
            if isinstance(m, nn.Linear):
                torch.nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def encode(self, imgs: torch.Tensor, generator: torch.Generator | None = None):
        """Encode the visible tokens: ``(latent [N, (1 +) L_keep, D], mask, ids_restore)``."""
        enc = self.encoder
        x = enc.patch_embed(imgs)  # [N, L, D]
        prefix = 1 if self.class_token else 0
        x = x + enc.pos_embed[:, prefix:, :]
        x, mask, ids_restore = random_masking(x, self.mask_ratio, generator)
        if self.class_token:
            cls = enc.cls_token + enc.pos_embed[:, :1, :]
            x = torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1)
        for blk in enc.blocks:
            x = blk(x)
        return enc.norm(x), mask, ids_restore

    def decode(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Encoded visible tokens → pixel predictions for every patch [N, L, 16·16·3]."""
        x = self.decoder_embed(latent)  # [N, (1 +) L_keep, Dd]
        prefix = 1 if self.class_token else 0
        n, length = ids_restore.shape
        hidden = self.mask_token.expand(n, length + prefix - x.shape[1], -1)
        tokens = torch.cat([x[:, prefix:, :], hidden], dim=1)  # [N, L, Dd], shuffled order
        index = ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2])
        tokens = torch.gather(tokens, 1, index)  # original order
        x = torch.cat([x[:, :prefix, :], tokens], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, prefix:, :]

    def target(self, imgs: torch.Tensor) -> torch.Tensor:
        """The pixels to predict [N, L, 16·16·3] (normalised per patch with norm_pix_loss)."""
        t = patchify(imgs)
        if self.norm_pix_loss:
            mean, var = t.mean(dim=-1, keepdim=True), t.var(dim=-1, keepdim=True)
            t = (t - mean) / (var + 1.0e-6) ** 0.5
        return t

    def loss_fn(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error per patch, averaged over the hidden patches only."""
        # float32 even under autocast: per-patch variances of bf16 pixels are too coarse.
        per_patch = ((pred.float() - self.target(imgs.float())) ** 2).mean(dim=-1)  # [N, L]
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, imgs: torch.Tensor, generator: torch.Generator | None = None):
        """``(loss, pred [N, L, p·p·3], mask [N, L])`` for images [N, 3, S, S]."""
        latent, mask, ids_restore = self.encode(imgs, generator)
        pred = self.decode(latent, ids_restore)
        return self.loss_fn(imgs, pred, mask), pred, mask

    @torch.no_grad()
    def reconstruct(self, imgs: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
        """Masked input, reconstruction (visible patches pasted back) and original, as images.

        The prediction is un-normalised with each patch's own mean and variance (as MAE's demo
        does), so colours are right. Returns ``masked``, ``reconstruction``, ``original``, each
        [N, 3, S, S] in the input's (ImageNet-normalised) space, and ``mask`` [N, L].
        """
        was = self.training
        self.eval()
        gen = torch.Generator().manual_seed(seed)
        _, pred, mask = self(imgs, gen)
        self.train(was)
        t = patchify(imgs)
        if self.norm_pix_loss:
            mean, var = t.mean(dim=-1, keepdim=True), t.var(dim=-1, keepdim=True)
            pred = pred * (var + 1.0e-6) ** 0.5 + mean
        m = mask.unsqueeze(-1)
        masked = unpatchify(t * (1 - m))
        return {
            "masked": masked,
            "reconstruction": unpatchify(t * (1 - m) + pred * m),
            "original": imgs,
            "mask": mask,
        }


def mae_state_dict(mae: MAE) -> dict[str, torch.Tensor]:
    """The MAE-layout state dict: encoder keys at the top level, then the decoder's."""
    out = {k: v.detach().cpu() for k, v in mae.encoder.state_dict().items()}
    out |= {
        k: v.detach().cpu() for k, v in mae.state_dict().items() if not k.startswith("encoder.")
    }
    return out


def save_mae_checkpoint(path: str | Path, mae: MAE, extra: dict[str, Any] | None = None) -> Path:
    """Write ``{"model": mae_state_dict(mae), "config": …}`` atomically (see the module docstring).

    ``config`` (size, img_size, class_token, decoder, mask_ratio, norm_pix_loss) and ``extra``
    are additions MAE's loader ignores.
    """
    from libreface_nb.atomic import atomic_path

    cfg = {"size": mae.size, "img_size": mae.img_size, "class_token": mae.class_token,
           "decoder": mae.decoder_name, "mask_ratio": mae.mask_ratio,
           "norm_pix_loss": mae.norm_pix_loss}  # fmt: skip
    payload = {"model": mae_state_dict(mae), "config": cfg, "extra": dict(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


@dataclass
class MAEStep:
    """The :func:`~libreface_nb.train.loop.fit` step for MAE pretraining (monitor ``val_loss``).

    Validation uses a fixed mask per batch (a generator seeded with ``val_seed``), so two
    validations of the same weights give the same number.
    """

    module: MAE
    val_seed: int = 0

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss, _, _ = self.module(batch["image"])
        return {"loss": loss}

    def validate(self, loader: Any) -> dict[str, float]:
        from libreface_nb.train.loop import to_device

        dev = next(self.module.parameters()).device
        gen = torch.Generator().manual_seed(self.val_seed)
        total, n = 0.0, 0
        with torch.no_grad():
            for batch in loader:
                imgs = to_device(batch["image"], dev)
                loss, _, _ = self.module(imgs, gen)
                total += float(loss) * len(imgs)
                n += len(imgs)
        return {"val_loss": total / max(n, 1)}


def image_batch(dataset: Any, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` images of ``dataset`` (evenly spread) stacked as [n, 3, S, S], for figures."""
    picks = np.linspace(0, len(dataset) - 1, num=min(n, len(dataset))).round().astype(int)
    return torch.stack([dataset[int(i)]["image"] for i in picks])
