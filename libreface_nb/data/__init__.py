"""Datasets: SynthAU, native-layout readers and fixture writers, folds, transforms, Dataset.

- ``registry``: one :class:`~libreface_nb.data.registry.DatasetSpec` per dataset (reader, fixture
  writer, default sizes, published folds, card); ``disfa``, ``bp4d``, ``rafdb``, ``affectnet``:
  the native readers, each ending with its ``SPEC``; ``index``: the index-table schema.
- ``synth/``: SynthAU faces with known AU intensities; ``fixtures/``: tiny datasets in the native
  layouts made of them (``make_fixture``) and the notebooks' fixture cache.
- ``folds``, ``splits``: subject-exclusive folds, per-role datasets of a run; ``transforms``,
  ``dataset``: LibreFace's crops and the torch Dataset; ``prepare``: notebook 01's steps;
  ``cards``: counts in the data cards.

Submodules are imported on demand (``from libreface_nb.data import disfa``) so that importing the
package stays light.
"""
