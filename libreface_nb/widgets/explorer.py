"""The AU explorer: the four views of :mod:`libreface_nb.widgets.views` in one Tab.

``explorer(run_dir)`` finds the run's student (:func:`libreface_nb.widgets.analysis.load_student`)
and, when a ``predict`` table (with landmarks) and its video are given, adds the video view.
Without a model it returns an :class:`Explorer` whose ``widget`` is a message saying which
notebooks to run, and whose views are None.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd

from libreface_nb.errors import CheckpointError
from libreface_nb.widgets import analysis as A
from libreface_nb.widgets import views as V

TABS = ("image", "video", "AU sandbox", "saliency")


@dataclass
class Explorer:
    """What :func:`explorer` built: ``widget`` to display, the views (None when missing), and
    ``message`` ("" when a model was found)."""

    widget: Any
    model: A.ExplorerModel | None = None
    image: V.ImageView | None = None
    video: V.VideoView | None = None
    sandbox: V.SandboxView | None = None
    saliency: V.SaliencyView | None = None
    message: str = ""


def explorer(
    run_dir: str | Path = "", *, model: Any = None, table: pd.DataFrame | None = None,
    video: str | Path | None = None, runs_root: str | Path | None = None, max_faces: int = 4,
    subject_seed: int = 0,
) -> Explorer:  # fmt: skip
    """Build the explorer for a run.

    Args:
        run_dir: the run folder (its student, or the newest usable run's).
        model: a model file or FaceModel instead of the run's student.
        table: :func:`libreface_nb.predict` output for ``video`` with ``landmarks=True``.
        video: the video the table was predicted from.
        runs_root: where :func:`libreface_nb.runs.find_input` looks for other runs.
        max_faces: faces searched per image.
        subject_seed: the SynthAU subject of the sandbox.
    """
    try:
        em = A.load_student(run_dir, runs_root=runs_root, model=model)
    except CheckpointError as exc:
        return Explorer(V.message_widget(str(exc)), message=str(exc))
    image = V.ImageView(em, max_faces=max_faces)
    sal = V.SaliencyView(em)
    image.listeners.append(sal.set_face)
    sal.set_face(image.faces[0]) if image.faces else None
    vid = V.VideoView(table, str(video)) if table is not None and video is not None else None
    sandbox = V.SandboxView(em, subject_seed=subject_seed)
    video_widget = (
        vid.widget
        if vid
        else V.message_widget(
            "no video: pass explorer(table=predict(video, landmarks=True), video=video)"
        )
    )
    tab = W.Tab(children=[image.widget, video_widget, sandbox.widget, sal.widget])
    tab.titles = TABS
    return Explorer(tab, em, image, vid, sandbox, sal)
