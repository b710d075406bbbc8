"""The dependency lists agree, the package imports fast, the entry point exists."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from libreface_nb.config import REPO_ROOT


def _pins(path):
    lines = (line.strip() for line in (REPO_ROOT / path).read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def test_environment_yml_has_the_same_pins_as_requirements():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = {p for p in pip_section if p != "-e ."}
    pip_pins = _pins("requirements.txt") | _pins("requirements-dev.txt")
    assert conda_pins == pip_pins, (
        f"only in environment.yml: {sorted(conda_pins - pip_pins)}; "
        f"only in requirements*.txt: {sorted(pip_pins - conda_pins)}"
    )
    assert "python=3.11" in env["dependencies"]


def test_every_requirement_is_pinned_exactly_and_one_opencv():
    pins = _pins("requirements.txt") | _pins("requirements-dev.txt")
    assert all("==" in p for p in pins), [p for p in pins if "==" not in p]
    opencv = [p for p in pins if p.lower().startswith("opencv")]
    assert opencv == ["opencv-contrib-python==4.11.0.86"], opencv
    names = [p.split("==")[0].lower() for p in pins]
    assert len(names) == len(set(names)), "a package is listed twice"


def test_pyproject_reads_dependencies_from_requirements_and_has_entry_point():
    meta = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    dyn = meta["tool"]["setuptools"]["dynamic"]
    assert dyn["dependencies"]["file"] == ["requirements.txt"]
    assert meta["project"]["scripts"]["libreface-nb"] == "libreface_nb.cli:main"


def test_installed_versions_match_the_pins():
    from importlib import metadata

    wrong = []
    for pin in _pins("requirements.txt") | _pins("requirements-dev.txt"):
        name, version = pin.split("==")
        installed = metadata.version(name)
        if installed.split("+")[0] != version:
            wrong.append(f"{name}: pinned {version}, installed {installed}")
    assert not wrong, wrong


def test_import_is_light():
    code = (
        "import sys, libreface_nb, libreface_nb.config, libreface_nb.runs;"
        "heavy = [m for m in ('torch', 'mediapipe', 'onnxruntime', 'ipywidgets', 'cv2')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_entry_point_runs():
    script = Path(sys.executable).parent / "libreface-nb"
    assert script.exists(), f"console script missing: {script} (pip install -e . creates it)"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout
