"""Chapter 4's tables, sentences and figures, computed from the fold study's per-seed runs: the probe table with
its paired differences over folds, the pipeline (what each stage of the tokenizer keeps), pre-training curves,
and the records written to ``results/ch4`` (``probe-table``, ``pipeline``, ``pretrain``, ``probes-<dataset>-seed<n>``).

Notebook: chapters/04_textless_audio_lm.ipynb (section 6 and "What the evidence says")
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from audioformers.ch4.config import CHAPTER, FoldConfig
from audioformers.ch4.folds import ProbeSet
from audioformers.core.device import resolve
from audioformers.core.results import write_results
from audioformers.evaluation import evidence, probes

STAGES = ("bottleneck", "centroid", "histogram", "lm_states")
AUGMENTATIONS = ("random crop of crop_frames frames", "gain of ±1 nat (±4.3 dB)",
                 "additive noise floor in half the views", "blur along the mel axis in 30% of the views",
                 "one masked band of up to a sixth of the mel bins and one of the frames",
                 "no time reversal (it swaps attack and decay, a cue of the label)")

FINAL_METHODS = ("mel_mean", "mel_stats", "bottleneck_mean", "bottleneck", "centroid", "histogram", "lm_states",
                 "simclr", "untrained", "supervised_cnn")

#: Paired comparisons of the table: (a, b, what the comparison asks).
PAIRS = (
    ("code_lm", "simclr", "lecture: next-code transformer above SimCLR"),
    ("supervised_cnn", "code_lm", "lecture: supervised above the next-code transformer"),
    ("supervised_cnn", "simclr", "lecture: supervised above SimCLR"),
    ("code_lm", "untrained", "the trivial baseline: the next-code model above an untrained CNN"),
    ("simclr", "untrained", "the trivial baseline: SimCLR above an untrained CNN (its own architecture)"),
    ("supervised_cnn", "untrained", "the trivial baseline: the supervised CNN above an untrained CNN"),
    ("code_lm", "mel_stats", "a learned embedding above mel statistics"),
    ("simclr", "mel_stats", "a learned embedding above mel statistics"),
    ("supervised_cnn", "mel_stats", "the supervised CNN above mel statistics"),
    ("mel_stats", "mel_mean", "pooling: mean + std above mean (log-mel)"),
    ("bottleneck", "bottleneck_mean", "pooling: mean + std above mean (bottleneck)"),
    ("bottleneck", "mel_stats", "the autoencoder bottleneck above log-mel, same pooling"),
    ("centroid", "bottleneck", "pipeline: k-means centroids keep the bottleneck's information"),
    ("histogram", "centroid", "pipeline: the code histogram keeps the centroids' information"),
    ("lm_states", "histogram", "pipeline: the next-code model adds to the code histogram"),
    ("lm_states", "centroid", "pipeline: the next-code model adds to its input (centroids)"),
)


def source_scores(per_source: dict, method: str, seeds: list) -> tuple[np.ndarray, list[str]]:
    """``(seeds, test sources)`` accuracies of ``method`` from a table's ``per_source`` (``{method: {source:
    [accuracy per seed]}}``: every source is a test source in exactly one fold), and the sources' names."""
    rows = per_source[method]
    names = sorted(rows)
    scores = np.array([rows[n] for n in names], dtype=np.float64).T  # (seeds, sources)
    if scores.shape[0] != len(seeds):
        raise ValueError(f"per_source[{method!r}] holds {scores.shape[0]} seeds, the table {len(seeds)}")
    return scores, names


def _source_record(per_source: dict, seeds: list, names) -> dict:
    """The protocol's two-level interval over seeds × test sources (programs, kits) for ``names = (a, b)``."""
    a, sources = source_scores(per_source, names[0], seeds)
    b, sources_b = source_scores(per_source, names[1], seeds)
    if sources != sources_b:
        raise ValueError(f"{names[0]} and {names[1]} were tested on different sources")
    comp = evidence.compare(a, b, names=names)
    iv = comp.interval
    return {"mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high, "method": iv.describe(), "verdict": comp.verdict,
            "sources": len(sources), "line": comp.line(scale=100, digits=1, unit=" pts")}


def _interval_record(a, b, names) -> dict:
    comp = evidence.compare(a, b, names=names, folds=True)
    sign = evidence.fold_interval(a, b, method="sign")
    iv = comp.interval
    return {"a": names[0], "b": names[1], "mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high,
            "method": iv.describe(), "verdict": comp.verdict,
            "sign_median": sign.mean, "sign_low": sign.low, "sign_high": sign.high, "sign_method": sign.describe(),
            "per_fold": [float(x) for x in np.mean(np.asarray(a) - np.asarray(b), axis=1)],
            "line": comp.line(scale=100, digits=1, unit=" pts")}


def summarise(ps: ProbeSet, cfg: FoldConfig, runs: dict[int, dict]) -> dict:
    """The fold table of ``runs`` (seed -> :func:`probe_seed` output) with paired differences over folds."""
    seeds = sorted(runs)
    folds = sorted(set.intersection(*(set(runs[s]["folds"]) for s in seeds)), key=int)
    methods = [m for m in (*FINAL_METHODS, *(f"lm_layer{i}" for i in range(cfg.lm_layers + 1)))]

    def acc(m: str, fold: str, seed: int) -> float:
        return runs[seed]["folds"][fold]["probe"][m]["test_accuracy"]

    per_fold = {m: [[acc(m, f, s) for s in seeds] for f in folds] for m in methods}
    per_fold["code_lm"] = per_fold["lm_states"]  # the report's name for the next-code model
    per_source: dict[str, dict[str, list[float]]] = {}
    for m in (*FINAL_METHODS, "code_lm"):
        src = "lm_states" if m == "code_lm" else m
        per_source[m] = {}
        for f in folds:
            for s in seeds:
                for name, v in runs[s]["folds"][f]["probe"][src]["per_source"].items():
                    per_source[m].setdefault(name, []).append(v)
    table = {m: {"mean": float(np.mean(v)), "fold_std": float(np.std(np.mean(v, axis=1), ddof=1)) if len(v) > 1 else 0.0,
                 "seed_std": float(np.mean(np.std(v, axis=1, ddof=1))) if len(seeds) > 1 else 0.0}
             for m, v in per_fold.items()}
    paired = {}
    if len(folds) >= 2:
        for a, b, what in PAIRS:
            paired[f"{a} - {b}"] = {**_interval_record(per_fold[a], per_fold[b], (a, b)), "question": what,
                                    "by_source": _source_record(per_source, seeds, (a, b))}
    choices = [runs[s]["folds"][f]["probe"][m] for s in seeds for f in folds for m in methods]
    grid = list(cfg.probe_c_grid)
    c_record = {"grid": grid, "rule": getattr(cfg, "probe_rule", "argmax"),
                "rule_text": probes.C_RULE_TEXT[getattr(cfg, "probe_rule", "argmax")],
                "chosen": {m: [[runs[s]["folds"][f]["probe"][m]["c"] for s in seeds] for f in folds] for m in methods},
                "interior_fraction": probes.interior_fraction(choices),
                "interior_fraction_by_method": {m: probes.interior_fraction(
                    [runs[s]["folds"][f]["probe"][m] for s in seeds for f in folds]) for m in methods},
                "at_low_end": int(sum(c["c_index"] == 0 for c in choices)),
                "at_high_end": int(sum(c["c_index"] == len(grid) - 1 for c in choices)), "choices": len(choices)}
    layers = [[runs[s]["folds"][f]["probe"]["lm_states"]["layer"] for s in seeds] for f in folds]
    curves = {}
    for method, key in (("code_lm", "lm_steps"), ("simclr", "simclr_steps")):
        steps = runs[seeds[0]][key]
        acc_curve = [[[runs[s]["folds"][f]["curve"][method][str(st)] for s in seeds] for f in folds] for st in steps]
        cpu = all(runs[s]["pretrain_log"].get("cpu_seconds") for s in seeds)  # CPU time is fair on shared cores
        sec = [runs[s]["pretrain_log"]["cpu_seconds" if cpu else "seconds"][method] for s in seeds]
        curves[method] = {"pretrain_steps": steps, "seconds_full": float(np.mean(sec)),
                          "seconds_kind": "process CPU seconds" if cpu else "wall-clock seconds on shared cores",
                          "accuracy": acc_curve, "mean": [float(np.mean(a)) for a in acc_curve]}
    chance = float(np.mean([runs[seeds[0]]["folds"][f]["probe"]["mel_stats"]["chance"] for f in folds]))
    return {"folds": len(folds), "seeds": seeds, "fold_ids": [int(f) for f in folds], "per_fold": per_fold,
            "per_source": per_source, "table": table, "paired_difference": paired, "probe_c": c_record,
            "lm_layer_chosen": layers, "curves": curves, "chance": chance, "num_classes": len(ps.classes),
            "num_clips": int(len(ps.labels)), "num_sources": int(len(np.unique(ps.sources))),
            "pooling": "mean and standard deviation over time for every representation (the *_mean rows: mean only)",
            "supervised": {f: [runs[s]["supervised"][f] for s in seeds] for f in folds}}


def pipeline_table(summary: dict) -> dict:
    """The pipeline stages (plus the log-mel input) with their fold means and the paired steps between them."""
    rows = {"log_mel": "mel_stats", "bottleneck": "bottleneck", "centroid": "centroid", "histogram": "histogram",
            "lm_states": "lm_states"}
    stages = {stage: {"method": m, **summary["table"][m]} for stage, m in rows.items()}
    steps = {}
    order = list(rows)
    for prev, nxt in zip(order, order[1:]):
        a, b = summary["per_fold"][rows[nxt]], summary["per_fold"][rows[prev]]
        if summary["folds"] >= 2:
            steps[f"{nxt} - {prev}"] = _interval_record(a, b, (nxt, prev))
    return {"stages": stages, "steps": steps, "folds": summary["folds"], "seeds": summary["seeds"]}


def recorded_seconds(runs: dict[int, dict]) -> float:
    """The training seconds the seeds' runs recorded (tokenizer, next-code model, SimCLR, and the supervised CNN
    of every fold), summed: the tables' ``wall_time_s``, the same whether a seed ran now or was read back from
    ``results/`` (probing and embedding, a few seconds per fold, are not counted)."""
    return float(sum(sum(run["pretrain_log"]["seconds"].values())
                     + sum(f.get("seconds", 0.0) for f in run["supervised"].values()) for run in runs.values()))


def table_config(cfg: FoldConfig, dataset: str) -> dict:
    """The config every record of the fold study on ``dataset`` holds: a stored record is reused while it equals
    this (:func:`audioformers.core.results.stored_result`)."""
    return {**asdict(cfg), "dataset": dataset, "augmentations": list(AUGMENTATIONS), "threads": 1,
            "machine": "2 shared CPU cores (timings are not benchmarks)"}


def write_tables(ps: ProbeSet, cfg: FoldConfig, runs: dict[int, dict], profile: str, wall: float,
                 device: torch.device | str | None = None) -> dict:
    """Summarise ``runs`` and write the probe table, the pipeline, the pre-training record and each seed's record
    to ``results/ch4`` (``device``: where the runs trained, recorded; default the machine's)."""
    summary = summarise(ps, cfg, runs)
    common = dict(config=table_config(cfg, ps.name), seed=summary["seeds"], profile=profile,
                  device=str(resolve(device)), wall_time_s=wall)
    write_results(CHAPTER, f"probe-table-{ps.name}", summary, **common)
    write_results(CHAPTER, f"pipeline-{ps.name}", pipeline_table(summary), **common)
    first = runs[summary["seeds"][0]]["pretrain_log"]
    pre = {"unlabelled": {**first["pool"], "pool_clips": first["pool_clips"]},
           "curves": summary["curves"],
           "pretrain_steps": {"code_lm": summary["curves"]["code_lm"]["pretrain_steps"],
                              "simclr": summary["curves"]["simclr"]["pretrain_steps"]},
           "seconds": {s: runs[s]["pretrain_log"]["seconds"] for s in summary["seeds"]},
           "cpu_seconds": {s: runs[s]["pretrain_log"].get("cpu_seconds") for s in summary["seeds"]},
           "lm_curve": {s: runs[s]["pretrain_log"]["lm_curve"] for s in summary["seeds"]},
           "simclr_loss": {s: runs[s]["pretrain_log"]["simclr_loss"] for s in summary["seeds"]},
           "code_perplexity": {s: runs[s]["pretrain_log"]["code_perplexity"] for s in summary["seeds"]},
           "folds": summary["folds"], "per_fold": {m: summary["per_fold"][m] for m in ("code_lm", "simclr")}}
    write_results(CHAPTER, f"pretrain-{ps.name}", pre, **common)
    facts = describe_run(summary, pre, cfg)
    folds = [str(f) for f in summary["fold_ids"]]
    for seed in summary["seeds"]:  # per-seed records: what the report's figure and facts read
        per = {}
        for m in (*FINAL_METHODS, "code_lm"):
            src = "lm_states" if m == "code_lm" else m
            blocks = [runs[seed]["folds"][f]["probe"][src] for f in folds]
            per[m] = {"test_accuracy": float(np.mean([b["test_accuracy"] for b in blocks])),
                      "per_source": {k: v for b in blocks for k, v in b["per_source"].items()}}
        log = runs[seed]["pretrain_log"]
        write_results(CHAPTER, f"probes-{ps.name}-seed{seed}",
                      {"probe": per, "facts": facts, "folds": summary["folds"], "num_clips": summary["num_clips"],
                       "num_sources": summary["num_sources"], "chance": summary["chance"],
                       "times": {"code_lm_s": log["seconds"]["code_lm"], "simclr_s": log["seconds"]["simclr"],
                                 "tokenizer_s": log["seconds"]["tokenizer"],
                                 "supervised_s": float(np.mean([runs[seed]["supervised"][f]["seconds"]
                                                                for f in folds]))},
                       "run_key": cfg.key(), "run": runs[seed]},
                      **{**common, "seed": seed})
    return summary


def describe_run(summary: dict, pre: dict, cfg: FoldConfig) -> str:
    """One sentence on what the fold study ran, generated from its records (the report prints it)."""
    seconds = pre["seconds"]
    lm_s = np.mean([v["code_lm"] for v in seconds.values()])
    cnn_s = np.mean([v["simclr"] for v in seconds.values()])
    best = [run["best_step"][0] for runs in summary["supervised"].values() for run in runs if run.get("best_step")]
    pool = pre["unlabelled"]
    return (f"pre-training on an unlabelled pool of {pool['pool_clips']} one-second clips "
            f"({', '.join(f'{k} {v}' for k, v in pool['clips'].items())}; no probe data): {cfg.lm_steps} next-code "
            f"steps ({lm_s:.0f} s), {cfg.simclr_steps} SimCLR steps ({cnn_s:.0f} s); supervised CNN per fold with "
            f"early stopping on validation sources (best step median {np.median(best):.0f} of at most "
            f"{cfg.supervised_max_steps}); probes with mean + std pooling for every representation on "
            f"{summary['num_clips']} clips of {summary['num_sources']} sources, {summary['folds']} folds x "
            f"{len(summary['seeds'])} seed(s)")


def provenance_line(record: dict) -> str:
    """Where a result file came from: profile, seeds, commit, date, device, wall time."""
    wall = record.get("wall_time_s")
    return (f"{record.get('name')}.{record.get('profile')}: seeds {record.get('seed')}, written "
            f"{str(record.get('written_at', '?'))[:19]} at commit {str(record.get('git_commit', '?'))[:10]}, "
            f"{record.get('device')}, one thread on shared cores"
            + (f", {wall / 60:.1f} min of wall time in the run that wrote it (cached units reused)"
               if isinstance(wall, (int, float)) else ""))


LABELS = {"mel_mean": "log-mel, mean only", "mel_stats": "log-mel (mel statistics)",
          "bottleneck_mean": "bottleneck, mean only", "bottleneck": "autoencoder bottleneck",
          "centroid": "k-means centroids", "histogram": "code histogram", "lm_states": "next-code model states",
          "simclr": "SimCLR CNN", "untrained": "untrained encoder (random weights)",
          "supervised_cnn": "supervised CNN (per fold)"}


def table_lines(summary: dict) -> list[str]:
    """The probe table as text: mean over folds and seeds, the spread over folds and over seeds."""
    lines = [f"{summary['folds']} folds x {len(summary['seeds'])} seed(s); chance {summary['chance']:.2f}",
             f"  {'representation':30s} {'accuracy':>9s} {'sd folds':>9s} {'sd seeds':>9s}"]
    several = len(summary["seeds"]) > 1
    for m, label in LABELS.items():
        v = summary["table"][m]
        seed_sd = f"{v['seed_std']:9.3f}" if several else f"{'–':>9s}"
        lines.append(f"  {label:30s} {v['mean']:9.3f} {v['fold_std']:9.3f} {seed_sd}")
    folds = np.mean([summary["table"][m]["fold_std"] for m in LABELS])
    if several:
        seeds = np.mean([summary["table"][m]["seed_std"] for m in LABELS])
        lines.append(f"  mean spread over folds {folds:.3f}, over seeds {seeds:.3f}")
    else:
        lines.append(f"  mean spread over folds {folds:.3f}; one seed, so the spread over seeds is not measured here")
    return lines


def difference_lines(summary: dict) -> list[str]:
    """Each paired difference over folds: the t interval and verdict, and the sign-test interval."""
    lines = []
    for rec in summary["paired_difference"].values():
        finite = all(isinstance(rec[k], (int, float)) and np.isfinite(rec[k]) for k in ("sign_low", "sign_high"))
        sign = (f"sign test [{100 * rec['sign_low']:+.1f}, {100 * rec['sign_high']:+.1f}]" if finite
                else "sign test: too few folds for a 95% interval")
        lines.append(f"{rec['line']}; {sign}  [{rec['question']}]")
    return lines


def findings(summary: dict, pretraining: dict) -> list[str]:
    """The chapter's explanatory sentences, generated from the records (so they change with the evidence)."""
    pd = summary["paired_difference"]

    def says(key: str) -> str:
        r = pd[key]
        side = {"reproduced": "above zero", "reversed": "below zero", "inconclusive": "contains zero"}[r["verdict"]]
        return f"{100 * r['mean']:+.1f} points [{100 * r['ci_low']:+.1f}, {100 * r['ci_high']:+.1f}] ({side})"

    t = summary["table"]
    out = [f"Pooling: mean + std over mean alone is worth {says('mel_stats - mel_mean')} on the log-mel and "
           f"{says('bottleneck - bottleneck_mean')} on the bottleneck.",
           f"Same pooling, the bottleneck against the log-mel: {says('bottleneck - mel_stats')}.",
           f"The tokenizer: k-means centroids against the bottleneck {says('centroid - bottleneck')}; the code "
           f"histogram against the centroids {says('histogram - centroid')}.",
           f"What the next-code model adds: over the code histogram {says('lm_states - histogram')}; over its "
           f"input, the centroids, {says('lm_states - centroid')}.",
           f"The supervised CNN (early stopping on validation sources) against mel statistics: "
           f"{says('supervised_cnn - mel_stats')}."]
    for method in ("code_lm", "simclr"):
        c = pretraining["curves"][method]
        out.append(f"{'Next-code model' if method == 'code_lm' else 'SimCLR'}: probe accuracy "
                   + ", ".join(f"{a:.3f} at {s} steps" for s, a in zip(c["pretrain_steps"], c["mean"]))
                   + f" ({c['seconds_full']:.0f} s for all steps).")
    best = max(("lm_states", "simclr", "supervised_cnn", "mel_stats"), key=lambda m: t[m]["mean"])
    out.append(f"Highest mean: {LABELS[best]} ({t[best]['mean']:.3f}).")
    return out


def plot_pipeline(ax, summary: dict, pipeline: dict, title: str):
    """The chapter's main figure: accuracy at each stage (mean over folds and seeds, 95% t interval over folds),
    one thin line per fold, and the other representations as horizontal references."""
    from scipy import stats

    stages = [s for s in ("log_mel", *STAGES) if s in pipeline["stages"]]  # pipeline order (JSON sorts keys)
    per_fold = np.array([np.mean(summary["per_fold"][pipeline["stages"][s]["method"]], axis=1) for s in stages])
    n = per_fold.shape[1]
    half = stats.t.ppf(0.975, n - 1) * per_fold.std(1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(stages))
    x = np.arange(len(stages))
    for f in range(n):
        ax.plot(x, per_fold[:, f], color="grey", lw=0.6, alpha=0.6, label="one fold" if f == 0 else None)
    ax.errorbar(x, per_fold.mean(1), yerr=half, fmt="o-", color="k", capsize=4, label="mean, 95% t over folds")
    for m, color in (("simclr", "tab:orange"), ("supervised_cnn", "tab:green")):
        ax.axhline(summary["table"][m]["mean"], color=color, ls="--", lw=1, label=LABELS[m])
    ax.axhline(summary["chance"], color="k", ls=":", lw=0.8, label="chance")
    ax.set_xticks(x, [s.replace("_", " ") for s in stages], rotation=20)
    ax.set(title=title, ylabel="probe test accuracy", ylim=(0, 1))
    return ax


def plot_curves(ax, pretraining: dict, title: str):
    """Probe accuracy against pre-training seconds for both self-supervised models (95% t over folds)."""
    from scipy import stats

    for method, color in (("code_lm", "tab:blue"), ("simclr", "tab:orange")):
        c = pretraining["curves"][method]
        steps = np.array(c["pretrain_steps"], dtype=float)
        seconds = c["seconds_full"] * steps / steps[-1]
        acc = np.array(c["accuracy"], dtype=float).mean(axis=2)  # (checkpoints, folds)
        n = acc.shape[1]
        half = stats.t.ppf(0.975, n - 1) * acc.std(1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(steps))
        ax.errorbar(seconds, acc.mean(1), yerr=half, fmt="o-", color=color, capsize=3,
                    label=f"{'next-code model' if method == 'code_lm' else 'SimCLR'} (up to {int(steps[-1])} steps)")
    kind = pretraining["curves"]["code_lm"].get("seconds_kind", "wall-clock seconds on shared cores")
    ax.set(xscale="log", title=title, xlabel=f"pre-training: {kind.replace(' on shared cores', '')}, one thread",
           ylabel="probe test accuracy")
    ax.legend(fontsize=8)
    return ax

