"""How chapter 5's two mechanism studies are read: the same functions for the study that writes the record, the
chapter's findings and the reproduction report (no torch, no data: only what ``results/ch5`` stores).

* :func:`read_time_scale`: Haar − average pooling on the time-scale task (:mod:`audioformers.ch5.time_scale_study`),
  paired per seed and held-out drum kit, by the evidence module's one interval (a two-level t interval over
  seeds × kits), *not yet evidence* unless both models are above the label prior.
* :func:`read_task_dependence`: does the front end's learned filterbank depend on the task
  (:mod:`audioformers.ch5.front_end`)? The same instruments-mini audio is labelled by family and by pitch class;
  seed ``i`` of both tasks starts from the same initialisation and sees the same crops, so ``family − pitch`` is
  paired by seed. The summary, fixed before the multi-seed runs: the geometric-mean centre frequency (Hz) of the
  weight change (trained − initial), over its sorted centre-frequency curve (:func:`centre_hz`). The claim is
  two-sided (the paper says the filterbank depends on the task, not in which direction): *reproduced* only when the
  95% t interval of the paired differences over seeds excludes zero, i.e. when the between-task difference exceeds
  the seed-to-seed spread of that difference by the t interval's margin (t(2) = 4.3 standard errors at three
  seeds); otherwise *inconclusive*; *not yet evidence* unless each task's model is above chance. Beside it, as
  description: the mean distance between the sorted curves of the two tasks at the same seed, against that between
  seeds on the same task.

Notebook: chapters/05_wavelet_audio_transformer.ipynb (sections "Where time scales matter", "What the front end
learned")
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from audioformers.core.checks import check_int
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev

TIME_SCALE_MODELS = ("transformer-haar", "transformer-average")  # claimed: the first scores higher
TASKS = ("family", "pitch")
FLOOR_HZ = 20.0  # centre frequencies below this (DC-like filters) count as this in the geometric mean
TASK_CHANCE = 1 / 12  # both tasks have 12 classes (instrument families; pitch classes)


def check_seeds(seeds: Any, name: str = "seeds") -> list[int]:
    """``seeds`` as a list of distinct non-negative whole numbers (a ValueError naming ``name`` otherwise)."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"{name} must be a list of seeds (non-negative whole numbers), got {seeds!r}")
    out = [check_int(name, s, minimum=0) for s in seeds]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a seed, got {out}")
    return out


def _crops(config: Mapping[str, Any]) -> tuple[int, int]:
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping (a record's config), got {type(config).__name__}")
    try:
        steps, batch = int(config["steps"]), int(config["batch_size"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"config must hold whole-number 'steps' and 'batch_size', got {dict(config)!r}") from None
    return steps, batch


def time_scale_budget(config: Mapping[str, Any], train_kits: int) -> bg.Budget:
    """``300 steps × 16 crops (4.8k 1 s crops) from 2k clips of 6 training kits``: the time-scale verdict's budget
    (the paper has no such task, so no fraction of its data)."""
    steps, batch = _crops(config)
    train_kits = check_int("train_kits", train_kits, minimum=1)
    return bg.Budget(f"{steps:,} steps × {batch} crops ({bg.compact(steps * batch)} 1 s crops) from "
                     f"{bg.compact(int(config.get('train_clips', 0)))} clips of {train_kits} training kits",
                     "a task of ours (the paper has no time-scale experiment)")


def front_end_budget(config: Mapping[str, Any]) -> bg.Budget:
    """``300 steps × 16 crops (4.8k 1 s crops) per run, 3 seeds per task``: the family/pitch runs' budget."""
    steps, batch = _crops(config)
    seeds = check_seeds(config.get("seeds") or [], "config['seeds']")
    return bg.Budget(f"{steps:,} steps × {batch} crops ({bg.compact(steps * batch)} 1 s crops) per run on "
                     f"instruments-mini, {len(seeds)} seed{'' if len(seeds) == 1 else 's'} per task")


def read_time_scale(scores: Mapping[str, Mapping[str, Mapping[str, float]]], prior: float,
                    budget: Any = None) -> dict[str, Any] | None:
    """Haar − average from ``scores = {model: {seed: {kit: accuracy}}}`` over the seeds and kits both models have:
    the two-level t interval (:func:`audioformers.evaluation.evidence.compare_gated`), gated by the label ``prior``
    (each model must be above it). ``budget``: a :class:`audioformers.evaluation.budgets.Budget` (its words go
    beside the verdict) or None. None with fewer than two paired cells."""
    a_name, b_name = TIME_SCALE_MODELS
    if not isinstance(scores, Mapping):
        raise TypeError(f"scores must be a mapping {{model: {{seed: {{kit: accuracy}}}}}}, got {type(scores).__name__}")
    if not (isinstance(prior, (int, float)) and not isinstance(prior, bool) and 0 <= prior <= 1):
        raise ValueError(f"prior must be an accuracy between 0 and 1, got {prior!r}")
    if a_name not in scores or b_name not in scores:
        return None
    seeds = sorted(set(scores[a_name]) & set(scores[b_name]), key=int)
    if not seeds:
        return None
    kits = sorted(set.intersection(*(set(scores[m][s]) for m in TIME_SCALE_MODELS for s in seeds)))
    a = np.array([[scores[a_name][s][k] for k in kits] for s in seeds], dtype=np.float64)
    b = np.array([[scores[b_name][s][k] for k in kits] for s in seeds], dtype=np.float64)
    if a.size < 2:
        return None
    comp, checks = ev.compare_gated(a, b, float(prior), names=TIME_SCALE_MODELS, baseline_name="label prior")
    iv = comp.interval
    return {"a": a_name, "b": b_name, "metric": "accuracy", "seeds": [int(s) for s in seeds], "kits": kits,
            "test_sources": len(kits), "difference": iv.mean, "low": iv.low, "high": iv.high,
            "method": iv.describe(), "verdict": comp.verdict,
            "at_budget": budget.words(comp.verdict) if budget is not None else comp.verdict,
            "budget": budget.line() if budget is not None else "", "line": comp.line(),
            "per_seed": (a.mean(1) - b.mean(1)).tolist(), "per_kit": dict(zip(kits, (a - b).mean(0).tolist())),
            "variance_parts": list(iv.parts) if iv.parts else None,
            "above_prior": {c.a: {"difference": c.interval.mean, "low": c.interval.low, "high": c.interval.high,
                                  "verdict": c.verdict, "line": c.line()} for c in checks}}


def centre_hz(curve: Sequence[float]) -> float:
    """Geometric-mean centre frequency (Hz) of a sorted centre-frequency curve (values below :data:`FLOOR_HZ` count
    as it)."""
    values = np.asarray(curve, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("curve must be a non-empty 1-D sequence of finite, non-negative frequencies (Hz)")
    return float(np.exp(np.mean(np.log(np.maximum(values, FLOOR_HZ)))))


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Mean |Δ| (Hz) between two sorted centre-frequency curves at the same ranks."""
    return float(np.mean(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def read_task_dependence(runs: Mapping[str, Mapping[str, Mapping[str, Any]]], chance: float,
                         budget: Any = None) -> dict[str, Any] | None:
    """Family vs pitch against the spread between seeds on the same task.

    ``runs = {"family": {seed: run}, "pitch": {seed: run}}``, each run holding ``accuracy`` and
    ``curves["weight_change"]`` (its sorted centre frequencies). Paired by seed over the seeds both tasks have.
    Returns the per-seed summaries (:func:`centre_hz`), the interval of ``family − pitch`` (Hz) and its two-sided
    verdict (gated by ``chance``: each task's accuracy must be above it), the within-task seed standard deviations,
    and the curve distances between tasks (same seed) and between seeds (same task). None with fewer than two
    paired seeds."""
    if not isinstance(runs, Mapping) or any(t not in runs for t in TASKS):
        raise ValueError(f"runs must map each of {TASKS} to {{seed: run}}")
    if not (isinstance(chance, (int, float)) and not isinstance(chance, bool) and 0 <= chance < 1):
        raise ValueError(f"chance must be an accuracy in [0, 1), got {chance!r}")
    seeds = sorted(set(runs["family"]) & set(runs["pitch"]), key=int)
    if len(seeds) < 2:
        return None
    curves = {t: [runs[t][s]["curves"]["weight_change"] for s in seeds] for t in TASKS}
    summary = {t: [centre_hz(c) for c in curves[t]] for t in TASKS}
    iv = ev.interval(summary["family"], summary["pitch"])
    word = ev.REPRODUCED if (iv.low > 0 or iv.high < 0) else ev.INCONCLUSIVE
    accuracy = {t: [float(runs[t][s]["accuracy"]) for s in seeds] for t in TASKS}
    checks = {t: ev.interval(accuracy[t], [chance] * len(seeds)) for t in TASKS}
    word = ev.gate(word, checks.values())
    between = [_distance(f, p) for f, p in zip(curves["family"], curves["pitch"])]
    within = {t: [_distance(curves[t][i], curves[t][j]) for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
              for t in TASKS}
    within_all = within["family"] + within["pitch"]
    seed_sd = {t: float(np.std(summary[t], ddof=1)) for t in TASKS}
    per_seed = np.asarray(summary["family"]) - np.asarray(summary["pitch"])
    resolve = (None if word == ev.REPRODUCED else
               ev.units_to_resolve(float(per_seed.mean()), float(per_seed.std(ddof=1)), len(seeds), limit=1000))
    pooled_sd = math.sqrt((seed_sd["family"] ** 2 + seed_sd["pitch"] ** 2) / 2)
    return {"seeds": [int(s) for s in seeds], "summary": "geometric-mean centre frequency of the weight change (Hz)",
            "centre_hz": summary, "difference": iv.mean, "low": iv.low, "high": iv.high, "method": iv.describe(),
            "line": f"family − pitch = {iv.text(digits=0, unit=' Hz')}", "verdict": word,
            "at_budget": budget.words(word) if budget is not None else word,
            "budget": budget.line() if budget is not None else "",
            "per_seed": per_seed.tolist(), "seeds_to_resolve": resolve,
            "seed_sd_hz": seed_sd, "difference_in_seed_sds": abs(iv.mean) / pooled_sd if pooled_sd > 0 else None,
            "accuracy": accuracy,
            "above_chance": {t: {"difference": c.mean, "low": c.low, "high": c.high} for t, c in checks.items()},
            "curve_distance_hz": {"between_tasks": between, "within_family": within["family"],
                                  "within_pitch": within["pitch"]},
            "curves_separated": bool(min(between) > max(within_all)) if within_all else None}
