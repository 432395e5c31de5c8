"""Chapter 3 as evidence: what the notebook and the command line call. Each part's stored record, or its run:

* **Equal tuning** (:mod:`audioformers.ch3.tuning`): :func:`load_or_tune`;
* **the tuned comparison** with baselines and per-recording scores (:mod:`audioformers.ch3.comparison`):
  :func:`load_or_run`, and :func:`trained_model` for generation;
* **context use** (:mod:`audioformers.ch3.context_use`): :func:`load_or_run_context`;
* **scaling** (:mod:`audioformers.ch3.scaling`): :func:`load_scaling` (stored only: the study is long) and
  :func:`scaling_study` (run it).

One rule reuses a stored record: :func:`audioformers.core.results.reuse_or_run` (or ``stored_result``), keyed by
the config the record was run with; a record run with another config is run again (``load_scaling``: read as
not yet run). ``profile`` and ``device`` are passed down from here to :func:`audioformers.train.training.fit`;
``None`` means the environment's (``$BOOK_PROFILE``, ``$BOOK_DEVICE``) or the machine's best. Each call builds its
config and reads its recordings once (:func:`audioformers.ch3.scoring.study_setup`).

Every trained unit is cached under ``<data_dir>/ch3/study/`` (and checkpointed every tenth of its steps
while it trains) so an interrupted study resumes.
Command line: ``python -m audioformers.ch3.study --profile book [--parts tuning compare context scaling]``.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, sections "The comparison, at three seeds and four
domains", "How much of the past does each model use?" and "Does the ordering turn with scale?".
"""

from __future__ import annotations

import argparse
import json
import shutil
from typing import Any

import torch
from torch import nn

from audioformers.ch3 import comparison, context_use as context, scaling, tuning
from audioformers.ch3.experiment import experiment_config
from audioformers.ch3.scoring import CHAPTER, Setup, study_setup
from audioformers.core.checks import check_int
from audioformers.core.device import add_device_argument, describe
from audioformers.core.profiles import get_profile, validate_profile
from audioformers.core.results import results_dir, reuse_or_run, stored_result
from audioformers.data import data_dir
from audioformers.train.distributed import use_device_argument

def _music(profile: str | None, device: torch.device | str | None, setup: Setup | None) -> Setup:
    return setup if setup is not None and setup.domain == "music" else study_setup(profile, "music", device)


def load_or_tune(profile: str | None = None, device: torch.device | str | None = None, *, setup: Setup | None = None) -> dict[str, Any]:
    """The stored tuning if it was run with the current grid, sizes and split; else run it (on ``device``).
    ``setup``: a music set-up already built by the caller (its profile and device are used)."""
    music = _music(profile, device, setup)
    return reuse_or_run(CHAPTER, "tuning", music.profile, tuning.tuning_config(music),
                        lambda: tuning.tune(music))["metrics"]


def load_or_run(profile: str | None = None, seed: int = 0, domain: str = "music",
                device: torch.device | str | None = None) -> dict[str, Any]:
    """The stored tuned comparison of ``domain`` and ``seed`` if its config (the rates chosen included) is the
    current one; else run it (and the tuning first, if that is not stored) on ``device``."""
    seed = check_int("seed", seed, minimum=0)
    setup = study_setup(profile, domain, device)
    chosen = load_or_tune(setup=setup if domain == "music" else _music(setup.profile, setup.device, None))["chosen_lr"]
    return reuse_or_run(CHAPTER, comparison.comparison_name(domain, seed), setup.profile,
                        comparison.comparison_config(setup, chosen),
                        lambda: comparison.run_comparison(setup, seed, chosen))["metrics"]


def trained_model(profile: str | None = None, name: str = "transformer", seed: int = 0, domain: str = "music",
                  device: torch.device | str | None = None) -> nn.Module:
    """The comparison's trained ``name`` (at its chosen rate, ``seed``, ``domain``) on ``device``: from the disk
    cache, or trained again (deterministic under the seed, so it is the model whose scores are in ``results/``)."""
    seed = check_int("seed", seed, minimum=0)
    setup = study_setup(profile, domain, device)
    chosen = load_or_tune(setup=setup if domain == "music" else _music(setup.profile, setup.device, None))["chosen_lr"]
    return comparison.trained(setup, name, seed, chosen)


def load_or_run_context(profile: str | None = None, device: torch.device | str | None = None) -> dict[str, Any]:
    """The stored context-use measurement if made with the current config and tuning; else measure it."""
    setup = study_setup(profile, "music", device)
    chosen = load_or_tune(setup=setup)["chosen_lr"]
    return reuse_or_run(CHAPTER, "context_use", setup.profile, context.context_config(setup, chosen),
                        lambda: context.context_use(setup, chosen))["metrics"]["context_use"]


def scaling_study(profile: str | None = None, device: torch.device | str | None = None,
                  families: tuple[str, ...] = ("transformer", "wavenet"),
                  sizes: tuple[str, ...] = ("small", "medium", "large"), resamples: int = 200) -> dict[str, Any]:
    """Run (or continue, from its stored units) the scaling study on ``device``: :func:`audioformers.ch3.scaling.
    scaling_study` at the tuned rates."""
    resamples = check_int("resamples", resamples, minimum=1)
    setup = study_setup(profile, "music", device)
    chosen = load_or_tune(setup=setup)["chosen_lr"]
    return scaling.scaling_study(setup, chosen, families, sizes, resamples)


def load_scaling(profile: str | None = None, resamples: int = 200) -> dict[str, Any] | None:
    """The stored scaling record if it was run with the current config, else ``None`` (not run at this profile, or
    run with another config: :func:`scaling_study` runs it). A record written before the frontier fit is refitted
    on loading (:func:`audioformers.ch3.scaling.refit_if_old`)."""
    resamples = check_int("resamples", resamples, minimum=1)
    profile = validate_profile(profile) if profile is not None else get_profile()
    config = scaling.scaling_config(profile, experiment_config(profile, "music"))
    stored = stored_result(CHAPTER, "scaling", profile, config)
    return None if stored is None else scaling.refit_if_old(stored, resamples)


def forget(profile: str, parts: list[str], seeds: list[int], domains: list[str]) -> None:
    """What ``--no-resume`` deletes: the cached units (trained models, partial checkpoints, scaling runs) and the
    results of ``parts`` at ``profile``, so that nothing is reused."""
    profile = validate_profile(profile)
    shutil.rmtree(data_dir() / CHAPTER / "study", ignore_errors=True)
    names = {"tuning": ["tuning"], "context": ["context_use"], "scaling": ["scaling"],
             "compare": [comparison.comparison_name(d, s) for d in domains for s in seeds]}
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
    device = use_device_argument(args.device)
    print(f"device: {describe(device)}", flush=True)
    if args.no_resume:
        forget(args.profile, args.parts, args.seeds, args.domains)
    if "tuning" in args.parts:
        print(json.dumps(load_or_tune(args.profile, device)["chosen_lr"]), flush=True)
    for i, domain in enumerate(args.domains):  # music's comparison, then context use, then the other domains
        if "compare" in args.parts:
            for seed in args.seeds:
                out = load_or_run(args.profile, seed, domain, device)
                print(domain, seed, json.dumps({k: v["final"] for k, v in out.items()}), flush=True)
        if i == 0 and "context" in args.parts:
            print(json.dumps(load_or_run_context(args.profile, device)["bits_per_sample"]), flush=True)
    if "scaling" in args.parts:
        out = scaling_study(args.profile, device, sizes=tuple(args.sizes))
        print(json.dumps({f: {k: v for k, v in e.items() if k != "runs"} for f, e in out["families"].items()}),
              flush=True)


if __name__ == "__main__":
    main()
