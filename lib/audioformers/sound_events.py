"""Chapter 5's experiments: multi-label sound-event tagging on 1 s crops, raw-waveform transformers vs CNNs.

* :func:`run_one` trains one model on random 1 s crops of soundmix-mini (weak clip labels, binary
  cross-entropy, no augmentation) and scores each test clip by averaging its crops' sigmoid outputs.
  Each run is cached (checkpoint + metrics) under ``data.data_dir()/ch5`` keyed by its config.
* :func:`run_comparison` (every model, several seeds) and :func:`run_study` (what closes the gap)
  write ``results/ch5/<name>.<profile>.json``; :func:`load_or_run` reuses a file with the same config.
* :func:`train_family_model` trains the same transformer to tell instrument families apart (the
  second task whose front end the chapter compares).

Command line: ``python -m audioformers.sound_events --profile book --seeds 0 1 2``.

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

from . import data
from .cnn_baselines import CNNConfig, LogMelCNN
from .device import describe, get_device
from .metrics import tagging_metrics
from .profiles import get_profile, pick, validate_profile
from .results import Stopwatch, load_results, write_results
from .seeding import seed_everything
from .training import count_parameters, fit, load_checkpoint
from .wavelet_transformer import WaveletAudioTransformer, WaveletTransformerConfig, dft_initialise

CHAPTER = "ch5"
CROP_SAMPLES = 16000  # 1 s at 16 kHz
MODELS = ("transformer-average", "transformer-haar", "transformer-intermediate", "cnn-vgg", "cnn-resnet")


@dataclass(frozen=True)
class RunConfig:
    model: str = "transformer-average"  # one of MODELS
    steps: int = 400                    # optimiser steps
    batch_size: int = 32                # 1 s crops per step
    lr: float = 1e-3                    # AdamW peak learning rate (cosine decay, 5% warm-up)
    train_clips: int = 2000             # soundmix-mini training clips (4 s each)
    test_clips: int = 500               # test clips, each scored from its four 1 s crops
    patch_samples: int = 400            # transformer patch length (25 ms)
    front_init: str = "random"          # "random" | "dft" (windowed sinusoids) for the wide layer
    num_layers: int = 3                 # transformer layers
    task: str = "soundmix"              # "soundmix" (multi-label) | "family" (instruments-mini) | "fsd50k" (paper)
    seed: int = 0

    def key(self) -> str:
        """Cache key: the run's config and the build of the data it trains on (new data -> new runs)."""
        payload = {**asdict(self), "data": _data_version(self.task)}
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


_TASK_DATASETS = {"soundmix": "soundmix-mini", "family": "instruments-mini"}


def _data_version(task: str) -> str:
    """The offline dataset's build hash, or the task name for downloaded data (checksummed at download)."""
    name = _TASK_DATASETS.get(task)
    return data.build_hash(name) if name else task


def profile_sizes(profile: str | None = None) -> dict[str, Any]:
    """Sizes of the chapter's runs for a profile (printed by the notebook)."""
    p = validate_profile(profile or get_profile())
    return {
        "steps": pick(smoke=4, book=100, paper=20_000, profile=p),
        "batch_size": pick(smoke=4, book=16, paper=128, profile=p),
        "train_clips": pick(smoke=16, book=2000, paper=40_966, profile=p),  # paper: up to all of FSD50K's train clips
        "test_clips": pick(smoke=8, book=200, paper=10_231, profile=p),  # paper: FSD50K's eval clips
        "task": pick(smoke="soundmix", book="soundmix", paper="fsd50k", profile=p),
        "seeds": pick(smoke=[0], book=[0, 1, 2], paper=[0, 1, 2, 3, 4], profile=p),
        "models": pick(smoke=list(MODELS), book=list(MODELS[:2] + MODELS[3:]), paper=list(MODELS), profile=p),
    }


# ------------------------------------------------------------------------------------------- models
def build_model(config: RunConfig, num_classes: int) -> nn.Module:
    """The network named by ``config.model`` with ``num_classes`` outputs."""
    if config.model.startswith("transformer-"):
        pooling = config.model.split("-", 1)[1]
        layers = config.num_layers
        pool_layers = tuple(range(layers - 1)) if pooling == "haar" else tuple(range(layers))
        model = WaveletAudioTransformer(
            WaveletTransformerConfig(
                patch_samples=config.patch_samples, num_layers=layers, num_classes=num_classes,
                pooling=pooling, pool_layers=pool_layers,
            )
        )
        if config.front_init == "dft":
            dft_initialise(model.front_end)
        elif config.front_init != "random":
            raise ValueError(f"front_init must be 'random' or 'dft', got {config.front_init!r}")
        return model
    if config.model in ("cnn-vgg", "cnn-resnet"):
        return LogMelCNN(CNNConfig(kind=config.model.split("-")[1], num_classes=num_classes))
    raise ValueError(f"unknown model {config.model!r}; choose from {MODELS}")


# --------------------------------------------------------------------------------------------- data
@lru_cache(maxsize=4)
def load_task(task: str, train_clips: int, test_clips: int) -> dict[str, Any]:
    """Training/test audio and targets (float multi-hot or int labels) for a task."""
    if task == "soundmix":
        train = data.load_soundmix("train", num_clips=train_clips)
        test = data.load_soundmix("test", num_clips=test_clips)
        return {"train_audio": train.audio, "train_targets": train.targets, "test_audio": test.audio,
                "test_targets": test.targets, "classes": train.classes, "multilabel": True}
    if task == "family":
        train = data.load_clips("instruments-mini", "train")
        test = data.load_clips("instruments-mini", "test")
        n_train, n_test = min(train_clips, len(train.labels)), min(test_clips, len(test.labels))
        rng = np.random.default_rng(0)
        tr, te = rng.permutation(len(train.labels))[:n_train], rng.permutation(len(test.labels))[:n_test]
        return {"train_audio": train.audio[tr], "train_targets": train.labels[tr], "test_audio": test.audio[te],
                "test_targets": test.labels[te], "classes": train.classes, "multilabel": False}
    if task == "fsd50k":  # the paper's data: downloaded with data_scripts/download_datasets.py --dataset fsd50k
        from .public_datasets import load_fsd50k

        train = load_fsd50k("train", max_clips=train_clips)
        test = load_fsd50k("eval", max_clips=test_clips)
        return {"train_audio": train.audio, "train_targets": train.targets, "test_audio": test.audio,
                "test_targets": test.targets, "classes": train.classes, "multilabel": True}
    raise ValueError(f"unknown task {task!r}; choose 'soundmix', 'family' or 'fsd50k'")


def random_crops(audio: np.ndarray, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` random 1 s crops (indices of their clips, crops (B, 16000))."""
    clip_index = rng.integers(0, audio.shape[0], batch_size)
    starts = rng.integers(0, audio.shape[1] - CROP_SAMPLES + 1, batch_size)
    crops = np.stack([audio[i, s : s + CROP_SAMPLES] for i, s in zip(clip_index, starts)])  # (B, 16000)
    return clip_index, crops


@torch.no_grad()
def clip_scores(model: nn.Module, audio: np.ndarray, multilabel: bool = True, batch: int = 128,
                device: torch.device | str = "cpu") -> np.ndarray:
    """Clip-level scores: the mean over a clip's non-overlapping 1 s crops of sigmoid (or softmax) outputs."""
    N, T = audio.shape
    num_crops = T // CROP_SAMPLES
    if num_crops == 0:
        raise ValueError(f"clips of {T} samples are shorter than one 1 s crop")
    crops = audio[:, : num_crops * CROP_SAMPLES].reshape(N * num_crops, CROP_SAMPLES)  # (N*k, 16000)
    model.eval()
    outputs = []
    for start in range(0, len(crops), batch):
        logits = model(torch.from_numpy(np.ascontiguousarray(crops[start : start + batch])).to(device))
        outputs.append((torch.sigmoid(logits) if multilabel else torch.softmax(logits, -1)).cpu().numpy())
    return np.concatenate(outputs).reshape(N, num_crops, -1).mean(1)  # (N, classes)


# ---------------------------------------------------------------------------------------------- runs
def cache_dir() -> Path:
    folder = data.data_dir() / "ch5"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def train_model(config: RunConfig, device: torch.device | str | None = None, progress: bool = True) -> tuple[nn.Module, dict]:
    """Train (or load from the checkpoint cache) one model; return it and its training record."""
    device = device or get_device()
    task = load_task(config.task, config.train_clips, config.test_clips)
    num_classes = len(task["classes"])
    seed_everything(config.seed)
    model = build_model(config, num_classes)
    multilabel = task["multilabel"]
    audio, targets = task["train_audio"], task["train_targets"]

    def next_batch(step: int):
        rng = np.random.default_rng([config.seed, step])
        index, crops = random_crops(audio, config.batch_size, rng)
        return torch.from_numpy(crops).to(device), torch.from_numpy(targets[index]).to(device)

    def loss_fn(net: nn.Module, batch) -> torch.Tensor:
        x, y = batch
        logits = net(x)
        if multilabel:
            return nn.functional.binary_cross_entropy_with_logits(logits, y)
        return nn.functional.cross_entropy(logits, y)

    checkpoint = cache_dir() / f"{config.model}-{config.task}-{config.key()}.pt"
    with Stopwatch() as clock:
        history = fit(model, next_batch, loss_fn, steps=config.steps, lr=config.lr, warmup_steps=max(1, config.steps // 20),
                      device=device, checkpoint_path=checkpoint, desc=config.model, progress=progress)
    state = load_checkpoint(checkpoint)
    losses = history.train_loss
    every = max(1, len(losses) // 50)
    record = {"train_loss": losses[::every], "loss_steps": history.step[::every],
              "train_seconds": float(state.get("elapsed_s", clock.seconds)), "parameters": count_parameters(model)}
    return model, record


def run_one(config: RunConfig, device: torch.device | str | None = None, progress: bool = True,
            cached_only: bool = False) -> dict[str, Any] | None:
    """Train and evaluate one model; metrics are cached beside its checkpoint.

    With ``cached_only``, return the cached metrics or ``None`` without training.
    """
    cached = cache_dir() / f"{config.model}-{config.task}-{config.key()}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    if cached_only:
        return None
    device = device or get_device()
    model, record = train_model(config, device, progress)
    task = load_task(config.task, config.train_clips, config.test_clips)
    with Stopwatch() as clock:
        scores = clip_scores(model, task["test_audio"], task["multilabel"], device=device)
    if task["multilabel"]:
        metrics = tagging_metrics(task["test_targets"], scores, task["classes"])
    else:
        metrics = {"accuracy": float(np.mean(scores.argmax(1) == task["test_targets"]))}
    out = {"config": asdict(config), **metrics, **record, "eval_seconds": clock.seconds}
    cached.write_text(json.dumps(out))
    return out


def run_comparison(profile: str | None = None, seeds: list[int] | None = None, models: list[str] | None = None,
                   progress: bool = True, cached_only: bool = False) -> dict[str, Any]:
    """Every model x seed at the profile's sizes; writes ``results/ch5/comparison.<profile>.json``.

    Runs go seed by seed (all models of seed 0, then of seed 1, ...); with ``cached_only`` the file is
    written from the runs already cached (an interrupted multi-seed study still gives a table).
    """
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    seeds = list(seeds if seeds is not None else sizes["seeds"])
    models = list(models or sizes["models"])
    base = RunConfig(steps=sizes["steps"], batch_size=sizes["batch_size"], train_clips=sizes["train_clips"],
                     test_clips=sizes["test_clips"], task=sizes["task"])
    runs = []
    with Stopwatch() as clock:
        for seed in seeds:
            for model in models:
                run = run_one(replace(base, model=model, seed=seed), progress=progress, cached_only=cached_only)
                if run is not None:
                    runs.append(run)
    if not runs:
        raise RuntimeError("no cached runs to summarise; run without cached_only first")
    runs.sort(key=lambda r: (models.index(r["config"]["model"]), r["config"]["seed"]))
    done_seeds = sorted({r["config"]["seed"] for r in runs})
    metrics = {"runs": runs, "summary": summarise(runs)}
    write_results(CHAPTER, "comparison", metrics, config={**asdict(base), "seeds": done_seeds, "models": models},
                  seed=done_seeds, device=describe(get_device()),
                  wall_time_s=sum(r["train_seconds"] + r["eval_seconds"] for r in runs), profile=profile)
    return metrics


def study_variants(base: RunConfig) -> dict[str, RunConfig]:
    """The small study of what closes the transformer/CNN gap (one seed each, changed one at a time)."""
    return {
        "baseline": base,
        "lr 3e-3": replace(base, lr=3e-3),
        "DFT-initialised front end": replace(base, front_init="dft"),
        "2x steps": replace(base, steps=base.steps * 2),
        "half the data": replace(base, train_clips=base.train_clips // 2),
        "12.5 ms patches": replace(base, patch_samples=base.patch_samples // 2),
        "CNN (VGG-like)": replace(base, model="cnn-vgg"),
        "CNN (VGG-like), 2x steps": replace(base, model="cnn-vgg", steps=base.steps * 2),
    }


def run_study(profile: str | None = None, seed: int = 0, progress: bool = True, cached_only: bool = False,
              only: list[str] | None = None) -> dict[str, Any]:
    """Runs :func:`study_variants` (or those named in ``only``); writes ``results/ch5/study.<profile>.json``
    from every variant whose run is cached."""
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    base = RunConfig(steps=sizes["steps"], batch_size=sizes["batch_size"], train_clips=sizes["train_clips"],
                     test_clips=sizes["test_clips"], task=sizes["task"], seed=seed)
    variants = study_variants(base)
    if profile == "smoke":
        variants = dict(list(variants.items())[:2])
    rows = {}
    for name, cfg in variants.items():
        skip = cached_only or (only is not None and name not in only)
        row = run_one(cfg, progress=progress, cached_only=skip)
        if row is not None:
            rows[name] = row
    metrics = {"variants": {name: {k: r[k] for k in ("mAP", "d_prime", "parameters", "train_seconds", "config")}
                            for name, r in rows.items()}}
    write_results(CHAPTER, "study", metrics, config={**asdict(base), "variants": list(rows)}, seed=seed,
                  device=describe(get_device()), wall_time_s=sum(r["train_seconds"] + r["eval_seconds"] for r in rows.values()),
                  profile=profile)
    return metrics


def family_config(profile: str | None = None, seed: int = 0) -> RunConfig:
    """The instrument-family run: the same transformer and training sizes, on instruments-mini."""
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    return RunConfig(model="transformer-average", task="family", steps=sizes["steps"], batch_size=sizes["batch_size"],
                     train_clips=pick(smoke=16, book=10_000, paper=10_000, profile=profile),
                     test_clips=pick(smoke=8, book=10_000, paper=10_000, profile=profile), seed=seed)


def train_family_model(profile: str | None = None, seed: int = 0, progress: bool = True) -> tuple[nn.Module, dict]:
    """The same transformer trained to tell the 12 instrument families of instruments-mini apart.

    The record holds its test accuracy (programs unseen in training) and the number of test clips.
    """
    config = family_config(profile, seed)
    model, record = train_model(config, progress=progress)
    task = load_task(config.task, config.train_clips, config.test_clips)
    scores = clip_scores(model, task["test_audio"], multilabel=False)
    record.update(accuracy=float(np.mean(scores.argmax(1) == task["test_targets"])),
                  test_clips=int(len(task["test_targets"])), num_classes=len(task["classes"]))
    return model, record


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over seeds of mAP and d′ per model, with parameter counts."""
    out: dict[str, dict[str, float]] = {}
    for model in dict.fromkeys(r["config"]["model"] for r in runs):
        rows = [r for r in runs if r["config"]["model"] == model]
        maps, dps = np.array([r["mAP"] for r in rows]), np.array([r["d_prime"] for r in rows])
        out[model] = {"mAP_mean": float(maps.mean()), "mAP_std": float(maps.std(ddof=1)) if len(rows) > 1 else 0.0,
                      "d_prime_mean": float(dps.mean()), "seeds": len(rows), "parameters": rows[0]["parameters"],
                      "train_seconds_mean": float(np.mean([r["train_seconds"] for r in rows]))}
    return out


def load_or_run(name: str, run: Callable[..., dict], profile: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Load ``results/ch5/<name>.<profile>.json`` if its config matches the profile's sizes, else run."""
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    try:
        record = load_results(CHAPTER, name, profile)
        config = record["config"]
        same_sizes = all(config.get(k) == sizes[k] for k in ("steps", "batch_size", "train_clips", "test_clips"))
        if same_sizes and (name != "comparison" or set(config.get("models", [])) >= set(sizes["models"])):
            return record["metrics"]
    except FileNotFoundError:
        pass
    return run(profile=profile, **kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="*", default=None)
    parser.add_argument("--models", nargs="*", default=None, choices=MODELS)
    parser.add_argument("--what", nargs="*", default=["comparison", "study", "family"])
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    if "comparison" in args.what:
        summary = run_comparison(args.profile, args.seeds, args.models)["summary"]
        for model, row in summary.items():
            print(f"{model:26s} mAP {row['mAP_mean']:.3f} ± {row['mAP_std']:.3f}  params {row['parameters']:,}")
    if "study" in args.what:
        for name, row in run_study(args.profile)["variants"].items():
            print(f"{name:32s} mAP {row['mAP']:.3f}")
    if "family" in args.what:
        train_family_model(args.profile)


if __name__ == "__main__":
    main()
