"""Training: the fit loop and the steps it drives (MAE pretraining, fine-tuning, distillation)."""
