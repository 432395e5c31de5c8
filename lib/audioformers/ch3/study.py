"""Chapter 3 as evidence: tuned comparison with baselines and per-recording scores, context use, scaling study.

* **Splits.** A validation part is taken out of the training recordings (music: the shortest training
  track; speech: every tenth training recording). Models and baselines train on the rest; learning rates
  and the linear predictor's order are chosen on validation; test recordings are only scored.
* **Equal tuning** (:func:`tune`): every model trains at every learning rate of the same grid, for the
  same steps and warm-up as the comparison, one seed; the rate with the fewest validation bits per sample
  is its ``chosen_lr`` (``results/ch3/tuning.<profile>.json``).
* **Comparison** (:func:`run_comparison`): each model at its chosen rate, per seed and domain, scored on
  the same held-out windows and positions as the bigram table and the linear predictor
  (:mod:`audioformers.evaluation.baselines`); per-recording scores (``per_source``) and the number of test recordings
  (``test_recordings``) let :mod:`audioformers.evaluation.evidence` give intervals over recordings.
  Written to ``results/ch3/compare_<domain>_seed<N>.<profile>.json``.
* **Context use** (:func:`context_use`): bits per sample as a function of how many past samples the model
  is given, for the transformer and WaveNets with receptive fields of 63, 255 and 1,023 samples.
* **Scaling** (:func:`scaling_study`): both families at three sizes, one warm-up / stable / decay run
  per size giving several training budgets; held-out bits per sample against training compute
  (6 x parameters x tokens), power law with a floor per family, bootstrap intervals and the crossover
  (:func:`audioformers.evaluation.evidence.crossover`). ``results/ch3/scaling.<profile>.json``.

Every trained unit is cached under ``<data_dir>/ch3/study/`` (and checkpointed every tenth of its steps
while it trains) so an interrupted study resumes.
Command line: ``python -m audioformers.ch3.study --profile book [--parts tuning compare context scaling]``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audioformers.evaluation import evidence as ev
from audioformers.ch3 import experiment as ns
from audioformers.evaluation.baselines import BigramTable, LinearPredictor, choose_linear_order
from audioformers.core.device import (
    adamw_options,
    add_device_argument,
    autocast,
    describe,
    get_device,
    module_device,
)
from audioformers.train.distributed import use_device_argument
from audioformers.core.profiles import pick, validate_profile
from audioformers.core.results import (
    CorruptFileError,
    atomic_write,
    atomic_write_text,
    cache_notice,
    load_results,
    read_cache_json,
    write_results,
)
from audioformers.models.sample_transformer import ConditionedSampleTransformer
from audioformers.core.seeding import seed_everything
from audioformers.train.training import load_checkpoint
from audioformers.models.wavenet import WaveNet

CHAPTER = "ch3"
BASELINES = ("bigram", "linear")
#: Learning rates every model is tried at (the book's shared rate was 2e-3).
LR_GRID = {"smoke": (1e-3, 4e-3), "book": (1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2), "paper": (2.5e-4, 5e-4, 1e-3, 2e-3)}
#: WaveNets of the context-use measurement: layers per stack (two stacks) -> receptive field.
CONTEXT_WAVENETS = {63: 5, 255: 7, 1023: 9}


# ---- splits and windows ------------------------------------------------------------------------
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


def summarise_positions(scores: dict[str, np.ndarray], ids: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Pooled metrics over all positions (``final``) and the mean per recording (``per_source``)."""
    final = {k: float(v.mean()) for k, v in scores.items()}
    per_source = {k: {names[i]: float(v[ids == i].mean()) for i in np.unique(ids)} for k, v in scores.items()}
    return {"final": final, "per_source": per_source}


# ---- cached units --------------------------------------------------------------------------------
def _unit_path(kind: str, payload: dict[str, Any]) -> Path:
    from audioformers.data import build_hash, data_dir

    payload = {**payload, "data": build_hash("wave-mini"), "version": 1}
    key = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:14]
    return data_dir() / CHAPTER / "study" / f"{kind}-{key}"


def _train_cached(name: str, config: ns.ExperimentConfig, seed: int, train: list[np.ndarray],
                  eval_windows: torch.Tensor, eval_on: str) -> tuple[dict[str, Any], nn.Module]:
    """:func:`audioformers.ch3.experiment.train_one`, cached on disk by model, config, seed and data.

    The held-out curve is recorded on ``eval_windows`` (named ``eval_on``) of the first call; evaluation
    does not change training, so the tuning run at a model's chosen rate is also its seed-0 comparison run.
    """
    base = _unit_path("train", {"name": name, "config": asdict(config), "seed": seed})
    meta, weights = base.with_suffix(".json"), base.with_suffix(".pt")
    model = ns.build_model(name, config)
    cached = read_cache_json(meta) if weights.exists() else None  # a corrupt cache: a notice, then retrained
    if cached is not None:
        try:
            model.load_state_dict(load_checkpoint(weights))
            return cached, model.to(get_device()).eval()
        except CorruptFileError as error:
            cache_notice(weights, error)
    base.parent.mkdir(parents=True, exist_ok=True)
    partial = base.with_suffix(".partial.pt")  # an interrupted unit resumes from its last tenth of training
    run = ns.train_one(name, config, seed, train, eval_windows, checkpoint=partial)
    model = run.pop("model").eval()
    run["curve_on"] = eval_on
    atomic_write(weights, lambda handle: torch.save(model.state_dict(), handle))  # never a half-written cache
    atomic_write_text(meta, json.dumps(run))
    partial.unlink(missing_ok=True)
    return run, model


def _recording_names(domain: str, split: list[np.ndarray]) -> list[str]:
    return [f"{domain}-test-{i:03d}" for i in range(len(split))]


# ---- equal tuning --------------------------------------------------------------------------------
def tuning_config(profile: str, domain: str = "music", models: tuple[str, ...] = ns.MODEL_NAMES) -> dict[str, Any]:
    """What a tuning result must have been run with to be reused."""
    profile = validate_profile(profile)
    return {**asdict(ns.experiment_config(profile, domain)), "grid": list(LR_GRID[profile]), "models": list(models),
            "tuned_on": domain, "validation_recordings": len(split_recordings(domain)["validation"]), "seed": 0}


def tune(profile: str, domain: str = "music", models: tuple[str, ...] = ns.MODEL_NAMES) -> dict[str, Any]:
    """Every model at every rate of the grid (same steps, warm-up, seed); chosen on validation bits."""
    profile = validate_profile(profile)
    config = ns.experiment_config(profile, domain)
    parts = split_recordings(domain)
    windows, _ = scoring_windows(parts["validation"], config.eval_windows, ns.window_length(config), seed=99)
    windows = torch.from_numpy(windows)
    grid = LR_GRID[profile]
    table: dict[str, dict[str, float]] = {}
    for name in models:
        table[name] = {}
        for lr in grid:
            try:
                _, model = _train_cached(name, replace(config, lr=lr), 0, parts["train"], windows, "validation")
            except FloatingPointError:  # diverged at this rate: it cannot be chosen
                table[name][str(lr)] = float("inf")
                continue
            logp, targets = scored_log_probs(model, windows, config)
            table[name][str(lr)] = float(position_scores(logp, targets)["bits_per_sample"].mean())
    chosen = {name: float(min(scores, key=scores.get)) for name, scores in table.items()}
    metrics = {"chosen_lr": chosen, "chosen_warmup_steps": {n: config.warmup_steps for n in models},
               "validation_bits_per_sample": table, "grid": list(grid),
               "edge_of_grid": {n: chosen[n] in (min(grid), max(grid)) for n in models}}
    write_results(CHAPTER, "tuning", metrics, config=tuning_config(profile, domain, models), profile=profile)
    return metrics


def load_or_tune(profile: str) -> dict[str, Any]:
    """The stored tuning if it was run with the current grid, sizes and split; else run it."""
    try:
        stored = load_results(CHAPTER, "tuning", profile)
        if stored["config"] == tuning_config(profile):
            return stored["metrics"]
    except (FileNotFoundError, KeyError):
        pass
    return tune(profile)


# ---- the tuned comparison --------------------------------------------------------------------------
def comparison_config(profile: str, domain: str, chosen_lr: dict[str, float]) -> dict[str, Any]:
    config = ns.experiment_config(profile, domain)
    parts = split_recordings(domain)
    tuned = ", ".join(f"{name} {lr:g}" for name, lr in chosen_lr.items())
    return {**asdict(config), "lr": f"tuned per model on validation: {tuned}", "models": list(ns.MODEL_NAMES),
            "baselines": list(BASELINES),
            "chosen_lr": chosen_lr, "lr_grid": list(LR_GRID[validate_profile(profile)]), "tuned_on": "music",
            "test_recordings": len(parts["test"]), "validation_recordings": len(parts["validation"]),
            "scoring": "per-recording windows, last score_length positions"}


def run_comparison(profile: str, seed: int, domain: str = "music") -> dict[str, Any]:
    """Models at their chosen rates and both baselines, scored on the same test windows; per-recording scores."""
    profile = validate_profile(profile)
    tuning = load_or_tune(profile)
    config = ns.experiment_config(profile, domain)
    parts = split_recordings(domain)
    windows, ids = scoring_windows(parts["test"], config.eval_windows, ns.window_length(config))
    windows = torch.from_numpy(windows)
    names = _recording_names(domain, parts["test"])
    out: dict[str, Any] = {}
    start = time.perf_counter()
    for name in ns.MODEL_NAMES:
        lr = tuning["chosen_lr"][name]
        run, model = _train_cached(name, replace(config, lr=lr), seed, parts["train"], windows, "test")
        if seed == 0:
            from audioformers.train.training import save_checkpoint

            save_checkpoint(ns.checkpoint_path(f"compare_{domain}_seed{seed}", name, profile), model=model.state_dict())
        run.update(summarise_positions(position_scores(*scored_log_probs(model, windows, config)), ids, names))
        out[name] = {**run, "chosen_lr": lr}
    bigram = BigramTable().fit(parts["train"])
    linear, order_bits = choose_linear_order(parts["train"], parts["validation"],
                                             **pick(smoke={"orders": (1, 2, 4), "max_rows": 20_000, "positions": 2_000},
                                                    book={}, paper={}, profile=profile))
    for key, base in (("bigram", bigram), ("linear", linear)):
        out[key] = {"parameters": base.num_parameters,
                    **summarise_positions(position_scores(*scored_log_probs(base, windows, config)), ids, names)}
    out["linear"].update(order=linear.order, validation_bits_by_order={str(k): v for k, v in order_bits.items()})
    write_results(CHAPTER, f"compare_{domain}_seed{seed}", out, config=comparison_config(profile, domain,
                  tuning["chosen_lr"]), seed=seed, device=str(get_device()), wall_time_s=time.perf_counter() - start,
                  profile=profile)
    return out


def trained_model(profile: str, name: str, seed: int = 0, domain: str = "music") -> nn.Module:
    """The comparison's trained ``name`` (at its chosen rate, ``seed``, ``domain``): from the disk cache, or trained
    again (deterministic under the seed, so it is the model whose scores are stored in ``results/``)."""
    profile = validate_profile(profile)
    tuning = load_or_tune(profile)
    config = ns.experiment_config(profile, domain)
    parts = split_recordings(domain)
    windows, _ = scoring_windows(parts["test"], config.eval_windows, ns.window_length(config))
    _, model = _train_cached(name, replace(config, lr=tuning["chosen_lr"][name]), seed, parts["train"],
                             torch.from_numpy(windows), "test")
    return model


def load_or_run(profile: str, seed: int, domain: str = "music") -> dict[str, Any]:
    """The stored tuned comparison if its config matches the current one; else run it."""
    try:
        stored = load_results(CHAPTER, f"compare_{domain}_seed{seed}", profile)
        tuning = load_results(CHAPTER, "tuning", profile)["metrics"]
        if stored["config"] == comparison_config(profile, domain, tuning["chosen_lr"]) and stored["seed"] == seed:
            return stored["metrics"]
    except (FileNotFoundError, KeyError):
        pass
    return run_comparison(profile, seed, domain)


def model_rows(runs: list[dict[str, Any]]) -> list[str]:
    """Names in a comparison result that are models or baselines (not bookkeeping)."""
    return [k for k in (*ns.MODEL_NAMES, *BASELINES) if k in runs[0]]


def scores_matrix(runs: list[dict[str, Any]], name: str, metric: str = "top5") -> np.ndarray:
    """(seeds, test recordings) scores of one model or baseline, for :func:`audioformers.evaluation.evidence.compare`."""
    recordings = sorted(runs[0][name]["per_source"][metric])
    return np.array([[run[name]["per_source"][metric][r] for r in recordings] for run in runs])


def uncertainty_by_source(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """The interval of mean ``a − b`` over (seeds, recordings) scores, and beside it the interval from each source
    of variation alone: ``recordings`` (scores averaged over seeds, recordings resampled) and ``seeds`` (averaged
    over recordings, seeds resampled). Which one is wide says whether more songs or more seeds would help."""
    a, b = ev.as_scores(a, "a"), ev.as_scores(b, "b")
    out: dict[str, Any] = {"both": ev.interval(a, b, level=level) if a.size >= 2 else None}
    for key, axis in (("recordings", 0), ("seeds", 1)):
        ma, mb = a.mean(axis=axis, keepdims=True), b.mean(axis=axis, keepdims=True)
        out[key] = ev.interval(ma, mb, level=level) if ma.size >= 2 else None
    return out


def load_stored(name: str, profile: str, config: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A stored ch3 study result (``results/ch3/<name>.<profile>.json``) or ``None``; with ``config``, only if it matches."""
    try:
        stored = load_results(CHAPTER, name, profile)
    except FileNotFoundError:
        return None
    if config is not None and stored.get("config") != config:
        return None
    return stored


def context_config(profile: str, chosen_lr: dict[str, float]) -> dict[str, Any]:
    return {**asdict(ns.experiment_config(profile, "music")), "chosen_lr": chosen_lr, "positions": 2048, "seed": 0}


def load_or_run_context(profile: str) -> dict[str, Any]:
    """The stored context-use measurement if made with the current config and tuning; else measure it."""
    tuning = load_stored("tuning", profile)
    if tuning is not None:
        stored = load_stored("context_use", profile, context_config(profile, tuning["metrics"]["chosen_lr"]))
        if stored is not None:
            return stored["metrics"]["context_use"]
    return context_use(profile)


# ---- context use -----------------------------------------------------------------------------------
@torch.no_grad()
def bits_vs_past(model: nn.Module, windows: np.ndarray, pasts: list[int], positions: int = 2048,
                 seed: int = 0, batch_size: int = 256, first: int | None = None) -> list[float]:
    """Held-out bits per sample when the model is given only the last ``k`` samples before each scored one.

    The scored positions (``positions`` of them, drawn with ``seed`` at or after column ``first``, default the
    longest past) are the same for every ``k`` and, given the same ``first``, for every model.
    """
    rng = np.random.default_rng(seed)
    device = module_device(model)
    first = max(pasts) if first is None else first
    if first < max(pasts) or windows.shape[1] <= first:
        raise ValueError(f"windows of {windows.shape[1]} samples cannot give a past of {max(pasts)} "
                         f"(first scored column {first})")
    rows = rng.integers(0, len(windows), size=positions)
    cols = rng.integers(first, windows.shape[1], size=positions)
    out = []
    for k in pasts:
        inputs = np.stack([windows[r, c - k : c] for r, c in zip(rows, cols)])
        targets = torch.from_numpy(windows[rows, cols]).to(device)
        total = 0.0
        for i in range(0, positions, batch_size):
            with autocast(device):
                logits = model(torch.from_numpy(inputs[i : i + batch_size]).to(device))[:, -1]
            total += float(F.cross_entropy(logits.float(), targets[i : i + batch_size], reduction="sum"))
        out.append(total / positions / math.log(2))
    return out


def _music_setup(profile: str) -> tuple[dict[str, Any], ns.ExperimentConfig, dict[str, list[np.ndarray]], np.ndarray]:
    """Tuning, music config, music splits and the music test windows (shared by context use and scaling)."""
    tuning = load_or_tune(profile)
    config = ns.experiment_config(profile, "music")
    parts = split_recordings("music")
    windows, _ = scoring_windows(parts["test"], config.eval_windows, ns.window_length(config))
    return tuning, config, parts, windows


def context_use(profile: str) -> dict[str, Any]:
    """Bits per sample against the past available: the (tuned, seed 0) transformer and three WaveNets."""
    profile = validate_profile(profile)
    tuning, config, parts, windows = _music_setup(profile)
    twindows = torch.from_numpy(windows)
    pasts_all = [p for p in (1, 2, 4, 8, 16, 32, 62, 128, 254, 511, 1022) if p < windows.shape[1] - 1]
    out: dict[str, Any] = {"pasts": {}, "bits_per_sample": {}, "receptive_field": {}, "parameters": {}}
    _, transformer = _train_cached("transformer", replace(config, lr=tuning["chosen_lr"]["transformer"]), 0,
                                   parts["train"], twindows, "test")
    pasts = sorted({p for p in pasts_all if p < config.context_length} | {config.context_length - 1})
    key = "transformer"
    out["pasts"][key], out["receptive_field"][key] = pasts, config.context_length
    out["bits_per_sample"][key] = bits_vs_past(transformer, windows, pasts, first=max(pasts_all))
    out["parameters"][key] = transformer.num_parameters()
    for rf, layers in pick(smoke={63: 3}, book=CONTEXT_WAVENETS, paper=CONTEXT_WAVENETS, profile=profile).items():
        cfg = replace(config, lr=tuning["chosen_lr"]["wavenet"], wavenet_layers_per_stack=layers, wavenet_stacks=2)
        _, wavenet = _train_cached("wavenet", cfg, 0, parts["train"], twindows, "test")
        key = f"wavenet_rf{wavenet.receptive_field}"
        out["pasts"][key] = sorted({p for p in pasts_all if p < wavenet.receptive_field} | {wavenet.receptive_field - 1})
        out["receptive_field"][key] = wavenet.receptive_field
        out["bits_per_sample"][key] = bits_vs_past(wavenet, windows, out["pasts"][key], first=max(pasts_all))
        out["parameters"][key] = wavenet.num_parameters()
    write_results(CHAPTER, "context_use", {"context_use": out}, config=context_config(profile, tuning["chosen_lr"]),
                  profile=profile)
    return out


# ---- scaling study ---------------------------------------------------------------------------------
SIZES = {  # family -> size -> config overrides (about 60k, 250k, 1M parameters)
    "transformer": {"small": {"width": 32, "num_layers": 3}, "medium": {"width": 64, "num_layers": 4},
                    "large": {"width": 128, "num_layers": 4}},
    "wavenet": {"small": {"wavenet_channels": 20}, "medium": {"wavenet_channels": 46},
                "large": {"wavenet_channels": 92}},
}


def scaling_budgets(profile: str) -> list[int]:
    """Training budgets in optimiser steps (x 2,048 tokens at book: 0.3M to 5.1M tokens)."""
    return pick(smoke=[2, 4, 8], book=[150, 300, 600, 1200, 2500], paper=[1000, 2000, 4000, 8000, 16000],
                profile=profile)


#: Rates the smallest size of each family is tried at for the long runs, as fractions of its rate tuned at the
#: comparison's budget (a rate good for 300 steps can be too high for 2,500: the stable phase then stalls).
SCALING_LR_FRACTIONS = {"smoke": (1.0,), "book": (1.0, 0.25), "paper": (1.0, 0.5, 0.25)}
#: How many times the small size's rate grid is extended by one step past an edge that won (see :func:`next_rate`).
SCALING_LR_EXTENSIONS = {"smoke": 0, "book": 1, "paper": 1}


def next_rate(bits_by_lr: dict[float, float]) -> float | None:
    """The rate to try next when the best rate so far (lowest validation bits) is at an edge of the rates
    tried: one grid step beyond that edge (the spacing of the two rates nearest it); ``None`` when the best
    rate is interior, or fewer than two rates were tried."""
    rates = sorted(bits_by_lr)
    if len(rates) < 2:
        return None
    best = min(rates, key=lambda lr: bits_by_lr[lr])
    if best == rates[0]:
        return rates[0] * rates[0] / rates[1]
    if best == rates[-1]:
        return rates[-1] * rates[-1] / rates[-2]
    return None


def _width(family: str, cfg: ns.ExperimentConfig) -> int:
    return cfg.wavenet_channels if family == "wavenet" else cfg.width


def scaled_lr(lr_small: float, family: str, small: ns.ExperimentConfig, cfg: ns.ExperimentConfig) -> float:
    """The rate for a wider model of a family: ``lr_small x width_small / width`` (Adam's hidden-layer rule in
    muP, Yang et al. 2022), so that only the smallest size is tuned."""
    return lr_small * _width(family, small) / _width(family, cfg)


def wsd_run(name: str, config: ns.ExperimentConfig, budgets: list[int], train: list[np.ndarray],
            windows: torch.Tensor | dict[str, torch.Tensor], lr: float, seed: int = 0,
            decay_fraction: float = 0.2) -> dict[str, Any]:
    """One warm-up / stable / decay run: for each budget b, a branch of the stable run at 0.8 b decays
    linearly to zero over the last 0.2 b steps and is scored. Returns bits per sample per budget (on
    ``windows``; given a dict of named window sets, ``bits_per_sample`` is on the first and every set is
    under ``bits_by_set``)."""
    sets = windows if isinstance(windows, dict) else {"test": windows}
    from audioformers.train import distributed as dd

    device = get_device()
    seed_everything(seed)
    model = ns.build_model(name, config).to(device)
    info = dd.current(device)  # under torchrun: each rank trains on its shard of every batch
    dd.prepare(model, info)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, **adamw_options(device))
    rng = np.random.default_rng(seed + 1000)
    length = ns.window_length(config)
    warm = config.warmup_steps

    def step(m: nn.Module, o: torch.optim.Optimizer, lr_now: float, r: np.random.Generator) -> None:
        for g in o.param_groups:
            g["lr"] = lr_now
        batch = torch.from_numpy(ns.sample_windows(train, config.batch_size, length, r)).to(device)
        inputs, targets = ns.model_inputs(m, dd.shard(batch, info) if info.enabled else batch, config)
        with autocast(device):
            logits = m(inputs)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        o.zero_grad(set_to_none=True)
        loss.backward()
        dd.average_gradients(m, info)
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        o.step()

    results: dict[str, dict[int, float]] = {k: {} for k in sets}
    done, start = 0, time.perf_counter()
    model.train()
    for budget in sorted(budgets):
        branch_at = int(round((1 - decay_fraction) * budget))
        while done < branch_at:
            step(model, opt, lr * min(1.0, (done + 1) / max(1, warm)), rng)
            done += 1
        branch, bopt = copy.deepcopy(model), copy.deepcopy(opt)
        brng = copy.deepcopy(rng)
        decay = budget - branch_at
        for i in range(decay):
            step(branch, bopt, lr * (1 - (i + 1) / (decay + 1)), brng)
        for key, w in sets.items():
            logp, targets = scored_log_probs(branch, w, config)
            results[key][budget] = float(position_scores(logp, targets)["bits_per_sample"].mean())
        model.train()
    steps = sorted(budgets)
    by_set = {k: [v[b] for b in steps] for k, v in results.items()}
    return {"steps": steps, "bits_per_sample": by_set[next(iter(sets))], "bits_by_set": by_set, "lr": lr,
            "parameters": model.num_parameters(), "train_seconds": time.perf_counter() - start}


def _cached_wsd(family: str, cfg: ns.ExperimentConfig, budgets: list[int], lr: float, train: list[np.ndarray],
                sets: dict[str, torch.Tensor]) -> dict[str, Any]:
    path = _unit_path("scaling", {"family": family, "config": asdict(cfg), "budgets": budgets, "lr": lr,
                                  "sets": sorted(sets), "version": 2})
    meta = path.with_suffix(".json")
    run = read_cache_json(meta)  # None when missing or corrupt (with a notice)
    if run is None:
        run = wsd_run(family, cfg, budgets, train, sets, lr)
        atomic_write_text(meta, json.dumps(run))
    return run


def _scaling_unit_key(family: str, cfg: ns.ExperimentConfig, budgets: list[int], lr: float,
                      sets: dict[str, torch.Tensor]) -> str:
    payload = {"family": family, "config": asdict(cfg), "budgets": budgets, "lr": lr, "sets": sorted(sets)}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:14]


def scaling_study(profile: str, families: tuple[str, ...] = ("transformer", "wavenet"),
                  sizes: tuple[str, ...] = ("small", "medium", "large"), resamples: int = 200) -> dict[str, Any]:
    """Each family and size trained once; fits per family written after every finished unit.

    The smallest size of each family is run at every rate of :data:`SCALING_LR_FRACTIONS` (times its tuned
    comparison rate); the rate with the lowest *validation* bits at the largest budget is kept, and wider
    sizes use :func:`scaled_lr` of it. Test bits are the study's points; validation bits only choose.

    Every finished run is kept in the results file under ``units`` (keyed by family, sizes, budgets and rate),
    so a study interrupted on one machine continues on another from the committed ``results/`` alone.
    """
    profile = validate_profile(profile)
    tuning, config, parts, windows = _music_setup(profile)
    val, _ = scoring_windows(parts["validation"], config.eval_windows, ns.window_length(config), seed=99)
    sets = {"test": torch.from_numpy(windows), "validation": torch.from_numpy(val)}
    budgets = scaling_budgets(profile)
    tokens_per_step = config.batch_size * config.context_length
    stored = load_stored("scaling", profile)
    units: dict[str, dict[str, Any]] = dict((stored or {}).get("metrics", {}).get("units", {}))
    runs: dict[str, dict[str, Any]] = {f: {} for f in families}
    lr_tuning: dict[str, dict[str, Any]] = {}

    def unit(family: str, cfg: ns.ExperimentConfig, lr: float) -> dict[str, Any]:
        key = _scaling_unit_key(family, cfg, budgets, lr, sets)
        if key not in units:
            units[key] = {**_cached_wsd(family, cfg, budgets, lr, parts["train"], sets), "family": family}
            write_scaling(profile, runs, config, budgets, tuning["chosen_lr"], resamples, lr_tuning, units)
        return dict(units[key])

    ordered = ("small", *[s for s in sizes if s != "small"])  # the smallest size first: it sets the rate
    for size in ordered:  # both families at one size before the next: a partial study is still a comparison
        for family in families:
            small = replace(config, **SIZES[family]["small"]) if profile != "smoke" else config
            cfg = replace(config, **SIZES[family][size]) if profile != "smoke" else config
            if size == "small":
                tried = {}
                for fraction in SCALING_LR_FRACTIONS[profile]:
                    lr = tuning["chosen_lr"][family] * fraction
                    tried[lr] = unit(family, cfg, lr)
                extended = []
                for _ in range(SCALING_LR_EXTENSIONS[profile]):  # the winner at an edge: one step beyond it
                    lr = next_rate({r: u["bits_by_set"]["validation"][-1] for r, u in tried.items()})
                    if lr is None:
                        break
                    tried[lr] = unit(family, cfg, lr)
                    extended.append(lr)
                bits = {lr: r["bits_by_set"]["validation"][-1] for lr, r in tried.items()}
                best = min(tried, key=lambda lr: bits[lr])
                lr_tuning[family] = {"lr_small": best, "validation_bits_at_largest_budget":
                                     {str(lr): b for lr, b in sorted(bits.items())},
                                     "extended_past_edge": extended,
                                     "edge_of_grid": best in (min(bits), max(bits)),
                                     "rule": "wider sizes: lr_small x width_small / width"}
                run = tried[best]
                if "small" not in sizes:
                    continue
            else:
                run = unit(family, cfg, scaled_lr(lr_tuning[family]["lr_small"], family, small, cfg))
            run["tokens"] = [s * tokens_per_step for s in run["steps"]]
            run["compute"] = [6.0 * run["parameters"] * t for t in run["tokens"]]
            runs[family][size] = run
            write_scaling(profile, runs, config, budgets, tuning["chosen_lr"], resamples, lr_tuning, units)
    return load_results(CHAPTER, "scaling", profile)["metrics"]


def fit_family(compute: list[float], bits: list[float], resamples: int = 200) -> dict[str, Any]:
    """Power law with a floor of bits against compute, with a 90% residual-bootstrap interval of each term."""
    fit = ev.fit_power_law(compute, bits)
    boots = ev.bootstrap_trends(compute, bits, resamples=resamples)
    q = lambda attr: [float(v) for v in np.quantile([getattr(b, attr) for b in boots], [0.05, 0.95])]  # noqa: E731
    return {"exponent": fit.exponent, "exponent_interval": q("exponent"), "floor": fit.floor,
            "floor_interval": q("floor"), "scale": fit.scale, "x_ref": fit.x_ref, "points": len(compute)}


def compute_frontier(by_size: dict[str, dict[str, Any]]) -> dict[str, list]:
    """The compute-efficient frontier of a family's runs (the lower envelope, as in Kaplan et al. 2020): at every
    measured compute, the lowest held-out bits of any run at that compute or less, and the size that reached it.

    Evaluated at every measured compute, it is flat where no run improved on a cheaper one: that is what was
    measured (a larger model stopped early is worse than a smaller one run longer for the same compute), and a fit
    must not extrapolate the cheap end's slope past it."""
    points = sorted((c, b, size) for size, r in by_size.items() for c, b in zip(r["compute"], r["bits_per_sample"]))
    out: dict[str, list] = {"compute": [], "bits_per_sample": [], "size": []}
    for c, b, size in points:
        improved = not out["bits_per_sample"] or b < out["bits_per_sample"][-1]
        out["compute"].append(c)
        out["bits_per_sample"].append(b if improved else out["bits_per_sample"][-1])
        out["size"].append(size if improved else out["size"][-1])
    return out


def scaling_metrics(runs: dict[str, dict[str, Any]], chosen_lr: dict[str, float], resamples: int = 200,
                    lr_tuning: dict[str, dict[str, Any]] | None = None,
                    units: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The scaling record's metrics from the finished runs (``runs[family][size]``): per family its
    compute-efficient frontier and the power law fitted to it (every point pooled as ``all_points``), one learning
    curve per family for the report, and the crossover of the two frontiers' fits."""
    metrics: dict[str, Any] = {"families": {}, "sizes_done": {f: list(r) for f, r in runs.items()},
                               "lr_tuning": lr_tuning or {}, "units": units or {}}
    pooled = {}
    for family, by_size in runs.items():
        compute = [c for r in by_size.values() for c in r["compute"]]
        bits = [b for r in by_size.values() for b in r["bits_per_sample"]]
        front = compute_frontier(by_size)
        entry: dict[str, Any] = {"runs": by_size, "chosen_lr": {size: r["lr"] for size, r in by_size.items()},
                                 "comparison_lr": chosen_lr[family], "frontier": front}
        if len(front["compute"]) >= 3:  # the family's scaling law: fitted to its compute-efficient frontier
            entry.update(fit_family(front["compute"], front["bits_per_sample"], resamples))
            entry["fitted_to"] = "compute-efficient frontier"
        if len(compute) >= 3:  # every point pooled, for comparison (undertrained large sizes pull it up)
            entry["all_points"] = fit_family(compute, bits, resamples)
        metrics["families"][family] = entry
        pooled[family] = (front["compute"], front["bits_per_sample"])
        medium = by_size.get("medium") or next(iter(by_size.values()), None)
        if medium:  # the report's reader: one learning curve per family (bits against tokens)
            metrics[family] = {"curve": {"tokens": medium["tokens"], "bits_per_sample": medium["bits_per_sample"]},
                               "train_seconds": medium["train_seconds"], "parameters": medium["parameters"]}
    t, w = pooled.get("transformer"), pooled.get("wavenet")
    if t and w and len(t[0]) >= 3 and len(w[0]) >= 3:
        cross = ev.crossover(t[0], t[1], w[0], w[1], lower_is_better=True, resamples=resamples)
        metrics["crossover"] = {"text": cross.text("FLOPs of training compute"), "median": cross.median,
                                "low": cross.low, "high": cross.high, "fraction": cross.fraction,
                                "horizon": cross.horizon, "x_last": cross.x_last}
    return metrics


def write_scaling(profile: str, runs: dict[str, dict[str, Any]], config: ns.ExperimentConfig, budgets: list[int],
                  chosen_lr: dict[str, float], resamples: int = 200,
                  lr_tuning: dict[str, dict[str, Any]] | None = None,
                  units: dict[str, dict[str, Any]] | None = None) -> None:
    metrics = scaling_metrics(runs, chosen_lr, resamples, lr_tuning, units)
    write_results(CHAPTER, "scaling", metrics, config={**asdict(config), "budgets_steps": budgets,
                  "sizes": SIZES, "schedule": "warm-up, stable, linear decay over the last 20% of each budget",
                  "compute": "6 x parameters x training tokens", "seed": 0,
                  "fit": "per family, bits = floor + scale x (compute / x_ref)^-exponent on the compute-efficient "
                         "frontier (the best size at each compute); the crossover compares the two frontiers' fits",
                  "lr_fractions_tried_at_small": list(SCALING_LR_FRACTIONS[profile]),
                  "lr_extensions_past_a_winning_edge": SCALING_LR_EXTENSIONS[profile],
                  "machine": "one torch thread on a shared 2-core machine (train_seconds are not benchmarks)"},
                  profile=profile)


def load_scaling(profile: str, resamples: int = 200) -> dict[str, Any] | None:
    """The stored scaling record (``None`` if the study has not run at this profile).

    A record written before the frontier fit (a family without ``frontier``) is refitted here from its stored runs,
    in memory, with ``refitted_on_load`` set, so a reader never mixes an old record's fits with today's figure."""
    stored = load_stored("scaling", profile)
    if stored is None:
        return None
    families = stored["metrics"].get("families", {})
    if all("frontier" in f for f in families.values()):
        return stored
    runs = {family: f.get("runs", {}) for family, f in families.items()}
    chosen = {family: f.get("comparison_lr", float("nan")) for family, f in families.items()}
    metrics = scaling_metrics(runs, chosen, resamples, stored["metrics"].get("lr_tuning"),
                              stored["metrics"].get("units"))
    return {**stored, "metrics": {**metrics, "refitted_on_load": True}}


def scaling_lines(metrics: dict[str, Any]) -> list[str]:
    """What the scaling record says, a line each: the rates tried at the smallest size and the one kept, each
    family's frontier fit (with every point pooled beside it), and the crossover."""
    lines = []
    for family, tuned in metrics.get("lr_tuning", {}).items():
        tried = ", ".join(f"{float(lr):.2g}: {bits:.3f}" for lr, bits in tuned["validation_bits_at_largest_budget"].items())
        extra = (f" (extended past a winning edge: {', '.join(f'{lr:.2g}' for lr in tuned['extended_past_edge'])})"
                 if tuned.get("extended_past_edge") else "")
        edge = ""
        if "edge_of_grid" in tuned:
            edge = ", still at an edge of the rates tried" if tuned["edge_of_grid"] else ", interior"
        lines.append(f"{family}: smallest size tried at {tried} (validation bits at the largest budget){extra} "
                     f"-> {tuned['lr_small']:.2g}{edge}")
    for family, fit in metrics.get("families", {}).items():
        if "exponent" not in fit:
            continue
        lo, hi = fit["exponent_interval"]
        rates = ", ".join(f"{size} {lr:.2g}" for size, lr in fit["chosen_lr"].items())
        pooled = fit.get("all_points", {})
        lines.append(f"{family:<12} frontier: exponent {fit['exponent']:.2f} (90% bootstrap {lo:.2f}–{hi:.2f}), floor "
                     f"{fit['floor']:.2f} bits, from {fit['points']} points; learning rates: {rates}"
                     + (f"; every point pooled instead: exponent {pooled['exponent']:.2f}, floor {pooled['floor']:.2f}"
                        if pooled else ""))
    if "crossover" in metrics:
        lines.append("transformer vs WaveNet: " + metrics["crossover"]["text"])
    return lines


SCALING_COLOURS = {"transformer": "tab:orange", "wavenet": "tab:blue"}


def plot_scaling(metrics: dict[str, Any], ax: Any = None) -> Any:
    """Held-out bits against training compute: each family's sizes (lighter = smaller), its compute-efficient
    frontier (a wide step) and the power law fitted to the frontier (dashed, drawn to 100x its reference compute).
    Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    order = ("small", "medium", "large")
    for family, fit in metrics.get("families", {}).items():
        colour = SCALING_COLOURS.get(family, "tab:gray")
        for size, run in fit.get("runs", {}).items():
            shade = 0.4 + 0.2 * order.index(size) if size in order else 0.6
            ax.plot(run["compute"], run["bits_per_sample"], "o-", color=colour, alpha=shade,
                    label=f"{family} {size} ({run['parameters']:,})")
        if "frontier" in fit:
            ax.step(fit["frontier"]["compute"], fit["frontier"]["bits_per_sample"], where="post", color=colour, lw=4,
                    alpha=0.25, label=f"{family}: compute-efficient frontier")
        if "exponent" in fit:
            law = ev.Trend(fit["floor"], fit["scale"], fit["exponent"], fit["x_ref"])
            x = np.logspace(np.log10(min(fit["frontier"]["compute"])), np.log10(100 * fit["x_ref"]), 100)
            ax.plot(x, law(x), "--", color=colour, label=f"{family}: fit to the frontier")
    ax.set(xscale="log", xlabel="training compute (6 × parameters × tokens, FLOPs)", ylabel="held-out bits per sample",
           title="music: scaling of both families (dashed: power law with a floor fitted to the frontier)")
    ax.legend(fontsize=7)
    return ax


def forget(profile: str, parts: list[str], seeds: list[int], domains: list[str]) -> None:
    """What ``--no-resume`` deletes: the cached units (trained models, partial checkpoints, scaling runs) and the
    results of ``parts`` at ``profile``, so that nothing is reused."""
    import shutil

    from audioformers.data import data_dir
    from audioformers.core.results import results_dir

    profile = validate_profile(profile)
    shutil.rmtree(data_dir() / CHAPTER / "study", ignore_errors=True)
    names = {"tuning": ["tuning"], "context": ["context_use"], "scaling": ["scaling"],
             "compare": [f"compare_{d}_seed{s}" for d in domains for s in seeds]}
    for part in parts:
        for name in names[part]:
            (results_dir() / CHAPTER / f"{name}.{profile}.json").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Chapter 3 study: tuning, tuned comparison, context use, scaling")
    parser.add_argument("--profile", default="book")
    parser.add_argument("--parts", nargs="+", default=["tuning", "compare", "context", "scaling"],
                        choices=["tuning", "compare", "context", "scaling"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--domains", nargs="+", default=["music", "speech", "orchestra", "piano-mini"])
    parser.add_argument("--sizes", nargs="+", default=["small", "medium", "large"])
    parser.add_argument("--threads", type=int, default=1)
    add_device_argument(parser)
    parser.add_argument("--no-resume", action="store_true",
                        help="delete chapter 3's cached study units (every profile) and the requested parts' results "
                             "at this profile first, and train everything from the start")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    print(f"device: {describe(use_device_argument(args.device))}", flush=True)
    if args.no_resume:
        forget(args.profile, args.parts, args.seeds, args.domains)
    if "tuning" in args.parts:
        print(json.dumps(load_or_tune(args.profile)["chosen_lr"]), flush=True)
    for i, domain in enumerate(args.domains):  # music's comparison, then context use, then the other domains
        if "compare" in args.parts:
            for seed in args.seeds:
                out = load_or_run(args.profile, seed, domain)
                print(domain, seed, json.dumps({k: v["final"] for k, v in out.items()}), flush=True)
        if i == 0 and "context" in args.parts:
            print(json.dumps(context_use(args.profile)["bits_per_sample"]), flush=True)
    if "scaling" in args.parts:
        out = scaling_study(args.profile, sizes=tuple(args.sizes))
        print(json.dumps({f: {k: v for k, v in e.items() if k != "runs"} for f, e in out["families"].items()}),
              flush=True)


if __name__ == "__main__":
    main()
