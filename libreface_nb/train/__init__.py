"""Training: one ``fit`` loop (:mod:`.loop`) and the steps it drives (MAE, fine-tune, distil).

Heavy imports (torch, timm) live in the submodules; ``import libreface_nb.train`` stays light.
"""
