"""Timing helpers for ``bench/``: honest wall times and the matmul rate that MFU is measured against.

Model-FLOPs utilisation (MFU) = achieved model FLOP/s / the fp32 matmul FLOP/s measured on the same
device in the same run, so the ratio does not depend on a datasheet.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb`` (section "Cost").
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from audioformers.core.checks import check_float, check_int
from audioformers.core.device import resolve, synchronize


def time_callable(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device: torch.device | str = "cpu") -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int("repeats", repeats, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    device = resolve(device)
    for _ in range(warmup):
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
    device = resolve(device)  # a ValueError naming a device that is not one, or that this machine lacks
    n = check_int("n", n, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
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
    model_flops_per_token = check_float("model_flops_per_token", model_flops_per_token, minimum=0.0)
    tokens_per_second = check_float("tokens_per_second", tokens_per_second, minimum=0.0)
    peak_flops_per_second = check_float("peak_flops_per_second", peak_flops_per_second, minimum=0.0,
                                        strict_minimum=True)
    return model_flops_per_token * tokens_per_second / peak_flops_per_second


# ---- interleaved rounds: every workload (and the peak) once per round, so contention hits all alike ----
def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages from ``/proc/loadavg`` (None where there is none)."""
    try:
        with open("/proc/loadavg") as handle:
            return [float(v) for v in handle.read().split()[:3]]
    except (OSError, ValueError):
        return None


def interleaved(workloads: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call every workload once per round, in an order rotated each round; each returns its own figure
    (seconds, FLOP/s...). A slow spell on a shared machine then lands on all of them, not on one.

    Returns the list of figures (one per round) of each workload.
    """
    rounds = check_int("rounds", rounds, minimum=1)
    if not workloads:
        raise ValueError("workloads is empty")
    names = list(workloads)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            out[name].append(float(workloads[name]()))
    return out


def spread(values: list[float]) -> dict[str, float]:
    """Median and [min, max] of per-round figures."""
    if not len(values):
        raise ValueError("no values to summarise")
    ordered = sorted(values)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
    return {"median": median, "min": ordered[0], "max": ordered[-1], "rounds": n}


def ratio_spread(numerator: list[float], denominator: list[float]) -> dict[str, float]:
    """Median and range of the per-round ratios numerator[i] / denominator[i] (the same round: same conditions)."""
    if len(numerator) != len(denominator):
        raise ValueError(f"need one figure per round on both sides, got {len(numerator)} and {len(denominator)}")
    return spread([a / b for a, b in zip(numerator, denominator)])


def timed(fn: Callable[[], object], device: torch.device | str = "cpu") -> float:
    """Wall seconds of one call of ``fn`` (device work included)."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start
