"""Fit checkpoints (``last.pt``, ``best.pt``) and ``history.jsonl``: the files :func:`fit` writes.

Every file is written with :func:`libreface_nb.atomic.atomic_path` (temporary name, then rename)
and read with ``torch.load(..., weights_only=True)``: only tensors, numbers, strings, lists,
tuples, dicts and None are stored.

``last.pt`` (written at the end of every epoch, every ``save_every_steps`` optimizer steps and
when ``stop_after_steps`` interrupts the run) is a dict:

| key | value |
|---|---|
| ``format`` | ``"libreface_nb.fit/1"`` |
| ``model`` | ``step.module.state_dict()`` (CPU tensors, every parameter and buffer) |
| ``optimizer`` | AdamW ``state_dict()`` (moments per parameter, param groups with their lr) |
| ``scaler`` | fp16 GradScaler ``state_dict()``; None without fp16 |
| ``step`` | optimizer steps taken so far (the schedule's position), int |
| ``epoch`` | epoch being run, 0-based, int (= epochs finished when ``batch`` is 0) |
| ``batch`` | batches of that epoch already done, int (the resumed run skips them unloaded) |
| ``partial`` | the epoch so far: ``sums`` (loss key → sum of per-step values), ``count``
  (steps), ``images``, ``seconds``; under DDP rank 0's |
| ``partials`` | under DDP only: every process's ``partial``, in rank order (a resume with as
  many processes gives each its own; with another count rank 0 takes their sum) |
| ``best`` | best value of the monitored metric so far (float; None before the first validation) |
| ``best_epoch`` | epoch of ``best`` (int, -1 before the first validation) |
| ``bad_epochs`` | epochs since ``best`` improved (the patience counter) |
| ``history`` | list of the per-epoch records written so far (see below) |
| ``done`` | True once the run has finished (last epoch or early stop) |
| ``stopped_early`` | True if patience ended the run |
| ``rng`` | ``torch`` (ByteTensor), ``cuda`` (list of ByteTensors, [] without CUDA),
  ``numpy`` (``(name, keys as int64 tensor, pos, has_gauss, gauss)``), ``python``
  (``random.getstate()``) |
| ``config`` | the :class:`~libreface_nb.train.loop.FitConfig` as a dict |
| ``data`` | ``train_images``, ``val_images`` (ints) and ``model`` (the model's class and config, a
  string): a resume with other values is refused (absent in checkpoints written before it) |

``best.pt`` (written when the monitored metric improves) holds ``format``, ``model``, ``epoch``
(0-based), ``step``, ``metrics`` (that epoch's history record) and ``config``.

``history.jsonl``: one JSON object per finished epoch, rewritten whole (atomically) after each:
``epoch`` (0-based), ``step`` (optimizer steps after the epoch), ``lr`` (rate of the epoch's last
step), ``train_<key>`` for every key ``step.loss`` returned (the mean over the epoch's steps, and
over processes under DDP), the metrics ``step.validate`` returned (``val_…``, as given),
``best`` (bool: this epoch set a new best), ``seconds`` (wall time of training + validation) and
``images_per_s`` (training images of all processes / training seconds). ``seconds`` and
``images_per_s`` are the only fields that differ between two runs with the same seed on a CPU.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from libreface_nb.atomic import atomic_path, write_text
from libreface_nb.errors import CheckpointError

FORMAT = "libreface_nb.fit/1"

log = logging.getLogger(__name__)


def rng_state() -> dict[str, Any]:
    """Torch (CPU and CUDA), numpy and Python RNG states in weights_only-loadable types."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` with every tensor detached and copied to the CPU."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def save(path: Path, state: dict[str, Any]) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load(path: Path) -> dict[str, Any]:
    """Read a fit checkpoint, checking its format; errors name the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable fit checkpoint ({exc}); delete it"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} checkpoint (written by fit); delete it")
    return state


def write_history(path: Path, history: list[dict[str, Any]]) -> Path:
    """Write the per-epoch records as JSON lines (atomically, the whole file)."""
    return write_text(path, "".join(json.dumps(rec) + "\n" for rec in history))


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """The per-epoch records of a ``history.jsonl`` file (see the module docstring), in order.

    The one reader of these files (plots take the records it returns). Lines that are not a JSON
    object are skipped with a warning; records without an ``epoch`` (e.g. per-step logs) are
    kept only when no record has one; of several records of one epoch (a file appended to by a
    resumed run) the last is kept, at its place.

    Raises:
        FileNotFoundError: no file at ``path``.
    """
    path = Path(path)
    records = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s line %d is not JSON; skipped", path, k + 1)
            continue
        if isinstance(rec, dict):
            records.append(rec)
    if not any("epoch" in r for r in records):
        return records
    records = [r for r in records if r.get("epoch") is not None]
    last = {r["epoch"]: i for i, r in enumerate(records)}
    return [r for i, r in enumerate(records) if last[r["epoch"]] == i]
