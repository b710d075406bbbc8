"""SynthAU: faces with known Action Unit intensities, for tests, CI and teaching.

The public names live here; the work is split by concern:

- :mod:`.render`: subjects, AU curves, expression prototypes, :func:`render_face`, the atlas;
- :mod:`.aus`: the AU handle table (which landmarks each AU moves, how far at intensity 5);
- :mod:`.warp`: the piecewise-affine mesh warp;
- :mod:`.base`: the bundled base photographs, meshed once per process;
- :mod:`.style`: per-subject colour style, per-frame degradations (blur, noise, JPEG);
- :mod:`.appearance`: the AUs' wrinkles, furrows and bulges, painted into the skin texture;
- :mod:`.mouth`: the mouth interior (throat, tongue, teeth rows, inner lip edges);
- :mod:`.pose`: out-of-plane head turns (yaw, pitch) from the mesh's depth, directional light.

Typical use::

    from libreface_nb.data import synth

    subjects = synth.make_subjects(6, seed=0)
    curves = synth.au_curves(120, synth.SYNTH_AUS, seed=1)   # [120, 17] in [0, 5]
    frame = synth.render_face(subjects[0], dict(zip(synth.SYNTH_AUS, curves[10])), frame_seed=10)
"""

from libreface_nb.data.synth.base import (
    BASES,
    CROP_SCALE,
    base_face,
    base_key,
    parse_base_photos,
    photo_hash,
)
from libreface_nb.data.synth.render import (
    EXPRESSION_OPTIONAL,
    EXPRESSION_PROTOTYPES,
    ROTATION_DEG,
    SCALE_RANGE,
    SHIFT_FRAC,
    SYNTH_AUS,
    UNILATERAL_EXPRESSIONS,
    AUIntensities,
    SynthSubject,
    atlas,
    au_curves,
    expression_intensities,
    make_subjects,
    render_face,
    styled_base,
    target_mesh,
    view_matrix,
)

__all__ = [
    "BASES",
    "CROP_SCALE",
    "EXPRESSION_OPTIONAL",
    "EXPRESSION_PROTOTYPES",
    "ROTATION_DEG",
    "SCALE_RANGE",
    "SHIFT_FRAC",
    "SYNTH_AUS",
    "UNILATERAL_EXPRESSIONS",
    "AUIntensities",
    "SynthSubject",
    "atlas",
    "au_curves",
    "base_face",
    "base_key",
    "parse_base_photos",
    "photo_hash",
    "expression_intensities",
    "make_subjects",
    "render_face",
    "styled_base",
    "target_mesh",
    "view_matrix",
]
