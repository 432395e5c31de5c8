"""Chapter 3's long study, read (issue #32): what :mod:`audioformers.ch3.long_study` has stored, shown complete or
not, without training anything. Its constants (domains, seeds, sizes, budgets) are defined here so that the claims
(:mod:`audioformers.ch3.claims`) and the study both read them from below.

* part (a), the comparison at 2,500 steps: :func:`stored_comparison`, :func:`plot_comparison`;
* part (a′), the same models given shorter pasts: :func:`stored_context`, :func:`context_gain`;
* part (b), small sizes to 41 M tokens: :func:`stored_units`, :func:`scaling_summary` (its text and plot);
* progress of both: :func:`progress`.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, sections "Trained eight times longer: the comparison at 2,500
steps", "How much of the past does each model use?" and "Does the ordering turn with scale?".
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from audioformers.ch3 import baseline_gap
from audioformers.ch3 import experiment as ns
from audioformers.ch3.scoring import CHAPTER
from audioformers.core.checks import check_choice
from audioformers.core.profiles import pick, validate_profile
from audioformers.core.results import load_results
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev

#: the long comparison's domains (each with at least 8 test recordings) and seeds; the claims read it only once
#: every domain has every seed with all three models (:func:`audioformers.ch3.claims.long_records`)
LONG_DOMAINS = ("speech", "orchestra", "piano-mini")
LONG_SEEDS = (0, 1, 2)
SEEDS = LONG_SEEDS
#: rates tried, as fractions of a model's rate chosen at the short budget (longer runs often want lower rates)
LONG_FRACTIONS = (1.0, 0.5, 0.25)
#: the sizes part (b) trains by default (the joint fit found the transformer limited by tokens, not size, so the
#: small size trained far is the informative run); ``--sizes small medium`` adds the medium size (about twice the
#: small size's cost per step)
SCALING_SIZES = ("small",)
MEASURED_SIZES = ("small", "medium")
#: the domain part (b) trains on (music with 12 test recordings); its bigram count table is part (a)'s
SCALING_DOMAIN = "piano-mini"


def scaling_budgets(profile: str) -> list[int]:
    """Budgets of part (b) in steps (× 2,048 tokens at book: 2.6M to 41M tokens)."""
    return pick(smoke=[4, 8, 12], book=[1250, 2500, 5000, 10000, 20000], paper=[20000, 40000, 80000], profile=profile)


def long_name(domain: str, seed: int) -> str:
    return f"long_compare_{domain}_seed{seed}"


def stored_comparison(profile: str) -> dict[str, list[dict[str, Any]]]:
    """Part (a)'s records on disk, per domain of :data:`LONG_DOMAINS` in seed order: the seeds whose record holds
    all three models (a domain with none is left out). Unlike the claims (:func:`audioformers.ch3.claims.long_records`)
    it shows partial progress; it never trains."""
    profile = validate_profile(profile)
    out: dict[str, list[dict[str, Any]]] = {}
    for domain in LONG_DOMAINS:
        found = []
        for seed in SEEDS:
            try:
                record = load_results(CHAPTER, long_name(domain, seed), profile)
            except FileNotFoundError:
                continue
            if all(m in record.get("metrics", {}) for m in ns.MODEL_NAMES):
                found.append(record)
        if found:
            out[domain] = found
    return out


def plot_comparison(stored: dict[str, list[dict[str, Any]]], margin: float = 0.03, axes: Any = None) -> Any:
    """Held-out top-5 against training tokens per domain of ``stored`` (:func:`stored_comparison`): each model's
    curve averaged over its seeds, the bigram count table's top-5 and the gate ``margin`` above it (the line a
    model must pass before a comparison is read)."""
    import matplotlib.pyplot as plt

    if not stored:
        raise ValueError("stored must hold at least one domain's records, got none")
    if axes is None:
        _, axes = plt.subplots(1, len(stored), figsize=(4 * len(stored), 3), squeeze=False)
        axes = axes[0]
    colours = {"wavenet": "tab:blue", "transformer": "tab:orange", "conditioned": "tab:green"}
    for ax, (domain, records) in zip(axes, stored.items()):
        for model in ns.MODEL_NAMES:
            curves = [r["metrics"][model]["curve"] for r in records]
            length = min(len(c["top5"]) for c in curves)
            mean = np.mean([c["top5"][:length] for c in curves], axis=0)
            ax.plot(curves[0]["tokens"][:length], 100 * mean, "o-", ms=3, color=colours.get(model), label=model)
        bigram = 100 * float(np.mean([r["metrics"]["bigram"]["final"]["top5"] for r in records]))
        ax.axhline(bigram, color="grey", ls=":", label="bigram")
        ax.axhline(bigram + 100 * margin, color="grey", ls="--", lw=0.8, label=f"bigram + {100 * margin:.0f} pts")
        ax.set(title=f"{domain} ({len(records)} seeds)", xlabel="training tokens")
    axes[0].set(ylabel="held-out top-5 (%)")
    axes[0].legend(fontsize=7)
    return axes


def stored_context(profile: str) -> dict[str, Any] | None:
    """Part (a′)'s record on disk (``long_context_use``: per domain, each model's pasts and bits per sample per
    seed), or None where it is not stored; it never trains."""
    profile = validate_profile(profile)
    try:
        return load_results(CHAPTER, "long_context_use", profile)["metrics"]["domains"]
    except FileNotFoundError:
        return None


def context_gain(entry: dict[str, Any], model: str = "transformer", near: int = 63) -> dict[str, Any]:
    """From one domain of ``long_context_use``: ``model``'s bits per sample with the longest past at most ``near``
    and with its whole window, per seed, and the gain (short − long: positive when the longer past helps) with a
    95% t interval over seeds."""
    if model not in entry.get("pasts", {}):
        raise ValueError(f"entry must hold {model!r}'s pasts, and holds {sorted(entry.get('pasts', {}))}")
    pasts, runs = entry["pasts"][model], entry["bits_per_sample"][model]
    if not any(p <= near for p in pasts):
        raise ValueError(f"near must be at least the shortest past {pasts[0]}, got {near}")
    i = max(j for j, p in enumerate(pasts) if p <= near)
    short, long = [r[i] for r in runs], [r[-1] for r in runs]
    gains = [a - b for a, b in zip(short, long)]
    iv = ev.t_interval(gains, what="seeds") if len(gains) >= 2 else None
    return {"short_past": pasts[i], "long_past": pasts[-1], "short_bits": float(np.mean(short)),
            "long_bits": float(np.mean(long)), "gain": float(np.mean(gains)), "interval": iv, "seeds": len(runs)}


def stored_units(profile: str, directory: Path | None = None) -> dict[str, Any]:
    try:
        return load_results(CHAPTER, "long_scaling", profile, directory)["metrics"].get("units", {})
    except FileNotFoundError:
        return {}


def scaling_summary(profile: str, size: str = "small", directory: Path | None = None) -> dict[str, Any] | None:
    """Part (b) as stored (complete or not; it never trains), for ``size``: per family the rates tried at seed 0
    (validation bits at the largest budget where finished), the chosen rate and its seeds' held-out bits per sample
    per budget; and, at every budget where both families have seeds at their chosen rates, transformer − WaveNet in
    bits per sample paired by seed (a t interval over seeds from 2 of them; positive: the transformer is worse), with
    the change per doubling of tokens over the last doubling and, where the gap is closing, the tokens at which that
    rate would close it. None when nothing is stored."""
    profile = validate_profile(profile)
    size = check_choice("size", size, MEASURED_SIZES)
    units = {k: u for k, u in stored_units(profile, directory).items() if u.get("size") == size}
    if not units:
        return None
    try:
        record = load_results(CHAPTER, "long_scaling", profile, directory)
    except FileNotFoundError:
        return None
    budgets = scaling_budgets(profile)
    per_step = record["metrics"].get("tokens_per_step") or 1
    chosen_all = record["metrics"].get("chosen_lr", {})
    out: dict[str, Any] = {"size": size, "budgets_tokens": [b * per_step for b in budgets], "families": {},
                           "units_finished": sum(len(u["budgets"]) == len(budgets) for u in units.values()),
                           "units": len(units)}
    seconds = [u["train_seconds"] for u in units.values()
               if len(u["budgets"]) == len(budgets) and u.get("train_seconds")]
    out["unit_minutes"] = float(np.mean(seconds)) / 60 if seconds else None
    for family in ("transformer", "wavenet"):
        mine = [u for u in units.values() if u["family"] == family]
        rates = {u["lr"]: (u["budgets"].get(str(budgets[-1])) or {}).get("validation", {}).get("bits_per_sample")
                 for u in mine if u["seed"] == 0}
        chosen = chosen_all.get(f"{family}/{size}")
        seeds: dict[int, list[float | None]] = {}
        top5: dict[int, list[float | None]] = {}
        for u in mine:
            if chosen is not None and math.isclose(u["lr"], chosen, rel_tol=1e-9):
                seeds[u["seed"]] = [(u["budgets"].get(str(b)) or {}).get("test", {}).get("bits_per_sample")
                                    for b in budgets]
                top5[u["seed"]] = [(u["budgets"].get(str(b)) or {}).get("test", {}).get("top5") for b in budgets]
        out["families"][family] = {"rates_validation_bits": rates, "chosen_lr": chosen, "test_bits": seeds,
                                   "test_top5": top5, "parameters": mine[0]["parameters"] if mine else None}
    t, w = out["families"]["transformer"]["test_bits"], out["families"]["wavenet"]["test_bits"]
    gaps = []
    for i, tokens in enumerate(out["budgets_tokens"]):
        paired = _paired_by_seed(t, w, i)
        if paired:
            iv = ev.t_interval(paired, what="seeds") if len(paired) >= 2 else None
            gaps.append({"tokens": tokens, "mean": float(np.mean(paired)), "seeds": len(paired), "interval": iv})
    out["gap"] = gaps
    out["top5"] = _top5_gate(out, profile, directory)
    out["trend"] = None
    if len(gaps) >= 2 and math.isclose(gaps[-1]["tokens"], 2 * gaps[-2]["tokens"], rel_tol=1e-6):
        closing = gaps[-2]["mean"] - gaps[-1]["mean"]  # bits per doubling; positive: the gap narrows
        last = gaps[-1]

        def close_at(rate: float) -> float | None:
            return last["tokens"] * 2.0 ** (last["mean"] / rate) if rate > 0 and last["mean"] > 0 else None
        out["trend"] = {"closing_per_doubling": closing, "tokens_to_close": close_at(closing), "interval": None}
        both = [s for s in sorted(set(t) & set(w)) if None not in (t[s][-1], t[s][-2], w[s][-1], w[s][-2])]
        if len(both) >= 2:  # the closing rate per seed (its last two budgets), a t interval over seeds
            rates = [(t[s][-2] - w[s][-2]) - (t[s][-1] - w[s][-1]) for s in both]
            iv = ev.t_interval(rates, what="seeds")
            out["trend"]["interval"] = iv  # a faster closing needs fewer tokens: the ends swap
            out["trend"]["tokens_to_close_interval"] = [close_at(iv.high), close_at(iv.low)]
    return out


def _paired_by_seed(a: dict[int, list[float | None]], b: dict[int, list[float | None]], i: int) -> list[float]:
    """``a − b`` at budget ``i`` for every seed both have scored there."""
    return [a[s][i] - b[s][i] for s in sorted(set(a) & set(b)) if a[s][i] is not None and b[s][i] is not None]


def _bigram_top5(profile: str, directory: Path | None) -> float | None:
    """The bigram count table's held-out top-5 on :data:`SCALING_DOMAIN` from part (a)'s records (it is fitted to
    the training recordings alone, so every seed's is the same; part (b) scores the same test windows)."""
    found = []
    for seed in LONG_SEEDS:
        try:
            record = load_results(CHAPTER, long_name(SCALING_DOMAIN, seed), profile, directory)
        except FileNotFoundError:
            continue
        value = record.get("metrics", {}).get("bigram", {}).get("final", {}).get("top5")
        if value is not None:
            found.append(value)
    return float(np.mean(found)) if found else None


def _top5_gate(summary: dict[str, Any], profile: str, directory: Path | None) -> dict[str, Any] | None:
    """3a's bar read along part (b)'s budgets, in held-out top-5: per budget, each family − the bigram count table
    (whether it clears :func:`baseline_gap.clears`, the bar :func:`audioformers.ch3.claims.clears_bigram` reads) and transformer − WaveNet, t intervals over seeds (from 2 of them). None
    without part (a)'s bigram."""
    bigram = _bigram_top5(profile, directory)
    if bigram is None:
        return None
    fams = summary["families"]
    rows = []
    for i, tokens in enumerate(summary["budgets_tokens"]):
        row: dict[str, Any] = {"tokens": tokens}
        for family, f in fams.items():
            values = [v[i] - bigram for v in f["test_top5"].values() if v[i] is not None]
            iv = ev.t_interval(values, what="seeds") if len(values) >= 2 else None
            row[family] = {"mean": float(np.mean(values)) if values else None, "interval": iv,
                           "clears": baseline_gap.clears(iv)}
        paired = _paired_by_seed(fams["transformer"]["test_top5"], fams["wavenet"]["test_top5"], i)
        row["difference"] = {"mean": float(np.mean(paired)) if paired else None,
                             "interval": ev.t_interval(paired, what="seeds") if len(paired) >= 2 else None}
        rows.append(row)
    first = next((r["tokens"] for r in rows if all(r[f]["clears"] for f in fams)), None)
    return {"bigram": bigram, "budgets": rows, "first_clearing_tokens": first}


def _top5_text(gate: dict[str, Any] | None, paper: bg.PaperData | None = None) -> str:
    if gate is None or not gate["budgets"]:
        return ""
    last = gate["budgets"][-1]
    rel = last["transformer"]
    if rel["mean"] is None:
        return ""
    bar = f"{100 * baseline_gap.MARGIN:.0f} points"
    text = (f". In top-5 (the bar 3a is read by: every compared model {bar} above the bigram count table's "
            f"{100 * gate['bigram']:.1f}%), the transformer − bigram went "
            + ", ".join(f"{100 * r['transformer']['mean']:+.1f}" for r in gate["budgets"] if r["transformer"]["mean"]
                        is not None) + " pts")
    if gate["first_clearing_tokens"] is None:
        return text + ": at no budget do both families clear it"
    text += f"; both families clear it from {bg.compact(gate['first_clearing_tokens'])} tokens"
    diff = last["difference"]
    if diff["interval"] is not None and last["transformer"]["clears"] and last["wavenet"]["clears"]:
        budget = f"{bg.compact(last['tokens'])} tokens"
        word = ev.at_budget(ev.verdict(diff["interval"], claimed="higher"), budget,
                            bg.fraction_of_paper(paper, last["tokens"]) if paper is not None else "")
        text += (f"; at {budget} transformer − bigram = {rel['interval'].text(scale=100, digits=1, unit=' pts')} "
                 f"and transformer − WaveNet = {diff['interval'].text(scale=100, digits=1, unit=' pts')}: the "
                 f"paper's ordering on {SCALING_DOMAIN} at this size, read where both clear the bar, is {word}")
    return text


def scaling_complete(summary: dict[str, Any] | None) -> bool:
    """Whether part (b) is finished for the summary's size: both families' rates chosen and every seed of
    :data:`LONG_SEEDS` scored at every budget (then the report reads it)."""
    if summary is None:
        return False
    return all(f["chosen_lr"] is not None and sorted(f["test_bits"]) == list(LONG_SEEDS)
               and all(b is not None for bits in f["test_bits"].values() for b in bits)
               for f in summary["families"].values())


def scaling_summary_text(summary: dict[str, Any] | None, paper: bg.PaperData | None = None) -> str:
    """One paragraph of :func:`scaling_summary` in words, with how much of part (b) it stands on; with ``paper``
    (the paper's data, :data:`audioformers.ch3.claims.PAPER`) a verdict it reads states its fraction of it."""
    if summary is None:
        return ("part (b) is not stored at this profile: python -m audioformers.ch3.long_study --profile book "
                "--parts scaling")
    fam = summary["families"]
    parts = [f"{summary['units_finished']} of {summary['units']} started units finished"
             + (f" (about {summary['unit_minutes']:.0f} min of wall time each, on a shared machine)"
                if summary.get("unit_minutes") else "")]
    for family, f in fam.items():
        rate = f"rate {f['chosen_lr']:g} (tuned at seed 0)" if f["chosen_lr"] is not None else "rate not yet tuned"
        n = len(f["test_bits"])
        parts.append(f"{family} ({f['parameters']:,} parameters): {rate}, {n} seed{'' if n == 1 else 's'} at it"
                     if f["parameters"] else f"{family}: no unit yet")
    text = "; ".join(parts)
    if summary["gap"]:
        last = summary["gap"][-1]
        iv = last["interval"]
        text += (f". At {bg.compact(last['tokens'])} tokens transformer − WaveNet = {last['mean']:+.3f} bits per "
                 "sample"
                 + (f" [{iv.low:+.3f}, {iv.high:+.3f}] (95% t interval over {last['seeds']} seeds)" if iv is not None
                    else " (1 seed)"))
        if len(summary["gap"]) > 1:
            widest = max(summary["gap"], key=lambda g: g["mean"])
            text += ("; along the budgets it went " + ", ".join(f"{g['mean']:+.3f}" for g in summary["gap"])
                     + f" (widest at {bg.compact(widest['tokens'])} tokens)")
        trend = summary["trend"]
        if trend is not None:
            c, iv = trend["closing_per_doubling"], trend["interval"]
            text += (f"; over the last doubling of tokens the gap {'narrowed' if c > 0 else 'did not narrow'} by "
                     f"{abs(c):.3f} bits" + (f" (closing per doubling {iv.mean:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}] "
                                             f"over {iv.seeds} seeds)" if iv is not None else ""))
            if trend["tokens_to_close"] is not None:
                text += f", a rate that would close it at about {bg.compact(trend['tokens_to_close'])} tokens"
                if iv is not None:
                    lo, hi = trend["tokens_to_close_interval"]
                    text += (f" [{bg.compact(lo) if lo else 'never at that rate'}, "
                             f"{bg.compact(hi) if hi else 'never at that rate'}]")
    return text + _top5_text(summary.get("top5"), paper) + "."


def plot_scaling_long(summary: dict[str, Any], ax: Any = None, metric: str = "bits") -> Any:
    """Held-out ``metric`` ("bits": bits per sample, or "top5": top-5 accuracy in %, with the bigram count table and
    the 3-point bar above it where part (a) stored it) against training tokens: each family's chosen rate (mean over
    its seeds, a line per seed faint) from :func:`scaling_summary`."""
    import matplotlib.pyplot as plt

    if summary is None:
        raise ValueError("summary must be a scaling_summary, got None (part (b) is not stored)")
    metric = check_choice("metric", metric, ("bits", "top5"))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    tokens = np.asarray(summary["budgets_tokens"], dtype=float)
    key, scale = ("test_bits", 1.0) if metric == "bits" else ("test_top5", 100.0)
    for family, colour in (("transformer", "tab:orange"), ("wavenet", "tab:blue")):
        runs = summary["families"][family][key]
        for values in runs.values():
            y = scale * np.array([np.nan if b is None else b for b in values], dtype=float)
            ax.plot(tokens, y, "-", color=colour, alpha=0.3, lw=0.8)
        if runs:
            y = scale * np.nanmean(np.array([[np.nan if b is None else b for b in v] for v in runs.values()],
                                            dtype=float), axis=0)
            ax.plot(tokens, y, "o-", color=colour, ms=4, label=f"{family} {summary['size']} ({len(runs)} seeds)")
    gate = summary.get("top5")
    if metric == "top5" and gate is not None:
        ax.axhline(100 * gate["bigram"], color="grey", ls=":", label="bigram")
        ax.axhline(100 * (gate["bigram"] + baseline_gap.MARGIN), color="grey", ls="--", lw=0.8,
                   label=f"bigram + {100 * baseline_gap.MARGIN:.0f} pts")
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(tokens, [bg.compact(t) for t in tokens])  # the budgets, named: no crowded minor labels
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="training tokens",
           ylabel="held-out bits per sample" if metric == "bits" else "held-out top-5 (%)",
           title=f"{SCALING_DOMAIN}, {summary['size']} size, each budget its own decayed run")
    ax.legend(fontsize=8)
    return ax


def progress(profile: str) -> dict[str, str]:
    """Units done per part, in words: ``{'compare': '7 of 27 comparison units', ...}``."""
    profile = validate_profile(profile)
    done = 0
    for domain in LONG_DOMAINS:
        for seed in SEEDS:
            try:
                metrics = load_results(CHAPTER, long_name(domain, seed), profile)["metrics"]
            except FileNotFoundError:
                continue
            done += sum(m in metrics for m in ns.MODEL_NAMES)
    total = len(LONG_DOMAINS) * len(SEEDS) * len(ns.MODEL_NAMES)
    units = stored_units(profile)
    budgets = len(scaling_budgets(profile))
    finished = sum(len(u["budgets"]) == budgets for u in units.values())
    return {"compare": f"{done} of {total} comparison units (model × domain × seed)",
            "scaling": f"{finished} scaling units finished (family × size × seed × rate; at least "
                       f"{len(SCALING_SIZES) * 2 * (len(LONG_FRACTIONS) + len(SEEDS) - 1)} in all at the default "
                       "sizes)"}
