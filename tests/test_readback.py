"""Real-face read-back (libreface_nb.eval.readback): proxies against hand-computed geometry,
the bundled photos, and SynthAU frames whose AU intensities are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from libreface_nb.data import synth
from libreface_nb.errors import ConfigError
from libreface_nb.eval import readback as R


def _toy(gap: float, width: float, brow: float, iod: float = 50.0) -> np.ndarray:
    """Landmarks of an upright face with the given proxies (IOD units)."""
    p = np.zeros((478, 3))
    p[R.IRIS_R, :2], p[R.IRIS_L, :2] = (100.0, 100.0), (100.0 + iod, 100.0)
    for up, lo in R.LIP_PAIRS:
        p[up, :2], p[lo, :2] = (125.0, 160.0), (125.0, 160.0 + gap * iod)
    p[R.CORNERS[0], :2], p[R.CORNERS[1], :2] = (
        (125.0 - width * iod / 2, 162),
        (125.0 + width * iod / 2, 162),
    )
    for brow_ids, eye_ids in zip(R.BROWS, R.EYES, strict=True):
        p[list(eye_ids), 1] = 100.0
        p[list(brow_ids), 1] = 100.0 - brow * iod
    return p


def test_proxies_match_hand_computed_geometry():
    lms = np.stack([_toy(0.1, 0.8, 0.3), _toy(0.0, 1.0, 0.45, iod=80.0)])
    got = R.geometric_proxies(lms)
    np.testing.assert_allclose(got["lip_gap"], [0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(got["mouth_width"], [0.8, 1.0], atol=1e-12)
    np.testing.assert_allclose(got["brow_raise"], [0.3, 0.45], atol=1e-12)
    # Rotating and scaling the face leaves the proxies unchanged.
    a = np.radians(20)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    turned = lms.copy()
    turned[..., :2] = 2.5 * lms[..., :2] @ rot.T + 7
    np.testing.assert_allclose(R.geometric_proxies(turned), got, atol=1e-9)


def test_table_forms_and_errors():
    lms = np.stack([_toy(g, 0.8, 0.3) for g in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)])
    preds = pd.DataFrame(
        {"frame": range(6), "AU25": [0, 1, 2, 3, 4, 5.0], "AU26": [5, 4, 3, 2, 1, 0.0]}
    )
    by_column = preds.assign(landmarks=list(lms))
    by_xy = pd.concat(
        [preds, pd.DataFrame(lms[..., 0], columns=[f"x_{i}" for i in range(478)]),
         pd.DataFrame(lms[..., 1], columns=[f"y_{i}" for i in range(478)])], axis=1)  # fmt: skip
    for table in (R.readback(by_column), R.readback(by_xy), R.readback(preds, lms)):
        assert list(table["au"]) == ["AU25", "AU26"]  # the other AUs are absent
        assert table["pearson"].tolist() == pytest.approx([1.0, -1.0])
        assert table["agrees"].tolist() == [True, False]
    with pytest.raises(ConfigError, match="landmarks"):
        R.readback(preds)
    evals = preds.rename(columns={"AU25": "pred_AU25", "AU26": "pred_AU26"})
    assert R.readback(evals, lms)["column"].tolist() == ["pred_AU25", "pred_AU26"]


def test_bundled_photos():
    from libreface_nb.data.synth.base import load_base_photo

    lms = R.detect_landmarks([load_base_photo(b) for b in ("astronaut", "grace_hopper")])
    prox = R.geometric_proxies(lms)
    assert np.isfinite(prox.to_numpy()).all()
    astro, grace = prox.iloc[0], prox.iloc[1]
    assert astro["lip_gap"] > grace["lip_gap"] + 0.03  # she smiles with parted lips
    assert 0.6 < astro["mouth_width"] < 1.3 and 0.6 < grace["mouth_width"] < 1.3
    assert 0.15 < grace["brow_raise"] < 0.6


@pytest.mark.parametrize(
    ("au", "proxy"), [(25, "lip_gap"), (26, "lip_gap"), (20, "mouth_width"), (1, "brow_raise")]
)
def test_proxies_follow_synthau_intensities(au, proxy):
    """Measured on the astronaut: r = 0.89 (AU25: her neutral already smiles open), 0.98
    (AU26), 0.99 (AU20), 0.998 (AU1)."""
    subject = synth.make_subjects(1, seed=0)[0]
    levels = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    frames = [synth.render_face(subject, {au: v}, pose=False, degrade=False) for v in levels]
    preds = pd.DataFrame({"frame": range(6), f"AU{au:02d}": levels})
    table = R.readback(preds, R.detect_landmarks(frames))
    row = table[table["proxy"] == proxy].iloc[0]
    assert row["n"] == 6
    assert row["pearson"] > 0.8, row.to_dict()


def test_readback_figure():
    from libreface_nb.plots.readback import readback_figure

    lms = np.stack([_toy(g, 0.8 + g, 0.3) for g in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)])
    preds = pd.DataFrame({"AU25": np.arange(6.0), "AU12": np.arange(6.0)[::-1]})
    table = R.readback(preds, lms)
    fig = readback_figure(R.proxies_of(preds, lms), preds, table, title="toy")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(titles) == 2 and "AGAINST" in titles[1]
