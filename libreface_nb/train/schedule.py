"""Learning-rate schedule: linear warm-up, then half-cosine decay, as a pure function of the step.

This is the per-iteration schedule of facebookresearch/mae (``util/lr_sched.py``) and timm's
``CosineLRScheduler`` with ``t_in_epochs=False``: the rate is set before every optimizer step from
the number of steps already taken, so a resumed run only needs that number to continue exactly.

    step < warmup:  lr = base_lr · (step + 1) / warmup
    otherwise:      lr = min_lr + (base_lr − min_lr) · ½ · (1 + cos(π · t)),
                    t = (step − warmup) / (total − warmup)   (clamped to [0, 1])

The ``+ 1`` in the warm-up makes the first step use a rate above zero (mae's formula gives 0 for
step 0, i.e. one wasted step).
"""

from __future__ import annotations

import math

from libreface_nb.errors import ConfigError


def lr_at(step: int, base_lr: float, total: int, warmup: int = 0, min_lr: float = 0.0) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total``.

    Args:
        step: steps already taken (0 for the first update).
        base_lr: peak rate, reached at the end of the warm-up.
        total: total number of optimizer steps of the run.
        warmup: linear warm-up steps (0 = none); at most ``total``.
        min_lr: floor of the cosine, reached at ``step = total``.
    """
    if total < 1 or warmup < 0 or step < 0:
        raise ConfigError(
            f"lr_at needs total ≥ 1, warmup ≥ 0, step ≥ 0 (got {total}, {warmup}, {step})"
        )
    if step < warmup:
        return base_lr * (step + 1) / warmup
    span = max(total - warmup, 1)
    t = min(max((step - warmup) / span, 0.0), 1.0)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))
