"""What chapter 5's front end learned: the wide layer's weights and weight change, read against the training data.

:func:`run_front_end` reads each soundmix ``transformer-average`` run of the comparison (its seeds) and trains the
same transformer on instruments-mini labelled by ``family`` and by ``pitch`` class (:func:`family_config`); each
run's filterbank summary (:func:`front_end_record`, from :mod:`audioformers.audio.filterbank_analysis`) goes to
``results/ch5/front_end.<profile>.json``, whose config is :func:`front_end_config`.

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "What the front end learned")
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from audioformers.audio import filterbank_analysis as fa
from audioformers.ch5.config import RunConfig, base_config, front_end_sizes, profile_sizes
from audioformers.ch5.models import initial_model
from audioformers.ch5.runs import run_one, train_model, write_phase
from audioformers.ch5.tasks import load_task
from audioformers.core.checks import check_int
from audioformers.core.profiles import get_profile, validate_profile


def family_config(profile: str | None = None, seed: int = 0, task: str = "family") -> RunConfig:
    """The instrument run: the same transformer on instruments-mini labelled by ``family`` or by ``pitch`` class."""
    profile = validate_profile(profile or get_profile())
    if task not in ("family", "pitch"):
        raise ValueError(f"task must be 'family' or 'pitch', got {task!r}")
    seed = check_int("seed", seed, minimum=0)
    return base_config({**front_end_sizes(profile), "task": task}, model="transformer-average", seed=seed)


def front_end_config(profile: str | None = None) -> dict[str, Any]:
    """The config ``results/ch5/front_end.<profile>.json`` records: the family/pitch runs' sizes and the
    soundmix runs' config."""
    profile = validate_profile(profile or get_profile())
    return {**front_end_sizes(profile),
            "soundmix_config": asdict(base_config(profile_sizes(profile), model="transformer-average"))}


def front_end_record(config: RunConfig, profile: str, progress: bool = False,
                     device: torch.device | str | None = None) -> dict[str, Any]:
    """Weights and weight change of one run's wide layer, read against its own training data.

    Energy-following curve and principal components are computed from that run's training audio.
    """
    sizes = front_end_sizes(profile)
    task = load_task(config.task, config.train_clips, config.test_clips)
    trained, _ = train_model(config, device=device, progress=progress)  # loads the finished checkpoint
    initial = initial_model(config)
    w0, w1 = (m.front_end.wide.weight.detach().cpu().numpy() for m in (initial, trained))
    audio = task["train_audio"]
    power, freqs = fa.average_spectrum(audio[: min(len(audio), 400)], 16000)
    patches = fa.random_patches(audio, config.patch_samples, sizes["patches"], seed=0)
    record = fa.front_end_report(w0, w1, patches, power, freqs, 16000, top=sizes["top_components"])
    # what the chapter draws, so that it needs no checkpoint: sorted centre frequencies at 256 ranks, the
    # data's energy-following curve, its mean power spectrum, and the gallery's single neurons
    ranks = np.linspace(0, w0.shape[0] - 1, 256).round().astype(int)
    record["curves"] = {"rank": ranks, "energy_following": fa.energy_line(power, freqs, w0.shape[0])[ranks].round(1),
                        **{name: fa.sorted_centres(w, 16000)[0][ranks].astype(np.float64).round(1)
                           for name, w in (("initial", w0), ("trained", w1), ("weight_change", w1 - w0))}}
    record["spectrum"] = {"freqs": freqs[::4], "power": [float(f"{v:.4g}") for v in (power / power.max())[::4]]}
    record["gallery"] = {kind: [{"neuron": i, "weights_scaled": (w1[i] / np.abs(w1[i]).max()).astype(np.float64).round(4)} for i in picks]
                         for kind, picks in fa.gallery(w1, 16000, per_kind=2).items()}
    return record


def run_front_end(profile: str | None = None, device: torch.device | str | None = None, progress: bool = True,
                  resume: bool = True) -> dict[str, Any]:
    """The front-end analysis: each soundmix transformer-average run of the comparison (its seeds), and the same
    instruments-mini audio labelled by family and by pitch; writes ``results/ch5/front_end.<profile>.json``.

    ``metrics["soundmix"]``, ``["family"]``, ``["pitch"]``: per run, the filterbank summary of the initial and
    trained weights and of the ``weight_change`` (trained − initial); ``distance_to_energy_hz`` lists the
    soundmix runs' mean distance to their data's energy-following curve (initial and trained, per seed).
    """
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    base = base_config(sizes, model="transformer-average")
    out: dict[str, Any] = {"soundmix": {}, "family": {}, "pitch": {}}
    runs = []
    for seed in sizes["seeds"]:
        cfg = replace(base, seed=seed)
        if run_one(cfg, cached_only=True) is None:
            continue  # the comparison has not trained it yet
        out["soundmix"][str(seed)] = front_end_record(cfg, profile, device=device)
        if len(out["soundmix"]) > 1:  # the chapter's gallery shows the first seed's neurons
            out["soundmix"][str(seed)].pop("gallery")
    for task in ("family", "pitch"):
        cfg = family_config(profile, front_end_sizes(profile)["seed"], task)
        run = run_one(cfg, device=device, progress=progress, resume=resume)
        runs.append(run)
        out[task] = {"accuracy": run["accuracy"], "curve": run.get("curve"), "train_seconds": run["train_seconds"],
                     "per_source": run["per_source"], **front_end_record(cfg, profile, device=device)}
        out[task].pop("gallery")
    sm = out["soundmix"].values()
    out["distance_to_energy_hz"] = {
        "initial": [r["initial"]["mean_abs_from_energy_hz"] for r in sm],
        "trained": [r["trained"]["mean_abs_from_energy_hz"] for r in sm]}
    out["weight_change"] = {name: {"top_energy": rec["weight_change"]["top_energy"],
                                   "initial_top_energy": rec["initial"]["top_energy"],
                                   "relative_change": rec["weight_change"]["relative_change"]}
                            for name, rec in [*((f"soundmix seed {s}", r) for s, r in out["soundmix"].items()),
                                              *((t, out[t]) for t in ("family", "pitch") if out[t])]}
    write_phase("front_end", out, front_end_config(profile), runs, sizes["seeds"], profile, device)
    return out
