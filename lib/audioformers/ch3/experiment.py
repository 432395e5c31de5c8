"""Next-sample modelling of raw audio: the data, the three models at the experiment's sizes, metrics, training
one model, and the cost of each family against context length.

* Data: each domain's audio as 8-bit mu-law tokens; random training windows; fixed held-out windows.
* Models (:func:`build_model`): :class:`audioformers.models.wavenet.WaveNet`,
  :class:`audioformers.models.sample_transformer.SampleTransformer` and its ``ConditionedSampleTransformer``.
* Metrics: top-1 and top-5 next-sample accuracy and bits per sample, scored only on the last
  ``score_length`` positions of each held-out window, where WaveNet has its full receptive field and
  the transformers at least ``context_length - score_length`` samples of attention context.
* Every model sees the same windows, the same loss (cross-entropy over 256 classes), the same number
  of training tokens (batch x context per step), and parameter counts within 10%.
* Cost (:func:`cost_vs_context`): one training step of WaveNet and of the transformer with fused and with
  explicit attention (:func:`audioformers.models.sample_transformer.explicit_attention`).

The studies built on it (tuning, the tuned comparison, context use, scaling) are :mod:`audioformers.ch3.study`
and the modules it names; generation is :mod:`audioformers.models.decoding` and
:mod:`audioformers.models.fast_sampling`.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audioformers.audio.mulaw import mu_law_encode
from audioformers.core.device import autocast, module_device, resolve
from audioformers.core.profiles import pick, validate_profile
from audioformers.core.results import Stopwatch
from audioformers.models.sample_transformer import (
    ConditionEncoderConfig,
    ConditionedSampleTransformer,
    SampleTransformer,
    SampleTransformerConfig,
)
from audioformers.core.seeding import seed_everything
from audioformers.train.training import count_parameters, fit
from audioformers.models.wavenet import WaveNet, WaveNetConfig

CHAPTER = "ch3"
MODEL_NAMES = ("wavenet", "transformer", "conditioned")


# ---- data ---------------------------------------------------------------------------------------
DOMAINS = ("music", "speech", "orchestra", "piano-mini", "piano")
#: Sample rate of each domain: wave-mini and orchestra-mini at 8 kHz; piano-mini (music21's Bach chorales
#: rendered on a grand piano, offline) and "piano", the public MAESTRO corpus (paper profile), at 16 kHz.
DOMAIN_SAMPLE_RATES = {"music": 8000, "speech": 8000, "orchestra": 8000, "piano-mini": 16000, "piano": 16000}
PIANO_MAX_FILES = {"train": 200, "test": 50}  # bounds memory: 50 test tracks, as the paper's test set


def domain_rate(domain: str) -> int:
    """The sample rate of ``domain``'s audio in Hz (music, speech, orchestra: 8,000; piano-mini, piano: 16,000).

    Every player, time axis and real-time factor of a domain's audio takes its rate from here: a rate kept in a
    variable from another domain plays 8 kHz music an octave high.
    """
    if not isinstance(domain, str):
        raise TypeError(f"domain must be a string, got {type(domain).__name__}")
    if domain not in DOMAIN_SAMPLE_RATES:
        raise ValueError(f"unknown domain {domain!r}; valid: {', '.join(DOMAINS)}")
    return DOMAIN_SAMPLE_RATES[domain]


def load_tokens(domain: str = "music", split: str = "train") -> list[np.ndarray]:
    """Audio of one domain and split as mu-law tokens (one int64 array per source file).

    ``music`` and ``speech`` are wave-mini, ``orchestra`` is orchestra-mini (offline, 8 kHz), ``piano-mini`` is
    chorales rendered on a piano (offline, 16 kHz); ``piano`` is MAESTRO at 16 kHz, which must have
    been downloaded (``python data_scripts/download_datasets.py --dataset maestro``).
    """
    from audioformers import data

    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; valid: {', '.join(DOMAINS)}")
    if domain == "piano":
        from audioformers.data.public_datasets import load_maestro

        waves = load_maestro(split, max_files=PIANO_MAX_FILES.get(split), sample_rate=DOMAIN_SAMPLE_RATES["piano"])
    else:
        waves = data.load_wave_mini(domain=domain, split=split)
    return [mu_law_encode(np.asarray(w, dtype=np.float32), 256, clip=True) for w in waves]


def window_starts(tokens: list[np.ndarray], num_windows: int, length: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The files and start samples of ``num_windows`` random windows of ``length`` tokens (files chosen in
    proportion to their usable length): the draws of :func:`sample_windows`."""
    usable = np.array([max(0, len(t) - length + 1) for t in tokens], dtype=np.float64)
    if usable.sum() == 0:
        raise ValueError(f"no source file is as long as a window of {length} samples")
    files = rng.choice(len(tokens), size=num_windows, p=usable / usable.sum())
    starts = (rng.random(num_windows) * usable[files]).astype(np.int64)
    return files, starts


def sample_windows(tokens: list[np.ndarray], num_windows: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``num_windows`` random windows of ``length`` tokens, files chosen in proportion to their usable length."""
    files, starts = window_starts(tokens, num_windows, length, rng)
    return np.stack([tokens[f][s : s + length] for f, s in zip(files, starts)])  # (N, length)


class DeviceWindows:
    """The training tokens held on an accelerator as one uint8 tensor; windows are cut there from the same draws
    as :func:`sample_windows` (so the same windows), returned as int64 ``(N, length)``."""

    def __init__(self, tokens: list[np.ndarray], device: torch.device | str):
        self.tokens, self.device = tokens, torch.device(device)
        self.offsets = np.concatenate([[0], np.cumsum([len(t) for t in tokens])[:-1]]).astype(np.int64)
        self.flat = torch.from_numpy(np.concatenate([np.asarray(t, dtype=np.uint8) for t in tokens])).to(self.device)

    @staticmethod
    def fits(tokens: list[np.ndarray], device: torch.device | str) -> bool:
        """On an accelerator (not the host CPU itself), 8-bit tokens that fit in its memory."""
        from audioformers.core.device import fits_in_memory

        if torch.device(device) == torch.device("cpu") or not tokens:
            return False
        small = all(len(t) == 0 or (int(np.min(t)) >= 0 and int(np.max(t)) < 256) for t in tokens)
        return small and fits_in_memory(sum(len(t) for t in tokens), device)

    def sample(self, num_windows: int, length: int, rng: np.random.Generator) -> torch.Tensor:
        files, starts = window_starts(self.tokens, num_windows, length, rng)
        first = torch.from_numpy(self.offsets[files] + starts).to(self.device)  # (N,)
        return self.flat[first[:, None] + torch.arange(length, device=self.device)].long()  # (N, length)


@dataclass
class ExperimentConfig:
    domain: str = "music"  # wave-mini domain: "music" or "speech"
    context_length: int = 256  # attention window (samples); also the training segment length
    past_length: int = 1024  # samples the conditioned model's CNN sees before its window
    score_length: int = 128  # last positions of each held-out window that are scored
    batch_size: int = 8  # windows per step: tokens per step = batch_size * context_length
    steps: int = 300  # optimiser steps
    lr: float = 2e-3  # AdamW peak learning rate (cosine decay)
    warmup_steps: int = 30
    eval_every: int = 50  # steps between held-out evaluations (learning curves)
    eval_windows: int = 128  # held-out windows
    width: int = 64  # transformer width
    num_layers: int = 4  # transformer blocks
    num_heads: int = 4
    wavenet_channels: int = 46  # residual = dilation channels; skip = 2x
    wavenet_layers_per_stack: int = 7  # dilations 1..64
    wavenet_stacks: int = 2
    cnn_channels: int = 24  # conditioning CNN (small: keeps the parameter budget within 10%)
    cnn_layers: int = 3  # each divides time by 4
    latent_dim: int = 32
    condition_zero_init: bool = True  # conditioned model starts as the plain transformer (projection at zero)

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_choice, check_fields, check_heads

        check_choice("domain", self.domain, DOMAINS)
        check_fields(self, positive=("context_length", "past_length", "score_length", "batch_size", "steps",
                                     "eval_windows", "width", "num_layers", "num_heads", "wavenet_channels",
                                     "wavenet_layers_per_stack", "wavenet_stacks", "cnn_channels", "cnn_layers",
                                     "latent_dim"),
                     non_negative=("warmup_steps", "eval_every"), positive_float=("lr",))
        check_heads(self)


def experiment_config(profile: str, domain: str = "music", **overrides: Any) -> ExperimentConfig:
    """The experiment's sizes at a profile (book: CPU minutes; paper: the paper's model sizes and 1,600-sample context)."""
    profile = validate_profile(profile)
    base = pick(
        smoke=ExperimentConfig(context_length=64, past_length=256, score_length=32, batch_size=4, steps=6, eval_every=3,
                               eval_windows=8, width=32, num_layers=2, wavenet_channels=24, wavenet_layers_per_stack=5,
                               wavenet_stacks=1, cnn_channels=8, cnn_layers=2, latent_dim=16),
        book=ExperimentConfig(),
        paper=ExperimentConfig(context_length=1600, past_length=4000, score_length=800, batch_size=16, steps=20000,
                               eval_every=1000, eval_windows=512, lr=1e-3, warmup_steps=500, width=128, num_layers=3,
                               num_heads=4, wavenet_channels=96, wavenet_layers_per_stack=10, wavenet_stacks=1,
                               cnn_channels=32, cnn_layers=6, latent_dim=128),
        profile=profile,
    )
    return replace(base, domain=domain, **overrides)


def build_model(name: str, config: ExperimentConfig, attention: str = "fused") -> nn.Module:
    """One of ``wavenet``, ``transformer``, ``conditioned`` at the experiment's sizes; the transformers' attention
    ``"fused"`` or ``"explicit"`` (the same numbers; explicit holds the (T, T) matrix: :func:`cost_vs_context`)."""
    tcfg = SampleTransformerConfig(context_length=config.context_length, width=config.width,
                                   num_layers=config.num_layers, num_heads=config.num_heads, attention=attention)
    if name == "wavenet":
        c = config.wavenet_channels
        return WaveNet(WaveNetConfig(residual_channels=c, dilation_channels=c, skip_channels=2 * c,
                                     layers_per_stack=config.wavenet_layers_per_stack, num_stacks=config.wavenet_stacks))
    if name == "transformer":
        return SampleTransformer(tcfg)
    if name == "conditioned":
        stride = 4
        return ConditionedSampleTransformer(tcfg, ConditionEncoderConfig(
            past_length=config.past_length, channels=config.cnn_channels, num_layers=config.cnn_layers,
            stride=stride, latent_dim=config.latent_dim, zero_init=config.condition_zero_init))
    raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODEL_NAMES)}")


def model_inputs(model: nn.Module, windows: torch.Tensor, config: ExperimentConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """From windows (B, past + context + 1): the model's input and the targets of its last ``context_length`` logits."""
    ctx = config.context_length
    targets = windows[:, -ctx:]  # (B, ctx)
    if isinstance(getattr(model, "_orig_mod", model), ConditionedSampleTransformer):  # compiled or not
        return windows[:, -(ctx + 1 + model.past_length) : -1], targets
    return windows[:, -(ctx + 1) : -1], targets  # (B, ctx)


def window_length(config: ExperimentConfig) -> int:
    return config.past_length + config.context_length + 1


# ---- metrics ------------------------------------------------------------------------------------
def next_sample_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Top-1, top-5 accuracy and bits per sample of logits (N, 256) against targets (N,)."""
    if logits.ndim != 2 or targets.ndim != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(f"expected logits (N, C) and targets (N,), got {tuple(logits.shape)} and {tuple(targets.shape)}")
    top5 = logits.topk(5, dim=-1).indices  # (N, 5)
    hit = top5 == targets[:, None]  # (N, 5)
    return {
        "top1": float(hit[:, 0].float().mean()),
        "top5": float(hit.any(dim=1).float().mean()),
        "bits_per_sample": float(F.cross_entropy(logits.float(), targets) / math.log(2)),
    }


@torch.inference_mode()
def evaluate(model: nn.Module, windows: torch.Tensor, config: ExperimentConfig, batch_size: int = 32) -> dict[str, float]:
    """Held-out metrics on the last ``score_length`` positions of each window (full context only), on the model's
    device (bf16 autocast on CUDA)."""
    model.eval()
    device = module_device(model)
    all_logits, all_targets = [], []
    for i in range(0, len(windows), batch_size):
        chunk = windows[i : i + batch_size].to(device)
        if isinstance(model, WaveNet):  # give WaveNet every sample it can use (its whole receptive field)
            keep = model.receptive_field - 1 + config.score_length  # (B, keep): just enough samples
            inputs, targets = chunk[:, -(keep + 1) : -1], chunk[:, -keep:]
        else:
            inputs, targets = model_inputs(model, chunk, config)
        with autocast(device):
            logits = model(inputs)[:, -config.score_length :]  # (B, S, C)
        all_logits.append(logits.reshape(-1, logits.shape[-1]))  # (B*S, C)
        all_targets.append(targets[:, -config.score_length :].reshape(-1))  # (B*S,)
    return next_sample_metrics(torch.cat(all_logits), torch.cat(all_targets))


# ---- the experiment -----------------------------------------------------------------------------
def train_one(name: str, config: ExperimentConfig, seed: int, train: list[np.ndarray], test_windows: torch.Tensor,
              device: torch.device | str | None = None, progress: bool = False,
              checkpoint: str | Path | None = None, model: nn.Module | None = None) -> dict[str, Any]:
    """Train one model from ``seed`` on ``device`` (default :func:`audioformers.core.device.get_device`); return its
    parameter count, learning curve and final metrics (the returned model stays on ``device``).

    ``model``: train this module (a notebook's own, say) instead of ``build_model(name, config)``; ``name`` then
    only labels the progress bar.

    With ``checkpoint``, training saves there every tenth of its steps (model, optimiser, step, learning
    curve, random states including the window sampler's) and resumes from it if it exists, to the same
    numbers as an uninterrupted run.
    """
    device = resolve(device)
    for i, tokens in enumerate(train):  # checked once here, so the models need not check every batch on a GPU
        if len(tokens) and (int(np.min(tokens)) < 0 or int(np.max(tokens)) > 255):
            raise ValueError(f"train[{i}] must hold mu-law codes in 0..255, got {int(np.min(tokens))}..{int(np.max(tokens))}")
    seed_everything(seed)
    model = (build_model(name, config) if model is None else model).to(device)
    if isinstance(model, WaveNet) and model.receptive_field - 1 > window_length(config) - 1 - config.score_length:
        raise ValueError("WaveNet receptive field is longer than the held-out windows allow; lengthen past_length")
    rng = np.random.default_rng(seed + 1000)
    length = window_length(config)
    resident = DeviceWindows(train, device) if DeviceWindows.fits(train, device) else None

    def next_batch(step: int) -> torch.Tensor:
        if resident is not None:  # cut on the accelerator, from the same draws
            return resident.sample(config.batch_size, length, rng)
        return torch.from_numpy(sample_windows(train, config.batch_size, length, rng)).to(device)

    def loss_fn(m: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        inputs, targets = model_inputs(m, windows, config)
        logits = m(inputs)  # (B, ctx, C)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    with Stopwatch() as clock:
        history = fit(model, next_batch, loss_fn, steps=config.steps, lr=config.lr, warmup_steps=config.warmup_steps,
                      evaluate=lambda m: evaluate(m, test_windows, config), eval_every=config.eval_every,
                      device=device, desc=name, progress=progress, checkpoint_path=checkpoint,
                      checkpoint_every=max(1, config.steps // 10), data_rng=rng,
                      resume_hint="delete it, or run with --no-resume (python -m audioformers.reproduce ch3 "
                                  "--no-resume), to train from the start")
    tokens_per_step = config.batch_size * config.context_length
    return {
        "parameters": count_parameters(model),
        "non_embedding_parameters": (model.num_parameters(non_embedding=True) if hasattr(model, "num_parameters")
                                     else None),
        "train_seconds": history.wall_time_s[-1] if history.wall_time_s else clock.seconds,
        "final": history.eval_metrics[-1],
        "curve": {
            "tokens": [s * tokens_per_step for s in history.eval_step],
            "wall_time_s": history.wall_time_s,
            **{k: history.metric(k) for k in ("top1", "top5", "bits_per_sample")},
        },
        "train_loss_last": float(np.mean(history.train_loss[-20:])),
        "model": model,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (over seeds) of each model's final metrics."""
    table: dict[str, dict[str, float]] = {}
    for model_name in runs[0]:
        row: dict[str, float] = {"parameters": runs[0][model_name]["parameters"], "seeds": len(runs)}
        for metric in ("top1", "top5", "bits_per_sample"):
            values = np.array([r[model_name]["final"][metric] for r in runs])
            row[f"{metric}_mean"] = float(values.mean())
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        table[model_name] = row
    return table


# ---- cost against context length ---------------------------------------------------------------
def attention_matrix_bytes(context_length: int, num_heads: int, num_layers: int = 1, batch_size: int = 1) -> int:
    """Bytes of fp32 attention matrices a plain (non-flash) implementation keeps per layer stack."""
    return 4 * batch_size * num_heads * num_layers * context_length**2


def activation_bytes_per_token(name: str, config: ExperimentConfig) -> float:
    """Rough fp32 training activations kept per token (linear in context), excluding attention matrices."""
    if name == "wavenet":
        c = config.wavenet_channels
        per_layer = c + 2 * c + c + c + 2 * c  # input, gate pre-activations, gated output, residual, skip
        return 4.0 * per_layer * config.wavenet_layers_per_stack * config.wavenet_stacks
    return 4.0 * config.num_layers * (3 * config.width + 2 * config.width + 2 * 4 * config.width + 2 * config.width)


def largest_context(name: str, config: ExperimentConfig, memory_bytes: float, batch_size: int = 1) -> int:
    """The longest context whose training activations fit in ``memory_bytes`` (plain attention keeps its n^2 matrices)."""
    from audioformers.core.checks import check_choice, check_float, check_int

    check_choice("name", name, MODEL_NAMES)
    memory_bytes = check_float("memory_bytes", memory_bytes, minimum=0.0, strict_minimum=True)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    per_token = batch_size * activation_bytes_per_token(name, config)
    if name == "wavenet":
        return int(memory_bytes // per_token)
    quad = attention_matrix_bytes(1, config.num_heads, config.num_layers, batch_size) * 2  # scores and softmax
    # quad * T^2 + per_token * T = memory
    return int((-per_token + math.sqrt(per_token**2 + 4 * quad * memory_bytes)) / (2 * quad))


def cost_vs_context(contexts: list[int], config: ExperimentConfig, device: torch.device | str | None = None,
                    repeats: int = 3, batch_size: int = 1) -> dict[str, dict[str, list[float]]]:
    """Forward+backward seconds (and CUDA peak MiB) of WaveNet and the transformer against context length.

    The transformer is timed twice: fused ``scaled_dot_product_attention`` and ``plain_attention``, the same model
    with :func:`audioformers.models.sample_transformer.explicit_attention`, which holds the (T, T) attention matrix
    (its memory grows as T^2). ``device`` ``None``: :func:`audioformers.core.device.get_device`.
    """
    from audioformers.core.benchmarking import time_callable
    from audioformers.core.device import peak_memory

    device = resolve(device)
    kinds = {"wavenet": ("wavenet", "fused"), "transformer": ("transformer", "fused"),
             "plain_attention": ("transformer", "explicit")}
    out: dict[str, dict[str, list[float]]] = {k: {"seconds": [], "peak_mib": []} for k in kinds}
    for t in contexts:
        cfg = replace(config, context_length=t)
        for key, (name, attention) in kinds.items():
            torch.manual_seed(0)
            model = build_model(name, cfg, attention=attention).to(device)
            tokens = torch.randint(0, 256, (batch_size, t), device=device)

            def step() -> None:
                model(tokens).sum().backward()

            with peak_memory(device) as mem:
                seconds = time_callable(step, repeats=repeats, warmup=1, device=device)
            out[key]["seconds"].append(seconds)
            out[key]["peak_mib"].append(mem["peak_mib"])
    return out


def cost_contexts(profile: str) -> list[int]:
    """The context lengths the attention-cost measurement times at ``profile``."""
    return pick(smoke=[64, 128], book=[256, 512, 1024, 2048, 4096], paper=[1024, 2048, 4096, 8192, 16384],
                profile=validate_profile(profile))


def load_or_measure_cost(profile: str, config: ExperimentConfig, device: torch.device | str | None = None
                         ) -> dict[str, Any]:
    """The stored attention-cost record (``results/ch3/attention_cost.<profile>.json``, the one the report's claim 3d
    reads) if it was measured at this profile's contexts; else :func:`cost_vs_context` on ``device``, stored.

    A timing is a measurement of one machine at one moment (on a shared machine, other work inflates it), so the
    chapter and the report show one stored measurement; delete the file to time your own machine.
    """
    from audioformers.core.results import reuse_or_run, write_results

    profile = validate_profile(profile)
    contexts = cost_contexts(profile)

    def measure() -> None:
        cost = cost_vs_context(contexts, config, device=device, repeats=pick(smoke=1, book=2, paper=3, profile=profile))
        write_results(CHAPTER, "attention_cost", {"contexts": contexts, "seconds": {k: v["seconds"] for k, v in cost.items()}},
                      config={"contexts": contexts}, device=str(resolve(device)), profile=profile)

    return reuse_or_run(CHAPTER, "attention_cost", profile, {"contexts": contexts}, measure)


def scaling_exponents(contexts: list[int], cost: dict[str, dict[str, list[float]]], tail: int = 3) -> dict[str, float]:
    """Log-log slope of time against context over the ``tail`` longest contexts, per model.

    A slope near 1 is linear cost (WaveNet); near 2 is the n^2 of an explicit attention matrix once it dominates.
    """
    if len(contexts) < 2:
        raise ValueError("need at least two context lengths to fit a slope")
    tail = max(2, min(tail, len(contexts)))
    x = np.log(np.asarray(contexts[-tail:], dtype=np.float64))
    return {key: float(np.polyfit(x, np.log(np.asarray(v["seconds"][-tail:], dtype=np.float64)), 1)[0])
            for key, v in cost.items()}
