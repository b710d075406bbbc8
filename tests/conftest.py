"""Shared test set-up: headless plotting, pinned threads, quiet MediaPipe."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True, scope="session")
def _private_base_mesh_cache(tmp_path_factory):
    """SynthAU's on-disk mesh cache (``.cache/base_meshes``) is not shared with a developer's
    runs or with earlier test runs: a test that counts MediaPipe calls sees the same cache state
    in a fresh clone and on the tenth run."""
    from libreface_nb.data.synth import base

    saved = base.MESH_CACHE
    base.MESH_CACHE = tmp_path_factory.mktemp("base_meshes")
    yield
    base.MESH_CACHE = saved
