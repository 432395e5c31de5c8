"""Chapter 3's scaling study: both families at three sizes, one warm-up / stable / decay run per size giving several
training budgets; held-out bits per sample against training compute (6 x parameters x tokens), a power law with a
floor per family fitted to its compute-efficient frontier (a picture), and the joint law over every run,
L(N, D) = E + A·N^−alpha + B·D^−beta per family (:mod:`audioformers.ch3.joint_fit`, stored as ``joint_fit``: what the
chapter and the report read). ``results/ch3/scaling.<profile>.json`` (read through
:func:`audioformers.ch3.study.load_scaling`).

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "Does the ordering turn with scale?".
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audioformers.ch3 import experiment as ns
from audioformers.ch3 import joint_fit as jf
from audioformers.ch3.scoring import CHAPTER, Setup, held_out_windows, mean_bits, unit_path, validation_windows
from audioformers.core.checks import check_int
from audioformers.core.device import adamw_options, autocast, resolve
from audioformers.core.profiles import pick
from audioformers.core.results import atomic_write_text, load_results, read_cache_json, write_results
from audioformers.core.seeding import seed_everything
from audioformers.evaluation import evidence as ev


SIZES = {  # family -> size -> config overrides (about 60k, 250k, 1M parameters)
    "transformer": {"small": {"width": 32, "num_layers": 3}, "medium": {"width": 64, "num_layers": 4},
                    "large": {"width": 128, "num_layers": 4}},
    "wavenet": {"small": {"wavenet_channels": 20}, "medium": {"wavenet_channels": 46},
                "large": {"wavenet_channels": 92}},
}


def scaling_budgets(profile: str) -> list[int]:
    """Training budgets in optimiser steps (x 2,048 tokens at book: 0.3M to 5.1M tokens)."""
    return pick(smoke=[2, 4, 8], book=[150, 300, 600, 1200, 2500], paper=[1000, 2000, 4000, 8000, 16000],
                profile=profile)


#: Rates the smallest size of each family is tried at for the long runs, as fractions of its rate tuned at the
#: comparison's budget (a rate good for 300 steps can be too high for 2,500: the stable phase then stalls).
SCALING_LR_FRACTIONS = {"smoke": (1.0,), "book": (1.0, 0.25), "paper": (1.0, 0.5, 0.25)}
#: How many times the small size's rate grid is extended by one step past an edge that won (see :func:`next_rate`).
SCALING_LR_EXTENSIONS = {"smoke": 0, "book": 1, "paper": 1}


def next_rate(bits_by_lr: dict[float, float]) -> float | None:
    """The rate to try next when the best rate so far (lowest validation bits) is at an edge of the rates
    tried: one grid step beyond that edge (the spacing of the two rates nearest it); ``None`` when the best
    rate is interior, or fewer than two rates were tried."""
    rates = sorted(bits_by_lr)
    if len(rates) < 2:
        return None
    best = min(rates, key=lambda lr: bits_by_lr[lr])
    if best == rates[0]:
        return rates[0] * rates[0] / rates[1]
    if best == rates[-1]:
        return rates[-1] * rates[-1] / rates[-2]
    return None


def _width(family: str, cfg: ns.ExperimentConfig) -> int:
    return cfg.wavenet_channels if family == "wavenet" else cfg.width


def scaled_lr(lr_small: float, family: str, small: ns.ExperimentConfig, cfg: ns.ExperimentConfig) -> float:
    """The rate for a wider model of a family: ``lr_small x width_small / width`` (Adam's hidden-layer rule in
    muP, Yang et al. 2022), so that only the smallest size is tuned."""
    return lr_small * _width(family, small) / _width(family, cfg)


def wsd_run(name: str, config: ns.ExperimentConfig, budgets: list[int], train: list[np.ndarray],
            windows: torch.Tensor | dict[str, torch.Tensor], lr: float, seed: int = 0,
            decay_fraction: float = 0.2, device: torch.device | str | None = None) -> dict[str, Any]:
    """One warm-up / stable / decay run: for each budget b, a branch of the stable run at 0.8 b decays
    linearly to zero over the last 0.2 b steps and is scored. Returns bits per sample per budget (on
    ``windows``; given a dict of named window sets, ``bits_per_sample`` is on the first and every set is
    under ``bits_by_set``). Trained on ``device`` (``None``: :func:`audioformers.core.device.get_device`)."""
    sets = windows if isinstance(windows, dict) else {"test": windows}
    from audioformers.train import distributed as dd

    device = resolve(device)
    seed_everything(seed)
    model = ns.build_model(name, config).to(device)
    info = dd.current(device)  # under torchrun: each rank trains on its shard of every batch
    dd.prepare(model, info)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, **adamw_options(device))
    rng = np.random.default_rng(seed + 1000)
    length = ns.window_length(config)
    warm = config.warmup_steps

    def step(m: nn.Module, o: torch.optim.Optimizer, lr_now: float, r: np.random.Generator) -> None:
        for g in o.param_groups:
            g["lr"] = lr_now
        batch = torch.from_numpy(ns.sample_windows(train, config.batch_size, length, r)).to(device)
        inputs, targets = ns.model_inputs(m, dd.shard(batch, info) if info.enabled else batch, config)
        with autocast(device):
            logits = m(inputs)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        o.zero_grad(set_to_none=True)
        loss.backward()
        dd.average_gradients(m, info)
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        o.step()

    results: dict[str, dict[int, float]] = {k: {} for k in sets}
    done, start = 0, time.perf_counter()
    model.train()
    for budget in sorted(budgets):
        branch_at = int(round((1 - decay_fraction) * budget))
        while done < branch_at:
            step(model, opt, lr * min(1.0, (done + 1) / max(1, warm)), rng)
            done += 1
        branch, bopt = copy.deepcopy(model), copy.deepcopy(opt)
        brng = copy.deepcopy(rng)
        decay = budget - branch_at
        for i in range(decay):
            step(branch, bopt, lr * (1 - (i + 1) / (decay + 1)), brng)
        for key, w in sets.items():
            results[key][budget] = mean_bits(branch, w, config)
        model.train()
    steps = sorted(budgets)
    by_set = {k: [v[b] for b in steps] for k, v in results.items()}
    return {"steps": steps, "bits_per_sample": by_set[next(iter(sets))], "bits_by_set": by_set, "lr": lr,
            "parameters": model.num_parameters(), "train_seconds": time.perf_counter() - start}


def _cached_wsd(family: str, cfg: ns.ExperimentConfig, budgets: list[int], lr: float, train: list[np.ndarray],
                sets: dict[str, torch.Tensor], device: torch.device) -> dict[str, Any]:
    path = unit_path("scaling", {"family": family, "config": asdict(cfg), "budgets": budgets, "lr": lr,
                                  "sets": sorted(sets), "version": 2})
    meta = path.with_suffix(".json")
    run = read_cache_json(meta)  # None when missing or corrupt (with a notice)
    if run is None:
        run = wsd_run(family, cfg, budgets, train, sets, lr, device=device)
        atomic_write_text(meta, json.dumps(run))
    return run


def _scaling_unit_key(family: str, cfg: ns.ExperimentConfig, budgets: list[int], lr: float,
                      sets: dict[str, torch.Tensor]) -> str:
    payload = {"family": family, "config": asdict(cfg), "budgets": budgets, "lr": lr, "sets": sorted(sets)}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:14]


def scaling_study(setup: Setup, chosen_lr: dict[str, float], families: tuple[str, ...] = ("transformer", "wavenet"),
                  sizes: tuple[str, ...] = ("small", "medium", "large"), resamples: int = 200) -> dict[str, Any]:
    """Each family and size trained once on ``setup.device`` (music); fits per family written after every finished
    unit. ``chosen_lr``: the comparison's tuned rate per family (:mod:`audioformers.ch3.tuning`).

    The smallest size of each family is run at every rate of :data:`SCALING_LR_FRACTIONS` (times its tuned
    comparison rate); the rate with the lowest *validation* bits at the largest budget is kept, and wider
    sizes use :func:`scaled_lr` of it. Test bits are the study's points; validation bits only choose.

    Every finished run is kept in the results file under ``units`` (keyed by family, sizes, budgets and rate),
    so a study interrupted on one machine continues on another from the committed ``results/`` alone.
    """
    profile, config = setup.profile, setup.config
    sets = {"test": torch.from_numpy(held_out_windows(setup)[0]), "validation": torch.from_numpy(validation_windows(setup))}
    budgets = scaling_budgets(profile)
    tokens_per_step = config.batch_size * config.context_length
    units: dict[str, dict[str, Any]] = dict(stored_units(profile))
    runs: dict[str, dict[str, Any]] = {f: {} for f in families}
    lr_tuning: dict[str, dict[str, Any]] = {}

    def unit(family: str, cfg: ns.ExperimentConfig, lr: float) -> dict[str, Any]:
        key = _scaling_unit_key(family, cfg, budgets, lr, sets)
        if key not in units:
            units[key] = {**_cached_wsd(family, cfg, budgets, lr, setup.parts["train"], sets, setup.device),
                          "family": family}
            write_scaling(profile, runs, config, chosen_lr, resamples, lr_tuning, units)
        return dict(units[key])

    ordered = ("small", *[s for s in sizes if s != "small"])  # the smallest size first: it sets the rate
    for size in ordered:  # both families at one size before the next: a partial study is still a comparison
        for family in families:
            small = replace(config, **SIZES[family]["small"]) if profile != "smoke" else config
            cfg = replace(config, **SIZES[family][size]) if profile != "smoke" else config
            if size == "small":
                tried = {}
                for fraction in SCALING_LR_FRACTIONS[profile]:
                    lr = chosen_lr[family] * fraction
                    tried[lr] = unit(family, cfg, lr)
                extended = []
                for _ in range(SCALING_LR_EXTENSIONS[profile]):  # the winner at an edge: one step beyond it
                    lr = next_rate({r: u["bits_by_set"]["validation"][-1] for r, u in tried.items()})
                    if lr is None:
                        break
                    tried[lr] = unit(family, cfg, lr)
                    extended.append(lr)
                bits = {lr: r["bits_by_set"]["validation"][-1] for lr, r in tried.items()}
                best = min(tried, key=lambda lr: bits[lr])
                lr_tuning[family] = {"lr_small": best, "validation_bits_at_largest_budget":
                                     {str(lr): b for lr, b in sorted(bits.items())},
                                     "extended_past_edge": extended,
                                     "edge_of_grid": best in (min(bits), max(bits)),
                                     "rule": "wider sizes: lr_small x width_small / width"}
                run = tried[best]
                if "small" not in sizes:
                    continue
            else:
                run = unit(family, cfg, scaled_lr(lr_tuning[family]["lr_small"], family, small, cfg))
            run["tokens"] = [s * tokens_per_step for s in run["steps"]]
            run["compute"] = [6.0 * run["parameters"] * t for t in run["tokens"]]
            runs[family][size] = run
            write_scaling(profile, runs, config, chosen_lr, resamples, lr_tuning, units)
    return load_results(CHAPTER, "scaling", profile)["metrics"]


def stored_units(profile: str) -> dict[str, dict[str, Any]]:
    """The finished units of the stored scaling record (each keyed by what it was trained from), or none."""
    try:
        return load_results(CHAPTER, "scaling", profile)["metrics"].get("units", {})
    except FileNotFoundError:
        return {}


def fit_family(compute: list[float], bits: list[float], resamples: int = 200) -> dict[str, Any]:
    """Power law with a floor of bits against compute, with a 90% residual-bootstrap interval of each term."""
    resamples = check_int("resamples", resamples, minimum=1)
    fit = ev.fit_power_law(compute, bits)
    boots = ev.bootstrap_trends(compute, bits, resamples=resamples)
    q = lambda attr: [float(v) for v in np.quantile([getattr(b, attr) for b in boots], [0.05, 0.95])]  # noqa: E731
    return {"exponent": fit.exponent, "exponent_interval": q("exponent"), "floor": fit.floor,
            "floor_interval": q("floor"), "scale": fit.scale, "x_ref": fit.x_ref, "points": len(compute)}


def compute_frontier(by_size: dict[str, dict[str, Any]]) -> dict[str, list]:
    """The compute-efficient frontier of a family's runs (the lower envelope, as in Kaplan et al. 2020): at every
    measured compute, the lowest held-out bits of any run at that compute or less, and the size that reached it.

    Evaluated at every measured compute, it is flat where no run improved on a cheaper one: that is what was
    measured (a larger model stopped early is worse than a smaller one run longer for the same compute), and a fit
    must not extrapolate the cheap end's slope past it."""
    points = sorted((c, b, size) for size, r in by_size.items() for c, b in zip(r["compute"], r["bits_per_sample"]))
    out: dict[str, list] = {"compute": [], "bits_per_sample": [], "size": []}
    for c, b, size in points:
        improved = not out["bits_per_sample"] or b < out["bits_per_sample"][-1]
        out["compute"].append(c)
        out["bits_per_sample"].append(b if improved else out["bits_per_sample"][-1])
        out["size"].append(size if improved else out["size"][-1])
    return out


def scaling_metrics(runs: dict[str, dict[str, Any]], chosen_lr: dict[str, float], resamples: int = 200,
                    lr_tuning: dict[str, dict[str, Any]] | None = None,
                    units: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The scaling record's metrics from the finished runs (``runs[family][size]``): per family its
    compute-efficient frontier and the power law fitted to it (every point pooled as ``all_points``), one learning
    curve per family for the report, and the crossover of the two frontiers' fits."""
    metrics: dict[str, Any] = {"families": {}, "sizes_done": {f: list(r) for f, r in runs.items()},
                               "lr_tuning": lr_tuning or {}, "units": units or {}}
    pooled = {}
    for family, by_size in runs.items():
        compute = [c for r in by_size.values() for c in r["compute"]]
        bits = [b for r in by_size.values() for b in r["bits_per_sample"]]
        front = compute_frontier(by_size)
        entry: dict[str, Any] = {"runs": by_size, "chosen_lr": {size: r["lr"] for size, r in by_size.items()},
                                 "comparison_lr": chosen_lr[family], "frontier": front}
        if len(front["compute"]) >= 3:  # the family's scaling law: fitted to its compute-efficient frontier
            entry.update(fit_family(front["compute"], front["bits_per_sample"], resamples))
            entry["fitted_to"] = "compute-efficient frontier"
        if len(compute) >= 3:  # every point pooled, for comparison (undertrained large sizes pull it up)
            entry["all_points"] = fit_family(compute, bits, resamples)
        metrics["families"][family] = entry
        pooled[family] = (front["compute"], front["bits_per_sample"])
        medium = by_size.get("medium") or next(iter(by_size.values()), None)
        if medium:  # the report's reader: one learning curve per family (bits against tokens)
            metrics[family] = {"curve": {"tokens": medium["tokens"], "bits_per_sample": medium["bits_per_sample"]},
                               "train_seconds": medium["train_seconds"], "parameters": medium["parameters"]}
    joint = joint_fits(runs, resamples)
    if joint:
        metrics["joint_fit"] = joint
    t, w = pooled.get("transformer"), pooled.get("wavenet")
    if t and w and len(t[0]) >= 3 and len(w[0]) >= 3:
        cross = ev.crossover(t[0], t[1], w[0], w[1], lower_is_better=True, resamples=resamples)
        metrics["crossover"] = {"text": cross.text("FLOPs of training compute"), "median": cross.median,
                                "low": cross.low, "high": cross.high, "fraction": cross.fraction,
                                "horizon": cross.horizon, "x_last": cross.x_last}
    return metrics


JOINT_FORM = ("L(N, D) = E + A·N^−alpha + B·D^−beta: bits per sample against parameters N and training tokens D, "
              "least squares over every run of the family (each size at each budget once), A, B >= 0; intervals: "
              "90% percentile over a bootstrap of the runs")


def joint_fits(runs: dict[str, dict[str, Any]], resamples: int = 200) -> dict[str, Any]:
    """Per family with at least two sizes, :func:`audioformers.ch3.joint_fit.joint_summary` over every run; with both
    families, ``crossing``: where the transformer at its largest size reaches WaveNet's floor (WaveNet's largest
    size, unlimited tokens) and where its curve falls below WaveNet's (each family at its largest size, the same
    tokens), with texts. Empty where no family can be fitted."""
    resamples = check_int("resamples", resamples, minimum=1)
    out: dict[str, Any] = {}
    for i, family in enumerate(("transformer", "wavenet")):
        by_size = runs.get(family, {})
        n = [float(r["parameters"]) for r in by_size.values() for _ in r["tokens"]]
        d = [float(t) for r in by_size.values() for t in r["tokens"]]
        y = [float(b) for r in by_size.values() for b in r["bits_per_sample"]]
        try:
            out[family] = jf.joint_summary(n, d, y, resamples=resamples, seed=i)
        except ValueError:  # fewer than 2 sizes, 3 budgets or 6 runs (a partial or smoke study): no joint fit
            continue
    if not out:
        return {}
    out["form"] = JOINT_FORM
    if "transformer" in out and "wavenet" in out:
        cross = jf.joint_crossing(out["transformer"], out["wavenet"])
        cross["floor"]["text"] = jf.crossing_text(
            cross["floor"], "the transformer (largest size) reaches WaveNet's floor (its largest size, unlimited "
                            "tokens)", cross["x_last"], cross["horizon"])
        cross["curves"]["text"] = jf.crossing_text(
            cross["curves"], "the transformer's curve falls below WaveNet's (each at its largest size, equal tokens)",
            cross["x_last"], cross["horizon"])
        out["crossing"] = cross
    return out


def joint_lines(joint: dict[str, Any]) -> list[str]:
    """The joint fit as lines: each family's terms with their intervals, and the crossing."""
    def term(entry: dict[str, Any], key: str, digits: int = 2) -> str:
        lo, hi = entry[f"{key}_interval"]
        return f"{key} {entry[key]:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"

    lines = []
    for family in ("transformer", "wavenet"):
        if family in joint:
            e = joint[family]
            lines.append(f"{family:<12} joint fit over {e['runs']} runs: {term(e, 'alpha')}, {term(e, 'beta')}, "
                         f"{term(e, 'E')} bits; floor at its largest size ({e['n_max']:,.0f} parameters) "
                         f"{term(e, 'floor_at_largest_size').split(' ', 1)[1]}; limited by {e['limited_by']}")
    if "crossing" in joint:
        lines += [joint["crossing"]["floor"]["text"], joint["crossing"]["curves"]["text"]]
    return lines


def scaling_config(profile: str, config: ns.ExperimentConfig) -> dict[str, Any]:
    """What a scaling record must have been run with to be read as current (recorded in its results file)."""
    return {**asdict(config), "budgets_steps": scaling_budgets(profile), "sizes": SIZES,
            "schedule": "warm-up, stable, linear decay over the last 20% of each budget",
            "compute": "6 x parameters x training tokens", "seed": 0,
            "fit": "per family, bits = floor + scale x (compute / x_ref)^-exponent on the compute-efficient "
                   "frontier (the best size at each compute); the crossover compares the two frontiers' fits",
            "lr_fractions_tried_at_small": list(SCALING_LR_FRACTIONS[profile]),
            "lr_extensions_past_a_winning_edge": SCALING_LR_EXTENSIONS[profile],
            "machine": "one torch thread on a shared 2-core machine (train_seconds are not benchmarks)"}


def write_scaling(profile: str, runs: dict[str, dict[str, Any]], config: ns.ExperimentConfig,
                  chosen_lr: dict[str, float], resamples: int = 200,
                  lr_tuning: dict[str, dict[str, Any]] | None = None,
                  units: dict[str, dict[str, Any]] | None = None) -> None:
    metrics = scaling_metrics(runs, chosen_lr, resamples, lr_tuning, units)
    write_results(CHAPTER, "scaling", metrics, config=scaling_config(profile, config), profile=profile)


def refit_if_old(stored: dict[str, Any], resamples: int = 200) -> dict[str, Any]:
    """A stored scaling record as current: one written before the frontier fit (a family without ``frontier``) is
    refitted here from its stored runs, in memory, with ``refitted_on_load`` set, so a reader never mixes an old
    record's fits with today's figure; one written before the joint fit gets it (:func:`joint_fits`) the same way.
    The file is left as it was (:func:`add_joint_fit` writes it)."""
    families = stored["metrics"].get("families", {})
    if all("frontier" in f for f in families.values()):
        if "joint_fit" in stored["metrics"] or not families:
            return stored
        joint = joint_fits({family: f.get("runs", {}) for family, f in families.items()}, resamples)
        if not joint:  # too few sizes or budgets for a joint fit (a smoke or partial study): as stored
            return stored
        return {**stored, "metrics": {**stored["metrics"], "joint_fit": joint, "refitted_on_load": True}}
    runs = {family: f.get("runs", {}) for family, f in families.items()}
    chosen = {family: f.get("comparison_lr", float("nan")) for family, f in families.items()}
    metrics = scaling_metrics(runs, chosen, resamples, stored["metrics"].get("lr_tuning"),
                              stored["metrics"].get("units"))
    return {**stored, "metrics": {**metrics, "refitted_on_load": True}}


def add_joint_fit(profile: str, resamples: int = 200) -> dict[str, Any]:
    """Add ``joint_fit`` (:func:`joint_fits`, from the stored runs: nothing is trained) to the stored scaling record
    at ``profile`` and write it with its config, seed, device and wall time unchanged, so that it stays reusable.
    Returns the joint fit."""
    resamples = check_int("resamples", resamples, minimum=1)
    record = load_results(CHAPTER, "scaling", profile)
    families = record["metrics"].get("families", {})
    joint = joint_fits({family: f.get("runs", {}) for family, f in families.items()}, resamples)
    if not joint:
        raise ValueError(f"profile: the stored scaling record at {profile!r} has too few runs for a joint fit")
    metrics = {k: v for k, v in record["metrics"].items() if k != "refitted_on_load"}
    write_results(CHAPTER, "scaling", {**metrics, "joint_fit": joint}, config=record["config"], seed=record.get("seed"),
                  device=record.get("device"), wall_time_s=record.get("wall_time_s"), profile=profile)
    return joint


def scaling_lines(metrics: dict[str, Any]) -> list[str]:
    """What the scaling record says, a line each: the rates tried at the smallest size and the one kept, each
    family's frontier fit (with every point pooled beside it), and the crossover."""
    lines = []
    for family, tuned in metrics.get("lr_tuning", {}).items():
        tried = ", ".join(f"{float(lr):.2g}: {bits:.3f}" for lr, bits in tuned["validation_bits_at_largest_budget"].items())
        extra = (f" (extended past a winning edge: {', '.join(f'{lr:.2g}' for lr in tuned['extended_past_edge'])})"
                 if tuned.get("extended_past_edge") else "")
        edge = ""
        if "edge_of_grid" in tuned:
            edge = ", still at an edge of the rates tried" if tuned["edge_of_grid"] else ", interior"
        lines.append(f"{family}: smallest size tried at {tried} (validation bits at the largest budget){extra} "
                     f"-> {tuned['lr_small']:.2g}{edge}")
    for family, fit in metrics.get("families", {}).items():
        if "exponent" not in fit:
            continue
        lo, hi = fit["exponent_interval"]
        rates = ", ".join(f"{size} {lr:.2g}" for size, lr in fit["chosen_lr"].items())
        pooled = fit.get("all_points", {})
        lines.append(f"{family:<12} frontier: exponent {fit['exponent']:.2f} (90% bootstrap {lo:.2f}–{hi:.2f}), floor "
                     f"{fit['floor']:.2f} bits, from {fit['points']} points; learning rates: {rates}"
                     + (f"; every point pooled instead: exponent {pooled['exponent']:.2f}, floor {pooled['floor']:.2f}"
                        if pooled else ""))
    if "crossover" in metrics:
        lines.append("transformer vs WaveNet (the frontiers' fits, a picture): " + metrics["crossover"]["text"])
    lines += joint_lines(metrics.get("joint_fit", {}))
    return lines


SCALING_COLOURS = {"transformer": "tab:orange", "wavenet": "tab:blue"}


def plot_scaling(metrics: dict[str, Any], ax: Any = None) -> Any:
    """Held-out bits against training compute: each family's sizes (lighter = smaller), its compute-efficient
    frontier (a wide step) and the power law fitted to the frontier (dashed, drawn to 100x its reference compute).
    Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    order = ("small", "medium", "large")
    for family, fit in metrics.get("families", {}).items():
        colour = SCALING_COLOURS.get(family, "tab:gray")
        for size, run in fit.get("runs", {}).items():
            shade = 0.4 + 0.2 * order.index(size) if size in order else 0.6
            ax.plot(run["compute"], run["bits_per_sample"], "o-", color=colour, alpha=shade,
                    label=f"{family} {size} ({run['parameters']:,})")
        if "frontier" in fit:
            ax.step(fit["frontier"]["compute"], fit["frontier"]["bits_per_sample"], where="post", color=colour, lw=4,
                    alpha=0.25, label=f"{family}: compute-efficient frontier")
        if "exponent" in fit:
            law = ev.Trend(fit["floor"], fit["scale"], fit["exponent"], fit["x_ref"])
            x = np.logspace(np.log10(min(fit["frontier"]["compute"])), np.log10(100 * fit["x_ref"]), 100)
            ax.plot(x, law(x), "--", color=colour, label=f"{family}: fit to the frontier")
    ax.set(xscale="log", xlabel="training compute (6 × parameters × tokens, FLOPs)", ylabel="held-out bits per sample",
           title="music: scaling of both families (dashed: power law with a floor fitted to the frontier)")
    ax.legend(fontsize=7)
    return ax
