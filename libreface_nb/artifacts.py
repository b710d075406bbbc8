"""What each notebook writes into a run folder and who reads it: the run folder's data contract.

Every path one notebook hands on (to a later notebook, a package module, a benchmark or a person)
is a constant here, relative to the run folder, with ``/`` separators: the form
:func:`libreface_nb.runs.find_input` takes, e.g.
``runs.find_input(run_dir, artifacts.NB02_TEACHER_MODEL)``. A notebook writes to
``RUN / artifacts.X`` where ``RUN = OUT.parent`` is its run folder. Notebooks, package modules and
benchmarks name these constants, never the strings: renaming a notebook changes one line here
(``tests/test_artifacts.py`` fails on a notebook folder name spelled anywhere else, and
``tests/test_notebooks.py`` checks that the fixture run writes every row below).

Notebook folders (each notebook's file stem; the runner makes ``<run>/<stem>/``):

=====  ==================================
NB01   ``01_data_prep_and_augmentation``
NB02   ``02_mae_teacher_finetune``
NB03   ``03_resnet18_distillation``
NB04   ``04_evaluation``
NB05   ``05_onnx_cpu_profiling``
NB06   ``06_au_explorer``
=====  ==================================

Artifacts. Path: in the run folder, ``NBnn/`` standing for the notebook's folder. By: the writer
(a notebook number, ``each`` notebook, ``runner`` = ``libreface_nb.run``, or a script). Each
row's second line says who reads it and, for an artifact that exists only under some of the
writer's parameters, ``when:`` a Python expression over those parameters (what
``tests/test_notebooks.py`` evaluates against the fixture run's); a row without one is always
written.

=========================  ==================================  ======  ========================
Constant                   Path                                By      Format
=========================  ==================================  ======  ========================
RUN_JSON                   run.json                            runner  JSON, runs.RunRecord
    read by: runs (load_run, find_input), run_index, the runner
RUN_INDEX                  index.md                            runner  Markdown
    read by: people (status, headline numbers and files of each notebook)
metrics_json(nb)           NBnn/metrics.json                   each    JSON object of scalars
    read by: runner (prints it), run_index, runs.find_input (a notebook finished),
    data.splits (NB01's ``face_store`` and ``dataset``), tests/test_notebooks.py
executed_notebook(nb)      NBnn/NBnn.ipynb                     runner  executed notebook
    read by: people, benchmarks/screenshot_explorer.py (NB06)
parameters_yaml(nb)        NBnn/parameters.yaml                runner  YAML, papermill -f
    read by: papermill, benchmarks/synth_ceiling.py
papermill_log(nb)          NBnn/papermill.log                  runner  text
    read by: the runner (cell timeouts, errors)
NB01_INDEX                 NB01/index.parquet                  01      parquet, a row per frame
    read by: data.splits.load_run_data (notebooks 02-06, benchmarks/synth_ceiling.py)
NB01_FOLDS                 NB01/folds.json                     01      JSON, data.folds
    read by: data.splits.load_run_data
NB01_METRICS               NB01/metrics.json                   01      JSON (``face_store``)
    read by: data.splits.load_run_data (it finds notebook 01's folder by this file)
NB01_FACES                 NB01/faces                          01      face store, faces.store
    when: ``face_store == ""``; read by: data.splits (else metrics.json names the store)
NB01_COUNTS                NB01/counts.md                      01      Markdown table
    read by: people (labelled frames per subject and label)
NB02_MAE                   NB02/mae                            02      fit folder, train.loop
    when: ``pretrain_mae and not mae_checkpoint``; read by: notebook 02
NB02_MAE_ENCODER           NB02/mae/encoder.pth                02      train.mae checkpoint
    when: ``pretrain_mae and not mae_checkpoint``; read by: notebook 02 (the teacher's encoder)
NB02_MAE_HISTORY           NB02/mae/history.jsonl              02      JSON lines, train.state
    when: ``pretrain_mae and not mae_checkpoint``; read by: eval.pipeline.RUN_HISTORIES (04)
NB02_MAE_INIT              NB02/mae_init                       02      fit folder + model.pt
    when: ``teacher_choice == "validation"``; read by: notebook 02 (the choice)
NB02_SCRATCH               NB02/scratch                        02      fit folder + model.pt
    when: ``compare_scratch``; read by: notebook 02 (the choice)
NB02_TEACHER               NB02/teacher                        02      fit folder + model.pt
    read by: people (best.pt, last.pt of the fit)
NB02_TEACHER_MODEL         NB02/teacher/model.pt               02      models.save_model file
    read by: notebook 03, eval.pipeline.RUN_MODELS (notebook 04, benchmarks/real_video_check.py)
NB02_TEACHER_HISTORY       NB02/teacher/history.jsonl          02      JSON lines, train.state
    read by: eval.pipeline.RUN_HISTORIES (notebook 04)
NB03_STUDENT               NB03/student                        03      fit folder + model.pt
    read by: people (best.pt, last.pt of the fit)
NB03_STUDENT_MODEL         NB03/student/model.pt               03      models.save_model file
    read by: eval.pipeline.RUN_MODELS (04, benchmarks), notebook 05, widgets.analysis (06)
NB03_STUDENT_HISTORY       NB03/student/history.jsonl          03      JSON lines, train.state
    read by: eval.pipeline.RUN_HISTORIES (notebook 04)
NB03_ABLATIONS             NB03/ablations                      03      a fit folder per ablation
    read by: people
NB03_COMPARISON            NB03/tables/comparison.csv          03      CSV, a row per model
    read by: people
NB04_PREDICTIONS           NB04/predictions                    04      <model>.parquet, eval
    when: ``models or hog_baseline``; read by: people (predictions tables per model)
NB04_METRICS_LONG          NB04/tables/metrics_long.csv        04      CSV, eval.pipeline
    when: ``models or hog_baseline``; read by: people
NB05_STUDENT_FP32          NB05/student_fp32.onnx              05      ONNX, modelio.metadata
    read by: widgets.analysis (06), infer.backends.find_default_model (``predict``)
NB05_STUDENT_INT8          NB05/student_int8.onnx              05      ONNX, modelio.metadata
    read by: infer.backends.find_default_model (``predict``)
NB05_INT8_AGREEMENT        NB05/int8_agreement.csv             05      CSV, export.onnx
    read by: people
NB05_PROFILE               NB05/profile.csv                    05      CSV, infer.profile
    read by: people
NB05_PREDICTIONS           NB05/predictions.csv                05      CSV, infer.columns
    read by: people
NB06_VIDEO_PREDICTIONS     NB06/video_predictions.parquet      06      parquet, infer.columns
    read by: people
NB06_SANDBOX_READBACK      NB06/sandbox_readback.csv           06      CSV, widgets.analysis
    read by: people
NB06_SALIENCY_CHECKS       NB06/saliency_checks.csv            06      CSV, widgets.saliency
    read by: people
NB06_SCREENSHOTS           NB06/screenshots                    script  PNG files
    by: benchmarks/screenshot_explorer.py; read by: people
NB06_LIVE_SESSION          NB06/screenshots/live_session.ipynb script  notebook (deleted after)
    by: benchmarks/screenshot_explorer.py; read by: JupyterLab
=========================  ==================================  ======  ========================

Not relative to a run folder: :data:`EXPORT_GLOB` (``*/NB05/*.onnx``) is relative to the runs
root, where ``predict`` looks for the newest export (:mod:`libreface_nb.infer.backends`).

:data:`ARTIFACTS` is this table as data (``tests/test_artifacts.py`` checks that the two agree).
The module imports nothing heavy: any module may import it.
"""

from __future__ import annotations

from typing import NamedTuple

# Notebook folders: the notebooks' file stems (tests/test_artifacts.py checks them against
# notebooks/).
NB01 = "01_data_prep_and_augmentation"
NB02 = "02_mae_teacher_finetune"
NB03 = "03_resnet18_distillation"
NB04 = "04_evaluation"
NB05 = "05_onnx_cpu_profiling"
NB06 = "06_au_explorer"
#: Every notebook folder, in run order.
NOTEBOOKS = (NB01, NB02, NB03, NB04, NB05, NB06)

# File names the runner and runs give each notebook folder.
METRICS_FILE = "metrics.json"
PARAMETERS_FILE = "parameters.yaml"
PAPERMILL_LOG = "papermill.log"

RUN_JSON = "run.json"
RUN_INDEX = "index.md"


def metrics_json(nb: str) -> str:
    """``<nb>/metrics.json``: the notebook's headline numbers (:func:`runs.save_metrics`)."""
    return f"{nb}/{METRICS_FILE}"


def executed_notebook(nb: str) -> str:
    """``<nb>/<nb>.ipynb``: the notebook as papermill executed it."""
    return f"{nb}/{nb}.ipynb"


def parameters_yaml(nb: str) -> str:
    """``<nb>/parameters.yaml``: the parameters the runner gave the notebook."""
    return f"{nb}/{PARAMETERS_FILE}"


def papermill_log(nb: str) -> str:
    """``<nb>/papermill.log``: papermill's output for the notebook."""
    return f"{nb}/{PAPERMILL_LOG}"


def in_notebook(path: str) -> str:
    """A path relative to its notebook's folder: ``in_notebook(NB04_PREDICTIONS)`` is
    ``"predictions"``, for code that is handed the notebook folder rather than the run folder."""
    return path.split("/", 1)[1]


NB01_INDEX = f"{NB01}/index.parquet"
NB01_FOLDS = f"{NB01}/folds.json"
NB01_METRICS = metrics_json(NB01)
NB01_FACES = f"{NB01}/faces"
NB01_COUNTS = f"{NB01}/counts.md"

NB02_MAE = f"{NB02}/mae"
NB02_MAE_ENCODER = f"{NB02_MAE}/encoder.pth"
NB02_MAE_HISTORY = f"{NB02_MAE}/history.jsonl"
NB02_MAE_INIT = f"{NB02}/mae_init"
NB02_SCRATCH = f"{NB02}/scratch"
NB02_TEACHER = f"{NB02}/teacher"
NB02_TEACHER_MODEL = f"{NB02_TEACHER}/model.pt"
NB02_TEACHER_HISTORY = f"{NB02_TEACHER}/history.jsonl"

NB03_STUDENT = f"{NB03}/student"
NB03_STUDENT_MODEL = f"{NB03_STUDENT}/model.pt"
NB03_STUDENT_HISTORY = f"{NB03_STUDENT}/history.jsonl"
NB03_ABLATIONS = f"{NB03}/ablations"
NB03_COMPARISON = f"{NB03}/tables/comparison.csv"

NB04_PREDICTIONS = f"{NB04}/predictions"
NB04_METRICS_LONG = f"{NB04}/tables/metrics_long.csv"

NB05_STUDENT_FP32 = f"{NB05}/student_fp32.onnx"
NB05_STUDENT_INT8 = f"{NB05}/student_int8.onnx"
NB05_INT8_AGREEMENT = f"{NB05}/int8_agreement.csv"
NB05_PROFILE = f"{NB05}/profile.csv"
NB05_PREDICTIONS = f"{NB05}/predictions.csv"

NB06_VIDEO_PREDICTIONS = f"{NB06}/video_predictions.parquet"
NB06_SANDBOX_READBACK = f"{NB06}/sandbox_readback.csv"
NB06_SALIENCY_CHECKS = f"{NB06}/saliency_checks.csv"
NB06_SCREENSHOTS = f"{NB06}/screenshots"
NB06_LIVE_SESSION = f"{NB06_SCREENSHOTS}/live_session.ipynb"

#: Notebook 05's exports, relative to the runs root (not a run folder): ``predict``'s default.
EXPORT_GLOB = f"*/{NB05}/*.onnx"

SCREENSHOT_SCRIPT = "benchmarks/screenshot_explorer.py"


class Artifact(NamedTuple):
    """One row of the module docstring's table.

    Attributes:
        constant: the constant's name (``metrics_json(NB01)`` for a per-notebook file).
        path: relative to the run folder.
        by: the notebook folder that writes it, ``"runner"``, or a script's repository path.
        when: a Python expression over the writer notebook's parameters, true when the artifact
            exists; ``""``: always.
    """

    constant: str
    path: str
    by: str
    when: str = ""


_MAE = "pretrain_mae and not mae_checkpoint"
_EVALUATED = "models or hog_baseline"
_NUMBERED = tuple(enumerate(NOTEBOOKS, 1))

#: The docstring's table as data, in its order.
ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("RUN_JSON", RUN_JSON, "runner"),
    Artifact("RUN_INDEX", RUN_INDEX, "runner"),
    *(Artifact(f"metrics_json(NB{i:02d})", metrics_json(nb), nb) for i, nb in _NUMBERED),
    *(
        Artifact(f"{f.__name__}(NB{i:02d})", f(nb), "runner")
        for f in (executed_notebook, parameters_yaml, papermill_log)
        for i, nb in _NUMBERED
    ),
    Artifact("NB01_INDEX", NB01_INDEX, NB01),
    Artifact("NB01_FOLDS", NB01_FOLDS, NB01),
    Artifact("NB01_METRICS", NB01_METRICS, NB01),
    Artifact("NB01_FACES", NB01_FACES, NB01, 'face_store == ""'),
    Artifact("NB01_COUNTS", NB01_COUNTS, NB01),
    Artifact("NB02_MAE", NB02_MAE, NB02, _MAE),
    Artifact("NB02_MAE_ENCODER", NB02_MAE_ENCODER, NB02, _MAE),
    Artifact("NB02_MAE_HISTORY", NB02_MAE_HISTORY, NB02, _MAE),
    Artifact("NB02_MAE_INIT", NB02_MAE_INIT, NB02, 'teacher_choice == "validation"'),
    Artifact("NB02_SCRATCH", NB02_SCRATCH, NB02, "compare_scratch"),
    Artifact("NB02_TEACHER", NB02_TEACHER, NB02),
    Artifact("NB02_TEACHER_MODEL", NB02_TEACHER_MODEL, NB02),
    Artifact("NB02_TEACHER_HISTORY", NB02_TEACHER_HISTORY, NB02),
    Artifact("NB03_STUDENT", NB03_STUDENT, NB03),
    Artifact("NB03_STUDENT_MODEL", NB03_STUDENT_MODEL, NB03),
    Artifact("NB03_STUDENT_HISTORY", NB03_STUDENT_HISTORY, NB03),
    Artifact("NB03_ABLATIONS", NB03_ABLATIONS, NB03),
    Artifact("NB03_COMPARISON", NB03_COMPARISON, NB03),
    Artifact("NB04_PREDICTIONS", NB04_PREDICTIONS, NB04, _EVALUATED),
    Artifact("NB04_METRICS_LONG", NB04_METRICS_LONG, NB04, _EVALUATED),
    Artifact("NB05_STUDENT_FP32", NB05_STUDENT_FP32, NB05),
    Artifact("NB05_STUDENT_INT8", NB05_STUDENT_INT8, NB05),
    Artifact("NB05_INT8_AGREEMENT", NB05_INT8_AGREEMENT, NB05),
    Artifact("NB05_PROFILE", NB05_PROFILE, NB05),
    Artifact("NB05_PREDICTIONS", NB05_PREDICTIONS, NB05),
    Artifact("NB06_VIDEO_PREDICTIONS", NB06_VIDEO_PREDICTIONS, NB06),
    Artifact("NB06_SANDBOX_READBACK", NB06_SANDBOX_READBACK, NB06),
    Artifact("NB06_SALIENCY_CHECKS", NB06_SALIENCY_CHECKS, NB06),
    Artifact("NB06_SCREENSHOTS", NB06_SCREENSHOTS, SCREENSHOT_SCRIPT),
    Artifact("NB06_LIVE_SESSION", NB06_LIVE_SESSION, SCREENSHOT_SCRIPT),
)


def expected(artifact: Artifact, parameters: dict) -> bool:
    """Whether ``artifact`` exists after its writer ran with ``parameters`` (its ``when``)."""
    if not artifact.when:
        return True
    # ``when`` is one of this module's constant strings, never user input.
    return bool(eval(artifact.when, {"__builtins__": {}}, dict(parameters)))
