"""Device check: each chapter's training step at a profile's full size, on synthetic data in the public datasets' shapes.

For every workload (chapter 3: WaveNet, transformer and conditioned transformer on MAESTRO-like 16 kHz mu-law
token windows; chapter 4: the next-code LM on 1 s clips of 20 ms codes and the SimCLR CNN on log-mel crops;
chapter 5: the patch transformers and the CNN baseline on FSD50K-like 1 s crops with 200 labels) it builds
the model at the profile's sizes on the helper's device, counts the FLOPs of one training step (forward and
backward, torch's FlopCounterMode), runs warm-up steps, then times steps exactly as the chapters train: bf16
autocast, TF32, the fused AdamW and ``torch.compile`` on CUDA; plain fp32 on the CPU. It reports step time,
tokens or clips per second, peak memory and MFU against the matmul peak measured in the same run (bf16 on
CUDA, fp32 on the CPU), and writes ``results/bench/device_check.<profile>.json``.

    python bench/device_check.py --profile paper            # a GPU: a few minutes
    BOOK_PROFILE=smoke python bench/device_check.py         # the CPU, seconds (the tests run this)
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from audioformers.core import benchmarking
from audioformers.core import device as dev
from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.train.distributed import use_device_argument
from audioformers.core.results import write_results
from audioformers.core.seeding import seed_everything
from audioformers.train.training import adamw, count_parameters

FSD50K_CLASSES = 200
CLIP_SAMPLES = 16_000  # 1 s at 16 kHz

Workload = dict[str, Any]  # model, batch (callable -> inputs), loss (model, inputs) -> tensor, items, unit


def chapter3(profile: str, device: torch.device) -> dict[str, Workload]:
    """WaveNet, the sample transformer and the conditioned transformer on MAESTRO-shaped 16 kHz mu-law windows."""
    from audioformers.ch3 import experiment as ns

    config = ns.experiment_config(profile, "piano")
    length = ns.window_length(config)
    windows = torch.randint(0, 256, (config.batch_size, length), dtype=torch.uint8).to(device)  # held as uint8

    def loss(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        inputs, targets = ns.model_inputs(model, batch.long(), config)
        logits = model(inputs)  # (B, ctx, 256)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))

    return {f"ch3/{name}": {"model": ns.build_model(name, config), "batch": lambda: windows, "loss": loss,
                            "items": config.batch_size * config.context_length, "unit": "tokens",
                            "shape": list(windows.shape)} for name in ns.MODEL_NAMES}


def chapter4(profile: str, device: torch.device) -> dict[str, Workload]:
    """The next-code LM on 1 s clips of 20 ms codes and the SimCLR CNN on two augmented log-mel crops."""
    from audioformers.ch4 import config as ch4_config
    from audioformers.models import code_lm, contrastive

    cfg = ch4_config.fold_config(profile)
    frames = CLIP_SAMPLES // 160 + 1  # 10 ms hops: 101 log-mel frames per clip
    patches = frames // cfg.patch_frames  # 50 codes per clip
    lm_cfg = code_lm.CodeLMConfig(num_codes=cfg.num_codes, context_length=patches, width=cfg.lm_width,
                                  num_layers=cfg.lm_layers, num_heads=cfg.lm_heads, dropout=cfg.lm_dropout)
    codes = torch.randint(0, cfg.num_codes, (cfg.lm_batch, patches), dtype=torch.int16).to(device)
    cnn_cfg = contrastive.CNNConfig(n_mels=cfg.n_mels, channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed,
                                    projection_dim=cfg.cnn_embed)
    mels = torch.randn(cfg.simclr_batch, cfg.n_mels, frames).to(device)
    gen = torch.Generator().manual_seed(0)

    def views() -> tuple[torch.Tensor, torch.Tensor]:
        return (contrastive.augment(mels, gen, cfg.crop_frames), contrastive.augment(mels, gen, cfg.crop_frames))

    def simclr_loss(model: torch.nn.Module, pair: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return contrastive.nt_xent(model.projection(model(pair[0])).float(), model.projection(model(pair[1])).float())

    return {
        "ch4/code_lm": {"model": code_lm.CodeLM(lm_cfg), "batch": lambda: codes, "loss": lambda m, c: m.loss(c),
                        "items": cfg.lm_batch * (patches - 1), "unit": "tokens", "shape": list(codes.shape)},
        "ch4/simclr_cnn": {"model": contrastive.CNNEncoder(cnn_cfg), "batch": views, "loss": simclr_loss,
                           "items": cfg.simclr_batch, "unit": "clips", "shape": list(mels.shape)},
    }


def chapter5(profile: str, device: torch.device) -> dict[str, Workload]:
    """The chapter's models on FSD50K-shaped batches: 1 s crops at 16 kHz, 200 labels (multi-label)."""
    from audioformers.ch5 import experiment as se

    sizes = se.profile_sizes(profile)
    batch = sizes["batch_size"]
    crops = (torch.randn(batch, CLIP_SAMPLES) * 0.1).to(device)  # (B, 1 s)
    labels = (torch.rand(batch, FSD50K_CLASSES) < 0.02).float().to(device)  # (B, 200), about 4 labels a clip

    def loss(model: torch.nn.Module, xy: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(model(xy[0]).float(), xy[1])

    models = [m for m in ("transformer-average", "transformer-haar", "cnn-vgg") if m in se.MODELS]
    return {f"ch5/{name}": {"model": se.build_model(se.RunConfig(model=name), FSD50K_CLASSES),
                            "batch": lambda: (crops, labels), "loss": loss, "items": batch, "unit": "clips",
                            "shape": list(crops.shape)} for name in models}


def train_step_flops(model: torch.nn.Module, inputs: Any, loss: Callable) -> float:
    """FLOPs of one forward + backward pass (matmuls, convolutions, attention), counted by FlopCounterMode."""
    with FlopCounterMode(display=False) as counter:
        loss(model, inputs).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def measure(name: str, w: Workload, device: torch.device, warmup: int, steps: int, peak: float,
            compile_models: bool | None) -> dict[str, Any]:
    """One workload: its FLOPs per step, then ``warmup`` and ``steps`` timed optimiser steps."""
    seed_everything(0)
    model = w["model"].to(device).train()
    flops = train_step_flops(model, w["batch"](), w["loss"])
    forward = dev.maybe_compile(model, device, compile_models)
    optimizer = adamw(model.parameters(), lr=1e-4)
    row: dict[str, Any] = {"parameters": count_parameters(model), "batch_shape": w["shape"],
                           "train_gflops_per_step": flops / 1e9, "compiled": forward is not model}

    def step() -> torch.Tensor:
        inputs = w["batch"]()
        with dev.autocast(device):
            value = w["loss"](forward, inputs)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        return value.detach()

    try:
        for _ in range(warmup):
            step()
    except Exception as error:  # a compile failure: measured eagerly, and the error recorded
        if forward is model:
            raise
        row.update(compiled=False, compile_error=f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
        forward = model
        for _ in range(warmup):
            step()
    with dev.peak_memory(device) as memory:
        dev.synchronize(device)
        start = time.perf_counter()
        losses = [step() for _ in range(steps)]  # no host synchronisation inside the loop
        dev.synchronize(device)
        seconds = (time.perf_counter() - start) / steps
    final = float(torch.stack(losses).float().mean())
    if final != final:
        raise FloatingPointError(f"{name}: the loss became NaN")
    row.update(step_seconds=seconds, **{f"{w['unit']}_per_second": w["items"] / seconds},
               items_per_step=w["items"], unit=w["unit"], mfu=flops / seconds / peak, peak_memory_mib=memory["peak_mib"],
               loss=final)
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None, help="smoke / book / paper (default $BOOK_PROFILE)")
    parser.add_argument("--chapters", nargs="+", default=["ch3", "ch4", "ch5"], choices=["ch3", "ch4", "ch5"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads on the CPU (default: torch's)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="torch.compile the models (default: on CUDA unless $BOOK_COMPILE=0; never on the CPU)")
    dev.add_device_argument(parser)
    args = parser.parse_args(argv)
    profile = validate_profile(args.profile or get_profile())
    if args.threads:
        torch.set_num_threads(args.threads)
    device = use_device_argument(args.device)
    warmup, steps = pick(smoke=1, book=2, paper=3, profile=profile), pick(smoke=2, book=5, paper=20, profile=profile)
    cuda = dev.is_cuda(device)
    peak_dtype = torch.bfloat16 if cuda else torch.float32
    n = 8192 if cuda else pick(smoke=256, book=1024, paper=2048, profile=profile)
    started = time.perf_counter()
    peak = benchmarking.matmul_flops_per_second(device, n=n, repeats=10 if cuda else 3, dtype=peak_dtype)
    build = {"ch3": chapter3, "ch4": chapter4, "ch5": chapter5}
    rows: dict[str, Any] = {}
    for chapter in args.chapters:
        for name, workload in build[chapter](profile, device).items():
            rows[name] = measure(name, workload, device, warmup, steps, peak, args.compile)
            r = rows[name]
            print(f"{name:26s} {r['parameters']:>10,d} params  {r['step_seconds'] * 1e3:9.1f} ms/step  "
                  f"{r[r['unit'] + '_per_second']:12,.0f} {r['unit']}/s  MFU {r['mfu']:.3f}"
                  f"{'  (compiled)' if r['compiled'] else ''}", flush=True)
            del workload
    metrics = {"matmul_peak": {"flops_per_s": peak, "dtype": str(peak_dtype).removeprefix("torch."), "n": n},
               "workloads": rows, "autocast": "bf16" if cuda else "none (fp32)",
               "tf32": bool(cuda and torch.backends.cuda.matmul.allow_tf32),
               "machine": {"threads": torch.get_num_threads(), "load_average": benchmarking.load_average()}}
    print(f"device: {dev.describe(device)}   {peak_dtype} matmul peak {peak / 1e12:.2f} TFLOP/s   profile {profile}")
    path = write_results("bench", "device_check", metrics, profile=profile, device=dev.describe(device),
                         wall_time_s=time.perf_counter() - started,
                         config={"profile": profile, "warmup_steps": warmup, "timed_steps": steps,
                                 "chapters": args.chapters, "compile": args.compile,
                                 "data": "synthetic, in the public datasets' shapes (MAESTRO 16 kHz mu-law windows, "
                                         "1 s clips of 20 ms codes and log-mels, FSD50K 1 s crops with 200 labels)"})
    print(f"written: {path}")
    return metrics


if __name__ == "__main__":
    main()
