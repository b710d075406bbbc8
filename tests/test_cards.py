"""The counts in the committed data cards are what the code writes today (never typed by hand)."""

from __future__ import annotations

import shutil

from libreface_nb.config import REPO_ROOT
from libreface_nb.data import cards
from libreface_nb.data.prepare import fixture_cache_dir


def test_committed_card_counts_are_current(tmp_path):
    shutil.copytree(REPO_ROOT / "data_cards", tmp_path / "cards")
    cards.write_fixture_cards(tmp_path / "cards", fixture_cache_dir())
    cards.write_synthau_card(tmp_path / "cards", fixture_cache_dir())
    cards.write_real_faces_card(tmp_path / "cards")
    stale = [
        p.name
        for p in sorted((tmp_path / "cards").glob("*.md"))
        if p.read_text() != (REPO_ROOT / "data_cards" / p.name).read_text()
    ]
    assert not stale, f"run `python -m libreface_nb.data.cards` and commit: stale {stale}"
    block = (tmp_path / "cards" / "synthau.md").read_text()
    assert "| disfa | 3 | 3 | 120 |" in block
