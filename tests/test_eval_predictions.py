"""Predictions tables: schema, Parquet round trip, metrics recomputed from the table, evaluate()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from eval_helpers import AUS, au_dataset, make_store
from scipy.stats import pearsonr

from libreface_nb.errors import ConfigError, DatasetLayoutError
from libreface_nb.eval import predictions as P
from libreface_nb.eval.evaluate import evaluate


def _meta(n: int) -> pd.DataFrame:
    return pd.DataFrame({"subject": [f"S{i % 3}" for i in range(n)], "source": "v.avi",
                         "frame": np.arange(n)})  # fmt: skip


def _intensity_table(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    true = rng.uniform(0, 5, (n, len(AUS)))
    true[0, 0] = np.nan
    pred = np.clip(true + rng.normal(0, 1, true.shape), 0, 5)
    pred[0, 0] = 1.0
    return P.build_table(_meta(n), "intensity", true, pred)


def test_table_columns_follow_the_contract():
    table = _intensity_table()
    assert list(table.columns[:5]) == ["subject", "source", "frame", "face", "split"]
    assert list(table.columns[5:]) == P.value_columns("intensity")


def test_parquet_round_trip_keeps_everything(tmp_path):
    table = _intensity_table()
    path = P.save_predictions(table, tmp_path / "p" / "m.parquet")
    pd.testing.assert_frame_equal(P.load_predictions(path, "intensity"), table)


def test_metrics_are_recomputable_from_the_table():
    table = _intensity_table()
    result, summary = P.metrics_from_predictions(table, "intensity")
    row = result.set_index(["output", "metric"]).loc[("AU01", "pcc")]
    keep = table["true_AU01"].notna()
    ref = pearsonr(table.loc[keep, "true_AU01"], table.loc[keep, "pred_AU01"]).statistic
    assert row["value"] == pytest.approx(ref)
    assert row["n"] == 29  # the unknown label is masked


def test_summary_is_the_mean_over_aus():
    result, summary = P.metrics_from_predictions(_intensity_table(), "intensity")
    per_au = result[(result["metric"] == "pcc") & (result["output"] != "mean")]["value"]
    assert summary["pcc"] == pytest.approx(per_au.mean())


def test_bootstrap_columns_from_a_table():
    result, _ = P.metrics_from_predictions(_intensity_table(), "intensity", n_boot=5, seed=1)
    assert {"ci_low", "ci_high", "n_boot", "ci_reason"} <= set(result.columns)


def test_metrics_across_folds_average_the_fold_values():
    folds = {"f1": _intensity_table(seed=1), "f2": _intensity_table(seed=2)}
    per = [P.metrics_from_predictions(t, "intensity")[1]["pcc"] for t in folds.values()]
    out = P.metrics_across_folds(folds, "intensity").set_index(["output", "metric"])
    assert out.loc[("mean", "pcc"), "mean"] == pytest.approx(np.mean(per))
    assert out.loc[("mean", "pcc"), "std"] == pytest.approx(np.std(per, ddof=1))


def test_expression_table_and_metrics():
    probs = np.eye(8)[[0, 1, 2, 2, 5]]
    table = P.build_table(_meta(5), "expression", np.array([0, 1, 2, 3, -1]), probs)
    assert table["pred_expression"].tolist() == [0, 1, 2, 2, 5]
    _, summary = P.metrics_from_predictions(table, "expression")
    assert summary["accuracy"] == pytest.approx(0.75)  # 3 of the 4 known labels


def test_a_table_without_prediction_columns_names_them():
    table = _intensity_table().drop(columns=["pred_AU26"])
    with pytest.raises(DatasetLayoutError, match="pred_AU26"):
        P.validate(table, "intensity")


def test_wrong_prediction_shape_is_refused():
    with pytest.raises(ConfigError, match="shape"):
        P.build_table(_meta(3), "intensity", np.zeros((3, 12)), np.zeros((3, 11)))


class Tiny(torch.nn.Module):
    """Follows the model contract: a dict of raw outputs per task."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, len(AUS))

    def forward(self, x):
        feat = x.mean(dim=(2, 3))
        return {"feature": feat, "intensity": self.lin(feat)}


class Raw(torch.nn.Module):
    def __init__(self, inner, activated=False):
        super().__init__()
        self.inner, self.activated = inner, activated

    def forward(self, image):
        y = self.inner(image)["intensity"]
        return 5 * torch.sigmoid(y) if self.activated else y


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    index, store = make_store(tmp_path_factory.mktemp("store"), frames=4)
    return au_dataset(index, store)


def test_evaluate_torch_model_gives_one_row_per_item(dataset):
    torch.manual_seed(0)
    table = evaluate(Tiny(), dataset, "intensity", batch_size=5)
    assert table["frame"].tolist() == dataset.table["frame"].tolist()
    assert table["true_AU01"].tolist() == dataset.table["AU01"].tolist()
    assert table["pred_AU01"].between(0, 5).all()


def _export(module, path, activated):
    import onnx

    torch.onnx.export(Raw(module, activated).eval(), (torch.zeros(1, 3, 32, 32),), str(path),
                      input_names=["image"], output_names=["AUs"], dynamo=False,
                      dynamic_axes={"image": {0: "n"}, "AUs": {0: "n"}})  # fmt: skip
    if activated:
        model = onnx.load(str(path))
        onnx.helper.set_model_props(model, {"activation_applied": "1"})
        onnx.save(model, str(path))
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("activated", [False, True])
def test_onnx_and_torch_give_the_same_table(dataset, tmp_path, activated):
    torch.manual_seed(0)
    module = Tiny().eval()
    ref = evaluate(module, dataset, "intensity")
    got = evaluate(_export(module, tmp_path / "m.onnx", activated), dataset, "intensity")
    pd.testing.assert_frame_equal(got, ref, atol=1e-5, rtol=0)


class Joint(torch.nn.Module):
    """Two outputs like the export stream's joint student: AUs and AUs_c."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, image):
        y = self.inner(image)["intensity"]
        return y, -y


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_output_is_taken_from_the_tasks_metadata(dataset, tmp_path):
    import onnx

    torch.manual_seed(0)
    module = Tiny().eval()
    path = tmp_path / "joint.onnx"
    torch.onnx.export(Joint(module), (torch.zeros(1, 3, 32, 32),), str(path),
                      input_names=["image"], output_names=["AUs", "AUs_c"], dynamo=False,
                      dynamic_axes={"image": {0: "n"}})  # fmt: skip
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {"tasks": '["intensity", "detection"]',
                                        "outputs": '["AUs", "AUs_c"]'})  # fmt: skip
    onnx.save(proto, str(path))
    table = evaluate(path, dataset, "detection")
    x = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    with torch.no_grad():
        expected = torch.sigmoid(-module(x)["intensity"]).numpy()
    np.testing.assert_allclose(table[P.value_columns("detection")[12:]], expected, atol=1e-5)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from libreface_nb.models.factory import ModelConfig, create_model, save_model

    torch.manual_seed(0)
    model = create_model(ModelConfig(arch="resnet18", tasks=("intensity",), img_size=32))
    return model.eval(), save_model(tmp_path_factory.mktemp("ckpt") / "model.pt", model)


def test_a_checkpoint_path_gives_the_same_table_as_the_model(dataset, checkpoint):
    model, path = checkpoint
    pd.testing.assert_frame_equal(evaluate(path, dataset, "intensity"),
                                  evaluate(model, dataset, "intensity"))  # fmt: skip


def test_a_model_without_the_task_head_is_refused(dataset, checkpoint):
    with pytest.raises(ConfigError, match="no 'detection' head"):
        evaluate(checkpoint[0], dataset, "detection")


def test_input_size_mismatch_names_the_fix(tmp_path_factory, checkpoint):
    index, store = make_store(tmp_path_factory.mktemp("s64"), subjects=("S1",), frames=2)
    with pytest.raises(ConfigError, match="img_size=32"):
        evaluate(checkpoint[0], au_dataset(index, store, size=64), "intensity")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_input_size_metadata_is_checked(dataset, tmp_path):
    import onnx

    path = _export(Tiny().eval(), tmp_path / "m.onnx", activated=False)
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {"input_size": "64"})
    onnx.save(proto, str(path))
    with pytest.raises(ConfigError, match="img_size=64"):
        evaluate(path, dataset, "intensity")
