"""Run the numbered notebooks headless, in order, into a new run folder.

    python -m libreface_nb.run --profile fixture [--only 03] [--set key=value] [--set 02.key=value]
    libreface-nb run --profile fixture

Each notebook runs in its own papermill process (so a per-notebook timeout can stop it cleanly)
with the profile's parameters, ``run_dir`` set to the run folder and its working directory set to
its own subfolder. A failing notebook stops the run; its executed copy, with the error, is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from libreface_nb import atomic, runs
from libreface_nb import profiles as prof
from libreface_nb.errors import ConfigError, LibreFaceError

DEFAULT_KERNEL = "libreface-nb"


def pick_kernel(requested: str | None) -> str:
    """The Jupyter kernel to use: the requested one, else ours if registered, else python3."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if requested:
        if requested not in specs:
            raise ConfigError(f"no Jupyter kernel named {requested!r}; installed: {sorted(specs)}")
        return requested
    return DEFAULT_KERNEL if DEFAULT_KERNEL in specs else "python3"


def notebook_error(executed: Path) -> str:
    """The first error recorded in an executed notebook, as ``Name: message`` ("" if none)."""
    try:
        nb = json.loads(executed.read_text())
    except (OSError, json.JSONDecodeError):
        return ""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:2000]
    return ""


def execute_notebook(
    src: Path,
    out_dir: Path,
    params: dict[str, Any],
    *,
    kernel: str,
    cell_timeout: int,
    notebook_timeout: int,
) -> tuple[str, str]:
    """Execute one notebook with papermill in a child process.

    Returns:
        (status, error): status is "ok", "failed" or "timeout".
    """
    executed = out_dir / src.name
    params_file = out_dir / "parameters.yaml"
    atomic.write_text(params_file, yaml.safe_dump(params, sort_keys=True))
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(src),
        str(executed),
        "-f",
        str(params_file),
        "-k",
        kernel,
        "--cwd",
        str(out_dir),
        "--execution-timeout",
        str(cell_timeout),
        "--no-progress-bar",
        "--log-level",
        "WARNING",
    ]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    with open(out_dir / "papermill.log", "w") as logf:
        proc = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            code = proc.wait(timeout=notebook_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timeout", f"notebook ran past notebook_timeout={notebook_timeout} s"
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if code == 0:
        return "ok", ""
    log_text = (out_dir / "papermill.log").read_text(errors="replace")
    if "CellTimeoutError" in log_text:
        return "failed", f"a cell ran past cell_timeout={cell_timeout} s (see papermill.log)"
    error = notebook_error(executed)
    if not error:
        tail = log_text.strip().splitlines()[-5:]
        error = " | ".join(tail) or f"papermill exited with {code}"
    return "failed", error


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
    record = runs.read_run(run_dir)
    git = record["git"]
    lines = [
        f"# Run {record['run_id']}",
        "",
        f"Profile **{record['profile']}**, status **{record['status']}**, "
        f"git {git['sha7']}{' (dirty)' if git.get('dirty') else ''}, "
        f"started {record['started']}, duration {record.get('duration_s')} s.",
        "",
    ]
    for nb in record["notebooks"]:
        nb_dir = run_dir / nb["name"]
        lines += [
            f"## {nb['name']} — {nb['status']} ({nb.get('duration_s')} s)",
            "",
            f"- executed notebook: [{nb['name']}.ipynb]({nb['name']}/{nb['name']}.ipynb)",
        ]
        if nb.get("error"):
            lines.append(f"- error: `{nb['error'][:300]}`")
        metrics = runs.load_metrics(nb_dir)
        if metrics:
            lines.append(f"- headline numbers: {headline(metrics)}")
        artifacts = _artifacts(nb_dir)
        for kind, paths in artifacts.items():
            lines.append(f"- {kind}:")
            for p in paths:
                rel = p.relative_to(run_dir).as_posix()
                lines.append(f"  - [{rel}]({rel})")
        for p in (f for f in artifacts.get("figures", []) if f.suffix == ".png"):
            rel = p.relative_to(run_dir).as_posix()
            lines += ["", f"![{p.stem}]({rel})"]
        lines.append("")
    path = run_dir / "index.md"
    atomic.write_text(path, "\n".join(lines))
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="libreface-nb run", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="fixture", help="profile name in profiles/ or a YAML path")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NN",
        help="run only this notebook number (repeatable); what it reads from earlier "
        "notebooks is taken from the newest run folder that has it",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY=VALUE",
        help="override a parameter for every notebook that declares it, or NN.KEY=VALUE",
    )
    p.add_argument("--notebooks", type=Path, default=prof.NOTEBOOKS_DIR, help="notebook folder")
    p.add_argument("--runs-root", type=Path, default=runs.RUNS_ROOT, help="parent of run folders")
    p.add_argument("--kernel", default=None, help=f"Jupyter kernel (default {DEFAULT_KERNEL})")
    p.add_argument(
        "--list", action="store_true", help="list the notebooks and their parameters, then exit"
    )
    return p


def _list(notebooks: list[Path], declared: dict[str, dict[str, dict[str, Any]]]) -> int:
    for path in notebooks:
        print(path.name)
        for name, info in declared[prof.notebook_number(path)].items():
            print(f"  {name}: {info['type']} = {info['default']}  # {info['help']}")
    return 0


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Validate everything, then execute the selected notebooks; returns the exit code."""
    notebooks = prof.discover_notebooks(args.notebooks)
    declared = {prof.notebook_number(p): prof.declared_parameters(p) for p in notebooks}
    if args.list:
        return _list(notebooks, declared)
    profile = prof.load_profile(args.profile)
    for nb, params in declared.items():
        if "run_dir" not in params:
            raise ConfigError(f"notebook {nb} does not declare the parameter run_dir")
    resolved = prof.resolve_parameters(profile, declared, prof.parse_overrides(args.overrides))
    only = {o.zfill(2) for o in args.only}
    if only - set(declared):
        raise ConfigError(
            f"--only {sorted(only - set(declared))}: no such notebook numbers; "
            f"known: {sorted(declared)}"
        )
    selected = [p for p in notebooks if not only or prof.notebook_number(p) in only]
    if not selected:
        print(f"no numbered notebooks in {args.notebooks}; nothing to run")
        return 0
    kernel = pick_kernel(args.kernel)
    run_dir = runs.new_run_dir(profile.name, args.runs_root)
    wanted = {prof.notebook_number(p) for p in selected}
    seeds = sorted({params["seed"] for nb, params in resolved.items() if nb in wanted
                    and "seed" in params})  # fmt: skip
    record = runs.start_run(
        run_dir,
        profile.name,
        seed=seeds[0] if len(seeds) == 1 else (seeds or None),
        profile_file=str(profile.path),
        argv=argv,
    )
    record.update(kernel=kernel, description=profile.description)
    print(f"run folder {run_dir}")
    t_run = time.monotonic()
    status = "running"
    _raise_on_sigterm()
    try:
        for path in selected:
            status = _run_one(path, run_dir, record, resolved, profile, kernel)
            if status != "ok":
                break
    except KeyboardInterrupt:
        status = "interrupted"
        return 130
    except BaseException:
        status = "crashed"
        raise
    finally:
        for entry in record["notebooks"]:
            if entry["status"] == "running":  # stopped by Ctrl-C or a crash of the runner
                entry["status"] = status
        record.update(
            status=status, ended=runs.now(), duration_s=round(time.monotonic() - t_run, 1)
        )
        runs.write_json_atomic(run_dir / "run.json", record)
        index = write_index(run_dir)
        print(f"run {status}: {run_dir}\nindex {index}")
        for nb in record["notebooks"]:
            print(
                f"  {nb['name']}: {nb['status']} "
                f"{headline(runs.load_metrics(run_dir / nb['name']))}"
            )
    return 0 if status == "ok" else 1


def _raise_on_sigterm() -> None:
    """Turn SIGTERM/SIGHUP (CI cancel, ``timeout``, ``kill``) into KeyboardInterrupt, so the
    running notebook's process group is killed and run.json records "interrupted"."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread (run() called from a thread): leave defaults
            return


def _run_one(
    path: Path, run_dir: Path, record: dict, resolved: dict, profile: prof.Profile, kernel: str
) -> str:
    nb = prof.notebook_number(path)
    params = {**resolved[nb], "run_dir": str(run_dir.resolve())}
    out_dir = runs.notebook_dir(run_dir, path.stem)
    entry = {
        "name": path.stem,
        "parameters": params,
        "status": "running",
        "started": runs.now(),
        "duration_s": None,
        "error": "",
    }
    record["notebooks"].append(entry)
    runs.write_json_atomic(run_dir / "run.json", record)
    print(f"[{nb}] {path.stem} ...", flush=True)
    t0 = time.monotonic()
    status, error = execute_notebook(
        path,
        out_dir,
        params,
        kernel=kernel,
        cell_timeout=profile.cell_timeout,
        notebook_timeout=profile.notebook_timeout,
    )
    entry.update(status=status, error=error, duration_s=round(time.monotonic() - t0, 1))
    runs.write_json_atomic(run_dir / "run.json", record)
    print(
        f"[{nb}] {path.stem} {status} in {entry['duration_s']} s"
        + (f"\n     {error}\n     executed notebook kept: {out_dir / path.name}" if error else ""),
        flush=True,
    )
    return status


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        return run(args, argv)
    except LibreFaceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
