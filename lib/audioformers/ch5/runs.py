"""One run of chapter 5: train a model on random 1 s crops, score the test clips, cache both.

:func:`run_one` trains one model (random 1 s crops, no augmentation) and scores each test clip by averaging
its crops' outputs; with ``eval_every`` it records a learning curve (``steps``, training seconds, ``map`` or
``accuracy``). Each run is cached (checkpoint + metrics) under ``data.data_dir()/ch5`` keyed by its config and
the data build (:meth:`audioformers.ch5.config.RunConfig.key`), so an interrupted study resumes and finished
runs are skipped. ``device`` is passed down to training; ``None`` means :func:`audioformers.core.device.resolve`'s
default (``$BOOK_DEVICE``, else CUDA, MPS, CPU).

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "Transformers against CNNs")
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from audioformers import data
from audioformers.ch5.config import CHAPTER, RunConfig
from audioformers.ch5.models import build_model
from audioformers.ch5.tasks import CROP_SAMPLES, load_task, random_crops, score_task
from audioformers.core.device import autocast, describe, fits_in_memory, is_cuda, module_device, resolve, to_device
from audioformers.core.results import Stopwatch, atomic_write_text, load_results, read_cache_json, write_results
from audioformers.core.seeding import seed_everything
from audioformers.evaluation.metrics import tagging_metrics
from audioformers.train.checkpoints import load_checkpoint
from audioformers.train.training import count_parameters, fit

REBUILD = "delete it, or run with --no-resume (python -m audioformers.reproduce ch5 --no-resume), to retrain"


def cache_dir() -> Path:
    """Where the chapter's runs keep their checkpoints and metrics (``data.data_dir()/ch5``)."""
    folder = data.data_dir() / "ch5"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def checkpoint_path(config: RunConfig) -> Path:
    """The run's training checkpoint (saved every tenth of its steps and at the end), keyed by its config and data."""
    return cache_dir() / f"{config.model}-{config.task}-{config.key()}.pt"


@torch.inference_mode()
def clip_scores(model: nn.Module, audio: np.ndarray, multilabel: bool = True, batch: int = 128,
                device: torch.device | str | None = None) -> np.ndarray:
    """Clip-level scores: the mean over a clip's non-overlapping 1 s crops of sigmoid (or softmax) outputs.

    Computed on ``device`` (default: the model's), under bf16 autocast on CUDA, and copied to the host once."""
    N, T = audio.shape
    num_crops = T // CROP_SAMPLES
    if num_crops == 0:
        raise ValueError(f"clips of {T} samples are shorter than one 1 s crop")
    crops = audio[:, : num_crops * CROP_SAMPLES].reshape(N * num_crops, CROP_SAMPLES)  # (N*k, 16000)
    device = module_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(crops), batch):
        with autocast(device):
            logits = model(torch.from_numpy(np.ascontiguousarray(crops[start : start + batch])).to(device)).float()
        outputs.append(torch.sigmoid(logits) if multilabel else torch.softmax(logits, -1))
    model.train(was_training)
    return torch.cat(outputs).cpu().numpy().reshape(N, num_crops, -1).mean(1)  # (N, classes)


def train_model(config: RunConfig, device: torch.device | str | None = None, progress: bool = True,
                resume: bool = True) -> tuple[nn.Module, dict]:
    """Train (or load from the checkpoint cache) one model on ``device``; return it and its training record.

    Training saves a checkpoint every tenth of its steps; a rerun resumes from it (batches depend only on
    the seed and the step, and the random state is restored, so the result equals an uninterrupted run's).
    ``resume=False`` deletes the checkpoint first. With ``config.eval_every`` the record holds a learning
    curve: ``curve = {"steps", "train_seconds", "map" | "accuracy"}`` (seconds of training, evaluations excluded).
    """
    device = resolve(device)
    task = load_task(config.task, config.train_clips, config.test_clips)
    num_classes = len(task["classes"])
    seed_everything(config.seed)
    model = build_model(config, num_classes)
    multilabel = task["multilabel"]
    audio, targets = task["train_audio"], task["train_targets"]
    metric = "map" if multilabel else "accuracy"

    resident = fits_in_memory(audio.nbytes + targets.nbytes, device)
    if resident:  # the training audio held on the device; crops are cut there (on the CPU: no copy at all)
        audio_on, targets_on = torch.from_numpy(audio).to(device), torch.from_numpy(targets).to(device)
        offsets = torch.arange(CROP_SAMPLES, device=device)

    def next_batch(step: int):
        rng = np.random.default_rng([config.seed, step])
        if resident:  # the same draws as random_crops, so the same crops
            index = rng.integers(0, audio.shape[0], config.batch_size)
            starts = rng.integers(0, audio.shape[1] - CROP_SAMPLES + 1, config.batch_size)
            rows = torch.from_numpy(index).to(device)
            cols = torch.from_numpy(starts).to(device)[:, None] + offsets  # (B, 16000)
            return audio_on[rows[:, None], cols], targets_on[rows]
        index, crops = random_crops(audio, config.batch_size, rng)
        pinned = is_cuda(device)  # a page-locked copy, so the transfer does not block the host
        return to_device((torch.from_numpy(crops).pin_memory() if pinned else torch.from_numpy(crops),
                          torch.from_numpy(targets[index])), device)

    def loss_fn(net: nn.Module, batch) -> torch.Tensor:
        x, y = batch
        logits = net(x)
        if multilabel:
            return nn.functional.binary_cross_entropy_with_logits(logits, y)
        return nn.functional.cross_entropy(logits, y)

    last: dict[str, np.ndarray] = {}  # the latest evaluation's clip scores (the final one, once fit returns)

    def evaluate(net: nn.Module) -> dict[str, float]:
        with Stopwatch() as watch:
            last["scores"] = clip_scores(net, task["test_audio"], multilabel, device=device)
            scored = score_task(task, last["scores"])
        return {metric: scored[metric], "eval_seconds": watch.seconds}

    checkpoint = checkpoint_path(config)
    if not resume:
        checkpoint.unlink(missing_ok=True)
    with Stopwatch() as clock:
        history = fit(model, next_batch, loss_fn, steps=config.steps, lr=config.lr, warmup_steps=max(1, config.steps // 20),
                      device=device, checkpoint_path=checkpoint, checkpoint_every=max(1, config.steps // 10),
                      desc=config.model, progress=progress, resume_hint=REBUILD,
                      evaluate=evaluate if config.eval_every else None, eval_every=config.eval_every)
    state = load_checkpoint(checkpoint, rebuild=REBUILD)
    losses = history.train_loss
    every = max(1, len(losses) // 50)
    evals_s = np.cumsum([m.get("eval_seconds", 0.0) for m in history.eval_metrics]).tolist()  # evaluation time so far
    seconds = float(state.get("elapsed_s", clock.seconds)) - (evals_s[-1] if evals_s else 0.0)
    record = {"train_loss": losses[::every], "loss_steps": history.step[::every],
              "train_seconds": seconds, "parameters": count_parameters(model)}
    if config.eval_every:
        record["curve"] = {"steps": list(history.eval_step),
                           "train_seconds": [w - (c - m.get("eval_seconds", 0.0)) for w, c, m in
                                             zip(history.wall_time_s, evals_s, history.eval_metrics)],
                           metric: history.metric(metric)}
    if "scores" in last:  # fit evaluated at its last step in this process: the test scores of the trained model
        record["final_scores"] = last["scores"]
    return model, record


def run_one(config: RunConfig, device: torch.device | str | None = None, progress: bool = True,
            cached_only: bool = False, resume: bool = True) -> dict[str, Any] | None:
    """Train and evaluate one model on ``device``; metrics are cached beside its checkpoint.

    The record names plainly what it is: ``model``, ``task``, ``seed``, ``steps``, the test metric (``map``
    and its older name ``mAP``, or ``accuracy``), ``per_source`` (the metric per test source), and with
    ``eval_every`` a ``curve``. soundmix runs add ``validation_map`` (mAP on the validation clips, what models
    and learning rates are chosen by) and ``clip_scores`` (per test clip, per class, 4 decimals). With ``cached_only``, return the cached metrics or ``None`` without training.
    ``resume=False`` ignores (deletes) the cached metrics and checkpoint and trains from the start. A
    corrupt cache file is recomputed with a one-line notice.
    """
    cached = cache_dir() / f"{config.model}-{config.task}-{config.key()}.json"
    if not resume and not cached_only:
        cached.unlink(missing_ok=True)
    stored = read_cache_json(cached)
    if stored is not None:
        return stored
    if cached_only:
        return None
    device = resolve(device)
    model, record = train_model(config, device, progress, resume=resume)
    task = load_task(config.task, config.train_clips, config.test_clips)
    with Stopwatch() as clock:
        scores = record.pop("final_scores", None)
        if scores is None:
            scores = clip_scores(model, task["test_audio"], task["multilabel"], device=device)
        extra = {}
        if "validation_audio" in task:  # soundmix: the validation clips (for choosing) and the test clips' scores
            val = clip_scores(model, task["validation_audio"], True, device=device)
            extra = {"validation_map": tagging_metrics(task["validation_targets"], val)["mAP"],
                     "clip_scores": np.round(scores, 4).tolist()}
    metrics = score_task(task, scores)
    out = {"config": asdict(config), "model": config.model, "task": config.task, "seed": config.seed,
           "steps": config.steps, **metrics, **extra, **record, "eval_seconds": clock.seconds}
    atomic_write_text(cached, json.dumps(out))
    return out


def write_phase(name: str, metrics: dict[str, Any], config: dict[str, Any], runs: list[dict], seeds: Any,
                profile: str, device: torch.device | str | None = None) -> None:
    """Write ``results/ch5/<name>.<profile>.json`` for a phase: its metrics, the config its loader compares
    (:func:`audioformers.core.results.reuse_or_run`), the device it ran on and its runs' seconds."""
    write_results(CHAPTER, name, metrics, config=config, seed=seeds, device=describe(resolve(device)),
                  wall_time_s=sum(r["train_seconds"] + r["eval_seconds"] for r in runs), profile=profile)


def kept_parts(name: str, profile: str, keep: Callable[[str], bool]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parts of ``results/ch5/<name>.<profile>.json`` that another phase wrote, as stored: ``(config, metrics)``
    restricted to the keys ``keep`` accepts (both empty when there is no file).

    Two phases share the ``study`` file, the one-seed variants (:func:`audioformers.ch5.experiment.run_study`) and
    the command-line study's ``scale`` (:mod:`audioformers.ch5.study`): each rewrites its own part and keeps the
    other's, so the config a phase records (and its loader asks for) is the other's part as stored plus its own."""
    try:
        record = load_results(CHAPTER, name, profile)
    except FileNotFoundError:
        return {}, {}
    return ({k: v for k, v in record.get("config", {}).items() if keep(k)},
            {k: v for k, v in record.get("metrics", {}).items() if keep(k)})
