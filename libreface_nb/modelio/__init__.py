"""Model files, below both export and inference: what a file says about itself, how to run it.

- :mod:`~libreface_nb.modelio.metadata`: :class:`ModelInfo`, the ONNX ``metadata_props`` contract;
- :mod:`~libreface_nb.modelio.runtime`: ONNX Runtime sessions and batched runs (no torch);
- :mod:`~libreface_nb.modelio.inputs`: aligned faces → the model's input tensor;
- :mod:`~libreface_nb.modelio.graph`: a FaceModel → its activated outputs and an ONNX graph
  (torch).

:mod:`libreface_nb.export` and :mod:`libreface_nb.infer` both import this layer; neither imports
the other (``tests/test_import_graph.py`` checks the order).
"""
