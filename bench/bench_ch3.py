"""Chapter 3 benchmark: training throughput / MFU of each next-sample model, and cached vs naive generation.

Every ratio is measured in this one run: MFU = achieved model FLOP/s over the fp32 matmul FLOP/s measured
here (``audioformers.benchmarking``). Model FLOPs per training token: 6 x non-embedding parameters, plus
causal attention for the transformers. Writes ``results/bench/ch3.<profile>.json``.

    python bench/bench_ch3.py --threads 2 --samples 8000
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from audioformers import benchmarking, nextsample
from audioformers.device import describe, get_device
from audioformers.profiles import get_profile
from audioformers.results import Stopwatch, write_results
from audioformers.sample_transformer import attention_flops_per_token
from audioformers.wavenet import WaveNet


def training_throughput(name: str, config: nextsample.ExperimentConfig, device: torch.device, repeats: int) -> dict:
    torch.manual_seed(0)
    model = nextsample.build_model(name, config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    windows = torch.randint(0, 256, (config.batch_size, nextsample.window_length(config)), device=device)
    inputs, targets = nextsample.model_inputs(model, windows, config)

    def train_step() -> None:
        logits = model(inputs)  # (B, ctx, 256)
        loss = F.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = benchmarking.time_callable(train_step, repeats=repeats, warmup=2, device=device)
    tokens_per_s = config.batch_size * config.context_length / seconds
    flops_per_token = 6 * model.num_parameters(non_embedding=True)
    if not isinstance(model, WaveNet):
        flops_per_token += attention_flops_per_token(model.config)
    return {"parameters": model.num_parameters(), "step_s": seconds, "tokens_per_s": tokens_per_s,
            "flops_per_token": flops_per_token, "model": model}


def generation_speed(model: torch.nn.Module, config: nextsample.ExperimentConfig, samples: int, sample_rate: int) -> dict:
    prompt = torch.randint(0, 256, (1, config.past_length + config.context_length))
    out = {}
    for cached in (True, False):
        with Stopwatch() as clock:
            nextsample.generate(model, prompt, samples, temperature=1.0, seed=0, cached=cached)
        out["cached_s" if cached else "naive_s"] = clock.seconds
    out["speedup"] = out["naive_s"] / out["cached_s"]
    out["real_time_factor_cached"] = out["cached_s"] / (samples / sample_rate)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8000, help="samples generated (8,000 = 1 s at 8 kHz)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device()
    profile = get_profile()
    config = nextsample.experiment_config(profile)
    with Stopwatch() as clock:
        peak = benchmarking.matmul_flops_per_second(device)
        rows = {}
        for name in nextsample.MODEL_NAMES:
            row = training_throughput(name, config, device, args.repeats)
            model = row.pop("model").eval()
            row["mfu"] = benchmarking.mfu(row["flops_per_token"], row["tokens_per_s"], peak)
            if name in ("wavenet", "transformer"):
                row.update(generation_speed(model.cpu(), config, args.samples, 8000))
            rows[name] = row
    print(f"device: {describe(device)}   profile: {profile}   fp32 matmul: {peak / 1e9:.1f} GFLOP/s")
    print(f"{'model':<12}{'params':>9}{'tokens/s':>11}{'MFU':>7}{'cached s':>10}{'naive s':>9}{'speed-up':>10}{'RTF':>7}")
    for name, r in rows.items():
        gen = (f"{r['cached_s']:>10.2f}{r['naive_s']:>9.2f}{r['speedup']:>9.1f}x{r['real_time_factor_cached']:>7.2f}"
               if "cached_s" in r else "")
        print(f"{name:<12}{r['parameters']:>9,}{r['tokens_per_s']:>11,.0f}{r['mfu']:>7.1%}{gen}")
    write_results("bench", "ch3", {"matmul_flops_per_s": peak, "models": rows},
                  config={"experiment": config, "threads": args.threads, "samples": args.samples},
                  device=describe(device), wall_time_s=clock.seconds)


if __name__ == "__main__":
    main()
