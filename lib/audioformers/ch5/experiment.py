"""Chapter 5's experiments: raw-waveform transformers vs CNNs, Haar vs average pooling, the learned front end.

The chapter's package, by what it holds:

* :mod:`~audioformers.ch5.tasks`: the tasks' audio and targets, the 1 s crops, the test metric per test source;
* :mod:`~audioformers.ch5.config`: :class:`RunConfig` (one run) and the sizes each profile gives each phase;
* :mod:`~audioformers.ch5.models`: the models of :data:`MODELS` by name (:func:`build_model`);
* :mod:`~audioformers.ch5.runs`: one run (train, score, cache: :func:`run_one`);
* :mod:`~audioformers.ch5.front_end`: what the front end learned;
* :mod:`~audioformers.ch5.time_scale`: a task where time scales decide the label, and
  :mod:`~audioformers.ch5.time_scale_study` its study (ten seeds × eight held-out kits at book);
* :mod:`~audioformers.ch5.study`: the longer command-line study;
* this module: the phases that write ``results/ch5/<name>.<profile>.json`` (with provenance), each file as
  soon as its runs are done, their loader :func:`load_or_run` and the command line. ``comparison``
  (:mod:`audioformers.ch5.comparison`: rates tuned on validation, every model x seed at its rate, learning curves,
  paired differences over seeds x test recordings, the data sweep over training recordings), ``time_scale`` (Haar vs average where
  time scales decide the label), ``front_end`` (weights and weight change against the training data's
  principal components and energy-following curve; the same audio labelled by ``family`` and by ``pitch``)
  and ``study`` (twice the steps; a quarter of the data). The longer command-line study (every model x seed
  at a fixed 1,000 steps, a training-set-size sweep, 5,000-step runs) is :mod:`audioformers.ch5.study`; it
  adds ``metrics["scale"]`` to the same ``study`` file.

``profile`` and ``device`` are arguments from the notebook's calls down to training; ``None`` means the
default (``$BOOK_PROFILE``; ``$BOOK_DEVICE``, else CUDA, MPS, CPU).

Command line (resumable; one thread is enough):
``python -m audioformers.reproduce ch5 --profile book --threads 1 -- --what time_scale comparison front_end study``.

Notebook: chapters/05_wavelet_audio_transformer.ipynb
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any, Callable

import numpy as np
import torch

from audioformers.ch5 import time_scale  # noqa: F401  (the task, as the notebook reads it)
from audioformers.ch5.comparison import comparison_config, run_comparison  # noqa: F401
from audioformers.ch5.config import (  # noqa: F401  (the chapter's names, as the notebook reads them)
    CHAPTER,
    MODELS,
    RunConfig,
    base_config,
    front_end_sizes,
    profile_sizes,
    time_scale_sizes,
)
from audioformers.ch5.front_end import front_end_config, run_front_end
from audioformers.ch5.models import build_model  # noqa: F401
from audioformers.ch5.runs import clip_scores, kept_parts, run_one, write_phase  # noqa: F401
from audioformers.ch5.tasks import TASKS, load_task  # noqa: F401
from audioformers.ch5.time_scale_study import run_time_scale, time_scale_config
from audioformers.core.profiles import get_profile, validate_profile
from audioformers.core.results import reuse_or_run
from audioformers.evaluation import evidence as ev
from audioformers.train.distributed import start_study, study_parser


def paired_comparisons(runs: list[dict[str, Any]], pairs: list[tuple[str, str]], metric: str = "map"
                       ) -> list[dict[str, Any]]:
    """The protocol's paired interval and verdict (:func:`audioformers.evaluation.evidence.compare`) for each pair of
    models: scores ``(seeds, test sources)`` over the seeds both have run; a claimed higher score for the first."""
    by_model: dict[str, dict[int, dict]] = {}
    for run in runs:
        by_model.setdefault(run["config"]["model"], {})[int(run["config"]["seed"])] = run
    out = []
    for a, b in pairs:
        seeds = sorted(set(by_model.get(a, {})) & set(by_model.get(b, {})))
        if not seeds:
            continue
        sources = sorted(set.intersection(*(set(by_model[m][s]["per_source"]) for m in (a, b) for s in seeds)))
        if len(sources) >= 2:
            xa = np.array([[by_model[a][s]["per_source"][n] for n in sources] for s in seeds])
            xb = np.array([[by_model[b][s]["per_source"][n] for n in sources] for s in seeds])
        else:
            xa = np.array([[by_model[a][s][metric]] for s in seeds])
            xb = np.array([[by_model[b][s][metric]] for s in seeds])
        if xa.size < 2:
            continue
        comp = ev.compare(xa, xb, names=(a, b))
        iv = comp.interval
        out.append({"a": a, "b": b, "metric": metric, "seeds": seeds, "test_sources": len(sources),
                    "difference": iv.mean, "low": iv.low, "high": iv.high, "method": iv.describe(),
                    "verdict": comp.verdict, "line": comp.line()})
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over seeds of mAP and d′ per model, with parameter counts."""
    out: dict[str, dict[str, float]] = {}
    for model in dict.fromkeys(r["config"]["model"] for r in runs):
        rows = [r for r in runs if r["config"]["model"] == model]
        maps, dps = np.array([r["mAP"] for r in rows]), np.array([r["d_prime"] for r in rows])
        out[model] = {"map": float(maps.mean()), "mAP_mean": float(maps.mean()),
                      "mAP_std": float(maps.std(ddof=1)) if len(rows) > 1 else 0.0,
                      "d_prime_mean": float(dps.mean()), "seeds": len(rows), "parameters": rows[0]["parameters"],
                      "steps": rows[0]["config"]["steps"],
                      "train_seconds_mean": float(np.mean([r["train_seconds"] for r in rows]))}
    return out


# ------------------------------------------------------------------------------------------ comparison
# tuned on validation, the table, the data sweep: audioformers.ch5.comparison (comparison_config, run_comparison)


# ------------------------------------------------------------------------------- the one-seed study
def study_variants(base: RunConfig, transformer: str = "transformer-dft") -> dict[str, RunConfig]:
    """What closes the transformer/CNN gap, one seed each: twice the steps, and a quarter of the training clips
    (the strongest transformer of the issue's pilot, the DFT-initialised one, and the VGG-like CNN)."""
    return {
        "baseline": replace(base, model="transformer-average"),
        "2x steps": replace(base, model="transformer-average", steps=base.steps * 2,
                            eval_every=base.eval_every * 2 if base.eval_every else 0),
        "CNN (VGG-like)": replace(base, model="cnn-vgg"),
        "CNN (VGG-like), 2x steps": replace(base, model="cnn-vgg", steps=base.steps * 2,
                                            eval_every=base.eval_every * 2 if base.eval_every else 0),
        "DFT front end": replace(base, model=transformer),
        "DFT front end, quarter data": replace(base, model=transformer, train_clips=base.train_clips // 4),
        "CNN (VGG-like), quarter data": replace(base, model="cnn-vgg", train_clips=base.train_clips // 4),
    }


def _variants(profile: str, seed: int = 0) -> tuple[RunConfig, dict[str, RunConfig]]:
    base = replace(base_config(profile_sizes(profile)), seed=seed)
    variants = study_variants(base)
    return base, (dict(list(variants.items())[:2]) if profile == "smoke" else variants)


def variants_config(profile: str | None = None, seed: int = 0, names: list[str] | None = None) -> dict[str, Any]:
    """The config ``results/ch5/study.<profile>.json`` records for the one-seed study: its base config and its
    variants, beside the command-line study's ``scale`` part that the same file holds (kept as stored)."""
    profile = validate_profile(profile or get_profile())
    base, variants = _variants(profile, seed)
    scale, _ = kept_parts("study", profile, keep=lambda key: key == "scale")
    return {**scale, **asdict(base), "variants": list(names if names is not None else variants)}


def run_study(profile: str | None = None, seed: int = 0, device: torch.device | str | None = None,
              progress: bool = True, resume: bool = True) -> dict[str, Any]:
    """Runs :func:`study_variants`; writes ``results/ch5/study.<profile>.json`` from every variant run so far,
    rewritten as each one lands, keeping the file's ``scale`` part (:mod:`audioformers.ch5.study`'s). Variants
    equal to a comparison run (same config) reuse it."""
    profile = validate_profile(profile or get_profile())
    _, variants = _variants(profile, seed)
    rows: dict[str, dict] = {}
    metrics: dict[str, Any] = {}
    keep = ("map", "mAP", "d_prime", "parameters", "train_seconds", "config", "steps", "seed", "model", "curve",
            "per_source")
    for name, cfg in variants.items():
        rows[name] = run_one(cfg, device=device, progress=progress, resume=resume)
        metrics = {"variants": {n: {k: r[k] for k in keep if k in r} for n, r in rows.items()}}
        _, scale = kept_parts("study", profile, keep=lambda key: key == "scale")
        write_phase("study", {**scale, **metrics}, variants_config(profile, seed, list(rows)), list(rows.values()),
                    seed, profile, device)
    return metrics


# --------------------------------------------------------------------------------------- load or run
#: the phases of the command line, in their default order: name -> (the config it records, the run)
PHASES: dict[str, tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]] = {
    "time_scale": (time_scale_config, run_time_scale),
    "comparison": (comparison_config, run_comparison),
    "front_end": (front_end_config, run_front_end),
    "study": (variants_config, run_study),
}


def load_or_run(name: str, profile: str | None = None, device: torch.device | str | None = None,
                progress: bool = True) -> dict[str, Any]:
    """The metrics of ``results/ch5/<name>.<profile>.json``: the stored record when the config it recorded equals
    the one this profile asks for (:func:`audioformers.core.results.reuse_or_run`, the book's one rule), else
    the phase is run on ``device`` (which writes it) first."""
    if name not in PHASES:
        raise ValueError(f"unknown name {name!r}; choose from {', '.join(PHASES)}")
    profile = validate_profile(profile or get_profile())
    config, run = PHASES[name]
    return reuse_or_run(CHAPTER, name, profile, config(profile),
                        lambda: run(profile=profile, device=device, progress=progress))["metrics"]


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__.split("\n")[0], seeds=True)
    parser.add_argument("--models", nargs="*", default=None, choices=MODELS)
    parser.add_argument("--what", nargs="*", default=list(PHASES), choices=[*PHASES, "family"],
                        help="phases, in the order given (default: all; 'family' is an alias of front_end)")
    args = parser.parse_args(argv)
    device = start_study(args)
    for phase in dict.fromkeys("front_end" if w == "family" else w for w in args.what):
        if phase == "time_scale":
            ts = run_time_scale(args.profile, args.seeds, device=device, resume=args.resume)["time_scale"]
            for model, accs in ts["accuracy"].items():
                print(f"time scale {model:22s} accuracy {np.mean(accs):.3f} over {len(accs)} seeds", flush=True)
        elif phase == "comparison":
            summary = run_comparison(args.profile, args.seeds, args.models, device=device, resume=args.resume)["summary"]
            for model, row in summary.items():
                print(f"{model:26s} mAP {row['mAP_mean']:.3f} ± {row['mAP_std']:.3f}  params {row['parameters']:,}",
                      flush=True)
        elif phase == "front_end":
            fe = run_front_end(args.profile, device=device, resume=args.resume)
            for task in ("family", "pitch"):
                if fe[task]:
                    print(f"front end, {task}: accuracy {fe[task]['accuracy']:.3f}; weight change in the top "
                          f"principal components {fe[task]['weight_change']['top_energy']:.2f}", flush=True)
        elif phase == "study":
            for name, row in run_study(args.profile, device=device, resume=args.resume).get("variants", {}).items():
                print(f"{name:32s} mAP {row['mAP']:.3f}", flush=True)


if __name__ == "__main__":
    main()
