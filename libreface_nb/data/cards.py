"""Counts in data cards, written by code from an index (never typed by hand).

A card holds a block between ``<!-- counts:begin -->`` and ``<!-- counts:end -->``;
:func:`write_counts` replaces what is between the markers with Markdown tables of subjects,
sources and frames per split, per-label counts, and rows the reader left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb import atomic
from libreface_nb.config import DISFA_PRESENCE_THRESHOLD, EXPRESSIONS
from libreface_nb.data.index import au_columns, excluded_counts
from libreface_nb.errors import LibreFaceError

BEGIN = "<!-- counts:begin -->"
END = "<!-- counts:end -->"


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table (no index)."""
    head = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def split_counts(index: pd.DataFrame) -> pd.DataFrame:
    """Subjects, sessions (subject × session), sources (files) and samples per official split,
    plus a total row."""
    splits = index["split"].replace("", "(none)")
    groups = list(index.groupby(splits, sort=True)) if index["split"].ne("").any() else []
    rows = []
    for name, part in [*groups, ("all", index)]:
        rows.append({"split": name, "subjects": part["subject"].nunique(),
                     "sessions": len(part.groupby(["subject", "session"])),
                     "sources": part["source"].nunique(), "samples": len(part)})  # fmt: skip
    return pd.DataFrame(rows)


def _is_intensity(index: pd.DataFrame, values: pd.Series) -> bool:
    if set(index["dataset"]) == {"disfa"}:
        return True
    return not np.isin(values.dropna().to_numpy(), (0.0, 1.0)).all()


def au_counts(index: pd.DataFrame) -> pd.DataFrame:
    """Per AU: labelled and unknown samples, how many present (intensity ≥ 2 or occurrence
    = 1) and the mean known value."""
    rows = []
    for col in au_columns(index):
        values = index[col]
        known = values.dropna()
        intensity = _is_intensity(index, values)
        present = int(
            (known >= DISFA_PRESENCE_THRESHOLD).sum() if intensity else (known == 1).sum()
        )
        share = f"{100 * present / len(known):.1f} %" if len(known) else "–"
        rows.append(
            {
                "label": col,
                "labelled": len(known),
                "unknown": int(values.isna().sum()),
                "present": f"{present} ({share})",
                "mean": f"{known.mean():.2f}" if len(known) else "–",
            }
        )
    return pd.DataFrame(rows)


def expression_counts(index: pd.DataFrame) -> pd.DataFrame:
    """Samples per expression class and split."""
    splits = sorted(set(index["split"]))
    rows = []
    for k, name in enumerate(EXPRESSIONS):
        row = {"expression": f"{k} {name}"}
        for split in splits:
            row[split or "(none)"] = int(
                ((index["expression"] == k) & (index["split"] == split)).sum()
            )
        row["all"] = int((index["expression"] == k).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def counts_markdown(index: pd.DataFrame, title: str = "") -> str:
    """The Markdown written between the markers (deterministic: no dates)."""
    parts = [f"Counts of {title}, written by `libreface_nb.data.cards.write_counts`." if title
             else "Counts written by `libreface_nb.data.cards.write_counts`."]  # fmt: skip
    parts.append(markdown_table(split_counts(index)))
    if au_columns(index):
        parts.append(markdown_table(au_counts(index)))
    if "expression" in index.columns:
        parts.append(markdown_table(expression_counts(index)))
    excluded = excluded_counts(index)
    if len(excluded):
        parts.append("Left out of the index by the reader:\n\n" + markdown_table(excluded))
    return "\n\n".join(parts)


def write_counts(card_path: str | Path, index_df: pd.DataFrame, *, title: str = "") -> str:
    """Replace the text between the count markers of a card with counts of ``index_df``.

    Returns:
        The new block (without markers).

    Raises:
        LibreFaceError: if the card is missing or lacks exactly one pair of markers.
    """
    path = Path(card_path)
    if not path.is_file():
        raise LibreFaceError(f"data card missing: {path}")
    block = counts_markdown(index_df, title)
    _replace_block(path, block)
    return block


def write_fixture_cards(
    cards_dir: str | Path, cache_dir: str | Path, *, seed: int = 0
) -> dict[str, str]:
    """Build (or reuse) every registered dataset's default fixture and write its counts into the
    dataset's card under ``cards_dir`` (``disfa.md`` …, :attr:`DatasetSpec.card`)."""
    from libreface_nb.data import registry
    from libreface_nb.data.fixtures import make_fixture

    written = {}
    for name, spec in registry.specs().items():
        index = spec.read_index(make_fixture(name, cache_dir, seed=seed))
        card = spec.card
        call = f"`make_fixture('{name}', root, seed={seed})`"
        title = f"the SynthAU fixture in this layout ({call}, default sizes)"
        written[name] = write_counts(Path(cards_dir) / card, index, title=title)
    return written


def synthau_markdown(indexes: dict[str, pd.DataFrame], stats: dict[str, dict]) -> str:
    """One row per SynthAU fixture layout: subjects, sources, samples, files and size on disk."""
    rows = []
    for name, index in indexes.items():
        rows.append(
            {
                "fixture layout": name,
                "subjects": index["subject"].nunique(),
                "sources (files to decode)": index["source"].nunique(),
                "labelled samples": len(index),
                "files written": stats[name]["files"],
                "size (MB)": f"{stats[name]['bytes'] / 1e6:.2f}",
            }
        )
    head = (
        "Counts of the four SynthAU fixtures at their default sizes (seed 0), written by "
        "`libreface_nb.data.cards.write_synthau_card`. Per-label counts are in each dataset's card."
    )
    return f"{head}\n\n{markdown_table(pd.DataFrame(rows))}"


def _replace_block(path: Path, block: str) -> None:
    text = path.read_text()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise LibreFaceError(f"{path}: needs one '{BEGIN}' line followed by one '{END}' line")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    atomic.write_text(path, f"{head}{BEGIN}\n{block}\n{END}{tail}")


def write_synthau_card(cards_dir: str | Path, cache_dir: str | Path, *, seed: int = 0) -> str:
    """Build (or reuse) every registered default fixture; write their counts into ``synthau.md``."""
    from libreface_nb.data import registry
    from libreface_nb.data.fixtures import fixture_stats, make_fixture

    indexes, stats = {}, {}
    for name, spec in registry.specs().items():
        root = make_fixture(name, cache_dir, seed=seed)
        indexes[name], stats[name] = spec.read_index(root), fixture_stats(root)
    block = synthau_markdown(indexes, stats)
    _replace_block(Path(cards_dir) / "synthau.md", block)
    return block


def real_faces_markdown(folder: str | Path) -> str:
    """Counts of a real-face folder (``neutral/``, ``smiling/``): persons and photos per set (the
    part of the stem before ``_``), pixel sizes, bytes, and how many photos SynthAU can use
    (:func:`~libreface_nb.data.synth.base.screen_bases`)."""
    from PIL import Image

    from libreface_nb.data.persons import photo_set
    from libreface_nb.data.synth.base import screen_bases

    photos = photo_set(folder)
    photos["set"] = photos["person"].str.split("_").str[0]
    rows = []
    for (name, kind), part in photos.groupby(["set", "expression"]):
        sizes = []
        for path in part["path"]:
            with Image.open(path) as im:
                sizes.append(im.size)
        rows.append({
            "set": name, "photos": kind, "persons": part["person"].nunique(),
            "long side (px)": max(max(wh) for wh in sizes),
            "size (MB)": f"{sum(Path(p).stat().st_size for p in part['path']) / 1e6:.2f}",
        })  # fmt: skip
    neutral = tuple(photos.loc[photos["expression"] == "neutral", "path"])
    kept, skipped = screen_bases(neutral)
    head = (
        f"{photos['person'].nunique()} persons, {len(photos)} photos, written by "
        "`libreface_nb.data.cards.write_real_faces_card`. SynthAU can use "
        f"{len(kept)} of the {len(neutral)} neutral photos as base photos "
        f"({len(skipped)} skipped by the one-frontal-face screening)."
    )
    return f"{head}\n\n{markdown_table(pd.DataFrame(rows))}"


def write_real_faces_card(cards_dir: str | Path) -> str:
    """Write the carried real faces' counts into ``real_faces.md``."""
    from libreface_nb.data.synth.base import REAL_FACES

    block = real_faces_markdown(REAL_FACES)
    _replace_block(Path(cards_dir) / "real_faces.md", block)
    return block


def main() -> None:
    """``python -m libreface_nb.data.cards``: regenerate the counts of every data card."""
    import logging

    from libreface_nb.config import REPO_ROOT
    from libreface_nb.data.fixtures import fixture_cache_dir

    logging.basicConfig(level=logging.INFO)
    cards_dir = REPO_ROOT / "data_cards"
    write_fixture_cards(cards_dir, fixture_cache_dir())
    write_synthau_card(cards_dir, fixture_cache_dir())
    write_real_faces_card(cards_dir)
    logging.getLogger(__name__).info("counts written into %s", cards_dir)


if __name__ == "__main__":
    main()
