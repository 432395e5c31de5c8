"""The time-scale study of chapter 5: Haar vs average pooling where only the spacing of events decides the label.

:func:`run_time_scale` trains ``transformer-average`` and ``transformer-haar`` on the time-scale task
(:mod:`audioformers.ch5.time_scale`) for every seed of :func:`audioformers.ch5.config.time_scale_sizes` (ten at
book), scores each on the held-out drum kits (:data:`audioformers.ch5.time_scale.TEST_KITS`) and writes
``results/ch5/time_scale.<profile>.json`` after every seed (each run is cached, so a killed study resumes where it
stopped). The record holds every run, the scores per model, seed and kit (``scores``), the trivial and classical
baselines, and :func:`audioformers.ch5.mechanisms.read_time_scale`'s reading: Haar − average with the evidence module's one interval (a
two-level t interval over seeds × held-out kits), gated by the label prior (:data:`audioformers.evaluation.evidence.BASELINE_RULE`),
with the budget it was read at.

Command line (resumable; one thread is enough)::

    python -m audioformers.ch5.time_scale_study --profile book

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "Where time scales matter")
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from audioformers.ch5 import time_scale
from audioformers.ch5.config import base_config, time_scale_sizes
from audioformers.ch5.mechanisms import check_seeds, read_time_scale, time_scale_budget
from audioformers.ch5.runs import run_one, write_phase
from audioformers.core.profiles import get_profile, validate_profile
from audioformers.train.distributed import start_study, study_parser

def time_scale_config(profile: str | None = None, seeds: list[int] | None = None) -> dict[str, Any]:
    """The config ``results/ch5/time_scale.<profile>.json`` records: the runs' config, the seeds, the models and
    the held-out kits."""
    sizes = time_scale_sizes(validate_profile(profile or get_profile()))
    seeds = check_seeds(seeds) if seeds is not None else None
    return {**asdict(base_config({**sizes, "task": "time_scale"})),
            "seeds": list(seeds if seeds is not None else sizes["seeds"]), "models": sizes["models"],
            "test_kits": list(time_scale.TEST_KITS)}


def score_table(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Test accuracy per model, seed and held-out kit: ``{model: {seed: {kit: accuracy}}}`` (seeds as strings)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    if isinstance(runs, (str, bytes, dict)) or not all(isinstance(r, dict) for r in runs):
        raise TypeError("runs must be a list of run records (dicts with model, seed and per_source)")
    for run in runs:
        table.setdefault(run["model"], {})[str(int(run["seed"]))] = {k: float(v) for k, v in run["per_source"].items()}
    return table


def run_time_scale(profile: str | None = None, seeds: list[int] | None = None,
                   device: torch.device | str | None = None, progress: bool = True,
                   resume: bool = True) -> dict[str, Any]:
    """Haar vs average pooling on the time-scale task, every seed, paired per seed and held-out drum kit; writes
    ``results/ch5/time_scale.<profile>.json`` after each seed (the seeds done so far; the config names them, so a
    partial record is never mistaken for the finished one)."""
    profile = validate_profile(profile or get_profile())
    sizes = time_scale_sizes(profile)
    seeds = sorted(check_seeds(seeds) if seeds is not None else sizes["seeds"])
    base = base_config({**sizes, "task": "time_scale"})
    train, test = time_scale.make_split("train", base.train_clips), time_scale.make_split("test", base.test_clips)
    baselines = time_scale.baselines(train, test)
    budget = time_scale_budget(asdict(base), len(set(time_scale.kit_hits("train")[1].tolist())))
    runs: list[dict[str, Any]] = []
    metrics: dict[str, Any] = {}
    for seed in seeds:
        runs += [run_one(replace(base, model=model, seed=seed), device=device, progress=progress, resume=resume)
                 for model in sizes["models"]]
        done = sorted({int(r["seed"]) for r in runs})
        scores = score_table(runs)
        metrics = {"time_scale": {
            "runs": runs, "scores": scores, "comparison": read_time_scale(scores, baselines["prior"], budget),
            "baselines": baselines, "classes": test.classes, "test_kits": sorted(set(test.sources.tolist())),
            "train_kits": sorted(set(time_scale.kit_hits("train")[1].tolist())), "budget": budget.line(),
            "accuracy": {m: [r["accuracy"] for r in runs if r["model"] == m] for m in sizes["models"]},
            "seconds": {m: [r["train_seconds"] + r["eval_seconds"] for r in runs if r["model"] == m]
                        for m in sizes["models"]}}}
        write_phase("time_scale", metrics, time_scale_config(profile, done), runs, done, profile, device)
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__.split("\n")[0], seeds=True)
    args = parser.parse_args(argv)
    device = start_study(args)
    ts = run_time_scale(args.profile, args.seeds, device=device, resume=args.resume)["time_scale"]
    for model, accs in ts["accuracy"].items():
        print(f"time scale {model:22s} accuracy {np.mean(accs):.3f} over {len(accs)} seeds", flush=True)
    if ts["comparison"]:
        print(f"{ts['comparison']['line']}; {ts['comparison']['at_budget']}", flush=True)


if __name__ == "__main__":
    main()
