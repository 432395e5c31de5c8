"""Data-parallel training under ``torchrun``: one process per GPU (NCCL) or per CPU worker (gloo).

Readers who outgrow one GPU launch the same command under ``torchrun --nproc-per-node N``. Every
process sees the same *global* batch, keeps its own slice of it (:func:`shard`), and
``DistributedDataParallel`` averages the gradients, so N processes with global batch B take the same
optimiser steps as one process with batch B, up to float rounding. Only rank 0 writes checkpoints
and results (:func:`is_main`); every rank reads the checkpoint to resume.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) everything here is a no-op, and
:func:`fit_data_parallel` is plain single-process training.

The chapters' experiments use the same mechanism without a wrapper: when a process group is up (a command
launched under ``torchrun``, see :func:`init_from_env`), :func:`audioformers.train.training.fit` and the chapters'
own loops take their shard of each global batch (:func:`shard`), average the gradients over the processes
with one all-reduce per step (:func:`average_gradients`, what DDP does, but the loss functions still see the
model itself), log the global mean loss, and only rank 0 writes checkpoints. Evaluation runs on every rank on
identical weights, so every rank computes the same metrics. Two exceptions to "N processes = one process up
to rounding": dropout masks are drawn per shard, and BatchNorm statistics are per shard on the CPU
(on CUDA, :func:`prepare` turns BatchNorm into ``SyncBatchNorm``).

Notebook: ``chapters/R_reproduction_report.ipynb`` (section "More than one GPU").
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from audioformers.core.checks import check_choice, check_int
from audioformers.core.device import add_device_argument, autocast, describe, get_device, is_cuda, setup_backends
from audioformers.train.checkpoints import load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank among ``world_size`` processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None  # "nccl" / "gloo" when a process group is up, else None

    def __post_init__(self) -> None:
        world_size = check_int("world_size", self.world_size, minimum=1)
        check_int("rank", self.rank, minimum=0, maximum=world_size - 1)
        check_int("local_rank", self.local_rank, minimum=0)
        if not isinstance(self.device, (torch.device, str)):
            raise TypeError(f"device must be a torch.device, got {type(self.device).__name__} {self.device!r}")
        if self.backend is not None:
            check_choice("backend", self.backend, ("nccl", "gloo", "mpi", "ucc"))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device: torch.device | str | None = None, init_method: str | None = None) -> DistInfo:
    """Join the process group described by torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` variables.

    NCCL on CUDA (each process on ``cuda:LOCAL_RANK``), gloo on the CPU. Without ``WORLD_SIZE``
    (a plain ``python`` run) it returns a single-process :class:`DistInfo` and starts nothing.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world_size}")
    device = torch.device(device) if device is not None else get_device()
    if is_cuda(device):
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if world_size == 1:
        return DistInfo(device=device)
    backend = "nccl" if is_cuda(device) else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, init_method=init_method or "env://", rank=rank, world_size=world_size)
    return DistInfo(rank, world_size, local_rank, device, backend)


def current(device: torch.device | str | None = None) -> DistInfo:
    """This process's place in the process group that is already up (single-process when none is)."""
    device = torch.device(device) if device is not None else get_device()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return DistInfo(device=device)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), device,
                    str(dist.get_backend()))


def prepare(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """Before data-parallel training: BatchNorm becomes SyncBatchNorm on CUDA (in place, same state names), and
    every rank starts from rank 0's parameters and buffers. Returns ``model``; a no-op in one process."""
    if not info.enabled:
        return model
    if is_cuda(info.device):
        for name, child in list(model.named_children()):
            setattr(model, name, torch.nn.SyncBatchNorm.convert_sync_batchnorm(child))
    broadcast_state(model, info)
    return model


def broadcast_state(model: torch.nn.Module, info: DistInfo, buffers_only: bool = False) -> None:
    """Rank 0's parameters (unless ``buffers_only``) and buffers on every rank (as DDP does before each forward)."""
    if not info.enabled:
        return
    tensors = [*([] if buffers_only else model.parameters()), *model.buffers()]
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data, src=0)


def average_gradients(model: torch.nn.Module | list[torch.nn.Parameter], info: DistInfo) -> None:
    """The mean over ranks of every gradient, in one all-reduce of a flattened buffer; a no-op in one process.

    After it every rank holds the gradient of the global batch's mean loss (each rank's loss being the mean
    over an equal shard), so clipping and the optimiser step agree on every rank."""
    if not info.enabled:
        return
    params = model.parameters() if isinstance(model, torch.nn.Module) else model
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= info.world_size
    for g, averaged in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
        g.copy_(averaged)


def all_reduce_mean_tensor(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean over ranks of a tensor (no host synchronisation; the tensor itself in one process)."""
    if not info.enabled:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / info.world_size


def gather_batch(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Every rank's ``x`` concatenated along dim 0 in rank order (the global batch); gradients flow to this
    rank's own slice only, so a loss over the gathered batch must pass through :func:`global_loss`."""
    if not info.enabled:
        return x
    parts = [torch.empty_like(x) for _ in range(info.world_size)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[info.rank] = x
    return torch.cat(parts)


def global_loss(loss: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """A loss computed on the gathered global batch, with its gradient scaled by the number of ranks, so that
    after :func:`average_gradients` every rank holds the full gradient; its value is unchanged."""
    if not info.enabled:
        return loss
    return loss * info.world_size - loss.detach() * (info.world_size - 1)


def cleanup() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_main(info: DistInfo | None = None) -> bool:
    """True on the process that writes checkpoints, results and logs (rank 0)."""
    if info is not None:
        return info.rank == 0
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shard(batch: Any, info: DistInfo) -> Any:
    """This rank's contiguous slice of a global batch (tensors split along dim 0; tuples/dicts recursed).

    The global batch size must be divisible by the number of processes, so every rank's loss is a
    mean over the same number of examples and the averaged gradient equals the global one.
    """
    if isinstance(batch, torch.Tensor):
        if batch.shape[0] % info.world_size:
            raise ValueError(f"global batch of {batch.shape[0]} is not divisible by {info.world_size} processes")
        size = batch.shape[0] // info.world_size
        return batch[info.rank * size:(info.rank + 1) * size]  # (B / world, ...)
    if isinstance(batch, (tuple, list)):
        return type(batch)(shard(b, info) for b in batch)
    if isinstance(batch, dict):
        return {k: shard(v, info) for k, v in batch.items()}
    return batch


def wrap(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """``model`` on this rank's device, wrapped in DDP when there is more than one process."""
    model = model.to(info.device)
    if not info.enabled:
        return model
    return DistributedDataParallel(model, device_ids=[info.device.index] if is_cuda(info.device) else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def all_reduce_mean(value: float, info: DistInfo) -> float:
    """The mean of a scalar over all ranks (the value itself in a single process)."""
    if not info.enabled:
        return float(value)
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=info.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / info.world_size


def fit_data_parallel(model: torch.nn.Module, next_global_batch: Callable[[int], Any],
                      loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor], *, steps: int, lr: float = 1e-3,
                      info: DistInfo | None = None, checkpoint_path: str | Path | None = None,
                      checkpoint_every: int = 0) -> dict[str, Any]:
    """AdamW training where each rank takes its shard of ``next_global_batch(step)``.

    The global batch must depend only on the step (not on the process), so that every rank and an
    interrupted-then-resumed run see the same data. Every rank resumes from ``checkpoint_path``;
    only rank 0 writes it. Returns ``{"train_loss": [global mean per step], "steps": steps,
    "world_size": N, "wall_time_s": ...}``.
    """
    info = info or DistInfo()
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    net = wrap(model, info)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr)
    start, losses = 0, []
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, map_location=info.device,
                                rebuild="delete it, or run with --no-resume, to train from the start")
        unwrap(net).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, losses = int(state["step"]), list(state["train_loss"])
    t0 = time.perf_counter()
    net.train()
    pending: list[torch.Tensor] = []  # losses on the device, read back (and averaged over ranks) in one go

    def flush() -> None:
        if pending:
            losses.extend(all_reduce_mean_tensor(torch.stack(pending).double(), info).tolist())
            pending.clear()

    for step in range(start, steps):
        batch = shard(next_global_batch(step), info)
        with autocast(info.device):
            loss = loss_fn(net, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over ranks here
        optimizer.step()
        pending.append(loss.detach())
        done = step + 1
        if checkpoint_path is not None and (done == steps or (checkpoint_every and done % checkpoint_every == 0)):
            flush()
            if is_main(info):
                save_checkpoint(checkpoint_path, model=unwrap(net).state_dict(), optimizer=optimizer.state_dict(),
                                step=done, train_loss=losses)
            barrier(info)
    flush()
    return {"train_loss": losses, "steps": steps, "world_size": info.world_size,
            "wall_time_s": time.perf_counter() - t0}


def use_device_argument(device: str | None) -> torch.device:
    """Apply a command line's ``--device``: every later :func:`get_device` in this process (and its children)
    returns it (through ``$BOOK_DEVICE``), TF32 and cuDNN autotuning are set up for it; returns it.

    Launched under ``torchrun`` (``WORLD_SIZE`` > 1), it also joins the process group
    (:func:`init_from_env`: NCCL on ``cuda:LOCAL_RANK``, gloo on the CPU), so that the
    chapters' training runs data-parallel."""
    if device:
        get_device(device)  # a clear error now if it is not there
        os.environ["BOOK_DEVICE"] = device
    chosen = get_device()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        chosen = init_from_env(chosen).device  # cuda:LOCAL_RANK on GPUs
        os.environ["BOOK_DEVICE"] = str(chosen)
    setup_backends(chosen)
    return chosen


def study_parser(description: str, *, seeds: bool = False) -> argparse.ArgumentParser:
    """The command line a chapter's study shares: ``--profile``, ``--seeds`` (with ``seeds``), ``--resume`` /
    ``--no-resume`` and ``--device``; add the study's own options to it, then :func:`start_study`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--profile", default=None)
    if seeds:
        parser.add_argument("--seeds", type=int, nargs="*", default=None)
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="reuse finished runs and resume interrupted ones (default); --no-resume retrains")
    add_device_argument(parser)
    return parser


def start_study(args: argparse.Namespace, threads: int = 2) -> torch.device:
    """Apply a :func:`study_parser` command line: its device (:func:`use_device_argument`, printed) and at most
    ``threads`` torch threads. Returns the device."""
    threads = check_int("threads", threads, minimum=1)
    device = use_device_argument(args.device)
    print(f"device: {describe(device)}", flush=True)
    torch.set_num_threads(min(threads, torch.get_num_threads()))
    return device
