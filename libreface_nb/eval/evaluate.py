"""Run a model over a dataset split and return its predictions table.

A model is one of:

- a ``torch.nn.Module`` following the model contract (:mod:`libreface_nb.models.factory`):
  ``forward(x)`` returns a dict with one *raw* output per task; the task's activation
  (:func:`libreface_nb.models.tasks.activate`) is applied here;
- a path to a ``models.save_model`` checkpoint (``.pt``), loaded with ``factory.load_model``;
- a path to an ``.onnx`` file, or an ``onnxruntime.InferenceSession``. Expected graph: input
  ``image`` float32 [N, 3, S, S] (RGB, ImageNet-normalised, as the dataset returns it; the only
  input is used if none is called ``image``); the output is ``output_name`` if given, else the
  one the metadata's ``tasks``/``outputs`` JSON lists pair with the task (the export stream's
  contract: the joint student has ``AUs`` and ``AUs_c``), else the task's ``onnx_output``
  (``AUs`` or ``FEs``), else the only output.
  The ONNX metadata key ``activation_applied`` (``"1"``/``"true"``: the graph ends in the
  activation, e.g. ``AUs`` already 5·sigmoid) says whether to activate; absent = raw outputs.

Inputs come from the dataset's own (eval) transform; the model's ``config.img_size`` (or the ONNX
metadata's ``input_size``), when it has one, must match the images. Evaluation runs in
``eval()`` mode under ``torch.no_grad``, in dataset order (no shuffling), so the table's rows
follow ``dataset.rows``. Checked by hand against the export stream's joint-student ONNX (activated
``AUs``/``AUs_c``): the tables match the torch checkpoint's within 1e-6.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb.errors import CheckpointError, ConfigError
from libreface_nb.eval.predictions import build_table

log = logging.getLogger(__name__)

TRUE_VALUES = ("1", "true", "yes")


def dataset_meta(dataset: Any) -> pd.DataFrame:
    """subject, source, frame (and face) of each item of a ``make_datasets`` dataset."""
    table = getattr(dataset, "table", None)
    if table is None:
        raise ConfigError("the dataset has no .table: build it with data.splits.make_datasets")
    meta = table.iloc[np.asarray(dataset.rows)].reset_index(drop=True)
    if "subject" not in meta:
        meta = meta.assign(subject=meta["source"].astype(str))
    return meta


def dataset_labels(dataset: Any, task: str) -> np.ndarray:
    """Labels of every item: AU [N, K] float (NaN = unknown) or expression [N] int (-1)."""
    from libreface_nb.models.tasks import get_task

    if get_task(task).target == "expression":
        return np.asarray(dataset.expression, np.int64)
    labels = np.asarray(dataset.labels, np.float64)
    return np.where(np.asarray(dataset.mask) > 0, labels, np.nan)


def _onnx_session(model: Any) -> Any:
    import onnxruntime as ort

    if isinstance(model, ort.InferenceSession):
        return model
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise CheckpointError(f"{model} is not a loadable ONNX model ({e})") from e


def _is_onnx(model: Any) -> bool:
    if isinstance(model, str | Path):
        return str(model).endswith(".onnx")
    return type(model).__name__ == "InferenceSession"


def _output_from_metadata(meta: dict[str, str], task: str) -> str:
    """The output for ``task`` from the ``tasks``/``outputs`` JSON lists ("" when absent)."""
    try:
        tasks, outputs = json.loads(meta["tasks"]), json.loads(meta["outputs"])
        return str(outputs[list(tasks).index(task)])
    except (KeyError, ValueError, IndexError, TypeError):
        return ""


def _onnx_runner(model: Any, task: str, output_name: str | None):
    from libreface_nb.models.tasks import activate, get_task

    sess = _onnx_session(model)
    inputs = [i.name for i in sess.get_inputs()]
    outputs = [o.name for o in sess.get_outputs()]
    in_name = "image" if "image" in inputs else inputs[0]
    meta = sess.get_modelmeta().custom_metadata_map
    out_name = output_name or _output_from_metadata(meta, task) or get_task(task).onnx_output
    if out_name not in outputs:
        if len(outputs) != 1:
            raise CheckpointError(f"ONNX model has outputs {outputs}, none named {out_name!r}:"
                                  " pass output_name=")  # fmt: skip
        out_name = outputs[0]
    applied = str(meta.get("activation_applied", "")).lower() in TRUE_VALUES
    log.info("ONNX %s → %s (activation_applied=%s)", in_name, out_name, applied)

    def run(x: np.ndarray) -> np.ndarray:
        y = sess.run([out_name], {in_name: x.astype(np.float32)})[0]
        return y if applied else activate(task, y)

    size = str(meta.get("input_size", ""))
    return run, int(size) if size.isdigit() else None


def _torch_runner(model: Any, task: str, device: str):
    import torch

    if isinstance(model, str | Path):
        from libreface_nb.models.factory import load_model

        model = load_model(model, map_location=device)
    if task not in getattr(getattr(model, "config", None), "tasks", (task,)):
        raise ConfigError(f"the model's tasks are {model.config.tasks}; it has no {task!r} head")
    model = model.to(device).eval()
    from libreface_nb.models.tasks import activate

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            raw = model(torch.from_numpy(x).to(device))[task]
            return activate(task, raw.float()).cpu().numpy()

    return run, getattr(getattr(model, "config", None), "img_size", None)


def predict(
    model: Any,
    dataset: Any,
    task: str,
    *,
    batch_size: int = 32,
    device: str = "cpu",
    output_name: str | None = None,
) -> np.ndarray:
    """Activated predictions [N, K] of ``model`` on every item of ``dataset``, in order."""
    from libreface_nb.data.dataset import make_loader

    img_size = None
    if _is_onnx(model):
        run, img_size = _onnx_runner(model, task, output_name)
    else:
        run, img_size = _torch_runner(model, task, device)
    out = []
    for batch in make_loader(dataset, batch_size=batch_size, shuffle=False):
        x = batch["image"].numpy()
        if img_size and x.shape[-1] != img_size:
            raise ConfigError(f"the model expects {img_size} px inputs, the dataset gives "
                              f"{x.shape[-1]} px: make_datasets(img_size={img_size})")  # fmt: skip
        out.append(np.asarray(run(x), np.float64))
    return np.concatenate(out) if out else np.zeros((0, 0))


def evaluate(
    model_or_path: Any,
    dataset: Any,
    task: str,
    *,
    split: str = "test",
    batch_size: int = 32,
    device: str = "cpu",
    output_name: str | None = None,
) -> pd.DataFrame:
    """The predictions table (:mod:`libreface_nb.eval.predictions`) of a model on a dataset.

    Args:
        model_or_path: a FaceModel, a ``.pt`` checkpoint, an ``.onnx`` file or an ORT session.
        dataset: a ``data.splits.make_datasets`` dataset (eval transform).
        task: ``intensity`` | ``detection`` | ``expression``.
        split: the ``split`` column's value.
        batch_size, device: inference batch and torch device.
        output_name: ONNX output to read (default: the task's ``onnx_output``).
    """
    pred = predict(model_or_path, dataset, task, batch_size=batch_size, device=device,
                   output_name=output_name)  # fmt: skip
    return build_table(dataset_meta(dataset), task, dataset_labels(dataset, task), pred, split)
