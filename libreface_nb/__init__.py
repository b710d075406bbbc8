"""LibreFace Workbook: facial Action Units and expressions, re-implemented for notebooks.

Importing the package is cheap: heavy libraries (mediapipe, torch, onnxruntime, ipywidgets) are
imported by the submodules that need them.
"""

from libreface_nb.errors import (
    CheckpointError,
    ConfigError,
    DatasetLayoutError,
    LibreFaceError,
    NoFaceError,
    RunError,
    UnreadableInputError,
)

__version__ = "0.1.0"

#: Public names imported on first use, so ``import libreface_nb`` stays light.
_LAZY = {
    "predict": "libreface_nb.infer.pipeline",
    "rank_faces": "libreface_nb.infer.columns",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'libreface_nb' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "ConfigError",
    "DatasetLayoutError",
    "LibreFaceError",
    "NoFaceError",
    "RunError",
    "UnreadableInputError",
    "__version__",
    "predict",
    "rank_faces",
]
