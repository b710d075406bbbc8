"""The explorer's four views as ipywidgets: image, video, AU sandbox, saliency.

Every view has ``widget`` (what the notebook displays), its controls as attributes, and
callbacks that are plain methods: setting a control's ``.value`` (in a browser or in a test)
calls them, and each one leaves what it produced in ``state`` (a dict: the numbers shown and
``png``, the PNG bytes of the figure in the view's ``Image`` widget). ``figure()`` rebuilds the
current figure for saving (:mod:`libreface_nb.plots.explorer`). Rendering goes through PNG bytes
in an ``Image`` widget, not an ``Output`` area, so the view works and is testable without a
front end.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd

from libreface_nb.errors import LibreFaceError
from libreface_nb.plots import explorer as P
from libreface_nb.widgets import analysis as A
from libreface_nb.widgets import saliency as S
from libreface_nb.widgets import timeline as T

log = logging.getLogger(__name__)

#: Upload size limit (MiB) of the image view.
MAX_UPLOAD_MB = 10.0
SOURCE_OPTIONS = [
    ("astronaut (scikit-image)", "astronaut"),
    ("Grace Hopper (matplotlib)", "grace_hopper"),
    ("two photos side by side", "two_faces"),
    ("a file path", "path"),
    ("an upload", "upload"),
]


def png_bytes(fig: Any, dpi: int = 80) -> bytes:
    """Render a Figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def error_html(text: str) -> str:
    import html

    return f"<p style='color:#b00020'><b>{html.escape(text)}</b></p>"


def message_widget(text: str) -> W.HTML:
    """A clear message in place of a view (e.g. no model yet)."""
    return W.HTML(error_html(text))


class ImageView:
    """A photo → landmarks, quad, aligned face, AU bars with presence, expression probabilities."""

    def __init__(
        self, model: A.ExplorerModel, *, max_faces: int = 4, max_upload_mb: float = MAX_UPLOAD_MB
    ) -> None:
        self.model, self.max_faces = model, max_faces
        self.max_bytes = int(max_upload_mb * 2**20)
        thr, top = A.default_threshold(model)
        self.source = W.Dropdown(options=SOURCE_OPTIONS, value="astronaut", description="image")
        self.path = W.Text(
            placeholder="/path/to/photo.jpg", description="path", continuous_update=False
        )
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.face = W.Dropdown(options=[], description="face")
        self.threshold = W.FloatSlider(
            value=thr,
            min=0.0,
            max=top,
            step=top / 50,
            description="present ≥",
            continuous_update=False,
        )
        self.message = W.HTML()
        self.view = W.Image(format="png")
        self.widget = W.VBox(
            [
                W.HBox([self.source, self.path, self.upload]),
                W.HBox([self.face, self.threshold]),
                self.message,
                self.view,
            ]
        )
        self.state: dict[str, Any] = {}
        self.image: np.ndarray | None = None
        self.faces: list[A.FaceResult] = []
        self.listeners: list[Callable[[A.FaceResult], None]] = []
        self._quiet = False
        self.source.observe(self.on_source, "value")
        self.path.observe(lambda _: self.load_path(), "value")
        self.upload.observe(lambda _: self.load_upload(), "value")
        self.face.observe(lambda _: self._quiet or self.render(), "value")
        self.threshold.observe(lambda _: self.render(), "value")
        self.set_image(A.sample_image("astronaut"), "astronaut")

    def on_source(self, change: dict) -> None:
        value = change["new"]
        if value in A.SAMPLES:
            self.set_image(A.sample_image(value), value)
        elif value == "path" and self.path.value:
            self.load_path()
        elif value == "upload" and self.upload.value:
            self.load_upload()

    def load_path(self) -> None:
        from libreface_nb.faces import read_image

        try:
            self.set_image(read_image(self.path.value), self.path.value)
        except LibreFaceError as exc:
            self.show_error(str(exc))

    def load_upload(self) -> None:
        if not self.upload.value:
            return
        item = self.upload.value[0]
        try:
            image = A.decode_image_bytes(bytes(item["content"]), item["name"], self.max_bytes)
        except LibreFaceError as exc:
            self.show_error(str(exc))
            return
        self.set_image(image, item["name"])

    def show_error(self, text: str) -> None:
        self.message.value = error_html(text)
        self.state = {"message": text, "n_faces": 0}

    def set_image(self, image: np.ndarray, name: str) -> None:
        self.image, self.name = image, name
        self.faces = A.analyze_image(image, self.model, max_faces=self.max_faces, source=name)
        self._quiet = True
        self.face.options = [
            (f"face {k} ({int(f.row['score'] * 100)} %)", k) for k, f in enumerate(self.faces)
        ]
        self.face.value = 0 if self.faces else None
        self._quiet = False
        self.message.value = "" if self.faces else error_html(f"{name}: no face found")
        self.render()

    def readout(self) -> pd.DataFrame | None:
        if not self.faces or self.face.value is None:
            return None
        return A.au_readout(self.faces[self.face.value].row, self.threshold.value)

    def figure(self) -> Any:
        k = self.face.value if self.faces else None
        face = self.faces[k] if k is not None else None
        return P.image_view(
            self.image,
            [(f.landmarks, f.quad) for f in self.faces],
            k,
            None if face is None else face.aligned,
            self.readout(),
            self.threshold.value,
            None if face is None else A.expression_probs(face.row),
            title=str(self.name)[-40:],
        )

    def render(self) -> None:
        readout = self.readout()
        present = [] if readout is None else list(readout.index[readout["present"]])
        self.view.value = png = png_bytes(self.figure())
        self.state = {
            "n_faces": len(self.faces),
            "face": self.face.value,
            "present": present,
            "readout": readout,
            "message": "",
            "png": png,
        }
        if self.faces:
            for fn in self.listeners:
                fn(self.faces[self.face.value])


class VideoView:
    """A ``predict`` table (with landmarks) + its video: frame slider with Play, AU timelines."""

    def __init__(
        self,
        table: pd.DataFrame,
        video: str,
        *,
        face: int = 0,
        aus: tuple[str, ...] = ("AU01", "AU06", "AU12", "AU25"),
    ) -> None:
        self.track = T.face_track(table, str(video), face)
        self.reader = T.FrameReader(str(video))
        self.video = str(video)
        cols = T.au_columns(self.track)
        chosen = [a for a in aus if a in cols] or cols[:4]
        n = len(self.track)
        self.frame = W.IntSlider(value=0, min=0, max=n - 1, description="frame")
        self.play = W.Play(value=0, min=0, max=n - 1, interval=250, description="play")
        self.link = W.link((self.play, "value"), (self.frame, "value"))
        self.aus = W.SelectMultiple(options=cols, value=tuple(chosen), rows=6, description="AUs")
        self.smoothing = W.IntSlider(value=1, min=1, max=15, description="smooth")
        self.view = W.Image(format="png")
        self.message = W.HTML()
        self.widget = W.VBox(
            [
                W.HBox([self.play, self.frame]),
                W.HBox([self.aus, self.smoothing]),
                self.message,
                self.view,
            ]
        )
        self.state: dict[str, Any] = {}
        for w in (self.frame, self.aus, self.smoothing):
            w.observe(lambda _: self.render(), "value")
        self.render()

    def curves(self) -> dict[str, np.ndarray]:
        return {
            a: T.smooth(self.track[a].to_numpy(float), self.smoothing.value) for a in self.aus.value
        }

    def figure(self) -> Any:
        from libreface_nb.faces import face_quad

        row = self.track.iloc[self.frame.value]
        lm = T.landmarks(row)
        probs = [c for c in self.track.columns if c.startswith("prob_")]
        strip = self.track[probs].rename(columns=lambda c: c[5:]) if probs else None
        return P.video_view(
            self.reader(int(row["frame"])),
            lm,
            None if lm is None else face_quad(lm),
            self.track["time_s"].to_numpy(float),
            self.curves(),
            self.frame.value,
            strip,
            title=f"frame {int(row['frame'])} · {row['status']}",
        )

    def render(self) -> None:
        row = self.track.iloc[self.frame.value]
        self.message.value = "" if row["status"] == "ok" else error_html(str(row["reason"]))
        self.view.value = png = png_bytes(self.figure())
        self.state = {
            "frame": int(row["frame"]),
            "aus": list(self.aus.value),
            "curves": self.curves(),
            "png": png,
        }


class SandboxView:
    """One slider per AU re-renders a SynthAU face; the model's read-out beside what was set."""

    def __init__(self, model: A.ExplorerModel, *, subject_seed: int = 0) -> None:
        from libreface_nb.data.synth import make_subjects

        self.model = model
        self.subject = make_subjects(1, subject_seed)[0]
        task = "intensity" if model.has("intensity") else "detection"
        self.output = model.output_of(task)
        self.labels = list(model.info.labels[self.output])
        self.sliders = {
            au: W.FloatSlider(
                value=0.0,
                min=0.0,
                max=5.0,
                step=0.25,
                description=au,
                continuous_update=False,
                layout=W.Layout(width="260px"),
            )
            for au in self.labels
        }
        self.message = W.HTML()
        self.view = W.Image(format="png")
        boxes = [W.VBox(list(self.sliders.values())[i::3]) for i in range(3)]
        self.widget = W.VBox([W.HBox(boxes), self.message, self.view])
        self.state: dict[str, Any] = {}
        for s in self.sliders.values():
            s.observe(lambda _: self.render(), "value")
        self.render()

    def set_values(self) -> dict[str, float]:
        return {au: float(s.value) for au, s in self.sliders.items()}

    def read_back(self) -> tuple[np.ndarray, dict[str, float]]:
        """Render the face with the sliders' AUs, align it, and read it with the model."""
        from libreface_nb.data.synth import render_face

        values = {int(au[2:]): v for au, v in self.set_values().items()}
        face = render_face(self.subject, values, size=256, pose=False, degrade=False)
        found = A.analyze_image(face, self.model, max_faces=1, source="synthau")
        if not found:
            return face, {}
        row = found[0].row
        if self.model.has("intensity"):
            return face, {au: float(row[au]) for au in self.labels}
        return face, {au: 5.0 * float(row[f"{au}_prob"]) for au in self.labels}  # prob × 5

    def figure(self) -> Any:
        face, predicted = self.read_back()
        self._last = predicted
        return P.sandbox_view(face, self.set_values(), predicted)

    def render(self) -> None:
        self.view.value = png = png_bytes(self.figure())
        predicted = self._last
        self.message.value = "" if predicted else error_html("MediaPipe found no face")
        self.state = {"set": self.set_values(), "predicted": predicted, "png": png}


class SaliencyView:
    """Per-AU Grad-CAM (torch CNN student) or occlusion heat map on the current aligned face."""

    def __init__(self, model: A.ExplorerModel, aligned: np.ndarray | None = None) -> None:
        self.model = model
        info = model.info
        self.targets = {
            f"{label} ({out})": (out, k)
            for out in info.outputs
            for k, label in enumerate(info.labels[out])
        }
        tm = model.torch_model
        methods = ["occlusion"]
        if tm is not None and not tm.config.is_vit:
            methods.insert(0, "gradcam")
        self.target = W.Dropdown(options=list(self.targets), description="output")
        self.method = W.ToggleButtons(options=methods, value=methods[0], description="method")
        self.message = W.HTML()
        self.view = W.Image(format="png")
        self.widget = W.VBox([W.HBox([self.target, self.method]), self.message, self.view])
        self.state: dict[str, Any] = {}
        self.aligned = aligned
        for w in (self.target, self.method):
            w.observe(lambda _: self.render(), "value")
        if aligned is not None:
            self.render()

    def set_face(self, face: A.FaceResult | np.ndarray) -> None:
        self.aligned = face.aligned if isinstance(face, A.FaceResult) else face
        self.render()

    def compute(self) -> np.ndarray:
        out, k = self.targets[self.target.value]
        if self.method.value == "gradcam":
            task = self.model.info.task_of(out)
            return S.gradcam(self.model.torch_model, self.aligned, task, k)
        return S.occlusion(self.model.backend, self.aligned, out, k)

    def render(self) -> None:
        if self.aligned is None:
            self.message.value = error_html("no face yet: pick an image with a face")
            return
        out, k = self.targets[self.target.value]
        sal = self.compute()
        check = S.occlusion_check(self.model.backend, self.aligned, sal, out, k)
        self.message.value = (
            f"occluding the hottest 64 px window moves {self.target.value} by "
            f"{check['delta_high']:.3f}, the coldest by {check['delta_low']:.3f}"
        )
        fig = P.saliency_view(self.aligned, sal, self.target.value, self.method.value)
        self.view.value = png = png_bytes(fig)
        self.state = {"map": sal, "check": check, "png": png}

    def figure(self) -> Any:
        return P.saliency_view(self.aligned, self.compute(), self.target.value, self.method.value)
