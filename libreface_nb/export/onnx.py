"""Export a FaceModel to ONNX, verify it against torch, quantize it to static int8.

The file layout and metadata are in :mod:`libreface_nb.modelio.metadata`; tracing is
:func:`libreface_nb.modelio.graph.write_onnx`. Export uses torch's
legacy TorchScript exporter (``dynamo=False``): opset 17, weights inside the one file (the dynamo
exporter writes a separate ``.onnx.data`` file by default; ENV_FACTS). Verification follows timm's
``onnx_validate``: the ONNX checker, then ONNX Runtime against torch eager on the same batch, with
the largest absolute difference reported and compared with a stated tolerance.

int8 is *static* QDQ quantization with per-channel weights (ENV_FACTS: dynamic int8 is 6–9×
slower for CNNs on this CPU), calibrated with min/max over batches of real aligned faces. Only the
convolutions, matrix products and the ops between them are quantized; the output tail (BatchNorm
of the head, sigmoid, softmax, ×5, clamp) stays float, so intensities and probabilities are not
rounded to 256 levels. The price of int8 is measured, not assumed: :func:`agreement` gives the
per-output Pearson correlation and largest difference between the int8 and fp32 predictions.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from libreface_nb import artifacts
from libreface_nb.atomic import atomic_path
from libreface_nb.errors import CheckpointError, ConfigError, RunError
from libreface_nb.modelio.graph import OPSET, Activated, model_info, set_metadata, write_onnx
from libreface_nb.modelio.metadata import DEFAULT_ALIGNMENT, INPUT_NAME, SYNTHAU
from libreface_nb.modelio.runtime import ort_session, read_metadata, run_onnx

log = logging.getLogger(__name__)

#: ONNX Runtime vs torch eager, fp32, largest absolute difference allowed on activated outputs
#: (intensities 0–5, probabilities). Measured ~1e-6 for ResNet-18 (ENV_FACTS: within 1e-7 raw).
PARITY_ATOL = 1e-4
#: Ops quantized to int8 (QDQ). The output tail (Sigmoid, Softmax, Mul, Clip, BatchNormalization)
#: stays float32.
QUANT_OPS = ("Conv", "Gemm", "MatMul", "Add", "Relu", "MaxPool", "GlobalAveragePool", "Flatten")


def _nb01_metrics(run_dir: str | Path) -> dict | None:
    """Notebook 01's ``metrics.json`` (:data:`libreface_nb.artifacts.NB01_METRICS`) as the
    notebooks of run folder ``run_dir`` find it (:func:`libreface_nb.runs.find_input`); None when
    ``run_dir`` is not a run folder (no ``run.json``) or no notebook 01 is found."""
    from libreface_nb import runs

    if not str(run_dir) or not (Path(run_dir) / artifacts.RUN_JSON).is_file():
        return None
    try:
        nb01 = runs.find_input(run_dir, artifacts.NB01_METRICS).parent
    except RunError:
        return None
    return runs.load_metrics(nb01)


def run_training_data(run_dir: str | Path) -> str:
    """What the models of run folder ``run_dir`` were trained on (metadata ``training_data``):
    ``SynthAU`` when its notebook 01 built a synthetic fixture, else its ``dataset``; ``""``
    without a notebook 01 (see :func:`_nb01_metrics`)."""
    metrics = _nb01_metrics(run_dir)
    if metrics is None or "synthetic" not in metrics:
        return ""
    return SYNTHAU if metrics["synthetic"] else str(metrics.get("dataset", ""))


def run_alignment(run_dir: str | Path) -> str:
    """How the faces of run folder ``run_dir`` were aligned (metadata ``alignment``):
    ``libreface_quad/<align_method>/<align_border>`` from notebook 01's ``metrics.json``. A
    notebook 01 that predates ``align_border`` aligned with the mirror fill (``reflect``); without
    a notebook 01, the workbook's default (:data:`~libreface_nb.modelio.metadata.DEFAULT_ALIGNMENT`:
    imported LibreFace weights get LibreFace's dark fill)."""
    metrics = _nb01_metrics(run_dir)
    if metrics is None:
        return DEFAULT_ALIGNMENT
    method = metrics.get("align_method", "fast")
    return f"libreface_quad/{method}/{metrics.get('align_border', 'reflect')}"


def _git_sha() -> str:
    from libreface_nb.runs import git_info

    info = git_info()
    return info["sha"] + ("+dirty" if info.get("dirty") else "")


def _check_name(path: Path, precision: str) -> None:
    if not path.name.endswith(f"_{precision}.onnx"):
        raise ConfigError(f"{path}: name {precision} model files '…_{precision}.onnx'")


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    activated: bool = True,
    source: str | Path = "",
    run_dir: str | Path = "",
    opset: int = OPSET,
    training_data: str | None = None,
) -> Path:
    """Export ``model`` (eval mode, CPU) to ``path`` (``…_fp32.onnx``) and check it.

    Args:
        model: a FaceModel (``forward -> {"feature", <task>: raw}``, ``.config.tasks``).
        path: output file; its name must end with ``_fp32.onnx``.
        activated: put the task activations in the graph (the default; see metadata).
        source, run_dir: provenance stored in the metadata.
        opset: ONNX opset of the legacy exporter.
        training_data: the metadata's ``training_data``; None: :func:`run_training_data` of
            ``run_dir`` (``""`` without one).

    Returns:
        ``path``, written atomically, passing ``onnx.checker.check_model``
        (:func:`libreface_nb.modelio.graph.write_onnx`).
    """
    path = Path(path)
    _check_name(path, "fp32")
    if training_data is None:
        training_data = run_training_data(run_dir)
    info = model_info(model, activation_applied=activated, source=str(source),
                      run_dir=str(run_dir), training_data=training_data,
                      alignment=run_alignment(run_dir))  # fmt: skip
    info = info.with_precision("fp32", git_sha=_git_sha())
    with atomic_path(path) as tmp:
        write_onnx(model, tmp, info, opset)
    log.info("exported %s (%s, outputs %s)", path, info.tasks, info.outputs)
    return path


def check_parity(
    model: nn.Module, path: str | Path, images: np.ndarray, atol: float = PARITY_ATOL
) -> dict[str, Any]:
    """ONNX Runtime vs torch eager on ``images``; raises when the difference exceeds ``atol``.

    Returns:
        ``{"max_abs_diff": float, "per_output": {name: float}, "atol": atol, "n": N}``.
    """
    info = read_metadata(path)
    wrapper = Activated(model, info.tasks, info.activation_applied).eval()
    with torch.no_grad():
        ref = wrapper(torch.as_tensor(np.asarray(images, np.float32)))
    got = run_onnx(ort_session(path), np.asarray(images, np.float32))
    per = {
        n: float(np.max(np.abs(got[n] - r.numpy()))) for n, r in zip(info.outputs, ref, strict=True)
    }
    worst = max(per.values())
    if not worst <= atol:
        raise CheckpointError(f"{path}: ONNX Runtime differs from torch by {worst:g} > {atol:g}")
    return {"max_abs_diff": worst, "per_output": per, "atol": atol, "n": int(len(images))}


class _Reader:
    """onnxruntime CalibrationDataReader over an array of faces, in batches."""

    def __init__(self, images: np.ndarray, batch_size: int) -> None:
        self.images, self.batch_size = np.asarray(images, np.float32), batch_size
        self.rewind()

    def rewind(self) -> None:
        self._it: Iterator[int] = iter(range(0, len(self.images), self.batch_size))

    def get_next(self) -> dict[str, np.ndarray] | None:
        i = next(self._it, None)
        if i is None:
            return None
        return {INPUT_NAME: np.ascontiguousarray(self.images[i : i + self.batch_size])}


def quantize_int8(
    fp32_path: str | Path,
    calibration: np.ndarray,
    int8_path: str | Path | None = None,
    *,
    batch_size: int = 8,
    per_channel: bool = True,
    activations: str = "uint8",
    reduce_range: bool = True,
) -> Path:
    """Static QDQ int8 copy of an fp32 export, calibrated on ``calibration`` faces.

    Args:
        fp32_path: a ``…_fp32.onnx`` file from :func:`export_onnx`.
        calibration: f32 ``[N, 3, S, S]`` preprocessed aligned faces (real faces of the run:
            min/max calibration only sees what it is shown).
        int8_path: output (default: the fp32 name with ``_int8``).
        batch_size: calibration batch size.
        per_channel: per-output-channel weight scales (recommended for CNNs).
        activations: ``"uint8"`` (U8S8: the fast int8 kernels on AVX2 CPUs without VNNI) or
            ``"int8"`` (S8S8). Measured on this project's 2-core AMD EPYC (AVX2, no VNNI),
            ResNet-18 at 224, 1 thread: fp32 ~39 ms, S8S8 ~36 ms, U8S8 ~21 ms per face.
        reduce_range: 7-bit weights, which avoids the U8S8 saturation of non-VNNI CPUs (ONNX
            Runtime's advice); it also agreed better with fp32 here.

    Returns:
        The int8 file, with the fp32 file's metadata, ``precision = int8`` and ``calibration``.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path = Path(fp32_path)
    info = read_metadata(fp32_path)
    out = (
        Path(int8_path)
        if int8_path
        else fp32_path.with_name(fp32_path.name.replace("_fp32.onnx", "_int8.onnx"))
    )
    _check_name(out, "int8")
    kinds = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    if activations not in kinds:
        raise ConfigError(f"activations must be one of {sorted(kinds)}, got {activations!r}")
    act = kinds[activations]
    if len(calibration) == 0:
        raise ConfigError("quantize_int8 needs at least one calibration face")
    with atomic_path(out) as tmp, tempfile.TemporaryDirectory(dir=out.parent) as work:
        pre = Path(work) / "pre.onnx"
        # ORT's recommended pre-processing: shape inference and graph optimization (folds the
        # exporter's Identity nodes, so every conv bias is an initializer the quantizer sees).
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre), str(tmp), _Reader(calibration, batch_size),
            quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=act, weight_type=QuantType.QInt8, reduce_range=reduce_range,
            op_types_to_quantize=list(QUANT_OPS), calibrate_method=CalibrationMethod.MinMax,
        )  # fmt: skip
        proto = onnx.load(str(tmp))
        calib = {
            "faces": int(len(calibration)), "method": "minmax", "per_channel": per_channel,
            "activations": activations, "weights": "int8", "reduce_range": reduce_range,
        }  # fmt: skip
        set_metadata(proto, info.with_precision("int8", calibration=calib))
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    log.info("quantized %s → %s (%d calibration faces)", fp32_path.name, out.name, len(calibration))
    return out


def agreement(
    reference: str | Path, other: str | Path, images: np.ndarray, threads: int | None = None
) -> Any:
    """Per-output-column agreement of two exports (e.g. int8 vs fp32) on the same faces.

    Returns:
        DataFrame, one row per output column: ``output``, ``label``, ``pcc`` (Pearson r over the
        faces; NaN when a column is constant), ``max_abs_diff``, ``mae``.
    """
    import pandas as pd

    info = read_metadata(reference)
    a = run_onnx(ort_session(reference, threads), images)
    b = run_onnx(ort_session(other, threads), images)
    rows = []
    for name in info.outputs:
        for k, label in enumerate(info.labels[name]):
            x, y = a[name][:, k].astype(np.float64), b[name][:, k].astype(np.float64)
            ok = x.std() > 0 and y.std() > 0
            pcc = float(np.corrcoef(x, y)[0, 1]) if ok else float("nan")
            diff = np.abs(x - y)
            rows.append((name, label, pcc, float(diff.max()), float(diff.mean())))
    return pd.DataFrame(rows, columns=["output", "label", "pcc", "max_abs_diff", "mae"])
