"""Training recipes: the notebooks' parameters cells are the recipes' defaults, every profile builds
a valid recipe, each check fires with its message, and the notebook steps run on toy data."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import get_args

import nbformat
import pytest
import torch

from libreface_nb import artifacts
from libreface_nb import profiles as prof
from libreface_nb.errors import ConfigError
from libreface_nb.train import choices as C
from libreface_nb.train.recipes import Augment, StudentRecipe, TeacherRecipe

sys.path.insert(0, str(Path(__file__).parent))
from test_train_finetune import Faces

RECIPES = {"02": TeacherRecipe, "03": StudentRecipe}
PROFILES = sorted(p.stem for p in prof.PROFILES_DIR.glob("*.yaml"))
torch.set_num_threads(1)


def _notebook(nb: str) -> Path:
    (path,) = [p for p in prof.discover_notebooks() if prof.notebook_number(p) == nb]
    return path


def cell_parameters(nb: str) -> dict:
    """name → value of the notebook's cell tagged ``parameters`` (flat literals)."""
    book = nbformat.read(_notebook(nb), as_version=4)
    (cell,) = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    return {s.targets[0].id: ast.literal_eval(s.value) for s in ast.parse(cell.source).body}


# -- one source of defaults ---------------------------------------------------------------------
@pytest.mark.parametrize("nb", sorted(RECIPES))
def test_every_notebook_parameter_is_a_recipe_field_or_notebook_only(nb):
    recipe, params = RECIPES[nb], cell_parameters(nb)
    assert set(params) - set(recipe.NOTEBOOK_ONLY) == set(recipe.parameter_names())
    assert set(recipe.NOTEBOOK_ONLY) <= set(params)


@pytest.mark.parametrize("nb", sorted(RECIPES))
def test_parameters_cell_holds_the_recipe_defaults_in_value_and_type(nb):
    recipe, params = RECIPES[nb], cell_parameters(nb)
    default = recipe()
    for name in recipe.parameter_names():
        value = getattr(default, name)
        assert (params[name], type(params[name])) == (value, type(value)), name


@pytest.mark.parametrize("nb", sorted(RECIPES))
def test_papermill_reads_the_same_parameters(nb):
    declared = prof.declared_parameters(_notebook(nb))
    assert set(declared) == set(cell_parameters(nb))


@pytest.mark.parametrize("name", PROFILES)
def test_each_profile_builds_valid_recipes(name):
    declared = {
        prof.notebook_number(p): prof.declared_parameters(p) for p in prof.discover_notebooks()
    }
    resolved = prof.resolve_parameters(prof.load_profile(name), declared)
    for nb, recipe in RECIPES.items():
        built = recipe.from_parameters(cell_parameters(nb) | resolved[nb])
        for key, value in resolved[nb].items():
            if key in recipe.parameter_names():
                assert getattr(built, key) == value, (nb, key)


def test_fixture_profile_recipes_are_the_tiny_ones():
    declared = {
        prof.notebook_number(p): prof.declared_parameters(p) for p in prof.discover_notebooks()
    }
    resolved = prof.resolve_parameters(prof.load_profile("fixture"), declared)
    teacher = TeacherRecipe.from_parameters(cell_parameters("02") | resolved["02"])
    assert (teacher.vit_size, teacher.img_size, teacher.choose_on_validation) == ("tiny", 64, True)
    student = StudentRecipe.from_parameters(cell_parameters("03") | resolved["03"])
    assert (student.img_size, student.epochs, student.patience) == (64, 2, 0)


def test_choices_are_the_registries():
    from libreface_nb.models.factory import POOLS
    from libreface_nb.models.vit import VIT_SIZES
    from libreface_nb.tasks import TASKS
    from libreface_nb.train.distill import ABLATIONS
    from libreface_nb.train.mae import DECODERS

    assert set(get_args(C.Task)) == set(TASKS)
    assert set(get_args(C.StudentTask)) == {"", *TASKS}
    assert set(get_args(C.MaeDecoder)) == set(DECODERS)
    assert set(get_args(C.Ablation)) == set(ABLATIONS)
    assert set(get_args(C.VitSize)) == set(VIT_SIZES)
    assert set(get_args(C.Pool)) == set(POOLS)


def test_distill_config_defaults_are_the_student_recipe_defaults():
    from libreface_nb.train.distill import DistillConfig

    assert StudentRecipe().distill_config("both") == DistillConfig()


# -- what the recipes build ---------------------------------------------------------------------
def test_teacher_fit_configs_are_the_paper_recipe_and_mae():
    recipe = TeacherRecipe()
    ft, mae = recipe.fit_config(), recipe.mae_fit_config()
    got = (ft.lr, ft.batch_size, ft.epochs, ft.weight_decay, ft.warmup_epochs, ft.patience)
    assert got == (3e-5, 28, 20, 1e-4, 1.0, 5)
    assert (ft.monitor, ft.mode, ft.clip_grad, ft.betas) == ("val_pcc", "max", 1.0, (0.9, 0.999))
    got = (mae.lr, mae.batch_size, mae.epochs, mae.weight_decay, mae.warmup_epochs, mae.patience)
    assert got == (1.5e-4, 64, 100, 0.05, 5.0, 0)
    assert (mae.monitor, mae.mode, mae.betas) == ("val_loss", "min", (0.9, 0.95))


def test_student_fit_config_is_libreface_disfa_recipe():
    cfg = StudentRecipe().fit_config("intensity")
    got = (cfg.lr, cfg.batch_size, cfg.epochs, cfg.seed, cfg.clip_grad, cfg.monitor, cfg.mode)
    assert got == (1e-3, 128, 12, 0, 1.0, "val_pcc", "max")


def test_max_steps_zero_means_no_cap_and_tasks_set_the_monitor():
    assert TeacherRecipe().fit_config().max_steps_per_epoch is None
    assert TeacherRecipe(max_steps_per_epoch=3).mae_fit_config().max_steps_per_epoch == 3
    assert TeacherRecipe(task="detection").fit_config().monitor == "val_f1"
    assert StudentRecipe().fit_config("expression").monitor == "val_accuracy"


def test_model_configs():
    t = TeacherRecipe(vit_size="tiny", img_size=64, pool="mean").model_config()
    assert (t.arch, t.tasks, t.img_size, t.vit_size, t.pool) == (
        "vit",
        ("intensity",),
        64,
        "tiny",
        "mean",
    )
    s = StudentRecipe(img_size=64).model_config("detection")
    assert (s.arch, s.tasks, s.img_size) == ("resnet18", ("detection",), 64)


def test_augment_is_typed_and_gives_build_transform_arguments():
    assert TeacherRecipe(rotation=5, color=0.2).augment == Augment(5.0, 0.2, 1.0)
    assert StudentRecipe(crop_jitter=0.0).augment.kwargs() == {
        "rotation": 0.0, "color": 0.0, "crop_jitter": 0.0}  # fmt: skip
    with pytest.raises(ConfigError, match="Augment.crop_jitter=2"):
        Augment(0.0, 0.0, 2)
    with pytest.raises(ConfigError, match="Augment.rotation=-1"):
        Augment(-1, 0.0, 1.0)


def test_ablation_names_start_with_none():
    assert StudentRecipe().ablation_names == ("none", "feature", "kl")
    assert StudentRecipe(ablations=" kl ,").ablation_names == ("none", "kl")
    assert StudentRecipe(ablations="").ablation_names == ("none",)


def test_ints_are_stored_as_floats_where_a_float_is_declared():
    recipe = TeacherRecipe(lr=1, crop_jitter=0)
    assert (type(recipe.lr), type(recipe.crop_jitter)) == (float, float)


def test_from_parameters_ignores_other_names_and_names_the_missing_ones():
    params = cell_parameters("03") | {"unrelated": 1}
    assert StudentRecipe.from_parameters(params) == StudentRecipe()
    del params["alpha"]
    with pytest.raises(ConfigError, match=r"needs the parameters \['alpha'\]"):
        StudentRecipe.from_parameters(params)


# -- every check, with its message --------------------------------------------------------------
WHERE = r"in notebook 0[23]'s parameters cell, in the profile under notebooks: \"0[23]\":"
T, S = TeacherRecipe, StudentRecipe
ERRORS = [
    (T, {"teacher_choice": "validation"}, "teacher_choice='validation'.*compare_scratch=True"),
    (T, {"teacher_choice": "best"}, r"teacher_choice='best' is not one of \['mae', 'validation'\]"),
    (T, {"vit_size": "huge"}, "vit_size='huge' is not one of"),
    (T, {"pool": "max"}, "pool='max' is not one of"),
    (T, {"task": "pain"}, "task='pain' is not one of"),
    (T, {"mae_decoder": "big"}, "mae_decoder='big' is not one of"),
    (T, {"mae_faces": "test"}, "mae_faces='test' is not one of"),
    (T, {"img_size": 100}, "img_size=100 is not a multiple of the ViT patch"),
    (T, {"img_size": 256}, r"img_size=256 must be in \[16, 224\]"),
    (T, {"lr": 0.0}, "lr=0.0 must be > 0"),
    (T, {"epochs": 0}, "epochs=0 must be ≥ 1"),
    (T, {"mae_mask_ratio": 1.0}, r"mae_mask_ratio=1.0 must be in \(0, 1\)"),
    (T, {"crop_jitter": 1.5}, r"crop_jitter=1.5 must be in \[0, 1\]"),
    (T, {"drop_path_rate": 1.0}, r"drop_path_rate=1.0 must be in \[0, 1\)"),
    (T, {"epochs": "3"}, "epochs='3' must be of type int"),
    (T, {"epochs": True}, "epochs=True must be an int, not a bool"),
    (T, {"lr": "1e-3"}, "lr='1e-3' must be of type float"),
    (T, {"progress": 1}, "progress=1 must be of type bool"),
    (T, {"mae_folder": "f", "mae_checkpoint": "c"}, "mae_folder='f' and mae_checkpoint"),
    (T, {"mae_folder": "f", "pretrain_mae": False}, "mae_folder='f' is only read when"),
    (S, {"task": "pain"}, "task='pain' is not one of"),
    (S, {"projection": "pca"}, "projection='pca' is not one of"),
    (S, {"kl": "js"}, "kl='js' is not one of"),
    (S, {"feature_loss": "l1"}, "feature_loss='l1' is not one of"),
    (S, {"alpha": -1.0}, "alpha=-1.0 must be ≥ 0"),
    (S, {"student_arch": "vit"}, "student_arch='vit' must name a timm CNN"),
    (S, {"ablations": "feature,none"}, r"ablations='feature,none' names \['none'\]"),
    (S, {"ablations": "kl,kl"}, "ablations='kl,kl' names an ablation twice"),
    (S, {"eval_batch_size": 0}, "eval_batch_size=0 must be ≥ 1"),
]  # fmt: skip


@pytest.mark.parametrize(("recipe", "kwargs", "match"), ERRORS, ids=[str(e[1]) for e in ERRORS])
def test_each_check_fires_with_its_message(recipe, kwargs, match):
    with pytest.raises(ConfigError, match=match) as info:
        recipe(**kwargs)
    name = next(iter(kwargs))
    assert f"--set {recipe.NOTEBOOK}.{name}=" in str(info.value)
    assert re.search(WHERE, str(info.value))


# -- the steps, on toy data ---------------------------------------------------------------------
def _run_data() -> SimpleNamespace:
    return SimpleNamespace(fold="fold1", dataset="disfa", subjects=lambda role: [f"{role}_s"])


def test_teacher_steps_choose_publish_and_report(tmp_path):
    from libreface_nb.models.factory import load_model
    from libreface_nb.train import teacher_steps as steps

    recipe = TeacherRecipe(vit_size="tiny", img_size=32, pool="mean", pretrain_mae=False,
                           epochs=1, batch_size=8, lr=1e-3, compare_scratch=True,
                           teacher_choice="validation", progress=False)  # fmt: skip
    inputs = steps.TeacherData(_run_data(), {"train": Faces(16, 0), "val": Faces(8, 1),
                                             "test": Faces(8, 2)})  # fmt: skip
    mae = steps.pretrain_mae(recipe, inputs, tmp_path)
    assert (mae.encoder_checkpoint, mae.fit) == (None, None)
    teacher = steps.finetune(recipe, inputs, mae.encoder_checkpoint, tmp_path)
    assert teacher.model_path == tmp_path / artifacts.NB02_MAE_INIT / "model.pt"
    pick = steps.choose(recipe, inputs, teacher, tmp_path)
    assert pick.source in ("mae", "scratch")
    path = steps.publish(recipe, pick, tmp_path)
    assert load_model(path).extra["teacher_source"] == pick.source
    test = steps.evaluate_on_test(recipe, inputs, pick)
    assert list(test.rows) == [steps.TEACHER, steps.UNTRAINED, steps.SCRATCH]
    metrics = steps.metrics(recipe, inputs, mae, pick, test, tmp_path)
    assert metrics["teacher_source"] == pick.source
    assert metrics["test_pcc"] == test.run_teacher["pcc"]
    assert metrics["val_pcc"] == pick.teacher.fit.best
    assert "mae_val_loss_first" not in metrics
    assert list(test.table("pcc").index) == list(test.rows)


def test_teacher_steps_without_a_choice_train_in_teacher(tmp_path):
    from libreface_nb.train import teacher_steps as steps

    recipe = TeacherRecipe(img_size=32, mae_checkpoint="my_mae.pth")
    assert steps.pretrain_mae(recipe, None, tmp_path).encoder_checkpoint == "my_mae.pth"
    assert steps.teacher_dir(recipe, tmp_path) == tmp_path / artifacts.NB02_TEACHER
    pick = steps.TeacherPick("mae", None, None, None)
    assert steps.publish(recipe, pick, tmp_path) == tmp_path / artifacts.NB02_TEACHER_MODEL


def test_student_steps_train_compare_and_report(tmp_path):
    from libreface_nb.models.factory import ModelConfig, create_model
    from libreface_nb.train import student_steps as steps

    torch.manual_seed(0)
    teacher = create_model(ModelConfig("vit", ("intensity",), img_size=32, vit_size="tiny")).eval()
    recipe = StudentRecipe(img_size=32, epochs=1, batch_size=8, ablations="kl", progress=False)
    sets = {"train": Faces(16, 0), "val": Faces(8, 1), "test": Faces(8, 2)}
    inputs = steps.StudentInputs(teacher, tmp_path / "t.pt", "intensity", _run_data(), sets,
                                 {"pcc": 0.5, "loss": 1.0})  # fmt: skip
    students = {"distilled": steps.distill(recipe, inputs, tmp_path)}
    students |= steps.ablations(recipe, inputs, tmp_path)
    assert list(students) == ["distilled", "none", "kl"]
    assert students["none"].path == tmp_path / artifacts.NB03_ABLATIONS / "none" / "model.pt"
    comparison = steps.evaluate_students(recipe, inputs, students, tmp_path)
    assert list(comparison.table["model"])[0] == "teacher"
    assert (tmp_path / artifacts.NB03_COMPARISON).is_file()
    metrics = steps.metrics(recipe, inputs, students, comparison, seconds=1.0)
    assert sorted(k for k in metrics if k.startswith("test_pcc")) == [
        "test_pcc", "test_pcc_kl", "test_pcc_none", "test_pcc_teacher"]  # fmt: skip
    assert metrics["test_pcc_teacher"] == 0.5
