"""Subject-exclusive folds: the published DISFA/BP4D partitions, k-fold by subject, fold files.

A *fold set* maps a fold name to ``{"test": [subjects], "val": [subjects]}``; every other
subject of the index trains. Validation subjects are drawn from the training side of each
fold, never from its test side: LibreFace selected models on the test split
(docs/libreface_facts.md §5), which we avoid. For RAF-DB and AffectNet, whose
``subject`` is the image stem, :func:`official_split` keeps the official test split (AffectNet:
its validation set) and holds out part of train for validation.

**Persons.** A subject is one recording of one person in DISFA and BP4D, but SynthAU makes several
pseudo-subjects from one photographed person. :func:`person_folds` splits *persons* (k-fold, then
validation persons from each training side) and puts every subject of a person on that person's
side, so no person is seen in training and tested; :func:`check_person_exclusive` proves it.

Fold file (JSON): ``{"format": "libreface_nb.folds/1", "dataset", "kind", "seed",
"folds": {name: {"test": [...], "val": [...]}}}``, the lists naming subjects; when the folds are
person-exclusive also ``"subject_persons": {subject: person}`` and, per fold,
``"test_persons"`` and ``"val_persons"`` (sorted person names), so the file says who is where.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb import atomic
from libreface_nb.errors import ConfigError, DatasetLayoutError

log = logging.getLogger(__name__)

FORMAT = "libreface_nb.folds/1"
Folds = dict[str, dict[str, list[str]]]

#: The widely used DISFA 3-part subject partition (LIBREFACE_FACTS §7; the same lists appear
#: in CVI-SZU/ME-GraphAU tool/DISFA_image_label_process.py, where "fold1" tests part 3).
DISFA_PARTS: tuple[tuple[str, ...], ...] = (
    ("SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"),
    ("SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"),
    ("SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"),
)
#: A BP4D 3-part subject partition in common use, as listed in CVI-SZU/ME-GraphAU
#: tool/BP4D_image_label_process.py (where, again, "fold1" tests part 3).
BP4D_PARTS: tuple[tuple[str, ...], ...] = (
    ("F001", "M007", "F018", "F008", "F002", "M004", "F010", "F009", "M012", "M001", "F016",
     "M014", "F023", "M008"),
    ("M011", "F003", "M010", "M002", "F005", "F022", "M018", "M017", "F013", "M016", "F020",
     "F011", "M013", "M005"),
    ("F007", "F015", "F006", "F019", "M006", "M009", "F012", "M003", "F004", "F021", "F017",
     "M015", "F014"),
)  # fmt: skip


def disfa_three_fold() -> dict[str, list[str]]:
    """Fold name → test subjects: ``fold{i}`` tests DISFA part ``i`` (27 subjects in all)."""
    return {f"fold{i + 1}": list(part) for i, part in enumerate(DISFA_PARTS)}


def bp4d_three_fold() -> dict[str, list[str]]:
    """Fold name → test subjects: ``fold{i}`` tests BP4D part ``i`` (41 subjects in all)."""
    return {f"fold{i + 1}": list(part) for i, part in enumerate(BP4D_PARTS)}


def subject_kfold(subjects: Iterable[str], k: int, seed: int = 0) -> dict[str, list[str]]:
    """Split subjects into ``k`` test groups of near-equal size, shuffled by ``seed``.

    Raises:
        ConfigError: if ``k`` < 2 or there are fewer subjects than folds.
    """
    unique = sorted(set(subjects))
    if k < 2 or k > len(unique):
        raise ConfigError(f"k-fold needs 2 <= k <= number of subjects ({len(unique)}), got k={k}")
    order = np.random.default_rng(seed).permutation(len(unique))
    groups = np.array_split(order, k)
    return {f"fold{i + 1}": sorted(unique[j] for j in g) for i, g in enumerate(groups)}


def _n_val(n_train_side: int, val_fraction: float, min_val: int) -> int:
    n = max(min_val, int(round(val_fraction * n_train_side)))
    return min(n, n_train_side - 1)  # keep at least one training subject


def with_validation(
    test_folds: Mapping[str, Sequence[str]],
    subjects: Iterable[str],
    *,
    val_fraction: float = 0.15,
    min_val: int = 1,
    seed: int = 0,
) -> Folds:
    """Add validation subjects, drawn from each fold's training side, to a test partition.

    Test subjects absent from ``subjects`` (e.g. a partition of all 27 DISFA subjects applied
    to a 3-subject fixture) are dropped with a log line.

    Raises:
        ConfigError: if a fold has no test subject present, or too few training-side subjects
            to hold out ``min_val`` validation subjects and still train on one.
    """
    present = sorted(set(subjects))
    folds: Folds = {}
    for i, (name, test) in enumerate(test_folds.items()):
        kept = sorted(set(test) & set(present))
        if len(kept) < len(set(test)):
            log.info(
                "%s: %d of %d test subjects are not in the index",
                name,
                len(set(test)) - len(kept),
                len(set(test)),
            )
        if not kept:
            raise ConfigError(
                f"{name}: none of its test subjects {sorted(test)[:5]}… is in the index"
            )
        train_side = [s for s in present if s not in set(kept)]
        n_val = _n_val(len(train_side), val_fraction, min_val)
        if n_val < min_val:
            raise ConfigError(
                f"{name}: {len(train_side)} training-side subjects cannot spare {min_val} "
                "for validation"
            )
        rng = np.random.default_rng([seed, i])
        val = sorted(train_side[j] for j in rng.choice(len(train_side), n_val, replace=False))
        folds[name] = {"test": kept, "val": val}
    check_exclusive(folds, present)
    return folds


def official_split(
    index: pd.DataFrame, *, val_fraction: float = 0.1, seed: int = 0, name: str = "official"
) -> Folds:
    """The official test split plus a validation part of train, stratified by expression.

    ``test`` = subjects whose ``split`` is ``"test"`` (RAF-DB) or ``"validation"``
    (AffectNet, whose test set is not public); ``val`` = ``val_fraction`` of the rest,
    drawn per expression class so that validation keeps train's class balance; a class with at
    least two training images gives at least one to validation (a tiny dataset would otherwise
    have no validation set at all, and model selection would have nothing to select on).
    """
    test_mask = index["split"].isin(["test", "validation"])
    if not test_mask.any():
        raise ConfigError("index has no official 'test' or 'validation' rows")
    train = index.loc[~test_mask]
    rng = np.random.default_rng(seed)
    val: list[str] = []
    groups = train.groupby("expression") if "expression" in train.columns else [(None, train)]
    for _, group in groups:
        stems = sorted(set(group["subject"]))
        n = int(round(val_fraction * len(stems)))
        if n == 0 and val_fraction > 0 and len(stems) >= 2:
            n = 1
        val += [stems[j] for j in rng.choice(len(stems), n, replace=False)]
    folds = {name: {"test": sorted(set(index.loc[test_mask, "subject"])), "val": sorted(set(val))}}
    check_exclusive(folds, index["subject"])
    return folds


def holdout_fold(
    subject_bases: Mapping[str, str],
    subjects: Iterable[str],
    base: str,
    *,
    name: str = "holdout",
    val_fraction: float = 0.15,
    seed: int = 0,
) -> Folds:
    """One fold whose test subjects are exactly those made from ``base`` (an identity never seen
    in training): train and validation subjects all come from the other base photos.

    Args:
        subject_bases: index subject → base-photo key (a SynthAU fixture's record).
        subjects: the subjects of the index.
        base: the base-photo key to hold out.
        name: the fold's name.

    Raises:
        ConfigError: no subject of the index comes from ``base``, or too few come from the
            others to train and validate.
    """
    present = sorted(set(subjects))
    test = [s for s in present if subject_bases.get(s) == base]
    if not test:
        known = sorted({subject_bases[s] for s in present if s in subject_bases})
        raise ConfigError(
            f"holdout_base={base!r}: no subject of this index was made from it; its subjects "
            f"come from {known or 'no recorded base photo'}"
        )
    if len(present) - len(test) < 2:
        raise ConfigError(
            f"holdout_base={base!r}: {len(present) - len(test)} subject(s) from other base photos;"
            " at least 2 are needed (one to train, one to validate): add subjects or base photos"
        )
    return with_validation({name: test}, present, val_fraction=val_fraction, seed=seed)


def person_folds(
    subject_persons: Mapping[str, str],
    k: int,
    *,
    val_fraction: float = 0.15,
    seed: int = 0,
) -> Folds:
    """``k`` person-exclusive folds: persons split as :func:`subject_kfold` and
    :func:`with_validation` split subjects, then each person's subjects follow that person.

    Args:
        subject_persons: every subject of the index → the person it shows.
        k: number of folds.

    Returns:
        Folds naming subjects (``test``, ``val``) plus the persons on each side
        (``test_persons``, ``val_persons``).

    Raises:
        ConfigError: fewer persons than folds, or too few to validate (see :func:`with_validation`).
    """
    persons = sorted(set(subject_persons.values()))
    by_person = {p: sorted(s for s, q in subject_persons.items() if q == p) for p in persons}
    test = subject_kfold(persons, k, seed)
    person_level = with_validation(test, persons, val_fraction=val_fraction, seed=seed)
    folds: Folds = {}
    for name, fold in person_level.items():
        folds[name] = {
            "test": sorted(s for p in fold["test"] for s in by_person[p]),
            "val": sorted(s for p in fold["val"] for s in by_person[p]),
            "test_persons": list(fold["test"]),
            "val_persons": list(fold["val"]),
        }
    check_person_exclusive(folds, subject_persons)
    return folds


def check_person_exclusive(folds: Folds, subject_persons: Mapping[str, str]) -> None:
    """Raise unless, in every fold, no person has subjects on two of train, validation and test.

    Raises:
        ConfigError: naming the fold, the person and the two sides.
    """
    for name, fold in folds.items():
        side = {s: "test" for s in fold["test"]} | {s: "val" for s in fold["val"]}
        seen: dict[str, str] = {}
        for subject, person in sorted(subject_persons.items()):
            role = side.get(subject, "train")
            if seen.setdefault(person, role) != role:
                raise ConfigError(
                    f"{name}: person {person} has subjects in {seen[person]} and in {role} "
                    f"({subject}); pseudo-subjects of one person must stay on one side"
                )


def check_exclusive(folds: Folds, subjects: Iterable[str] | None = None) -> None:
    """Raise unless, in every fold, test, validation and train share no subject.

    Raises:
        ConfigError: naming the fold and a subject found on two sides.
    """
    known = set(subjects) if subjects is not None else None
    for name, fold in folds.items():
        test, val = set(fold["test"]), set(fold["val"])
        both = test & val
        if both:
            raise ConfigError(f"{name}: subject {sorted(both)[0]} is both test and validation")
        if known is not None:
            stray = (test | val) - known
            if stray:
                raise ConfigError(f"{name}: subject {sorted(stray)[0]} is not in the index")


def fold_split(index: pd.DataFrame, fold: Mapping[str, Sequence[str]]) -> pd.Series:
    """Per index row: ``"train"``, ``"val"`` or ``"test"`` for one fold (by ``subject``)."""
    role = pd.Series("train", index=index.index, dtype=object)
    role[index["subject"].isin(set(fold["val"]))] = "val"
    role[index["subject"].isin(set(fold["test"]))] = "test"
    return role.astype(str)


def assign_folds(index: pd.DataFrame, folds: Folds) -> pd.DataFrame:
    """One column per fold (named as the fold) holding each row's role in it."""
    return pd.DataFrame({name: fold_split(index, fold) for name, fold in folds.items()})


def write_folds(
    path: str | Path,
    folds: Folds,
    *,
    dataset: str,
    kind: str,
    seed: int,
    subject_persons: Mapping[str, str] | None = None,
) -> Path:
    """Write a fold file (JSON); the file is written to a temporary name, then renamed.

    ``subject_persons`` (subject → person) is written with the folds, which must then be
    person-exclusive (:func:`check_person_exclusive`).
    """
    check_exclusive(folds)
    payload = {"format": FORMAT, "dataset": dataset, "kind": kind, "seed": seed, "folds": folds}
    if subject_persons:
        check_person_exclusive(folds, subject_persons)
        payload["subject_persons"] = dict(sorted(subject_persons.items()))
    return atomic.write_json(path, payload, indent=1)


def read_folds(path: str | Path) -> dict:
    """Read a fold file; returns its dict (``folds`` checked to be subject-exclusive).

    Raises:
        DatasetLayoutError: missing file, unknown format, or folds that overlap.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetLayoutError(f"fold file missing: {path}")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DatasetLayoutError(f"{path}: not JSON ({err})") from err
    if payload.get("format") != FORMAT or not isinstance(payload.get("folds"), dict):
        raise DatasetLayoutError(f"{path}: not a fold file of format {FORMAT}")
    try:
        check_exclusive(payload["folds"])
        if payload.get("subject_persons"):
            check_person_exclusive(payload["folds"], payload["subject_persons"])
    except ConfigError as err:
        raise DatasetLayoutError(f"{path}: {err}") from err
    return payload
