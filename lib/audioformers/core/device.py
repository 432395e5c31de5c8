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


def maybe_compile(model: torch.nn.Module, device: torch.device | str, enabled: bool | None = None) -> torch.nn.Module:
    """``torch.compile(model)``, or the model unchanged.

    ``enabled=None`` (the chapters' default): compiled on CUDA unless ``$BOOK_COMPILE=0``; elsewhere only when
    ``$BOOK_COMPILE=1`` (an opt-in: on the CPU compilation takes longer than the book's short runs save).
    ``True`` / ``False`` decide outright. The compiled module shares the model's parameters."""
    if enabled is None:
        flag = os.environ.get("BOOK_COMPILE")
        enabled = flag != "0" if is_cuda(device) else flag == "1"
    if enabled:
        return torch.compile(model)  # type: ignore[return-value]
    return model


def loader_kwargs(device: torch.device | str, num_workers: int = 4) -> dict[str, Any]:
    """DataLoader options: worker processes and pinned memory only on CUDA."""
    if is_cuda(device):
        return {"num_workers": num_workers, "pin_memory": True, "persistent_workers": num_workers > 0}
    return {"num_workers": 0, "pin_memory": False}


def add_device_argument(parser: Any) -> None:
    """``--device`` for a command line (default: CUDA, then MPS, then CPU)."""
    parser.add_argument("--device", default=None,
                        help="cuda, cuda:1, mps or cpu (default: $BOOK_DEVICE, else CUDA, then MPS, then CPU)")


def check_finite(tensor: torch.Tensor, error: type[Exception], message: str) -> None:
    """Raise ``error(message)`` if ``tensor`` holds NaN or inf. On the CPU at once; on an accelerator without
    waiting for the device (an asynchronous assertion, reported by the next synchronising call), so a model's
    input check does not stall every forward pass."""
    if tensor.device.type == "cpu":
        if not torch.isfinite(tensor).all():
            raise error(message)
    else:
        torch._assert_async(torch.isfinite(tensor).all(), message)


def resolve(device: torch.device | str | None) -> torch.device:
    """``device`` as a :class:`torch.device`; ``None`` means :func:`get_device` (the default of every chapter).

    A device this machine does not have (``"cuda:7"`` with fewer GPUs, CUDA or MPS where there is none) is a
    :class:`DeviceUnavailableError` naming it, here rather than at the first tensor moved there."""
    if device is None:
        return get_device()
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device {device!r} is not a device name ({error})") from None
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (chosen.index is not None and chosen.index >= count):
            raise DeviceUnavailableError(f"device {str(chosen)!r} is not available: this machine has {count} "
                                         f"CUDA device{'s' if count != 1 else ''}")
    elif chosen.type == "mps" and not _mps_available():
        raise DeviceUnavailableError(f"device {str(chosen)!r} is not available: MPS is not available here")
    return chosen


class DeviceUnavailableError(RuntimeError, ValueError):
    """A device asked for that this machine does not have (a ``RuntimeError`` as before, and a ``ValueError``)."""


def module_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's first parameter or buffer (the CPU for a model with neither)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def borrowed(model: torch.nn.Module, device: torch.device | str) -> Iterator[torch.nn.Module]:
    """``model`` on ``device`` inside the block and back where it was after it (a no-op when it is already there):
    evaluation helpers compute on the helper's device without moving the caller's model for good."""
    home = module_device(model)
    model.to(device)
    try:
        yield model
    finally:
        model.to(home)


def to_device(batch: Any, device: torch.device | str) -> Any:
    """Tensors of a batch (tensor, tuple/list or dict of them) on ``device``; copies from pinned host memory to
    CUDA do not block the host."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=batch.is_pinned() and is_cuda(device))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def adamw_options(device: torch.device | str) -> dict[str, Any]:
    """Extra ``torch.optim.AdamW`` options: the fused kernel on CUDA; none elsewhere (the CPU keeps its default
    kernel, so CPU results do not change)."""
    return {"fused": True} if is_cuda(device) else {}


def fits_in_memory(nbytes: int, device: torch.device | str, fraction: float = 0.5) -> bool:
    """Whether ``nbytes`` may be held on ``device`` (at most ``fraction`` of its free memory on CUDA; always on the
    CPU, where a tensor made from a NumPy array shares its memory)."""
    if not is_cuda(device):
        return True
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return nbytes <= fraction * free


def loss_log_every(device: torch.device | str) -> int:
    """Steps between reading the training loss back to the host: every step on the CPU (free there), every 50
    on an accelerator, where each read waits for the queued work (a host synchronisation)."""
    return 1 if torch.device(device).type == "cpu" else 50


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
