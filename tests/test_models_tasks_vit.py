"""The task table's activations and the ViT encoder builder (positions, tokens, frozen parts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from libreface_nb.errors import ConfigError
from libreface_nb.models.tasks import TASKS, activate, get_task
from libreface_nb.models.vit import build_vit_encoder, sincos_pos_embed

RAW = np.array([[-30.0, -1.0, 0.0, 0.5, 2.0, 30.0, 0.1, -0.2]], dtype=np.float32)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_activate_numpy_and_torch_agree(task):
    np_out = activate(task, RAW)
    torch_out = activate(task, torch.from_numpy(RAW)).numpy()
    np.testing.assert_allclose(np_out, torch_out, rtol=1e-6, atol=1e-6)


def test_intensity_is_five_sigmoid_clamped_to_0_5():
    out = activate("intensity", np.array([0.0, 30.0, -30.0]))
    np.testing.assert_allclose(out, [2.5, 5.0, 5.0 / (1.0 + math.exp(30.0))], rtol=1e-12)


def test_intensity_never_leaves_0_5():
    out = activate("intensity", torch.tensor([-1e4, 1e4]))
    assert out.min().item() >= 0.0 and out.max().item() <= 5.0


def test_detection_is_a_sigmoid():
    np.testing.assert_allclose(
        activate("detection", np.array([0.0, 2.0])), [0.5, 1 / (1 + math.exp(-2.0))]
    )


def test_expression_softmax_sums_to_one_and_matches_hand_value():
    out = activate("expression", np.array([[0.0, math.log(3.0)]]))
    np.testing.assert_allclose(out, [[0.25, 0.75]], rtol=1e-12)


def test_task_output_counts():
    assert {t: s.n_outputs for t, s in TASKS.items()} == {
        "intensity": 12,
        "detection": 12,
        "expression": 8,
    }


def test_unknown_task_lists_the_tasks():
    with pytest.raises(ConfigError, match="detection"):
        get_task("valence")


def test_sincos_small_case_by_hand():
    # D = 8, grid 2: omega = [1, 1/100]; channels = sin(c·ω), cos(c·ω), sin(r·ω), cos(r·ω).
    emb = sincos_pos_embed(8, 2)

    def row(r: int, c: int) -> list[float]:
        w = [1.0, 0.01]
        return (
            [math.sin(c * x) for x in w]
            + [math.cos(c * x) for x in w]
            + [math.sin(r * x) for x in w]
            + [math.cos(r * x) for x in w]
        )

    expected = np.array([row(0, 0), row(0, 1), row(1, 0), row(1, 1)], dtype=np.float32)
    np.testing.assert_allclose(emb, expected, rtol=1e-6, atol=1e-7)


def test_sincos_class_token_slot_is_zero():
    emb = sincos_pos_embed(8, 2, class_token=True)
    assert emb.shape == (5, 8) and not emb[0].any()


def test_sincos_refuses_dims_not_divisible_by_4():
    with pytest.raises(ConfigError, match="divisible by 4"):
        sincos_pos_embed(6, 2)


def test_vit_with_class_token_shapes():
    enc = build_vit_encoder("tiny", 32, class_token=True)
    assert tuple(enc.cls_token.shape) == (1, 1, 192)
    assert tuple(enc.pos_embed.shape) == (1, 5, 192)


def test_vit_without_class_token_shapes():
    enc = build_vit_encoder("tiny", 32, class_token=False, fixed_pos=True)
    assert enc.cls_token is None
    assert tuple(enc.forward_features(torch.zeros(1, 3, 32, 32)).shape) == (1, 4, 192)


def test_fixed_positions_are_sincos_and_frozen():
    enc = build_vit_encoder("tiny", 32, class_token=False, fixed_pos=True)
    assert not enc.pos_embed.requires_grad
    np.testing.assert_array_equal(enc.pos_embed[0].detach().numpy(), sincos_pos_embed(192, 2))


def test_learned_positions_are_trainable():
    assert build_vit_encoder("tiny", 32).pos_embed.requires_grad


def test_vit_refuses_img_size_off_the_patch_grid():
    with pytest.raises(ConfigError, match="multiple"):
        build_vit_encoder("tiny", 40)


def test_each_tasks_test_metric_is_its_monitor_without_val():
    from libreface_nb.tasks import get_task

    assert get_task("intensity").metric == "pcc"
    assert get_task("detection").metric == "f1"
    assert get_task("expression").metric == "accuracy"
