"""Equal tuning for chapter 3: every model trains at every learning rate of the same grid, for the same steps and
warm-up as the comparison, one seed; the rate with the fewest validation bits per sample is its ``chosen_lr``
(``results/ch3/tuning.<profile>.json``, read through :func:`audioformers.ch3.study.load_or_tune`).

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "The comparison, at three seeds and four domains".
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import torch

from audioformers.ch3 import experiment as ns
from audioformers.ch3.scoring import CHAPTER, Setup, mean_bits, train_cached, validation_windows
from audioformers.core.results import write_results

#: Learning rates every model is tried at (the book's shared rate was 2e-3).
LR_GRID = {"smoke": (1e-3, 4e-3), "book": (1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2), "paper": (2.5e-4, 5e-4, 1e-3, 2e-3)}


def tuning_config(setup: Setup, models: tuple[str, ...] = ns.MODEL_NAMES) -> dict[str, Any]:
    """What a tuning result must have been run with to be reused (recorded in its results file)."""
    return {**asdict(setup.config), "grid": list(LR_GRID[setup.profile]), "models": list(models),
            "tuned_on": setup.domain, "validation_recordings": len(setup.parts["validation"]), "seed": 0}


def tune(setup: Setup, models: tuple[str, ...] = ns.MODEL_NAMES) -> dict[str, Any]:
    """Every model at every rate of the grid (same steps, warm-up, seed) on ``setup.device``; chosen on validation
    bits. Writes ``results/ch3/tuning.<profile>.json``."""
    windows = torch.from_numpy(validation_windows(setup))
    grid = LR_GRID[setup.profile]
    table: dict[str, dict[str, float]] = {}
    for name in models:
        table[name] = {}
        for lr in grid:
            try:
                _, model = train_cached(name, replace(setup.config, lr=lr), 0, setup.parts["train"], windows,
                                        "validation", setup.device)
            except FloatingPointError:  # diverged at this rate: it cannot be chosen
                table[name][str(lr)] = float("inf")
                continue
            table[name][str(lr)] = mean_bits(model, windows, setup.config)
    chosen = {name: float(min(scores, key=scores.get)) for name, scores in table.items()}
    metrics = {"chosen_lr": chosen, "chosen_warmup_steps": {n: setup.config.warmup_steps for n in models},
               "validation_bits_per_sample": table, "grid": list(grid),
               "edge_of_grid": {n: chosen[n] in (min(grid), max(grid)) for n in models}}
    write_results(CHAPTER, "tuning", metrics, config=tuning_config(setup, models), profile=setup.profile)
    return metrics
