"""Timing helpers for ``bench/``: honest wall times and the matmul rate that MFU is measured against.

Model-FLOPs utilisation (MFU) = achieved model FLOP/s / the fp32 matmul FLOP/s measured on the same
device in the same run, so the ratio does not depend on a datasheet.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb`` (section "Cost").
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from .device import synchronize


def time_callable(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device: torch.device | str = "cpu") -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(max(0, warmup)):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def matmul_flops_per_second(device: torch.device | str = "cpu", n: int = 2048, repeats: int = 10,
                            dtype: torch.dtype = torch.float32) -> float:
    """Peak FLOP/s of an (n x n) @ (n x n) fp32 matmul on ``device``: the best of ``repeats`` (2 n^3 FLOPs each).

    The best run, not the median, is the peak that MFU divides by: on a shared CPU a median understates it
    and MFU can then exceed 1.
    """
    if n < 1 or repeats < 1:
        raise ValueError(f"n and repeats must be positive, got n={n}, repeats={repeats}")
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):  # warm-up: thread pool, caches, clocks
        a @ b
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best


def mfu(model_flops_per_token: float, tokens_per_second: float, peak_flops_per_second: float) -> float:
    """Model-FLOPs utilisation: achieved FLOP/s over the measured peak."""
    if peak_flops_per_second <= 0:
        raise ValueError("peak_flops_per_second must be positive")
    return model_flops_per_token * tokens_per_second / peak_flops_per_second
