"""The datasets the workbook knows: one :class:`DatasetSpec` per dataset, one registry line each.

Each dataset module (``libreface_nb/data/disfa.py`` …) ends with ``SPEC = DatasetSpec(...)``:
its reader, its SynthAU fixture writer, the fixture's default sizes, how the notebooks' two size
knobs map onto them, its published folds, and its data card. :data:`MODULES` names the module of
every dataset. Adding a dataset is therefore one new module (reader, fixture writer, ``SPEC``;
see ``rafdb.py`` for a small one) plus one line in :data:`MODULES` (and its card in
``data_cards/``). Everything else (the index schema check, ``make_fixture``, notebook 01's
``load_dataset`` and ``make_folds``, the card counts, the fixture-cache fingerprint) reads the
registry.

The modules are imported by name, on first use, so that this file imports none of them: a
dataset module imports :class:`DatasetSpec` from here, never the other way round (no import
cycle, and ``validate_index`` can check names without importing a reader).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libreface_nb.errors import ConfigError

#: Dataset name → the module whose ``SPEC`` describes it. One line per dataset.
MODULES: dict[str, str] = {
    "disfa": "libreface_nb.data.disfa",
    "bp4d": "libreface_nb.data.bp4d",
    "rafdb": "libreface_nb.data.rafdb",
    "affectnet": "libreface_nb.data.affectnet",
}
#: Registered dataset names, in registry order.
NAMES: tuple[str, ...] = tuple(MODULES)


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the workbook needs to know about one dataset.

    Attributes:
        name: the dataset name (the index's ``dataset`` column, ``dataset=`` in notebooks).
        read_index: ``read_index(root) → index`` (:mod:`libreface_nb.data.index` schema).
        write_fixture: ``write(folder, seed, sizes, backend)``: a SynthAU fixture in the
            dataset's native layout (:mod:`libreface_nb.data.fixtures.common`).
        fixture_sizes: default fixture sizes (the keyword arguments ``make_fixture`` takes).
        notebook_sizes: ``(n_subjects, n_frames) → sizes``: notebook 01's two size knobs mapped
            onto the fixture's own sizes.
        published_folds: ``() → {fold: [test subjects]}``, the partition papers use; None when
            there is none (then k-fold by subject).
        official_split: True when the folds come from the dataset's own train/test split
            (RAF-DB, AffectNet: ``subject`` is the image stem).
        card: the data card's file name in ``data_cards/``.
    """

    name: str
    read_index: Callable[..., Any]
    write_fixture: Callable[[Path, int, dict, Any], None]
    fixture_sizes: Mapping[str, int]
    notebook_sizes: Callable[[int, int], dict[str, int]]
    published_folds: Callable[[], dict[str, list[str]]] | None = None
    official_split: bool = False
    card: str = ""


def _unknown(name: str) -> ConfigError:
    return ConfigError(f"dataset={name!r}: expected one of {list(NAMES)}")


@functools.cache
def get(name: str) -> DatasetSpec:
    """The spec of a registered dataset.

    Raises:
        ConfigError: ``name`` is not registered (the message lists the known names).
    """
    if name not in MODULES:
        raise _unknown(name)
    spec = importlib.import_module(MODULES[name]).SPEC
    if spec.name != name:
        raise ConfigError(f"{MODULES[name]}.SPEC is named {spec.name!r}, registered as {name!r}")
    return spec


def specs() -> dict[str, DatasetSpec]:
    """Every registered spec, in registry order."""
    return {name: get(name) for name in NAMES}


def module_file(name: str) -> Path:
    """The source file of a dataset's module (for the fixture-cache fingerprint)."""
    if name not in MODULES:
        raise _unknown(name)
    return Path(importlib.import_module(MODULES[name]).__file__)
