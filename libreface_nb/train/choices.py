"""The named choices of the training recipes as ``Literal`` types; imports nothing of the package.

:mod:`libreface_nb.train.recipes` checks its fields against them, :class:`~.distill.DistillConfig`
its variants; ``tests/test_recipes.py`` checks each against the table it names (tasks, ViT sizes,
pools, MAE decoders, ablations).
"""

from __future__ import annotations

from typing import Literal

Task = Literal["intensity", "detection", "expression"]  #: libreface_nb.tasks.TASKS
StudentTask = Literal["", "intensity", "detection", "expression"]  #: "" = the teacher's task
VitSize = Literal["tiny", "small", "base"]  #: libreface_nb.models.vit.VIT_SIZES
Pool = Literal["flatten", "mean"]  #: libreface_nb.models.factory.POOLS
MaeFaces = Literal["train", "all"]  #: the fold's training subjects, or the whole store
MaeDecoder = Literal["small", "medium", "mae"]  #: libreface_nb.train.mae.DECODERS
TeacherChoice = Literal["mae", "validation"]
Projection = Literal["nearest", "linear"]
KLKind = Literal["bernoulli", "reference"]
FeatureLoss = Literal["mse", "relative"]
Ablation = Literal["both", "feature", "kl", "none"]  #: libreface_nb.train.distill.ABLATIONS
