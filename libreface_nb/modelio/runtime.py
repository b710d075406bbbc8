"""Running exported files without torch: ONNX Runtime sessions, batched runs, metadata.

Kept apart from :mod:`libreface_nb.export.onnx` (which needs torch to export) so that inference
with ONNX Runtime never imports torch: a ``predict`` process stays small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from libreface_nb.errors import CheckpointError
from libreface_nb.modelio.metadata import INPUT_NAME, ModelInfo


def read_metadata(path: str | Path) -> ModelInfo:
    """The :class:`ModelInfo` stored in an exported file."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such ONNX file")
    proto = onnx.load(str(path), load_external_data=False)
    return ModelInfo.from_props({p.key: p.value for p in proto.metadata_props}, str(path))


def ort_session(path: str | Path, threads: int | None = None, spin: bool = True) -> Any:
    """An ONNX Runtime CPU session with all graph optimizations and ``threads`` intra-op.

    ``spin=False`` stops its idle threads from busy-waiting for the next run (ONNX Runtime's
    ``session.intra_op.allow_spinning``): worth it where other threads of the process need the
    cores between runs, as the alignment workers of a LibreFace weights folder do (measured on
    2 cores: 29–30 against 26–28 frames/s, ``docs/lab_notes.md``)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, images: np.ndarray, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Outputs of a session on ``images`` f32 ``[N, 3, S, S]``, in batches; name → ``[N, K]``."""
    names = [o.name for o in session.get_outputs()]
    parts: dict[str, list] = {n: [] for n in names}
    for i in range(0, len(images), batch_size):
        x = np.ascontiguousarray(images[i : i + batch_size], dtype=np.float32)
        for n, y in zip(names, session.run(names, {INPUT_NAME: x}), strict=True):
            parts[n].append(y)
    return {n: np.concatenate(v) for n, v in parts.items()}
