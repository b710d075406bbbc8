"""What the explorer's views compute, without any widget: the run's model, faces, AU read-outs.

The views in :mod:`libreface_nb.widgets.views` only wire widgets to these functions, so each
computation is tested on its own and the notebook's static figures come from the same numbers.

- :func:`load_student` finds the run's student:
  :data:`~libreface_nb.artifacts.NB05_STUDENT_FP32` (notebook 05) for predictions and
  :data:`~libreface_nb.artifacts.NB03_STUDENT_MODEL` (notebook 03) for Grad-CAM; either one is
  enough. No model → :class:`~libreface_nb.errors.CheckpointError` whose message says which
  notebook to run.
- :func:`analyze_image` finds every face (MediaPipe, largest first), aligns it (LibreFace quad,
  256×256) and runs the model: one :class:`FaceResult` per face, with the row the results
  table of :func:`libreface_nb.predict` would have for it (:mod:`libreface_nb.infer.columns`).
- :func:`au_readout` turns a row into the per-AU table the bars show, with presence at a
  chosen threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from libreface_nb import artifacts
from libreface_nb.config import DETECTION_THRESHOLD
from libreface_nb.errors import CheckpointError, RunError, UnreadableInputError

log = logging.getLogger(__name__)

#: Where the explorer looks for the run's student, relative to the run folder (first found wins
#: for predictions; the torch file also gives Grad-CAM).
ONNX_STUDENT = artifacts.NB05_STUDENT_FP32
TORCH_STUDENT = artifacts.NB03_STUDENT_MODEL
#: Bundled photos (they ship with scikit-image and matplotlib; tests/faces_helpers.py).
SAMPLES = ("astronaut", "grace_hopper", "two_faces")


@dataclass
class ExplorerModel:
    """The model the views use.

    Attributes:
        backend: predictions (:mod:`libreface_nb.infer.backends`: ONNX Runtime or torch).
        torch_model: the FaceModel when a ``.pt`` file was found (Grad-CAM), else None.
        source: the file predictions come from.
    """

    backend: Any
    torch_model: Any = None
    source: Path | None = None

    @property
    def info(self) -> Any:
        return self.backend.info

    def has(self, task: str) -> bool:
        return task in self.info.tasks

    def output_of(self, task: str) -> str:
        """The output name of ``task``'s head (e.g. ``AUs`` for intensity)."""
        return self.info.outputs[self.info.tasks.index(task)]


def _find(run_dir: str | Path, relpath: str, runs_root: Path | str | None) -> Path | None:
    from libreface_nb import runs

    try:
        kw = {"runs_root": runs_root} if runs_root is not None else {}
        return runs.find_input(run_dir, relpath, **kw)
    except RunError:
        return None


def load_student(
    run_dir: str | Path = "", *, runs_root: str | Path | None = None, model: Any = None
) -> ExplorerModel:
    """The run's student (see the module docstring), or ``model`` if given (a model file, a
    FaceModel, a backend or an ExplorerModel).

    Raises:
        CheckpointError: no student in the run nor in a usable earlier run; the message says
            which notebooks make one.
    """
    from libreface_nb.infer.backends import load_backend

    if isinstance(model, ExplorerModel):
        return model
    if model is not None:
        backend = load_backend(model)
        torch_model = getattr(backend, "module", None)
        torch_model = getattr(torch_model, "model", None)
        return ExplorerModel(backend, torch_model, getattr(backend, "path", None))
    onnx_file = _find(run_dir, ONNX_STUDENT, runs_root)
    torch_file = _find(run_dir, TORCH_STUDENT, runs_root)
    if onnx_file is None and torch_file is None:
        raise CheckpointError(
            f"no trained student for {run_dir or '(no run folder)'}: neither {ONNX_STUDENT} nor "
            f"{TORCH_STUDENT} exists; run notebooks 02-03 (and 05 for ONNX) first: "
            "python -m libreface_nb.run --profile fixture --only 02 --only 03 --only 05"
        )
    torch_model = None
    if torch_file is not None:
        from libreface_nb.models.factory import load_model

        torch_model = load_model(torch_file).eval()
    source = onnx_file or torch_file
    backend = load_backend(onnx_file if onnx_file is not None else torch_model)
    log.info("explorer model: %s (Grad-CAM: %s)", source, torch_file or "no, occlusion only")
    return ExplorerModel(backend, torch_model, source)


def sample_image(name: str) -> np.ndarray:
    """A bundled photo, uint8 RGB: ``astronaut``, ``grace_hopper`` or ``two_faces`` (both, side
    by side on a 1024×600 canvas: astronaut left, grace_hopper right)."""
    if name == "astronaut":
        import skimage.data

        return np.ascontiguousarray(skimage.data.astronaut())
    if name == "grace_hopper":
        import matplotlib.cbook

        from libreface_nb.faces import read_image

        return read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if name == "two_faces":
        a, g = sample_image("astronaut"), sample_image("grace_hopper")
        canvas = np.full((600, a.shape[1] + g.shape[1], 3), 128, np.uint8)
        canvas[44 : 44 + a.shape[0], : a.shape[1]] = a
        canvas[:, a.shape[1] :] = g
        return canvas
    raise ValueError(f"unknown sample {name!r}; samples are {SAMPLES}")


def decode_image_bytes(data: bytes, name: str, max_bytes: int) -> np.ndarray:
    """An uploaded file's bytes → uint8 RGB.

    Raises:
        UnreadableInputError: larger than ``max_bytes``, empty, or not an image (names the file).
    """
    import io as _io

    from PIL import Image, ImageOps

    from libreface_nb.faces import to_rgb_uint8

    if len(data) > max_bytes:
        raise UnreadableInputError(
            f"{name}: {len(data) / 2**20:.1f} MiB is over the {max_bytes / 2**20:.1f} MiB limit; "
            "resize the image or pass its path instead"
        )
    if not data:
        raise UnreadableInputError(f"{name}: the file is empty (0 bytes)")
    try:
        with Image.open(_io.BytesIO(data)) as img:
            img.load()
            return to_rgb_uint8(np.asarray(ImageOps.exif_transpose(img).convert("RGB")))
    except Exception as exc:  # Pillow raises many types; all mean "not an image"
        raise UnreadableInputError(
            f"{name}: not an image ({type(exc).__name__}); upload a JPEG/PNG/BMP/WebP/TIFF"
        ) from exc


@dataclass
class FaceResult:
    """One face of an image.

    Attributes:
        landmarks: float32 ``[478, 2]`` pixels of the image.
        quad: float64 ``[4, 2]`` alignment quad (top-left, bottom-left, bottom-right, top-right).
        aligned: uint8 ``[256, 256, 3]`` aligned face.
        row: the face's results-table row (:mod:`libreface_nb.infer.columns`).
    """

    landmarks: np.ndarray
    quad: np.ndarray
    aligned: np.ndarray
    row: pd.Series


def predict_aligned(model: ExplorerModel, faces: np.ndarray, rows: list[dict]) -> pd.DataFrame:
    """Aligned faces ``[N, 256, 256, 3]`` and their base rows → results-table rows."""
    from libreface_nb.infer.backends import prepare_for
    from libreface_nb.infer.columns import build_table

    info = model.info
    out = model.backend.run(prepare_for(model.backend, faces))
    preds = np.concatenate([out[n] for n in info.outputs], axis=1)
    return build_table(rows, preds, info)


def analyze_image(
    image: np.ndarray, model: ExplorerModel, *, max_faces: int = 4, source: str = "image"
) -> list[FaceResult]:
    """Every face in ``image`` (largest first), aligned and read by ``model``; [] if none."""
    from libreface_nb.faces import align_face, detect_faces, face_quad, head_pose
    from libreface_nb.modelio.metadata import alignment_options

    faces = detect_faces(image, max_faces=max_faces)
    if not faces:
        return []
    lms, quads, aligned, rows = [], [], [], []
    for k, face in enumerate(faces):
        lm = np.asarray(face.landmarks, np.float32)
        quad = face_quad(lm)
        pitch, yaw, roll = head_pose(lm)
        lms.append(lm[:, :2])
        quads.append(quad)
        size, opts = model.info.aligned_size, alignment_options(model.info)
        aligned.append(align_face(image, quad, size, **opts))
        rows.append(
            {"source": source, "frame": 0, "time_s": 0.0, "face": k, "track_id": -1,
             "status": "ok", "reason": "", "score": float(face.score),
             "pitch": pitch, "yaw": yaw, "roll": roll}
        )  # fmt: skip
    table = predict_aligned(model, np.stack(aligned), rows)
    return [
        FaceResult(lm, q, a, table.iloc[i])
        for i, (lm, q, a) in enumerate(zip(lms, quads, aligned, strict=True))
    ]


def au_readout(row: pd.Series, threshold: float) -> pd.DataFrame:
    """Per-AU values of one results row, and presence at ``threshold``.

    Args:
        row: a results-table row (``AU01``… intensities and/or ``AU01_prob``… probabilities).
        threshold: on the 0–5 intensity scale when the row has intensities, else on the
            probability (0–1).

    Returns:
        Index ``AU01``…; columns ``intensity`` (NaN without an intensity head), ``prob`` (NaN
        without a detection head), ``present`` (bool): intensity ≥ threshold, or prob ≥
        threshold when there are no intensities.
    """
    names = sorted({c.split("_")[0] for c in row.index if c.startswith("AU") and c[2:4].isdigit()})
    get = lambda c: float(row[c]) if c in row.index else np.nan  # noqa: E731
    out = pd.DataFrame(
        {"intensity": [get(n) for n in names], "prob": [get(f"{n}_prob") for n in names]},
        index=pd.Index(names, name="au"),
    )
    has_int = out["intensity"].notna().any()
    value = out["intensity"] if has_int else out["prob"]
    out["present"] = (value >= threshold).to_numpy()
    return out


def default_threshold(model: ExplorerModel) -> tuple[float, float]:
    """(default, maximum) of the presence slider: DISFA's 2 of 5, or a probability 0.5 of 1."""
    from libreface_nb.config import DISFA_PRESENCE_THRESHOLD, INTENSITY_MAX

    if model.has("intensity"):
        return DISFA_PRESENCE_THRESHOLD, INTENSITY_MAX
    return DETECTION_THRESHOLD, 1.0


def expression_probs(row: pd.Series) -> pd.Series | None:
    """``prob_<Class>`` values of a row (class → probability), or None without that head."""
    cols = [c for c in row.index if c.startswith("prob_")]
    if not cols:
        return None
    return pd.Series({c[5:]: float(row[c]) for c in cols})


def read_back_sweep(model: ExplorerModel, n: int, seed: int, subject_seed: int = 0) -> pd.DataFrame:
    """Render ``n`` SynthAU faces with random AU intensities and read them with the model.

    Each setting draws, per AU of the model's intensity head, 0 (probability 1/2) or U(0, 5)
    from ``numpy.random.default_rng(seed)``; faces use :func:`make_subjects(1, subject_seed)`'s
    subject in its canonical view (no pose jitter, no degradation), as the sandbox does.

    Returns:
        One row per (setting, AU): ``setting`` int, ``au`` str, ``set`` and ``predicted``
        floats (NaN when MediaPipe found no face).
    """
    from libreface_nb.data.synth import make_subjects, render_face

    if not model.has("intensity"):
        raise ValueError("the read-back sweep needs a model with an intensity head")
    subject = make_subjects(1, subject_seed)[0]
    labels = list(model.info.labels[model.output_of("intensity")])
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        values = rng.uniform(0, 5, len(labels)) * (rng.random(len(labels)) < 0.5)
        face = render_face(subject, {int(a[2:]): float(v) for a, v in zip(labels, values,
                           strict=True)}, size=256, pose=False, degrade=False)  # fmt: skip
        found = analyze_image(face, model, max_faces=1, source=f"setting{i}")
        for a, v in zip(labels, values, strict=True):
            pred = float(found[0].row[a]) if found else np.nan
            rows.append({"setting": i, "au": a, "set": float(v), "predicted": pred})
    return pd.DataFrame(rows)
