"""Datasets: SynthAU, native-layout readers and fixture writers, folds, transforms, Dataset.

Submodules are imported on demand (``from libreface_nb.data import disfa``) so that importing the
package stays light.
"""
