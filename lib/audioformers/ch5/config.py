"""Chapter 5's run configuration and the sizes each profile gives its phases.

:class:`RunConfig` names one run (a model, a task, its sizes and seed); its :meth:`~RunConfig.key` (the config
and the build of its data) names the run's checkpoint and cached metrics. :func:`profile_sizes`,
:func:`time_scale_sizes` and :func:`front_end_sizes` are the sizes of the chapter's phases, fixed before any
result was seen; :func:`base_config` turns them into the phase's :class:`RunConfig`.

Notebook: chapters/05_wavelet_audio_transformer.ipynb
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from audioformers.ch5.tasks import TASKS, data_version
from audioformers.core.checks import check_choice, check_fields
from audioformers.core.profiles import get_profile, pick, validate_profile

CHAPTER = "ch5"
MODELS = ("transformer-average", "transformer-haar", "transformer-dft", "transformer-intermediate", "cnn-vgg",
          "cnn-resnet")
FRONT_INITS = ("random", "dft")


@dataclass(frozen=True)
class RunConfig:
    model: str = "transformer-average"  # one of MODELS ("transformer-dft": average pooling, DFT-initialised front end)
    steps: int = 400                    # optimiser steps
    batch_size: int = 32                # 1 s crops per step
    lr: float = 1e-3                    # AdamW peak learning rate (cosine decay, 5% warm-up)
    train_clips: int = 2000             # training clips (soundmix: 4 s each)
    test_clips: int = 500               # test clips, each scored from its 1 s crops
    patch_samples: int = 400            # transformer patch length (25 ms)
    front_init: str = "random"          # "random" | "dft" (windowed sinusoids) for the wide layer
    num_layers: int = 3                 # transformer layers
    task: str = "soundmix"              # one of TASKS
    seed: int = 0
    front_hidden: int = 2048            # width of the front end's wide layer
    eval_every: int = 0                 # evaluate on the test clips every this many steps (0: at the end only)

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODELS)
        check_choice("task", self.task, TASKS)
        check_choice("front_init", self.front_init, FRONT_INITS)
        check_fields(self, positive=("steps", "batch_size", "train_clips", "test_clips", "patch_samples",
                                     "num_layers", "front_hidden"),
                     non_negative=("seed", "eval_every"), positive_float=("lr",))

    def key(self) -> str:
        """Cache key: the run's config and the build of the data it trains on (new data -> new runs)."""
        payload = {**asdict(self), "data": data_version(self.task)}
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def profile_sizes(profile: str | None = None) -> dict[str, Any]:
    """Sizes of the chapter's soundmix comparison for a profile (fixed before any result was seen).

    ``book``: 300 steps of 16 crops, learning curves every 100 steps, every model with three seeds. At the
    0.15–1.5 s per step that one thread gets on the book's shared 2-core machine (depending on its load),
    the study's runs of all phases take 30–60 minutes; the curves stop there, still rising (the chapter says so).
    """
    p = validate_profile(profile or get_profile())
    return {
        "steps": pick(smoke=4, book=300, paper=20_000, profile=p),
        "batch_size": pick(smoke=4, book=16, paper=128, profile=p),
        "train_clips": pick(smoke=16, book=2000, paper=40_966, profile=p),  # paper: up to all of FSD50K's train clips
        "test_clips": pick(smoke=10, book=150, paper=10_231, profile=p),  # paper: FSD50K's eval clips
        "eval_every": pick(smoke=2, book=100, paper=2000, profile=p),
        "task": pick(smoke="soundmix", book="soundmix", paper="fsd50k", profile=p),
        "seeds": pick(smoke=[0], book=[0, 1, 2], paper=[0, 1, 2, 3, 4], profile=p),
        # every seed: the multi-seed table; curve_models: seed 0 only (learning curves)
        "models": pick(smoke=["transformer-average", "transformer-haar", "cnn-vgg"],
                       book=["transformer-average", "transformer-haar", "cnn-vgg", "transformer-dft", "cnn-resnet"],
                       paper=list(MODELS), profile=p),
        "curve_models": pick(smoke=["transformer-dft", "cnn-resnet"], book=[], paper=[], profile=p),
        # the comparison (audioformers.ch5.comparison, #32): its test clips (more than the study's 150, so that each
        # test recording is heard in several clips), the learning-rate grid every model is tuned over on
        # validation clips, and the data sweep over unique training recordings
        "comparison_test_clips": pick(smoke=10, book=300, paper=10_231, profile=p),
        "lr_grid": pick(smoke=[1e-3, 3e-3], book=[3e-4, 1e-3, 3e-3], paper=[1e-3], profile=p),
        "sweep_tasks": pick(smoke=["soundmix-r25"], book=["soundmix-r25", "soundmix-r50"], paper=[], profile=p),
        "sweep_models": ["transformer-average", "cnn-vgg"],
    }


def time_scale_sizes(profile: str | None = None) -> dict[str, Any]:
    """The time-scale task's runs: Haar vs average pooling, a 256-unit front end (the task is about time, not timbre);
    ten seeds at book, test clips a multiple of 3 classes × 8 held-out kits (:data:`audioformers.ch5.time_scale.TEST_KITS`)."""
    p = validate_profile(profile or get_profile())
    return {"steps": pick(smoke=4, book=300, paper=2000, profile=p),
            "batch_size": pick(smoke=4, book=16, paper=64, profile=p),
            "train_clips": pick(smoke=16, book=2000, paper=8000, profile=p),
            "test_clips": pick(smoke=24, book=600, paper=2400, profile=p),
            "eval_every": pick(smoke=2, book=50, paper=250, profile=p),
            "front_hidden": 256, "seeds": pick(smoke=[0], book=list(range(10)), paper=list(range(10)), profile=p),
            "models": ["transformer-average", "transformer-haar"]}


def front_end_sizes(profile: str | None = None) -> dict[str, Any]:
    """The same instruments-mini audio labelled by family and by pitch class: ``seeds`` runs each (seed ``i`` of
    both tasks starts from the same initialisation and sees the same crops; only the labels differ)."""
    p = validate_profile(profile or get_profile())
    return {"steps": pick(smoke=4, book=300, paper=5000, profile=p),
            "batch_size": pick(smoke=4, book=16, paper=64, profile=p),
            "train_clips": pick(smoke=16, book=10_000, paper=10_000, profile=p),
            "test_clips": pick(smoke=8, book=10_000, paper=10_000, profile=p),
            "eval_every": pick(smoke=2, book=100, paper=1000, profile=p),
            "seeds": pick(smoke=[0, 1], book=[0, 1, 2], paper=[0, 1, 2, 3, 4], profile=p),
            "top_components": pick(smoke=5, book=50, paper=50, profile=p),
            "patches": pick(smoke=500, book=20_000, paper=50_000, profile=p)}


def base_config(sizes: dict[str, Any], **changes: Any) -> RunConfig:
    """The :class:`RunConfig` of a phase's sizes (the keys of ``sizes`` that are fields), with ``changes``."""
    keys = ("steps", "batch_size", "train_clips", "test_clips", "task", "eval_every", "front_hidden")
    return replace(RunConfig(**{k: sizes[k] for k in keys if k in sizes}), **changes)
