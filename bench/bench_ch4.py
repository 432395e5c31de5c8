"""Chapter 4 benchmark: training throughput / MFU of the tokenizer, next-code transformer and SimCLR CNN,
and scikit-learn vs torch k-means on the same vectors.

MFU = achieved model FLOP/s over the fp32 matmul FLOP/s measured in this same run
(``audioformers.core.benchmarking``). FLOPs per training example: 6 x parameters x positions for the fully
connected models (plus causal attention for the transformer). Writes ``results/bench/ch4.<profile>.json``.

    python bench/bench_ch4.py --threads 1 --rounds 5

Interleaved rounds: each round measures the matmul peak and every workload once (order rotated), so
load on a shared machine hits them alike; figures are medians with [min, max]; MFU against the best peak.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from audioformers.core import benchmarking
from audioformers.models import code_lm, contrastive, tokenizer
from audioformers.ch4.config import fold_config
from audioformers.core.device import describe, get_device
from audioformers.core.profiles import get_profile
from audioformers.core.results import write_results
from audioformers.train.training import adamw, count_parameters


def _step(model, loss_fn, opt):
    def run() -> None:
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (each: peak, every workload once)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device("cpu")
    cfg = fold_config("book")  # the chapter's one config, at the book profile
    load_before = benchmarking.load_average()

    ae = tokenizer.PatchAutoencoder(tokenizer.AutoencoderConfig(128, cfg.ae_hidden, cfg.bottleneck_dim))
    x = torch.randn(256, 128)
    ae_step = _step(ae, lambda: ((ae(x) - x) ** 2).mean(), adamw(ae.parameters(), lr=1e-3))

    lm_cfg = code_lm.CodeLMConfig(cfg.num_codes, 50, cfg.lm_width, cfg.lm_layers, cfg.lm_heads, cfg.lm_dropout)
    lm = code_lm.CodeLM(lm_cfg)
    codes = torch.randint(0, cfg.num_codes, (cfg.lm_batch, 50))
    lm_step = _step(lm, lambda: lm.loss(codes), adamw(lm.parameters(), lr=1e-3))
    tokens = cfg.lm_batch * 49
    non_embedding = count_parameters(lm) - lm.token.weight.numel() - lm.position.weight.numel()
    flops_per_token = 6 * non_embedding + 6 * lm_cfg.num_layers * 49 * lm_cfg.width  # causal attention, ~half of T

    cnn = contrastive.CNNEncoder(contrastive.CNNConfig(channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed, projection_dim=cfg.cnn_embed))
    mel = torch.randn(cfg.simclr_batch, 64, 101)
    gen = torch.Generator().manual_seed(0)
    loss = lambda: contrastive.nt_xent(cnn.projection(cnn(contrastive.augment(mel, gen, cfg.crop_frames))),
                                       cnn.projection(cnn(contrastive.augment(mel, gen, cfg.crop_frames))))
    cnn_step = _step(cnn, loss, adamw(cnn.parameters(), lr=1e-3))

    vectors = np.random.default_rng(0).normal(size=(20000, cfg.bottleneck_dim)).astype(np.float32)
    init = vectors[: cfg.num_codes].copy()
    from sklearn.cluster import KMeans

    workloads = {
        "matmul_peak": lambda: benchmarking.matmul_flops_per_second(device, repeats=3),
        "autoencoder": lambda: benchmarking.timed(ae_step),
        "code_lm": lambda: benchmarking.timed(lm_step),
        "simclr_cnn": lambda: benchmarking.timed(cnn_step),
        "kmeans_torch": lambda: benchmarking.timed(
            lambda: tokenizer.kmeans_torch(vectors, cfg.num_codes, init=init, max_iter=20, tol=0)),
        "kmeans_sklearn": lambda: benchmarking.timed(
            lambda: KMeans(cfg.num_codes, init=init, n_init=1, max_iter=20, tol=0).fit(vectors)),
    }
    for step in (ae_step, lm_step, cnn_step):  # warm-up
        step()
    figures = benchmarking.interleaved(workloads, args.rounds)
    peak = max(figures["matmul_peak"])
    spread = benchmarking.spread
    rows = {
        "autoencoder": {"examples_per_s": spread([256 / s for s in figures["autoencoder"]]),
                        "mfu": spread([6 * count_parameters(ae) * 256 / s / peak for s in figures["autoencoder"]])},
        "code_lm": {"tokens_per_s": spread([tokens / s for s in figures["code_lm"]]),
                    "mfu": spread([flops_per_token * tokens / s / peak for s in figures["code_lm"]])},
        "simclr_cnn": {"clips_per_s": spread([2 * cfg.simclr_batch / s for s in figures["simclr_cnn"]])},
        "kmeans_20_iterations": {"sklearn_s": spread(figures["kmeans_sklearn"]), "torch_s": spread(figures["kmeans_torch"]),
                                 "torch_over_sklearn": benchmarking.ratio_spread(figures["kmeans_torch"],
                                                                                 figures["kmeans_sklearn"])},
    }
    load_after = benchmarking.load_average()
    print(f"device: {describe(device)}, threads {args.threads}, rounds {args.rounds}, fp32 matmul peak (best) "
          f"{peak / 1e9:.1f} GFLOP/s; load average before {load_before}, after {load_after}")
    for name, metrics in rows.items():
        print(f"  {name:22s} " + "  ".join(f"{k} {v['median']:,.3g} [{v['min']:,.3g}, {v['max']:,.3g}]"
                                            for k, v in metrics.items()))
    write_results("bench", "ch4", {"matmul_gflops": spread([f / 1e9 for f in figures["matmul_peak"]]), **rows,
                                   "machine": {"load_average_before": load_before, "load_average_after": load_after,
                                               "threads": args.threads, "rounds": args.rounds}},
                  config={"threads": args.threads, "rounds": args.rounds, **vars(cfg)},
                  device=describe(device), profile=get_profile())


if __name__ == "__main__":
    main()
