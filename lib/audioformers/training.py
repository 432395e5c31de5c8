"""A small training loop with progress bars, periodic evaluation and atomic checkpoints.

Chapters 3-5 train with :func:`fit`; it is deliberately short so that a reader can follow
it top to bottom. Checkpoints are written to a temporary file and renamed into place, and
loaded with ``weights_only=True``.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from .device import autocast

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


def save_checkpoint(path: str | Path, **state: Any) -> Path:
    """Atomically save a dict of tensors / state dicts / plain values (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint`, safely (``weights_only=True``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


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
    device: torch.device | str = "cpu",
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 0,
    desc: str = "training",
    progress: bool = True,
) -> History:
    """Train ``model`` for ``steps`` optimiser steps.

    ``next_batch(step)`` returns a batch (already on ``device``); ``loss_fn(model, batch)`` returns
    a scalar loss. AdamW with linear warm-up then cosine decay. ``evaluate(model)`` runs every
    ``eval_every`` steps and at the end (the model is in eval mode and no-grad while it runs).
    With ``checkpoint_path``, training resumes from the checkpoint if it exists and saves one
    every ``checkpoint_every`` steps and at the end.
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    def lr_factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress_frac = (step - warmup_steps) / max(1, steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress_frac)))

    history = History()
    start_step, elapsed_before = 0, 0.0
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
        elapsed_before = float(state.get("elapsed_s", 0.0))
        history = History(**state.get("history", {}))
        if "rng" in state:
            torch.set_rng_state(state["rng"])

    def run_eval(step: int, elapsed: float) -> None:
        if evaluate is None:
            return
        was_training = model.training
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model)
        model.train(was_training)
        history.eval_step.append(step)
        history.eval_metrics.append({k: float(v) for k, v in metrics.items()})
        history.wall_time_s.append(elapsed)

    def save(step: int, elapsed: float) -> None:
        if checkpoint_path is None:
            return
        save_checkpoint(
            checkpoint_path,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            step=step,
            elapsed_s=elapsed,
            history=history.__dict__,
            rng=torch.get_rng_state(),
        )

    model.train()
    t0 = time.perf_counter() - elapsed_before
    bar = tqdm(range(start_step, steps), desc=desc, disable=not progress, initial=start_step, total=steps, leave=False)
    for step in bar:
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * lr_factor(step)
        batch = next_batch(step)
        with autocast(device):
            loss = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        history.step.append(step)
        history.train_loss.append(float(loss.detach()))
        if progress and step % 10 == 0:
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
        done = step + 1
        if eval_every and done % eval_every == 0 and done < steps:
            run_eval(done, time.perf_counter() - t0)
        if checkpoint_every and done % checkpoint_every == 0 and done < steps:
            save(done, time.perf_counter() - t0)
    if start_step < steps or not history.eval_step or history.eval_step[-1] != steps:
        run_eval(steps, time.perf_counter() - t0)
    save(steps, time.perf_counter() - t0)
    model.eval()
    return history


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
