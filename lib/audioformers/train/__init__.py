"""Training: the fit loop, checkpoints, and distributed (torchrun) helpers."""
