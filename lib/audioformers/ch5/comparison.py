"""Chapter 5's comparison (``results/ch5/comparison.<profile>.json``): raw-waveform transformers against log-mel CNNs
on soundmix-mini, each model at a learning rate tuned on validation clips, several seeds, intervals clustered by
test recording, and a training-data sweep over unique audio.

Stages, in the order they run (each run cached by :func:`audioformers.ch5.runs.run_one`, the record rewritten as
each stage's runs land, so a killed study resumes where it stopped):

1. **tuning**: every model at each learning rate of ``lr_grid``, seed ``seeds[0]``, at the table's budget; the rate
   with the best *validation* mAP is the model's ``chosen_lr`` (the grid's validation and test mAP are both
   stored; only validation chooses);
2. **table**: every model at its chosen rate for every seed (seed ``seeds[0]`` is the tuning run itself);
3. **data sweep**: ``sweep_models`` at their chosen rates on a fraction of each class's training *recordings*
   (``soundmix-r25``, ``soundmix-r50``: nested subsets, the same number of mixtures, steps and seeds), beside the
   table's runs on all of them. Unique audio, not the number of mixtures drawn from it, is what varies.

The test sources of every interval are the test recordings (:func:`audioformers.ch5.tasks.recording_ap`): seeds x
recordings in :mod:`audioformers.evaluation.evidence`'s two-level interval. The transformer a verdict reads is
chosen on validation mAP (:func:`selected_transformer`), never on test. Per-clip scores are stored
(``clip_scores``: per model and seed, per test clip, with the clip's recordings).

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "Transformers against CNNs")
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from audioformers import data
from audioformers.ch5.config import RunConfig, base_config, profile_sizes
from audioformers.ch5.runs import run_one, write_phase
from audioformers.ch5.tasks import SOUNDMIX_FRACTIONS, load_task, score_task, training_recordings, validation_clips
from audioformers.core.profiles import get_profile, validate_profile
from audioformers.evaluation import evidence as ev

SPLIT = ("soundmix-mini v{version}: events split by recording into train, validation and test (no recording in two "
         "splits; at least {test} test recordings per class); test sources: the test recordings")
#: what a stored run keeps in the record's ``runs`` (its clip scores go to ``clip_scores``, once per run)
KEEP = ("config", "model", "task", "seed", "steps", "map", "mAP", "d_prime", "per_class_AP", "per_source",
        "validation_map", "curve", "train_loss", "loss_steps", "train_seconds", "eval_seconds", "parameters")


def split_text() -> str:
    """The split the comparison reads, in words (from soundmix-mini's build config)."""
    cfg = data.dataset_config("soundmix-mini")
    return SPLIT.format(version=cfg.get("version", 1), test=cfg.get("min_recordings", {}).get("test", "?"))


def comparison_base(profile: str) -> RunConfig:
    """The runs' shared config: the profile's sizes with the comparison's test clips (its learning rate is tuned)."""
    sizes = profile_sizes(profile)
    return base_config(sizes, test_clips=sizes["comparison_test_clips"])


def comparison_config(profile: str | None = None, seeds: list[int] | None = None,
                      models: list[str] | None = None) -> dict[str, Any]:
    """The config ``results/ch5/comparison.<profile>.json`` records: the runs' shared config (``lr``: tuned), the
    learning-rate grid, the seeds, the models, the validation clips, the data sweep and the split."""
    profile = validate_profile(profile or get_profile())
    sizes = profile_sizes(profile)
    base = asdict(comparison_base(profile))
    base["lr"] = "tuned per model on validation mAP over lr_grid"
    table_models = list(models or sizes["models"])
    return {**base, "seeds": list(seeds if seeds is not None else sizes["seeds"]), "models": table_models,
            "curve_models": [], "lr_grid": list(sizes["lr_grid"]), "selection": "validation mAP",
            "validation_clips": validation_clips(base["test_clips"]),
            "sweep": {"tasks": list(sizes["sweep_tasks"]), "models": [m for m in sizes["sweep_models"]
                                                                     if m in table_models], "eval_every": 0},
            "split": split_text()}


# ---------------------------------------------------------------------------------------------- reading
def chosen_rates(grid_runs: dict[str, dict[float, dict]]) -> dict[str, float]:
    """Per model, the learning rate whose run has the highest validation mAP (ties: the smaller rate)."""
    out = {}
    for model, by_lr in grid_runs.items():
        if len(by_lr) == 1:  # nothing to choose (the paper profile's one rate)
            out[model] = next(iter(by_lr))
            continue
        if any("validation_map" not in r for r in by_lr.values()):
            raise ValueError(f"model {model!r}: a tuning run has no validation_map (tuning needs validation clips)")
        out[model] = min(by_lr, key=lambda lr: (-by_lr[lr]["validation_map"], lr))
    return out


def selected_transformer(runs: list[dict[str, Any]]) -> str | None:
    """The transformer with the highest mean validation mAP over its table runs (the one 5a and 5c read)."""
    by_model: dict[str, list[float]] = {}
    for run in runs:
        model = run["config"]["model"]
        if model.startswith("transformer") and "validation_map" in run:
            by_model.setdefault(model, []).append(run["validation_map"])
    return max(by_model, key=lambda m: float(np.mean(by_model[m]))) if by_model else None


def paired(runs: list[dict[str, Any]], a: str, b: str) -> tuple[np.ndarray, np.ndarray, list[int], list[str]]:
    """``(a, b, seeds, sources)``: the two models' per-recording scores shaped (seeds, test recordings) over the
    seeds and recordings both have."""
    by = {(r["config"]["model"], int(r["config"]["seed"])): r for r in runs}
    seeds = sorted(s for (m, s) in by if m == a and (b, s) in by)
    if not seeds:
        return np.zeros((0, 0)), np.zeros((0, 0)), [], []
    sources = sorted(set.intersection(*(set(by[(m, s)]["per_source"]) for m in (a, b) for s in seeds)))
    xa = np.array([[by[(a, s)]["per_source"][n] for n in sources] for s in seeds])
    xb = np.array([[by[(b, s)]["per_source"][n] for n in sources] for s in seeds])
    return xa, xb, seeds, sources


def compare_models(runs: list[dict[str, Any]], pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The protocol's paired interval and verdict for each pair: per-recording AP, seeds x test recordings
    (:func:`audioformers.evaluation.evidence.compare`), and the mAP difference beside it."""
    out = []
    for a, b in pairs:
        xa, xb, seeds, sources = paired(runs, a, b)
        if xa.size < 2:
            continue
        comp = ev.compare(xa, xb, names=(a, b))
        iv = comp.interval
        maps = {m: float(np.mean([r["map"] for r in runs if r["config"]["model"] == m
                                  and int(r["config"]["seed"]) in seeds])) for m in (a, b)}
        out.append({"a": a, "b": b, "metric": "per-recording AP", "seeds": seeds, "test_sources": len(sources),
                    "difference": iv.mean, "low": iv.low, "high": iv.high, "method": iv.describe(),
                    "map_difference": maps[a] - maps[b], "verdict": comp.verdict, "line": comp.line()})
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model: mean and sd over seeds of test mAP, validation mAP and d′, its learning rate and seconds."""
    out: dict[str, dict[str, Any]] = {}
    for model in dict.fromkeys(r["config"]["model"] for r in runs):
        rows = [r for r in runs if r["config"]["model"] == model]
        maps = np.array([r["map"] for r in rows])
        out[model] = {"map": float(maps.mean()), "mAP_mean": float(maps.mean()),
                      "mAP_std": float(maps.std(ddof=1)) if len(rows) > 1 else 0.0,
                      "validation_map_mean": float(np.mean([r.get("validation_map", np.nan) for r in rows])),
                      "d_prime_mean": float(np.mean([r["d_prime"] for r in rows])), "seeds": len(rows),
                      "lr": rows[0]["config"]["lr"], "parameters": rows[0]["parameters"],
                      "steps": rows[0]["config"]["steps"],
                      "train_seconds_mean": float(np.mean([r["train_seconds"] for r in rows]))}
    return out


def table_pairs(models: list[str]) -> list[tuple[str, str]]:
    """The pairs the table compares: each transformer variant against average pooling, every transformer
    against every CNN."""
    tfs = [m for m in models if m.startswith("transformer")]
    cnns = [m for m in models if m.startswith("cnn")]
    pairs = [(m, "transformer-average") for m in ("transformer-haar", "transformer-dft")
             if m in tfs and "transformer-average" in tfs]
    return pairs + [(t, c) for t in tfs for c in cnns]


def sweep_summary(sweep_runs: list[dict[str, Any]], table_runs: list[dict[str, Any]], models: list[str],
                  tasks: list[str]) -> dict[str, Any]:
    """The data sweep: per training fraction, its unique recordings and minutes of audio, each model's mAP per
    seed, and the transformer − CNN gap (first sweep model minus the last) with its interval."""
    points = []
    for task in [*tasks, "soundmix"]:
        rows = [r for r in (table_runs if task == "soundmix" else sweep_runs)
                if r["config"]["task"] == task and r["config"]["model"] in models]
        if not rows:
            continue
        kept = training_recordings(SOUNDMIX_FRACTIONS[task])
        point = {"task": task, "fraction": SOUNDMIX_FRACTIONS[task],
                 "recordings": sum(len(v) for v in kept["recordings"].values()),
                 "unique_minutes": kept["seconds"] / 60.0,
                 "map": {m: {str(r["config"]["seed"]): r["map"] for r in rows if r["config"]["model"] == m}
                         for m in models}}
        if len(models) == 2:
            gap = compare_models(rows, [tuple(models)])
            if gap:
                point["gap"] = gap[0]
        points.append(point)
    points.sort(key=lambda p: p["fraction"])
    change = None
    if len(models) == 2 and len(points) >= 2:  # the gap at the most audio against the gap at the least, paired
        first, last = points[0]["task"], points[-1]["task"]
        rows = {t: [r for r in (table_runs if t == "soundmix" else sweep_runs) if r["config"]["task"] == t]
                for t in (first, last)}
        parts = {t: paired(rows[t], *models) for t in (first, last)}
        seeds = sorted(set(parts[first][2]) & set(parts[last][2]))
        names = sorted(set(parts[first][3]) & set(parts[last][3]))
        if seeds and names and len(seeds) * len(names) >= 2:
            def gap_of(t):
                xa, xb, s_, n_ = parts[t]
                return np.array([[xa[s_.index(s), n_.index(n)] - xb[s_.index(s), n_.index(n)] for n in names]
                                 for s in seeds])
            comp = ev.compare(gap_of(last), gap_of(first), names=(f"gap on {last}", f"gap on {first}"))
            change = {"a": last, "b": first, "seeds": seeds, "test_sources": len(names), "difference": comp.interval.mean,
                      "low": comp.interval.low, "high": comp.interval.high, "method": comp.interval.describe(),
                      "verdict": comp.verdict, "line": comp.line()}
    return {"models": models, "points": points, "change": change,
            "note": ("Each point trains on a fraction of every class's training recordings (nested subsets), with "
                     "the same number of mixtures, steps and seeds; the test set is the same.")}


def label_prior(task: dict[str, Any]) -> dict[str, Any]:
    """The trivial baseline: every clip scored with the training clips' class frequencies (constant scores), on
    the same test clips: its mAP and per-recording AP (the gate of :data:`audioformers.evaluation.evidence.BASELINE_RULE`)."""
    constant = np.broadcast_to(task["train_targets"].mean(0), task["test_targets"].shape).copy()
    scored = score_task(task, constant)
    return {"map": scored["map"], "per_source": scored["per_source"],
            "what": "constant scores: the training clips' class frequencies"}


# ------------------------------------------------------------------------------------------------ running
def _kept(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run[k] for k in KEEP if k in run}


def run_comparison(profile: str | None = None, seeds: list[int] | None = None, models: list[str] | None = None,
                   device: torch.device | str | None = None, progress: bool = True,
                   resume: bool = True) -> dict[str, Any]:
    """Tune, then the table, then the data sweep (the module's stages); writes
    ``results/ch5/comparison.<profile>.json`` after each model's tuning, each seed of the table and each sweep
    run, so an interrupted study still leaves a record (with ``complete`` false) and resumes from the run cache."""
    profile = validate_profile(profile or get_profile())
    config = comparison_config(profile, seeds, models)
    base = comparison_base(profile)
    seeds, table_models = config["seeds"], config["models"]
    grid: dict[str, dict[float, dict]] = {}
    table: list[dict] = []
    sweep: list[dict] = []
    def write(stage: str) -> dict[str, Any]:
        task = load_task(base.task, base.train_clips, base.test_clips)  # cached: the runs loaded it first
        test_recordings = task.get("test_recordings", [])
        recording_class = task.get("recording_class", {})
        counts = {s: int(v) for s, v in data.metadata("soundmix-mini")
                  .get("recordings", {}).items()} if base.task in SOUNDMIX_FRACTIONS else {}
        heard = sorted({r for clip in test_recordings for r in clip})  # the test recordings the test clips hold
        prior = label_prior(task)
        chosen = chosen_rates({m: g for m, g in grid.items() if len(g) == len(config["lr_grid"])})
        runs = [_kept(r) for r in table]
        best = selected_transformer(runs)
        metrics = {
            "stage": stage, "complete": stage == "done", "split": config["split"],
            "test_set": {"clips": len(task["test_targets"]), "recordings": len(heard),
                         "recordings_per_class": {c: sum(recording_class[r] == c for r in heard)
                                                  for c in task["classes"]},
                         "recordings_by_split": counts},
            "tuning": {"grid": config["lr_grid"], "seed": seeds[0], "selection": "validation mAP",
                       "validation_map": {m: {str(lr): r["validation_map"] for lr, r in g.items()}
                                          for m, g in grid.items()},
                       "test_map": {m: {str(lr): r["map"] for lr, r in g.items()} for m, g in grid.items()},
                       "train_seconds": sum(r["train_seconds"] + r["eval_seconds"] for g in grid.values()
                                            for r in g.values())},
            "baselines": {"prior": prior},
            "chosen_lr": chosen, "runs": runs, "summary": summarise(runs) if runs else {},
            "selected_transformer": best, "selection": "the transformer with the best mean validation mAP",
            "comparisons": compare_models(runs, table_pairs(table_models)),
            "table_models": table_models, "curve_models": [],
            "clip_scores": {"classes": task["classes"], "recordings": test_recordings,
                            "scores": {m: {str(r["config"]["seed"]): r.get("clip_scores") for r in table
                                           if r["config"]["model"] == m} for m in table_models}},
            "data_sweep": sweep_summary(sweep, table, config["sweep"]["models"], config["sweep"]["tasks"]),
            "sweep_runs": [_kept(r) for r in sweep],
        }
        tuned = [r for g in grid.values() for r in g.values()]
        every = tuned + [r for r in table if all(r is not x for x in tuned)]  # seeds[0]'s table runs are tuning runs
        write_phase("comparison", metrics, config, every + sweep, seeds, profile, device)
        return metrics

    metrics: dict[str, Any] = {}
    for model in table_models:  # 1. tuning at seeds[0]
        grid[model] = {lr: run_one(replace(base, model=model, seed=seeds[0], lr=lr), device=device,
                                   progress=progress, resume=resume) for lr in config["lr_grid"]}
        metrics = write("tuning")
    chosen = chosen_rates(grid)
    for seed in seeds:  # 2. the table at the chosen rates (seeds[0]: the tuning run itself)
        for model in table_models:
            table.append(grid[model][chosen[model]] if seed == seeds[0] else
                         run_one(replace(base, model=model, seed=seed, lr=chosen[model]), device=device,
                                 progress=progress, resume=resume))
        metrics = write("table")
    for seed in seeds:  # 3. the data sweep
        for task_name in config["sweep"]["tasks"]:
            for model in config["sweep"]["models"]:
                sweep.append(run_one(replace(base, model=model, seed=seed, lr=chosen[model], task=task_name,
                                             eval_every=config["sweep"]["eval_every"]),
                                     device=device, progress=progress, resume=resume))
                metrics = write("data sweep")
    return write("done") if table_models else metrics
