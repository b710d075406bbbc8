"""Results pages: a run's numbers, committed as data, and the page generated from them.

A run folder is git-ignored and no clone has it, so what a run measured is kept in the repository
as ``results/<name>.json`` (the *record*: every notebook's ``metrics.json`` with its status and
time, the profile and the machine, without absolute paths or commit ids) and shown as
``results/<name>.md``, generated from the record by :func:`render_page` and never edited by hand
(``tests/test_results_pages.py`` checks that every page equals its render). The README and the
docs point at these pages instead of quoting numbers.

Record (JSON)::

    {"format": "libreface_nb.results/1", "name", "profile", "description", "date",
     "machine": str, "duration_s", "status",
     "notebooks": [{"name", "status", "duration_s", "metrics": {key: value}}]}

``python -m libreface_nb.results RUN_FOLDER --name synth --machine "2-vCPU Intel Xeon"`` writes
both files (refusing to overwrite unless ``--replace``).

*Expected results* cells. Every numbered notebook has one markdown cell tagged
:data:`EXPECTED_TAG`, right after its header, and it is the only place in the notebook's text that
quotes numbers: a table of its metrics keys with, for the fixture profile, what
``tests/test_notebooks.py`` asserts (:data:`FIXTURE_CHECKS`; ``tests/test_results_pages.py``
checks that each assertion quoted is in that test) and, for the synth profile, the value in
``results/synth.json``. :func:`render_expected_cell` writes it; writing the ``synth`` record
rewrites the cells, and ``python -m libreface_nb.results --cells`` rewrites them alone (only the
tagged cells change; a notebook without one gets it after its first cell).
"""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from libreface_nb import artifacts
from libreface_nb.config import REPO_ROOT

FORMAT = "libreface_nb.results/1"
RESULTS_DIR = REPO_ROOT / "results"


def _kept(value: Any) -> bool:
    """Absolute paths (a run folder, a face store) are this machine's: left out of a record."""
    return not (isinstance(value, str) and value.startswith("/"))


#: The headline numbers of each notebook, in page order: (metrics key, what it is).
HEADLINES: dict[str, tuple[tuple[str, str], ...]] = {
    artifacts.NB01: (
        ("n_frames", "labelled frames"),
        ("n_persons", "persons"),
        ("fold_kind", "folds"),
        ("face_detection_rate", "frames with a face found"),
    ),
    artifacts.NB02: (
        ("test_pcc", "teacher (the run's choice): test PCC on held-out persons"),
        ("teacher_source", "the run's teacher"),
        ("mae_init_test_pcc", "MAE-initialised teacher: test PCC"),
        ("scratch_test_pcc", "teacher from random weights: test PCC"),
        ("untrained_test_pcc", "untrained teacher: test PCC"),
        ("mae_val_loss_first", "MAE masked-patch loss, first epoch"),
        ("mae_val_loss_best", "MAE masked-patch loss, best"),
    ),
    artifacts.NB03: (
        ("test_pcc", "distilled student: test PCC"),
        ("test_pcc_none", "undistilled student: test PCC"),
        ("test_pcc_feature", "feature term only: test PCC"),
        ("test_pcc_kl", "KL term only: test PCC"),
        ("n_params_student", "student parameters"),
    ),
    artifacts.NB04: (
        ("pcc_teacher", "teacher: test PCC"),
        ("pcc_student", "student: test PCC"),
        ("pcc_hog_baseline", "HOG + linear SVR baseline: test PCC"),
        ("n_test_frames", "test frames"),
        ("real_persons", "real persons held out"),
    ),
    artifacts.NB05: (
        ("parity_max_abs_diff", "ONNX Runtime vs torch, max |difference|"),
        ("int8_pcc_min", "int8 vs fp32, lowest per-AU PCC"),
        ("video_pcc_mean", "SynthAU test video: PCC"),
    ),
    artifacts.NB06: (("sandbox_pcc", "AU sandbox read-back PCC"),),
}
#: Real-face metrics shown per AU and model (see :mod:`libreface_nb.eval.real_faces`).
REAL_METRICS: tuple[tuple[str, str], ...] = (
    ("smile_higher", "share of held-out persons whose AU is higher when smiling"),
    ("smile_diff", "mean predicted smiling − neutral (0–5 scale)"),
    ("neutral_mean", "mean predicted intensity on neutral photos (0–5 scale)"),
)


#: The record the notebooks' *Expected results* cells quote, and the tag that marks such a cell.
EXPECTED_RECORD = "synth"
EXPECTED_TAG = "expected-results"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
#: The fixture column of a key that tests/test_notebooks.py does not check.
NOT_CHECKED = "runs; not checked"


class FixtureCheck(NamedTuple):
    """What ``tests/test_notebooks.py`` asserts about one metrics key on the fixture profile."""

    key: str
    expect: str  # in words, as the Expected results cell shows it
    assertion: str  # the assert's text in that test's ``_check_NN`` (a test finds it there)
    what: str = ""  # what the key is, for a key that HEADLINES does not describe


_PCC_RANGE = "a number in [−1, 1]"
_STUDENTS = 'for key in ("test_pcc", "test_pcc_none", "test_pcc_feature", "test_pcc_kl")'
#: Per notebook, the fixture profile's checks in ``tests/test_notebooks.py``, key by key.
FIXTURE_CHECKS: dict[str, tuple[FixtureCheck, ...]] = {
    artifacts.NB01: (
        FixtureCheck("n_frames", "= 120", 'm["n_frames"] == 120'),
        FixtureCheck("fold_kind", "`disfa-3fold-published`",
                     'm["fold_kind"] == "disfa-3fold-published"'),
        FixtureCheck("face_detection_rate", "= 1 (every frame)",
                     'm["face_detection_rate"] == 1.0'),
        FixtureCheck("dataset", "`disfa`", 'm["dataset"] == "disfa"', "dataset layout"),
        FixtureCheck("n_subjects", "= 3", 'm["n_subjects"] == 3', "subjects"),
        FixtureCheck("n_folds", "= 3", 'm["n_folds"] == 3', "number of folds"),
        FixtureCheck("n_faces_ok", "= 120", 'm["n_faces_ok"] == 120', "frames with a face aligned"),
    ),
    artifacts.NB02: (
        FixtureCheck("test_pcc", _PCC_RANGE, '-1.0 <= m["test_pcc"] <= 1.0'),
        FixtureCheck("teacher_source", "the one with the higher `val_pcc`",
                     'm["val_pcc"] == max(m["mae_init_val_pcc"], m["scratch_val_pcc"])'),
        FixtureCheck("mae_val_loss_best", "< `mae_val_loss_first`",
                     'm["mae_val_loss_best"] < m["mae_val_loss_first"]'),
        FixtureCheck("epochs_run", "= 3", 'm["epochs_run"] == 3', "fine-tuning epochs run"),
        FixtureCheck("n_test", "= 40 (and 40 training, 40 validation)",
                     '(m["n_train"], m["n_val"], m["n_test"]) == (40, 40, 40)', "test frames"),
    ),
    artifacts.NB03: (
        FixtureCheck("test_pcc", _PCC_RANGE, _STUDENTS),
        FixtureCheck("test_pcc_none", _PCC_RANGE, _STUDENTS),
        FixtureCheck("test_pcc_feature", _PCC_RANGE, _STUDENTS),
        FixtureCheck("test_pcc_kl", _PCC_RANGE, _STUDENTS),
        FixtureCheck("n_params_student", "= 11,243,980", 'm["n_params_student"] == 11_243_980'),
        FixtureCheck("test_pcc_teacher", "= notebook 02's `test_pcc`",
                     'm["test_pcc_teacher"] == pytest.approx(run[artifacts.NB02]["test_pcc"])',
                     "teacher: test PCC, measured here"),
    ),
    artifacts.NB04: (
        FixtureCheck("pcc_teacher", "= notebook 02's `test_pcc` (± 1e-4)",
                     'approx(run[artifacts.NB02]["test_pcc"], abs=1e-4)'),
        FixtureCheck("pcc_student", "= notebook 03's `test_pcc` (± 1e-4)",
                     'approx(run[artifacts.NB03]["test_pcc"], abs=1e-4)'),
        FixtureCheck("pcc_hog_baseline", "> 0.3", 'm["pcc_hog_baseline"] > 0.3'),
        FixtureCheck("n_test_frames", "= 40", 'm["n_test_frames"] == 40'),
    ),
    artifacts.NB05: (
        FixtureCheck("parity_max_abs_diff", "≤ 1e-4", 'm["parity_max_abs_diff"] <= 1e-4'),
        FixtureCheck("int8_pcc_min", "> 0.9", 'm["int8_pcc_min"] > 0.9'),
        FixtureCheck("int8_mib", "< 0.4 × `fp32_mib`", 'm["int8_mib"] < 0.4 * m["fp32_mib"]',
                     "int8 file size (MiB)"),
        FixtureCheck("video_frames_ok", "= 40", 'm["video_frames_ok"] == 40',
                     "video frames with a face"),
        FixtureCheck("readback_pairs", "= 6", 'm["readback_pairs"] == 6',
                     "landmark proxy × AU pairs of the read-back check"),
    ),
    artifacts.NB06: (
        FixtureCheck("image_faces", "= 2", 'm["image_faces"] == 2', "faces in the photo"),
        FixtureCheck("video_faces_ok", "= 40", 'm["video_faces_ok"] == 40',
                     "video frames with a face"),
        FixtureCheck("saliency_method", "`gradcam`", 'm["saliency_method"] == "gradcam"',
                     "saliency method"),
    ),
}  # fmt: skip


def summarize(run_dir: str | Path, *, name: str, machine: str) -> dict[str, Any]:
    """The record of a finished run (see the module docstring)."""
    run_dir = Path(run_dir)
    run = json.loads((run_dir / artifacts.RUN_JSON).read_text())
    notebooks = []
    for nb in run.get("notebooks", []):
        path = run_dir / artifacts.metrics_json(nb["name"])
        metrics = json.loads(path.read_text()) if path.is_file() else {}
        metrics = {k: v for k, v in metrics.items() if _kept(v)}
        notebooks.append({"name": nb["name"], "status": nb.get("status", ""),
                          "duration_s": nb.get("duration_s"), "metrics": metrics})  # fmt: skip
    description = ""
    profile_file = Path(run.get("profile_file", ""))
    if profile_file.is_file():
        import yaml

        description = str((yaml.safe_load(profile_file.read_text()) or {}).get("description", ""))
    return {
        "format": FORMAT,
        "name": name,
        "profile": run.get("profile", ""),
        "description": description,
        "date": str(run.get("started", ""))[:10],
        "machine": machine,
        "duration_s": run.get("duration_s"),
        "status": run.get("status", ""),
        "notebooks": notebooks,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "–"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def _cell(text: str) -> str:
    """Text for a Markdown table cell (a ``|`` would end the cell)."""
    return text.replace("|", r"\|")


def _ci(metrics: Mapping[str, Any], key: str) -> str:
    value = metrics.get(key)
    lo, hi = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    if lo is None or hi is None:
        return _fmt(value)
    return f"{_fmt(value)} [{_fmt(lo)}, {_fmt(hi)}]"


def _real_faces(metrics: Mapping[str, Any]) -> list[str]:
    models = sorted({k.rsplit("_", 1)[1] for k in metrics if k.startswith("real_faces_found_")})
    if not models:
        return []
    lines = ["", "### Real faces of held-out persons (notebook 04 §7)", ""]
    for metric, what in REAL_METRICS:
        prefix = f"real_{metric}_"
        outputs = sorted({k[len(prefix):].rsplit("_", 1)[0] for k in metrics
                          if k.startswith(prefix) and not k.endswith(("_ci_low", "_ci_high"))
                          and not k.startswith(f"{prefix}n_")})  # fmt: skip
        if not outputs:
            continue
        n = {m: metrics.get(f"{prefix}n_{m}") for m in models}
        lines += [f"**{metric}**: {what}; 95 % bootstrap interval over persons; persons: "
                  + ", ".join(f"{m} {_fmt(n[m])}" for m in models) + ".", "",
                  "| output | " + " | ".join(models) + " |",
                  "|---|" + "---:|" * len(models)]  # fmt: skip
        for out in outputs:
            cells = [_ci(metrics, f"{prefix}{out}_{m}") for m in models]
            lines.append(f"| {out} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def render_page(record: Mapping[str, Any]) -> str:
    """The Markdown page of a record (deterministic: the same record gives the same bytes)."""
    total = record.get("duration_s")
    lines = [
        f"# Results: {record['name']} (profile `{record['profile']}`)",
        "",
        "<!-- generated by `python -m libreface_nb.results` from "
        f"results/{record['name']}.json; do not edit -->",
        "",
        f"{record.get('description', '')}",
        "",
        f"Run on {record['date']}, {record['machine']}; status **{record['status']}**, "
        f"{_fmt(total)} s in all ({_fmt(total / 60 if total else None)} min).",
        "",
        "| notebook | status | time (s) |",
        "|---|---|---:|",
    ]
    lines += [f"| {nb['name']} | {nb['status']} | {_fmt(nb['duration_s'])} |"
              for nb in record["notebooks"]]  # fmt: skip
    for nb in record["notebooks"]:
        metrics = nb["metrics"]
        lines += ["", f"## {nb['name']}", "", "| number | value |", "|---|---:|"]
        for key, what in HEADLINES.get(nb["name"], ()):
            if key in metrics:
                lines.append(f"| {_cell(what)} (`{key}`) | {_ci(metrics, key)} |")
        lines += _real_faces(metrics)
        rest = [k for k in metrics if not k.startswith("real_")]
        lines += ["", "<details><summary>every number of metrics.json</summary>", "",
                  "| key | value |", "|---|---|"]  # fmt: skip
        lines += [f"| `{k}` | {_fmt(metrics[k])} |" for k in rest]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def expected_rows(name: str, metrics: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(key, what it is, fixture profile, synth profile) for notebook ``name``'s table.

    The headline keys first, in :data:`HEADLINES` order, then the other keys the fixture checks.
    """
    checks = {c.key: c for c in FIXTURE_CHECKS.get(name, ())}
    headlines = dict(HEADLINES.get(name, ()))
    rows = [(key, what, checks[key].expect if key in checks else NOT_CHECKED)
            for key, what in headlines.items()]  # fmt: skip
    rows += [(c.key, c.what, c.expect) for c in checks.values() if c.key not in headlines]
    return [(key, what, fixture, _ci(metrics, key)) for key, what, fixture in rows]


def render_expected_cell(record: Mapping[str, Any], name: str) -> str:
    """The source of notebook ``name``'s *Expected results* cell, from a results record."""
    entry = next((nb for nb in record["notebooks"] if nb["name"] == name), None)
    metrics = entry["metrics"] if entry else {}
    took = f"this notebook took {_fmt(entry['duration_s'])} s" if entry else "not in this run"
    lines = [
        "## Expected results",
        "",
        textwrap.fill(
            "What this notebook's `metrics.json` holds, and the only place in its text with "
            "measured numbers. *Fixture profile*: what `tests/test_notebooks.py` asserts on every "
            f'CI run of the tiny fixture profile ("{NOT_CHECKED}": the notebook must run, the '
            "value is not compared). *Synth profile*: what one run of the `synth` profile measured "
            f"(`results/{record['name']}.json`: {record['date']}, {record['machine']}; {took}); "
            f"every number of that run is in `results/{record['name']}.md`. Each is one run with "
            "one seed: a guide to what a healthy run gives, not a promise.",
            width=100,
            break_on_hyphens=False,
            break_long_words=False,
        ),
        "",
        f"<!-- generated by `python -m libreface_nb.results --cells` from "
        f"results/{record['name']}.json and FIXTURE_CHECKS; do not edit -->",
        "",
        "| metrics key | what it is | fixture profile | synth profile |",
        "|---|---|---|---:|",
    ]
    lines += [f"| `{key}` | {_cell(what)} | {_cell(fixture)} | {_cell(synth)} |"
              for key, what, fixture, synth in expected_rows(name, metrics)]  # fmt: skip
    return "\n".join(lines)


def set_expected_cell(path: str | Path, source: str) -> bool:
    """Make ``source`` the notebook's *Expected results* cell; True when the file changed.

    The cell tagged :data:`EXPECTED_TAG` is rewritten, or a new one goes right after the first
    cell. The file keeps nbformat's layout (one-space indent, sorted keys); nothing else changes.

    Raises:
        ValueError: the notebook has more than one tagged cell.
    """
    from libreface_nb import atomic

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    book = json.loads(text)
    cells = book["cells"]
    tagged = [c for c in cells if EXPECTED_TAG in c.get("metadata", {}).get("tags", [])]
    if len(tagged) > 1:
        raise ValueError(f"{path}: {len(tagged)} cells tagged {EXPECTED_TAG!r}; keep one")
    lines = source.splitlines(keepends=True)
    if tagged:
        tagged[0]["source"] = lines
    else:
        cell = {"cell_type": "markdown", "metadata": {"tags": [EXPECTED_TAG]}, "source": lines}
        if (book["nbformat"], book["nbformat_minor"]) >= (4, 5):
            cell["id"] = EXPECTED_TAG
        cells.insert(1, cell)
    new = json.dumps(book, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if new == text:
        return False
    atomic.write_text(path, new)
    return True


def write_expected_cells(
    record: Mapping[str, Any], notebooks_dir: str | Path = NOTEBOOKS_DIR
) -> list[Path]:
    """Rewrite every numbered notebook's *Expected results* cell from ``record``.

    Returns:
        The notebooks that changed.
    """
    changed = []
    for name in artifacts.NOTEBOOKS:
        path = Path(notebooks_dir) / f"{name}.ipynb"
        if path.is_file() and set_expected_cell(path, render_expected_cell(record, name)):
            changed.append(path)
    return changed


def write(
    run_dir: str | Path,
    *,
    name: str,
    machine: str,
    results_dir: str | Path = RESULTS_DIR,
    replace: bool = False,
) -> tuple[Path, Path]:
    """Write ``<results_dir>/<name>.json`` and ``.md`` from a run folder.

    Raises:
        FileExistsError: the record exists and ``replace`` is False.
    """
    from libreface_nb import atomic

    out = Path(results_dir)
    record_path, page_path = out / f"{name}.json", out / f"{name}.md"
    if record_path.exists() and not replace:
        raise FileExistsError(f"{record_path} exists; pass --replace to write a newer run over it")
    record = summarize(run_dir, name=name, machine=machine)
    atomic.write_json(record_path, record, indent=1)
    atomic.write_text(page_path, render_page(record))
    return record_path, page_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m libreface_nb.results", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("run", type=Path, nargs="?", help="a finished run folder")
    ap.add_argument("--name", help="page name, e.g. synth")
    ap.add_argument("--machine", help='e.g. "2-vCPU Intel Xeon, 24 GiB, no GPU"')
    ap.add_argument("--replace", action="store_true")
    ap.add_argument("--cells", action="store_true",
                    help=f"only rewrite the notebooks' Expected results cells from "
                         f"results/{EXPECTED_RECORD}.json")  # fmt: skip
    args = ap.parse_args(argv)
    if args.cells:
        record = json.loads((RESULTS_DIR / f"{EXPECTED_RECORD}.json").read_text())
    elif args.run is None or not args.name or not args.machine:
        ap.error("give RUN --name NAME --machine MACHINE, or --cells")
    else:
        for path in write(args.run, name=args.name, machine=args.machine, replace=args.replace):
            print(path)
        if args.name != EXPECTED_RECORD:
            return 0
        record = json.loads((RESULTS_DIR / f"{EXPECTED_RECORD}.json").read_text())
    for path in write_expected_cells(record):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
