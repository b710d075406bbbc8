"""Model backends for inference: ONNX Runtime (default) and torch, behind one small interface.

A backend has ``info`` (:class:`libreface_nb.modelio.metadata.ModelInfo`: tasks, output names,
labels, input size and crop) and ``run(x)``: f32 ``[N, 3, S, S]`` → ``{output name: f32 [N, K]}``
with *activated* outputs (intensities 0–5, probabilities), whatever the backend. Both take the
same input, prepared by :func:`libreface_nb.modelio.inputs.prepare_faces` from 256×256 aligned
faces exactly as :func:`libreface_nb.data.transforms.build_transform` prepares them for
evaluation (resize, centre crop, ImageNet normalization; see that module).

A backend with its own input recipe has ``prepare(faces)`` (uint8 aligned faces → what its
``run`` takes; a LibreFace weights folder's two inputs, for one); :func:`prepare_for` picks it,
else ``prepare_faces``. Callers go through :func:`prepare_for`, never ``prepare_faces`` directly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from libreface_nb import artifacts
from libreface_nb.config import REPO_ROOT
from libreface_nb.errors import CheckpointError, ConfigError
from libreface_nb.modelio.metadata import ModelInfo

log = logging.getLogger(__name__)

BACKENDS = ("ort", "torch")
#: Where ``predict`` looks for a model when none is given: notebook 05's exports, relative to the
#: runs root (:data:`libreface_nb.artifacts.EXPORT_GLOB`).
EXPORT_GLOB = artifacts.EXPORT_GLOB


class Backend(Protocol):
    info: ModelInfo

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]: ...


def prepare_for(backend: Backend, faces: np.ndarray) -> np.ndarray:
    """uint8 aligned faces ``[N, A, A, 3]`` → ``backend.run``'s input: the backend's own
    ``prepare`` if it has one, else :func:`~libreface_nb.modelio.inputs.prepare_faces`."""
    from libreface_nb.modelio.inputs import prepare_faces

    own = getattr(backend, "prepare", None)
    return own(faces) if own is not None else prepare_faces(faces, backend.info)


class OrtBackend:
    """An exported ``…_fp32.onnx`` / ``…_int8.onnx`` file in ONNX Runtime (CPU)."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        from libreface_nb.modelio.runtime import ort_session

        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: no such model file")
        self.session = ort_session(self.path, threads)
        props = self.session.get_modelmeta().custom_metadata_map
        self.info = ModelInfo.from_props(dict(props), str(self.path))
        self.names = list(self.info.outputs)

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        ys = self.session.run(self.names, {self.info.input_name: x})
        return dict(zip(self.names, ys, strict=True))


class TorchBackend:
    """A FaceModel (or a ``models.save_model`` file) in torch eager, on CPU or CUDA."""

    def __init__(self, model: Any, device: str = "cpu", threads: int | None = None) -> None:
        import torch

        from libreface_nb.modelio.graph import Activated, model_info

        if isinstance(model, str | Path):
            model = load_checkpoint(Path(model))
        if threads:
            torch.set_num_threads(int(threads))
        self.device = torch.device(device)
        self.info = model_info(model)
        self.module = Activated(model, self.info.tasks).eval().to(self.device)

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            ys = self.module(torch.from_numpy(x).to(self.device))
        return {n: y.float().cpu().numpy() for n, y in zip(self.info.outputs, ys, strict=True)}


def load_checkpoint(path: Path) -> Any:
    """A FaceModel from a ``models.save_model`` file."""
    try:
        from libreface_nb.models.factory import load_model
    except ImportError as exc:  # stream models' factory not merged yet
        raise CheckpointError(f"{path}: loading .pt models needs libreface_nb.models") from exc
    return load_model(path)


def find_default_model(runs_root: str | Path = REPO_ROOT / "outputs" / "runs") -> Path:
    """The newest ``…_fp32.onnx`` / ``…_int8.onnx`` exported by notebook 05 under ``runs_root``.

    Newest = latest run folder name (they sort by time); within a run, int8 before fp32.
    """
    root = Path(runs_root)
    found = [p for p in root.glob(EXPORT_GLOB) if p.name.endswith(("_fp32.onnx", "_int8.onnx"))]
    if not found:
        raise CheckpointError(
            f"no exported model under {root}/*/{artifacts.NB05}/; pass --model FILE, or "
            "run `python -m libreface_nb.run --profile fixture --only 05` to export one"
        )
    return max(found, key=lambda p: (p.parent.parent.name, p.name.endswith("_int8.onnx")))


def load_backend(
    model: Any = None, backend: str = "ort", *, threads: int | None = None, device: str = "cpu"
) -> Backend:
    """A backend from a file (``.onnx`` or ``.pt``), a FaceModel, a backend, or None (default).

    Args:
        model: ``…_fp32.onnx``/``…_int8.onnx`` (ONNX Runtime, or ``backend="torch"`` is refused),
            a ``.pt`` from ``models.save_model`` (torch), a FaceModel (torch), an object with
            ``info`` and ``run`` (used as is), or None: :func:`find_default_model`.
        backend: ``"ort"`` or ``"torch"``; a FaceModel or ``.pt`` always runs in torch.
        threads: intra-op threads (None: the library's default).
        device: torch device (``"cuda"`` on a GPU machine).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if hasattr(model, "info") and hasattr(model, "run"):
        return model
    if model is None:
        model = find_default_model()
        log.info("using model %s", model)
    if isinstance(model, str | Path):
        path = Path(model)
        if path.suffix == ".onnx":
            if backend == "torch":
                raise ConfigError(f"{path}: an ONNX file runs with backend='ort'")
            return OrtBackend(path, threads)
        return TorchBackend(path, device, threads)
    return TorchBackend(model, device, threads)
