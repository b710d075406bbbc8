"""Several processes under ``torchrun``: set-up, gradient averaging and metric reduction.

``torchrun --nproc_per_node N script.py`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the
rendezvous variables; :func:`setup` then joins the process group (``nccl`` on CUDA, ``gloo`` on a
CPU). Instead of wrapping ``step.module`` in ``DistributedDataParallel`` (the step's ``loss``
calls the bare module), :func:`average_gradients` all-reduces the gradients after each backward
pass, in flat buckets, and divides by the world size: the same update as DDP's. Buffers (e.g.
BatchNorm running statistics) are broadcast from rank 0 before each step, as DDP's
``broadcast_buffers=True`` does, so every process holds rank 0's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

#: Elements per all-reduce bucket (64 MiB of float32).
BUCKET = 1 << 24


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


def broadcast_module(module: torch.nn.Module, d: Dist, buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (and buffers) to every process."""
    if d.world == 1:
        return
    tensors = list(module.buffers()) if buffers_only else list(module.state_dict().values())
    for t in tensors:
        dist.broadcast(t.data, src=0)


def _reduce_bucket(bucket: list[torch.Tensor], world: int) -> None:
    flat = torch.cat([g.reshape(-1) for g in bucket])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in bucket:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_gradients(params: list[torch.nn.Parameter], d: Dist) -> None:
    """All-reduce the gradients of ``params`` and divide by the world size (DDP's average)."""
    if d.world == 1:
        return
    bucket: list[torch.Tensor] = []
    size = 0
    for g in (p.grad for p in params if p.grad is not None):
        if bucket and (size + g.numel() > BUCKET or g.dtype != bucket[0].dtype):
            _reduce_bucket(bucket, d.world)
            bucket, size = [], 0
        bucket.append(g)
        size += g.numel()
    if bucket:
        _reduce_bucket(bucket, d.world)


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


def barrier(d: Dist) -> None:
    """Wait for every process (e.g. until rank 0 has written a checkpoint)."""
    if d.world > 1:
        dist.barrier()
