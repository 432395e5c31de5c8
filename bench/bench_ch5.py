"""Chapter 5 benchmark: training throughput (clips/s) and MFU of each model; the transformer against a minimal reference.

Interleaved rounds in one process (as ``bench_ch3.py``): each round measures the fp32 matmul peak and a
few training steps of every model and of the minimal patch transformer (``bench/references.py``, the
sizes of ``transformer-average``), in an order rotated each round. Figures are medians over rounds with
[min, max]; ``package_over_reference`` is taken round by round. MFU = (FLOPs of one training step
counted by torch's FlopCounterMode x steps/s) / (best matmul peak of the run). The load average is
recorded before and after. Writes ``results/bench/ch5.<profile>.json``.

    python bench/bench_ch5.py --rounds 5 --threads 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from references import MinimalPatchTransformer, fused_adamw  # noqa: E402

from audioformers.core import benchmarking  # noqa: E402
from audioformers.core.device import add_device_argument, describe, resolve  # noqa: E402
from audioformers.core.profiles import get_profile, pick  # noqa: E402
from audioformers.core.results import Stopwatch, write_results  # noqa: E402
from audioformers.core.seeding import seed_everything  # noqa: E402
from audioformers.ch5.config import MODELS, RunConfig  # noqa: E402
from audioformers.ch5.models import build_model  # noqa: E402
from audioformers.train.training import adamw, count_parameters  # noqa: E402

NUM_CLASSES = 21
REFERENCE_OF = "transformer-average"


def loss_of(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)


def train_step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one forward + backward pass, counted by FlopCounterMode (matmuls and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        loss_of(model, x, y).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def minimal_reference(model: torch.nn.Module) -> torch.nn.Module:
    """The minimal patch transformer at the sizes of the package's ``transformer-average``."""
    c = model.config
    return MinimalPatchTransformer(c.patch_samples, c.front_hidden, c.d_model, c.num_patches, c.num_layers,
                                   c.num_heads, c.num_classes, c.dropout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--rounds", type=int, default=pick(smoke=2, book=5, paper=7))
    parser.add_argument("--steps", type=int, default=pick(smoke=1, book=2, paper=5), help="steps per model per round")
    add_device_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(0)
    device = resolve(args.device)
    batch = pick(smoke=2, book=16, paper=128)
    load_before = benchmarking.load_average()
    x = torch.randn(batch, 16000, device=device) * 0.1  # (B, 1 s)
    y = (torch.rand(batch, NUM_CLASSES, device=device) < 0.1).float()  # (B, classes)
    nets: dict[str, torch.nn.Module] = {name: build_model(RunConfig(model=name), NUM_CLASSES) for name in MODELS}
    nets["reference"] = minimal_reference(nets[REFERENCE_OF])
    workloads, info = {}, {}
    with Stopwatch() as clock:
        for name, model in nets.items():
            model = model.to(device).train()
            opt = fused_adamw(model, 1e-4) if name == "reference" else adamw(model.parameters(), lr=1e-4)
            info[name] = {"parameters": count_parameters(model), "train_flops_per_step": train_step_flops(model, x, y)}

            def step(model=model, opt=opt) -> None:
                opt.zero_grad(set_to_none=True)
                loss_of(model, x, y).backward()
                opt.step()

            step()  # warm-up

            def run(step=step) -> float:
                return benchmarking.timed(lambda: [step() for _ in range(args.steps)], device) / args.steps

            workloads[name] = run
        workloads["matmul_peak"] = lambda: benchmarking.matmul_flops_per_second(device, repeats=3)
        figures = benchmarking.interleaved(workloads, args.rounds)
    load_after = benchmarking.load_average()
    peak = max(figures["matmul_peak"])
    spread = benchmarking.spread
    rows = {}
    for name in nets:
        flops = info[name]["train_flops_per_step"]
        rows[name] = {**info[name], "train_gflops_per_step": flops / 1e9,
                      "clips_per_second": spread([batch / s for s in figures[name]]),
                      "mfu": spread([flops / s / peak for s in figures[name]])}
    rows[REFERENCE_OF]["package_over_reference"] = benchmarking.ratio_spread(figures["reference"], figures[REFERENCE_OF])

    def fmt(s: dict, digits: int = 2) -> str:
        return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}, {s['max']:.{digits}f}]"

    print(f"device: {describe(device)}   batch {batch}   rounds {args.rounds}   load average before {load_before}, "
          f"after {load_after}")
    print(f"fp32 matmul peak: best {peak / 1e9:.1f} GFLOP/s (median {spread(figures['matmul_peak'])['median'] / 1e9:.1f})")
    print(f"{'model':26s} {'params':>10s} {'GFLOP/step':>11s}   {'clips/s':<22s} MFU")
    for name, r in rows.items():
        print(f"{name:26s} {r['parameters']:>10,d} {r['train_gflops_per_step']:>11.2f}   "
              f"{fmt(r['clips_per_second'], 1):<22s} {fmt(r['mfu'])}")
    print(f"{REFERENCE_OF} / minimal reference (clips/s): {fmt(rows[REFERENCE_OF]['package_over_reference'])}")
    metrics = {"machine": {"load_average_before": load_before, "load_average_after": load_after,
                           "threads": args.threads, "rounds": args.rounds},
               "matmul_peak_flops_per_s": {**spread(figures["matmul_peak"]), "best": peak}, "models": rows}
    write_results("bench", "ch5", metrics, config={"batch_size": batch, "rounds": args.rounds, "steps": args.steps,
                                                   "threads": args.threads}, device=describe(device),
                  wall_time_s=clock.seconds, profile=get_profile())


if __name__ == "__main__":
    main()
