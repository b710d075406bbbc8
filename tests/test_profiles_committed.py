"""Every committed profile names only parameters the notebooks declare, with the right types."""

from __future__ import annotations

import pytest

from libreface_nb import profiles as prof

COMMITTED = sorted(p.stem for p in prof.PROFILES_DIR.glob("*.yaml"))


def test_the_two_documented_profiles_are_committed():
    assert {"fixture", "synth"} <= set(COMMITTED)


@pytest.mark.parametrize("name", COMMITTED)
def test_profile_resolves_against_the_notebooks(name):
    paths = prof.discover_notebooks()
    declared = {prof.notebook_number(p): prof.declared_parameters(p) for p in paths}
    resolved = prof.resolve_parameters(prof.load_profile(name), declared)
    assert set(resolved) == set(declared)  # every notebook gets its parameters
