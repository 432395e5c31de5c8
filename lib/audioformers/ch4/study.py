"""Chapter 4's command-line study: how the tokenizer's choices set what the codes keep.

Two sweeps over the pool-trained tokenizer of :mod:`audioformers.ch4.folds`, each probed over every fold of
held-out sources with the fold study's probe and pooling:

* ``num_codes`` — the k-means dictionary: 16, 64, 256 and 1024 codes, and GSLM's 100 (Lakhotia et al. 2021
  used 50, 100 and 200 units) — on the seed's autoencoder: what the ``centroid`` and ``histogram`` stages keep;
* ``pretrain_scale`` — 5x longer pre-training of the next-code model and SimCLR on the same unlabelled pool (6,000
  and 4,125 steps at ``book``: equal wall-clock again), probed at an eighth, a quarter, a half and all of the
  run as the fold study probes its own runs (the layer of the next-code model chosen on validation sources at
  the last snapshot): does the ordering turn with more pre-training?
* ``patch_frames`` — the patch length (1, 2, 4 and 8 frames of 10 ms) with its own autoencoder and 64 codes: the
  ``bottleneck``, ``centroid`` and ``histogram`` stages.

Each (sweep, value, seed) is one unit, cached under ``data_dir()/ch4/folds``; ``results/ch4/study-<dataset>`` is
rewritten after every unit, so the study resumes where it stopped and partial results are usable; the chapter
reads it with :func:`load_study` (reused while its recorded config is this profile's). Run it in the background,
niced, one thread::

    nice -n 10 python -m audioformers.ch4.study --profile book --seeds 0 [--device cuda]

The units run in the order num_codes, pretrain_scale, patch_frames (the cheapest and the most asked-for first).

Notebook: chapters/04_textless_audio_lm.ipynb
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace

import numpy as np
import torch

from audioformers.ch4 import config, features, pretraining
from audioformers.ch4.config import CHAPTER, FoldConfig
from audioformers.ch4.folds import ProbeSet, load_probe_set
from audioformers.core.device import add_device_argument, resolve
from audioformers.core.profiles import get_profile, validate_profile
from audioformers.core.results import atomic_write_text, read_cache_json, stored_result, write_results
from audioformers.evaluation import probes
from audioformers.models import tokenizer

NUM_CODES = (16, 64, 100, 256, 1024)
PATCH_FRAMES = (1, 2, 4, 8)
PRETRAIN_SCALES = (5,)  # multiples of the fold study's lm_steps and simclr_steps (1x is the fold study itself)
SWEEPS = ("num_codes", "pretrain_scale", "patch_frames")


def _probe_all_folds(ps: ProbeSet, cfg: FoldConfig, emb: dict[str, np.ndarray]) -> dict:
    """``{representation: [test accuracy per fold]}`` (C chosen on each fold's validation sources)."""
    out: dict[str, list[float]] = {m: [] for m in emb}
    chosen: dict[str, list[float]] = {m: [] for m in emb}
    for fold in ps.folds(cfg.max_folds):
        s = ps.split(fold)
        for m, x in emb.items():
            r = probes.probe_grid(x[s["train"]], ps.labels[s["train"]], x[s["val"]], ps.labels[s["val"]],
                                  x[s["test"]], ps.labels[s["test"]], cfg.probe_c_grid,
                                  rule=cfg.probe_rule, tol=cfg.probe_tol)
            out[m].append(r["test_accuracy"])
            chosen[m].append(r["c"])
    return {"accuracy": out, "c": chosen}


def _probe_pretraining(ps: ProbeSet, cfg: FoldConfig, emb: dict[str, np.ndarray],
                       state: dict) -> dict:
    """Probe accuracy per fold of the next-code model and SimCLR at every snapshot, as
    :func:`audioformers.ch4.experiment.probe_seed` probes the fold study's runs: ``accuracy["code_lm@<step>"]`` and
    ``accuracy["simclr@<step>"]`` (lists over folds), the next-code layer chosen per fold on validation sources
    at the last snapshot (``layer``), and the steps (``lm_steps``, ``simclr_steps``)."""
    lm_steps, cnn_steps = sorted(state["lm_snapshots"]), sorted(state["simclr_snapshots"])
    out: dict[str, list[float]] = {}
    chosen: dict[str, list[float]] = {}
    layers_chosen = []
    for fold in ps.folds(cfg.max_folds):
        s = ps.split(fold)

        def probe(x: np.ndarray) -> dict:
            return probes.probe_grid(x[s["train"]], ps.labels[s["train"]], x[s["val"]], ps.labels[s["val"]],
                                     x[s["test"]], ps.labels[s["test"]], cfg.probe_c_grid,
                                     rule=cfg.probe_rule, tol=cfg.probe_tol)

        last = {layer: probe(emb[f"lm_layer{layer}@{lm_steps[-1]}"]) for layer in range(cfg.lm_layers + 1)}
        best = max(last, key=lambda layer: (last[layer]["val_accuracy"], -layer))  # on validation only
        layers_chosen.append(best)
        runs = {f"code_lm@{step}": (last[best] if step == lm_steps[-1] else probe(emb[f"lm_layer{best}@{step}"]))
                for step in lm_steps}
        runs.update({f"simclr@{step}": probe(emb[f"simclr@{step}"]) for step in cnn_steps})
        for name, r in runs.items():
            out.setdefault(name, []).append(r["test_accuracy"])
            chosen.setdefault(name, []).append(r["c"])
    return {"accuracy": out, "c": chosen, "layer": layers_chosen, "lm_steps": lm_steps, "simclr_steps": cnn_steps}


def _pool_vectors(tok: tokenizer.Tokenizer, pool: np.ndarray, device: torch.device | str | None = None) -> np.ndarray:
    z = tok.normaliser(tokenizer.make_patches(pool, tok.patch_frames))
    return tokenizer.encode_patches(tok.autoencoder, z, device=device).reshape(-1, tok.autoencoder.config.bottleneck_dim)


def _code_representations(tok: tokenizer.Tokenizer, ps: ProbeSet, centres: np.ndarray,
                          device: torch.device | str | None = None) -> dict:
    z = tokenizer.encode_patches(tok.autoencoder, tok.normaliser(tokenizer.make_patches(ps.log_mels, tok.patch_frames)),
                                 device=device)
    codes = tokenizer.assign_codes(z, centres)  # (N, P)
    k = len(centres)
    return {"bottleneck": probes.pool_mean_std(z), "centroid": probes.pool_mean_std(centres[codes]),
            "histogram": np.stack([np.bincount(c, minlength=k) / len(c) for c in codes]).astype(np.float32)}, codes


def unit(ps: ProbeSet, cfg: FoldConfig, sweep: str, value: int, seed: int, say=print,
         device: torch.device | str | None = None) -> dict:
    """One (sweep, value, seed) of the study, cached; what it trains trains on ``device``."""
    path = config.cache_dir() / f"study-{ps.name}-{cfg.key()}-{sweep}{value}-seed{seed}.json"
    cached = read_cache_json(path) if path.exists() else None
    if cached is not None:
        return cached
    t = time.perf_counter()
    device = resolve(device)
    pool, _ = pretraining.unlabelled_pool(cfg)
    rng = np.random.default_rng(seed)
    if sweep == "num_codes":
        tok = pretraining.pretrain(cfg, seed, say, device=device)["tokenizer"]  # the fold study's autoencoder
        vectors = _pool_vectors(tok, pool, device)
        sample = vectors[rng.choice(len(vectors), min(cfg.kmeans_vectors, len(vectors)), replace=False)]
        centres = tokenizer.kmeans_sklearn(sample, value, seed=seed, n_init=1)
        emb, codes = _code_representations(tok, ps, centres, device)
        emb.pop("bottleneck")  # the same for every K: in the fold study's table
    elif sweep == "pretrain_scale":
        longer = replace(cfg, lm_steps=cfg.lm_steps * value, simclr_steps=cfg.simclr_steps * value)
        state = pretraining.pretrain(longer, seed, say, device=device)
        emb = pretraining.pool_embeddings(ps, longer, seed, state, device=device)
        result = {"sweep": sweep, "value": value, "seed": seed, **_probe_pretraining(ps, longer, emb, state),
                  "code_perplexity": state["log"]["code_perplexity"], "pretrain_seconds": state["log"]["seconds"],
                  "pretrain_cpu_seconds": state["log"]["cpu_seconds"],
                  "simclr_loss_last": float(np.mean(state["log"]["simclr_loss"][-10:])),
                  "lm_curve": state["log"]["lm_curve"], "seconds": time.perf_counter() - t}
        atomic_write_text(path, json.dumps(result))
        say(f"[study {ps.name} {sweep}={value} seed {seed}] {result['seconds']:.0f}s  " + "  ".join(
            f"{m} {np.mean(v):.3f}" for m, v in result["accuracy"].items()))
        return result
    elif sweep == "patch_frames":
        tok, _ = features.build_tokenizer(pool, replace(cfg, patch_frames=value), seed, device=device)
        emb, codes = _code_representations(tok, ps, tok.centres, device)
    else:
        raise ValueError(f"sweep must be one of {', '.join(SWEEPS)}, got {sweep!r}")
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


def _scale_records(units: list[dict]) -> dict:
    """Per pre-training scale: the steps, and per seed the layer chosen per fold, the seconds, SimCLR's last loss
    and the next-code model's held-out cross-entropy (``test_ce`` at its last evaluation)."""
    out: dict = {}
    for u in units:
        if u["sweep"] != "pretrain_scale":
            continue
        row = out.setdefault(str(u["value"]), {"lm_steps": u["lm_steps"], "simclr_steps": u["simclr_steps"],
                                               "seeds": [], "per_seed": {}})
        row["seeds"].append(int(u["seed"]))  # the order of the seeds in the sweep's per_fold columns
        curve = u.get("lm_curve") or {}
        test_ce = [x for x in curve.get("test_ce", []) if isinstance(x, (int, float)) and np.isfinite(x)]
        row["per_seed"][str(u["seed"])] = {"layer": u["layer"], "pretrain_seconds": u["pretrain_seconds"],
                                           "pretrain_cpu_seconds": u["pretrain_cpu_seconds"],
                                           "simclr_loss_last": u["simclr_loss_last"], "lm_curve": curve or None,
                                           "test_ce_last": test_ce[-1] if test_ce else None}
    return out


def study_config(cfg: FoldConfig, dataset: str) -> dict:
    """The config ``results/ch4/study-<dataset>`` records: the fold study's sizes, the dataset, the machine."""
    return {**asdict(cfg), "dataset": dataset, "threads": 1,
            "machine": "2 shared CPU cores (timings are not benchmarks)"}


def load_study(dataset: str | None = None, profile: str | None = None) -> dict | None:
    """The stored study of ``dataset`` (default: the profile's first probe set) when it was written with this
    profile's config; else ``None`` (it runs from the command line only: ``python -m audioformers.ch4.study``)."""
    profile = validate_profile(profile or get_profile())
    dataset = dataset or config.fold_datasets(profile)[0]
    return stored_result(CHAPTER, f"study-{dataset}", profile, study_config(config.fold_config(profile), dataset))


def run_study(dataset: str | None = None, seeds=(0,), profile: str | None = None, num_codes=NUM_CODES,
              patch_frames=PATCH_FRAMES, say=print, pretrain_scales=PRETRAIN_SCALES,
              device: torch.device | str | None = None, scale_seeds=None) -> dict:
    """Run (or resume) every unit of the study on ``device``; ``results/ch4/study-<dataset>`` after each.

    ``seeds``: the seeds of the tokenizer sweeps; ``scale_seeds`` (default ``seeds``): those of the longer
    pre-training. The units run seed by seed in ``seeds``' order (num_codes, pretrain_scale, patch_frames), then
    the longer pre-training of the seeds of ``scale_seeds`` not in ``seeds``."""
    profile = validate_profile(profile or get_profile())
    device = resolve(device)
    cfg = config.fold_config(profile)
    dataset = dataset or config.fold_datasets(profile)[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ps = load_probe_set(dataset, cfg)
        units, t0 = [], time.perf_counter()
        scale_seeds = list(seeds if scale_seeds is None else scale_seeds)
        plan = [(seed, sweep, value) for seed in seeds
                for sweep, value in ([("num_codes", k) for k in num_codes]
                                     + [("pretrain_scale", m) for m in pretrain_scales if seed in scale_seeds]
                                     + [("patch_frames", p) for p in patch_frames])]
        plan += [(seed, "pretrain_scale", m) for seed in scale_seeds if seed not in seeds for m in pretrain_scales]
        summary = {}
        for seed, sweep, value in plan:
            units.append(unit(ps, cfg, sweep, value, seed, say, device))
            summary = summarise(units)
            write_results(CHAPTER, f"study-{dataset}",
                          {"sweeps": summary, "num_codes": sorted({u["value"] for u in units
                                                                   if u["sweep"] == "num_codes"}),
                           "patch_frames": sorted({u["value"] for u in units if u["sweep"] == "patch_frames"}),
                           "pretrain_scale": _scale_records(units),
                           "folds": len(ps.folds(cfg.max_folds)), "units_done": len(units),
                           "units_planned": len(plan),
                           "gslm_units": [50, 100, 200], "pretrain_steps": {"code_lm": cfg.lm_steps,
                                                                            "simclr": cfg.simclr_steps}},
                          config=study_config(cfg, dataset),
                          seed=sorted({*seeds, *scale_seeds}), profile=profile,
                          device=str(device), wall_time_s=time.perf_counter() - t0)
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


def pretraining_points(study: dict, probe_table: dict) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Per model (``code_lm``, ``simclr``): ``[(pre-training steps, accuracy per fold)]``, each fold averaged over
    the seeds the longer runs hold (seed 0 where the study does not say), from the fold study's own runs
    (``probe_table``: 1x) and the study's longer runs (``pretrain_scale``), sorted by steps."""
    seeds = probe_table["seeds"]
    scale_rows = study.get("pretrain_scale", {}) or {}
    scale_seeds = sorted({s for row in scale_rows.values() for s in (row.get("seeds") or [0])}) or [0]
    common = [s for s in scale_seeds if s in seeds]
    out: dict[str, list[tuple[int, np.ndarray]]] = {"code_lm": [], "simclr": []}
    if common:
        for model in out:
            curve = probe_table["curves"][model]
            for step, acc in zip(curve["pretrain_steps"], curve["accuracy"]):
                out[model].append((int(step), np.array([np.mean([a[seeds.index(s)] for s in common]) for a in acc],
                                                       dtype=float)))
    for row in study.get("sweeps", {}).get("pretrain_scale", {}).values():
        for name, per_fold in row["per_fold"].items():
            model, step = name.split("@")
            out[model].append((int(step), np.array(per_fold, dtype=float).mean(axis=1)))  # mean over the seeds
    return {m: sorted(v, key=lambda x: x[0]) for m, v in out.items()}


def plot_pretraining(ax, study: dict, probe_table: dict, chance: float | None = None):
    """Probe accuracy against pre-training steps, the fold study's runs (up to 1x) and the longer runs together
    (each fold averaged over the longer runs' seeds; 95% t interval over folds)."""
    from scipy import stats

    for model, color, label in (("code_lm", "tab:blue", "next-code model"), ("simclr", "tab:orange", "SimCLR")):
        points = pretraining_points(study, probe_table)[model]
        if not points:
            continue
        steps = np.array([p[0] for p in points], dtype=float)
        acc = np.stack([p[1] for p in points])  # (points, folds)
        n = acc.shape[1]
        half = stats.t.ppf(0.975, n - 1) * acc.std(1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(steps))
        ax.errorbar(steps, acc.mean(1), yerr=half, fmt="o-", color=color, capsize=3, label=label)
    if chance is not None:
        ax.axhline(chance, color="k", ls=":", lw=0.8, label="chance")
    seeds = sorted({s for row in (study.get("pretrain_scale") or {}).values() for s in (row.get("seeds") or [0])})
    ax.set(xscale="log", xlabel=f"pre-training steps (seeds {', '.join(map(str, seeds or [0]))})",
           ylabel="probe test accuracy",
           title="probe accuracy vs pre-training, 1x and longer runs")
    ax.legend(fontsize=8)
    return ax


def pretraining_lines(study: dict, probe_table: dict) -> list[str]:
    """Paired over folds and the seeds both hold: each model's longest run against its 1x run, and next-code −
    SimCLR at the longest runs -- does the ordering turn with more pre-training? (The protocol's two-level
    interval over seeds × folds; with one common seed, a t interval over folds.) Empty when the longer runs are
    missing."""
    from audioformers.evaluation import evidence

    rows = study.get("sweeps", {}).get("pretrain_scale", {})
    table_seeds = list(probe_table["seeds"])
    lines = []
    for scale in sorted(rows, key=int):
        scale_seeds = list((study.get("pretrain_scale", {}).get(scale) or {}).get("seeds") or [0])
        common = [s for s in scale_seeds if s in table_seeds]
        if not common:
            continue
        base = {m: (probe_table["curves"][m]["pretrain_steps"][-1],
                    np.array([[a[table_seeds.index(s)] for s in common] for a in probe_table["curves"][m]["accuracy"][-1]],
                             dtype=float))
                for m in ("code_lm", "simclr")}
        longest = {}
        for m in ("code_lm", "simclr"):
            name = max((k for k in rows[scale]["per_fold"] if k.startswith(m + "@")), key=lambda k: int(k.split("@")[1]))
            per_fold = np.array(rows[scale]["per_fold"][name], dtype=float)  # (folds, seeds in scale_seeds' order)
            longest[m] = (int(name.split("@")[1]), per_fold[:, [scale_seeds.index(s) for s in common]])
            comp = evidence.compare(longest[m][1], base[m][1],
                                    names=(f"{m} at {longest[m][0]} steps", f"{m} at {base[m][0]} steps"), folds=True)
            lines.append(comp.line(scale=100, digits=1, unit=" pts"))
        comp = evidence.compare(longest["code_lm"][1], longest["simclr"][1],
                                names=(f"code_lm at {longest['code_lm'][0]} steps",
                                       f"simclr at {longest['simclr'][0]} steps"), folds=True)
        lines.append(comp.line(scale=100, digits=1, unit=" pts"))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Chapter 4's study: number of codes and patch length")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--scale-seeds", type=int, nargs="+", default=None,
                        help="seeds of the longer pre-training (default: --seeds)")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--num-codes", type=int, nargs="+", default=list(NUM_CODES))
    parser.add_argument("--patch-frames", type=int, nargs="+", default=list(PATCH_FRAMES))
    parser.add_argument("--pretrain-scales", type=int, nargs="*", default=list(PRETRAIN_SCALES),
                        help="multiples of the fold study's pre-training steps (none: skip)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if any(m < 1 for m in args.pretrain_scales):
        parser.error(f"--pretrain-scales must be at least 1, got {args.pretrain_scales}")
    from audioformers.train.distributed import use_device_argument

    summary = run_study(args.dataset, args.seeds, args.profile, args.num_codes, args.patch_frames,
                        pretrain_scales=args.pretrain_scales, device=use_device_argument(args.device),
                        scale_seeds=args.scale_seeds)
    for sweep, rows in summary.items():
        for value, row in rows.items():
            print(f"{sweep}={value}: " + "  ".join(f"{m} {row['mean'][m]:.3f} [{row['ci_low'][m]:.3f}, "
                                                   f"{row['ci_high'][m]:.3f}]" for m in row["mean"]))


if __name__ == "__main__":
    main()
