"""A small training loop with progress bars, periodic evaluation and atomic checkpoints.

Chapters 3-5 train with :func:`fit`; it is deliberately short so that a reader can follow
it top to bottom. Checkpoints are written to a temporary file and renamed into place, and
loaded with ``weights_only=True``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from audioformers.core.progress import tqdm

from audioformers.core.device import autocast, loss_log_every, maybe_compile, resolve
from audioformers.core.checks import check_int
from audioformers.train import distributed as dd
from audioformers.train.checkpoints import load_checkpoint, save_checkpoint  # re-exported: fit's callers use them

Batch = Any


@dataclass
class History:
    """What :func:`fit` records: training loss per step and evaluation metrics per evaluation."""

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_metrics: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: list[float] = field(default_factory=list)  # elapsed at each evaluation

    def metric(self, name: str) -> list[float]:
        return [m[name] for m in self.eval_metrics]


def _rng_state(rng: np.random.Generator | torch.Generator) -> Any:
    if isinstance(rng, torch.Generator):
        return rng.get_state()
    return json.dumps(rng.bit_generator.state)


def _set_rng_state(rng: np.random.Generator | torch.Generator, state: Any) -> None:
    if isinstance(rng, torch.Generator):
        rng.set_state(state)
    else:
        rng.bit_generator.state = json.loads(state)


def adamw(params: Any, lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """AdamW with PyTorch's fused kernel where it exists for these parameters (CPU and CUDA), else the default.

    A checkpoint's optimiser state keeps the setting it was saved with, so a run resumed from an older
    checkpoint continues with the kernel it started with.
    """
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def fit(
    model: torch.nn.Module,
    next_batch: Callable[[int], Batch],
    loss_fn: Callable[[torch.nn.Module, Batch], torch.Tensor],
    *,
    steps: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    grad_clip: float | None = 1.0,
    evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    eval_every: int = 0,
    device: torch.device | str | None = None,
    compile: bool | None = None,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 0,
    desc: str = "training",
    progress: bool = True,
    data_rng: np.random.Generator | torch.Generator | None = None,
    resume_hint: str = "delete it, or run with --no-resume, to train from the start",
) -> History:
    """Train ``model`` for ``steps`` optimiser steps.

    ``next_batch(step)`` returns a batch (already on ``device``: default :func:`audioformers.core.device.get_device`);
    ``loss_fn(model, batch)`` returns a scalar loss. On CUDA the step runs under bf16 autocast and the loss is read
    back to the host (checked for being finite and logged) every :func:`~audioformers.core.device.loss_log_every` steps,
    not every step; on the CPU every step, as plain fp32. ``compile`` hands the model to
    :func:`~audioformers.core.device.maybe_compile` for the training forward passes (``None``: on CUDA unless
    ``$BOOK_COMPILE=0``, on the CPU only with ``$BOOK_COMPILE=1``); if the compiled first step fails, training
    warns and continues uncompiled. Evaluation always sees the model itself.

    Under ``torchrun`` (a process group is up, see :mod:`audioformers.train.distributed`), ``next_batch(step)`` must
    return the *global* batch (the same on every rank); each rank trains on its shard, the gradients are averaged
    over ranks, the logged loss is the global mean, and only rank 0 writes the checkpoint. AdamW with linear warm-up then cosine decay. ``evaluate(model)`` runs every
    ``eval_every`` steps and at the end (the model is in eval mode and no-grad while it runs).
    With ``checkpoint_path``, training resumes from the checkpoint if it exists and saves one
    every ``checkpoint_every`` steps and at the end. A checkpoint holds the model, the optimiser, the
    step, the history and torch's global random state, and the state of ``data_rng`` (the NumPy or
    torch generator that ``next_batch`` draws from, if any), so a resumed run continues exactly as an
    uninterrupted one would.
    """
    steps = check_int("steps", steps, minimum=1)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=0)
    eval_every = check_int("eval_every", eval_every, minimum=0)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    from audioformers.core.checks import check_float

    if grad_clip is not None:  # a negative clip norm would flip every gradient: gradient ascent
        grad_clip = check_float("grad_clip", grad_clip, minimum=0.0, strict_minimum=True)
    if optimizer is None:
        lr = check_float("lr", lr, minimum=0.0, strict_minimum=True)
        weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)

    device = resolve(device)
    model.to(device)
    info = dd.current(device)
    dd.prepare(model, info)  # one process: nothing
    forward = maybe_compile(model, device, compile)  # the model itself off CUDA (and when not asked)
    if optimizer is None:
        optimizer = adamw(model.parameters(), lr=lr, weight_decay=weight_decay)
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    def lr_factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress_frac = (step - warmup_steps) / max(1, steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress_frac)))

    history = History()
    start_step, elapsed_before = 0, 0.0
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, map_location=device,
                                rebuild=f"checkpoints are made by training: {resume_hint}")
        if int(state.get("steps", steps)) != steps:
            raise ValueError(f"checkpoint {checkpoint_path} is of a {state['steps']}-step run, this run has {steps} "
                             f"steps: {resume_hint}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
        elapsed_before = float(state.get("elapsed_s", 0.0))
        history = History(**state.get("history", {}))
        if "rng" in state:
            torch.set_rng_state(state["rng"])
        if data_rng is not None:
            if "data_rng" not in state:
                raise ValueError(f"checkpoint {checkpoint_path} has no data generator state: {resume_hint}")
            _set_rng_state(data_rng, state["data_rng"])

    def run_eval(step: int, elapsed: float) -> None:
        if evaluate is None:
            return
        was_training = model.training
        model.eval()
        with torch.no_grad(), autocast(device):
            metrics = evaluate(model)
        model.train(was_training)
        history.eval_step.append(step)
        history.eval_metrics.append({k: float(v) for k, v in metrics.items()})
        history.wall_time_s.append(elapsed)

    def save(step: int, elapsed: float) -> None:
        if checkpoint_path is None:
            return
        if not dd.is_main(info):
            dd.barrier(info)  # rank 0 writes it
            return
        save_checkpoint(
            checkpoint_path,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            step=step,
            elapsed_s=elapsed,
            history=history.__dict__,
            rng=torch.get_rng_state(),
            steps=steps,
            **({} if data_rng is None else {"data_rng": _rng_state(data_rng)}),
        )
        dd.barrier(info)

    log_every = loss_log_every(device)
    pending: list[tuple[int, torch.Tensor]] = []  # (step, loss on the device) not yet read back

    def flush() -> None:
        """Read the pending losses back in one transfer; a non-finite one stops training, naming its step."""
        if not pending:
            return
        values = dd.all_reduce_mean_tensor(torch.stack([loss for _, loss in pending]).float(), info).tolist()
        for (step, _), value in zip(pending, values):
            if not math.isfinite(value):
                pending.clear()
                raise FloatingPointError(f"loss became {value} at step {step}; lower the learning rate")
            history.step.append(step)
            history.train_loss.append(value)
        pending.clear()

    model.train()
    t0 = time.perf_counter() - elapsed_before
    bar = tqdm(range(start_step, steps), desc=desc, disable=not progress or not dd.is_main(info), initial=start_step, total=steps, leave=False)
    for step in bar:
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * lr_factor(step)
        batch = next_batch(step)
        if info.enabled:
            batch = dd.shard(batch, info)  # this rank's slice of the global batch
        try:
            with autocast(device):
                loss = loss_fn(forward, batch)
        except Exception as error:  # torch.compile could not take this model: train it as it is
            if forward is model or step != start_step:
                raise
            warnings.warn(f"torch.compile failed ({type(error).__name__}: {str(error).splitlines()[0][:160]}); "
                          "training uncompiled", RuntimeWarning, stacklevel=2)
            forward = model
            with autocast(device):
                loss = loss_fn(forward, batch)
        pending.append((step, loss.detach()))
        if len(pending) >= log_every:  # every step on the CPU: a non-finite loss stops before its update
            flush()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        dd.average_gradients(model, info)  # one process: nothing
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if info.enabled:
            dd.broadcast_state(model, info, buffers_only=True)  # rank 0's BatchNorm statistics, as DDP keeps them
        if progress and step % 10 == 0 and history.train_loss:
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
        done = step + 1
        if eval_every and done % eval_every == 0 and done < steps:
            flush()
            run_eval(done, time.perf_counter() - t0)
        if checkpoint_every and done % checkpoint_every == 0 and done < steps:
            flush()  # a checkpoint holds every loss up to its step, all of them finite
            save(done, time.perf_counter() - t0)
    flush()
    if start_step < steps or not history.eval_step or history.eval_step[-1] != steps:
        run_eval(steps, time.perf_counter() - t0)
    save(steps, time.perf_counter() - t0)
    model.eval()
    return history


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
