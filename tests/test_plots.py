"""Figure helpers return figures with the expected content and save PDF + PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd

from libreface_nb.plots import data as pdata
from libreface_nb.plots import save_figure


def test_label_distributions_counts_unknown():
    df = pd.DataFrame({"AU01": [0, 1, 5, np.nan], "AU02": [0, 0, 0, 0]}, dtype="float32")
    fig = pdata.label_distributions(df, ["AU01", "AU02"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["AU01 (1 unknown)", "AU02"]
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert sum(heights) == 3  # the NaN is not drawn as a 0


def test_face_grid_and_atlas_and_save(tmp_path):
    faces = [np.full((8, 8, 3), i * 40, np.uint8) for i in range(5)]
    fig = pdata.face_grid(faces, [f"face {i}" for i in range(5)], ncols=3)
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "face 4"
    atlas = pdata.au_atlas(np.zeros((2, 3, 8, 8, 3), np.uint8), ["AU01", "AU12"], [0, 2.5, 5])
    assert atlas.axes[0].get_title() == "intensity 0" and atlas.axes[3].get_ylabel() == "AU12"
    paths = save_figure(atlas, tmp_path, "atlas")
    assert [p.name for p in paths] == ["atlas.pdf", "atlas.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[1].read_bytes()[:4] == b"\x89PNG"


def test_status_counts():
    fig = pdata.status_counts(pd.DataFrame({"status": ["ok", "ok", "no_face"]}))
    assert sorted(p.get_height() for p in fig.axes[0].patches) == [1, 2]


def test_expression_distribution_counts_per_split():
    df = pd.DataFrame({"expression": [0, 1, 1, 7], "split": ["train", "train", "test", "test"]})
    fig = pdata.labels_figure(df, ["expression"])
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert len(heights) == 16 and sum(heights) == 4  # 8 classes × 2 splits
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][7] == "Contempt"
