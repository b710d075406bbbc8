"""benchmarks/real_video_check.py: the 13/14 lip gap is in IOD units and turns with the face."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "real_video_check.py"
_spec = importlib.util.spec_from_file_location("real_video_check", SCRIPT)
rvc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rvc)


def _face(angle_deg: float, scale: float) -> np.ndarray:
    """Landmarks [1, 478, 2]: irises 10 apart, lip point 13 at 2 and 14 at 5 below their middle."""
    lm = np.zeros((478, 2))
    lm[rvc.IRIS_R], lm[rvc.IRIS_L] = (-5.0, 0.0), (5.0, 0.0)
    lm[rvc.UPPER], lm[rvc.LOWER] = (0.0, 2.0), (0.0, 5.0)
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (scale * lm @ rot.T + [300.0, 200.0])[None]


@pytest.mark.parametrize(("angle", "scale"), [(0.0, 1.0), (30.0, 1.0), (-90.0, 3.5)])
def test_gap_is_in_iod_units_whatever_the_roll_and_size(angle, scale):
    np.testing.assert_allclose(rvc.gap_13_14(_face(angle, scale)), [0.3], atol=1e-12)


def test_closed_lips_give_zero():
    lm = _face(10.0, 2.0)
    lm[0, rvc.LOWER] = lm[0, rvc.UPPER]
    np.testing.assert_allclose(rvc.gap_13_14(lm), [0.0], atol=1e-12)
