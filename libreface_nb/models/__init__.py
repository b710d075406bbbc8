"""Models: LibreFace's task heads, the ViT teacher and the CNN student, one factory.

``tasks`` is the table of the three tasks (outputs, loss, activation); ``vit`` builds the ViT
encoders shared by MAE pretraining and the teacher; ``heads`` is LibreFace's head; ``factory``
builds, saves and loads every model (``ModelConfig``, ``create_model``, ``save_model``,
``load_model``); ``checkpoints`` imports weights made elsewhere (MAE, timm, LibreFace's MAE
encoder and released students, CNN ImageNet weights) from local files. torch and timm are
imported by the submodules.
"""
