"""Tiny datasets in the real on-disk layouts, made of SynthAU faces with known labels.

``make_fixture("disfa", root)`` writes ``root/disfa`` laid out like DISFA (per-subject left
camera videos plus ``ActionUnit_Labels``), and likewise ``"bp4d"``, ``"rafdb"`` and
``"affectnet"``. Everything is deterministic from ``seed`` (same seed → same image bytes; for
videos, the same decoded frames). A fixture is built in a hidden temporary folder whose
``fixture.json`` says ``"complete": false``; the flag is rewritten to ``true`` last, then the
folder is renamed into place. So:

- a complete fixture with the same parameters is reused;
- a complete fixture with other parameters, or a non-empty folder that is not a fixture, is
  never overwritten: :class:`~libreface_nb.errors.DatasetLayoutError`;
- a half-written fixture (``"complete": false``) is left as it is and a fresh one is built
  beside it (``disfa-2``, ``disfa-3`` …); the returned path says where;
- a build that fails is removed; one killed midway leaves a hidden ``.<name>.partial-*``
  folder that is never taken for a fixture.

Images come from :mod:`libreface_nb.data.synth`; ``render=`` swaps in another renderer with
``render_face``'s signature (tests use a cheap one) and ``synth=`` a whole stand-in module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from libreface_nb.config import REPO_ROOT
from libreface_nb.errors import ConfigError, DatasetLayoutError

log = logging.getLogger(__name__)

FIXTURE_FILE = "fixture.json"
#: Bump when a writer's output changes, so that old caches are not taken for new ones.
FIXTURE_VERSION = 1
DEFAULT_SIZES: dict[str, dict[str, int]] = {
    "disfa": {"n_subjects": 3, "n_frames": 40, "size": 256},
    "bp4d": {"n_subjects": 3, "n_tasks": 2, "n_frames": 15, "size": 256},
    "rafdb": {"n_train": 32, "n_test": 8, "n_identities": 4, "size": 256},
    "affectnet": {"n_train": 32, "n_validation": 8, "n_identities": 4, "size": 256},
}
NAMES: tuple[str, ...] = tuple(DEFAULT_SIZES)
_MAX_FRESH = 50


@dataclass(frozen=True)
class Backend:
    """The SynthAU functions a fixture writer needs (see :mod:`libreface_nb.data.synth`)."""

    make_subjects: Callable[..., list]
    render_face: Callable[..., np.ndarray]
    au_curves: Callable[..., np.ndarray]
    expression_intensities: Callable[..., dict[int, float]]
    renderer_name: str


def load_backend(render: Callable | None = None, synth: ModuleType | Any | None = None) -> Backend:
    """SynthAU by default; ``synth`` replaces the module, ``render`` only ``render_face``."""
    if synth is None:
        from libreface_nb.data import synth as synth_module

        synth = synth_module
    render_face = render if render is not None else synth.render_face
    name = f"{getattr(render_face, '__module__', '?')}.{getattr(render_face, '__qualname__', '?')}"
    return Backend(
        make_subjects=synth.make_subjects,
        render_face=render_face,
        au_curves=synth.au_curves,
        expression_intensities=synth.expression_intensities,
        renderer_name=name,
    )


def default_cache_dir() -> Path:
    """``<repo>/.cache/fixtures`` (git-ignored), where notebooks keep fixtures."""
    return REPO_ROOT / ".cache" / "fixtures"


def derive_seed(*parts: int) -> int:
    """A stable 32-bit seed from integers (same inputs → same seed in every process)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of a uint8 RGB image [H, W, 3] (libjpeg is deterministic)."""
    import cv2

    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise DatasetLayoutError("cv2 could not encode a JPEG")
    return buf.tobytes()


def write_file(path: Path, data: bytes | str) -> None:
    """Write bytes or text, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)


def resolve_params(name: str, seed: int, sizes: dict[str, int], backend: Backend) -> dict:
    """The parameters recorded in ``fixture.json`` (defaults filled in)."""
    if name not in DEFAULT_SIZES:
        raise ConfigError(f"unknown fixture {name!r}; expected one of {list(NAMES)}")
    unknown = sorted(set(sizes) - set(DEFAULT_SIZES[name]))
    if unknown:
        raise ConfigError(
            f"fixture {name!r} has no size parameter(s) {unknown}; "
            f"it takes {list(DEFAULT_SIZES[name])}"
        )
    resolved = {**DEFAULT_SIZES[name], **{k: int(v) for k, v in sizes.items()}}
    return {
        "name": name,
        "seed": int(seed),
        "sizes": resolved,
        "renderer": backend.renderer_name,
        "version": FIXTURE_VERSION,
    }


def read_fixture_info(folder: str | Path) -> dict | None:
    """The ``fixture.json`` of a folder, or None when there is none or it is unreadable."""
    path = Path(folder) / FIXTURE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _state(folder: Path, params: dict) -> str:
    """``missing``, ``empty``, ``match``, ``other``, ``partial`` or ``foreign``."""
    if not folder.exists():
        return "missing"
    if folder.is_dir() and not any(folder.iterdir()):
        return "empty"
    info = read_fixture_info(folder)
    if info is None:
        return "foreign"
    if not info.get("complete"):
        return "partial"
    return "match" if info.get("params") == params else "other"


def _folder_stats(folder: Path) -> dict:
    files = [p for p in folder.rglob("*") if p.is_file() and p.name != FIXTURE_FILE]
    return {"files": len(files), "bytes": int(sum(p.stat().st_size for p in files))}


def _write_info(folder: Path, params: dict, complete: bool, stats: dict | None = None) -> None:
    info = {"complete": complete, "params": params, "stats": stats or {}}
    tmp = folder / (FIXTURE_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=1) + "\n")
    tmp.replace(folder / FIXTURE_FILE)


def _writer(name: str) -> Callable[[Path, int, dict, Backend], None]:
    # Imported here: the writers import helpers from this module.
    from libreface_nb.data import fixtures_au, fixtures_fer

    return {
        "disfa": fixtures_au.write_disfa,
        "bp4d": fixtures_au.write_bp4d,
        "rafdb": fixtures_fer.write_rafdb,
        "affectnet": fixtures_fer.write_affectnet,
    }[name]


def _build(target: Path, params: dict, backend: Backend) -> Path:
    """Write a fixture into a hidden temporary folder, flag it complete, rename it to ``target``."""
    token = hashlib.sha1(f"{os.getpid()}-{time.time_ns()}".encode()).hexdigest()[:8]
    tmp = target.parent / f".{target.name}.partial-{token}"
    tmp.mkdir(parents=True)
    _write_info(tmp, params, complete=False)
    start = time.perf_counter()
    try:
        _writer(params["name"])(tmp, params["seed"], params["sizes"], backend)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # our own temporary folder, never the target
        raise
    stats = {**_folder_stats(tmp), "seconds": round(time.perf_counter() - start, 3)}
    _write_info(tmp, params, complete=True, stats=stats)
    try:
        if target.exists():
            target.rmdir()  # only ever an empty folder here (see _state)
        tmp.rename(target)
    except OSError as err:
        # Another process may have finished the same fixture first: use theirs.
        shutil.rmtree(tmp, ignore_errors=True)
        if _state(target, params) == "match":
            return target
        raise DatasetLayoutError(
            f"{target}: could not move the new fixture into place ({err})"
        ) from err
    log.info("fixture %s: %d files, %.2f MB in %.1f s at %s", params["name"], stats["files"],
             stats["bytes"] / 1e6, stats["seconds"], target)  # fmt: skip
    return target


def make_fixture(
    name: str,
    root: str | Path,
    *,
    seed: int = 0,
    render: Callable | None = None,
    synth: ModuleType | Any | None = None,
    **sizes: int,
) -> Path:
    """Write (or reuse) a tiny dataset in ``name``'s native layout under ``root/<name>``.

    Args:
        name: ``"disfa"``, ``"bp4d"``, ``"rafdb"`` or ``"affectnet"``.
        root: cache folder; created if needed.
        seed: drives every random choice (subjects, labels, pose, noise).
        render: optional stand-in for ``synth.render_face`` (same signature).
        synth: optional stand-in for the whole :mod:`libreface_nb.data.synth` module.
        **sizes: overrides of :data:`DEFAULT_SIZES` for this dataset.

    Returns:
        The fixture's folder: ``root/<name>``, or ``root/<name>-<k>`` when ``root/<name>``
        holds a half-written fixture.

    Raises:
        ConfigError: unknown name or size parameter.
        DatasetLayoutError: ``root/<name>`` holds something else that must not be overwritten.
    """
    backend = load_backend(render, synth)
    params = resolve_params(name, seed, sizes, backend)
    base = Path(root).expanduser().resolve() / name
    for k in range(1, _MAX_FRESH + 1):
        target = base if k == 1 else base.with_name(f"{name}-{k}")
        state = _state(target, params)
        if state == "match":
            log.info("fixture %s: reusing complete fixture at %s", name, target)
            return target
        if state in ("missing", "empty"):
            return _build(target, params, backend)
        if state == "partial":
            log.warning(
                "fixture %s: %s is half-written; leaving it and trying a fresh folder", name, target
            )
            continue
        what = "a fixture with other parameters" if state == "other" else "not a fixture"
        raise DatasetLayoutError(
            f"{target} is {what} (no complete {FIXTURE_FILE} with {params}); refusing to "
            "overwrite it: pass another root or remove that folder"
        )
    raise DatasetLayoutError(
        f"{base}: {_MAX_FRESH} half-written fixtures side by side; clean them up"
    )


def fixture_stats(folder: str | Path) -> dict:
    """Generation time and size recorded in a complete fixture's ``fixture.json``."""
    info = read_fixture_info(folder)
    if not info or not info.get("complete"):
        raise DatasetLayoutError(f"{folder}: no complete {FIXTURE_FILE}")
    return dict(info["stats"])
