"""results/*.md are generated from results/*.json, and a record is built from a run folder."""

from __future__ import annotations

import json

from libreface_nb import results
from libreface_nb.config import REPO_ROOT


def test_every_committed_page_is_its_record_rendered():
    records = sorted((REPO_ROOT / "results").glob("*.json"))
    assert records, "results/ holds no record: run `python -m libreface_nb.results` on a run"
    for path in records:
        record = json.loads(path.read_text())
        page = path.with_suffix(".md")
        assert page.is_file(), f"{page} is missing"
        assert page.read_text() == results.render_page(record), (
            f"{page} is stale: `python -m libreface_nb.results` writes it from {path.name}"
        )


def _run(tmp_path):
    run = tmp_path / "20990101-000000_synth_abc1234"
    (run / "02_mae_teacher_finetune").mkdir(parents=True)
    metrics = {"test_pcc": 0.81, "teacher_model": "/abs/path/model.pt", "teacher_source": "mae"}
    (run / "02_mae_teacher_finetune" / "metrics.json").write_text(json.dumps(metrics))
    (run / "run.json").write_text(json.dumps({
        "profile": "synth", "status": "ok", "started": "2099-01-01T00:00:00+00:00",
        "duration_s": 120.0, "git": {"sha": "abc1234"},
        "notebooks": [{"name": "02_mae_teacher_finetune", "status": "ok", "duration_s": 120.0}],
    }))  # fmt: skip
    return run


def test_a_record_keeps_numbers_and_drops_paths_and_commits(tmp_path):
    record = results.summarize(_run(tmp_path), name="synth", machine="a CPU")
    metrics = record["notebooks"][0]["metrics"]
    assert metrics == {"test_pcc": 0.81, "teacher_source": "mae"}
    assert "abc1234" not in json.dumps(record)
    page = results.render_page(record)
    assert (
        "| teacher (the run's choice): test PCC on held-out persons (`test_pcc`) | 0.81 |" in page
    )


def test_write_refuses_to_overwrite(tmp_path):
    run = _run(tmp_path)
    results.write(run, name="synth", machine="a CPU", results_dir=tmp_path / "r")
    try:
        results.write(run, name="synth", machine="a CPU", results_dir=tmp_path / "r")
    except FileExistsError as err:
        assert "--replace" in str(err)
    else:
        raise AssertionError("a second write replaced the record")


def test_real_face_numbers_become_a_table_with_intervals():
    metrics = {
        "real_faces_found_student": 40,
        "real_smile_higher_AU12_student": 0.9,
        "real_smile_higher_AU12_student_ci_low": 0.8,
        "real_smile_higher_AU12_student_ci_high": 1.0,
        "real_smile_higher_n_student": 10,
    }
    lines = results._real_faces(metrics)
    assert "| AU12 | 0.9 [0.8, 1] |" in lines
