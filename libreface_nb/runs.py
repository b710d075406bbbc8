"""Run folders and provenance.

A run folder is ``outputs/runs/<YYYYmmdd-HHMMSS>_<profile>_<sha7>/`` and is never overwritten: a
second run started in the same second gets a ``-2`` suffix. Inside:

- ``run.json``: provenance (git SHA and dirty flag, profile, parameters of each notebook, package
  versions, platform, seed, start/end times, status and duration of each notebook). It is
  rewritten atomically after every change, so a crash leaves the last good state on disk.
- one subfolder per notebook (its file stem, e.g. :data:`libreface_nb.artifacts.NB01`) with the
  executed notebook, figures, tables, checkpoints and ``metrics.json`` (the headline numbers the
  runner prints). What each notebook writes there, and who reads it, is the table of
  :mod:`libreface_nb.artifacts`.

Notebooks call :func:`notebook_dir` to get their folder and :func:`find_input` to read what an
earlier notebook wrote (a constant of :mod:`libreface_nb.artifacts`), so a person can rerun one
notebook alone against an existing run.

run.json is a :class:`RunRecord` (one :class:`NotebookRecord` per notebook started), written by
:meth:`RunRecord.save` and read by :func:`load_run`; :func:`read_run` gives the raw dict. Keys a
record does not know (a newer or older writer's) are kept in ``extra`` and written back.

The parent of run folders is :data:`RUNS_ROOT` unless the environment variable
``LIBREFACE_NB_RUNS_ROOT`` names another folder (:func:`resolve_runs_root`); the runner's
``--runs-root`` sets it for the notebooks it starts, so their :func:`find_input` looks there too.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from libreface_nb import artifacts, atomic
from libreface_nb.config import REPO_ROOT
from libreface_nb.errors import RunError

log = logging.getLogger(__name__)

#: Default parent folder of run folders.
RUNS_ROOT = REPO_ROOT / "outputs" / "runs"
#: Environment variable that overrides :data:`RUNS_ROOT` (tests, CI, a scratch disk).
RUNS_ROOT_ENV = "LIBREFACE_NB_RUNS_ROOT"
#: Packages whose versions are recorded in run.json.
TRACKED_PACKAGES = (
    "libreface-nb",
    "torch",
    "torchvision",
    "timm",
    "mediapipe",
    "numpy",
    "opencv-contrib-python",
    "onnx",
    "onnxruntime",
    "papermill",
    "scikit-learn",
    "scikit-image",
    "pandas",
    "matplotlib",
    "ipywidgets",
)


def now() -> str:
    """The local time with its offset, to the second (ISO 8601)."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def resolve_runs_root(root: Path | str | None = None) -> Path:
    """``root`` if given, else ``$LIBREFACE_NB_RUNS_ROOT`` if set, else :data:`RUNS_ROOT`."""
    if root is not None and str(root):
        return Path(root)
    return Path(os.environ.get(RUNS_ROOT_ENV) or RUNS_ROOT)


@dataclasses.dataclass
class NotebookRecord:
    """One notebook of a run, as run.json's ``notebooks`` list holds it.

    ``status``: ``running``, ``ok``, ``failed``, ``timeout``, ``interrupted`` or ``crashed``.
    """

    name: str = ""
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = "running"
    started: str = ""
    duration_s: float | None = None
    error: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of run.json (``extra`` keys merged back in)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NotebookRecord:
        """Read a ``notebooks`` entry; missing keys take their defaults."""
        return _from_dict(cls, data)


@dataclasses.dataclass
class RunRecord:
    """A run's provenance: run.json (see the module docstring).

    ``status``: ``running``, then ``ok``, ``failed``, ``timeout``, ``interrupted`` or
    ``crashed``; ``seed``: the one seed the notebooks got, a list when they got several, None.
    """

    run_id: str = ""
    profile: str = ""
    profile_file: str = ""
    seed: int | list[int] | None = None
    status: str = "running"
    started: str = ""
    ended: str | None = None
    duration_s: float | None = None
    argv: list[str] = dataclasses.field(default_factory=list)
    git: dict[str, Any] = dataclasses.field(default_factory=dict)
    platform: dict[str, Any] = dataclasses.field(default_factory=dict)
    packages: dict[str, str | None] = dataclasses.field(default_factory=dict)
    notebooks: list[NotebookRecord] = dataclasses.field(default_factory=list)
    kernel: str = ""
    description: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of run.json."""
        out = _to_dict(self)
        out["notebooks"] = [nb.to_dict() for nb in self.notebooks]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Read run.json's object; older files without some keys read with their defaults."""
        record = _from_dict(cls, data)
        record.notebooks = [NotebookRecord.from_dict(nb) for nb in data.get("notebooks", [])]
        return record

    def notebook(self, name: str) -> NotebookRecord | None:
        """The record of notebook ``name`` (its stem, e.g. ``artifacts.NB01``), or None."""
        return next((nb for nb in self.notebooks if nb.name == name), None)

    def save(self, run_dir: Path | str) -> Path:
        """Write ``run_dir/run.json`` atomically."""
        return atomic.write_json(Path(run_dir) / artifacts.RUN_JSON, self.to_dict())


def _to_dict(record: Any) -> dict[str, Any]:
    out = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name != "extra"}
    return {**out, **record.extra}


def _from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
    known = {k: v for k, v in data.items() if k in names}
    return cls(**known, extra={k: v for k, v in data.items() if k not in names})


def write_json_atomic(path: Path | str, data: Any) -> None:
    """Write JSON atomically: :func:`libreface_nb.atomic.write_json` (kept for callers)."""
    atomic.write_json(path, data)


def git_info(repo: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit SHA, short SHA and dirty flag of ``repo`` (``"unknown"`` outside a git checkout).

    Untracked files under ``outputs/`` are ignored by git already; any other change counts as dirty.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"sha": "unknown", "sha7": "nogit", "dirty": None}
    return {"sha": sha, "sha7": sha[:7], "dirty": dirty}


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution, ``None`` where it is missing."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def platform_info() -> dict[str, Any]:
    """Python, OS and CPU facts for run.json."""
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "system": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def new_run_dir(profile: str, root: Path | str | None = None, *, sha7: str | None = None) -> Path:
    """Create and return a new, empty run folder under ``root`` (default :func:`resolve_runs_root`);
    never reuses an existing one."""
    root = resolve_runs_root(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    sha7 = sha7 or git_info()["sha7"]
    base = f"{stamp}_{_SAFE.sub('-', profile)}_{sha7}"
    for i in range(1, 1000):
        path = root / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RunError(f"could not create a new run folder under {root}: too many runs named {base}")


def start_run(
    run_dir: Path, profile: str, *, seed: int | None, profile_file: str = "", argv: list[str] = ()
) -> RunRecord:
    """Write the initial run.json (status "running") and return its record."""
    record = RunRecord(
        run_id=Path(run_dir).name,
        profile=profile,
        profile_file=profile_file,
        seed=seed,
        started=now(),
        argv=list(argv),
        git=git_info(),
        platform=platform_info(),
        packages=package_versions(),
    )
    record.save(run_dir)
    return record


def read_run(run_dir: Path | str) -> dict[str, Any]:
    """A run folder's run.json as a plain dict (see :func:`load_run` for the typed record)."""
    path = Path(run_dir) / artifacts.RUN_JSON
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise RunError(f"{path} is missing: {run_dir} is not a run folder") from e
    except json.JSONDecodeError as e:
        raise RunError(f"{path} is not valid JSON ({e}); the run folder is damaged") from e


def load_run(run_dir: Path | str) -> RunRecord:
    """A run folder's run.json as a :class:`RunRecord` (older files read too: a missing key takes
    its default, a missing ``run_id`` the folder's name)."""
    data = read_run(run_dir)
    if not isinstance(data, dict):
        raise RunError(f"{Path(run_dir) / artifacts.RUN_JSON} does not hold a JSON object")
    return RunRecord.from_dict({"run_id": Path(run_dir).name, **data})


def notebook_dir(run_dir: Path | str, notebook: str) -> Path:
    """The folder of one notebook inside a run folder (created if needed).

    Args:
        run_dir: the run folder. An empty string starts a new interactive run folder (profile
            ``interactive``), for a person running a notebook by hand.
        notebook: the notebook's stem, e.g. ``artifacts.NB01``.
    """
    if not str(run_dir):
        run_dir = new_run_dir("interactive")
        start_run(run_dir, "interactive", seed=None)
        log.info("new interactive run folder %s", run_dir)
    path = Path(run_dir) / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path


def _usable(run: Path, relpath: str, profile: str | None) -> str:
    """Why ``run``'s copy of ``relpath`` cannot be used ("" when it can)."""
    notebook = relpath.split("/")[0]
    if not (run / artifacts.metrics_json(notebook)).exists():
        return f"notebook {notebook} did not finish there (no metrics.json)"
    try:
        record = load_run(run)
    except RunError as e:
        return str(e)
    entry = record.notebook(notebook)
    if entry is not None and entry.status != "ok":
        return f"notebook {notebook} has status {entry.status!r} there"
    if profile not in (None, "interactive") and record.profile != profile:
        return f"profile {record.profile!r} is not {profile!r}"
    return ""


def find_input(run_dir: Path | str, relpath: str, runs_root: Path | str | None = None) -> Path:
    """Find an earlier notebook's output: in ``run_dir`` first, then in the newest usable run.

    Another run is usable when the notebook that wrote ``relpath`` finished there (it wrote its
    metrics.json and run.json does not mark it failed) and, unless the current run is an
    interactive one, the run used the same profile: a ``--profile disfa --only 02`` run never
    trains on a fixture run's faces.

    Args:
        run_dir: the current run folder.
        relpath: path relative to a run folder, a constant of :mod:`libreface_nb.artifacts`
            (e.g. ``artifacts.NB02_TEACHER_MODEL``).
        runs_root: where to look for other runs (default :func:`resolve_runs_root`:
            ``$LIBREFACE_NB_RUNS_ROOT`` or :data:`RUNS_ROOT`).

    Raises:
        RunError: when no usable run folder holds ``relpath``; the message says what to run.
    """
    here = Path(run_dir) / relpath
    if str(run_dir) and here.exists():
        return here
    profile = None
    if str(run_dir) and (Path(run_dir) / artifacts.RUN_JSON).exists():
        profile = read_run(run_dir).get("profile")  # any run.json, however old
    root = resolve_runs_root(runs_root)
    skipped = []
    for run in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        if not (run / relpath).exists() or run == Path(run_dir):
            continue
        why = _usable(run, relpath, profile)
        if not why:
            log.warning("%s not in %s; using %s", relpath, run_dir or "(no run)", run / relpath)
            return run / relpath
        skipped.append(f"{run.name}: {why}")
    notebook = relpath.split("/")[0]
    raise RunError(
        f"{relpath} was not found in {run_dir or '(no run folder)'} nor in a usable run under "
        f"{root}" + (f" (skipped {'; '.join(skipped[:3])})" if skipped else "") + "; run notebook "
        f"{notebook} first (python -m libreface_nb.run --profile {profile or 'fixture'} --only "
        f"{notebook[:2]})"
    )


def save_metrics(nb_dir: Path | str, metrics: Mapping[str, Any]) -> Path:
    """Write a notebook's headline numbers to ``metrics.json`` (atomically) and return the path.

    Scalar entries (numbers, strings, booleans) are what the runner prints at the end of a run.
    """
    path = Path(nb_dir) / artifacts.METRICS_FILE
    atomic.write_json(path, dict(metrics))
    return path


def load_metrics(nb_dir: Path | str) -> dict[str, Any]:
    """Read ``metrics.json`` of a notebook folder ({} when the notebook wrote none)."""
    path = Path(nb_dir) / artifacts.METRICS_FILE
    return json.loads(path.read_text()) if path.exists() else {}
