"""Notebook 03's figures: loss terms per model and per-output comparison bars."""

from __future__ import annotations

import math

from libreface_nb.plots import distill as pdist


def _hist(with_terms: bool) -> list[dict]:
    rows = []
    for e in range(3):
        r = {"epoch": e, "train_task": 1.0 / (e + 1), "val_pcc": 0.1 * e}
        if with_terms:
            r |= {"train_feature": 0.5, "train_kl": 0.2}
        rows.append(r)
    return rows


def test_loss_terms_has_a_line_per_model_and_term():
    fig = pdist.loss_terms({"distilled": _hist(True), "no distillation": _hist(False)}, "val_pcc")
    assert [len(ax.lines) for ax in fig.axes] == [2, 1, 1, 2]
    assert fig.axes[3].get_title() == "val_pcc (validation)"
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3]


def test_loss_terms_keeps_one_colour_per_model_across_panels():
    fig = pdist.loss_terms({"none": _hist(False), "distilled": _hist(True)}, "val_pcc")
    feature_line = fig.axes[1].lines[0]
    assert feature_line.get_label() == "distilled"
    assert feature_line.get_color() == fig.axes[0].lines[1].get_color()


def test_per_output_comparison_draws_one_bar_per_model_and_output():
    per = {"teacher": {"AU01": 0.5, "AU02": math.nan}, "student": {"AU01": 0.4, "AU02": 0.3}}
    fig = pdist.per_output_comparison(per, "PCC", means={"teacher": 0.5, "student": 0.35})
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert len(heights) == 6
    assert heights[2] == 0.5 and heights[5] == 0.35
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["AU01", "AU02", "mean"]
