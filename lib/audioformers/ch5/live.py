"""Chapter 5's live run: the notebook's own wavelet transformer trained for a few minutes on soundmix-mini.

:func:`train_live` trains a model it is given (the notebook's ``WaveletAudioTransformer``, written in its cells)
exactly as the chapter's runs train theirs (:func:`audioformers.ch5.runs.train_model`): the same random 1 s crops
per step (``numpy.random.default_rng([seed, step])``), binary cross-entropy, AdamW with 5% warm-up and cosine decay
(:func:`audioformers.train.training.fit`), and the same clip scores (the mean of a test clip's 1 s crops) and mAP.
It keeps no checkpoint and writes nothing: the run is the reader's. :func:`live_sizes` gives its sizes per profile
and :func:`filterbank_curves` reads the front end before and after, against a DFT's line, mel and the data's energy.

Notebook: chapters/05_wavelet_audio_transformer.ipynb, section "Train it yourself".
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from audioformers.audio import filterbank_analysis as fa
from audioformers.ch5.runs import clip_scores
from audioformers.ch5.tasks import load_task, random_crops, score_task
from audioformers.core.checks import check_int
from audioformers.core.device import resolve, to_device
from audioformers.core.profiles import pick, validate_profile
from audioformers.train.training import fit

SAMPLE_RATE = 16000


def live_sizes(profile: str) -> dict[str, Any]:
    """Sizes of the live run (fixed before it was run): seconds at ``smoke``, at most about 3 minutes of 2 CPU
    threads at ``book`` (the chapter's 2,000 training and 150 test clips, a quarter of a pass over the audio)."""
    p = validate_profile(profile)
    return {"steps": pick(smoke=6, book=300, paper=2000, profile=p),
            "batch_size": pick(smoke=4, book=16, paper=64, profile=p),
            "train_clips": pick(smoke=16, book=2000, paper=2000, profile=p),
            "test_clips": pick(smoke=10, book=150, paper=150, profile=p),
            "eval_every": pick(smoke=3, book=50, paper=200, profile=p),
            "front_hidden": pick(smoke=64, book=512, paper=2048, profile=p),  # the wide layer: 2,048 in the paper
            "lr": 1e-3, "seed": 0, "task": "soundmix"}


def train_live(model: nn.Module, *, profile: str, device: torch.device | str | None = None,
               sizes: dict[str, Any] | None = None, progress: bool = False) -> dict[str, Any]:
    """Train ``model`` (raw 16 kHz audio (B, 16000) -> one logit per class) on soundmix-mini at ``profile``'s
    :func:`live_sizes` (or ``sizes``) on ``device``; return its learning curve and its front end before and after.

    Returns ``steps`` and ``map`` (test mAP at each evaluation), ``loss_steps`` and ``train_loss`` (every step),
    ``wall_s`` (the whole run, evaluations included), ``train_s`` (training alone), ``initial_filters`` and
    ``trained_filters`` (the wide layer's weights, where the model has one) and ``sizes``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module (raw audio -> logits), got {type(model).__name__}")
    sizes = dict(sizes or live_sizes(profile))
    for key in ("steps", "batch_size", "train_clips", "test_clips"):
        check_int(key, sizes[key], minimum=1)
    check_int("eval_every", sizes["eval_every"], minimum=0)
    device = resolve(device)
    task = load_task(sizes["task"], sizes["train_clips"], sizes["test_clips"])
    audio, targets = task["train_audio"], task["train_targets"]
    seed = int(sizes["seed"])
    wide = getattr(getattr(model, "front_end", None), "wide", None)
    initial = wide.weight.detach().cpu().numpy().copy() if isinstance(wide, nn.Linear) else None

    def next_batch(step: int):  # the chapter's runs draw the same crops for the same seed and step
        index, crops = random_crops(audio, sizes["batch_size"], np.random.default_rng([seed, step]))
        return to_device((torch.from_numpy(crops), torch.from_numpy(targets[index])), device)

    def loss_fn(net: nn.Module, batch) -> torch.Tensor:
        crops, labels = batch  # (B, 16000), (B, classes) multi-hot
        return nn.functional.binary_cross_entropy_with_logits(net(crops), labels)

    eval_seconds = []

    def evaluate(net: nn.Module) -> dict[str, float]:
        start = time.perf_counter()
        scored = score_task(task, clip_scores(net, task["test_audio"], True, device=device))
        eval_seconds.append(time.perf_counter() - start)
        return {"map": scored["map"]}

    start = time.perf_counter()
    history = fit(model, next_batch, loss_fn, steps=sizes["steps"], lr=sizes["lr"],
                  warmup_steps=max(1, sizes["steps"] // 20), device=device, progress=progress, desc="live",
                  evaluate=evaluate if sizes["eval_every"] else None, eval_every=sizes["eval_every"])
    wall = time.perf_counter() - start
    return {"steps": list(history.eval_step), "map": history.metric("map") if sizes["eval_every"] else [],
            "loss_steps": list(history.step), "train_loss": list(history.train_loss),
            "wall_s": wall, "train_s": wall - sum(eval_seconds), "sizes": sizes, "classes": task["classes"],
            "initial_filters": initial,
            "trained_filters": wide.weight.detach().cpu().numpy().copy() if initial is not None else None}


def filterbank_curves(initial: np.ndarray, trained: np.ndarray, audio: np.ndarray,
                      sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Sorted centre frequencies (Hz, one per neuron) of the ``initial`` and ``trained`` wide-layer weights
    (neurons, taps) and of their difference, beside a DFT's straight line, the mel scale and the curve that
    follows the energy of ``audio`` (N, T) (neuron ``i`` where a fraction ``i/N`` of the energy lies below)."""
    initial, trained = np.asarray(initial, dtype=np.float64), np.asarray(trained, dtype=np.float64)
    if initial.shape != trained.shape:
        raise ValueError(f"initial {initial.shape} and trained {trained.shape} weights must have one shape")
    n = initial.shape[0]
    power, freqs = fa.average_spectrum(audio, sample_rate)  # (n_fft/2+1,) each
    return {"rank": np.arange(n),
            "initial": fa.sorted_centres(initial, sample_rate)[0],
            "trained": fa.sorted_centres(trained, sample_rate)[0],
            "weight_change": fa.sorted_centres(trained - initial, sample_rate)[0],
            "dft": fa.dft_line(n, sample_rate), "mel": fa.mel_line(n, sample_rate),
            "energy_following": fa.energy_line(power, freqs, n)}
