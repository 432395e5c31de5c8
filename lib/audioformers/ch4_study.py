"""Chapter 4's command-line study: how the tokenizer's choices set what the codes keep.

Two sweeps over the pool-trained tokenizer of :mod:`audioformers.ch4_folds`, each probed over every fold of
held-out sources with the fold study's probe and pooling:

* ``num_codes`` — the k-means dictionary: 16, 64, 256 and 1024 codes, and GSLM's 100 (Lakhotia et al. 2021
  used 50, 100 and 200 units) — on the seed's autoencoder: what the ``centroid`` and ``histogram`` stages keep;
* ``patch_frames`` — the patch length (1, 2, 4 and 8 frames of 10 ms) with its own autoencoder and 64 codes: the
  ``bottleneck``, ``centroid`` and ``histogram`` stages.

Each (sweep, value, seed) is one unit, cached under ``data_dir()/ch4/folds``; ``results/ch4/study-<dataset>`` is
rewritten after every unit, so the study resumes where it stopped and partial results are usable. Run it in
the background, niced, one thread::

    nice -n 10 python -m audioformers.ch4_study --profile book --seeds 0

Longer pre-training of the next-code model and SimCLR is the fold study's ``lm_steps`` / ``simclr_steps``
(``python -m audioformers.ch4_folds --profile book``, with a larger value through :func:`ch4_folds.fold_config`).

Notebook: chapters/04_textless_audio_lm.ipynb
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

import numpy as np
import torch

from . import ch4_folds, probes, tokenizer
from .profiles import get_profile, pick, validate_profile
from .results import atomic_write_text, read_cache_json, write_results

NUM_CODES = (16, 64, 100, 256, 1024)
PATCH_FRAMES = (1, 2, 4, 8)


def _probe_all_folds(ps: ch4_folds.ProbeSet, cfg: ch4_folds.FoldConfig, emb: dict[str, np.ndarray]) -> dict:
    """``{representation: [test accuracy per fold]}`` (C chosen on each fold's validation sources)."""
    out: dict[str, list[float]] = {m: [] for m in emb}
    chosen: dict[str, list[float]] = {m: [] for m in emb}
    for fold in ps.folds(cfg.max_folds):
        s = ps.split(fold)
        for m, x in emb.items():
            r = probes.probe_grid(x[s["train"]], ps.labels[s["train"]], x[s["val"]], ps.labels[s["val"]],
                                  x[s["test"]], ps.labels[s["test"]], cfg.probe_c_grid)
            out[m].append(r["test_accuracy"])
            chosen[m].append(r["c"])
    return {"accuracy": out, "c": chosen}


def _pool_vectors(tok: tokenizer.Tokenizer, pool: np.ndarray) -> np.ndarray:
    z = tok.normaliser(tokenizer.make_patches(pool, tok.patch_frames))
    return tokenizer.encode_patches(tok.autoencoder, z).reshape(-1, tok.autoencoder.config.bottleneck_dim)


def _code_representations(tok: tokenizer.Tokenizer, ps: ch4_folds.ProbeSet, centres: np.ndarray) -> dict:
    z = tokenizer.encode_patches(tok.autoencoder, tok.normaliser(tokenizer.make_patches(ps.log_mels, tok.patch_frames)))
    codes = tokenizer.assign_codes(z, centres)  # (N, P)
    k = len(centres)
    return {"bottleneck": probes.pool_mean_std(z), "centroid": probes.pool_mean_std(centres[codes]),
            "histogram": np.stack([np.bincount(c, minlength=k) / len(c) for c in codes]).astype(np.float32)}, codes


def unit(ps: ch4_folds.ProbeSet, cfg: ch4_folds.FoldConfig, sweep: str, value: int, seed: int, say=print) -> dict:
    """One (sweep, value, seed) of the study, cached."""
    path = ch4_folds.cache_dir() / f"study-{ps.name}-{cfg.key()}-{sweep}{value}-seed{seed}.json"
    cached = read_cache_json(path) if path.exists() else None
    if cached is not None:
        return cached
    t = time.perf_counter()
    pool, _ = ch4_folds.unlabelled_pool(cfg)
    rng = np.random.default_rng(seed)
    if sweep == "num_codes":
        tok = ch4_folds.pretrain(cfg, seed, say)["tokenizer"]  # the fold study's autoencoder for this seed
        vectors = _pool_vectors(tok, pool)
        sample = vectors[rng.choice(len(vectors), min(cfg.kmeans_vectors, len(vectors)), replace=False)]
        centres = tokenizer.kmeans_sklearn(sample, value, seed=seed, n_init=1)
        emb, codes = _code_representations(tok, ps, centres)
        emb.pop("bottleneck")  # the same for every K: in the fold study's table
    elif sweep == "patch_frames":
        from .textless import StudyConfig, build_tokenizer

        scfg = StudyConfig(n_mels=cfg.n_mels, patch_frames=value, bottleneck_dim=cfg.bottleneck_dim,
                           ae_hidden=cfg.ae_hidden, ae_steps=cfg.ae_steps, num_codes=cfg.num_codes,
                           kmeans_vectors=cfg.kmeans_vectors)
        tok, _ = build_tokenizer(pool, scfg, seed)
        emb, codes = _code_representations(tok, ps, tok.centres)
    else:
        raise ValueError(f"sweep must be 'num_codes' or 'patch_frames', got {sweep!r}")
    _, perplexity = tokenizer.code_usage(codes, int(codes.max()) + 1)
    result = {"sweep": sweep, "value": value, "seed": seed, **_probe_all_folds(ps, cfg, emb),
              "code_perplexity": perplexity, "seconds": time.perf_counter() - t}
    atomic_write_text(path, json.dumps(result))
    say(f"[study {ps.name} {sweep}={value} seed {seed}] {result['seconds']:.0f}s  " + "  ".join(
        f"{m} {np.mean(v):.3f}" for m, v in result["accuracy"].items()))
    return result


def summarise(units: list[dict]) -> dict:
    """Per sweep and value: fold-mean accuracy per representation, ``[[acc per seed] per fold]`` and a t interval."""
    from scipy import stats

    out: dict = {}
    for u in units:
        row = out.setdefault(u["sweep"], {}).setdefault(str(u["value"]), {"per_fold": {}, "code_perplexity": []})
        row["code_perplexity"].append(u["code_perplexity"])
        for m, accs in u["accuracy"].items():
            row["per_fold"].setdefault(m, []).append(accs)  # (seeds, folds) for now
    for sweep in out.values():
        for row in sweep.values():
            for m, seeds_folds in list(row["per_fold"].items()):
                per_fold = np.array(seeds_folds).T  # (folds, seeds)
                means = per_fold.mean(1)
                n = len(means)
                half = float(stats.t.ppf(0.975, n - 1) * means.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
                row["per_fold"][m] = per_fold.tolist()
                row.setdefault("mean", {})[m] = float(means.mean())
                row.setdefault("ci_low", {})[m] = float(means.mean() - half)
                row.setdefault("ci_high", {})[m] = float(means.mean() + half)
    return out


def run_study(dataset: str | None = None, seeds=(0,), profile: str | None = None, num_codes=NUM_CODES,
              patch_frames=PATCH_FRAMES, say=print) -> dict:
    profile = validate_profile(profile or get_profile())
    cfg = ch4_folds.fold_config(profile)
    dataset = dataset or ch4_folds.fold_datasets(profile)[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ps = ch4_folds.load_probe_set(dataset, cfg)
        units, t0 = [], time.perf_counter()
        plan = [("num_codes", k) for k in num_codes] + [("patch_frames", p) for p in patch_frames]
        summary = {}
        for seed in seeds:
            for sweep, value in plan:
                units.append(unit(ps, cfg, sweep, value, seed, say))
                summary = summarise(units)
                write_results(ch4_folds.CHAPTER, f"study-{dataset}",
                              {"sweeps": summary, "num_codes": sorted({u["value"] for u in units
                                                                       if u["sweep"] == "num_codes"}),
                               "patch_frames": sorted({u["value"] for u in units if u["sweep"] == "patch_frames"}),
                               "folds": len(ps.folds(cfg.max_folds)), "units_done": len(units),
                               "units_planned": len(plan) * len(seeds),
                               "gslm_units": [50, 100, 200], "pretrain_steps": {"code_lm": cfg.lm_steps,
                                                                                "simclr": cfg.simclr_steps}},
                              config={**asdict(cfg), "dataset": dataset, "threads": 1,
                                      "machine": "2 shared CPU cores (timings are not benchmarks)"},
                              seed=list(seeds), profile=profile, device="cpu", wall_time_s=time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return summary


def plot_sweeps(axes, metrics: dict, chance: float | None = None):
    """One panel per sweep: fold-mean probe accuracy per representation against the swept value, with the
    95% t interval over folds."""
    for ax, sweep in zip(axes, ("num_codes", "patch_frames")):
        rows = metrics["sweeps"].get(sweep, {})
        values = sorted(rows, key=int)
        for m, color in (("bottleneck", "tab:purple"), ("centroid", "tab:blue"), ("histogram", "tab:olive")):
            have = [v for v in values if m in rows[v]["mean"]]
            if not have:
                continue
            mean = np.array([rows[v]["mean"][m] for v in have])
            low = np.array([rows[v]["ci_low"][m] for v in have])
            high = np.array([rows[v]["ci_high"][m] for v in have])
            x = np.array([int(v) for v in have], dtype=float)
            ax.errorbar(x, mean, yerr=[mean - low, high - mean], fmt="o-", color=color, capsize=3, label=m)
        if chance is not None:
            ax.axhline(chance, color="k", ls=":", lw=0.8, label="chance")
        ax.set(xscale="log", xlabel="number of codes K" if sweep == "num_codes" else "patch length (10 ms frames)",
               ylabel="probe test accuracy", title=f"{sweep} ({metrics['folds']} folds)")
        if values:
            ax.set_xticks([int(v) for v in values], values)
        ax.legend(fontsize=8)
    return axes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Chapter 4's study: number of codes and patch length")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--num-codes", type=int, nargs="+", default=list(NUM_CODES))
    parser.add_argument("--patch-frames", type=int, nargs="+", default=list(PATCH_FRAMES))
    args = parser.parse_args(argv)
    summary = run_study(args.dataset, args.seeds, args.profile, args.num_codes, args.patch_frames)
    for sweep, rows in summary.items():
        for value, row in rows.items():
            print(f"{sweep}={value}: " + "  ".join(f"{m} {row['mean'][m]:.3f} [{row['ci_low'][m]:.3f}, "
                                                   f"{row['ci_high'][m]:.3f}]" for m in row["mean"]))


if __name__ == "__main__":
    main()
