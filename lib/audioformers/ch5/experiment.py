"""Chapter 5's experiments: raw-waveform transformers vs CNNs, Haar vs average pooling, the learned front end.

* :func:`run_one` trains one model (random 1 s crops, no augmentation) and scores each test clip by
  averaging its crops' outputs; with ``eval_every`` it records a learning curve (``steps``, training
  seconds, ``map`` or ``accuracy``). Each run is cached (checkpoint + metrics) under ``data.data_dir()/ch5``
  keyed by its config and the data build, so an interrupted study resumes and finished runs are skipped.
* Tasks: ``soundmix`` (soundmix-mini, multi-label, mAP), ``family`` and ``pitch`` (the same
  instruments-mini audio labelled by instrument family or by pitch class), ``time_scale`` (four rhythms
  of one drum hit: :mod:`audioformers.ch5.time_scale`) and ``fsd50k`` (the ``paper`` profile's data).
* The study writes ``results/ch5/<name>.<profile>.json`` (with provenance), each file as soon as its runs
  are done: ``comparison`` (every model x seed, learning curves, paired differences with intervals),
  ``time_scale`` (Haar vs average where time scales decide the label), ``front_end`` (weights and
  weight change against the training data's principal components and energy-following curve; the same
  audio labelled by ``family`` and by ``pitch``) and ``study`` (twice the steps; a quarter of the data). The
  longer command-line study (every model x seed at a fixed 1,000 steps, a training-set-size sweep, 5,000-step
  runs) is :mod:`audioformers.ch5.study`; it adds ``metrics["scale"]`` to the same ``study`` file.

Command line (resumable; one thread is enough):
``python -m audioformers.reproduce ch5 --profile book --threads 1 -- --what time_scale comparison front_end study``.

Notebook: chapters/05_wavelet_audio_transformer.ipynb
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from audioformers import data
from audioformers.evaluation import evidence as ev
from audioformers.models.cnn_baselines import CNNConfig, LogMelCNN
from audioformers.core.device import (
    add_device_argument,
    autocast,
    describe,
    fits_in_memory,
    get_device,
    is_cuda,
    module_device,
    to_device,
)
from audioformers.train.distributed import use_device_argument
from audioformers.evaluation.metrics import tagging_metrics
from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.core.results import Stopwatch, atomic_write_text, load_results, read_cache_json, write_results
from audioformers.core.seeding import seed_everything
from audioformers.train.training import count_parameters, fit, load_checkpoint
from audioformers.models.wavelet_transformer import WaveletAudioTransformer, WaveletTransformerConfig, dft_initialise

CHAPTER = "ch5"
CROP_SAMPLES = 16000  # 1 s at 16 kHz
MODELS = ("transformer-average", "transformer-haar", "transformer-dft", "transformer-intermediate", "cnn-vgg",
          "cnn-resnet")
TASKS = ("soundmix", "family", "pitch", "time_scale", "fsd50k")
EVAL_FOLDS = 5  # the test clips in this many fixed folds: mAP per fold = the test sources of the paired intervals


@dataclass(frozen=True)
class RunConfig:
    model: str = "transformer-average"  # one of MODELS ("transformer-dft": average pooling, DFT-initialised front end)
    steps: int = 400                    # optimiser steps
    batch_size: int = 32                # 1 s crops per step
    lr: float = 1e-3                    # AdamW peak learning rate (cosine decay, 5% warm-up)
    train_clips: int = 2000             # training clips (soundmix: 4 s each)
    test_clips: int = 500               # test clips, each scored from its 1 s crops
    patch_samples: int = 400            # transformer patch length (25 ms)
    front_init: str = "random"          # "random" | "dft" (windowed sinusoids) for the wide layer
    num_layers: int = 3                 # transformer layers
    task: str = "soundmix"              # one of TASKS
    seed: int = 0
    front_hidden: int = 2048            # width of the front end's wide layer
    eval_every: int = 0                 # evaluate on the test clips every this many steps (0: at the end only)

    def key(self) -> str:
        """Cache key: the run's config and the build of the data it trains on (new data -> new runs)."""
        payload = {**asdict(self), "data": _data_version(self.task)}
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


_TASK_DATASETS = {"soundmix": "soundmix-mini", "family": "instruments-mini", "pitch": "instruments-mini",
                  "time_scale": "drums-mini"}


def _data_version(task: str) -> str:
    """The offline dataset's build hash, or the task name for downloaded data (checksummed at download)."""
    name = _TASK_DATASETS.get(task)
    if task == "time_scale":  # clips made from drums-mini by time_scale_task: its version is part of the data
        from audioformers.ch5.time_scale import VERSION

        return f"{data.build_hash(name)}-v{VERSION}"
    return data.build_hash(name) if name else task


def profile_sizes(profile: str | None = None) -> dict[str, Any]:
    """Sizes of the chapter's soundmix comparison for a profile (fixed before any result was seen).

    ``book``: 300 steps of 16 crops, learning curves every 100 steps, every model with three seeds. At the
    0.15–1.5 s per step that one thread gets on the book's shared 2-core machine (depending on its load),
    the study's runs of all phases take 30–60 minutes; the curves stop there, still rising (the chapter says so).
    """
    p = validate_profile(profile or get_profile())
    return {
        "steps": pick(smoke=4, book=300, paper=20_000, profile=p),
        "batch_size": pick(smoke=4, book=16, paper=128, profile=p),
        "train_clips": pick(smoke=16, book=2000, paper=40_966, profile=p),  # paper: up to all of FSD50K's train clips
        "test_clips": pick(smoke=10, book=150, paper=10_231, profile=p),  # paper: FSD50K's eval clips
        "eval_every": pick(smoke=2, book=100, paper=2000, profile=p),
        "task": pick(smoke="soundmix", book="soundmix", paper="fsd50k", profile=p),
        "seeds": pick(smoke=[0], book=[0, 1, 2], paper=[0, 1, 2, 3, 4], profile=p),
        # every seed: the multi-seed table; curve_models: seed 0 only (learning curves)
        "models": pick(smoke=["transformer-average", "transformer-haar", "cnn-vgg"],
                       book=["transformer-average", "transformer-haar", "cnn-vgg", "transformer-dft", "cnn-resnet"],
                       paper=list(MODELS), profile=p),
        "curve_models": pick(smoke=["transformer-dft", "cnn-resnet"], book=[], paper=[], profile=p),
    }


def time_scale_sizes(profile: str | None = None) -> dict[str, Any]:
    """The time-scale task's runs: Haar vs average pooling, a 256-unit front end (the task is about time, not timbre)."""
    p = validate_profile(profile or get_profile())
    return {"steps": pick(smoke=4, book=300, paper=2000, profile=p),
            "batch_size": pick(smoke=4, book=16, paper=64, profile=p),
            "train_clips": pick(smoke=16, book=2000, paper=8000, profile=p),
            "test_clips": pick(smoke=8, book=400, paper=2000, profile=p),
            "eval_every": pick(smoke=2, book=50, paper=250, profile=p),
            "front_hidden": 256, "seeds": pick(smoke=[0], book=[0, 1, 2], paper=[0, 1, 2, 3, 4], profile=p),
            "models": ["transformer-average", "transformer-haar"]}


def front_end_sizes(profile: str | None = None) -> dict[str, Any]:
    """The same instruments-mini audio labelled by family and by pitch class: one run each."""
    p = validate_profile(profile or get_profile())
    return {"steps": pick(smoke=4, book=300, paper=5000, profile=p),
            "batch_size": pick(smoke=4, book=16, paper=64, profile=p),
            "train_clips": pick(smoke=16, book=10_000, paper=10_000, profile=p),
            "test_clips": pick(smoke=8, book=10_000, paper=10_000, profile=p),
            "eval_every": pick(smoke=2, book=100, paper=1000, profile=p), "seed": 0,
            "top_components": pick(smoke=5, book=50, paper=50, profile=p),
            "patches": pick(smoke=500, book=20_000, paper=50_000, profile=p)}


# ------------------------------------------------------------------------------------------- models
def build_model(config: RunConfig, num_classes: int) -> nn.Module:
    """The network named by ``config.model`` with ``num_classes`` outputs."""
    if config.model.startswith("transformer-"):
        pooling = config.model.split("-", 1)[1]
        front_init = config.front_init
        if pooling == "dft":
            pooling, front_init = "average", "dft"
        if pooling not in ("average", "haar", "intermediate"):
            raise ValueError(f"unknown model {config.model!r}; choose from {MODELS}")
        layers = config.num_layers
        pool_layers = tuple(range(layers - 1)) if pooling == "haar" else tuple(range(layers))
        model = WaveletAudioTransformer(
            WaveletTransformerConfig(
                patch_samples=config.patch_samples, num_layers=layers, num_classes=num_classes,
                pooling=pooling, pool_layers=pool_layers, front_hidden=config.front_hidden,
            )
        )
        if front_init == "dft":
            dft_initialise(model.front_end)
        elif front_init != "random":
            raise ValueError(f"front_init must be 'random' or 'dft', got {front_init!r}")
        return model
    if config.model in ("cnn-vgg", "cnn-resnet"):
        return LogMelCNN(CNNConfig(kind=config.model.split("-")[1], num_classes=num_classes))
    raise ValueError(f"unknown model {config.model!r}; choose from {MODELS}")


# --------------------------------------------------------------------------------------------- data
def _subset(clips: data.ClipSet, count: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.permutation(len(clips.labels))[: min(count, len(clips.labels))]


@lru_cache(maxsize=4)
def load_task(task: str, train_clips: int, test_clips: int) -> dict[str, Any]:
    """Training/test audio and targets (float multi-hot or int labels) for a task.

    ``test_sources`` names what each test clip comes from (a fold of clips, a GM program, a drum kit): the
    test sources of the paired intervals.
    """
    if task == "soundmix":
        train = data.load_soundmix("train", num_clips=train_clips)
        test = data.load_soundmix("test", num_clips=test_clips)
        return {"train_audio": train.audio, "train_targets": train.targets, "test_audio": test.audio,
                "test_targets": test.targets, "classes": train.classes, "multilabel": True,
                "test_sources": _folds(len(test.targets))}
    if task in ("family", "pitch"):  # the same audio; labels: instrument family, or pitch class (MIDI mod 12)
        train = data.load_clips("instruments-mini", "train")
        test = data.load_clips("instruments-mini", "test")
        tr, te = _subset(train, train_clips), _subset(test, test_clips)
        if task == "family":
            y_train, y_test, classes = train.labels[tr], test.labels[te], train.classes
        else:
            y_train, y_test = train.info["pitch"][tr] % 12, test.info["pitch"][te] % 12
            classes = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
        return {"train_audio": train.audio[tr], "train_targets": y_train.astype(np.int64), "test_audio": test.audio[te],
                "test_targets": y_test.astype(np.int64), "classes": classes, "multilabel": False,
                "test_sources": test.sources[te]}
    if task == "time_scale":
        from audioformers.ch5.time_scale import make_split

        train, test = make_split("train", train_clips), make_split("test", test_clips)
        return {"train_audio": train.audio, "train_targets": train.labels, "test_audio": test.audio,
                "test_targets": test.labels, "classes": train.classes, "multilabel": False,
                "test_sources": test.sources}
    if task == "fsd50k":  # the paper's data: downloaded with data_scripts/download_datasets.py --dataset fsd50k
        from audioformers.data.public_datasets import load_fsd50k

        train = load_fsd50k("train", max_clips=train_clips)
        test = load_fsd50k("eval", max_clips=test_clips)
        return {"train_audio": train.audio, "train_targets": train.targets, "test_audio": test.audio,
                "test_targets": test.targets, "classes": train.classes, "multilabel": True,
                "test_sources": _folds(len(test.targets))}
    raise ValueError(f"unknown task {task!r}; choose from {TASKS}")


def _folds(count: int) -> np.ndarray:
    """Fixed contiguous folds of the test clips (``fold0`` ... ): mAP needs many clips, so a fold is the unit."""
    folds = min(EVAL_FOLDS, max(1, count // 2))
    return np.array([f"fold{i * folds // count}" for i in range(count)])


def random_crops(audio: np.ndarray, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` random 1 s crops (indices of their clips, crops (B, 16000))."""
    clip_index = rng.integers(0, audio.shape[0], batch_size)
    starts = rng.integers(0, audio.shape[1] - CROP_SAMPLES + 1, batch_size)
    crops = np.stack([audio[i, s : s + CROP_SAMPLES] for i, s in zip(clip_index, starts)])  # (B, 16000)
    return clip_index, crops


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


def score_task(task: dict[str, Any], scores: np.ndarray) -> dict[str, Any]:
    """The test metric (``map`` for multi-label tasks, ``accuracy`` otherwise) overall and per test source."""
    sources = np.asarray(task["test_sources"])
    names = list(dict.fromkeys(sources.tolist()))
    if task["multilabel"]:
        metrics = tagging_metrics(task["test_targets"], scores, task["classes"])
        per_source = {n: tagging_metrics(task["test_targets"][sources == n], scores[sources == n])["mAP"]
                      for n in names}
        return {"map": metrics["mAP"], "mAP": metrics["mAP"], "d_prime": metrics["d_prime"],
                "per_class_AP": metrics["per_class_AP"], "per_source": per_source}
    correct = scores.argmax(1) == task["test_targets"]
    return {"accuracy": float(correct.mean()), "per_source": {n: float(correct[sources == n].mean()) for n in names}}


# ---------------------------------------------------------------------------------------------- runs
def cache_dir() -> Path:
    folder = data.data_dir() / "ch5"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


REBUILD = "delete it, or run with --no-resume (python -m audioformers.reproduce ch5 --no-resume), to retrain"


def checkpoint_path(config: RunConfig) -> Path:
    """The run's training checkpoint (saved every tenth of its steps and at the end), keyed by its config and data."""
    return cache_dir() / f"{config.model}-{config.task}-{config.key()}.pt"


def train_model(config: RunConfig, device: torch.device | str | None = None, progress: bool = True,
                resume: bool = True) -> tuple[nn.Module, dict]:
    """Train (or load from the checkpoint cache) one model; return it and its training record.

    Training saves a checkpoint every tenth of its steps; a rerun resumes from it (batches depend only on
    the seed and the step, and the random state is restored, so the result equals an uninterrupted run's).
    ``resume=False`` deletes the checkpoint first. With ``config.eval_every`` the record holds a learning
    curve: ``curve = {"steps", "train_seconds", "map" | "accuracy"}`` (seconds of training, evaluations excluded).
    """
    device = device or get_device()
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
    """Train and evaluate one model; metrics are cached beside its checkpoint.

    The record names plainly what it is: ``model``, ``task``, ``seed``, ``steps``, the test metric (``map``
    and its older name ``mAP``, or ``accuracy``), ``per_source`` (the metric per test source), and with
    ``eval_every`` a ``curve``. With ``cached_only``, return the cached metrics or ``None`` without training.
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
    device = device or get_device()
    model, record = train_model(config, device, progress, resume=resume)
    task = load_task(config.task, config.train_clips, config.test_clips)
    with Stopwatch() as clock:
        scores = record.pop("final_scores", None)
        if scores is None:
            scores = clip_scores(model, task["test_audio"], task["multilabel"], device=device)
    metrics = score_task(task, scores)
    out = {"config": asdict(config), "model": config.model, "task": config.task, "seed": config.seed,
           "steps": config.steps, **metrics, **record, "eval_seconds": clock.seconds}
    atomic_write_text(cached, json.dumps(out))
    return out


def _base_config(sizes: dict[str, Any], **changes: Any) -> RunConfig:
    keys = ("steps", "batch_size", "train_clips", "test_clips", "task", "eval_every", "front_hidden")
    return replace(RunConfig(**{k: sizes[k] for k in keys if k in sizes}), **changes)


def paired_comparisons(runs: list[dict[str, Any]], pairs: list[tuple[str, str]], metric: str = "map"
                       ) -> list[dict[str, Any]]:
    """The protocol's paired interval and verdict (:func:`audioformers.evaluation.evidence.compare`) for each pair of
    models: scores ``(seeds, test sources)`` over the seeds both have run; a claimed higher score for the first."""
    by_model: dict[str, dict[int, dict]] = {}
    for run in runs:
        by_model.setdefault(run["config"]["model"], {})[int(run["config"]["seed"])] = run
    out = []
    for a, b in pairs:
        seeds = sorted(set(by_model.get(a, {})) & set(by_model.get(b, {})))
        if not seeds:
            continue
        sources = sorted(set.intersection(*(set(by_model[m][s]["per_source"]) for m in (a, b) for s in seeds)))
        if len(sources) >= 2:
            xa = np.array([[by_model[a][s]["per_source"][n] for n in sources] for s in seeds])
            xb = np.array([[by_model[b][s]["per_source"][n] for n in sources] for s in seeds])
        else:
            xa = np.array([[by_model[a][s][metric]] for s in seeds])
            xb = np.array([[by_model[b][s][metric]] for s in seeds])
        if xa.size < 2:
            continue
        comp = ev.compare(xa, xb, names=(a, b))
        iv = comp.interval
        out.append({"a": a, "b": b, "metric": metric, "seeds": seeds, "test_sources": len(sources),
                    "difference": iv.mean, "low": iv.low, "high": iv.high, "method": iv.describe(),
                    "verdict": comp.verdict, "line": comp.line()})
    return out


def _write(name: str, metrics: dict[str, Any], config: dict[str, Any], runs: list[dict], seeds: Any,
           profile: str) -> None:
    write_results(CHAPTER, name, metrics, config=config, seed=seeds, device=describe(get_device()),
                  wall_time_s=sum(r["train_seconds"] + r["eval_seconds"] for r in runs), profile=profile)


def run_comparison(profile: str | None = None, seeds: list[int] | None = None, models: list[str] | None = None,
                   progress: bool = True, cached_only: bool = False, resume: bool = True) -> dict[str, Any]:
    """Every model x seed at the profile's sizes, with learning curves; writes ``results/ch5/comparison.<profile>.json``.

    Runs go seed by seed (the table's models and, for seed 0, the curve-only models); the file is rewritten
    after each seed, so an interrupted study still gives a table. With ``cached_only`` it is written from
    the runs already cached.
    """
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    seeds = list(seeds if seeds is not None else sizes["seeds"])
    table_models = list(models or sizes["models"])
    curve_models = [] if models else [m for m in sizes["curve_models"] if m not in table_models]
    base = _base_config(sizes)
    runs: list[dict] = []
    metrics: dict[str, Any] = {}
    for seed in seeds:
        for model in table_models + (curve_models if seed == seeds[0] else []):
            run = run_one(replace(base, model=model, seed=seed), progress=progress, cached_only=cached_only,
                          resume=resume)
            if run is not None:
                runs.append(run)
        if not runs:
            continue
        order = table_models + curve_models
        runs.sort(key=lambda r: (order.index(r["config"]["model"]), r["config"]["seed"]))
        done_seeds = sorted({r["config"]["seed"] for r in runs})
        tfs = [m for m in table_models if m.startswith("transformer")]
        cnns = [m for m in table_models + curve_models if m.startswith("cnn")]
        pairs = [("transformer-haar", "transformer-average"), ("transformer-dft", "transformer-average")]
        pairs += [(t, c) for t in tfs for c in cnns]
        metrics = {"runs": runs, "summary": summarise(runs), "comparisons": paired_comparisons(runs, pairs),
                   "table_models": table_models, "curve_models": curve_models}
        _write("comparison", metrics, {**asdict(base), "seeds": done_seeds, "models": table_models,
                                       "curve_models": curve_models}, runs, done_seeds, profile)
    if not runs:
        raise RuntimeError("no cached runs to summarise; run without cached_only first")
    return metrics


def run_time_scale(profile: str | None = None, seeds: list[int] | None = None, progress: bool = True,
                   cached_only: bool = False, resume: bool = True) -> dict[str, Any]:
    """Haar vs average pooling on the time-scale task (:mod:`audioformers.ch5.time_scale`), several seeds,
    paired per seed and test drum kit; writes ``results/ch5/time_scale.<profile>.json`` with the trivial and
    classical baselines (label prior, a bag of patch energies, the energy envelope in time order)."""
    from audioformers.ch5.time_scale import baselines, make_split

    profile = validate_profile(profile or get_profile())
    sizes = time_scale_sizes(profile)
    seeds = list(seeds if seeds is not None else sizes["seeds"])
    base = _base_config({**sizes, "task": "time_scale"})
    runs = [r for seed in seeds for model in sizes["models"]
            if (r := run_one(replace(base, model=model, seed=seed), progress=progress, cached_only=cached_only,
                             resume=resume)) is not None]
    if not runs:
        raise RuntimeError("no cached time-scale runs; run without cached_only first")
    train, test = make_split("train", base.train_clips), make_split("test", base.test_clips)
    comps = paired_comparisons(runs, [("transformer-haar", "transformer-average")], metric="accuracy")
    done_seeds = sorted({r["seed"] for r in runs})
    metrics = {"time_scale": {"runs": runs, "comparison": comps[0] if comps else None,
                              "baselines": baselines(train, test), "classes": test.classes,
                              "test_kits": sorted(set(test.sources.tolist())),
                              "accuracy": {m: [r["accuracy"] for r in runs if r["model"] == m] for m in sizes["models"]}}}
    _write("time_scale", metrics, {**asdict(base), "seeds": done_seeds, "models": sizes["models"]}, runs,
           done_seeds, profile)
    return metrics


def study_variants(base: RunConfig, transformer: str = "transformer-dft") -> dict[str, RunConfig]:
    """What closes the transformer/CNN gap, one seed each: twice the steps, and a quarter of the training clips
    (the strongest transformer of the issue's pilot, the DFT-initialised one, and the VGG-like CNN)."""
    return {
        "baseline": replace(base, model="transformer-average"),
        "2x steps": replace(base, model="transformer-average", steps=base.steps * 2,
                            eval_every=base.eval_every * 2 if base.eval_every else 0),
        "CNN (VGG-like)": replace(base, model="cnn-vgg"),
        "CNN (VGG-like), 2x steps": replace(base, model="cnn-vgg", steps=base.steps * 2,
                                            eval_every=base.eval_every * 2 if base.eval_every else 0),
        "DFT front end": replace(base, model=transformer),
        "DFT front end, quarter data": replace(base, model=transformer, train_clips=base.train_clips // 4),
        "CNN (VGG-like), quarter data": replace(base, model="cnn-vgg", train_clips=base.train_clips // 4),
    }


def run_study(profile: str | None = None, seed: int = 0, progress: bool = True, cached_only: bool = False,
              only: list[str] | None = None, resume: bool = True) -> dict[str, Any]:
    """Runs :func:`study_variants` (or those named in ``only``); writes ``results/ch5/study.<profile>.json``
    from every variant whose run is cached, rewritten as each one lands. Variants equal to a comparison run
    (same config) reuse it."""
    profile = validate_profile(profile or get_profile())
    base = replace(_base_config(profile_sizes(profile)), seed=seed)
    variants = study_variants(base)
    if profile == "smoke":
        variants = dict(list(variants.items())[:2])
    rows: dict[str, dict] = {}
    metrics: dict[str, Any] = {}
    for name, cfg in variants.items():
        skip = cached_only or (only is not None and name not in only)
        row = run_one(cfg, progress=progress, cached_only=skip, resume=resume)
        if row is None:
            continue
        rows[name] = row
        keep = ("map", "mAP", "d_prime", "parameters", "train_seconds", "config", "steps", "seed", "model", "curve",
                "per_source")
        metrics = {"variants": {n: {k: r[k] for k in keep if k in r} for n, r in rows.items()}}
        _write("study", metrics, {**asdict(base), "variants": list(rows)}, list(rows.values()), seed, profile)
    return metrics


# ----------------------------------------------------------------------------------------- front end
def family_config(profile: str | None = None, seed: int = 0, task: str = "family") -> RunConfig:
    """The instrument run: the same transformer on instruments-mini labelled by ``family`` or by ``pitch`` class."""
    profile = validate_profile(profile or get_profile())
    if task not in ("family", "pitch"):
        raise ValueError(f"task must be 'family' or 'pitch', got {task!r}")
    sizes = front_end_sizes(profile)
    from audioformers.core.checks import check_int

    seed = check_int("seed", seed, minimum=0)
    return _base_config({**sizes, "task": task}, model="transformer-average", seed=seed)


def train_family_model(profile: str | None = None, seed: int = 0, progress: bool = True,
                       resume: bool = True, task: str = "family") -> tuple[nn.Module, dict]:
    """The same transformer trained on instruments-mini to tell the 12 families (or 12 pitch classes) apart.

    The record holds its test ``accuracy`` (programs unseen in training) and the number of test clips.
    """
    config = family_config(profile, seed, task)
    run = run_one(config, progress=progress, resume=resume)
    model, _ = train_model(config, progress=False)  # loads the finished checkpoint
    return model, {**run, "test_clips": int(len(load_task(config.task, config.train_clips, config.test_clips)["test_targets"]))}


def initial_model(config: RunConfig) -> nn.Module:
    """The run's model at step 0 (the same seed, the same construction)."""
    task = load_task(config.task, config.train_clips, config.test_clips)
    seed_everything(config.seed)
    return build_model(config, len(task["classes"]))


def front_end_record(config: RunConfig, profile: str, progress: bool = False) -> dict[str, Any]:
    """Weights and weight change of one run's wide layer, read against its own training data.

    Energy-following curve and principal components are computed from that run's training audio.
    """
    from audioformers.audio import filterbank_analysis as fa

    sizes = front_end_sizes(profile)
    task = load_task(config.task, config.train_clips, config.test_clips)
    trained, _ = train_model(config, progress=progress)
    initial = initial_model(config)
    w0, w1 = (m.front_end.wide.weight.detach().cpu().numpy() for m in (initial, trained))
    audio = task["train_audio"]
    power, freqs = fa.average_spectrum(audio[: min(len(audio), 400)], 16000)
    patches = fa.random_patches(audio, config.patch_samples, sizes["patches"], seed=0)
    record = fa.front_end_report(w0, w1, patches, power, freqs, 16000, top=sizes["top_components"])
    # what the chapter draws, so that it needs no checkpoint: sorted centre frequencies at 256 ranks, the
    # data's energy-following curve, its mean power spectrum, and the gallery's single neurons
    ranks = np.linspace(0, w0.shape[0] - 1, 256).round().astype(int)
    record["curves"] = {"rank": ranks, "energy_following": fa.energy_line(power, freqs, w0.shape[0])[ranks].round(1),
                        **{name: fa.sorted_centres(w, 16000)[0][ranks].astype(np.float64).round(1)
                           for name, w in (("initial", w0), ("trained", w1), ("weight_change", w1 - w0))}}
    record["spectrum"] = {"freqs": freqs[::4], "power": [float(f"{v:.4g}") for v in (power / power.max())[::4]]}
    record["gallery"] = {kind: [{"neuron": i, "weights_scaled": (w1[i] / np.abs(w1[i]).max()).astype(np.float64).round(4)} for i in picks]
                         for kind, picks in fa.gallery(w1, 16000, per_kind=2).items()}
    return record


def run_front_end(profile: str | None = None, progress: bool = True, resume: bool = True,
                  cached_only: bool = False) -> dict[str, Any]:
    """The front-end analysis: each soundmix transformer-average run of the comparison (its seeds), and the same
    instruments-mini audio labelled by family and by pitch; writes ``results/ch5/front_end.<profile>.json``.

    ``metrics["soundmix"]``, ``["family"]``, ``["pitch"]``: per run, the filterbank summary of the initial and
    trained weights and of the ``weight_change`` (trained − initial); ``distance_to_energy_hz`` lists the
    soundmix runs' mean distance to their data's energy-following curve (initial and trained, per seed).
    """
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    base = _base_config(sizes, model="transformer-average")
    out: dict[str, Any] = {"soundmix": {}, "family": {}, "pitch": {}}
    runs = []
    for seed in sizes["seeds"]:
        cfg = replace(base, seed=seed)
        if run_one(cfg, cached_only=True) is None:
            continue  # the comparison has not trained it yet
        out["soundmix"][str(seed)] = front_end_record(cfg, profile)
        if len(out["soundmix"]) > 1:  # the chapter's gallery shows the first seed's neurons
            out["soundmix"][str(seed)].pop("gallery")
    for task in ("family", "pitch"):
        cfg = family_config(profile, front_end_sizes(profile)["seed"], task)
        run = run_one(cfg, progress=progress, cached_only=cached_only, resume=resume)
        if run is None:
            continue
        runs.append(run)
        out[task] = {"accuracy": run["accuracy"], "curve": run.get("curve"), "train_seconds": run["train_seconds"],
                     "per_source": run["per_source"], **front_end_record(cfg, profile)}
        out[task].pop("gallery")
    sm = out["soundmix"].values()
    out["distance_to_energy_hz"] = {
        "initial": [r["initial"]["mean_abs_from_energy_hz"] for r in sm],
        "trained": [r["trained"]["mean_abs_from_energy_hz"] for r in sm]}
    out["weight_change"] = {name: {"top_energy": rec["weight_change"]["top_energy"],
                                   "initial_top_energy": rec["initial"]["top_energy"],
                                   "relative_change": rec["weight_change"]["relative_change"]}
                            for name, rec in [*((f"soundmix seed {s}", r) for s, r in out["soundmix"].items()),
                                              *((t, out[t]) for t in ("family", "pitch") if out[t])]}
    _write("front_end", out, {**front_end_sizes(profile), "soundmix_config": asdict(base)}, runs,
           sizes["seeds"], profile)
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over seeds of mAP and d′ per model, with parameter counts."""
    out: dict[str, dict[str, float]] = {}
    for model in dict.fromkeys(r["config"]["model"] for r in runs):
        rows = [r for r in runs if r["config"]["model"] == model]
        maps, dps = np.array([r["mAP"] for r in rows]), np.array([r["d_prime"] for r in rows])
        out[model] = {"map": float(maps.mean()), "mAP_mean": float(maps.mean()),
                      "mAP_std": float(maps.std(ddof=1)) if len(rows) > 1 else 0.0,
                      "d_prime_mean": float(dps.mean()), "seeds": len(rows), "parameters": rows[0]["parameters"],
                      "steps": rows[0]["config"]["steps"],
                      "train_seconds_mean": float(np.mean([r["train_seconds"] for r in rows]))}
    return out


def load_or_run(name: str, run: Callable[..., dict], profile: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Load ``results/ch5/<name>.<profile>.json`` if its config matches the profile's sizes, else run."""
    profile = validate_profile(profile or get_profile())
    sizes = {"time_scale": time_scale_sizes, "front_end": front_end_sizes}.get(name, profile_sizes)(profile)
    try:
        record = load_results(CHAPTER, name, profile)
        config = record["config"]
        same_sizes = all(config.get(k) == sizes[k] for k in ("steps", "batch_size", "train_clips", "test_clips"))
        if same_sizes and (name != "comparison" or set(config.get("models", [])) >= set(sizes["models"])):
            return record["metrics"]
    except FileNotFoundError:
        pass
    return run(profile=profile, **kwargs)


PHASES = ("time_scale", "comparison", "front_end", "study")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="*", default=None)
    parser.add_argument("--models", nargs="*", default=None, choices=MODELS)
    parser.add_argument("--what", nargs="*", default=list(PHASES), choices=[*PHASES, "family"],
                        help="phases, in the order given (default: all; 'family' is an alias of front_end)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="reuse finished runs and resume interrupted ones (default); --no-resume retrains")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    print(f"device: {describe(use_device_argument(args.device))}", flush=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for phase in dict.fromkeys("front_end" if w == "family" else w for w in args.what):
        if phase == "time_scale":
            ts = run_time_scale(args.profile, args.seeds, resume=args.resume)["time_scale"]
            for model, accs in ts["accuracy"].items():
                print(f"time scale {model:22s} accuracy {np.mean(accs):.3f} over {len(accs)} seeds", flush=True)
        elif phase == "comparison":
            summary = run_comparison(args.profile, args.seeds, args.models, resume=args.resume)["summary"]
            for model, row in summary.items():
                print(f"{model:26s} mAP {row['mAP_mean']:.3f} ± {row['mAP_std']:.3f}  params {row['parameters']:,}",
                      flush=True)
        elif phase == "front_end":
            fe = run_front_end(args.profile, resume=args.resume)
            for task in ("family", "pitch"):
                if fe[task]:
                    print(f"front end, {task}: accuracy {fe[task]['accuracy']:.3f}; weight change in the top "
                          f"principal components {fe[task]['weight_change']['top_energy']:.2f}", flush=True)
        elif phase == "study":
            for name, row in run_study(args.profile, resume=args.resume).get("variants", {}).items():
                print(f"{name:32s} mAP {row['mAP']:.3f}", flush=True)


if __name__ == "__main__":
    main()
