"""Device selection and every CUDA-only switch, gated in one place.

:func:`get_device` picks CUDA, then Apple's MPS, then the CPU. The helpers below turn on
bf16 autocast, TF32, ``torch.compile`` and pinned-memory loaders only on CUDA, so the CPU
path of every chapter is exactly the plain fp32 code.

Notebook: ``intro.md`` (section "Running on a GPU").
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import torch


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA if available, else MPS, else CPU. ``prefer`` (or ``$BOOK_DEVICE``) forces one."""
    choice = prefer or os.environ.get("BOOK_DEVICE")
    if choice:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("BOOK_DEVICE asks for CUDA but torch.cuda.is_available() is False")
        if device.type == "mps" and not _mps_available():
            raise RuntimeError("BOOK_DEVICE asks for MPS but it is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def is_cuda(device: torch.device | str) -> bool:
    return torch.device(device).type == "cuda"


def describe(device: torch.device | str) -> str:
    """A short human-readable name, e.g. ``cuda (NVIDIA H100)`` or ``cpu (2 threads)``."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def setup_backends(device: torch.device | str) -> None:
    """Enable TF32 matmuls and cuDNN autotuning on CUDA; a no-op elsewhere."""
    if is_cuda(device):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def autocast(device: torch.device | str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a do-nothing context on CPU/MPS (fp32 stays fp32)."""
    if enabled and is_cuda(device):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def maybe_compile(model: torch.nn.Module, device: torch.device | str, enabled: bool = False) -> torch.nn.Module:
    """``torch.compile`` the model on CUDA when asked; return it unchanged otherwise."""
    if enabled and is_cuda(device):
        return torch.compile(model)  # type: ignore[return-value]
    return model


def loader_kwargs(device: torch.device | str, num_workers: int = 4) -> dict[str, Any]:
    """DataLoader options: worker processes and pinned memory only on CUDA."""
    if is_cuda(device):
        return {"num_workers": num_workers, "pin_memory": True, "persistent_workers": num_workers > 0}
    return {"num_workers": 0, "pin_memory": False}


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work (for honest timings); a no-op on the CPU."""
    if is_cuda(device):
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def peak_memory(device: torch.device | str) -> Iterator[dict[str, float]]:
    """Measure peak allocated CUDA memory (MiB) inside the block; CPU reports ``nan``."""
    stats: dict[str, float] = {"peak_mib": float("nan")}
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)
    yield stats
    if is_cuda(device):
        synchronize(device)
        stats["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
