"""What every part of chapter 3's study shares: its set-up (built once per call), the recordings split three ways,
the windows every model and baseline is scored on, scoring, and the trained units cached on disk.

* **Set-up** (:func:`study_setup`): the profile, the device, a domain's :class:`~audioformers.ch3.experiment.
  ExperimentConfig` and its recordings, made once by each entry point of :mod:`audioformers.ch3.study` and handed
  down, so that ``profile`` and ``device`` reach :func:`audioformers.train.training.fit` as the caller gave them.
* **Splits.** A validation part is taken out of the training recordings (music: the shortest training
  track; speech: every tenth training recording). Models and baselines train on the rest; learning rates
  and the linear predictor's order are chosen on validation; test recordings are only scored.
* **Scoring** (:func:`scored_log_probs`): the last ``score_length`` positions of each window, for a model or a
  baseline alike; per-recording scores (:func:`summarise_positions`).
* **Cached units** (:func:`train_cached`): every trained model is cached under ``<data_dir>/ch3/study/``, keyed
  by model, config, seed and data (and checkpointed every tenth of its steps while it trains).

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "The comparison, at three seeds and four domains".
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from audioformers.ch3 import experiment as ns
from audioformers.core.device import autocast, module_device, resolve
from audioformers.core.profiles import get_profile, validate_profile
from audioformers.core.results import CorruptFileError, atomic_write, atomic_write_text, cache_notice, read_cache_json
from audioformers.evaluation.baselines import BigramTable, LinearPredictor
from audioformers.models.wavenet import WaveNet
from audioformers.train.training import load_checkpoint

CHAPTER = "ch3"


# ---- set-up and splits -------------------------------------------------------------------------
@dataclass
class Setup:
    """What one call builds once: the profile, the device, one domain's config and its recordings."""

    profile: str
    device: torch.device
    domain: str
    config: ns.ExperimentConfig
    parts: dict[str, list[np.ndarray]]  # "train" (minus validation), "validation", "test"


def study_setup(profile: str | None = None, domain: str = "music",
                device: torch.device | str | None = None) -> Setup:
    """The set-up of one call. ``profile`` ``None``: ``$BOOK_PROFILE`` (:func:`~audioformers.core.profiles.
    get_profile`); ``device`` ``None``: :func:`~audioformers.core.device.get_device` (``$BOOK_DEVICE``, else CUDA,
    MPS, CPU)."""
    profile = validate_profile(profile) if profile is not None else get_profile()
    return Setup(profile, resolve(device), domain, ns.experiment_config(profile, domain), split_recordings(domain))


def split_recordings(domain: str) -> dict[str, list[np.ndarray]]:
    """``train`` (minus validation), ``validation`` (taken out of the training split) and ``test`` recordings."""
    train = ns.load_tokens(domain, "train")
    test = ns.load_tokens(domain, "test")
    if len(train) < 2:
        raise ValueError(f"{domain}: need at least two training recordings to hold one out for validation")
    if len(train) < 10:  # a few long tracks: hold out the shortest
        held = {int(np.argmin([len(t) for t in train]))}
    else:
        held = set(range(0, len(train), 10))
    return {"train": [t for i, t in enumerate(train) if i not in held],
            "validation": [t for i, t in enumerate(train) if i in held], "test": test}


def scoring_windows(tokens: list[np.ndarray], num_windows: int, length: int, seed: int = 1234
                    ) -> tuple[np.ndarray, np.ndarray]:
    """At least ``num_windows`` windows, the same number from every recording long enough; and each one's recording."""
    usable = [i for i, t in enumerate(tokens) if len(t) >= length]
    if not usable:
        raise ValueError(f"no recording is as long as a window of {length} samples")
    per = max(1, math.ceil(num_windows / len(usable)))
    rng = np.random.default_rng(seed)
    windows, ids = [], []
    for i in usable:
        starts = rng.integers(0, len(tokens[i]) - length + 1, size=per)
        windows += [tokens[i][s : s + length] for s in starts]
        ids += [i] * per
    return np.stack(windows), np.asarray(ids)


def held_out_windows(setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """The windows of the test recordings every model and baseline is scored on, and each one's recording."""
    return scoring_windows(setup.parts["test"], setup.config.eval_windows, ns.window_length(setup.config))


def validation_windows(setup: Setup) -> np.ndarray:
    """The windows of the validation recordings that learning rates are chosen on."""
    return scoring_windows(setup.parts["validation"], setup.config.eval_windows, ns.window_length(setup.config),
                           seed=99)[0]


def recording_names(domain: str, split: list[np.ndarray]) -> list[str]:
    return [f"{domain}-test-{i:03d}" for i in range(len(split))]


# ---- scoring: models and baselines on the same positions ---------------------------------------
@torch.no_grad()
def scored_log_probs(predictor: nn.Module | BigramTable | LinearPredictor, windows: np.ndarray | torch.Tensor,
                     config: ns.ExperimentConfig, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities (N, S, 256) and targets (N, S) on the last ``score_length`` positions of each window:
    the positions :func:`audioformers.ch3.experiment.evaluate` scores, for a model or a baseline."""
    windows = torch.as_tensor(np.asarray(windows)) if not isinstance(windows, torch.Tensor) else windows
    s = config.score_length
    targets = windows[:, -s:]
    if isinstance(predictor, (BigramTable, LinearPredictor)):
        need = 1 if isinstance(predictor, BigramTable) else predictor.order
        w = windows.numpy()
        ctx = np.lib.stride_tricks.sliding_window_view(w[:, -(s + need) : -1], need, axis=1)  # (N, S, need)
        logp = predictor.log_probs(ctx.reshape(-1, need)).reshape(len(w), s, -1)
        return torch.from_numpy(logp).float(), targets
    predictor.eval()
    device = module_device(predictor)  # scored where the model is; log-probabilities returned on the host
    out = []
    for i in range(0, len(windows), batch_size):
        chunk = windows[i : i + batch_size].to(device)
        if isinstance(predictor, WaveNet):
            keep = predictor.receptive_field - 1 + s
            inputs = chunk[:, -(keep + 1) : -1]
        else:
            inputs, _ = ns.model_inputs(predictor, chunk, config)
        with autocast(device):
            logits = predictor(inputs)[:, -s:]
        out.append(torch.log_softmax(logits.float(), dim=-1))
    return torch.cat(out).cpu(), targets


def position_scores(log_probs: torch.Tensor, targets: torch.Tensor) -> dict[str, np.ndarray]:
    """Per scored position (N, S): top-1 hit, top-5 hit, bits."""
    top5 = log_probs.topk(5, dim=-1).indices  # (N, S, 5)
    hit = top5 == targets[..., None]
    bits = -log_probs.gather(-1, targets[..., None])[..., 0] / math.log(2)
    return {"top1": hit[..., 0].float().numpy(), "top5": hit.any(-1).float().numpy(), "bits_per_sample": bits.numpy()}


def mean_bits(predictor: nn.Module | BigramTable | LinearPredictor, windows: np.ndarray | torch.Tensor,
              config: ns.ExperimentConfig) -> float:
    """Bits per sample of ``predictor`` over every scored position of ``windows``."""
    return float(position_scores(*scored_log_probs(predictor, windows, config))["bits_per_sample"].mean())


def summarise_positions(scores: dict[str, np.ndarray], ids: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Pooled metrics over all positions (``final``) and the mean per recording (``per_source``)."""
    final = {k: float(v.mean()) for k, v in scores.items()}
    per_source = {k: {names[i]: float(v[ids == i].mean()) for i in np.unique(ids)} for k, v in scores.items()}
    return {"final": final, "per_source": per_source}


# ---- cached units --------------------------------------------------------------------------------
def unit_path(kind: str, payload: dict[str, Any]) -> Path:
    """Where a trained unit of the study is cached, keyed by what it was trained from."""
    from audioformers.data import build_hash, data_dir

    payload = {**payload, "data": build_hash("wave-mini"), "version": 1}
    key = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:14]
    return data_dir() / CHAPTER / "study" / f"{kind}-{key}"


def train_cached(name: str, config: ns.ExperimentConfig, seed: int, train: list[np.ndarray],
                 eval_windows: torch.Tensor, eval_on: str, device: torch.device | str | None = None
                 ) -> tuple[dict[str, Any], nn.Module]:
    """:func:`audioformers.ch3.experiment.train_one` on ``device``, cached on disk by model, config, seed and data.

    The held-out curve is recorded on ``eval_windows`` (named ``eval_on``) of the first call; evaluation
    does not change training, so the tuning run at a model's chosen rate is also its seed-0 comparison run.
    """
    device = resolve(device)
    base = unit_path("train", {"name": name, "config": asdict(config), "seed": seed})
    meta, weights = base.with_suffix(".json"), base.with_suffix(".pt")
    model = ns.build_model(name, config)
    cached = read_cache_json(meta) if weights.exists() else None  # a corrupt cache: a notice, then retrained
    if cached is not None:
        try:
            model.load_state_dict(load_checkpoint(weights))
            return cached, model.to(device).eval()
        except CorruptFileError as error:
            cache_notice(weights, error)
    base.parent.mkdir(parents=True, exist_ok=True)
    partial = base.with_suffix(".partial.pt")  # an interrupted unit resumes from its last tenth of training
    run = ns.train_one(name, config, seed, train, eval_windows, device=device, checkpoint=partial)
    model = run.pop("model").eval()
    run["curve_on"] = eval_on
    atomic_write(weights, lambda handle: torch.save(model.state_dict(), handle))  # never a half-written cache
    atomic_write_text(meta, json.dumps(run))
    partial.unlink(missing_ok=True)
    return run, model
