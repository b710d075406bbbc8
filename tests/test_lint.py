"""House style is enforced: ruff lint and format over the package, tests and benchmarks."""

from __future__ import annotations

import subprocess
import sys

from libreface_nb.config import REPO_ROOT

TARGETS = ["libreface_nb", "tests", "benchmarks"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ruff", *args, *TARGETS]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)


def test_ruff_check():
    out = _ruff("check", "--no-cache")
    assert out.returncode == 0, out.stdout[-3000:]


def test_ruff_format():
    out = _ruff("format", "--check", "--no-cache")
    assert out.returncode == 0, out.stdout[-3000:]
