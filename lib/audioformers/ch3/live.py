"""Chapter 3's live run: a small causal transformer and a small WaveNet, of about the same size, trained in front of
the reader on wave-mini's music (8 kHz) for a few minutes, scored in bits per sample on held-out windows of the
test track beside a bigram count table, and sampled.

The models are the notebook's own (the cells tagged ``lesson-model``, tested equal to
:mod:`audioformers.models.sample_transformer` and :mod:`audioformers.models.wavenet`); this module gives their
sizes at each profile (:func:`live_configs`), trains them (:func:`train_live`, through
:func:`audioformers.ch3.experiment.train_one`, the loop of the stored comparison) and copies a trained model into
the package's class (:func:`as_package_model`) for the compiled sampler :mod:`audioformers.models.fast_sampling`.
Nothing is cached: every run trains from its seed.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "Training both, live".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from audioformers.ch3 import experiment as ns
from audioformers.ch3.scoring import mean_bits, scoring_windows, split_recordings
from audioformers.core.checks import check_choice, check_int
from audioformers.core.device import resolve
from audioformers.core.profiles import pick, validate_profile
from audioformers.evaluation.baselines import BigramTable
from audioformers.models.sample_transformer import SampleTransformer, SampleTransformerConfig
from audioformers.models.wavenet import WaveNet, WaveNetConfig

LIVE_DOMAIN = "music"
LIVE_MODELS = ("transformer", "wavenet")


@dataclass(frozen=True)
class LiveSizes:
    """What the live run trains at one profile: the shared training config and each model's rate and config."""

    config: ns.ExperimentConfig  # windows, batch, steps, warm-up, evaluation (the models' own fields unused)
    lr: dict[str, float]  # peak learning rate per model
    models: dict[str, SampleTransformerConfig | WaveNetConfig]


def live_configs(profile: str) -> LiveSizes:
    """The live run's sizes at ``profile``: seconds at ``smoke``, about two minutes per model on 2 CPU cores at
    ``book``. The WaveNet's receptive field (128 samples at ``book``) is inside every scored position's past, and
    the two models' parameter counts are within 10% of each other."""
    profile = validate_profile(profile)
    base = pick(
        smoke=ns.ExperimentConfig(context_length=64, past_length=64, score_length=32, batch_size=4, steps=8,
                                  warmup_steps=2, eval_every=4, eval_windows=8),
        book=ns.ExperimentConfig(context_length=256, past_length=256, score_length=128, batch_size=8, steps=600,
                                 warmup_steps=30, eval_every=50, eval_windows=96),
        paper=ns.ExperimentConfig(context_length=256, past_length=256, score_length=128, batch_size=16, steps=2000,
                                  warmup_steps=100, eval_every=200, eval_windows=256),
        profile=profile)
    width, layers, channels, wn_layers = pick(smoke=(32, 1, 16, 5), book=(48, 2, 34, 7), paper=(64, 3, 40, 7),
                                              profile=profile)
    models = {"transformer": SampleTransformerConfig(context_length=base.context_length, width=width,
                                                     num_layers=layers, num_heads=4),
              "wavenet": WaveNetConfig(residual_channels=channels, dilation_channels=channels,
                                       skip_channels=2 * channels, layers_per_stack=wn_layers, num_stacks=1)}
    return LiveSizes(replace(base, domain=LIVE_DOMAIN), {"transformer": 2e-3, "wavenet": 8e-3}, models)


def live_data(profile: str) -> dict[str, Any]:
    """The live run's data: music's training recordings (the study's training part), held-out windows of its test
    track, and the bigram count table's held-out bits per sample on exactly the positions the models are scored on."""
    sizes = live_configs(profile)
    parts = split_recordings(LIVE_DOMAIN)
    windows, _ = scoring_windows(parts["test"], sizes.config.eval_windows, ns.window_length(sizes.config))
    bigram = mean_bits(BigramTable().fit(parts["train"]), windows, sizes.config)
    return {"train": parts["train"], "test": parts["test"], "windows": torch.from_numpy(windows),
            "bigram_bits_per_sample": bigram}


def train_live(models: dict[str, nn.Module], profile: str, device: torch.device | str | None = None,
               seed: int = 0, data: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Train each of ``models`` (name -> module, names from :data:`LIVE_MODELS`) from ``seed`` on ``device`` at its
    live rate; return per model its learning curve (bits per sample against training tokens), final held-out
    metrics, parameters and wall time. The modules are trained in place and returned in eval mode."""
    sizes = live_configs(profile)
    seed = check_int("seed", seed, minimum=0)
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict of name -> nn.Module")
    for name, model in models.items():
        check_choice("models' names", name, LIVE_MODELS)
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}] must be an nn.Module, got {type(model).__name__}")
    device = resolve(device)
    data = data or live_data(profile)
    out = {}
    for name, model in models.items():
        start = time.perf_counter()
        run = ns.train_one(name, replace(sizes.config, lr=sizes.lr[name]), seed, data["train"], data["windows"],
                           device=device, model=model)
        run["model"].eval()
        out[name] = {**{k: v for k, v in run.items() if k != "model"}, "lr": sizes.lr[name],
                     "wall_time_s": time.perf_counter() - start}
    return out


def as_package_model(name: str, model: nn.Module, profile: str) -> nn.Module:
    """The package's model of ``name`` at the live sizes holding ``model``'s weights (the notebook's classes have
    the package's parameter names), for :func:`audioformers.models.fast_sampling.generate`."""
    name = check_choice("name", name, LIVE_MODELS)
    config = live_configs(profile).models[name]
    package = SampleTransformer(config) if name == "transformer" else WaveNet(config)
    package.load_state_dict(model.state_dict())
    return package.to(next(model.parameters()).device).eval()
