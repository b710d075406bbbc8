"""Interactive AU explorer (notebook 06): ipywidgets views of what the run's student sees.

``analysis``, ``timeline`` and ``saliency`` compute (no widgets); ``views`` wires them to
ipywidgets; ``explorer`` assembles the views in a Tab. ipywidgets is imported only by ``views``
and ``explorer``, so the computations stay usable without it::

    from libreface_nb.widgets.explorer import explorer
    ex = explorer(run_dir, table=predict(video, landmarks=True), video=video)
    ex.widget          # display it; ex.image.threshold.value = 3.0 re-renders, as in a browser
"""
