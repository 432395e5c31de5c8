"""Chapter 3's long study (issue #32): the comparison trained long enough to be read, and the scaling study's small
sizes trained far enough to say where the transformer's token-limited curve goes. Prepared to run from the command
line, one unit at a time, resumable; its records are written as units finish.

**(a) ``compare``**: WaveNet, the transformer and the conditioned transformer at :data:`LONG_STEPS` (2,500 at book)
steps × 3 seeds on each of :data:`LONG_DOMAINS` (speech, orchestra and piano-mini: each with at least 8 test
recordings), at rates tuned per model *at that budget*: each model at every rate of :data:`LONG_FRACTIONS` times its
300-step rate (``results/ch3/tuning``), one step further past a winning edge, on piano-mini's validation recordings
with seed :data:`TUNING_SEED` (apart from the comparison's seeds, so every comparison curve is on test windows).
A unit is one model × domain × seed (× rate, for tuning), cached and checkpointed every tenth of its steps
(:func:`audioformers.ch3.scoring.train_cached`). Records: ``long_tuning`` (after every tuning unit) and
``long_compare_<domain>_seed<N>`` in the comparison's format (after every model).

**(a′) ``context``** (after ``compare``): each domain's trained transformer and WaveNet, every seed, given only the
last *k* samples before a scored position (:func:`context_long`; record ``long_context_use``), so "does the longer
past help?" is asked of the models the long comparison reads, with an interval over seeds (:func:`context_gain`).

**(b) ``scaling``**: the scaling study's small size of both families (``--sizes small medium``: and the medium) on
piano-mini, warm-up / stable /
decay to :data:`SCALING_BUDGETS` (1,250 to 20,000 steps: 2.6M to 41M tokens). Per size, seed 0 at every rate of
:data:`LONG_FRACTIONS` times the size's rate in the stored scaling study (scored on validation and test), the rate
with the fewest validation bits at the largest budget kept (one step further past a winning edge), then seeds 1
and 2 at it. A unit is one family × size × seed × rate; its budgets are written as each branch finishes and its
trunk is checkpointed at every branch and every :data:`CHECKPOINT_EVERY` steps (:func:`wsd_resumable`). Record:
``long_scaling``.

**Reading partial progress.** The claims ignore the long study until it is complete (every domain's 3 seeds with
all three models, :func:`audioformers.ch3.claims.long_records`); then 3a and 3b read it instead of the 300-step
comparison.
:func:`progress` says how many units are done ("7 of 27 comparison units").

**Cost.** :func:`measure_costs` times a few training steps and one evaluation of each kind of unit on this machine
(``results/ch3/long_study_cost``); :func:`plan` turns them into CPU hours per part.

Command line::

    python -m audioformers.ch3.long_study --profile book --measure          # cost per unit, CPU hours per part
    python -m audioformers.ch3.long_study --profile book --parts compare     # (a); again to resume
    python -m audioformers.ch3.long_study --profile book --parts compare --domains piano-mini --seeds 2 1
                                             # a second process on the other core (never the same unit in both)
    python -m audioformers.ch3.long_study --profile book --parts context     # (a'), after (a)
    python -m audioformers.ch3.long_study --profile book --parts scaling     # (b); again to resume
    python -m audioformers.ch3.long_study --profile book --parts scaling --families wavenet   # (b), one family
    python -m audioformers.ch3.long_study --profile book --progress         # units done

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "What we found" (what it would take).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from audioformers.ch3 import comparison, context_use, scaling
from audioformers.ch3.long_results import (LONG_DOMAINS, LONG_FRACTIONS, LONG_SEEDS as SEEDS, MEASURED_SIZES,
                                          SCALING_SIZES, long_name, progress, scaling_budgets, stored_units)
from audioformers.ch3 import experiment as ns
from audioformers.ch3.scoring import (CHAPTER, Setup, held_out_windows, position_scores, scored_log_probs,
                                      study_setup, train_cached, unit_path, validation_windows)
from audioformers.core.checks import check_choice, check_int
from audioformers.core.device import add_device_argument, describe, resolve
from audioformers.core.profiles import pick, validate_profile
from audioformers.core.results import atomic_write, load_results, stored_result, write_results
from audioformers.core.seeding import seed_everything
from audioformers.train.checkpoints import load_checkpoint
from audioformers.train.distributed import use_device_argument

TUNING_SEED = 100
TUNING_DOMAIN = "piano-mini"
CHECKPOINT_EVERY = 500


def long_steps(profile: str) -> int:
    return pick(smoke=8, book=2500, paper=20000, profile=profile)


def long_config(setup: Setup, steps: int | None = None) -> ns.ExperimentConfig:
    """The comparison's config at the long budget (``steps``, default :func:`long_steps`): ten held-out points on
    each learning curve."""
    steps = long_steps(setup.profile) if steps is None else check_int("steps", steps, minimum=1)
    return replace(setup.config, steps=steps, eval_every=max(1, steps // 10))


def _short_rates(profile: str) -> dict[str, float]:
    return load_results(CHAPTER, "tuning", profile)["metrics"]["chosen_lr"]


# ---- (a) the comparison at the long budget -------------------------------------------------------------------

def tune_long(profile: str, device: torch.device | str | None = None,
              models: tuple[str, ...] = ns.MODEL_NAMES, steps: int | None = None) -> dict[str, Any]:
    """Each model at every rate of :data:`LONG_FRACTIONS` × its short-budget rate (and one step past a winning
    edge), :data:`TUNING_SEED`, on :data:`TUNING_DOMAIN`'s validation windows; ``long_tuning`` is written after
    every unit. Returns its metrics (``chosen_lr`` per model once all are tuned)."""
    setup = study_setup(profile, TUNING_DOMAIN, device)
    cfg, short = long_config(setup, steps), _short_rates(setup.profile)
    windows = torch.from_numpy(validation_windows(setup))
    table: dict[str, dict[str, float]] = {}
    chosen: dict[str, float] = {}
    config = {**asdict(cfg), "fractions_of_short_rate": list(LONG_FRACTIONS), "short_rates": short,
              "seed": TUNING_SEED, "tuned_on": TUNING_DOMAIN, "rule": "fewest validation bits; one step past a "
              "winning edge"}

    stored = stored_result(CHAPTER, "long_tuning", setup.profile, config)
    if stored is not None and all(m in stored["metrics"].get("chosen_lr", {}) for m in models):
        return stored["metrics"]  # complete: not rewritten, so its provenance (time, commit) stays the run's own

    def unit(name: str, lr: float) -> float:
        try:
            _, model = train_cached(name, replace(cfg, lr=lr), TUNING_SEED, setup.parts["train"], windows,
                                    "validation", setup.device)
            bits = float(position_scores(*scored_log_probs(model, windows, cfg))["bits_per_sample"].mean())
        except FloatingPointError:
            bits = float("inf")
        table.setdefault(name, {})[str(lr)] = bits
        write_results(CHAPTER, "long_tuning", {"validation_bits_per_sample": table, "chosen_lr": dict(chosen)},
                      config=config, seed=TUNING_SEED, device=str(setup.device), profile=setup.profile)
        return bits

    for name in models:
        bits = {lr: unit(name, lr) for lr in (short[name] * f for f in LONG_FRACTIONS)}
        extra = scaling.next_rate(bits)
        if extra is not None:
            bits[extra] = unit(name, extra)
        chosen[name] = min(bits, key=bits.get)
    metrics = {"validation_bits_per_sample": table, "chosen_lr": chosen,
               "edge_of_grid": {n: chosen[n] in (min(map(float, table[n])), max(map(float, table[n]))) for n in chosen}}
    write_results(CHAPTER, "long_tuning", metrics, config=config, seed=TUNING_SEED, device=str(setup.device),
                  profile=setup.profile)
    return metrics


def compare_long(profile: str, device: torch.device | str | None = None, domains: tuple[str, ...] = LONG_DOMAINS,
                 seeds: tuple[int, ...] = SEEDS, steps: int | None = None) -> None:
    """Part (a): the tuning, then every domain × seed × model at the long budget (``steps``: default
    :func:`long_steps`; the rates are tuned at the same steps), records written as models finish."""
    chosen = tune_long(profile, device, steps=steps)["chosen_lr"]
    for domain in domains:
        for seed in seeds:
            setup = study_setup(profile, domain, device)
            setup = replace(setup, config=long_config(setup, steps))
            config = {**comparison.comparison_config(setup, chosen), "study": "long", "tuned_on": TUNING_DOMAIN,
                      "tuning_seed": TUNING_SEED}
            stored = stored_result(CHAPTER, long_name(domain, seed), setup.profile, config)
            if stored is not None and all(m in stored["metrics"] for m in ns.MODEL_NAMES):
                print(domain, seed, "stored", flush=True)  # complete: not rewritten (its wall time stays the run's)
                continue
            out = comparison.run_comparison(setup, seed, chosen, name=long_name(domain, seed), config=config)
            print(domain, seed, json.dumps({k: v["final"] for k, v in out.items()}), flush=True)


#: the past lengths the context-use measurement gives each model (those below its window or receptive field)
CONTEXT_PASTS = (1, 2, 4, 8, 16, 32, 62, 128, 254, 511, 1022)
CONTEXT_MODELS = ("transformer", "wavenet")


def context_long(profile: str, device: torch.device | str | None = None, domains: tuple[str, ...] = LONG_DOMAINS,
                 seeds: tuple[int, ...] = SEEDS, steps: int | None = None) -> dict[str, Any]:
    """Part (a)'s trained transformer and WaveNet of every domain and seed (from the unit cache: trained again,
    deterministically, only where it is missing) given only the last ``k`` samples before each scored position
    (:func:`audioformers.ch3.context_use.bits_vs_past`, the same positions for every model and past of a domain).
    Writes ``long_context_use``: per domain, each model's pasts and bits per sample per seed."""
    chosen = tune_long(profile, device, steps=steps)["chosen_lr"]
    out: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for domain in domains:
        setup = study_setup(profile, domain, device)
        setup = replace(setup, config=long_config(setup, steps))
        windows, _ = held_out_windows(setup)
        pasts_all = [p for p in CONTEXT_PASTS if p < windows.shape[1] - 1]
        entry: dict[str, Any] = {"pasts": {}, "bits_per_sample": {}, "receptive_field": {}, "seeds": list(seeds)}
        for name in CONTEXT_MODELS:
            for seed in seeds:
                model = comparison.trained(setup, name, seed, chosen)
                field = setup.config.context_length if name == "transformer" else model.receptive_field
                pasts = sorted({p for p in pasts_all if p < field} | {field - 1})
                entry["pasts"][name], entry["receptive_field"][name] = pasts, field
                entry["bits_per_sample"].setdefault(name, []).append(
                    context_use.bits_vs_past(model, windows, pasts, first=max(pasts_all)))
        out[domain] = entry
        config = {**asdict(setup.config), "chosen_lr": chosen, "positions": context_use.POSITIONS,
                  "domains": list(domains), "seeds": list(seeds), "study": "long"}
        write_results(CHAPTER, "long_context_use", {"domains": out}, config=config, device=str(setup.device),
                      profile=setup.profile)
        print(domain, "context use:", json.dumps({m: [round(b[-1], 3) for b in v]
                                                  for m, v in entry["bits_per_sample"].items()}), flush=True)
    return out


# ---- (b) small sizes, far: warm-up / stable / decay with a checkpointed trunk ---------------------------------

def _scores(model: torch.nn.Module, windows: torch.Tensor, config: ns.ExperimentConfig) -> dict[str, float]:
    s = position_scores(*scored_log_probs(model, windows, config))
    return {"bits_per_sample": float(s["bits_per_sample"].mean()), "top5": float(s["top5"].mean())}


def wsd_resumable(name: str, config: ns.ExperimentConfig, budgets: list[int], train: list[np.ndarray],
                  sets: dict[str, torch.Tensor], lr: float, seed: int, path, on_budget: Callable[[int, dict], None],
                  device: torch.device | str | None = None, decay_fraction: float = 0.2,
                  checkpoint_every: int = CHECKPOINT_EVERY) -> dict[int, dict[str, dict[str, float]]]:
    """:func:`audioformers.ch3.scaling.wsd_run`'s schedule (stable run, a branch decaying linearly over the last
    ``decay_fraction`` of each budget, scored on every set of ``sets``), resumable: the trunk (model, optimiser,
    window sampler, scores so far) is saved at ``path`` at every branch point and every ``checkpoint_every``
    steps, and ``on_budget(budget, scores)`` is called as each branch is scored. Returns scores per budget."""
    device = resolve(device)
    seed_everything(seed)
    model = ns.build_model(name, config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = np.random.default_rng(seed + 1000)
    done, results = 0, {}
    if path.exists():
        state = load_checkpoint(path, rebuild="delete it to train this unit from the start")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = json.loads(state["rng"])
        done, results = int(state["step"]), {int(k): v for k, v in json.loads(state["results"]).items()}
    length = ns.window_length(config)

    def save() -> None:
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done,
                 "rng": json.dumps(rng.bit_generator.state), "results": json.dumps(results)}
        atomic_write(path, lambda handle: torch.save(state, handle))

    def step(m, o, lr_now: float, r: np.random.Generator) -> None:
        for g in o.param_groups:
            g["lr"] = lr_now
        batch = torch.from_numpy(ns.sample_windows(train, config.batch_size, length, r)).to(device)
        inputs, targets = ns.model_inputs(m, batch, config)
        logits = m(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{name} at lr {lr}: the loss is not finite at step {done}")
        o.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        o.step()

    model.train()
    for budget in sorted(budgets):
        if budget in results:
            continue
        branch_at = int(round((1 - decay_fraction) * budget))
        while done < branch_at:
            step(model, opt, lr * min(1.0, (done + 1) / max(1, config.warmup_steps)), rng)
            done += 1
            if done % checkpoint_every == 0:
                save()
        save()  # a kill during the branch resumes here
        branch, bopt, brng = copy.deepcopy(model), copy.deepcopy(opt), copy.deepcopy(rng)
        decay = budget - branch_at
        for i in range(decay):
            step(branch, bopt, lr * (1 - (i + 1) / (decay + 1)), brng)
        results[budget] = {k: _scores(branch, w, config) for k, w in sets.items()}
        model.train()
        save()
        on_budget(budget, results[budget])
    return results


def _size_rate(family: str, size: str, profile: str, config: ns.ExperimentConfig) -> float:
    """The size's rate in the stored scaling study (its small size's tuned rate, × width_small / width)."""
    tuned = load_results(CHAPTER, "scaling", profile)["metrics"]["lr_tuning"][family]["lr_small"]
    small = replace(config, **scaling.SIZES[family]["small"]) if profile != "smoke" else config
    cfg = replace(config, **scaling.SIZES[family][size]) if profile != "smoke" else config
    return scaling.scaled_lr(tuned, family, small, cfg)


def _unit_key(family: str, size: str, seed: int, lr: float) -> str:
    return f"{family}/{size}/seed{seed}/lr{lr:.6g}"


@contextlib.contextmanager
def _scaling_lock(profile: str):
    """An exclusive lock on ``long_scaling``'s record, so that a process per family can each add its units."""
    try:
        import fcntl  # POSIX; elsewhere one process per record (no lock)
    except ImportError:
        yield
        return
    path = Path(tempfile.gettempdir()) / f"audioformers-long-scaling-{profile}.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def scaling_long(profile: str, device: torch.device | str | None = None,
                 families: tuple[str, ...] = ("transformer", "wavenet"),
                 sizes: tuple[str, ...] = SCALING_SIZES, seeds: tuple[int, ...] = SEEDS) -> dict[str, Any]:
    """Part (b) on piano-mini: per family and size, seed 0 at every rate, the best on validation at the largest
    budget kept, then the other seeds at it. ``long_scaling`` is written after every budget of every unit."""
    setup = study_setup(profile, TUNING_DOMAIN, device)
    budgets = scaling_budgets(setup.profile)
    base = setup.config
    sets = {"validation": torch.from_numpy(validation_windows(setup)),
            "test": torch.from_numpy(held_out_windows(setup)[0])}
    units = stored_units(setup.profile)
    chosen: dict[str, float] = {}
    tokens_per_step = base.batch_size * base.context_length
    # the config names both families whichever this process trains: a process per family writes one record
    config = {**asdict(base), "budgets_steps": budgets, "sizes": {f: {s: scaling.SIZES[f][s] for s in sizes}
              for f in ("transformer", "wavenet")}, "fractions_of_scaling_rate": list(LONG_FRACTIONS), "seeds": list(seeds),
              "domain": TUNING_DOMAIN, "schedule": "warm-up, stable, linear decay over the last 20% of each budget",
              "rule": "seed 0 at every rate; fewest validation bits at the largest budget; then the other seeds"}

    trained: set[str] = set()  # the units this process trains: the only ones its writes may change

    def write() -> None:  # under a lock, over what other processes (a family or a seed each) have written meanwhile
        with _scaling_lock(setup.profile):
            try:
                stored = load_results(CHAPTER, "long_scaling", setup.profile)["metrics"]
            except FileNotFoundError:
                stored = {}
            merged = {**stored.get("units", {}), **{k: units[k] for k in trained}}
            chosen_all = {**stored.get("chosen_lr", {}), **chosen}
            write_results(CHAPTER, "long_scaling", {"units": merged, "chosen_lr": chosen_all,
                                                    "tokens_per_step": tokens_per_step}, config=config,
                          device=str(setup.device), profile=setup.profile)

    def unit(family: str, size: str, seed: int, lr: float) -> dict[str, Any]:
        cfg = replace(base, **scaling.SIZES[family][size]) if setup.profile != "smoke" else base
        key = _unit_key(family, size, seed, lr)
        entry = units.setdefault(key, {"family": family, "size": size, "seed": seed, "lr": lr, "budgets": {},
                                       "parameters": ns.build_model(family, cfg).num_parameters()})
        if len(entry["budgets"]) == len(budgets):
            return entry
        trained.add(key)
        payload = {"family": family, "size": size, "config": asdict(cfg), "seed": seed, "lr": lr, "budgets": budgets}
        path = unit_path("long-scaling", payload).with_suffix(".pt")
        path.parent.mkdir(parents=True, exist_ok=True)
        start, before = time.perf_counter(), entry.get("train_seconds", 0.0)

        def on_budget(budget: int, scores: dict) -> None:
            entry["budgets"][str(budget)] = {**scores, "tokens": budget * tokens_per_step}
            entry["train_seconds"] = before + time.perf_counter() - start  # this process's time, added to before
            write()

        scores = wsd_resumable(family, cfg, budgets, setup.parts["train"], sets, lr, seed, path, on_budget,
                               setup.device)
        for budget, score in scores.items():  # budgets scored before a kill that came before their write
            entry["budgets"].setdefault(str(budget), {**score, "tokens": budget * tokens_per_step})
        write()
        return entry

    for size in sizes:
        for family in families:
            bits = {}
            for lr in (_size_rate(family, size, setup.profile, base) * f for f in LONG_FRACTIONS):
                bits[lr] = unit(family, size, 0, lr)["budgets"][str(budgets[-1])]["validation"]["bits_per_sample"]
            extra = scaling.next_rate(bits)
            if extra is not None:
                bits[extra] = unit(family, size, 0, extra)["budgets"][str(budgets[-1])]["validation"]["bits_per_sample"]
            chosen[f"{family}/{size}"] = best = min(bits, key=bits.get)
            write()
            for seed in seeds:
                unit(family, size, seed, best)
    write()
    return load_results(CHAPTER, "long_scaling", setup.profile)["metrics"]


# ---- cost ---------------------------------------------------------------------------------------------------------

def _time_steps(name: str, config: ns.ExperimentConfig, train: list[np.ndarray], windows: torch.Tensor,
                steps: int, device: torch.device) -> dict[str, float]:
    seed_everything(0)
    model = ns.build_model(name, config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    length = ns.window_length(config)
    times = []
    for i in range(steps + 1):  # the first step warms up (allocations): not timed
        start = time.perf_counter()
        batch = torch.from_numpy(ns.sample_windows(train, config.batch_size, length, rng)).to(device)
        inputs, targets = ns.model_inputs(model, batch, config)
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - start)
    start = time.perf_counter()
    _scores(model, windows, config)
    return {"seconds_per_step": float(np.median(times)), "seconds_per_evaluation": time.perf_counter() - start,
            "parameters": int(model.num_parameters())}


def measure_costs(profile: str, device: torch.device | str | None = None, steps: int = 5) -> dict[str, Any]:
    """Seconds per training step (median of ``steps``) and per evaluation of every kind of unit, on piano-mini
    at the profile's sizes; written to ``long_study_cost``."""
    steps = check_int("steps", steps, minimum=1)
    setup = study_setup(profile, TUNING_DOMAIN, device)
    windows = torch.from_numpy(held_out_windows(setup)[0])
    kinds: dict[str, dict[str, float]] = {}
    for name in ns.MODEL_NAMES:
        kinds[f"compare/{name}"] = _time_steps(name, setup.config, setup.parts["train"], windows, steps, setup.device)
    for size in MEASURED_SIZES:
        for family in ("transformer", "wavenet"):
            cfg = replace(setup.config, **scaling.SIZES[family][size]) if setup.profile != "smoke" else setup.config
            kinds[f"scaling/{family}/{size}"] = _time_steps(family, cfg, setup.parts["train"], windows, steps,
                                                            setup.device)
    metrics = {"kinds": kinds, "threads": torch.get_num_threads(), "steps_timed": steps,
               "note": "measured on a shared machine while other studies ran: a rough guide, not a benchmark"}
    write_results(CHAPTER, "long_study_cost", metrics, config={"profile": setup.profile, "steps": steps,
                                                               "domain": TUNING_DOMAIN},
                  device=describe(setup.device), profile=setup.profile)
    return metrics


def plan(profile: str, kinds: dict[str, dict[str, float]], sizes: tuple[str, ...] = SCALING_SIZES,
         steps: int | None = None) -> dict[str, Any]:
    """CPU hours of each part from the measured costs: (a) tuning (3 rates + 1 extension per model) and 3 domains ×
    3 seeds per model at the long budget; (b) per family and size, 3 rates + 1 extension at seed 0 and 2 more seeds,
    each a stable run to 80% of the largest budget plus every branch's decay, with one evaluation per set per
    budget. Evaluations every tenth of a comparison run are counted too."""
    profile = validate_profile(profile)
    steps = long_steps(profile) if steps is None else check_int("steps", steps, minimum=1)
    out: dict[str, Any] = {"compare": {}, "scaling": {}}
    for name in ns.MODEL_NAMES:
        k = kinds[f"compare/{name}"]
        runs = (len(LONG_FRACTIONS) + 1) + len(LONG_DOMAINS) * len(SEEDS)
        out["compare"][name] = runs * (steps * k["seconds_per_step"] + 11 * k["seconds_per_evaluation"]) / 3600
    budgets = scaling_budgets(profile)
    run_steps = 0.8 * max(budgets) + 0.2 * sum(budgets)
    for size in sizes:
        for family in ("transformer", "wavenet"):
            k = kinds[f"scaling/{family}/{size}"]
            runs = (len(LONG_FRACTIONS) + 1) + len(SEEDS) - 1
            out["scaling"][f"{family}/{size}"] = runs * (run_steps * k["seconds_per_step"]
                                                         + 2 * len(budgets) * k["seconds_per_evaluation"]) / 3600
    out["compare_hours"] = sum(out["compare"].values())
    out["scaling_hours"] = sum(out["scaling"].values())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Chapter 3's long study: (a) the comparison at 2,500 steps × 3 seeds "
                                                 "with rates tuned there, (b) small sizes to 41M tokens on piano-mini")
    parser.add_argument("--profile", default="book")
    parser.add_argument("--parts", nargs="+", default=[], choices=["compare", "context", "scaling"],
                        help="compare: (a) the comparison; context: (a)'s models given shorter pasts (after "
                             "compare); scaling: (b)")
    parser.add_argument("--measure", action="store_true", help="time each kind of unit and print CPU hours per part")
    parser.add_argument("--progress", action="store_true", help="print the units done")
    parser.add_argument("--sizes", nargs="+", default=list(SCALING_SIZES), choices=list(MEASURED_SIZES),
                        help="part (b)'s sizes (default: small)")
    parser.add_argument("--steps", type=int, default=None,
                        help="part (a)'s steps per run (default 2,500 at book; claim 3a's 'what it would take' says "
                             "how many tokens the learning curves point to, at 2,048 tokens per step)")
    parser.add_argument("--domains", nargs="+", default=list(LONG_DOMAINS), choices=list(LONG_DOMAINS),
                        help="part (a)'s domains (default: all; a second process on the other core can take one)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), choices=list(SEEDS),
                        help="the seeds, in the order run (default: all; part (b) tunes its rates at seed 0 "
                             "whichever are given)")
    parser.add_argument("--families", nargs="+", default=["transformer", "wavenet"], choices=["transformer", "wavenet"],
                        help="part (b)'s families (default: both; a process per family on its own core each adds "
                             "its units to the one record)")
    parser.add_argument("--threads", type=int, default=1)
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    profile = check_choice("profile", args.profile, ("smoke", "book", "paper"))
    torch.set_num_threads(args.threads)
    device = use_device_argument(args.device)
    print(f"device: {describe(device)}", flush=True)
    if args.measure:
        costs = measure_costs(profile, device)
        print(json.dumps(costs["kinds"], indent=1), flush=True)
        print(json.dumps(plan(profile, costs["kinds"], tuple(args.sizes), args.steps), indent=1), flush=True)
    if "compare" in args.parts:
        compare_long(profile, device, domains=tuple(args.domains), seeds=tuple(args.seeds), steps=args.steps)
    if "context" in args.parts:
        context_long(profile, device, domains=tuple(args.domains), seeds=tuple(args.seeds), steps=args.steps)
    if "scaling" in args.parts:
        scaling_long(profile, device, families=tuple(args.families), sizes=tuple(args.sizes), seeds=tuple(args.seeds))
    if args.progress or args.parts:
        print(json.dumps(progress(profile), indent=1), flush=True)


if __name__ == "__main__":
    main()
