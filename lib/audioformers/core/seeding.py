"""Seeding: the same seed and profile on the CPU give the same numbers twice."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a ``torch.Generator`` seeded alike.

    With ``deterministic`` the CPU kernels are deterministic already; on CUDA cuDNN is asked to be.
    """
    from audioformers.core.checks import check_int

    seed = check_int("seed", seed, minimum=0)  # NumPy integers too: random.seed refuses np.int64
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic and torch.cuda.is_available():
        torch.backends.cudnn.deterministic = True
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def numpy_rng(seed: int) -> np.random.Generator:
    """A NumPy ``Generator`` for data shuffling, independent of global state."""
    from audioformers.core.checks import check_int

    return np.random.default_rng(check_int("seed", seed, minimum=0))
