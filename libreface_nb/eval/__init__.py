"""Evaluation: metrics with exact names, predictions tables, a classical baseline, reports.

- :mod:`libreface_nb.eval.metrics`: pure numpy metrics (PCC, ICC, MAE, F1, AUC, accuracy, …),
  per-fold summaries and subject-level bootstrap confidence intervals.
- :mod:`libreface_nb.eval.uncertainty`: mean ± std across folds, subject-bootstrap intervals.
- :mod:`libreface_nb.eval.predictions`: the predictions-table schema (the data contract) and
  metrics recomputed from a table.
- :mod:`libreface_nb.eval.evaluate`: a torch checkpoint or an ONNX model over a split → table.
- :mod:`libreface_nb.eval.baselines`: HOG + linear SVR/SVM (OpenFace 2.0 in spirit).
- :mod:`libreface_nb.eval.report`: per-AU tables beside published numbers (CSV, Markdown, LaTeX).
- :mod:`libreface_nb.eval.pipeline`: notebook 04's steps (find the run's models, headlines).

Submodules import their heavy dependencies (torch, onnxruntime, scikit-learn, scikit-image)
themselves; ``import libreface_nb.eval`` stays light.
"""
