"""One training loop for MAE pretraining, teacher fine-tuning and distillation: :func:`fit`.

``fit(step, train_set, val_set, cfg, out_dir)`` drives a *step*, any object with:

- ``step.module``: the ``nn.Module`` whose ``requires_grad`` parameters are optimised and whose
  ``state_dict`` is checkpointed (a frozen teacher inside it stays frozen);
- ``step.loss(batch) -> dict[str, Tensor]``: ``"loss"`` is optimised, every other key is logged;
  ``batch`` is the collated dict of the dataset's items, already on the module's device;
- ``step.validate(loader) -> dict[str, float]``: metrics on the validation loader (plain CPU
  batches: move them with :func:`to_device`); must contain ``cfg.monitor``. ``fit`` calls it in
  eval mode under ``torch.no_grad`` (and autocast on CUDA).

What ``fit`` does, as timm's and mae's training scripts do: AdamW with weight decay on weights
only (not on biases, norm weights, positional embeddings or CLS / mask tokens); the learning rate
set before every step by :func:`libreface_nb.train.schedule.lr_at` (linear warm-up, then cosine);
gradient-norm clipping; early stopping when ``cfg.monitor`` has not improved for ``cfg.patience``
epochs; ``best.pt``, ``last.pt`` and ``history.jsonl`` in ``out_dir`` (formats:
:mod:`libreface_nb.train.state`).

Randomness and resume: ``fit`` seeds torch, numpy and Python from ``cfg.seed`` when it starts.
The order of epoch ``e`` is a permutation drawn from a generator seeded with ``(seed, e)``, cut
into global batches of ``cfg.batch_size`` (the incomplete last batch is dropped, unless the
dataset is smaller than a batch); datasets with ``set_epoch`` get it each epoch. A run
interrupted after step ``k`` and resumed from ``last.pt`` restores the model, optimizer, RNG
states and the epoch's running sums, skips the ``k`` batches already done without loading them,
and ends with the same weights and history as an uninterrupted run (on a CPU; tested). A resume
is refused (ConfigError naming both values) when ``last.pt`` was written with another batch size,
seed, epoch count, lr or steps cap, another training or validation set size, or another model
config (:func:`_data_record`): it would continue someone else's run.

Devices: CUDA when present (``cfg.device="auto"``), with autocast (``cfg.amp``: ``bf16``, or
``fp16`` with a GradScaler) and channels-last images; a CPU run is plain float32. Under
``torchrun`` each process takes every ``world``-th sample of each global batch (so the global
batch is the same as in one process), the training step calls ``step.loss`` through
:class:`~torch.nn.parallel.DistributedDataParallel` (which averages the gradients over processes;
:mod:`libreface_nb.train.distributed`), validation runs on rank 0 with the bare ``step.module``
and is broadcast, and only rank 0 writes files (the bare module's ``state_dict``, no ``module.``
prefix). One process trains without any wrapper.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from libreface_nb.errors import ConfigError, LibreFaceError
from libreface_nb.train import distributed as D
from libreface_nb.train import state as S
from libreface_nb.train.batches import (
    epoch_order,
    global_batches,
    param_groups,
    to_device,
)
from libreface_nb.train.schedule import lr_at

log = logging.getLogger(__name__)


class Step(Protocol):
    module: torch.nn.Module

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]: ...

    def validate(self, loader: Any) -> dict[str, float]: ...


class FitInterrupted(LibreFaceError):
    """Raised after ``cfg.stop_after_steps`` steps, ``last.pt`` saved: call fit again to resume."""


@dataclass
class FitConfig:
    """Everything :func:`fit` needs besides the step and the data: the loop's mechanics.

    The training recipes (epochs, batch, lr, weight decay, warm-up, patience, seed of notebooks
    02 and 03) live in :mod:`libreface_nb.train.recipes`, which builds this object; here
    ``epochs``, ``batch_size`` and ``lr`` have no default, and the other knobs default to
    "off" (no weight decay, no warm-up, no early stopping). The optimiser settings every recipe
    shares are defaults here: AdamW betas (0.9, 0.999), gradient clipping at 1.0, cosine to 0.
    """

    epochs: int  #: at most this many epochs
    batch_size: int  #: global batch (all processes together)
    lr: float  #: peak learning rate
    min_lr: float = 0.0  #: cosine floor
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_epochs: float = 0.0  #: linear warm-up length, in epochs (may be fractional)
    clip_grad: float | None = 1.0  #: max gradient L2 norm; None = no clipping
    monitor: str = "val_loss"  #: key of step.validate's dict for early stopping
    mode: str = "min"  #: "max" (PCC, F1, accuracy) or "min" (losses)
    patience: int = 0  #: epochs without improvement before stopping; 0 = never stop early
    seed: int = 0
    max_steps_per_epoch: int | None = None  #: cap the batches of an epoch (quick runs)
    drop_last: bool = True
    num_workers: int = 0
    save_every_steps: int = 0  #: also write last.pt every N steps (0 = only at epoch ends)
    stop_after_steps: int | None = None  #: raise FitInterrupted after N total steps (tests)
    resume: bool = True  #: continue from out_dir/last.pt when it exists
    restore_best: bool = True  #: load best.pt's weights into step.module at the end
    device: str = "auto"  #: "auto" (CUDA if present), "cpu", "cuda", "cuda:1"…
    amp: str = "bf16"  #: on CUDA: "bf16", "fp16" or "off"; always off on a CPU
    channels_last: bool = True  #: on CUDA only
    progress: bool = True  #: tqdm bar on rank 0
    extra: dict[str, Any] = field(default_factory=dict)  #: free-form, stored in checkpoints

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ConfigError(f"FitConfig.mode={self.mode!r} must be 'max' or 'min'")
        if self.amp not in ("bf16", "fp16", "off"):
            raise ConfigError(f"FitConfig.amp={self.amp!r} must be 'bf16', 'fp16' or 'off'")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"epochs ({self.epochs}) and batch_size must be ≥ 1")


@dataclass
class FitResult:
    """What :func:`fit` returns. ``best`` is None if no epoch was validated."""

    best: float | None
    best_epoch: int
    history: list[dict[str, Any]]
    best_path: Path
    last_path: Path
    history_path: Path
    steps: int
    stopped_early: bool


def _loader(dataset: Any, cfg: FitConfig, epoch: int, start: int, n_batches: int, d: D.Dist):
    """Batches ``start..n_batches-1`` of ``epoch`` for this process (rank-strided slices)."""
    order = epoch_order(len(dataset), cfg.seed, epoch)
    b = cfg.batch_size
    batches = [order[i * b : (i + 1) * b][d.rank :: d.world].tolist() for i in range(n_batches)]
    gen = torch.Generator().manual_seed(int(cfg.seed) * 100003 + epoch)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches[start:], num_workers=cfg.num_workers, generator=gen
    )


def _device(cfg: FitConfig, d: D.Dist) -> torch.device:
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and d.world > 1:
        name = f"cuda:{d.local_rank}"
    return torch.device(name)


def _autocast(device: torch.device, cfg: FitConfig):
    if device.type != "cuda" or cfg.amp == "off":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype)


class _Run:
    """The mutable state of one fit call (what last.pt holds)."""

    def __init__(
        self, step: Step, cfg: FitConfig, out: Path, device: torch.device, d: D.Dist,
        data: dict[str, Any],
    ):  # fmt: skip
        self.step, self.cfg, self.out, self.device, self.d = step, cfg, out, device, d
        self.module = step.module  #: the bare module: optimised, checkpointed, validated
        #: ``step.loss`` inside DistributedDataParallel when world > 1 (set by :func:`_fit`)
        self.ddp: torch.nn.parallel.DistributedDataParallel | None = None
        self.data = data  #: what was trained on (checked on resume): see :func:`_data_record`
        self.params = [p for p in self.module.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(
            param_groups(self.module, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas
        )
        fp16 = device.type == "cuda" and cfg.amp == "fp16"
        self.scaler = torch.amp.GradScaler("cuda") if fp16 else None
        self.gstep, self.epoch, self.batch = 0, 0, 0
        self.partial: dict[str, Any] = {"sums": {}, "count": 0, "images": 0, "seconds": 0.0}
        self.best: float | None = None
        self.best_epoch, self.bad_epochs = -1, 0
        self.history: list[dict[str, Any]] = []
        self.done = self.stopped_early = False

    # -- checkpoints ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": S.FORMAT,
            "model": S.cpu_state_dict(self.module),
            "optimizer": self.opt.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "step": self.gstep,
            "epoch": self.epoch,
            "batch": self.batch,
            "partial": self.partial,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
            "done": self.done,
            "stopped_early": self.stopped_early,
            "rng": S.rng_state(),
            "config": _config_dict(self.cfg),
            "data": self.data,
        }

    def save_last(self) -> None:
        """Write ``last.pt`` (every process calls it at the same step: it gathers the partials)."""
        state = self.state()
        if self.d.world > 1:  # each process's running sums, for an exact mid-epoch resume
            state["partials"] = D.gather_objects(self.partial, self.d)
        if self.d.main:
            S.save(self.out / "last.pt", state)
        D.barrier(self.d)

    def restore(self, ck: dict[str, Any], path: Path) -> None:
        old = ck["config"]
        for key in ("batch_size", "seed", "epochs", "lr", "max_steps_per_epoch"):
            if old.get(key) != getattr(self.cfg, key):
                raise ConfigError(
                    f"{path} was written with {key}={old.get(key)!r}, this run has"
                    f" {key}={getattr(self.cfg, key)!r}: use the same value, another out_dir,"
                    " or resume=False"
                )
        for key, old_value in ck.get("data", {}).items():  # absent in checkpoints before 2026-12
            if old_value != self.data.get(key):
                raise ConfigError(
                    f"{path} was written with {key}={old_value!r}, this run has"
                    f" {key}={self.data.get(key)!r}: resuming would continue another run's"
                    " training on this one; use another out_dir or resume=False"
                )
        try:
            self.module.load_state_dict(ck["model"])
        except RuntimeError as exc:
            raise S.CheckpointError(f"{path} does not fit this model: {exc}") from exc
        self.opt.load_state_dict(ck["optimizer"])
        if self.scaler and ck["scaler"]:
            self.scaler.load_state_dict(ck["scaler"])
        self.gstep, self.epoch, self.batch = ck["step"], ck["epoch"], ck["batch"]
        self.partial, self.history = _own_partial(ck, self.d), list(ck["history"])
        self.best, self.best_epoch, self.bad_epochs = ck["best"], ck["best_epoch"], ck["bad_epochs"]
        self.done, self.stopped_early = ck["done"], ck["stopped_early"]
        S.set_rng_state(ck["rng"])
        log.info(
            "resumed %s at epoch %d, batch %d (step %d)", path, self.epoch, self.batch, self.gstep
        )


def _own_partial(ck: dict[str, Any], d: D.Dist) -> dict[str, Any]:
    """This process's share of the interrupted epoch's running sums.

    ``partials`` (every process's, written under DDP) with the same number of processes: this
    rank's own. Otherwise rank 0 takes the sum of all of them (or ``partial``, the only record in
    a one-process file or one written before ``partials`` existed) and the other ranks zeros with
    the same keys, so that the epoch's reduction over processes counts every step once.
    """
    partials = ck.get("partials") or [ck["partial"]]
    if len(partials) == d.world:
        return partials[d.rank]
    keys = sorted({k for p in partials for k in p["sums"]})
    if d.rank != 0:
        return {"sums": dict.fromkeys(keys, 0.0), "count": 0, "images": 0, "seconds": 0.0}
    return {
        "sums": {k: sum(p["sums"].get(k, 0.0) for p in partials) for k in keys},
        "count": sum(p["count"] for p in partials),
        "images": sum(p["images"] for p in partials),
        "seconds": partials[0]["seconds"],
    }


def _data_record(module: Any, train_set: Any, val_set: Any) -> dict[str, Any]:
    """What a resume must match beyond the FitConfig: the sizes of the training and validation
    sets and the model's configuration (``module.config``, or ``module.student.config`` for a
    student with a learned projection; its repr, when it is a dataclass such as
    :class:`~libreface_nb.models.factory.ModelConfig`), which the state dict alone does not pin (a
    CNN's weights load at any ``img_size``)."""
    config = getattr(module, "config", None)
    if config is None:
        config = getattr(getattr(module, "student", None), "config", None)
    if not is_dataclass(config):  # another object's repr may hold its address: not comparable
        config = None
    model = type(module).__name__ + (f"({config!r})" if config is not None else "")
    return {"train_images": len(train_set), "val_images": len(val_set), "model": model}


def _config_dict(cfg: FitConfig) -> dict[str, Any]:
    out = asdict(cfg)
    out["betas"] = list(cfg.betas)
    return out


def _train_step(run: _Run, batch: dict[str, Any], total: int, warmup: int) -> dict[str, float]:
    cfg = run.cfg
    lr = lr_at(run.gstep, cfg.lr, total, warmup, cfg.min_lr)
    for group in run.opt.param_groups:
        group["lr"] = lr
    with _autocast(run.device, cfg):  # DDP broadcasts rank 0's buffers before its forward
        losses = run.ddp(batch) if run.ddp is not None else run.step.loss(batch)
    loss = losses["loss"]
    if not torch.isfinite(loss):
        raise LibreFaceError(
            f"loss is {loss.item()} at step {run.gstep} (epoch {run.epoch}): lower lr"
            f" (now {lr:.3g}) or check the data; last good state: {run.out / 'last.pt'}"
        )
    run.opt.zero_grad(set_to_none=True)
    (run.scaler.scale(loss) if run.scaler else loss).backward()  # DDP all-reduces the gradients
    if run.scaler:
        run.scaler.unscale_(run.opt)
    if cfg.clip_grad:
        torch.nn.utils.clip_grad_norm_(run.params, cfg.clip_grad)
    if run.scaler:
        run.scaler.step(run.opt)
        run.scaler.update()
    else:
        run.opt.step()
    run.gstep += 1
    return {k: float(v.detach()) for k, v in losses.items()} | {"lr": lr}


def _progress(run: _Run, n: int, start: int):
    if not (run.cfg.progress and run.d.main):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n, initial=start, desc=f"epoch {run.epoch}", leave=False)


def _train_epoch(run: _Run, train_set: Any, n_batches: int, total: int, warmup: int) -> float:
    """Run the rest of the current epoch; returns the last lr. May raise FitInterrupted."""
    cfg, part = run.cfg, run.partial
    if hasattr(train_set, "set_epoch"):
        train_set.set_epoch(run.epoch)
    loader = _loader(train_set, cfg, run.epoch, run.batch, n_batches, run.d)
    bar = _progress(run, n_batches, run.batch)
    lr = cfg.lr
    t0 = time.perf_counter()
    run.module.train()
    for batch in loader:
        n_img = len(next(iter(batch.values())))
        out = _train_step(run, to_device(batch, run.device, _cl(run)), total, warmup)
        lr = out.pop("lr")
        for k, v in out.items():
            part["sums"][k] = part["sums"].get(k, 0.0) + v
        part["count"] += 1
        part["images"] += n_img
        run.batch += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{out['loss']:.4f}")
        stop = cfg.stop_after_steps is not None and run.gstep >= cfg.stop_after_steps
        if stop or (cfg.save_every_steps and run.gstep % cfg.save_every_steps == 0):
            part["seconds"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            run.save_last()
            if stop:
                raise FitInterrupted(f"stopped after {run.gstep} steps; last.pt in {run.out}")
    part["seconds"] += time.perf_counter() - t0
    if bar is not None:
        bar.close()
    return lr


def _cl(run: _Run) -> bool:
    return run.device.type == "cuda" and run.cfg.channels_last


def _validate(run: _Run, val_set: Any) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if run.d.main:
        loader = torch.utils.data.DataLoader(
            val_set, batch_size=run.cfg.batch_size, shuffle=False, num_workers=run.cfg.num_workers
        )
        run.module.eval()
        with torch.no_grad(), _autocast(run.device, run.cfg):
            metrics = {k: float(v) for k, v in run.step.validate(loader).items()}
        run.module.train()
        if run.cfg.monitor not in metrics:
            raise ConfigError(
                f"step.validate returned {sorted(metrics)}, without FitConfig.monitor"
                f"={run.cfg.monitor!r}"
            )
    return D.broadcast_object(metrics, run.d)  # type: ignore[return-value]


def _improved(value: float, best: float | None, mode: str) -> bool:
    if not np.isfinite(value):
        return False
    return best is None or (value > best if mode == "max" else value < best)


def _end_epoch(run: _Run, val_set: Any, lr: float) -> None:
    """Reduce the epoch's losses, validate, record history, checkpoint, decide on stopping."""
    part, cfg = run.partial, run.cfg
    keys = sorted(part["sums"])
    sums = D.sum_floats([part["sums"][k] for k in keys] + [part["count"], part["images"]],
                        run.d, run.device)  # fmt: skip
    count, images = sums[-2], sums[-1]
    t0 = time.perf_counter()
    metrics = _validate(run, val_set)
    seconds = part["seconds"] + time.perf_counter() - t0
    value = metrics[cfg.monitor]
    better = _improved(value, run.best, cfg.mode)
    rec = {"epoch": run.epoch, "step": run.gstep, "lr": lr}
    rec |= {f"train_{k}": s / max(count, 1) for k, s in zip(keys, sums, strict=False)}
    rec |= metrics | {"best": better, "seconds": round(seconds, 3)}
    rec["images_per_s"] = round(images / max(part["seconds"], 1e-9), 2)
    run.history.append(rec)
    log.info("epoch %d: %s", run.epoch, {k: rec[k] for k in rec if k not in ("best",)})
    if better:
        run.best, run.best_epoch, run.bad_epochs = value, run.epoch, 0
        if run.d.main:
            best = {"format": S.FORMAT, "model": S.cpu_state_dict(run.module), "epoch": run.epoch,
                    "step": run.gstep, "metrics": rec, "config": _config_dict(cfg)}  # fmt: skip
            S.save(run.out / "best.pt", best)
    else:
        run.bad_epochs += 1
    run.epoch += 1
    run.batch = 0
    run.partial = {"sums": {}, "count": 0, "images": 0, "seconds": 0.0}
    run.stopped_early = bool(cfg.patience) and run.bad_epochs >= cfg.patience
    run.done = run.stopped_early or run.epoch >= cfg.epochs
    if run.d.main:
        S.write_history(run.out / "history.jsonl", run.history)
    run.save_last()


def fit(step: Step, train_set: Any, val_set: Any, cfg: FitConfig, out_dir: str | Path) -> FitResult:
    """Train ``step.module`` on ``train_set``, validating on ``val_set`` (see the module docstring).

    Args:
        step: the step protocol (``module``, ``loss``, ``validate``).
        train_set: a map-style dataset of dict items (e.g. ``FaceDataset``).
        val_set: the validation dataset (subjects held out from training, never the test fold).
        cfg: the :class:`FitConfig`.
        out_dir: where ``best.pt``, ``last.pt`` and ``history.jsonl`` go (created).

    Returns:
        A :class:`FitResult`; with ``cfg.restore_best`` the module holds the best epoch's weights.

    Raises:
        FitInterrupted: after ``cfg.stop_after_steps`` steps (``last.pt`` saved).
        ConfigError: an empty dataset, a missing monitor key, or a resume with another config.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device_type = "cuda" if cfg.device.startswith("cuda") or (
        cfg.device == "auto" and torch.cuda.is_available()) else "cpu"  # fmt: skip
    d = D.setup(device_type)
    try:
        return _fit(step, train_set, val_set, cfg, out, d)
    finally:
        D.teardown(d)


def _fit(step: Step, train_set: Any, val_set: Any, cfg: FitConfig, out: Path, d: D.Dist):
    if len(train_set) == 0 or len(val_set) == 0:
        raise ConfigError(f"fit needs samples: {len(train_set)} train, {len(val_set)} validation")
    if cfg.batch_size % d.world:
        raise ConfigError(f"batch_size {cfg.batch_size} is not divisible by {d.world} processes")
    device = _device(cfg, d)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    import random

    random.seed(cfg.seed)
    step.module.to(device)
    if device.type == "cuda" and cfg.channels_last:
        step.module.to(memory_format=torch.channels_last)
    run = _Run(step, cfg, out, device, d, _data_record(step.module, train_set, val_set))
    last = out / "last.pt"
    if cfg.resume and last.is_file():
        run.restore(S.load(last), last)
    run.ddp = D.wrap(step, d, device)  # after the restore: copies rank 0's weights to all
    n_batches = global_batches(
        len(train_set), cfg.batch_size, cfg.drop_last, cfg.max_steps_per_epoch
    )
    total = n_batches * cfg.epochs
    warmup = min(round(cfg.warmup_epochs * n_batches), total)
    while not run.done:
        lr = _train_epoch(run, train_set, n_batches, total, warmup)
        _end_epoch(run, val_set, lr)
    if cfg.restore_best and (out / "best.pt").is_file():
        run.module.load_state_dict(S.load(out / "best.pt")["model"])
    return FitResult(
        run.best, run.best_epoch, run.history, out / "best.pt", last, out / "history.jsonl",
        run.gstep, run.stopped_early,
    )  # fmt: skip
