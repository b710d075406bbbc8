"""Sample order, batch counts, AdamW parameter groups and device moves used by :func:`fit`.

Pure helpers, kept apart from the loop so they can be tested and reused (distillation, eval).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: Parameter-name endings that never get weight decay (besides every 1-D tensor: biases, norms).
NO_DECAY = ("pos_embed", "cls_token", "mask_token", "dist_token", "decoder_pos_embed")


def to_device(batch: Any, device: torch.device | str, channels_last: bool = False) -> Any:
    """Move every tensor of a (nested) batch to ``device``; 4-D float tensors channels-last."""
    if isinstance(batch, torch.Tensor):
        out = batch.to(device, non_blocking=True)
        if channels_last and out.ndim == 4 and out.is_floating_point():
            out = out.contiguous(memory_format=torch.channels_last)
        return out
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def param_groups(module: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay for weight matrices, none for 1-D tensors and :data:`NO_DECAY` names."""
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim <= 1 or name.endswith(".bias") or name.split(".")[-1] in NO_DECAY
        (no_decay if skip else decay).append(p)
    return [
        {"params": no_decay, "weight_decay": 0.0},
        {"params": decay, "weight_decay": weight_decay},
    ]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of ``epoch``: a permutation of ``range(n)`` from ``(seed, epoch)``."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def global_batches(n: int, batch_size: int, drop_last: bool, cap: int | None) -> int:
    """Batches per epoch: ``n // batch_size`` (at least 1) or the ceiling, capped by ``cap``."""
    full = n // batch_size if drop_last and n >= batch_size else -(-n // batch_size)
    return min(full, cap) if cap else full
