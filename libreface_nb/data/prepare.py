"""Notebook 01's steps as functions: get a dataset index, count faces, choose folds, show faces.

The notebook stays a list of calls; each step here is small and testable.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import EXPRESSIONS
from libreface_nb.data import registry
from libreface_nb.data.fixtures.cache import (  # noqa: F401 - their old home, still importable
    CACHE_DIR,
    fixture_cache_dir,
    fixture_fingerprint,
    fixture_root,
)
from libreface_nb.errors import ConfigError, NoFaceError

log = logging.getLogger(__name__)

#: Registered dataset names (:mod:`libreface_nb.data.registry`).
READERS = registry.NAMES


@dataclass
class LoadedDataset:
    """A dataset index and where it came from.

    ``subject_bases``: for a SynthAU fixture, index subject → the base photo it was made from
    (:func:`~libreface_nb.data.fixtures.fixture_subject_bases`); {} for provider data.
    ``skipped_bases``: ``[[photo, reason], …]`` for base photos the fixture could not use.
    """

    name: str
    root: Path
    index: pd.DataFrame
    synthetic: bool
    subject_bases: dict[str, str] = field(default_factory=dict)
    skipped_bases: list[list[str]] = field(default_factory=list)

    @property
    def subject_persons(self) -> dict[str, str]:
        """Index subject → the person it shows (SynthAU: its base photo; {} for provider data,
        where each subject is its own person)."""
        from libreface_nb.data.synth.base import person_of

        return {s: person_of(b) for s, b in self.subject_bases.items()}

    @property
    def persons(self) -> list[str]:
        """The distinct persons of a SynthAU fixture, sorted."""
        return sorted(set(self.subject_persons.values()))


def fixture_sizes(name: str, n_subjects: int, n_frames: int) -> dict[str, int]:
    """Map the notebook's two size knobs onto a fixture's own size parameters."""
    return registry.get(name).notebook_sizes(n_subjects, n_frames)


def load_dataset(
    name: str,
    data_root: str | Path = "",
    *,
    seed: int = 0,
    n_subjects: int = 3,
    n_frames: int = 40,
    cache_dir: str | Path | None = None,
    base_photos: str = "",
) -> LoadedDataset:
    """Read a dataset in its native layout, or build the SynthAU fixture in that layout first.

    Args:
        name: a registered dataset (:data:`~libreface_nb.data.registry.NAMES`).
        data_root: the provider's folder; empty = generate (or reuse) the SynthAU fixture.
        seed: fixture seed.
        n_subjects: fixture pseudo-subjects (identities for the FER layouts).
        n_frames: fixture frames per video (DISFA), 2× frames per task (BP4D), or images.
        cache_dir: where fixtures are generated (default
            :func:`~libreface_nb.data.fixtures.fixture_cache_dir`).
        base_photos: fixture base photos: comma-separated bundled names, image paths or
            folders; empty = the two bundled photos (see
            :func:`~libreface_nb.data.synth.parse_base_photos`).
    """
    spec = registry.get(name)
    synthetic = not str(data_root)
    bases: dict[str, str] = {}
    skipped: list[list[str]] = []
    if synthetic:
        from libreface_nb.data import fixtures

        sizes = spec.notebook_sizes(n_subjects, n_frames)
        record = fixtures.base_photo_record(base_photos)
        tag = hashlib.sha1(json.dumps(record).encode()).hexdigest()[:10] if record else ""
        folder = fixture_root(sizes, seed, cache_dir, tag=tag)
        root = fixtures.make_fixture(name, folder, seed=seed, base_photos=base_photos, **sizes)
        bases = fixtures.fixture_subject_bases(root)
        info = fixtures.read_fixture_info(root) or {}
        skipped = list(info.get("params", {}).get("skipped_bases", []))
    elif str(base_photos).strip():
        raise ConfigError("base_photos applies to SynthAU fixtures only: leave data_root empty")
    else:
        root = Path(data_root).expanduser()
    index = spec.read_index(root)
    log.info("%s: %d rows, %d subjects from %s", name, len(index), index.subject.nunique(), root)
    return LoadedDataset(
        name, Path(root), index, synthetic, subject_bases=bases, skipped_bases=skipped
    )


def make_folds(
    index: pd.DataFrame,
    name: str,
    n_folds: int,
    seed: int,
    *,
    holdout_base: str = "",
    subject_bases: dict[str, str] | None = None,
) -> tuple[dict[str, dict[str, list[str]]], str]:
    """Subject-exclusive folds with validation subjects held out from each training side.

    Datasets with published folds (DISFA, BP4D: 3 parts) use them when ``n_folds`` matches and
    every part has a subject in the index; otherwise k-fold by subject. Datasets with an
    official split (RAF-DB, AffectNet) use it (``n_folds`` is ignored there). See
    :class:`~libreface_nb.data.registry.DatasetSpec`.

    A SynthAU fixture made from at least ``n_folds + 2`` persons (``subject_bases`` records
    them) gets person-exclusive folds instead (:func:`~libreface_nb.data.folds.person_folds`,
    kind ``"person-<k>fold"``): its pseudo-subjects of one person stay on one side. With fewer
    persons (the two bundled photos) the folds stay subject-exclusive, and a subject tested may
    share its person with a training subject (notebook 01 says so).

    ``holdout_base`` (a SynthAU base photo: bundled name or path) replaces all that by one fold
    ``holdout`` whose test subjects are exactly those made from it (kind ``"holdout-base"``);
    ``subject_bases`` is the fixture's subject → base record (``LoadedDataset.subject_bases``).

    Returns:
        (folds, kind) where kind names the partition used.
    """
    from libreface_nb.data import folds as F

    if str(holdout_base).strip():
        from libreface_nb.data.synth.base import base_key

        if not subject_bases:
            raise ConfigError(
                "holdout_base needs a SynthAU fixture that records its base photos "
                "(data_root empty); provider data has no base photos"
            )
        key = base_key(holdout_base.strip())
        folds = F.holdout_fold(subject_bases, index["subject"], key, seed=seed)
        return folds, "holdout-base"
    spec = registry.get(name)
    if spec.official_split:
        return F.official_split(index, seed=seed), "official"
    subjects = sorted(set(index["subject"]))
    if subject_bases:
        from libreface_nb.data.synth.base import person_of

        persons = {s: person_of(subject_bases[s]) for s in subjects if s in subject_bases}
        if len(persons) == len(subjects) and len(set(persons.values())) >= n_folds + 2:
            return F.person_folds(persons, n_folds, seed=seed), f"person-{n_folds}fold"
    published = spec.published_folds() if spec.published_folds else None
    if published and n_folds == len(published):
        present = set(subjects)
        in_parts = set().union(*map(set, published.values()))
        if present <= in_parts and all(set(test) & present for test in published.values()):
            return F.with_validation(published, subjects, seed=seed), f"{name}-3fold-published"
        log.info("the published %s parts do not cover these subjects: k-fold by subject", name)
    test = F.subject_kfold(subjects, n_folds, seed)
    return F.with_validation(test, subjects, seed=seed), f"subject-{n_folds}fold"


def with_persons(index: pd.DataFrame, subject_persons: dict[str, str]) -> pd.DataFrame:
    """The index with a ``person`` column: the person each row shows (its subject when the
    dataset records no persons, as in DISFA and BP4D where a subject is a person)."""
    out = index.copy()
    subjects = out["subject"].astype(str)
    out["person"] = subjects.map(subject_persons).fillna(subjects).astype(str)
    return out


def person_gallery(
    subject_bases: dict[str, str], roles: dict[str, str], size: int = 72
) -> tuple[list[np.ndarray], list[str]]:
    """One thumbnail per person of a SynthAU fixture (its base photo, cropped to the face) and a
    caption ``<person>\n<role>``, persons sorted by role (train, val, test) then name.

    Args:
        subject_bases: index subject → base-photo key (``LoadedDataset.subject_bases``).
        roles: index subject → its role in one fold (``train``, ``val`` or ``test``).
        size: thumbnail side in pixels.
    """
    import cv2

    from libreface_nb.data.synth.base import base_mesh, load_base_photo, person_of

    first: dict[str, tuple[str, str]] = {}
    for subject, key in sorted(subject_bases.items()):
        first.setdefault(person_of(key), (key, roles.get(subject, "train")))
    order = sorted(first, key=lambda p: (ROLES.index(first[p][1]), p))
    images, captions = [], []
    for person in order:
        key, role = first[person]
        photo, mesh = load_base_photo(key), base_mesh(key)
        (x0, y0), (x1, y1) = mesh.min(0), mesh.max(0)
        half = 0.6 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        m = np.array([[size / (2 * half), 0, size / 2 - cx * size / (2 * half)],
                      [0, size / (2 * half), size / 2 - cy * size / (2 * half)]])  # fmt: skip
        images.append(cv2.warpAffine(photo, m, (size, size), flags=cv2.INTER_AREA,
                                     borderMode=cv2.BORDER_REPLICATE))  # fmt: skip
        captions.append(f"{person}\n{role}")
    return images, captions


#: Fold roles in table order.
ROLES: tuple[str, ...] = ("train", "val", "test")


def fold_role_table(index: pd.DataFrame, folds: dict[str, dict[str, list[str]]]) -> pd.DataFrame:
    """Index rows per role in each fold: one row per role (train, val, test), one column per
    fold, int64 counts (0 where a fold has no row in a role)."""
    from libreface_nb.data import folds as F

    roles = F.assign_folds(index, folds)
    counts = {name: roles[name].value_counts() for name in roles.columns}
    table = pd.DataFrame(counts, index=list(ROLES), columns=list(folds)).fillna(0)
    return table.astype("int64")


def face_metrics(index: pd.DataFrame, manifest: pd.DataFrame) -> dict[str, int | float]:
    """Notebook 01's headline face numbers for ``manifest`` (the rows answering ``index``).

    Returns:
        ``n_frames`` (distinct (source, frame) of the index), ``n_manifest_rows``,
        ``n_faces_ok`` (rows with status ok) and ``face_detection_rate`` (share of the frames
        with an ok face, :func:`~libreface_nb.faces.manifest.detection_rate`).
    """
    from libreface_nb.faces.manifest import detection_rate

    return {
        "n_frames": int(len(index[["source", "frame"]].drop_duplicates())),
        "n_manifest_rows": int(len(manifest)),
        "n_faces_ok": int((manifest["status"] == "ok").sum()),
        "face_detection_rate": float(detection_rate(index, manifest)),
    }


def label_columns(index: pd.DataFrame) -> list[str]:
    """The label columns of an index: its AU columns, else ``["expression"]``."""
    from libreface_nb.data.index import au_columns

    aus = au_columns(index)
    return aus if aus else ["expression"]


def atlas_aus(index: pd.DataFrame) -> list[int]:
    """AUs to show in the AU atlas: the dataset's own AUs, else LibreFace's DISFA twelve."""
    from libreface_nb.config import DISFA_AUS
    from libreface_nb.data.index import au_columns

    return [int(c[2:]) for c in au_columns(index)] or list(DISFA_AUS)


def caption(row: pd.Series, columns: list[str], top: int = 3) -> str:
    """Short caption of a sample: subject, frame and its strongest labels."""
    head = f"{row['subject']} f{int(row['native_frame'])}"
    if columns == ["expression"]:
        e = int(row["expression"])
        return f"{head}\n{EXPRESSIONS[e] if e >= 0 else 'unknown'}"
    values = row[columns].astype(float)
    strongest = values.dropna().sort_values(ascending=False).head(top)
    labels = ", ".join(f"{c} {v:g}" for c, v in strongest.items() if v > 0) or "no AU"
    return f"{head}\n{labels}"


def sample_faces(
    index: pd.DataFrame, manifest: pd.DataFrame, store_dir: str | Path, n: int, seed: int
) -> tuple[list[np.ndarray], list[str]]:
    """``n`` aligned faces with captions, spread over subjects (deterministic given ``seed``)."""
    from libreface_nb.faces.manifest import first_faces
    from libreface_nb.faces.store import load_face

    ok = first_faces(manifest)[["source", "frame", "face_file"]]
    joined = index.merge(ok, on=["source", "frame"])
    if joined.empty:
        statuses = manifest["status"].value_counts().to_dict()
        raise NoFaceError(
            f"no aligned face in {store_dir} for this index (manifest statuses: {statuses}); "
            "see the manifest's reason column"
        )
    rng = np.random.default_rng(seed)
    picks = joined.iloc[np.sort(rng.choice(len(joined), min(n, len(joined)), replace=False))]
    columns = label_columns(index)
    images = [load_face(store_dir, f) for f in picks["face_file"]]
    return images, [caption(r, columns) for _, r in picks.iterrows()]
