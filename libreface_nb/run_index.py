"""The run folder's ``index.md``: each notebook's status, headline numbers and files, linked.

Written by the runner after every run (:func:`write_index`), from run.json and each notebook's
``metrics.json``; a person opens it first to see what a run produced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from libreface_nb import artifacts, atomic, runs


def headline(metrics: dict[str, Any]) -> str:
    """One line of the scalar entries of a metrics.json."""
    parts = []
    for k, v in metrics.items():
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        elif isinstance(v, int | str | bool) and len(str(v)) <= 40:
            parts.append(f"{k}={v}")
    return ", ".join(parts)


_KINDS = {
    "figures": (".png", ".pdf", ".svg"),
    "tables": (".csv", ".parquet", ".tex", ".md", ".json"),
    "checkpoints and models": (".pt", ".pth", ".onnx", ".safetensors"),
}


def _artifacts(nb_dir: Path) -> dict[str, list[Path]]:
    """Files worth linking from a notebook folder: figures/, top-level tables, models anywhere.

    Face stores (folders with a manifest.parquet) are linked once, not face by face.
    """
    if not nb_dir.is_dir():
        return {}
    stores = [p.parent for p in nb_dir.rglob("manifest.parquet")]
    top = [p for p in sorted(nb_dir.iterdir()) if p.is_file()]
    found = {
        "figures": sorted(
            p for p in (nb_dir / "figures").glob("*") if p.suffix in _KINDS["figures"]
        ),
        "tables": [p for p in top if p.suffix in _KINDS["tables"]]
        + sorted((nb_dir / "tables").glob("*")),
        "checkpoints and models": sorted(
            p
            for p in nb_dir.rglob("*")
            if p.suffix in _KINDS["checkpoints and models"]
            and not any(s in p.parents for s in stores)
        ),
        "face stores": [s / "manifest.parquet" for s in stores],
    }
    return {k: v for k, v in found.items() if v}


def write_index(run_dir: Path) -> Path:
    """Write ``index.md``: every notebook's status, headline numbers and files, linked."""
    record = runs.load_run(run_dir)
    git = record.git
    lines = [
        f"# Run {record.run_id}",
        "",
        f"Profile **{record.profile}**, status **{record.status}**, "
        f"git {git.get('sha7', '?')}{' (dirty)' if git.get('dirty') else ''}, "
        f"started {record.started}, duration {record.duration_s} s.",
        "",
    ]
    for nb in record.notebooks:
        nb_dir = run_dir / nb.name
        lines += [
            f"## {nb.name} — {nb.status} ({nb.duration_s} s)",
            "",
            f"- executed notebook: [{nb.name}.ipynb]({artifacts.executed_notebook(nb.name)})",
        ]
        if nb.error:
            lines.append(f"- error: `{nb.error[:300]}`")
        metrics = runs.load_metrics(nb_dir)
        if metrics:
            lines.append(f"- headline numbers: {headline(metrics)}")
        files = _artifacts(nb_dir)
        for kind, paths in files.items():
            lines.append(f"- {kind}:")
            for p in paths:
                rel = p.relative_to(run_dir).as_posix()
                lines.append(f"  - [{rel}]({rel})")
        for p in (f for f in files.get("figures", []) if f.suffix == ".png"):
            rel = p.relative_to(run_dir).as_posix()
            lines += ["", f"![{p.stem}]({rel})"]
        lines.append("")
    path = run_dir / artifacts.RUN_INDEX
    atomic.write_text(path, "\n".join(lines))
    return path
