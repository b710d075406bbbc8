"""Run folders: never overwritten, provenance recorded, inputs found, JSON written atomically."""

from __future__ import annotations

import json

import pytest

from libreface_nb import runs
from libreface_nb.errors import RunError


def test_new_run_dirs_are_unique_and_named(tmp_path):
    a = runs.new_run_dir("fixture", tmp_path, sha7="abc1234")
    b = runs.new_run_dir("fixture", tmp_path, sha7="abc1234")
    assert a != b and a.is_dir() and b.is_dir()
    stamp, profile, sha = a.name.split("_")
    assert len(stamp) == 15 and stamp[8] == "-" and profile == "fixture" and sha == "abc1234"
    assert b.name.startswith(a.name)  # same second → suffix, never the same folder


def test_start_run_records_provenance(tmp_path):
    rec = runs.start_run(tmp_path, "fixture", seed=3, argv=["--profile", "fixture"])
    on_disk = runs.read_run(tmp_path)
    assert on_disk == json.loads(json.dumps(rec.to_dict(), default=str))
    assert on_disk["status"] == "running" and on_disk["seed"] == 3
    assert on_disk["packages"]["torch"].startswith("2.14.1")
    assert set(on_disk["git"]) == {"sha", "sha7", "dirty"}
    assert on_disk["platform"]["python"].startswith("3.11")


def test_read_run_errors_name_the_file(tmp_path):
    with pytest.raises(RunError, match="run.json is missing"):
        runs.read_run(tmp_path)
    (tmp_path / "run.json").write_text("{broken")
    with pytest.raises(RunError, match="not valid JSON"):
        runs.read_run(tmp_path)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "x.json"
    runs.write_json_atomic(path, {"a": 1})
    circular: dict = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular"):
        runs.write_json_atomic(path, circular)
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def _finished_run(root, name, profile="fixture", status="ok", metrics=True):
    run = root / name
    (run / "01_x" / "faces").mkdir(parents=True)
    runs.write_json_atomic(
        run / "run.json", {"profile": profile, "notebooks": [{"name": "01_x", "status": status}]}
    )
    if metrics:
        runs.save_metrics(run / "01_x", {"n": 1})
    return run


def test_find_input_prefers_current_run_then_newest_usable(tmp_path):
    _finished_run(tmp_path, "20260101-000000_fixture_aaaaaaa")
    new = _finished_run(tmp_path, "20260102-000000_fixture_bbbbbbb")
    _finished_run(tmp_path, "20260103-000000_fixture_ddddddd", status="failed")
    _finished_run(tmp_path, "20260104-000000_fixture_eeeeeee", metrics=False)  # died mid-way
    _finished_run(tmp_path, "20260105-000000_disfa_fffffff", profile="disfa")
    cur = tmp_path / "20260106-000000_fixture_ccccccc"
    cur.mkdir()
    runs.write_json_atomic(cur / "run.json", {"profile": "fixture", "notebooks": []})
    assert runs.find_input(cur, "01_x/faces", tmp_path) == new / "01_x" / "faces"
    (cur / "01_x" / "faces").mkdir(parents=True)
    assert runs.find_input(cur, "01_x/faces", tmp_path) == cur / "01_x" / "faces"
    with pytest.raises(RunError, match="run notebook 02_y first"):
        runs.find_input(cur, "02_y/model.pt", tmp_path)


def test_find_input_never_crosses_profiles(tmp_path):
    _finished_run(tmp_path, "20260105-000000_fixture_fffffff", profile="fixture")
    cur = tmp_path / "20260106-000000_disfa_ccccccc"
    cur.mkdir()
    runs.write_json_atomic(cur / "run.json", {"profile": "disfa", "notebooks": []})
    with pytest.raises(RunError, match="profile 'fixture' is not 'disfa'"):
        runs.find_input(cur, "01_x/faces", tmp_path)


def test_metrics_roundtrip(tmp_path):
    runs.save_metrics(tmp_path, {"pcc": 0.5, "n": 3})
    assert runs.load_metrics(tmp_path) == {"pcc": 0.5, "n": 3}
    assert runs.load_metrics(tmp_path / "nothing") == {}


def test_run_record_reads_an_older_run_json_and_keeps_unknown_keys(tmp_path):
    old = {  # a run.json written before kernel/description existed, plus a future key
        "run_id": "20260101-000000_fixture_abc1234",
        "profile": "fixture",
        "status": "ok",
        "notebooks": [{"name": "01_x", "status": "ok", "parameters": {"seed": 0}, "gpu": "none"}],
        "future_key": [1, 2],
    }
    runs.write_json_atomic(tmp_path / "run.json", old)
    record = runs.load_run(tmp_path)
    assert record.status == "ok"
    assert record.kernel == ""
    assert record.notebook("01_x").parameters == {"seed": 0}
    assert record.notebook("02_y") is None
    assert record.extra == {"future_key": [1, 2]}
    record.save(tmp_path)
    again = runs.read_run(tmp_path)
    assert again["future_key"] == [1, 2]
    assert again["notebooks"][0]["gpu"] == "none"
    assert runs.RunRecord.from_dict(again) == record


def test_runs_root_comes_from_the_argument_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(runs.RUNS_ROOT_ENV, raising=False)
    assert runs.resolve_runs_root() == runs.RUNS_ROOT
    monkeypatch.setenv(runs.RUNS_ROOT_ENV, str(tmp_path / "env"))
    assert runs.resolve_runs_root() == tmp_path / "env"
    assert runs.resolve_runs_root(tmp_path / "arg") == tmp_path / "arg"
    made = runs.new_run_dir("fixture", sha7="abc1234")
    assert made.parent == tmp_path / "env"


def test_find_input_looks_in_the_environment_runs_root(tmp_path, monkeypatch):
    root = tmp_path / "elsewhere"
    _finished_run(root, "20260101-000000_fixture_abc1234")
    monkeypatch.setenv(runs.RUNS_ROOT_ENV, str(root))
    found = runs.find_input("", "01_x/faces")
    assert found == root / "20260101-000000_fixture_abc1234" / "01_x" / "faces"
