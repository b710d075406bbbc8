"""The papermill runner: parameters checked, failures kept and recorded, index written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from nbfactory import make_notebook

from libreface_nb import profiles as prof
from libreface_nb.errors import ConfigError

PARAMS = (
    'run_dir = ""  # run folder\nseed = 0  # random seed\n'
    'label = "x"  # a string\nepochs = 1  # int\n'
)
BODY = (
    "from libreface_nb import runs\n"
    "d = runs.notebook_dir(run_dir, '01_first')\n"
    "(d / 'figures').mkdir(exist_ok=True)\n"
    "(d / 'figures' / 'f.png').write_bytes(b'png')\n"
    "runs.save_metrics(d, {'label': label, 'label_type': type(label).__name__, 'epochs': epochs})\n"
)


@pytest.fixture()
def workspace(tmp_path):
    nbs = tmp_path / "notebooks"
    make_notebook(nbs / "01_first.ipynb", PARAMS, BODY)
    make_notebook(
        nbs / "02_second.ipynb",
        'run_dir = ""  # run folder\nfail = False  # raise\n',
        "if fail:\n    raise ValueError('deliberate failure in notebook 02')\n",
    )
    make_notebook(nbs / "03_third.ipynb", 'run_dir = ""  # run folder\n', "x = 1\n")
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 5\nparameters:\n  label: '007'\nnotebooks:\n  '01':\n    epochs: 2\n")
    return tmp_path, nbs, profile


def _run(ws, *extra):
    tmp, nbs, profile = ws
    cmd = [
        sys.executable,
        "-m",
        "libreface_nb.run",
        "--profile",
        str(profile),
        "--notebooks",
        str(nbs),
        "--runs-root",
        str(tmp / "runs"),
        "--kernel",
        "python3",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _only_run(tmp):
    (run_dir,) = list((tmp / "runs").iterdir())
    return run_dir, json.loads((run_dir / "run.json").read_text())


@pytest.mark.slow
def test_successful_run_records_everything(workspace):
    out = _run(workspace, "--set", "01.epochs=3", "--set", "seed=9")
    assert out.returncode == 0, out.stdout + out.stderr
    run_dir, rec = _only_run(workspace[0])
    assert rec["status"] == "ok" and rec["seed"] == 9 and rec["ended"]  # the seed notebooks got
    assert [n["name"] for n in rec["notebooks"]] == ["01_first", "02_second", "03_third"]
    assert all(n["status"] == "ok" and n["duration_s"] is not None for n in rec["notebooks"])
    first = rec["notebooks"][0]["parameters"]
    assert first["label"] == "007" and first["seed"] == 9 and first["epochs"] == 3
    metrics = json.loads((run_dir / "01_first" / "metrics.json").read_text())
    assert metrics == {"label": "007", "label_type": "str", "epochs": 3}
    assert (run_dir / "01_first" / "01_first.ipynb").exists()
    index = (run_dir / "index.md").read_text()
    assert "01_first/figures/f.png" in index and "label=007" in index
    assert "01_first: ok label=007" in out.stdout


@pytest.mark.slow
def test_failing_notebook_stops_the_run_and_is_kept(workspace):
    out = _run(workspace, "--set", "fail=true")
    assert out.returncode == 1
    run_dir, rec = _only_run(workspace[0])
    assert rec["status"] == "failed"
    assert [n["status"] for n in rec["notebooks"]] == ["ok", "failed"]  # 03 never started
    assert "deliberate failure in notebook 02" in rec["notebooks"][1]["error"]
    kept = json.loads((run_dir / "02_second" / "02_second.ipynb").read_text())
    assert any(o.get("output_type") == "error" for c in kept["cells"] for o in c.get("outputs", []))
    assert "deliberate failure" in out.stdout


def test_misspelt_parameter_fails_before_anything_runs(workspace):
    out = _run(workspace, "--set", "epoch=3")
    assert out.returncode == 2
    assert "unknown parameter 'epoch'" in out.stderr and "did you mean 'epochs'" in out.stderr
    assert not (workspace[0] / "runs").exists()


def test_misspelt_parameter_in_profile(workspace):
    tmp, nbs, profile = workspace
    profile.write_text("notebooks:\n  '01':\n    epocs: 2\n")
    out = _run(workspace)
    assert out.returncode == 2 and "unknown parameter 'epocs' for notebook 01" in out.stderr


def _declared(nbs):
    return {
        prof.notebook_number(p): prof.declared_parameters(p) for p in prof.discover_notebooks(nbs)
    }


def test_resolve_parameters_types(workspace):
    tmp, nbs, profile = workspace
    p = prof.load_profile(str(profile))
    declared = _declared(nbs)
    got = prof.resolve_parameters(p, declared, prof.parse_overrides(["label=007", "epochs=4"]))
    assert got["01"] == {"seed": 5, "label": "007", "epochs": 4}
    assert got["02"] == {} and got["03"] == {}
    with pytest.raises(ConfigError, match="expects int"):
        prof.resolve_parameters(p, declared, prof.parse_overrides(["epochs=many"]))
    for bad in ("2.5", "true", "[1]"):
        with pytest.raises(ConfigError, match="expects int"):
            prof.resolve_parameters(p, declared, prof.parse_overrides([f"epochs={bad}"]))
    with pytest.raises(ConfigError, match="no notebook numbered 07"):
        prof.resolve_parameters(p, declared, prof.parse_overrides(["07.epochs=1"]))
    with pytest.raises(ConfigError, match="set by the runner"):
        prof.resolve_parameters(p, declared, prof.parse_overrides(["run_dir=/tmp"]))


def test_profile_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sed: 1\n")
    with pytest.raises(ConfigError, match="unknown top-level keys"):
        prof.load_profile(str(bad))
    with pytest.raises(ConfigError, match="unknown profile 'nope'"):
        prof.load_profile("nope")
    bad.write_text("parameters:\n  run_dir: x\n")
    with pytest.raises(ConfigError, match="set by the runner"):
        prof.load_profile(str(bad))


def test_profile_values_are_type_checked(workspace):
    tmp, nbs, profile = workspace
    declared = _declared(nbs)
    for value in ("2.5", "true", "{a: 1}"):
        profile.write_text(f"notebooks:\n  '01':\n    epochs: {value}\n")
        with pytest.raises(ConfigError, match="'epochs' expects int"):
            prof.resolve_parameters(prof.load_profile(str(profile)), declared)
    profile.write_text("parameters:\n  label: 7\n")  # a str parameter takes the text "7"
    assert prof.resolve_parameters(prof.load_profile(str(profile)), declared)["01"]["label"] == "7"


def test_coerce_floats_and_bools():
    assert prof.coerce(3, "float", "lr") == 3.0 and isinstance(prof.coerce(3, "float", "lr"), float)
    assert prof.coerce("1e-4", "float", "lr") == 1e-4
    assert prof.coerce("false", "bool", "flag") is False
    with pytest.raises(ConfigError):
        prof.coerce(1, "bool", "flag")
    with pytest.raises(ConfigError):
        prof.coerce(True, "float", "lr")


def _slow_notebook_cmd(tmp_path, limits: str) -> list[str]:
    """A runner command over one notebook that sleeps 120 s, with the given timeout profile."""
    nbs = tmp_path / "notebooks"
    make_notebook(
        nbs / "01_slow.ipynb", 'run_dir = ""  # run folder\n', "import time\ntime.sleep(120)\n"
    )
    profile = tmp_path / "p.yaml"
    profile.write_text(limits)
    return [sys.executable, "-m", "libreface_nb.run", "--profile", str(profile), "--notebooks",
            str(nbs), "--runs-root", str(tmp_path / "runs"), "--kernel", "python3"]  # fmt: skip


@pytest.mark.slow
def test_notebook_timeout_kills_the_notebook_and_fails_the_run(tmp_path):
    cmd = _slow_notebook_cmd(tmp_path, "notebook_timeout: 8\ncell_timeout: 60\n")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=100)
    assert out.returncode == 1
    (run_dir,) = list((tmp_path / "runs").iterdir())
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["status"] == "timeout" and rec["notebooks"][0]["status"] == "timeout"
    assert rec["notebooks"][0]["duration_s"] < 60
    assert "notebook_timeout=8" in rec["notebooks"][0]["error"]


@pytest.mark.slow
def test_cell_timeout_fails_the_notebook(tmp_path):
    cmd = _slow_notebook_cmd(tmp_path, "notebook_timeout: 100\ncell_timeout: 4\n")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=100)
    assert out.returncode == 1
    (run_dir,) = list((tmp_path / "runs").iterdir())
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["notebooks"][0]["status"] == "failed" and rec["notebooks"][0]["duration_s"] < 60
    assert "a cell ran past cell_timeout=4 s" in rec["notebooks"][0]["error"]


def test_coerce_reads_numbers_plainly_and_nulls_as_empty_strings():
    assert prof.coerce("010", "int", "n") == 10  # not YAML 1.1's octal 8
    assert prof.coerce("1:30", "str", "t") == "1:30"
    with pytest.raises(ConfigError):
        prof.coerce("1:30", "int", "n")  # not YAML 1.1's base-60 90
    assert prof.coerce(None, "str", "data_root") == ""
    with pytest.raises(ConfigError):
        prof.coerce([1, 2], "str", "data_root")
    assert prof.coerce("100", "None", "limit") == 100  # None default: parsed, not checked
    assert prof.coerce("-3", "int", "n") == -3 and prof.coerce("[1, 2]", "list", "xs") == [1, 2]


@pytest.mark.slow
def test_sigterm_stops_the_notebook_and_records_interrupted(tmp_path):
    import signal
    import time

    cmd = _slow_notebook_cmd(tmp_path, "notebook_timeout: 100\ncell_timeout: 100\n")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the notebook is executing
        logs = list((tmp_path / "runs").glob("*/01_slow/papermill.log"))
        if logs and (logs[0].parent / "01_slow.ipynb").exists():
            break
        time.sleep(0.5)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    (run_dir,) = list((tmp_path / "runs").iterdir())
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["status"] == "interrupted" and rec["notebooks"][0]["status"] == "interrupted"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path / "notebooks" / "01_slow.ipynb") not in ps  # papermill child killed too


@pytest.mark.slow
def test_run_from_python_returns_the_record_and_restores_signal_handlers(tmp_path):
    import signal

    from libreface_nb import runs
    from libreface_nb.run import exit_code, run

    body = (
        "import os\nfrom libreface_nb import runs\n"
        "d = runs.notebook_dir(run_dir, '01_env')\n"
        "runs.save_metrics(d, {'root': os.environ['LIBREFACE_NB_RUNS_ROOT'], 'n': n})\n"
    )
    make_notebook(tmp_path / "nbs" / "01_env.ipynb", 'run_dir = ""  # run\nn = 1  # n\n', body)
    (tmp_path / "tiny.yaml").write_text("parameters:\n  n: 2\n")
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    record = run(
        str(tmp_path / "tiny.yaml"),
        only=["1"],
        overrides=["n=4"],
        notebooks=tmp_path / "nbs",
        runs_root=tmp_path / "runs",
        kernel="python3",
    )
    assert isinstance(record, runs.RunRecord)
    assert record.status == "ok"
    assert exit_code(record) == 0
    assert [nb.name for nb in record.notebooks] == ["01_env"]
    assert record.notebooks[0].parameters["n"] == 4
    assert {s: signal.getsignal(s) for s in before} == before
    (run_dir,) = list((tmp_path / "runs").iterdir())
    assert runs.load_run(run_dir) == record  # what run.json holds
    metrics = runs.load_metrics(run_dir / "01_env")
    assert metrics["root"] == str((tmp_path / "runs").resolve())  # the kernel got the runs root


def test_run_refuses_an_unknown_notebook_number_before_making_a_folder(workspace):
    from libreface_nb.run import run

    tmp, nbs, profile = workspace
    with pytest.raises(ConfigError, match="no such notebook numbers"):
        run(str(profile), only=["7"], notebooks=nbs, runs_root=tmp / "runs", kernel="python3")
    assert not (tmp / "runs").exists()


def test_exit_codes_follow_the_run_status():
    from libreface_nb import runs
    from libreface_nb.run import exit_code

    def rec(status):
        return runs.RunRecord(run_id="r", profile="p", status=status)

    assert exit_code(None) == 0  # nothing to run
    assert exit_code(rec("ok")) == 0
    assert exit_code(rec("interrupted")) == 130
    assert exit_code(rec("failed")) == 1
    assert exit_code(rec("timeout")) == 1


def test_cli_dispatches_on_its_command_table(capsys):
    from libreface_nb import __version__, cli

    assert set(cli.COMMANDS) == {"run", "predict", "export", "import-libreface", "version"}
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__
    assert cli.main(["nope"]) == 2


def test_kernels_import_the_runners_package_first():
    """A kernel starts in the run folder; the runner's own clone goes first on its PYTHONPATH
    (so a run from a ``git worktree`` runs that tree's code, not an installed copy's)."""
    import os

    from libreface_nb.config import REPO_ROOT
    from libreface_nb.run import kernel_pythonpath

    root = str(REPO_ROOT)
    assert kernel_pythonpath("") == root
    assert kernel_pythonpath(os.pathsep.join(["/a", root, "/b"])) == os.pathsep.join(
        [root, "/a", "/b"]
    )
