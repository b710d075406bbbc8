"""benchmarks/libreface_parity.py: its random LibreFace-layout weights load as LibreFace's files,
and its comparison counts what it says (on hand-made tables; LibreFace itself is not run here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "libreface_parity.py"
_spec = importlib.util.spec_from_file_location("libreface_parity", SCRIPT)
lp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lp)


def test_random_weights_are_every_libreface_file_in_its_layout(tmp_path):
    from libreface_nb.models.checkpoints import LIBREFACE_FILES, libreface_model

    root = lp.random_weights(tmp_path, gain=1.0)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.pt")) == sorted(
        LIBREFACE_FILES
    )
    one_per_model = {spec: rel for rel, spec in LIBREFACE_FILES.items()}  # same model, 2 names
    for (arch, tasks), rel in one_per_model.items():
        model, report = libreface_model(root / rel, tasks[0] if len(tasks) == 1 else None)
        assert (model.config.arch, model.tasks) == (arch, tasks) and not report.missing


def test_compare_counts_differences_decisions_and_worst_frames():
    names = ["a.png", "b.png", "c.png"]
    lf = pd.DataFrame({"image": names, "facial_expression": ["Fear", "Anger", "Fear"]})
    us = pd.DataFrame(index=pd.Index(names, name="image"))
    us["status"] = "ok"
    us["expression"] = ["Fear", "Fear", "Fear"]
    for k in lp.DISFA:
        lf[f"au_{k}_intensity"] = [1.0, 2.0, 3.0]
        us[f"AU{k:02d}"] = [1.0, 2.0, 3.0]
    us.loc["b.png", "AU12"] = 2.5
    for k in lp.BP4D:
        lf[f"au_{k}"] = [0, 1, 1]
        us[f"AU{k:02d}_prob"] = [0.1, 0.9, 0.9]
        us[f"AU{k:02d}_present"] = [0.0, 1.0, 1.0]
    us.loc["c.png", "AU24_present"] = 0.0
    table, summary = lp.compare(lf, us, "joint")
    row = table.set_index("AU").loc["AU12"]
    assert row["max_abs_diff"] == 0.5 and np.isclose(row["mean_abs_diff"], 0.5 / 3)
    assert summary["presence_frames_differing"]["AU24"] == 1
    assert summary["presence_frames_differing"]["AU01"] == 0
    assert summary["expression_agree"] == 2 and summary["worst"][0] == ("b.png", 0.5)
