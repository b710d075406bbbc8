"""Models: LibreFace's task heads, the ViT teacher and the CNN student, one factory.

``tasks`` is the table of the three tasks (outputs, loss, activation); ``vit`` builds the ViT
encoders shared by MAE pretraining and the teacher. torch and timm are imported by the submodules.
"""
