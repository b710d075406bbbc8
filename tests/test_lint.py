"""House style is enforced: ruff lint and format over the package, tests and benchmarks; ruff lint
over the notebooks' code cells; no ``noqa`` comment that silences nothing (RUF100)."""

from __future__ import annotations

import subprocess
import sys

from libreface_nb.config import REPO_ROOT

TARGETS = ["libreface_nb", "tests", "benchmarks"]
#: Notebooks are linted like the package (ruff reads .ipynb code cells). Not format-checked: their
#: hand-wrapped calls read better in a notebook than ruff's layout.
NOTEBOOKS = ["notebooks"]


def _ruff(*args: str, targets: list[str] = TARGETS) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ruff", *args, *targets]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)


def test_ruff_check():
    out = _ruff("check", "--no-cache")
    assert out.returncode == 0, out.stdout[-3000:]


def test_ruff_format():
    out = _ruff("format", "--check", "--no-cache")
    assert out.returncode == 0, out.stdout[-3000:]


def test_ruff_check_notebooks():
    out = _ruff("check", "--no-cache", targets=NOTEBOOKS)
    assert out.returncode == 0, out.stdout[-3000:]


def test_no_unused_noqa_comments():
    """``noqa`` only for rules ruff runs here (E, F, W, I, B, UP), and only where one fires."""
    out = _ruff("check", "--no-cache", "--extend-select", "RUF100", targets=[*TARGETS, *NOTEBOOKS])
    assert out.returncode == 0, out.stdout[-3000:]
