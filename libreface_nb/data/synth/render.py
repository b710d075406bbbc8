"""SynthAU: faces with known Action Unit intensities, for tests, CI and teaching.

Real face photographs that ship in installed packages (scikit-image's astronaut, matplotlib's
grace_hopper, or any photo given as a base) are meshed once by MediaPipe; each AU moves
landmark groups by a known amount and paints its skin changes, and the photo is warped
piecewise-affinely over the mesh triangles. A frame, in order: the subject's working image
(identity mix, backdrop, colour style: :mod:`.scene`, :mod:`.style`); the AUs' creases and
bulges painted in (:mod:`.appearance`); the mesh moved (:mod:`.aus`), turned out of plane and
relit (:mod:`.pose`), warped (:mod:`.warp`); the mouth interior drawn (:mod:`.mouth`); an
occluder on some frames (:mod:`.scene`); blur, noise, JPEG (:mod:`.style`).

Label conventions: AU intensities are floats in [0, 5] keyed by AU number (``{12: 3.5}``), the
union of DISFA's and BP4D's AUs (:data:`SYNTH_AUS`); a missing AU is 0. Intensity 0 leaves the
face as the base photo (plus the subject's identity shape; nothing is painted); displacement and
the darkness of creases grow linearly to their maximum at 5. Expression classes are indices
into :data:`libreface_nb.config.EXPRESSIONS`.

Typical use::

    subjects = make_subjects(6, seed=0)
    curves = au_curves(120, SYNTH_AUS, seed=1)            # [120, 17] in [0, 5]
    frame = render_face(subjects[0], dict(zip(SYNTH_AUS, curves[10])), frame_seed=10)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from libreface_nb.config import EXPRESSIONS, INTENSITY_MAX
from libreface_nb.data.synth import appearance as P
from libreface_nb.data.synth import aus as A
from libreface_nb.data.synth import mouth as M
from libreface_nb.data.synth import pose as P3
from libreface_nb.data.synth import scene as C
from libreface_nb.data.synth import style as S
from libreface_nb.data.synth import warp as W
from libreface_nb.data.synth.base import BASES, CROP_SCALE, base_face, base_key

#: AUs SynthAU can move: the union of DISFA's and BP4D's AUs (config.DISFA_AUS, config.BP4D_AUS).
SYNTH_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26)

#: FACS prototypes per expression index (config.EXPRESSIONS order): happiness 6+12, sadness
#: 1+4+15, surprise 1+2+5+26, fear 1+2+4+5+7+20+26, disgust 9+15 (+10 half the time), anger
#: 4+5+7+23, contempt unilateral 12+14, neutral none.
EXPRESSION_PROTOTYPES: dict[int, tuple[int, ...]] = {
    0: (),
    1: (6, 12),
    2: (1, 4, 15),
    3: (1, 2, 5, 26),
    4: (1, 2, 4, 5, 7, 20, 26),
    5: (9, 15),
    6: (4, 5, 7, 23),
    7: (12, 14),
}
#: Optional AUs of a prototype (added with probability 0.5).
EXPRESSION_OPTIONAL: dict[int, tuple[int, ...]] = {5: (10,)}
#: Expressions whose AUs act on one side of the face only.
UNILATERAL_EXPRESSIONS = (7,)

#: Skin of another base is mixed into subjects only when there are this many bases (two): more
#: bases are more people, and a subject must show one person (see :func:`make_subjects`).
MIX_MAX_BASES = 2

# Frame pose ranges (pose=True): in-plane rotation, scale, shift as a fraction of the output side.
ROTATION_DEG = 10.0
SCALE_RANGE = (0.9, 1.1)
SHIFT_FRAC = 0.04


@dataclass(frozen=True)
class SynthSubject:
    """A pseudo-subject: a base photo, an identity shape change and a colour/lighting style.

    Attributes:
        subject_id: e.g. ``"S001"``.
        base: the base photo's key: ``"astronaut"``, ``"grace_hopper"``, an image path or
            ``array:<hash>`` (:func:`~libreface_nb.data.synth.base.base_key`).
        seed: seeds the subject's frames (mixed with each frame's ``frame_seed``).
        mirror: whether frames are flipped left-right (a second identity per base photo).
        shape: identity coefficients ``[N_IDENTITY]`` (face width, eye distance, nose length,
            mouth width, brow height, chin length, lip fullness), each ~N(0, 1).
        style: colour and lighting style.
        backdrop: a :data:`~libreface_nb.data.synth.scene.BACKDROPS` name replacing the photo
            around the head, or ``""`` (the photo's own background).
        mix_base: another base photo whose skin is blended into this face (``""`` = none);
            ``mix``: its weight (0.25–0.5 when set).
    """

    subject_id: str
    base: str
    seed: int = 0
    mirror: bool = False
    shape: tuple[float, ...] = (0.0,) * A.N_IDENTITY
    style: S.Style = field(default_factory=S.Style)
    backdrop: str = ""
    mix_base: str = ""
    mix: float = 0.0


class AUIntensities(dict):
    """AU intensities ``{au: 0–5}`` that may carry the side of unilateral AUs.

    ``sides`` maps an AU number to ``"left"`` or ``"right"`` (the subject's side);
    :func:`render_face` moves those AUs on that side only. A plain ``dict`` is bilateral.
    """

    def __init__(self, values: Mapping[int, float] = (), sides: Mapping[int, str] = ()) -> None:
        super().__init__(values)
        self.sides: dict[int, str] = dict(sides)


def make_subjects(
    n: int, seed: int, bases: Sequence[str | np.ndarray] | None = None
) -> list[SynthSubject]:
    """``n`` deterministic pseudo-subjects; bases taken in turn (default astronaut / grace_hopper).

    Subject ``i`` depends only on ``(seed, i)`` and its base ``bases[i % len(bases)]``, so
    ``make_subjects(3, s)[:2] == make_subjects(2, s)``. Every second round through the bases is
    mirrored, giving two distinct looks per base. 70 % of subjects get a backdrop
    (:mod:`.scene`). With two bases (the bundled pair, or a user's two photos), from the second
    round on, 70 % of subjects also get the other base's skin mixed in (the first subject of each
    base is its photo's own face): two photos give too few faces otherwise. With three or more
    bases nothing is mixed: each base photo is one person, and a subject must show one person
    only, so that person-exclusive folds (:func:`~libreface_nb.data.folds.person_folds`) hold.

    Args:
        n: number of subjects.
        seed: drives identity shape, style and frame seeds.
        bases: base photos: bundled names, image paths or uint8 RGB arrays (see
            :func:`~libreface_nb.data.synth.base.base_key`); default :data:`BASES`.
    """
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    keys = BASES if bases is None else tuple(base_key(b) for b in bases)
    if not keys:
        raise ValueError("bases must name at least one base photo")
    subjects = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        shape = np.clip(rng.standard_normal(A.N_IDENTITY), -2.0, 2.0)
        subject = SynthSubject(
            subject_id=f"S{i + 1:03d}",
            base=keys[i % len(keys)],
            seed=int(rng.integers(2**31)),
            mirror=(i // len(keys)) % 2 == 1,
            shape=tuple(round(float(v), 6) for v in shape),
            style=S.random_style(rng),
        )
        # Drawn after the fields above, so they are what they were before scenes existed.
        u_back, k_back, u_mix, k_mix, w_mix = rng.random(5)
        backdrop = "" if u_back < C.KEEP_BACKGROUND else C.BACKDROPS[int(k_back * len(C.BACKDROPS))]
        mix_base, mix = "", 0.0
        if i >= len(keys) and len(keys) == MIX_MAX_BASES and u_mix < 0.7:
            mix_base = keys[(i + 1 + int(k_mix * (len(keys) - 1))) % len(keys)]
            mix = round(0.25 + 0.25 * float(w_mix), 6)
        subjects.append(replace(subject, backdrop=backdrop, mix_base=mix_base, mix=mix))
    return subjects


@functools.lru_cache(maxsize=64)
def _styled_work(subject: SynthSubject, size: int) -> np.ndarray:
    """The subject's working image: identity mix, backdrop, then colour style (the camera's)."""
    base = base_face(subject.base, size)
    img = base.image
    if subject.mix_base and subject.mix > 0:
        img = C.mix_identity(base, base_face(subject.mix_base, size), subject.mix)
    if subject.backdrop:
        img = C.with_backdrop(img, base.mesh, C.backdrop(subject.backdrop, img.shape[0]))
    img = S.apply_style(img, subject.style)
    img.setflags(write=False)
    return img


@functools.lru_cache(maxsize=64)
def _identity(base: str, size: int, shape: tuple[float, ...]) -> np.ndarray:
    return A.identity_field(base_face(base, size).face, np.asarray(shape, np.float64))


def _check_intensities(intensities: Mapping[int, float]) -> dict[int, float]:
    out = {}
    for au, value in intensities.items():
        if au not in SYNTH_AUS:
            raise ValueError(f"AU{au} is not a SynthAU AU; expected one of {SYNTH_AUS}")
        v = float(value)
        if not (-1e-6 <= v <= INTENSITY_MAX + 1e-6):  # also rejects NaN
            raise ValueError(f"AU{au} intensity must be in [0, 5], got {value!r}")
        out[int(au)] = min(max(v, 0.0), INTENSITY_MAX)
    return out


def target_mesh(
    subject: SynthSubject,
    intensities: Mapping[int, float],
    size: int = 256,
    sides: Mapping[int, str] | None = None,
) -> np.ndarray:
    """The moved mesh in the face frame ``[478, 2]`` (IOD units) for these AU intensities."""
    base = base_face(subject.base, size)
    values = _check_intensities(intensities)
    sides = dict(getattr(intensities, "sides", {}) if sides is None else sides)
    disp = _identity(subject.base, size, tuple(subject.shape)).copy()
    for au, v in values.items():
        if v > 0:
            f = base.fields[au]
            side = sides.get(au, "both")
            if side not in ("both", "left", "right"):
                raise ValueError(f"side of AU{au} must be 'left', 'right' or 'both', got {side!r}")
            disp += (v / INTENSITY_MAX) * (f["right"] + f["left"] if side == "both" else f[side])
    return A.keep_slits_open(base.face, base.face + disp)


def view_matrix(subject: SynthSubject, size: int, rng: np.random.Generator | None) -> np.ndarray:
    """``[2, 3]`` affine from working-image to output pixels; ``rng`` None = no pose jitter."""
    base = base_face(subject.base, size)
    angle, scale, shift = 0.0, 1.0, np.zeros(2)
    if rng is not None:
        angle = math.radians(rng.uniform(-ROTATION_DEG, ROTATION_DEG))
        scale = rng.uniform(*SCALE_RANGE)
        shift = rng.uniform(-SHIFT_FRAC, SHIFT_FRAC, 2) * size
    k = scale * size / (CROP_SCALE * base.box)
    rot = k * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    t = (size - 1) / 2 + shift - rot @ base.centre
    return np.concatenate([rot, t[:, None]], axis=1)


def _invert(m: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))
    return inv[:2]


@functools.lru_cache(maxsize=64)
def _neutral_gap(subject: SynthSubject, size: int) -> float:
    """Mouth gap of the subject's neutral face (base photo + identity shape)."""
    return A.mouth_gap(target_mesh(subject, {}, size))


def render_face(
    subject: SynthSubject,
    intensities: Mapping[int, float],
    *,
    size: int = 256,
    frame_seed: int = 0,
    pose: bool = True,
    degrade: bool = True,
    sides: Mapping[int, str] | None = None,
    appearance: bool = True,
    occluders: bool | None = None,
    yaw: float | None = None,
    pitch: float | None = None,
) -> np.ndarray:
    """Render one SynthAU frame.

    Args:
        subject: the pseudo-subject.
        intensities: ``{au: intensity 0–5}`` for AUs in :data:`SYNTH_AUS`; missing AUs are 0.
            An :class:`AUIntensities` also carries unilateral sides.
        size: output side in pixels.
        frame_seed: drives the frame's pose, head turn, light, scale, shift, blur, noise and
            JPEG quality; the same arguments always give the same image.
        pose: jitter in-plane rotation (±10°), scale (0.9–1.1) and shift (±4 %), turn the head
            out of plane (yaw ±25°, pitch ±20°, :mod:`.pose`) and light it from a direction of
            the frame; False = the subject's canonical, frontal view in the photo's light.
        degrade: apply the frame's blur, noise and JPEG artefacts.
        sides: ``{au: "left" | "right"}`` overrides ``intensities.sides``.
        appearance: paint the AUs' wrinkles, furrows and bulges (:mod:`.appearance`).
        occluders: draw the frame's glasses or hand/hair blob, if it draws one
            (:func:`~libreface_nb.data.synth.scene.occlude`); None = as ``pose``.
        yaw, pitch: head turn in degrees instead of the frame's draw (None = drawn when
            ``pose``, else 0); an explicit turn without ``pose`` keeps the photo's light.

    Returns:
        uint8 RGB ``[size, size, 3]``.
    """
    base = base_face(subject.base, size)
    values = _check_intensities(intensities)
    sides = dict(getattr(intensities, "sides", {}) if sides is None else sides)
    target = target_mesh(subject, values, size, sides)
    # Separate streams, so that turning pose off leaves a frame's degradations unchanged.
    pose_rng = np.random.default_rng([subject.seed, frame_seed, 7]) if pose else None
    view = view_matrix(subject, size, pose_rng)
    turn, light = (0.0, 0.0), None
    if pose:
        drawn_yaw, drawn_pitch, light = P3.draw_turn(
            np.random.default_rng([subject.seed, frame_seed, 10])
        )
        turn = (drawn_yaw, drawn_pitch)
    turn = (turn[0] if yaw is None else float(yaw), turn[1] if pitch is None else float(pitch))
    moved = base.mesh + base.to_pixels(target - base.face)
    moved, triangles, gain = P3.turn_mesh(base, moved, *turn, light)
    src = np.concatenate([base.mesh, base.anchors])
    dst = np.concatenate([moved, base.anchors]) @ view[:, :2].T + view[:, 2]
    work = _styled_work(subject, size)
    if appearance:
        work = P.paint(work, base, values, sides)
    img = W.warp(work, src, dst, triangles, _invert(view), size, gain)
    opening = A.mouth_gap(target) - _neutral_gap(subject, size)
    M.draw(
        img, base, subject.style, target, dst, opening, values.get(26, 0.0) / INTENSITY_MAX, work
    )
    if pose if occluders is None else occluders:
        C.occlude(img, dst, np.random.default_rng([subject.seed, frame_seed, 9]))
    if subject.mirror:
        img = np.ascontiguousarray(img[:, ::-1])
    if degrade:
        deg_rng = np.random.default_rng([subject.seed, frame_seed, 8])
        img = S.degrade(img, S.random_degradation(deg_rng))
    return img


def styled_base(subject: SynthSubject, size: int = 256) -> np.ndarray:
    """The subject's styled base photo in the canonical view, without any mesh warp.

    A plain affine resample (no identity shape, no AUs, no pose, no degradation): what
    :func:`render_face` must reproduce for a subject with zero identity coefficients and all
    intensities 0. uint8 RGB ``[size, size, 3]``.
    """
    import cv2

    view = view_matrix(subject, size, None)
    work = _styled_work(subject, size)
    flags = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_REFLECT_101}
    img = cv2.warpAffine(work, view, (size, size), **flags)
    return np.ascontiguousarray(img[:, ::-1]) if subject.mirror else img


def _event(
    n_frames: int, start: int, onset: int, apex: int, offset: int, peak: float
) -> np.ndarray:
    """One onset–apex–offset event: raised-cosine rise, plateau, raised-cosine fall ``[n]``."""
    t = np.arange(n_frames, dtype=np.float64) - start
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / onset, 0, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((t - onset - apex) / offset, 0, 1))
    return peak * np.where(t < onset + apex, rise, fall)


def au_curves(n_frames: int, aus: Sequence[int], seed: int, *, n_events: int = 3) -> np.ndarray:
    """Smooth AU intensity time series made of onset–apex–offset events.

    Each AU gets ``n_events`` events, one inside each equal slot of the timeline, with at least
    one zero frame between events: an event lasts 50–95 % of its slot, rises and falls over
    20–35 % of its length each (raised cosine, at least one frame), holds a peak drawn from
    U(1, 5) in between and is 0 elsewhere. Slots shorter than 4 frames get no event. A column
    depends only on ``(seed, au)``, not on the other AUs listed.

    Returns:
        float32 ``[n_frames, len(aus)]`` in [0, 5].
    """
    if n_frames < 0 or n_events < 1:
        raise ValueError(f"need n_frames ≥ 0 and n_events ≥ 1, got {n_frames}, {n_events}")
    out = np.zeros((n_frames, len(aus)), np.float32)
    slot = n_frames / n_events
    for j, au in enumerate(aus):
        rng = np.random.default_rng([seed, int(au), 11])
        for e in range(n_events):
            # Frames lo..hi may be used; the event is 0 at its first and last frame.
            lo, hi = math.ceil(e * slot), math.ceil((e + 1) * slot) - 1
            fraction, u_on, u_off, u_start, peak = rng.uniform(size=5)
            room = hi - lo
            if room < 3:
                continue
            length = max(3, int((0.5 + 0.45 * fraction) * room))  # frames from 0 to 0
            onset = max(1, int(round((0.2 + 0.15 * u_on) * length)))
            offset = max(1, int(round((0.2 + 0.15 * u_off) * length)))
            apex = max(0, length - onset - offset)
            start = lo + int(u_start * (room - (onset + apex + offset)))
            out[:, j] += _event(n_frames, start, onset, apex, offset, 1.0 + 4.0 * peak)
    return np.clip(out, 0.0, INTENSITY_MAX)


def expression_intensities(expression: int, seed: int) -> AUIntensities:
    """AU intensities for an expression from its FACS prototype (:data:`EXPRESSION_PROTOTYPES`).

    Prototype AUs get U(3, 5); each other AU gets U(0, 0.6) with probability 0.25 (small
    noise), else 0. Neutral (0) gives all zeros. Contempt's AUs act on one random side
    (``result.sides``).

    Args:
        expression: index into :data:`libreface_nb.config.EXPRESSIONS`.
        seed: random seed.

    Returns:
        :class:`AUIntensities` with a value for every AU of :data:`SYNTH_AUS`.
    """
    if not 0 <= int(expression) < len(EXPRESSIONS):
        raise ValueError(f"expression must be an index into {EXPRESSIONS}, got {expression!r}")
    expression = int(expression)
    rng = np.random.default_rng([seed, expression, 13])
    proto = set(EXPRESSION_PROTOTYPES[expression])
    proto |= {au for au in EXPRESSION_OPTIONAL.get(expression, ()) if rng.random() < 0.5}
    values = {}
    for au in SYNTH_AUS:
        noise = rng.uniform(0.0, 0.6) if rng.random() < 0.25 else 0.0
        high = rng.uniform(3.0, 5.0)
        values[au] = 0.0 if expression == 0 else float(high if au in proto else noise)
    side = "left" if rng.random() < 0.5 else "right"
    sides = {au: side for au in proto} if expression in UNILATERAL_EXPRESSIONS else {}
    return AUIntensities(values, sides)


def atlas(
    subject: SynthSubject,
    aus: Sequence[int] = SYNTH_AUS,
    levels: Sequence[float] = (0.0, 1.0, 3.0, 5.0),
    *,
    size: int = 128,
) -> np.ndarray:
    """Each AU alone at each intensity level on one face (canonical view, no degradation).

    Returns:
        uint8 ``[len(aus), len(levels), size, size, 3]``; tile it with
        ``a.transpose(0, 2, 1, 3, 4).reshape(len(aus) * size, len(levels) * size, 3)``.
    """
    rows = [
        [render_face(subject, {au: lv}, size=size, pose=False, degrade=False) for lv in levels]
        for au in aus
    ]
    return np.asarray(rows, dtype=np.uint8).reshape(len(aus), len(levels), size, size, 3)
