"""Calibration faces for static int8 quantization, taken from an aligned-face store.

Min/max calibration only knows the activation ranges it is shown, so it should see the faces the
model will meet: the run's own aligned faces (notebook 01's store), prepared exactly as inference
prepares them (:func:`libreface_nb.modelio.inputs.prepare_faces`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from libreface_nb.errors import ConfigError
from libreface_nb.modelio.metadata import ModelInfo


def store_faces(store_dir: str | Path, info: ModelInfo, n: int = 64) -> np.ndarray:
    """Up to ``n`` ``ok`` faces of a store, evenly spaced over its manifest → f32 ``[n, 3, S, S]``.

    Deterministic: the same store and ``n`` give the same faces, in manifest order.
    """
    from libreface_nb.faces.store import load_face, load_manifest
    from libreface_nb.modelio.inputs import prepare_faces

    manifest = load_manifest(store_dir, columns=["status", "face_file"])
    files = manifest.loc[manifest["status"] == "ok", "face_file"].to_list()
    if not files:
        raise ConfigError(f"{store_dir}: the face store holds no aligned face to calibrate on")
    pick = np.unique(np.linspace(0, len(files) - 1, min(n, len(files))).round().astype(int))
    faces = [load_face(store_dir, files[i]) for i in pick]
    return prepare_faces(faces, info)
