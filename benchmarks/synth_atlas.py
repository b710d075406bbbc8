"""SynthAU atlas figures for the data card: each AU alone at intensities 0, 1, 3, 5, and turns.

Two steps, so that the renderer of another checkout (the "before" atlas) can be used::

    # render with whichever libreface_nb is first on the path (e.g. git main's, for "before")
    PYTHONPATH=/path/to/old python benchmarks/synth_atlas.py dump /tmp/before.npy
    python benchmarks/synth_atlas.py dump /tmp/after.npy
    python benchmarks/synth_atlas.py compose /tmp/before.npy /tmp/after.npy data_cards/figures

``dump`` writes uint8 ``[17, 4, S, S, 3]`` (AU, level) of subject S001 (the astronaut, seed 0)
and S002 (Grace Hopper) stacked along a first axis ``[2, 17, 4, S, S, 3]``, canonical view, no
degradation. ``compose`` writes palette PNGs (< 300 kB each): ``synthau_atlas_after.png`` (all
AUs, new renderer), ``synthau_atlas_before_after.png`` (eight AUs, old beside new) and
``synthau_turns.png`` (yaw −25…25°, pitch ±20°, new renderer only).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np

LEVELS = (0.0, 1.0, 3.0, 5.0)
TILE = 112
#: AUs shown old-beside-new (each has a new appearance or mouth change).
COMPARE = (1, 4, 6, 9, 12, 17, 25, 26)


def dump(path: str, size: int = TILE) -> None:
    from libreface_nb.data import synth

    subjects = synth.make_subjects(2, seed=0)
    grids = [synth.atlas(s, synth.SYNTH_AUS, LEVELS, size=size) for s in subjects]
    np.save(path, np.stack(grids))


def _label(tile_row: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = tile_row.copy()
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _save(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(img).quantize(
        colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG
    ).save(path, optimize=True)


def compose(before: str, after: str, out_dir: str) -> list[Path]:
    from libreface_nb.data import synth

    old, new = np.load(before), np.load(after)
    aus = synth.SYNTH_AUS
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    # All AUs, new renderer: rows = AU, columns = level (the astronaut).
    rows = []
    for i, au in enumerate(aus):
        row = np.concatenate(list(new[0, i]), axis=1)
        rows.append(_label(row, f"AU{au}  0 1 3 5"))
    paths.append(out / "synthau_atlas_after.png")
    _save(np.concatenate(rows), paths[-1])
    # Old beside new for a few AUs (astronaut).
    rows = []
    for au in COMPARE:
        i = aus.index(au)
        row = np.concatenate([*old[0, i], np.full((TILE, 6, 3), 255, np.uint8), *new[0, i]], 1)
        rows.append(_label(row, f"AU{au} before | after"))
    paths.append(out / "synthau_atlas_before_after.png")
    _save(np.concatenate(rows), paths[-1])
    # Head turns with a smile and parted lips.
    subjects = synth.make_subjects(2, seed=0)
    turns = [(-25, 0), (-12, 0), (0, 0), (12, 0), (25, 0), (0, -20), (0, 20)]
    rows = [
        np.concatenate(
            [
                synth.render_face(
                    s,
                    {6: 3.0, 12: 4.0, 25: 2.0},
                    size=112,
                    pose=False,
                    degrade=False,
                    yaw=y,
                    pitch=p,
                )  # fmt: skip
                for y, p in turns
            ],
            axis=1,
        )
        for s in subjects
    ]
    paths.append(out / "synthau_turns.png")
    _save(np.concatenate(rows), paths[-1])
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("path")
    c = sub.add_parser("compose")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("out_dir")
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.path)
    else:
        for p in compose(args.before, args.after, args.out_dir):
            print(p, p.stat().st_size // 1024, "kB")


if __name__ == "__main__":
    main()
