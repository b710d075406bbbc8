"""libreface_nb.atomic: rename on success; on an exception the old file stays, no temp is left."""

from __future__ import annotations

import json
import os

import pytest
from fs_helpers import plain_mode

from libreface_nb import atomic


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "a.bin"
    with atomic.atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert not target.exists()  # nothing under the final name while writing
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert _names(target.parent) == ["a.bin"]


def test_atomic_path_keeps_the_original_and_removes_the_temp_on_an_exception(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["a.bin"]


def test_write_bytes_and_text_replace_the_file(tmp_path):
    target = tmp_path / "t.txt"
    atomic.write_bytes(target, b"one")
    atomic.write_text(target, "zwei ü")
    assert target.read_text(encoding="utf-8") == "zwei ü"
    assert _names(tmp_path) == ["t.txt"]


def test_write_json_failing_midway_keeps_the_original(tmp_path):
    target = tmp_path / "x.json"
    atomic.write_json(target, {"a": 1})

    class Exploding:
        def __str__(self) -> str:
            raise RuntimeError("not serialisable")

    with pytest.raises(RuntimeError, match="not serialisable"):
        atomic.write_json(target, {"b": Exploding()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert _names(tmp_path) == ["x.json"]


def test_write_bytes_failing_during_the_write_removes_the_temp(tmp_path, monkeypatch):
    target = tmp_path / "y.bin"
    target.write_bytes(b"old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["y.bin"]


def test_write_json_format(tmp_path):
    target = atomic.write_json(tmp_path / "f.json", {"k": [1, 2]}, indent=1)
    assert target.read_text() == '{\n "k": [\n  1,\n  2\n ]\n}\n'


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_get_the_mode_a_plain_open_gives(tmp_path, umask):
    """Not mkstemp's 0o600: under umask 022 a written file is 0o644, readable by others."""
    old = os.umask(umask)
    try:
        expected = plain_mode(tmp_path)
        atomic.write_bytes(tmp_path / "b.bin", b"b")
        atomic.write_json(tmp_path / "j.json", {"a": 1})
        with atomic.atomic_path(tmp_path / "p.pt") as tmp:
            with open(tmp, "wb") as fh:  # as torch.save does with a path
                fh.write(b"p")
    finally:
        os.umask(old)
    assert expected == 0o666 & ~umask
    for name in ("b.bin", "j.json", "p.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name
    assert _names(tmp_path) == ["b.bin", "j.json", "p.pt"]
