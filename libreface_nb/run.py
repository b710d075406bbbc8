"""Run the numbered notebooks headless, in order, into a new run folder.

    python -m libreface_nb.run --profile fixture [--only 03] [--set key=value] [--set 02.key=value]
    libreface-nb run --profile fixture

From Python: ``record = run(profile="fixture", only=["01"], runs_root=tmp)`` returns the
:class:`~libreface_nb.runs.RunRecord` that run.json holds (``record.status == "ok"``).

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from libreface_nb import artifacts, atomic, runs
from libreface_nb import profiles as prof
from libreface_nb.errors import ConfigError, LibreFaceError
from libreface_nb.run_index import headline, write_index

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


def kernel_pythonpath(current: str = "") -> str:
    """``PYTHONPATH`` for a notebook's kernel: the folder holding the ``libreface_nb`` this
    runner imported, first. The kernel starts in the run folder, where ``import libreface_nb``
    would otherwise find whichever copy is installed (an editable install of another clone, or
    of the main tree when this is a ``git worktree``): the notebooks must run the code whose
    commit run.json records."""
    from libreface_nb.config import REPO_ROOT

    parts = [str(REPO_ROOT)] + [p for p in current.split(os.pathsep) if p and p != str(REPO_ROOT)]
    return os.pathsep.join(parts)


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
    env: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Execute one notebook with papermill in a child process.

    Args:
        env: extra environment variables for the notebook's process (and so its kernel).

    Returns:
        (status, error): status is "ok", "failed" or "timeout".
    """
    executed = out_dir / src.name
    params_file = out_dir / artifacts.PARAMETERS_FILE
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
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1", **(env or {})}
    env["PYTHONPATH"] = kernel_pythonpath(env.get("PYTHONPATH", ""))
    with open(out_dir / artifacts.PAPERMILL_LOG, "w") as logf:
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
    log_text = (out_dir / artifacts.PAPERMILL_LOG).read_text(errors="replace")
    if "CellTimeoutError" in log_text:
        return "failed", f"a cell ran past cell_timeout={cell_timeout} s (see papermill.log)"
    error = notebook_error(executed)
    if not error:
        tail = log_text.strip().splitlines()[-5:]
        error = " | ".join(tail) or f"papermill exited with {code}"
    return "failed", error


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
    p.add_argument(
        "--runs-root",
        type=Path,
        default=None,
        help=f"parent of run folders (default ${runs.RUNS_ROOT_ENV} or {runs.RUNS_ROOT})",
    )
    p.add_argument("--kernel", default=None, help=f"Jupyter kernel (default {DEFAULT_KERNEL})")
    p.add_argument(
        "--list", action="store_true", help="list the notebooks and their parameters, then exit"
    )
    return p


def list_notebooks(notebooks: Path | str = prof.NOTEBOOKS_DIR) -> str:
    """The numbered notebooks of a folder and their parameters (``--list``)."""
    lines = []
    for path in prof.discover_notebooks(Path(notebooks)):
        lines.append(path.name)
        for name, info in prof.declared_parameters(path).items():
            lines.append(f"  {name}: {info['type']} = {info['default']}  # {info['help']}")
    return "\n".join(lines)


#: Exit code of the command line for each final run status.
EXIT_CODES = {"ok": 0, "interrupted": 130}


def exit_code(record: runs.RunRecord | None) -> int:
    """0 for a finished run (or nothing to run), 130 when interrupted, 1 otherwise."""
    return 0 if record is None else EXIT_CODES.get(record.status, 1)


def run(
    profile: str = "fixture",
    *,
    only: Sequence[str] = (),
    overrides: Sequence[str] = (),
    notebooks: Path | str = prof.NOTEBOOKS_DIR,
    runs_root: Path | str | None = None,
    kernel: str | None = None,
    argv: Sequence[str] | None = None,
) -> runs.RunRecord | None:
    """Validate everything, then execute the selected notebooks into a new run folder.

    Args:
        profile: profile name in ``profiles/`` or a YAML path.
        only: notebook numbers to run (``["01"]``); empty = all. What they read from earlier
            notebooks is taken from the newest usable run folder that has it.
        overrides: ``"key=value"`` or ``"NN.key=value"`` strings (as ``--set``).
        notebooks: the notebook folder.
        runs_root: parent of run folders (default :func:`~libreface_nb.runs.resolve_runs_root`);
            the notebooks get it as ``LIBREFACE_NB_RUNS_ROOT``.
        kernel: Jupyter kernel (default ``libreface-nb`` if registered, else ``python3``).
        argv: recorded in run.json (the command line, when called from it).

    Returns:
        The final run record (also in ``<run folder>/run.json``); None when the folder holds no
        numbered notebook. SIGTERM/SIGHUP during the run stop it like Ctrl-C (status
        ``interrupted``); the previous signal handlers are restored before returning.

    Raises:
        LibreFaceError: a bad profile, parameter or notebook number (nothing has run then).
    """
    notebooks = Path(notebooks)
    paths = prof.discover_notebooks(notebooks)
    declared = {prof.notebook_number(p): prof.declared_parameters(p) for p in paths}
    loaded = prof.load_profile(profile)
    for nb, params in declared.items():
        if "run_dir" not in params:
            raise ConfigError(f"notebook {nb} does not declare the parameter run_dir")
    resolved = prof.resolve_parameters(loaded, declared, prof.parse_overrides(list(overrides)))
    wanted = {str(o).zfill(2) for o in only}
    if wanted - set(declared):
        raise ConfigError(
            f"--only {sorted(wanted - set(declared))}: no such notebook numbers; "
            f"known: {sorted(declared)}"
        )
    selected = [p for p in paths if not wanted or prof.notebook_number(p) in wanted]
    if not selected:
        print(f"no numbered notebooks in {notebooks}; nothing to run")
        return None
    kernel_name = pick_kernel(kernel)
    root = runs.resolve_runs_root(runs_root)
    run_dir = runs.new_run_dir(loaded.name, root)
    numbers = {prof.notebook_number(p) for p in selected}
    seeds = sorted({params["seed"] for nb, params in resolved.items() if nb in numbers
                    and "seed" in params})  # fmt: skip
    record = runs.start_run(
        run_dir,
        loaded.name,
        seed=seeds[0] if len(seeds) == 1 else (seeds or None),
        profile_file=str(loaded.path),
        argv=list(argv or []),
    )
    record.kernel, record.description = kernel_name, loaded.description
    print(f"run folder {run_dir}")
    job = _Job(run_dir, record, resolved, loaded, {runs.RUNS_ROOT_ENV: str(root.resolve())})
    _execute(selected, job)
    return record


@dataclass
class _Job:
    """What every notebook of one run shares."""

    run_dir: Path
    record: runs.RunRecord
    resolved: dict[str, dict[str, Any]]
    profile: prof.Profile
    env: dict[str, str]


def _execute(selected: list[Path], job: _Job) -> None:
    """Run the notebooks in order until one does not finish; keep run.json and index.md true."""
    t_run = time.monotonic()
    status = "running"
    previous = _raise_on_sigterm()
    try:
        for path in selected:
            status = _run_one(path, job)
            if status != "ok":
                break
    except KeyboardInterrupt:
        status = "interrupted"
    except BaseException:
        status = "crashed"
        raise
    finally:
        _restore(previous)
        record = job.record
        for entry in record.notebooks:
            if entry.status == "running":  # stopped by Ctrl-C or a crash of the runner
                entry.status = status
        record.status, record.ended = status, runs.now()
        record.duration_s = round(time.monotonic() - t_run, 1)
        record.save(job.run_dir)
        index = write_index(job.run_dir)
        print(f"run {status}: {job.run_dir}\nindex {index}")
        for nb in record.notebooks:
            print(f"  {nb.name}: {nb.status} {headline(runs.load_metrics(job.run_dir / nb.name))}")


def _raise_on_sigterm() -> dict[int, Any]:
    """Turn SIGTERM/SIGHUP (CI cancel, ``timeout``, ``kill``) into KeyboardInterrupt, so the
    running notebook's process group is killed and run.json records "interrupted".

    Returns:
        The handlers replaced (signal → handler), for :func:`_restore`.
    """

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread (run() called from a thread): leave defaults
            break
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _run_one(path: Path, job: _Job) -> str:
    nb = prof.notebook_number(path)
    params = {**job.resolved[nb], "run_dir": str(job.run_dir.resolve())}
    out_dir = runs.notebook_dir(job.run_dir, path.stem)
    entry = runs.NotebookRecord(name=path.stem, parameters=params, started=runs.now())
    job.record.notebooks.append(entry)
    job.record.save(job.run_dir)
    print(f"[{nb}] {path.stem} ...", flush=True)
    t0 = time.monotonic()
    status, error = execute_notebook(
        path,
        out_dir,
        params,
        kernel=job.record.kernel,
        cell_timeout=job.profile.cell_timeout,
        notebook_timeout=job.profile.notebook_timeout,
        env=job.env,
    )
    entry.status, entry.error = status, error
    entry.duration_s = round(time.monotonic() - t0, 1)
    job.record.save(job.run_dir)
    print(
        f"[{nb}] {path.stem} {status} in {entry.duration_s} s"
        + (f"\n     {error}\n     executed notebook kept: {out_dir / path.name}" if error else ""),
        flush=True,
    )
    return status


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: parse the arguments, call :func:`run`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.list:
            print(list_notebooks(args.notebooks))
            return 0
        record = run(
            args.profile,
            only=args.only,
            overrides=args.overrides,
            notebooks=args.notebooks,
            runs_root=args.runs_root,
            kernel=args.kernel,
            argv=argv,
        )
    except LibreFaceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return exit_code(record)


if __name__ == "__main__":
    sys.exit(main())
