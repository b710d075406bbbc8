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

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DatasetLayoutError",
    "LibreFaceError",
    "NoFaceError",
    "RunError",
    "UnreadableInputError",
    "__version__",
]
