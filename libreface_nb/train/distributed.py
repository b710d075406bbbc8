"""Several processes under ``torchrun``: set-up, the DDP wrapper of the step, metric reduction.

``torchrun --nproc_per_node N script.py`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the
rendezvous variables; :func:`setup` then joins the process group (``nccl`` on CUDA, ``gloo`` on a
CPU). With one process there is no group and no wrapper: :func:`wrap` returns None and the step's
``loss`` runs as it is.

With ``world`` > 1, :func:`wrap` puts a :class:`StepLoss` around the step (its one submodule,
``module``, is ``step.module``; its ``forward(batch)`` is ``step.loss(batch)``) and wraps that in
:class:`torch.nn.parallel.DistributedDataParallel`: ``device_ids=None`` on a CPU,
``[local rank]`` on CUDA, ``forward_sync_buffers=True`` (torch 2.14's name for
``broadcast_buffers=True``) and ``find_unused_parameters=True``.
The training step calls the wrapper, never ``step.loss`` directly, so every loss goes through
DDP, whatever parts of ``step.module`` the step's ``loss`` calls (a distillation step calls its
student and projection, not the module that holds both). Then, as DDP does:

- at construction, rank 0's parameters and buffers are copied to every process (so a resumed
  ``last.pt``, loaded before wrapping, and a fresh initialisation are the same everywhere);
- before each forward, rank 0's buffers (e.g. BatchNorm running statistics) are broadcast;
- during backward, the gradients of ``step.module``'s ``requires_grad`` parameters are
  all-reduced in buckets and divided by the world size: every process holds the average;
- a parameter that no process used in the step keeps ``grad=None`` (AdamW then skips it, as in
  one process): e.g. the heads of a multi-task model trained on one task. The set may change
  between steps. The price is one walk of the autograd graph per step; when every parameter was
  used, DDP says so once per process (a ``reducer.cpp`` warning about
  ``find_unused_parameters=True``).

A mid-epoch ``last.pt`` also holds every process's running loss sums (``partials``,
:mod:`libreface_nb.train.state`), so a resumed epoch's record counts each step once.

The wrapper is for the training step only: ``step.validate`` (rank 0 alone, under
``torch.no_grad``), ``train()`` / ``eval()`` and the checkpoints use the bare ``step.module``,
whose ``state_dict`` has no ``module.`` prefix (the same keys as a one-process run's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Dist:
    """This process: ``rank`` of ``world``; ``owned`` = :func:`setup` created the group."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False

    @property
    def main(self) -> bool:
        """Rank 0 writes every file and shows the progress bar."""
        return self.rank == 0


def setup(device_type: str) -> Dist:
    """Join the process group when ``WORLD_SIZE`` > 1 (torchrun); a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    owned = False
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
        owned = True
    return Dist(dist.get_rank(), dist.get_world_size(), local, owned)


def teardown(d: Dist) -> None:
    """Leave the process group if :func:`setup` created it."""
    if d.owned and dist.is_initialized():
        dist.destroy_process_group()


class StepLoss(torch.nn.Module):
    """``step.loss`` as a module: ``forward(batch)`` is ``step.loss(batch)``; the only submodule
    is ``module`` = ``step.module`` (the step itself is not registered, so a frozen teacher it
    holds stays outside DDP)."""

    def __init__(self, step: Any) -> None:
        super().__init__()
        self.module = step.module
        self._loss = step.loss  # a bound method: not a submodule

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self._loss(batch)


def wrap(step: Any, d: Dist, device: torch.device) -> DistributedDataParallel | None:
    """``DistributedDataParallel(StepLoss(step))`` when ``d.world`` > 1, else None.

    Call it after ``step.module`` is on ``device`` and any checkpoint is loaded: the constructor
    copies rank 0's parameters and buffers to every process.
    """
    if d.world == 1:
        return None
    return DistributedDataParallel(
        StepLoss(step),
        device_ids=[device.index] if device.type == "cuda" else None,
        forward_sync_buffers=True,  # torch 2.14's name for broadcast_buffers=True
        find_unused_parameters=True,
    )


def sum_floats(values: list[float], d: Dist, device: torch.device) -> list[float]:
    """Sum a list of floats over the processes (float64)."""
    if d.world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def broadcast_object(obj: object, d: Dist) -> object:
    """Rank 0's ``obj`` on every process (validation metrics, stop decisions)."""
    if d.world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: object, d: Dist) -> list[object]:
    """Every process's ``obj``, in rank order, on every process (``[obj]`` in one process)."""
    if d.world == 1:
        return [obj]
    out: list[object] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    """Wait for every process (e.g. until rank 0 has written a checkpoint)."""
    if d.world > 1:
        dist.barrier()
