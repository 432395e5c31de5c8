"""Run a chapter's experiment from the terminal: ``python -m audioformers.reproduce CHAPTER --profile P``.

For readers with a GPU server or a cluster scheduler. The runner sets the profile, turns on the
device's fast paths (TF32 and cuDNN autotuning on CUDA; nothing changes on the CPU), and calls the
chapter module's own entry point through :data:`CHAPTERS`, a small dispatch table, so the coupling to
the chapters is one line each. The chapters write ``results/<chapter>/*.<profile>.json`` and save
checkpoints under ``data.data_dir()`` (``~/.cache/audioformers`` or ``$BOOK_DATA_DIR``). The runner adds
``results/reproduce/<chapter>-run.<profile>.json`` (command, device, wall time).

What resumes after an interruption (``kill -9`` included), when the same command is run again:

* ``ch3`` (:mod:`audioformers.ch3.study`: equal tuning, the tuned comparison on music, speech, orchestra and piano-mini,
  context use, and with ``-- --parts scaling`` the scaling study): each model's training saves a checkpoint
  every tenth of its steps (model, optimiser, step, learning curve, the random states, the window sampler's
  included) under ``ch3/study/``; the rerun continues from the last one, and a model whose training finished
  is not trained again. A scaling run is cached once finished.
* ``ch4`` (:mod:`audioformers.ch4.experiment`: probes over folds of held-out sources): per unit. Each seed's
  pre-training on the unlabelled pool (tokenizer, next-code LM, SimCLR CNN), its embeddings, and each fold's
  supervised CNN are saved under ``ch4/folds/`` as soon as they are done; a unit interrupted half-way is
  run again from its start (each is seeded on its own, so the numbers do not change).
* ``ch5``: each run (model x seed x variant) saves a checkpoint every tenth of its steps under ``ch5/``
  and continues from it; a finished run's metrics are cached beside it and reused.
* ``demo``: a checkpoint every 10 steps.

In every case the resumed run ends with the same metrics as an uninterrupted one (tested at the smoke
profile in ``lib/tests/test_reproduce.py``). ``--no-resume`` deletes the chapter's checkpoints and
cached runs for the requested profile and seeds first and trains everything from the start. A
checkpoint or results file that cannot be read is an error naming the file (delete it, or use
``--no-resume``); a corrupt cache (log-mels, embeddings, run metrics) is recomputed with a notice.

``demo`` is a tiny built-in experiment (a classifier of sinusoid frequencies from raw frames) that
shows the machinery end to end in seconds: checkpoint every few steps, resume after a kill, and the
same metrics as an uninterrupted run. It also runs under ``torchrun`` (data parallel, rank 0 writes):

    python -m audioformers.reproduce ch5 --profile paper --seed 0 1 2
    torchrun --nproc-per-node 2 -m audioformers.reproduce demo --profile book

Notebook: ``chapters/R_reproduction_report.ipynb`` (section "Running from the terminal").
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from audioformers import chapters
from audioformers.core.device import describe, get_device, setup_backends
from audioformers.core.profiles import PROFILE_NAMES, get_profile, pick, validate_profile


@dataclass(frozen=True)
class Chapter:
    """One dispatch entry: the module whose ``main(argv)`` runs the chapter, and how to call it."""

    title: str
    target: str  # "module:function", called with an argv list
    build_argv: Callable[[str, list[int]], list[str]]
    distributed: bool = False  # may run under torchrun with more than one process


def _profile_seeds(profile: str, seeds: list[int]) -> list[str]:
    return ["--profile", profile, "--seeds", *map(str, seeds)]


CHAPTERS: dict[str, Chapter] = {
    **{c.key: Chapter(c.experiment_title, c.experiment, _profile_seeds) for c in chapters.with_experiments()},
    "demo": Chapter("tiny built-in run: checkpoints, resume, torchrun", "audioformers.reproduce:run_demo",
                    _profile_seeds, distributed=True),
}  # the chapters' entries come from the registry (audioformers.chapters)
ALIASES = {alias: c.key for c in chapters.with_experiments() for alias in c.aliases}


def resolve_chapter(name: str) -> str:
    """The dispatch key for ``name`` (``ch3``, ``3``, ``nextsample``...), or a ``ValueError`` listing them."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; valid: {', '.join(CHAPTERS)} (or {', '.join(ALIASES)})")
    return key


def _call(target: str, argv: list[str]) -> object:
    module_name, function = target.split(":")
    return getattr(importlib.import_module(module_name), function)(argv)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m audioformers.reproduce",
                                     description="Run a chapter's experiment outside Jupyter and write results/.",
                                     epilog="Resume: ch3 and ch5 continue each model's training from checkpoints saved "
                                            "every tenth of its steps; ch4 resumes per stage (tokenizer, next-code LM, "
                                            "SimCLR CNN, supervised CNN); finished runs are reused. The resumed run ends "
                                            "with the same metrics as an uninterrupted one.")
    parser.add_argument("chapter", nargs="?", help=f"one of {', '.join(CHAPTERS)}")
    parser.add_argument("--profile", default=None, help=f"{' / '.join(PROFILE_NAMES)} (default: $BOOK_PROFILE or book)")
    parser.add_argument("--seed", "--seeds", dest="seeds", type=int, nargs="+", default=None,
                        help="one or more seeds (default: the chapter's own)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="resume from the last checkpoints (default); --no-resume deletes the chapter's "
                             "checkpoints and cached runs and trains from the start (what resumes: see the module "
                             "docstring, python -c 'import audioformers.reproduce as r; help(r)')")
    parser.add_argument("--device", default=None, help="force a device (cpu, cuda, cuda:1, mps)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's own)")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, and stop")
    parser.add_argument("--list", action="store_true", help="list the chapters")
    parser.add_argument("--throttle", type=float, default=0.0, help=argparse.SUPPRESS)  # tests: slow the demo
    args, extra = parser.parse_known_args(argv)
    args.extra = [e for e in extra if e != "--"]
    if args.list:
        return args
    if args.chapter is None:
        parser.error("a chapter is required (see --list)")
    try:
        args.chapter = resolve_chapter(args.chapter)
        args.profile = validate_profile(args.profile) if args.profile is not None else get_profile()
    except ValueError as error:
        parser.error(str(error))
    if args.seeds is not None and any(s < 0 for s in args.seeds):
        parser.error(f"seeds must be non-negative, got {args.seeds}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.extra and args.chapter == "demo":
        parser.error(f"unknown arguments for demo: {' '.join(args.extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for key, chapter in CHAPTERS.items():
            print(f"{key:6s} {chapter.title}   ({chapter.target.split(':')[0]})")
        return 0
    chapter = CHAPTERS[args.chapter]
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not chapter.distributed:
        print(f"error: {args.chapter} runs in one process; launch it without torchrun", file=sys.stderr)
        return 2
    seeds = args.seeds if args.seeds is not None else [0, 1, 2]
    chapter_argv = chapter.build_argv(args.profile, seeds) + args.extra
    chapter_argv += [] if args.resume else ["--no-resume"]
    if args.chapter == "demo":
        chapter_argv += ["--throttle", str(args.throttle)]
        chapter_argv += ["--device", args.device] if args.device else []
    if args.dry_run:
        print(f"would run {chapter.target}({chapter_argv}) with BOOK_PROFILE={args.profile}")
        return 0
    os.environ["BOOK_PROFILE"] = args.profile  # the chapters' pick() and write_results read it
    if args.device:
        os.environ["BOOK_DEVICE"] = args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    setup_backends(device)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"reproduce {args.chapter} ({chapter.title}): profile={args.profile} seeds={seeds} "
              f"device={describe(device)}", flush=True)
    start = time.perf_counter()
    _call(chapter.target, chapter_argv)
    wall = time.perf_counter() - start
    if int(os.environ.get("RANK", "0")) == 0:
        from audioformers.core.results import write_results

        path = write_results("reproduce", f"{args.chapter}-run", {"wall_time_s": wall, "world_size": world_size},
                             config={"argv": chapter_argv, "target": chapter.target}, seed=seeds,
                             device=describe(device), wall_time_s=wall, profile=args.profile)
        print(f"done in {wall:.1f} s; run record: results/reproduce/{path.name}")
    return 0


# --- the built-in demo experiment -------------------------------------------------------------

FRAME, NUM_CLASSES, SAMPLE_RATE = 64, 4, 8000  # samples per frame, frequency bands, Hz


def demo_batch(step: int, batch_size: int, seed: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw frames of a sinusoid with random phase and noise; the label is its frequency band.

    The batch depends only on ``(seed, step)``, so an interrupted run resumes on the same data.
    """
    rng = np.random.default_rng([seed, offset, step])
    labels = rng.integers(0, NUM_CLASSES, batch_size)
    band = (SAMPLE_RATE / 2) / NUM_CLASSES
    freqs = (labels + rng.uniform(0.1, 0.9, batch_size)) * band
    t = np.arange(FRAME) / SAMPLE_RATE
    frames = np.sin(2 * np.pi * freqs[:, None] * t + rng.uniform(0, 2 * np.pi, (batch_size, 1)))
    frames += 0.3 * rng.standard_normal(frames.shape)
    return torch.tensor(frames, dtype=torch.float32), torch.tensor(labels)  # (B, FRAME), (B,)


def demo_model(seed: int) -> torch.nn.Module:
    from audioformers.core.checks import check_int

    torch.manual_seed(check_int("seed", seed, minimum=0))
    return torch.nn.Sequential(torch.nn.Linear(FRAME, 64), torch.nn.GELU(), torch.nn.Linear(64, NUM_CLASSES))


def run_demo(argv: list[str] | None = None) -> dict:
    """The ``demo`` chapter: train, checkpoint every 10 steps, evaluate, write results (rank 0)."""
    from audioformers.train import distributed as dd
    from audioformers.data import data_dir
    from audioformers.core.results import write_results

    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--throttle", type=float, default=0.0)
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    profile = validate_profile(args.profile or get_profile())
    steps = pick(smoke=60, book=600, paper=6000, profile=profile)
    batch_size = pick(smoke=32, book=64, paper=512, profile=profile)
    info = dd.init_from_env(device=args.device or "cpu")
    out = {}
    try:
        for seed in args.seeds:
            checkpoint = data_dir() / "checkpoints" / "reproduce" / f"demo-{profile}-seed{seed}.pt"
            if args.no_resume and dd.is_main(info) and checkpoint.exists():
                checkpoint.unlink()
            dd.barrier(info)

            def next_batch(step: int, seed: int = seed) -> tuple[torch.Tensor, torch.Tensor]:
                if args.throttle:
                    time.sleep(args.throttle)
                x, y = demo_batch(step, batch_size, seed)
                return x.to(info.device), y.to(info.device)

            def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
                return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

            model = demo_model(seed)
            start = time.perf_counter()
            record = dd.fit_data_parallel(model, next_batch, loss_fn, steps=steps, lr=3e-3, info=info,
                                          checkpoint_path=checkpoint, checkpoint_every=10)
            model.eval()
            x, y = demo_batch(0, 2000, seed, offset=1)  # held-out frames
            with torch.no_grad():
                logits = model(x.to(info.device)).float().cpu()
            metrics = {"test_accuracy": float((logits.argmax(1) == y).float().mean()),
                       "test_loss": float(torch.nn.functional.cross_entropy(logits, y)),
                       "final_train_loss": record["train_loss"][-1], "steps": steps,
                       "world_size": info.world_size}
            out[seed] = metrics
            if dd.is_main(info):
                write_results("reproduce-demo", f"demo-seed{seed}", metrics,
                              config={"steps": steps, "global_batch": batch_size, "lr": 3e-3, "frame": FRAME},
                              seed=seed, device=describe(info.device), wall_time_s=time.perf_counter() - start,
                              profile=profile)
                print(f"demo seed {seed}: test accuracy {metrics['test_accuracy']:.3f} "
                      f"(chance {1 / NUM_CLASSES:.2f}), train loss {metrics['final_train_loss']:.3f}")
    finally:
        dd.cleanup()
    return out


if __name__ == "__main__":
    sys.exit(main())
