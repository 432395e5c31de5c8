"""Chapter 5's command-line study: longer training, all models x seeds, and a training-set-size sweep.

Does the gap between the raw-waveform transformer and the log-mel CNNs close with more steps or more data?
Every *unit* (model x seed x steps x training clips) is one :func:`audioformers.ch5.runs.run_one` run:
cached on disk (checkpoint every tenth of its steps, metrics when finished), so the study resumes where it
stopped and finished units are never retrained. ``results/ch5/study.<profile>.json`` is rewritten atomically
after each unit from every unit finished so far, under ``metrics["scale"]``; the file's older
``metrics["variants"]`` (the one-seed doubling study of :func:`audioformers.ch5.experiment.run_study`) is kept.

**Its split.** The study ran before soundmix-mini was split by recording (#32): its record is on
:data:`SPLIT` (the earlier split, test sources positional folds, one untuned learning rate), and stays as it is
(its config is unchanged, so it is reused). It is read for the gap's trend with steps, labelled with that split, and
for no verdict; the comparison (:mod:`audioformers.ch5.comparison`) is the table the verdicts read. A rerun on the
current split would start from nothing (every unit's key names the data build): ``python -m audioformers.ch5.study
--profile book`` (hours of one core).

The plan (:func:`plan`) is a list of *stages* in priority order. The comparison table is read at
:data:`TABLE_STEPS` steps on all the training clips, a step count fixed in this file before any unit of the
study had run (see :func:`study_sizes`), whatever the results.

Command line (one thread is the default; ``--until`` starts no unit that would not finish by then)::

    nice -n 10 python -m audioformers.ch5.study --profile book --until 03:30
    python -m audioformers.ch5.study --profile book             # resume: everything still pending
    python -m audioformers.ch5.study --profile book --extended  # and the optional long stages (plan())
    python -m audioformers.ch5.study --profile book --write-only  # rewrite the results from finished units
"""

from __future__ import annotations

import argparse
import json
import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

import torch

from audioformers.ch5 import claims
from audioformers.ch5 import experiment as se
from audioformers.ch5 import runs
from audioformers.ch5.config import CHAPTER, RunConfig, base_config, profile_sizes
from audioformers.core.device import add_device_argument, describe, resolve
from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.core.results import load_results, reuse_or_run, stored_result, write_results
from audioformers.evaluation import evidence as ev
from audioformers.train.distributed import use_device_argument

NAME = "study"
SPLIT = claims.STUDY_SPLIT  # the split the stored study ran on
NOTE = ("Every unit ran single-threaded (one torch thread, nice 10) on a shared 2-core CPU machine while other "
        "studies ran: the seconds are wall-clock training time there, not benchmarks.")


@dataclass(frozen=True)
class Unit:
    """One run of the study: a model, a seed, a number of optimiser steps and of training clips."""

    stage: str
    model: str
    seed: int
    steps: int
    train_clips: int


def study_sizes(profile: str | None = None) -> dict[str, Any]:
    """The study's sizes for a profile (fixed before any of its units ran).

    ``book``: the table at 1,000 steps of 16 crops on all 2,000 training clips (16,000 one-second crops, twice
    the seconds of training audio), for
    every model with seeds 0-2. The issue asked for 5,000 steps; one thread of the shared machine trains a
    transformer at about 0.15 s and a CNN at 0.4-0.55 s per step, so 3 seeds x 5 models x 5,000 steps is
    about 5 hours of one core: the 1,000-step table and the data sweep come first, the 5,000-step stages
    last (they run when the study is resumed without a deadline).
    """
    p = validate_profile(profile or get_profile())
    return {
        "table_steps": pick(smoke=8, book=1000, paper=20_000, profile=p),
        "long_steps": pick(smoke=8, book=5000, paper=20_000, profile=p),
        "all_clips": profile_sizes(p)["train_clips"],
        "clips": pick(smoke=[8, 16], book=[500, 1000, 2000], paper=[10_000, 20_000, 40_966], profile=p),
        "seeds": pick(smoke=[0, 1], book=[0, 1, 2], paper=[0, 1, 2], profile=p),
        "models": pick(smoke=["transformer-average", "cnn-vgg"],
                       book=["transformer-average", "transformer-haar", "cnn-vgg", "transformer-dft", "cnn-resnet"],
                       paper=["transformer-average", "transformer-haar", "cnn-vgg", "transformer-dft", "cnn-resnet"],
                       profile=p),
        "sweep_models": ["transformer-average", "cnn-vgg"],  # the training-set-size sweep: the paper's pair
        "evals_per_run": 4,
    }


EXTENDED = ("other transformers", "other CNNs", "less data")  # long stages run only with --extended (:func:`plan`)


def is_extended(stage: str) -> bool:
    """Whether ``stage`` is one of the optional long stages (:data:`EXTENDED`)."""
    return any(stage.endswith(", " + tail) for tail in EXTENDED)


def plan(profile: str | None = None, extended: bool = False) -> list[Unit]:
    """Every unit of the study in the order it runs (stages by priority, seed by seed within a stage).

    The study's question for longer training -- does the transformer-CNN gap close with steps? -- is answered
    by the pair of the data sweep (the transformer with average pooling and the VGG-like CNN) at
    ``long_steps`` with every seed: that stage is part of the plan. The other models (the transformers first:
    Haar pooling and the DFT front end against average pooling; then the ResNet) and the smaller training sets
    at ``long_steps`` (about three more hours of one core at ``book``) are optional: ``extended=True``
    (``--extended`` on the command line) adds them after it.
    """
    s = study_sizes(profile)
    steps, long, everything = s["table_steps"], s["long_steps"], s["all_clips"]
    fewer = [c for c in s["clips"] if c != everything]
    models, sweep = s["models"], s["sweep_models"]
    first = [m for m in ("transformer-average", "transformer-haar", "cnn-vgg") if m in models]
    stages: list[tuple[str, list[str], int, list[int]]] = [
        ("table", first, steps, [everything]),
        (f"data {fewer[0]} clips", sweep, steps, fewer[:1]),
        ("table, DFT front end", [m for m in models if m == "transformer-dft"], steps, [everything]),
        *[(f"data {c} clips", sweep, steps, [c]) for c in fewer[1:]],
        ("table, ResNet", [m for m in models if m == "cnn-resnet"], steps, [everything]),
    ]
    if long != steps:  # the pair that answers "does the gap close with steps?" first, then the other models
        others = [m for m in models if m not in sweep]
        stages += [(f"{long} steps", sweep, long, [everything]),
                   (f"{long} steps, other transformers", [m for m in others if m.startswith("transformer")], long,
                    [everything]),
                   (f"{long} steps, other CNNs", [m for m in others if not m.startswith("transformer")], long,
                    [everything]),
                   (f"{long} steps, less data", sweep, long, fewer)]
        stages = [st for st in stages if st[1]]
    if not extended:
        stages = [st for st in stages if not is_extended(st[0])]
    units: list[Unit] = []
    # the first two stages (the table's cheapest models, the smallest training set) go seed by seed together,
    # so that a study stopped early still has every seed it finished for both the table and the data sweep
    for group in (stages[:2], *([st] for st in stages[2:])):
        for seed in s["seeds"]:
            for stage, names, n_steps, clip_counts in group:
                units += [Unit(stage, m, seed, n_steps, c) for c in clip_counts for m in names]
    return units


def unit_config(unit: Unit, profile: str | None = None) -> RunConfig:
    """The :class:`~audioformers.ch5.config.RunConfig` of a unit: the chapter's comparison settings (batch,
    learning rate, test clips, model sizes) with the unit's model, seed, steps and training clips, and
    ``evals_per_run`` evaluations on the test clips along the way (its learning curve)."""
    s = study_sizes(profile)
    base = base_config(profile_sizes(profile))
    return replace(base, model=unit.model, seed=unit.seed, steps=unit.steps, train_clips=unit.train_clips,
                   eval_every=max(1, unit.steps // s["evals_per_run"]))


#: Seconds per step of one thread on the book's shared machine (measured with 200-step runs before the study,
#: batch 16), used only to decide whether a unit fits before ``--until``; finished units replace them.
SECONDS_PER_STEP = {"transformer": 0.16, "cnn-vgg": 0.40, "cnn-resnet": 0.55}
SECONDS_PER_EVAL = {"transformer": 5.0, "cnn-vgg": 10.0, "cnn-resnet": 8.0}


def _family(model: str) -> str:
    return "transformer" if model.startswith("transformer") else model


def estimate_seconds(unit: Unit, finished: list[dict[str, Any]] | None = None, evals: int = 4) -> float:
    """Expected wall-clock seconds of a unit: seconds per step of this family's finished units (else the
    measured :data:`SECONDS_PER_STEP`) times its steps, plus its evaluations."""
    family = _family(unit.model)
    rates = [r["train_seconds"] / r["steps"] for r in finished or [] if _family(r["model"]) == family]
    per_step = float(np.median(rates)) if rates else SECONDS_PER_STEP[family]
    return per_step * unit.steps + evals * SECONDS_PER_EVAL[family]


def parse_until(text: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """``HH:MM`` (UTC, the next such time) or an ISO date-time, as an aware UTC date-time; None for None."""
    if text is None:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        if len(text) <= 5 and ":" in text:
            hours, minutes = (int(x) for x in text.split(":"))
            when = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
            return when if when > now else when + dt.timedelta(days=1)
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"until must be HH:MM (UTC) or an ISO date-time, got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


# ------------------------------------------------------------------------------------------- results
KEEP = ("model", "seed", "steps", "map", "d_prime", "per_source", "train_seconds", "eval_seconds", "parameters",
        "curve")


def _row(unit: Unit, run: dict[str, Any], source: str, key: str | None = None) -> dict[str, Any]:
    row = {"stage": unit.stage, "train_clips": unit.train_clips, **{k: run[k] for k in KEEP if k in run},
           "source": source}
    if key is not None or run.get("key"):
        row["key"] = key or run["key"]
    return row


def _ident(unit_or_row: Unit | dict[str, Any]) -> tuple:
    get = (unit_or_row.get if isinstance(unit_or_row, dict) else lambda k: getattr(unit_or_row, k))
    return (get("stage"), get("model"), int(get("seed")), int(get("steps")), int(get("train_clips")))


def recorded_units(profile: str | None = None) -> dict[tuple, dict[str, Any]]:
    """The study's finished units as recorded in ``results/ch5/study.<profile>.json``, by unit.

    The results file, not the disk cache, is the study's durable record: a purged cache (a fresh machine,
    ``rm -r ~/.cache/audioformers``) must not send finished units back to training. A row is reused only
    where it was run with the current configuration: its ``key`` (the unit's
    :meth:`~audioformers.ch5.config.RunConfig.key`, which includes the data's build) equals today's, or,
    for rows written before keys were recorded, the file's recorded base configuration and study sizes
    equal today's (those rows are marked ``"key": "unrecorded"``).
    """
    profile = validate_profile(profile or get_profile())
    try:
        record = load_results(CHAPTER, NAME, profile)
    except FileNotFoundError:
        return {}
    stored = record.get("config", {}).get("scale", {})
    now = scale_config(profile)
    same_config = all(json.dumps(stored.get(k), sort_keys=True) == json.dumps(v, sort_keys=True)
                      for k, v in now.items() if k != "units")
    out = {}
    for row in record.get("metrics", {}).get("scale", {}).get("units", []):
        if row.get("source") != "study unit":
            continue
        if row.get("key") in (None, "unrecorded"):
            if same_config:
                out[_ident(row)] = {**row, "key": "unrecorded"}
        else:
            out[_ident(row)] = row
    return out


def finished_unit(unit: Unit, cfg: RunConfig, recorded: dict[tuple, dict[str, Any]]) -> dict[str, Any] | None:
    """A finished unit's run: from the disk cache, else from the results file (when its key matches)."""
    run = runs.run_one(cfg, cached_only=True)
    if run is not None:
        return {**run, "key": cfg.key()}
    row = recorded.get(_ident(unit))
    if row is not None and row["key"] in (cfg.key(), "unrecorded"):
        return row
    return None


def comparison_units(profile: str | None = None) -> list[tuple[Unit, dict[str, Any]]]:
    """The chapter's comparison runs (``results/ch5/comparison.<profile>.json``: every model and seed at the
    profile's steps, all training clips) as the study's shortest budget, when that file holds the comparison this
    profile asks for (:func:`audioformers.core.results.stored_result`: its recorded config is
    :func:`audioformers.ch5.experiment.comparison_config`)."""
    profile = validate_profile(profile or get_profile())
    record = stored_result(CHAPTER, "comparison", profile, se.comparison_config(profile))
    if record is None or "lr_grid" in record["config"]:
        return []  # the tuned comparison on the split by recording: another split and other rates than the study's
    out = []
    for run in record["metrics"].get("runs", []):
        c = run["config"]
        out.append((Unit("comparison", c["model"], int(c["seed"]), int(c["steps"]), int(c["train_clips"])),
                    {**run, "map": run.get("map", run.get("mAP")), "seed": int(c["seed"]), "steps": int(c["steps"])}))
    return out


def _select(rows: list[dict[str, Any]], steps: int, clips: int) -> list[dict[str, Any]]:
    """Rows at a budget as :func:`audioformers.ch5.experiment.paired_comparisons` reads them (``config.model``
    and ``config.seed``)."""
    return [{**r, "config": {"model": r["model"], "seed": r["seed"]}} for r in rows
            if r["steps"] == steps and r["train_clips"] == clips]


def gap_scores(rows: list[dict[str, Any]], a: str, b: str, points: list[tuple[int, int]]
               ) -> tuple[list[int], list[str], dict[tuple[int, int], np.ndarray]]:
    """Paired ``a − b`` per seed and test fold at each (steps, clips) point, over the seeds and folds all
    points share: (seeds, folds, {point: array (seeds, folds)})."""
    index = {(r["model"], r["seed"], r["steps"], r["train_clips"]): r for r in rows}
    seeds = sorted(s for s in {r["seed"] for r in rows}
                   if all((m, s, *p) in index for m in (a, b) for p in points))
    if not seeds:
        return [], [], {}
    folds = sorted(set.intersection(*(set(index[(m, s, *p)]["per_source"]) for m in (a, b) for s in seeds
                                      for p in points)))
    return seeds, folds, {p: np.array([[index[(a, s, *p)]["per_source"][f] - index[(b, s, *p)]["per_source"][f]
                                        for f in folds] for s in seeds]) for p in points}


def _comparison(name_a: str, name_b: str, a: np.ndarray, b: np.ndarray, seeds: list[int], folds: list[str]
                ) -> dict[str, Any] | None:
    if a.size < 2:
        return None
    comp = ev.compare(a, b, names=(name_a, name_b))
    iv = comp.interval
    return {"a": name_a, "b": name_b, "seeds": seeds, "test_sources": len(folds), "difference": iv.mean,
            "low": iv.low, "high": iv.high, "method": iv.describe(), "verdict": comp.verdict, "line": comp.line()}


def gap_trend(rows: list[dict[str, Any]], a: str, b: str, points: list[tuple[int, int]]) -> dict[str, Any]:
    """The gap ``a − b`` (mAP) at each point with its paired interval, and its change from the first point to
    the last (``change``: the claim that the gap is higher at the last point, i.e. that ``a`` caught up)."""
    out: dict[str, Any] = {"a": a, "b": b, "points": []}
    zero = None
    for point in points:
        seeds, folds, gaps = gap_scores(rows, a, b, [point])
        if not seeds:
            continue
        zero = np.zeros_like(gaps[point])
        row = _comparison(a, b, gaps[point], zero, seeds, folds) or {"difference": float(gaps[point].mean())}
        out["points"].append({"steps": point[0], "train_clips": point[1], "seed": seeds, **row})
    done = [(p["steps"], p["train_clips"]) for p in out["points"]]
    if len(done) >= 2 and zero is not None:
        first, last = done[0], done[-1]
        seeds, folds, gaps = gap_scores(rows, a, b, [first, last])
        if seeds:
            out["change"] = _comparison(f"gap at {last[0]} steps, {last[1]} clips",
                                        f"gap at {first[0]} steps, {first[1]} clips", gaps[last], gaps[first],
                                        seeds, folds)
    return out


def summarise_study(rows: list[dict[str, Any]], profile: str | None = None) -> dict[str, Any]:
    """The study's results from its finished rows: the table at the fixed step count, the map per model at
    every budget and training-set size, and the transformer–CNN gap against steps and against data."""
    s = study_sizes(profile)
    steps, everything = s["table_steps"], s["all_clips"]
    table = _select(rows, steps, everything)
    models = [m for m in s["models"] if any(r["model"] == m for r in table)]
    tfs = [m for m in models if m.startswith("transformer")]
    cnns = [m for m in models if m.startswith("cnn")]
    pairs = [(m, "transformer-average") for m in tfs if m != "transformer-average"] + [(t, c) for t in tfs for c in cnns]
    by_steps: dict[str, dict[str, Any]] = {}
    by_clips: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r["steps"], r["train_clips"], r["seed"])):
        if r["train_clips"] == everything:
            cell = by_steps.setdefault(r["model"], {}).setdefault(str(r["steps"]), {"seed": [], "map": []})
            cell["seed"].append(r["seed"]), cell["map"].append(r["map"])
        if r["steps"] == steps:
            cell = by_clips.setdefault(r["model"], {}).setdefault(str(r["train_clips"]), {"seed": [], "map": []})
            cell["seed"].append(r["seed"]), cell["map"].append(r["map"])
    tf, cnn = s["sweep_models"]
    budgets = sorted({r["steps"] for r in rows if r["train_clips"] == everything})
    long_steps = s["long_steps"]
    long_table = _select(rows, long_steps, everything) if long_steps != steps else []
    long_models = [m for m in s["models"] if any(r["model"] == m for r in long_table)]
    long_pairs = [(a, b) for a, b in ([(m, "transformer-average") for m in long_models if m.startswith("transformer")
                                       and m != "transformer-average"]
                                      + [(t, c) for t in long_models if t.startswith("transformer")
                                         for c in long_models if c.startswith("cnn")])]
    return {
        "rule": (f"The table is read at {steps:,} steps on all {everything:,} training clips for every model and seed: "
                 "a step count fixed in audioformers.ch5.study.study_sizes before any unit of the study ran."),
        "steps": steps, "train_clips": everything, "seed": sorted({r["seed"] for r in table}),
        "map": {m: [r["map"] for r in sorted(table, key=lambda r: r["seed"]) if r["model"] == m] for m in models},
        "seeds_done": {m: sorted(r["seed"] for r in table if r["model"] == m) for m in models},
        "summary": se.summarise([{**r, "mAP": r["map"], "config": {"model": r["model"], "steps": r["steps"]}}
                                 for r in table]) if table else {},
        "comparisons": se.paired_comparisons(table, pairs) if table else [],
        # the same pairs at the long step count, over the seeds both models have there (the table is the rule's)
        "long_steps": long_steps,
        "comparisons_long": se.paired_comparisons(long_table, long_pairs) if long_table else [],
        "by_steps": by_steps, "by_clips": by_clips,
        "gap_by_steps": gap_trend(rows, tf, cnn, [(b, everything) for b in budgets]),
        "gap_by_clips": gap_trend(rows, tf, cnn, [(steps, c) for c in sorted(s["clips"])]),
    }


def table_record(scale: dict[str, Any], profile: str | None = None,
                 device: torch.device | str | None = None) -> dict[str, Any]:
    """The table's runs in the shape of ``results/ch5/comparison`` (``config`` with the sizes,
    ``metrics.runs`` with ``config.model``/``config.seed``, ``mAP``, ``per_source``), for readers of that
    file such as the reproduction report; ``complete`` once every model has every seed."""
    s = study_sizes(profile)
    base = asdict(base_config(profile_sizes(profile)))
    table = [u for u in scale["units"] if u["steps"] == scale["steps"] and u["train_clips"] == scale["train_clips"]]
    runs = [{"config": {**base, "model": u["model"], "seed": u["seed"], "steps": u["steps"],
                        "train_clips": u["train_clips"]}, "mAP": u["map"], "map": u["map"],
             **{k: u[k] for k in ("per_source", "train_seconds", "parameters", "seed", "model") if k in u}}
            for u in table]
    complete = all(sorted(scale["seeds_done"].get(m, [])) == sorted(s["seeds"]) for m in s["models"])
    return {"complete": complete, "config": {**base, "steps": scale["steps"], "train_clips": scale["train_clips"],
                                             "seeds": s["seeds"], "models": s["models"]},
            "device": describe(resolve(device)),
            "wall_time_s": sum(u["train_seconds"] + u.get("eval_seconds", 0.0) for u in table),
            "metrics": {"runs": runs}}


def collect(profile: str | None = None) -> tuple[list[dict[str, Any]], list[Unit]]:
    """(rows of every finished unit, including the comparison's runs as the shortest budget and any finished
    unit of the optional stages; pending units of the whole plan, optional stages included)."""
    profile = validate_profile(profile or get_profile())
    rows = [_row(u, run, f"results/ch5/comparison.{profile}.json") for u, run in comparison_units(profile)]
    pending = []
    recorded = recorded_units(profile)
    for unit in plan(profile, extended=True):
        run = finished_unit(unit, unit_config(unit, profile), recorded)
        if run is None:
            pending.append(unit)
        else:
            rows.append(_row(unit, run, "study unit"))
    return rows, pending


def scale_config(profile: str | None = None) -> dict[str, Any]:
    """The study's part of the config ``results/ch5/study.<profile>.json`` records (``config["scale"]``): its
    sizes, the number of units of its plan and the comparison's run config its units start from."""
    profile = validate_profile(profile or get_profile())
    return {**study_sizes(profile), "units": len(plan(profile)), "base": asdict(base_config(profile_sizes(profile)))}


def _others(key: str) -> bool:
    return key != "scale"  # the one-seed variants' part of the study file (audioformers.ch5.experiment.run_study)


def study_config(profile: str | None = None) -> dict[str, Any]:
    """The config ``results/ch5/study.<profile>.json`` records once :func:`write_study` has written it: the
    variants' part as stored (:func:`audioformers.ch5.runs.kept_parts`) and :func:`scale_config`."""
    profile = validate_profile(profile or get_profile())
    return {**runs.kept_parts(NAME, profile, _others)[0], "scale": scale_config(profile)}


def write_study(profile: str | None = None, device: torch.device | str | None = None) -> dict[str, Any]:
    """Rewrite ``results/ch5/study.<profile>.json`` from every finished unit; keeps the file's ``variants``.
    ``device`` is the one the record names (default: :func:`audioformers.core.device.resolve`'s)."""
    profile = validate_profile(profile or get_profile())
    rows, pending = collect(profile)
    units = plan(profile, extended=True)
    stages = list(dict.fromkeys(u.stage for u in units))
    scale = {**summarise_study(rows, profile), "units": rows,
             "pending": [asdict(u) for u in pending if not is_extended(u.stage)],
             "pending_optional": [asdict(u) for u in pending if is_extended(u.stage)],
             "stages": [{"stage": st, "units": sum(u.stage == st for u in units),
                         "pending": sum(u.stage == st for u in pending), "optional": is_extended(st)}
                        for st in stages],
             "note": NOTE, "why": " ".join(study_sizes.__doc__.split("``book``:", 1)[1].split())}
    metrics = {**runs.kept_parts(NAME, profile, _others)[1], "scale": scale}
    config = study_config(profile)
    ours = [r for r in rows if r["source"] == "study unit"]
    scale["table_record"] = table_record(scale, profile, device)
    write_results(CHAPTER, NAME, metrics, config=config, seed=study_sizes(profile)["seeds"],
                  device=describe(resolve(device)),
                  wall_time_s=sum(r["train_seconds"] + r.get("eval_seconds", 0.0) for r in ours), profile=profile)
    return metrics


def run_study(profile: str | None = None, until: str | dt.datetime | None = None, include_long: bool = True,
              progress: bool = False, log=print, extended: bool = False,
              device: torch.device | str | None = None) -> dict[str, Any]:
    """Run the pending units in plan order on ``device`` (rewriting the results after each); return the metrics.

    ``until`` (``HH:MM`` UTC or a date-time): start no unit expected to end after it (the estimate is
    :func:`estimate_seconds`). ``include_long=False`` leaves out the ``long_steps`` stages; ``extended=True``
    adds the optional ones (:func:`plan`).
    """
    profile = validate_profile(profile or get_profile())
    deadline = parse_until(until) if isinstance(until, str) or until is None else until
    s = study_sizes(profile)
    finished: list[dict[str, Any]] = []
    recorded = recorded_units(profile)
    for unit in plan(profile, extended=extended):
        if not include_long and unit.steps != s["table_steps"]:
            continue
        cfg = unit_config(unit, profile)
        run = finished_unit(unit, cfg, recorded)
        if run is None:
            need = estimate_seconds(unit, finished, s["evals_per_run"])
            if deadline is not None and dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=need) > deadline:
                log(f"stopping before {unit} (about {need:.0f} s, past {deadline:%H:%M} UTC); resume with "
                    f"python -m audioformers.ch5.study --profile {profile}")
                break
            run = runs.run_one(cfg, device=device, progress=progress)
            log(f"{unit.stage:22s} {unit.model:20s} seed {unit.seed} {unit.steps:>5d} steps {unit.train_clips:>5d} "
                f"clips: mAP {run['map']:.3f} ({run['train_seconds']:.0f} s)")
            write_study(profile, device)
        finished.append(run)
    return write_study(profile, device)


def load_or_run(profile: str | None = None, device: torch.device | str | None = None,
                progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(metrics["scale"], record)`` of ``results/ch5/study.<profile>.json``: the stored record when the config
    it recorded is :func:`study_config` (:func:`audioformers.core.results.reuse_or_run`, the book's one rule),
    else after running the table and data stages on ``device`` (not the long ones)."""
    profile = validate_profile(profile or get_profile())
    record = reuse_or_run(CHAPTER, NAME, profile, study_config(profile),
                          lambda: run_study(profile, include_long=False, progress=progress, log=lambda *_: None,
                                            device=device))
    return record["metrics"]["scale"], record


def single_run_change(variants: dict[str, dict], summary: dict[str, dict], a: str, b: str, model: str) -> str:
    """One line for the difference between two single runs ``variants[a]`` and ``variants[b]`` (one seed each),
    judged against the seed spread of ``model`` in ``summary`` (:func:`evidence.single_run_interval`)."""
    if a not in variants or b not in variants:
        return f"{a} vs {b}: not run yet"
    delta = variants[a]["mAP"] - variants[b]["mAP"]
    row = summary.get(model, {})
    if row.get("seeds", 0) >= 2:
        iv = ev.single_run_interval(delta, row["mAP_std"], int(row["seeds"]))
        return f"{a} − {b}: {iv.text()}: {ev.verdict(iv)}"
    return f"{a} − {b}: {delta:+.3f} (no seed spread to judge it by)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default=None)
    parser.add_argument("--until", default=None, help="HH:MM (UTC) or ISO date-time: start no unit that would end later")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-long", action="store_true", help="leave out the long-steps stages")
    parser.add_argument("--extended", action="store_true",
                        help="also the optional long stages: the other models and fewer clips at the long step count")
    parser.add_argument("--write-only", action="store_true", help="only rewrite the results from finished units")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    device = use_device_argument(args.device)
    print(f"device: {describe(device)}", flush=True)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    scale = (write_study(args.profile, device) if args.write_only else
             run_study(args.profile, args.until, include_long=not args.no_long, progress=False,
                       log=lambda m: print(m, flush=True), extended=args.extended, device=device)
             )["scale"]
    for model, row in scale["summary"].items():
        print(f"{model:22s} mAP {row['mAP_mean']:.3f} ± {row['mAP_std']:.3f} over {row['seeds']} seed(s) at "
              f"{scale['steps']} steps", flush=True)
    for row in scale["comparisons"]:
        print(row["line"], flush=True)
    for key in ("gap_by_steps", "gap_by_clips"):
        change = scale[key].get("change")
        if change:
            print(f"{key}: {change['line']}", flush=True)
    print(f"{len(scale['units'])} units finished, {len(scale['pending'])} pending", flush=True)


if __name__ == "__main__":
    main()
