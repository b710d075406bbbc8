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
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
                lines.append(f"| {what} (`{key}`) | {_ci(metrics, key)} |")
        lines += _real_faces(metrics)
        rest = [k for k in metrics if not k.startswith("real_")]
        lines += ["", "<details><summary>every number of metrics.json</summary>", "",
                  "| key | value |", "|---|---|"]  # fmt: skip
        lines += [f"| `{k}` | {_fmt(metrics[k])} |" for k in rest]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


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
    ap = argparse.ArgumentParser(prog="python -m libreface_nb.results", description=__doc__)
    ap.add_argument("run", type=Path, help="a finished run folder")
    ap.add_argument("--name", required=True, help="page name, e.g. synth")
    ap.add_argument("--machine", required=True, help='e.g. "2-vCPU Intel Xeon, 24 GiB, no GPU"')
    ap.add_argument("--replace", action="store_true")
    args = ap.parse_args(argv)
    for path in write(args.run, name=args.name, machine=args.machine, replace=args.replace):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
