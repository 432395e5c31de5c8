"""Chapter 5 benchmark: training throughput (clips/s) and model-FLOPs utilisation of each model.

MFU = (FLOPs of one training step counted by torch's FlopCounterMode x steps/s) / (fp32 matmul FLOP/s
measured in the same run). Prints a table and writes results/bench/ch5.<profile>.json.

    python bench/bench_ch5.py            # BOOK_PROFILE picks the batch size and repeats
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from audioformers import benchmarking
from audioformers.device import describe, get_device
from audioformers.profiles import get_profile, pick
from audioformers.results import Stopwatch, write_results
from audioformers.seeding import seed_everything
from audioformers.sound_events import MODELS, RunConfig, build_model
from audioformers.training import count_parameters


def train_step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one forward + backward pass, counted by FlopCounterMode (matmuls and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    seed_everything(0)
    device = get_device()
    batch = pick(smoke=2, book=16, paper=128)
    repeats = pick(smoke=1, book=3, paper=10)
    with Stopwatch() as clock:
        peak = benchmarking.matmul_flops_per_second(device)
        rows = {}
        for name in MODELS:
            model = build_model(RunConfig(model=name), 21).to(device).train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            x = torch.randn(batch, 16000, device=device) * 0.1  # (B, 1 s)
            y = (torch.rand(batch, 21, device=device) < 0.1).float()  # (B, classes)
            flops = train_step_flops(model, x, y)

            def step() -> None:
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
                opt.step()

            seconds = benchmarking.time_callable(step, repeats=repeats, warmup=1, device=device)
            rows[name] = {"parameters": count_parameters(model), "train_gflops_per_step": flops / 1e9,
                          "clips_per_second": batch / seconds, "mfu": flops / seconds / peak}
    print(f"device: {describe(device)}   fp32 matmul: {peak / 1e9:.1f} GFLOP/s   batch {batch}")
    print(f"{'model':26s} {'params':>10s} {'GFLOP/step':>11s} {'clips/s':>9s} {'MFU':>7s}")
    for name, r in rows.items():
        print(f"{name:26s} {r['parameters']:>10,d} {r['train_gflops_per_step']:>11.2f} "
              f"{r['clips_per_second']:>9.1f} {r['mfu']:>7.1%}")
    write_results("bench", "ch5", {"matmul_gflops_per_second": peak / 1e9, "models": rows},
                  config={"batch_size": batch, "repeats": repeats}, device=describe(device),
                  wall_time_s=clock.seconds, profile=get_profile())


if __name__ == "__main__":
    main()
