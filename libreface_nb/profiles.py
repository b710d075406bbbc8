"""Profiles (YAML files of notebook parameters) and their checking against the notebooks.

A profile looks like this (``profiles/fixture.yaml``)::

    description: tiny SynthAU fixtures; every notebook in minutes on a CPU
    seed: 0                    # passed to every notebook that declares `seed`
    cell_timeout: 900          # seconds per cell (papermill execution_timeout)
    notebook_timeout: 1800     # seconds per notebook (the runner kills it after that)
    parameters:                # passed to every notebook that declares the name
      data_root: ""
    notebooks:                 # per notebook, by number; override `parameters`
      "01":
        n_subjects: 3

Every name must be a parameter that some notebook declares in its cell tagged ``parameters``:
papermill itself only warns on unknown names, which hides typos, so we fail instead.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from libreface_nb.config import REPO_ROOT
from libreface_nb.errors import ConfigError

PROFILES_DIR = REPO_ROOT / "profiles"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
#: Parameters the runner sets itself; a profile may not set them.
RESERVED = ("run_dir",)
_NB_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")
_TOP_KEYS = {"description", "seed", "cell_timeout", "notebook_timeout", "parameters", "notebooks"}


@dataclass
class Profile:
    """A parsed profile file."""

    name: str
    path: Path
    description: str = ""
    seed: int = 0
    cell_timeout: int = 900
    notebook_timeout: int = 1800
    parameters: dict[str, Any] = field(default_factory=dict)
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)


def profile_path(name_or_path: str) -> Path:
    """``"fixture"`` → ``profiles/fixture.yaml``; a path to a YAML file is used as is."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ConfigError(f"profile file {p} does not exist")
        return p
    path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(q.stem for q in PROFILES_DIR.glob("*.yaml"))
        raise ConfigError(f"unknown profile {name_or_path!r}: no {path}; known profiles: {known}")
    return path


def load_profile(name_or_path: str) -> Profile:
    """Read and check the shape of a profile file (names are checked later, against notebooks)."""
    path = profile_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a profile is a mapping of keys, got {type(raw).__name__}")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}"
        )
    notebooks = {str(k).zfill(2): dict(v or {}) for k, v in (raw.get("notebooks") or {}).items()}
    prof = Profile(
        name=path.stem,
        path=path,
        description=str(raw.get("description", "")),
        seed=int(raw.get("seed", 0)),
        cell_timeout=int(raw.get("cell_timeout", 900)),
        notebook_timeout=int(raw.get("notebook_timeout", 1800)),
        parameters=dict(raw.get("parameters") or {}),
        notebooks=notebooks,
    )
    for key in RESERVED:
        if key in prof.parameters or any(key in v for v in notebooks.values()):
            raise ConfigError(f"{path}: {key!r} is set by the runner, not by a profile")
    return prof


def discover_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` of a folder, in order."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if _NB_NAME.match(p.name))


def notebook_number(path: Path) -> str:
    """``notebooks/03_x.ipynb`` → ``"03"``."""
    return Path(path).name[:2]


def declared_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """Parameters declared in a notebook's ``parameters`` cell: name → {type, default, help}."""
    import papermill

    params = papermill.inspect_notebook(str(path))
    return {
        name: {
            "type": _param_type(info.get("inferred_type_name", "None"), info.get("default")),
            "default": info.get("default"),
            "help": info.get("help", ""),
        }
        for name, info in params.items()
    }


def _param_type(annotated: str, default: str | None) -> str:
    """A parameter's type: its annotation, else the type of its literal default value."""
    if annotated and annotated != "None":
        return annotated
    try:
        value = ast.literal_eval(default) if default is not None else None
    except (ValueError, SyntaxError):
        return "None"
    return "None" if value is None else type(value).__name__


def _unknown(name: str, known: set[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(name, sorted(known), n=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ConfigError(
        f"unknown parameter {name!r} {where}{hint} Known parameters: {sorted(known)}"
    )


_PY_TYPES = {"int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict}


def _parse_text(text: str, declared_type: str) -> Any:
    """A ``--set`` or YAML string → a Python value, numbers read the obvious way.

    ``int("010")`` is 10 and ``float("1e-4")`` a float, where YAML 1.1 would read an octal 8,
    a base-60 number or the string "1e-4".
    """
    for kind, convert in (("int", int), ("float", float)):
        if declared_type == kind:
            try:
                return convert(text)
            except ValueError:
                return text  # not a number: the type check reports it
    return yaml.safe_load(text) if text.strip() else text


def coerce(value: Any, declared_type: str, name: str) -> Any:
    """Convert a value from YAML or ``--set`` to the type the notebook declares.

    Strings stay strings when the notebook declares ``str`` (so ``007`` stays ``"007"``, and a
    YAML ``null`` becomes ``""``); ints are accepted where a float is declared; anything else of
    the wrong type is an error. Parameters whose default is None have no type to check.

    Raises:
        ConfigError: the value does not have the declared type.
    """
    if declared_type == "str":
        if value is None:
            return ""
        if isinstance(value, list | dict):
            raise ConfigError(f"parameter {name!r} expects str, got {value!r}")
        return value if isinstance(value, str) else str(value)
    if isinstance(value, str):
        value = _parse_text(value, declared_type)
    expected = _PY_TYPES.get(declared_type)
    if expected is None:  # no declared type to check against (e.g. a None default)
        return value
    wrong_bool = isinstance(value, bool) and declared_type != "bool"
    if wrong_bool or not isinstance(value, expected):
        raise ConfigError(
            f"parameter {name!r} expects {declared_type}, got {value!r} ({type(value).__name__})"
        )
    return float(value) if declared_type == "float" else value


def parse_overrides(items: list[str]) -> list[tuple[str | None, str, str]]:
    """``["epochs=3", "02.lr=1e-4"]`` → ``[(None, "epochs", "3"), ("02", "lr", "1e-4")]``."""
    out = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value or NN.key=value, got {item!r}")
        key, value = item.split("=", 1)
        nb, _, name = key.rpartition(".")
        if nb and not re.fullmatch(r"\d\d?", nb):
            raise ConfigError(f"--set {item!r}: the prefix before '.' must be a notebook number")
        out.append((nb.zfill(2) if nb else None, name.strip(), value))
    return out


def resolve_parameters(
    profile: Profile,
    declared: dict[str, dict[str, dict[str, Any]]],
    overrides: list[tuple[str | None, str, str]] = (),
) -> dict[str, dict[str, Any]]:
    """Parameters each notebook receives, by notebook number; unknown names raise ConfigError.

    Args:
        profile: the profile.
        declared: notebook number → its declared parameters (from :func:`declared_parameters`),
            for every numbered notebook, including ones not run this time.
        overrides: from :func:`parse_overrides`; they win over the profile.
    """
    all_names = {n for params in declared.values() for n in params} - set(RESERVED)
    common = dict(profile.parameters)
    common.setdefault("seed", profile.seed)
    for name in profile.parameters:
        if name not in all_names:
            raise _unknown(name, all_names, f"in {profile.path} (parameters)")
    for nb, params in profile.notebooks.items():
        if nb not in declared:
            raise ConfigError(f"{profile.path}: no notebook numbered {nb} in {NOTEBOOKS_DIR}")
        for name in params:
            if name not in declared[nb]:
                raise _unknown(
                    name, set(declared[nb]) - set(RESERVED), f"for notebook {nb} in {profile.path}"
                )
    for nb, name, _ in overrides:
        if nb is not None and nb not in declared:
            raise ConfigError(f"--set {nb}.{name}: no notebook numbered {nb}")
        if name in RESERVED:
            raise ConfigError(f"--set {name}: {name!r} is set by the runner, not by --set")
        known = set(declared[nb]) if nb else all_names
        if name not in known:
            raise _unknown(
                name, known - set(RESERVED), "in --set" + (f" for notebook {nb}" if nb else "")
            )

    resolved: dict[str, dict[str, Any]] = {}
    for nb, params in declared.items():
        values = {k: v for k, v in common.items() if k in params}
        values.update(profile.notebooks.get(nb, {}))
        for onb, name, value in overrides:
            if name in params and onb in (None, nb):
                values[name] = value
        resolved[nb] = {k: coerce(v, params[k]["type"], k) for k, v in values.items()}
    return resolved
