"""Chapter 4 benchmark: training throughput / MFU of the tokenizer, next-code transformer and SimCLR CNN,
and scikit-learn vs torch k-means on the same vectors.

MFU = achieved model FLOP/s over the fp32 matmul FLOP/s measured in this same run
(``audioformers.benchmarking``). FLOPs per training example: 6 x parameters x positions for the fully
connected models (plus causal attention for the transformer). Writes ``results/bench/ch4.<profile>.json``.

    python bench/bench_ch4.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from audioformers import benchmarking, code_lm, contrastive, textless, tokenizer
from audioformers.device import describe, get_device
from audioformers.profiles import get_profile
from audioformers.results import write_results
from audioformers.training import count_parameters


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
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device("cpu")
    cfg = textless.study_config("instruments-mini-xl", "book")
    peak = benchmarking.matmul_flops_per_second(device)
    rows = {}

    ae = tokenizer.PatchAutoencoder(tokenizer.AutoencoderConfig(128, cfg.ae_hidden, cfg.bottleneck_dim))
    x = torch.randn(256, 128)
    s = benchmarking.time_callable(_step(ae, lambda: ((ae(x) - x) ** 2).mean(), torch.optim.AdamW(ae.parameters())), args.repeats)
    rows["autoencoder"] = {"examples_per_s": 256 / s, "mfu": benchmarking.mfu(6 * count_parameters(ae), 256 / s, peak)}

    lm_cfg = code_lm.CodeLMConfig(cfg.num_codes, 50, cfg.lm_width, cfg.lm_layers, cfg.lm_heads, cfg.lm_dropout)
    lm = code_lm.CodeLM(lm_cfg)
    codes = torch.randint(0, cfg.num_codes, (cfg.lm_batch, 50))
    s = benchmarking.time_callable(_step(lm, lambda: lm.loss(codes), torch.optim.AdamW(lm.parameters())), args.repeats)
    tokens = cfg.lm_batch * 49
    non_embedding = count_parameters(lm) - lm.token.weight.numel() - lm.position.weight.numel()
    flops_per_token = 6 * non_embedding + 6 * lm_cfg.num_layers * 49 * lm_cfg.width  # causal attention, ~half of T
    rows["code_lm"] = {"tokens_per_s": tokens / s, "mfu": benchmarking.mfu(flops_per_token, tokens / s, peak)}

    cnn = contrastive.CNNEncoder(contrastive.CNNConfig(channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed, projection_dim=cfg.cnn_embed))
    mel = torch.randn(cfg.simclr_batch, 64, 101)
    gen = torch.Generator().manual_seed(0)
    loss = lambda: contrastive.nt_xent(cnn.projection(cnn(contrastive.augment(mel, gen, cfg.crop_frames))),
                                       cnn.projection(cnn(contrastive.augment(mel, gen, cfg.crop_frames))))
    s = benchmarking.time_callable(_step(cnn, loss, torch.optim.AdamW(cnn.parameters())), args.repeats)
    rows["simclr_cnn"] = {"clips_per_s": 2 * cfg.simclr_batch / s}

    vectors = np.random.default_rng(0).normal(size=(20000, cfg.bottleneck_dim)).astype(np.float32)
    init = vectors[: cfg.num_codes].copy()
    t = time.perf_counter(); tokenizer.kmeans_torch(vectors, cfg.num_codes, init=init, max_iter=20, tol=0); t_torch = time.perf_counter() - t
    from sklearn.cluster import KMeans
    t = time.perf_counter(); KMeans(cfg.num_codes, init=init, n_init=1, max_iter=20, tol=0).fit(vectors); t_sk = time.perf_counter() - t
    rows["kmeans_20_iterations"] = {"sklearn_s": t_sk, "torch_s": t_torch, "torch_over_sklearn": t_torch / t_sk}

    print(f"device: {describe(device)}, threads {args.threads}, fp32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    for name, metrics in rows.items():
        print(f"  {name:22s} " + "  ".join(f"{k} {v:,.3g}" for k, v in metrics.items()))
    write_results("bench", "ch4", {"matmul_gflops": peak / 1e9, **rows}, config={"threads": args.threads, **vars(cfg)},
                  device=describe(device), profile=get_profile())


if __name__ == "__main__":
    main()
