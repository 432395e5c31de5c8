"""Chapter 3's tuned comparison: each model at its chosen rate and both trivial baselines (a bigram table and a
linear predictor, :mod:`audioformers.evaluation.baselines`), per seed and domain, scored on the same held-out
windows and positions; per-recording scores (``per_source``) and the number of test recordings
(``test_recordings``) let :mod:`audioformers.evaluation.evidence` give intervals over recordings and seeds.
Written to ``results/ch3/compare_<domain>_seed<N>.<profile>.json`` (read through
:func:`audioformers.ch3.study.load_or_run`).

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "The comparison, at three seeds and four domains".
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from audioformers.ch3 import experiment as ns
from audioformers.ch3.scoring import (
    CHAPTER,
    Setup,
    held_out_windows,
    position_scores,
    recording_names,
    scored_log_probs,
    summarise_positions,
    train_cached,
)
from audioformers.ch3.tuning import LR_GRID
from audioformers.core.profiles import pick
from audioformers.core.results import write_results
from audioformers.evaluation import evidence as ev
from audioformers.evaluation.baselines import BigramTable, choose_linear_order

BASELINES = ("bigram", "linear")


def comparison_name(domain: str, seed: int) -> str:
    return f"compare_{domain}_seed{seed}"


def comparison_config(setup: Setup, chosen_lr: dict[str, float]) -> dict[str, Any]:
    """What a comparison result must have been run with to be reused (recorded in its results file)."""
    tuned = ", ".join(f"{name} {lr:g}" for name, lr in sorted(chosen_lr.items()))  # as stored: names in order
    return {**asdict(setup.config), "lr": f"tuned per model on validation: {tuned}", "models": list(ns.MODEL_NAMES),
            "baselines": list(BASELINES),
            "chosen_lr": chosen_lr, "lr_grid": list(LR_GRID[setup.profile]), "tuned_on": "music",
            "test_recordings": len(setup.parts["test"]), "validation_recordings": len(setup.parts["validation"]),
            "scoring": "per-recording windows, last score_length positions"}


def run_comparison(setup: Setup, seed: int, chosen_lr: dict[str, float], name: str | None = None,
                   config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Models at their chosen rates (trained on ``setup.device``) and both baselines, scored on the same test
    windows; per-recording scores. Writes ``results/ch3/compare_<domain>_seed<seed>.<profile>.json`` (or
    ``<name>.<profile>.json`` with ``config``: the long study's), after the baselines and after every model, so
    a record holds the models finished so far."""
    windows, ids = held_out_windows(setup)
    windows = torch.from_numpy(windows)
    names = recording_names(setup.domain, setup.parts["test"])
    out: dict[str, Any] = {}
    start = time.perf_counter()
    record = name or comparison_name(setup.domain, seed)
    record_config = config if config is not None else comparison_config(setup, chosen_lr)

    def write() -> None:
        write_results(CHAPTER, record, out, config=record_config, seed=seed, device=str(setup.device),
                      wall_time_s=time.perf_counter() - start, profile=setup.profile)

    bigram = BigramTable().fit(setup.parts["train"])
    linear, order_bits = choose_linear_order(setup.parts["train"], setup.parts["validation"],
                                             **pick(smoke={"orders": (1, 2, 4), "max_rows": 20_000, "positions": 2_000},
                                                    book={}, paper={}, profile=setup.profile))
    for key, base in (("bigram", bigram), ("linear", linear)):
        out[key] = {"parameters": base.num_parameters,
                    **summarise_positions(position_scores(*scored_log_probs(base, windows, setup.config)), ids, names)}
    out["linear"].update(order=linear.order, validation_bits_by_order={str(k): v for k, v in order_bits.items()})
    for model_name in ns.MODEL_NAMES:
        lr = chosen_lr[model_name]
        run, model = train_cached(model_name, replace(setup.config, lr=lr), seed, setup.parts["train"], windows,
                                  "test", setup.device)
        run.update(summarise_positions(position_scores(*scored_log_probs(model, windows, setup.config)), ids, names))
        out[model_name] = {**run, "chosen_lr": lr}
        if name is not None:  # the long study: every finished unit is in results/ at once
            write()
    write()
    return {k: out[k] for k in (*ns.MODEL_NAMES, *BASELINES)}


def trained(setup: Setup, name: str, seed: int, chosen_lr: dict[str, float]) -> torch.nn.Module:
    """The comparison's trained ``name`` at its chosen rate: from the disk cache, or trained again (deterministic
    under the seed, so it is the model whose scores are stored in ``results/``)."""
    windows, _ = held_out_windows(setup)
    _, model = train_cached(name, replace(setup.config, lr=chosen_lr[name]), seed, setup.parts["train"],
                            torch.from_numpy(windows), "test", setup.device)
    return model


# ---- reading the comparison's records --------------------------------------------------------------
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
