"""Fixture writers for the expression datasets: RAF-DB (basic) and AffectNet (manual part).

Faces are SynthAU renders with FACS-prototype intensities for their class, pasted at a seeded
place on a larger plain canvas, so that face detection has something to find (as in the
real, unaligned photographs). As in :mod:`~libreface_nb.data.fixtures_au`, a pure plan holds
the labels and a writer renders it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from libreface_nb.config import BP4D_AUS, DISFA_AUS, RAFDB_TO_FER
from libreface_nb.data.fixtures import DEFAULT_SIZES, Backend, derive_seed, encode_jpeg, write_file

_RAFDB, _AFFECTNET = 3, 4
RAFDB_ALIGNED_SIZE = 100  # RAF-DB's own aligned crops are 100×100
MIX_AUS: tuple[int, ...] = tuple(sorted(set(DISFA_AUS) | set(BP4D_AUS)))
#: Rough circumplex positions (valence, arousal) per AffectNet code, for plausible CSV values.
VALENCE_AROUSAL = {
    0: (0.0, 0.0), 1: (0.7, 0.4), 2: (-0.6, -0.3), 3: (0.2, 0.7), 4: (-0.6, 0.7),
    5: (-0.6, 0.3), 6: (-0.6, 0.6), 7: (-0.4, 0.2), 8: (0.0, 0.1), 9: (0.0, 0.0),
}  # fmt: skip
AFFECTNET_HEADER = (
    "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,"
    "expression,valence,arousal"
)
NO_FACE = 10


def _balanced(codes: list[int], n: int, rng: np.random.Generator) -> list[int]:
    """``n`` codes cycling through ``codes``, shuffled."""
    out = [codes[k % len(codes)] for k in range(n)]
    return [out[j] for j in rng.permutation(n)]


def _canvas(
    face: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Paste a face tile [S, S, 3] on a larger plain canvas; return it and the tile's box
    (x, y, w, h) in pixels."""
    size = face.shape[0]
    w, h = size + int(rng.integers(16, size // 2)), size + int(rng.integers(16, size // 2))
    x, y = int(rng.integers(0, w - size)), int(rng.integers(0, h - size))
    colour = rng.integers(40, 215, size=3)
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = colour.astype(np.uint8)
    canvas[y : y + size, x : x + size] = face
    return canvas, (x, y, size, size)


def _no_face(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth colour texture [H, W, 3] with no face in it (AffectNet code 10)."""
    import cv2

    small = rng.integers(0, 256, size=(6, 6, 3)).astype(np.uint8)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _mixed_intensities(rng: np.random.Generator) -> dict[int, float]:
    """A few AUs at random intensities: a face that fits no prototype (codes 8 and 9)."""
    chosen = rng.choice(len(MIX_AUS), size=int(rng.integers(1, 4)), replace=False)
    return {MIX_AUS[j]: float(rng.uniform(1.0, 4.0)) for j in chosen}


def rafdb_plan(seed: int, sizes: dict, backend: Backend) -> pd.DataFrame:
    """One row per image: ``name``, ``split``, ``native_label`` (1–7), ``expression``
    (FER index), ``identity``, ``intensities`` and ``frame_seed``."""
    sizes = {**DEFAULT_SIZES["rafdb"], **sizes}
    rng = np.random.default_rng(derive_seed(seed, _RAFDB))
    rows = []
    for split, n, width in (("train", sizes["n_train"], 5), ("test", sizes["n_test"], 4)):
        labels = _balanced(list(RAFDB_TO_FER), n, rng)
        for k, label in enumerate(labels, start=1):
            fer = RAFDB_TO_FER[label]
            item_seed = derive_seed(seed, _RAFDB, len(rows))
            rows.append(
                {
                    "name": f"{split}_{k:0{width}d}.jpg",  # train_00001.jpg, test_0001.jpg
                    "split": split,
                    "native_label": label,
                    "expression": fer,
                    "identity": int(rng.integers(sizes["n_identities"])),
                    "intensities": backend.expression_intensities(fer, item_seed),
                    "frame_seed": item_seed,
                }
            )
    return pd.DataFrame(rows)


def write_rafdb(folder: Path, seed: int, sizes: dict, backend: Backend) -> None:
    """Lay out ``basic/Image/{original,aligned}`` and ``basic/EmoLabel/list_patition_label.txt``."""
    import cv2

    plan = rafdb_plan(seed, sizes, backend)
    subjects = backend.make_subjects(sizes["n_identities"], seed)
    basic = folder / "basic"
    for _, r in plan.iterrows():
        face = backend.render_face(
            subjects[r["identity"]],
            r["intensities"],
            size=sizes["size"],
            frame_seed=int(r["frame_seed"]),
        )
        canvas, _ = _canvas(face, np.random.default_rng(int(r["frame_seed"])))
        write_file(basic / "Image" / "original" / r["name"], encode_jpeg(canvas))
        small = cv2.resize(
            face, (RAFDB_ALIGNED_SIZE, RAFDB_ALIGNED_SIZE), interpolation=cv2.INTER_AREA
        )
        aligned = f"{Path(r['name']).stem}_aligned.jpg"
        write_file(basic / "Image" / "aligned" / aligned, encode_jpeg(small))
    lines = "".join(
        f"{n} {lab}\n" for n, lab in zip(plan["name"], plan["native_label"], strict=True)
    )
    write_file(basic / "EmoLabel" / "list_patition_label.txt", lines)


def affectnet_plan(seed: int, sizes: dict, backend: Backend) -> pd.DataFrame:
    """One row per image: ``split`` (train/validation), ``path`` (``<dir>/<sha224>.jpg``),
    ``expression`` (0–10), ``identity``, ``intensities``, ``frame_seed``, valence, arousal."""
    sizes = {**DEFAULT_SIZES["affectnet"], **sizes}
    rng = np.random.default_rng(derive_seed(seed, _AFFECTNET))
    rows = []
    # Codes 8–10 (None, Uncertain, Non-Face) appear so that readers must leave them out.
    extra = {"train": [8, 9, NO_FACE], "validation": [NO_FACE]}
    for split, n in (("train", sizes["n_train"]), ("validation", sizes["n_validation"])):
        codes = extra[split][:n] + _balanced(list(range(8)), max(0, n - len(extra[split])), rng)
        for k, code in enumerate(codes):
            item_seed = derive_seed(seed, _AFFECTNET, len(rows))
            item_rng = np.random.default_rng(item_seed)
            digest = hashlib.sha224(f"{seed}-{split}-{k}".encode()).hexdigest()
            if code < 8:
                intensities = backend.expression_intensities(code, item_seed)
            else:
                intensities = _mixed_intensities(item_rng) if code != NO_FACE else {}
            v, a = VALENCE_AROUSAL.get(code, (-2.0, -2.0))  # -2: no rating for Non-Face
            jitter = item_rng.normal(0, 0.05, 2) if code != NO_FACE else np.zeros(2)
            rows.append(
                {
                    "split": split,
                    "path": f"{int(rng.integers(1, 1000))}/{digest}.jpg",
                    "expression": code,
                    "identity": int(rng.integers(sizes["n_identities"])),
                    "intensities": intensities,
                    "frame_seed": item_seed,
                    "valence": float(np.clip(v + jitter[0], -1, 1)) if code != NO_FACE else v,
                    "arousal": float(np.clip(a + jitter[1], -1, 1)) if code != NO_FACE else a,
                }
            )
    return pd.DataFrame(rows)


def _landmarks(box: tuple[int, int, int, int]) -> str:
    """68 placeholder points on an ellipse inside the face box, ``x;y;…`` (not a real fit)."""
    x, y, w, h = box
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    pts = np.stack([x + w * (0.5 + 0.35 * np.cos(t)), y + h * (0.55 + 0.4 * np.sin(t))], axis=1)
    return ";".join(f"{v:.2f}" for v in pts.ravel())


def write_affectnet(folder: Path, seed: int, sizes: dict, backend: Backend) -> None:
    """Lay out ``Manually_Annotated_Images/<dir>/<file>.jpg`` and the two list CSVs
    (``training.csv`` with a header row, ``validation.csv`` without, as AffectNet ships them)."""
    plan = affectnet_plan(seed, sizes, backend)
    subjects = backend.make_subjects(sizes["n_identities"], seed)
    lines: dict[str, list[str]] = {"train": [AFFECTNET_HEADER], "validation": []}
    for _, r in plan.iterrows():
        rng = np.random.default_rng(int(r["frame_seed"]))
        face = backend.render_face(
            subjects[r["identity"]],
            r["intensities"],
            size=sizes["size"],
            frame_seed=int(r["frame_seed"]),
        )
        canvas, box = _canvas(face, rng)
        if r["expression"] == NO_FACE:
            canvas = _no_face(canvas.shape[:2], rng)
        write_file(folder / "Manually_Annotated_Images" / r["path"], encode_jpeg(canvas))
        cells = [r["path"], *map(str, box), _landmarks(box), str(r["expression"]),
                 f"{r['valence']:.6f}", f"{r['arousal']:.6f}"]  # fmt: skip
        lines[r["split"]].append(",".join(cells))
    lists = folder / "Manually_Annotated_file_lists"
    write_file(lists / "training.csv", "\n".join(lines["train"]) + "\n")
    write_file(lists / "validation.csv", "\n".join(lines["validation"]) + "\n")
