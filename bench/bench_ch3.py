"""Chapter 3 benchmark: training speed against minimal references, MFU, and generation speed (real-time factor).

Everything is measured in interleaved rounds in this one process: each round runs the fp32 matmul peak,
a few training steps of every model and of its minimal reference (``bench/references.py``), and a
generation run of every decoder, in an order rotated each round, so that a busy spell on a shared
machine hits every side alike. Every figure is the median over rounds with its [min, max]; every ratio
is taken within a round first. MFU divides by the best matmul peak of the whole run. The machine's
load average is recorded before and after.

* Training: the package's step is what ``training.fit`` does (its AdamW, gradient clipping at 1.0); the
  reference's is nanoGPT's (fused AdamW, clipping at 1.0). ``package_over_reference`` = package tokens/s
  / reference tokens/s (above 1: the package is faster).
* Generation, seconds per second of 8 kHz audio (real-time factor, below 1 = faster than real time):
  ``fast`` = :func:`audioformers.models.fast_sampling.generate` (numba, one core); ``cached`` = the PyTorch cached
  decoder (:mod:`audioformers.models.decoding`: WaveNet queues / KV cache); ``naive`` = recomputing the model over
  its whole context each sample.
  Also the fast path's CPU-time RTF, and the training ratios in CPU time (process time of the same calls:
  what the other jobs on a shared machine inflate least).

Writes ``results/bench/ch3.<profile>.json``.

    python bench/bench_ch3.py --rounds 7 --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from references import MinimalWaveNet, NanoGPT, fused_adamw  # noqa: E402

from audioformers.core import benchmarking  # noqa: E402
from audioformers.models import decoding, fast_sampling  # noqa: E402
from audioformers.ch3 import experiment as nextsample  # noqa: E402
from audioformers.core.device import describe, get_device  # noqa: E402
from audioformers.core.profiles import get_profile  # noqa: E402
from audioformers.core.results import Stopwatch, write_results  # noqa: E402
from audioformers.models.sample_transformer import attention_flops_per_token  # noqa: E402
from audioformers.train.training import adamw  # noqa: E402

SAMPLE_RATE = 8000


def reference_for(name: str, config: nextsample.ExperimentConfig) -> torch.nn.Module:
    """The minimal reference at the package model's sizes."""
    if name == "wavenet":
        c = config.wavenet_channels
        dilations = [2**i for i in range(config.wavenet_layers_per_stack)] * config.wavenet_stacks
        return MinimalWaveNet(c, c, 2 * c, dilations)
    return NanoGPT(256, config.context_length, config.width, config.num_layers, config.num_heads)


def train_stepper(model: torch.nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                  targets: torch.Tensor):
    """One optimiser step as ``training.fit`` (and nanoGPT's train.py) takes it: loss, backward, clip 1.0, step."""

    def step() -> None:
        logits = model(inputs)  # (B, ctx, 256)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def flops_per_token(model: torch.nn.Module, name: str, config: nextsample.ExperimentConfig) -> float:
    """Training FLOPs per token: 6 x non-embedding parameters, plus causal attention for the transformers."""
    flops = 6 * model.num_parameters(non_embedding=True)
    if name != "wavenet":
        flops += attention_flops_per_token(model.config)
    return float(flops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine; 2 on a quiet one)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--train-steps", type=int, default=2, help="training steps per model per round")
    parser.add_argument("--samples", type=int, default=8000, help="samples per fast generation run (8,000 = 1 s)")
    parser.add_argument("--cached-samples", type=int, default=800, help="samples per PyTorch cached run")
    parser.add_argument("--naive-samples", type=int, default=200, help="samples per naive run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device()
    profile = get_profile()
    config = nextsample.experiment_config(profile)
    load_before = benchmarking.load_average()
    rng = torch.Generator().manual_seed(0)
    windows = torch.randint(0, 256, (config.batch_size, nextsample.window_length(config)), generator=rng)
    workloads, info = {}, {}
    cpu_seconds: dict[str, list[float]] = {}  # process time of the same calls: what the load does not inflate
    with Stopwatch() as clock:
        # ---- training: package and reference, same sizes, same batch --------------------------------
        for name in nextsample.MODEL_NAMES:
            torch.manual_seed(0)
            model = nextsample.build_model(name, config).to(device).train()
            inputs, targets = nextsample.model_inputs(model, windows.to(device), config)
            sides = {"package": (model, adamw(model.parameters(), lr=1e-3))}  # as training.fit makes it
            if name != "conditioned":
                reference = reference_for(name, config).to(device).train()
                sides["reference"] = (reference, fused_adamw(reference, 1e-3))
            info[name] = {"parameters": model.num_parameters(), "flops_per_token": flops_per_token(model, name, config),
                          "tokens_per_step": int(targets.numel())}
            for side, (net, optimizer) in sides.items():
                step = train_stepper(net, optimizer, inputs, targets)
                for _ in range(2):  # warm-up: allocator, thread pool, optimiser state
                    step()
                info[name][f"{side}_parameters"] = sum(p.numel() for p in net.parameters())

                key = f"train.{name}.{side}"
                cpu_seconds[key] = []

                def run(step=step, key=key) -> float:
                    cpu = time.process_time()
                    wall = benchmarking.timed(lambda: [step() for _ in range(args.train_steps)], device)
                    cpu_seconds[key].append((time.process_time() - cpu) / args.train_steps)
                    return wall / args.train_steps

                workloads[key] = run
        # ---- generation: fast (numba), PyTorch cached, naive ----------------------------------------
        prompt = torch.randint(0, 256, (config.context_length + 44,), generator=rng)  # speed does not depend on content
        for name in ("wavenet", "transformer"):
            torch.manual_seed(0)
            model = nextsample.build_model(name, config).eval()
            fast_sampling.generate(model, 300, prompt, seed=0, backend="numba")  # compile (or load the cache)
            cpu_seconds[f"generate.{name}.fast"] = []

            def fast(model=model, name=name) -> float:
                wall, cpu = time.perf_counter(), time.process_time()
                fast_sampling.generate(model, args.samples, prompt, seed=0, backend="numba")
                cpu_seconds[f"generate.{name}.fast"].append((time.process_time() - cpu) / args.samples)
                return (time.perf_counter() - wall) / args.samples

            def torch_path(model=model, cached=True, n=args.cached_samples) -> float:
                wall = time.perf_counter()
                decoding.generate(model, prompt[None], n, temperature=1.0, seed=0, cached=cached)
                return (time.perf_counter() - wall) / n

            workloads[f"generate.{name}.fast"] = fast
            workloads[f"generate.{name}.cached"] = torch_path
            workloads[f"generate.{name}.naive"] = lambda model=model: torch_path(model, False, args.naive_samples)
        workloads["matmul_peak"] = lambda: benchmarking.matmul_flops_per_second(device, repeats=3)
        figures = benchmarking.interleaved(workloads, args.rounds)
    load_after = benchmarking.load_average()

    peak = max(figures["matmul_peak"])
    spread, ratio = benchmarking.spread, benchmarking.ratio_spread
    training = {}
    for name in nextsample.MODEL_NAMES:
        row = dict(info[name])
        for side in ("package", "reference"):
            key = f"train.{name}.{side}"
            if key not in figures:
                continue
            tokens_per_s = [row["tokens_per_step"] / s for s in figures[key]]
            row[f"{side}_step_s"] = spread(figures[key])
            row[f"{side}_tokens_per_s"] = spread(tokens_per_s)
            row[f"{side}_mfu"] = spread([row["flops_per_token"] * t / peak for t in tokens_per_s])
        if f"train.{name}.reference" in figures:  # package speed / reference speed, round by round
            row["package_over_reference"] = ratio(figures[f"train.{name}.reference"], figures[f"train.{name}.package"])
            row["package_over_reference_cpu_time"] = ratio(cpu_seconds[f"train.{name}.reference"],
                                                           cpu_seconds[f"train.{name}.package"])
        training[name] = row
    generation = {}
    for name in ("wavenet", "transformer"):
        per_sample = {kind: figures[f"generate.{name}.{kind}"] for kind in ("fast", "cached", "naive")}
        generation[name] = {
            **{f"real_time_factor_{kind}": spread([s * SAMPLE_RATE for s in v]) for kind, v in per_sample.items()},
            "real_time_factor_fast_cpu_time": spread([s * SAMPLE_RATE for s in cpu_seconds[f"generate.{name}.fast"]]),
            "speedup_cached_over_naive": ratio(per_sample["naive"], per_sample["cached"]),
            "speedup_fast_over_naive": ratio(per_sample["naive"], per_sample["fast"]),
            "speedup_fast_over_cached": ratio(per_sample["cached"], per_sample["fast"]),
        }
    metrics = {
        "machine": {"load_average_before": load_before, "load_average_after": load_after, "threads": args.threads,
                    "rounds": args.rounds, "note": "shared machine: other jobs ran during the rounds; ratios are "
                                                   "taken within rounds, absolute rates depend on the load"},
        "matmul_peak_flops_per_s": {**spread(figures["matmul_peak"]), "best": peak},
        "training": training,
        "generation": generation,
    }

    def fmt(s: dict, scale: float = 1.0, digits: int = 2) -> str:
        return f"{s['median'] * scale:.{digits}f} [{s['min'] * scale:.{digits}f}, {s['max'] * scale:.{digits}f}]"

    print(f"device: {describe(device)}   profile: {profile}   rounds: {args.rounds}   "
          f"load average before {load_before}, after {load_after}")
    print(f"fp32 matmul peak: {fmt(metrics['matmul_peak_flops_per_s'], 1e-9, 1)} GFLOP/s, best {peak / 1e9:.1f}")
    print("training (median [min, max] over rounds)")
    for name, row in training.items():
        line = f"  {name:<12} package {fmt(row['package_tokens_per_s'], 1, 0)} tokens/s, MFU {fmt(row['package_mfu'])}"
        if "package_over_reference" in row:
            line += (f"; reference MFU {fmt(row['reference_mfu'])}; package / reference "
                     f"{fmt(row['package_over_reference'])} (CPU time {fmt(row['package_over_reference_cpu_time'])})")
        print(line)
    print("generation: real-time factor (s per s of 8 kHz audio) and speed-ups")
    for name, row in generation.items():
        print(f"  {name:<12} RTF fast {fmt(row['real_time_factor_fast'])} (CPU time {fmt(row['real_time_factor_fast_cpu_time'])}), "
              f"cached {fmt(row['real_time_factor_cached'])}, naive {fmt(row['real_time_factor_naive'])}")
        print(f"  {'':<12} speed-up cached/naive {fmt(row['speedup_cached_over_naive'], 1, 1)}, fast/naive "
              f"{fmt(row['speedup_fast_over_naive'], 1, 0)}, fast/cached {fmt(row['speedup_fast_over_cached'], 1, 1)}")
    write_results("bench", "ch3", metrics,
                  config={"experiment": config, "threads": args.threads, "rounds": args.rounds,
                          "train_steps": args.train_steps, "samples": args.samples,
                          "cached_samples": args.cached_samples, "naive_samples": args.naive_samples},
                  device=describe(device), wall_time_s=clock.seconds)


if __name__ == "__main__":
    main()
