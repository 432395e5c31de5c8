"""How far chapter 3's models are from their trivial baseline, and the budget it would take to clear it.

Claims 3a and 3b are read only where every compared model is above the bigram count table (EVIDENCE rule 5,
:data:`audioformers.evaluation.evidence.BASELINE_RULE`); the issue asks for a clear margin, 3 points of top-5 on every
domain. At the stored budget (300 steps × 2,048 tokens) the transformer is not there, so the verdicts are *not yet
evidence*; this module says what budget the learning curves point to (EVIDENCE rule 11), from each comparison's
held-out top-5 every ``eval_every`` steps:

* **gain per doubling** of training tokens over the curve's last doubling (its last point against the point at half
  its tokens), per seed, with the protocol's t interval over seeds; at that rate, the doublings (and tokens) to
  reach bigram + margin. The rate has been falling (:func:`gap_trend` records the first doubling's too), so this is
  the budget *if the last rate held*: a lower bound where it keeps falling;
* **a power law with a ceiling** fitted to the seeds' mean curve (:func:`audioformers.evaluation.evidence.crossover`
  against the constant target): where it reaches the target, or that it levels off below it.

Both read one cosine schedule whose rate falls to zero at the last point, so the curve's flattening is partly the
schedule's, not the model's: the long study (:mod:`audioformers.ch3.long_study`) measures it directly.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "What we found"; the report's rows 3a and 3b.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from audioformers.core.checks import check_float
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev

#: the margin over the bigram the issue asks for before 3a and 3b are read (top-5, as a fraction)
MARGIN = 0.03


def clears(iv: ev.Interval | None, margin: float = MARGIN) -> bool:
    """Chapter 3's bar for a model − bigram difference in top-5: its interval wholly above zero (the report's rule
    for every trivial baseline, :data:`audioformers.evaluation.evidence.BASELINE_RULE`) and at least ``margin`` on
    average. False without an interval."""
    return iv is not None and ev.above_baseline(iv) and iv.mean >= margin


def _curve(record: dict[str, Any], model: str) -> tuple[list[float], list[float]] | None:
    block = (record.get("metrics") or {}).get(model) or {}
    curve = block.get("curve") or {}
    if block.get("curve_on", "test") != "test" or not curve.get("tokens") or not curve.get("top5"):
        return None  # a curve on validation windows is not comparable with the bigram's test score
    return [float(t) for t in curve["tokens"]], [float(v) for v in curve["top5"]]


def _per_doubling(tokens: list[float], top5: list[float], end: int) -> float | None:
    """Top-5 gained per doubling of tokens from the point nearest half of ``tokens[end]`` to ``tokens[end]``."""
    half = min(range(end), key=lambda i: abs(math.log2(tokens[i] / (tokens[end] / 2))), default=None)
    if half is None or tokens[half] >= tokens[end]:
        return None
    return (top5[end] - top5[half]) / math.log2(tokens[end] / tokens[half])


def gap_trend(records: list[dict[str, Any]], model: str, *, margin: float = MARGIN,
              horizon: float = 1e4) -> dict[str, Any] | None:
    """One domain: ``model``'s held-out top-5 curve against the bigram's top-5 + ``margin``, over the seeds whose
    curve is on test windows. None where fewer than one such seed, or a curve shorter than 3 points."""
    margin = check_float("margin", margin, minimum=0.0)
    horizon = check_float("horizon", horizon, minimum=1.0, strict_minimum=True)
    seeds = [(c, r) for r in records if (c := _curve(r, model)) is not None
             and ((r.get("metrics") or {}).get("bigram") or {}).get("final")]
    if not seeds or any(len(c[0]) < 3 or c[0] != seeds[0][0][0] for c, _ in seeds):
        return None
    tokens = seeds[0][0][0]
    curves = np.array([c[1] for c, _ in seeds])
    bigram = float(np.mean([r["metrics"]["bigram"]["final"]["top5"] for _, r in seeds]))
    target = bigram + margin
    last = float(curves[:, -1].mean())
    out: dict[str, Any] = {"model": model, "seeds": len(seeds), "seeds_in_domain": len(records), "tokens": tokens,
                           "bigram": bigram, "margin": margin, "target": target, "last": last,
                           "gap_now": last - bigram, "reached": last >= target, "x_last": tokens[-1],
                           "long_study": any((r.get("config") or {}).get("study") == "long" for _, r in seeds)}
    gains = [_per_doubling(tokens, list(c), len(tokens) - 1) for c in curves]
    first = [_per_doubling(tokens, list(c), min(range(len(tokens)), key=lambda i: abs(tokens[i] - 2 * tokens[0])))
             for c in curves]
    out["gain_per_doubling"] = float(np.mean(gains))
    out["gain_first_doubling"] = float(np.mean(first))
    if len(gains) >= 2:
        iv = ev.t_interval(gains, what="seeds")
        out["gain_interval"] = [iv.low, iv.high]
    else:
        out["gain_interval"] = None
    need = target - last

    def tokens_at(gain: float) -> float | None:
        if need <= 0:
            return tokens[-1]
        if gain <= 0:
            return None
        doublings = need / gain
        return tokens[-1] * 2.0 ** doublings if doublings <= math.log2(horizon) else None

    out["doublings_needed"] = need / out["gain_per_doubling"] if need > 0 and out["gain_per_doubling"] > 0 else (
        0.0 if need <= 0 else None)
    out["tokens_at_last_rate"] = tokens_at(out["gain_per_doubling"])
    if out["gain_interval"]:  # a faster gain needs fewer tokens: the interval's ends swap
        out["tokens_at_last_rate_interval"] = [tokens_at(out["gain_interval"][1]), tokens_at(out["gain_interval"][0])]
    cross = ev.crossover(tokens, curves.mean(axis=0), tokens, [target] * len(tokens), lower_is_better=False,
                         horizon=horizon)
    fit = ev.fit_power_law(tokens, curves.mean(axis=0))
    out["power_law"] = {"ceiling": fit.floor, "exponent": fit.exponent, "median": cross.median, "low": cross.low,
                        "high": cross.high, "fraction": cross.fraction, "horizon": horizon}
    return out


def _pts(v: float) -> str:
    return f"{100 * v:+.1f} pts"


def _tok(v: float | None) -> str:
    return bg.compact(v) if v is not None else "never at that rate"


def gap_text(domain: str, trend: dict[str, Any]) -> str:
    """One domain's sentence: where the model is against the bigram, and the tokens to bigram + margin by both
    readings (or that it is already there)."""
    who = f"{domain}: {trend['model']} − bigram top-5 {_pts(trend['gap_now'])} at {bg.compact(trend['x_last'])} tokens"
    seeds = (f"{trend['seeds']} seeds" if trend["seeds"] == trend["seeds_in_domain"]
             else f"{trend['seeds']} of {trend['seeds_in_domain']} seeds, the others' curves being on validation windows")
    if trend["reached"]:
        return f"{who}: already {_pts(trend['margin'])} or more above ({seeds})"
    gain = f"{_pts(trend['gain_per_doubling'])} per doubling of tokens over the last doubling"
    if trend.get("gain_interval"):
        lo, hi = trend["gain_interval"]
        gain += f" [{_pts(lo)}, {_pts(hi)}]"
    gain += f", {_pts(trend['gain_first_doubling'])} over the first"
    at = trend["tokens_at_last_rate"]
    rate = (f"at the last rate, {_pts(trend['margin'])} above needs {trend['doublings_needed']:.1f} more doublings, "
            f"about {_tok(at)} tokens" if at is not None else
            f"at the last rate, {_pts(trend['margin'])} above is not reached within "
            f"{trend['power_law']['horizon']:,.0f}× the budget")
    if trend.get("tokens_at_last_rate_interval"):
        lo, hi = trend["tokens_at_last_rate_interval"]
        rate += f" ({_tok(lo)} to {_tok(hi)} over the gain's interval)"
    law = trend["power_law"]
    if law["median"] is not None:
        fitted = (f"a power law with a ceiling fitted to the curve reaches it at about {bg.compact(law['median'])} "
                  f"tokens (90% of refits that do: {bg.compact(law['low'])}–{bg.compact(law['high'])}; "
                  f"{law['fraction']:.0%} do)")
    else:
        fitted = (f"a power law with a ceiling fitted to the curve levels off at {law['ceiling']:.1%} top-5 "
                  f"(target {trend['target']:.1%}) and does not reach it ({law['fraction']:.0%} of refits do)")
    return f"{who} ({seeds}); gaining {gain}; {rate}; {fitted}"


def short_text(key: str, trend: dict[str, Any]) -> str:
    """``'orchestra transformer −3.5 pts, +1.3 pts per doubling (first +3.4) → 18.2M tokens [4.32M, never]; power
    law: levels off at 21.6%'``: one open curve in a report cell."""
    domain, model = key.split("/")
    text = (f"{domain} {model} {_pts(trend['gap_now'])}, {_pts(trend['gain_per_doubling'])} per doubling (first "
            f"{_pts(trend['gain_first_doubling'])}) → {_tok(trend['tokens_at_last_rate'])} tokens")
    if trend.get("tokens_at_last_rate_interval"):
        lo, hi = trend["tokens_at_last_rate_interval"]
        text += f" [{_tok(lo)}, {_tok(hi)}]"
    law = trend["power_law"]
    return text + ("; power law with a ceiling: " + (f"{bg.compact(law['median'])}" if law["median"] is not None
                                                     else f"levels off at {law['ceiling']:.1%}"))


def schedule_caveat(trends: dict[str, dict[str, Any]]) -> str:
    """Why both readings are uncertain, with how many open curves' gain per doubling fell."""
    open_ = [t for t in trends.values() if not t["reached"]]
    falling = sum(t["gain_per_doubling"] < t["gain_first_doubling"] for t in open_)
    measure = ("these are the long study's own curves: a longer run, python -m audioformers.ch3.long_study "
               "--steps N, measures it further" if any(t.get("long_study") for t in open_) else
               "the long study, python -m audioformers.ch3.long_study, measures it at 2,500 steps")
    return ("both readings come from one cosine schedule per seed whose rate falls to zero at the last point, so a "
            f"curve's flattening is partly the schedule's; the gain per doubling fell on {falling} of {len(open_)} "
            f"open curves, and where it keeps falling the last rate gives a lower bound ({measure})")


def budget_needed(trends: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Across (``domain/model``) keys, the largest tokens at the last rate (the budget a claim needs if every curve's
    last rate held) and which key sets it, which keys are out of sight at that rate, and each key's sentence."""
    open_ = {k: t for k, t in trends.items() if not t["reached"]}
    known = {k: t["tokens_at_last_rate"] for k, t in open_.items() if t["tokens_at_last_rate"] is not None}
    worst = max(known, key=known.get) if known else None
    return {"sentences": {k: gap_text(k.split("/")[0], t) for k, t in trends.items()}, "open": sorted(open_),
            "tokens": known[worst] if worst is not None and len(known) == len(open_) else None, "set_by": worst,
            "interval": open_[worst].get("tokens_at_last_rate_interval") if worst is not None else None,
            "out_of_sight": sorted(k for k in open_ if k not in known)}


def budget_text(trends: dict[str, dict[str, Any]], margin: float = MARGIN, paper: bg.PaperData | None = None) -> str:
    """What it would take, in a report cell: the budget at which every compared model's curve, at its last rate, is
    ``margin`` above the bigram on every domain (with its fraction of ``paper``'s data, a chapter's ``claims.PAPER``),
    each open curve in short, and the caveat; or that none is given."""
    if not trends:
        return ("the budget for that is not measured: the comparison's records hold no held-out top-5 learning "
                "curves")
    need = budget_needed(trends)
    if not need["open"]:
        return f"every compared model's curve is already {_pts(margin)} above the bigram on every domain"
    if need["tokens"] is not None:
        lo, hi = need["interval"] or (None, None)
        share = f", {bg.fraction_of_paper(paper, need['tokens'])}" if paper is not None else ""
        head = (f"about {bg.compact(need['tokens'])} training tokens{share} at the last doubling's rate of each held-out "
                f"learning curve (set by {need['set_by'].replace('/', ' ')}"
                + (f"; {_tok(lo)} to {_tok(hi)} over its gain's 95% interval" if need["interval"] else "") + ")")
    else:
        head = ("not in sight at the last doubling's rate of " + ", ".join(k.replace("/", " ")
                                                                            for k in need["out_of_sight"]))
    return (head + " — " + "; ".join(short_text(k, trends[k]) for k in need["open"]) + " — "
            + schedule_caveat(trends))
