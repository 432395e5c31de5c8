"""How much of the past each chapter-3 model uses: held-out bits per sample as a function of how many past samples
the model is given, for the (tuned, seed-0) transformer and WaveNets with receptive fields of 63, 255 and 1,023
samples. ``results/ch3/context_use.<profile>.json`` (read through :func:`audioformers.ch3.study.load_or_run_context`).

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "How much of the past does each model use?".
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audioformers.ch3.scoring import CHAPTER, Setup, held_out_windows, train_cached
from audioformers.core.device import autocast, module_device
from audioformers.core.profiles import pick
from audioformers.core.results import write_results

#: WaveNets of the context-use measurement: layers per stack (two stacks) -> receptive field.
CONTEXT_WAVENETS = {63: 5, 255: 7, 1023: 9}
POSITIONS = 2048  # scored positions per past length


def context_config(setup: Setup, chosen_lr: dict[str, float]) -> dict[str, Any]:
    """What a context-use result must have been run with to be reused (recorded in its results file)."""
    return {**asdict(setup.config), "chosen_lr": chosen_lr, "positions": POSITIONS, "seed": 0}


@torch.no_grad()
def bits_vs_past(model: nn.Module, windows: np.ndarray, pasts: list[int], positions: int = POSITIONS,
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


def context_use(setup: Setup, chosen_lr: dict[str, float]) -> dict[str, Any]:
    """Bits per sample against the past available, on music: the (tuned, seed 0) transformer and three WaveNets,
    trained on ``setup.device``. Writes ``results/ch3/context_use.<profile>.json``."""
    config = setup.config
    windows, _ = held_out_windows(setup)
    twindows = torch.from_numpy(windows)
    pasts_all = [p for p in (1, 2, 4, 8, 16, 32, 62, 128, 254, 511, 1022) if p < windows.shape[1] - 1]
    out: dict[str, Any] = {"pasts": {}, "bits_per_sample": {}, "receptive_field": {}, "parameters": {}}
    _, transformer = train_cached("transformer", replace(config, lr=chosen_lr["transformer"]), 0,
                                  setup.parts["train"], twindows, "test", setup.device)
    pasts = sorted({p for p in pasts_all if p < config.context_length} | {config.context_length - 1})
    key = "transformer"
    out["pasts"][key], out["receptive_field"][key] = pasts, config.context_length
    out["bits_per_sample"][key] = bits_vs_past(transformer, windows, pasts, first=max(pasts_all))
    out["parameters"][key] = transformer.num_parameters()
    for layers in pick(smoke={63: 3}, book=CONTEXT_WAVENETS, paper=CONTEXT_WAVENETS, profile=setup.profile).values():
        cfg = replace(config, lr=chosen_lr["wavenet"], wavenet_layers_per_stack=layers, wavenet_stacks=2)
        _, wavenet = train_cached("wavenet", cfg, 0, setup.parts["train"], twindows, "test", setup.device)
        key = f"wavenet_rf{wavenet.receptive_field}"
        out["pasts"][key] = sorted({p for p in pasts_all if p < wavenet.receptive_field} | {wavenet.receptive_field - 1})
        out["receptive_field"][key] = wavenet.receptive_field
        out["bits_per_sample"][key] = bits_vs_past(wavenet, windows, out["pasts"][key], first=max(pasts_all))
        out["parameters"][key] = wavenet.num_parameters()
    write_results(CHAPTER, "context_use", {"context_use": out}, config=context_config(setup, chosen_lr),
                  profile=setup.profile)
    return out
