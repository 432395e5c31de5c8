"""Chapter 3's "What we found": the chapter's findings in plain sentences, with their budgets and intervals,
generated from ``results/ch3`` so that the text cannot drift from the records.

The verdicts are the report's own (:data:`audioformers.ch3.claims.CLAIMS`, the functions the report calls), and so
is the crossover (:func:`audioformers.ch3.claims.ch3_crossover`); the other intervals (each model against the
bigram count table) use the report's protocol, :func:`audioformers.evaluation.evidence.compare` over seeds and test
recordings.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "What we found".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from audioformers.ch3 import baseline_gap, claims, long_results
from audioformers.core.profiles import validate_profile
from audioformers.core.results import results_dir
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev
from audioformers.evaluation.claims import dig, load, paired

#: the comparison's domains in the order the text names them
DOMAINS = ("music", "speech", "orchestra", "piano-mini")
#: the table's rows: name in results/ -> what the text calls it
ROWS = {"wavenet": "WaveNet", "transformer": "transformer", "conditioned": "conditioned transformer",
        "bigram": "bigram count table", "linear": "linear predictor"}


def _records(profile: str, directory: Path, domain: str) -> list[dict[str, Any]]:
    return claims._ch3_records(profile, directory, domain)  # the long study's once complete, as the report reads


def _top5(records: list[dict[str, Any]], a: str, b: str) -> ev.Comparison:
    """``a − b`` in top-5 accuracy over (seeds, test recordings), as the report pairs them."""
    x, y, _ = paired([r["metrics"][a] for r in records], [r["metrics"][b] for r in records], "top5",
                     lambda block: block["final"]["top5"])
    return ev.compare(x, y, names=(a, b))


def findings(profile: str, directory: Path | None = None) -> dict[str, Any]:
    """The numbers the text states (structured, for the text and its tests): the report's verdicts of claims
    3a-3d at their budgets, per domain the table's means and the paired top-5 differences, the context-use
    measurement and the crossover."""
    profile, directory = validate_profile(profile), directory or results_dir()
    out: dict[str, Any] = {"claims": {}, "domains": {}}
    for claim in claims.CLAIMS:
        measured = claim.measure(profile, directory)
        out["claims"][claim.key] = {"statement": claim.statement, "verdict": measured.verdict,
                                    "at_budget": measured.budget.words(measured.verdict) if measured.budget
                                    else measured.verdict, "text": measured.text}
    for domain in DOMAINS:
        records = _records(profile, directory, domain)
        if len(records) < 2:
            continue
        cfg = records[0].get("config", {})
        row: dict[str, Any] = {"seeds": len(records), "test_recordings": cfg.get("test_recordings"),
                               "steps": cfg.get("steps"), "tokens": dig(records[0], "metrics.transformer.curve.tokens"),
                               "top5": {}, "bits_per_sample": {}}
        for name in ROWS:
            if all(dig(r, f"metrics.{name}.final.top5") is not None for r in records):
                for metric in ("top5", "bits_per_sample"):
                    row[metric][name] = float(np.mean([r["metrics"][name]["final"][metric] for r in records]))
        for a, b in (("transformer", "wavenet"), ("transformer", "bigram"), ("wavenet", "bigram"),
                     ("conditioned", "transformer")):
            row[f"{a} - {b}"] = _top5(records, a, b)
        out["domains"][domain] = row
    first = next(iter(out["domains"].values()), None)
    if first is not None:
        record = _records(profile, directory, next(iter(out["domains"])))[0]
        out["budget"] = claims.chapter_budget(record)
        out["steps"], out["batch_size"], out["context_length"] = (record["config"].get(k) for k in
                                                                  ("steps", "batch_size", "context_length"))
        out["past_length"] = record["config"].get("past_length")
    context = load(directory, "ch3", "context_use", profile)
    if context:
        use = context["metrics"]["context_use"]
        pasts, bits = use["pasts"]["transformer"], use["bits_per_sample"]["transformer"]
        near = max(i for i, p in enumerate(pasts) if p <= 63)
        out["context"] = {"short_past": pasts[near], "short_bits": bits[near], "long_past": pasts[-1],
                          "long_bits": bits[-1], "steps": dig(context, "config.steps")}
    long_context = load(directory, "ch3", "long_context_use", profile)
    if long_context and claims.long_records(profile, directory) is not None:  # read with the long comparison only
        out["long_context"] = {d: long_results.context_gain(e)
                               for d, e in long_context["metrics"]["domains"].items() if d in out["domains"]}
    trends = {f"{d}/transformer": t for d in out["domains"]
              if (t := baseline_gap.gap_trend(_records(profile, directory, d), "transformer")) is not None}
    if trends:
        out["to_bigram"] = {"trends": trends, "need": baseline_gap.budget_needed(trends),
                            "caveat": baseline_gap.schedule_caveat(trends)}
    found = claims.ch3_crossover(profile, directory)
    if found is not None:
        out["crossover"] = {"text": found[1].text("training tokens"), "crossover": found[1],
                            "study": found[0]["record"].get("name"), "joint": found[0].get("joint"),
                            "parameters": dig(found[0]["record"], "metrics.transformer.parameters") or 0}
    return out


def _pts(comp: ev.Comparison) -> str:
    """``-8.5 points [-9.1, -7.8]`` from a comparison of accuracies."""
    iv = comp.interval
    return f"{100 * iv.mean:+.1f} points [{100 * iv.low:+.1f}, {100 * iv.high:+.1f}]"


def _bigram_gate(d: dict[str, Any], below: list[str], at_budget: str) -> str:
    """3a's reading in words: where the transformer does not clear the bigram (:func:`audioformers.ch3.claims.
    clears_bigram`), where both models do (and what the
    comparison says there), and the report's verdict over all domains."""
    if not below:
        return (f"The transformer is at least {100 * baseline_gap.MARGIN:.0f} points of top-5 above the bigram count "
                f"table on every domain, so the comparison is read everywhere: claim 3a is *{at_budget}*.")
    margin = f"{100 * baseline_gap.MARGIN:.0f} points"
    read = [n for n in d if n not in below and claims.clears_bigram(d[n]["wavenet - bigram"])]
    text = (f"But the transformer is not yet {margin} of top-5 above the bigram count table on {', '.join(below)} "
            "(transformer minus bigram: " + "; ".join(f"{n} {_pts(d[n]['transformer - bigram'])}" for n in below)
            + "): there it has learned little more than a table of which code follows which, or less. ")
    if read:
        text += (f"Where both models clear the bigram by {margin} (" + ", ".join(read) + "), the comparison is read: "
                 + "; ".join(f"{n} *{d[n]['transformer - wavenet'].verdict}*" for n in read) + ". ")
    return (text + f"Over all domains the report reads claim 3a as *{at_budget}*: the paper's ordering is not tested "
            "on a domain until both models beat the trivial baseline there.")


def _below_linear(d: dict[str, Any]) -> str:
    """Where the transformer's mean top-5 is below the linear predictor's: a sentence naming them, else ''."""
    lower = [n for n, r in d.items() if "linear" in r["top5"] and r["top5"].get("transformer", 1.0) < r["top5"]["linear"]]
    if not lower:
        return ""
    return (" It is also below the linear predictor on " + ", ".join(
        f"{n} (top-5 {d[n]['top5']['transformer']:.1%} against {d[n]['top5']['linear']:.1%})" for n in lower)
        + ": a least-squares guess of the next amplitude from the previous ones still does better there.")


def findings_markdown(profile: str, directory: Path | None = None) -> str:
    """The section "What we found" as Markdown: a few paragraphs a student can repeat, every number from
    ``results/ch3`` (intervals: the report's 95% intervals over seeds and test recordings)."""
    f = findings(profile, directory)
    if not f["domains"]:
        return (f"The comparison has not been run at the `{validate_profile(profile)}` profile: "
                f"`python -m audioformers.ch3.study --profile {validate_profile(profile)}` runs it.")
    d, c = f["domains"], f["claims"]
    seeds = min(r["seeds"] for r in d.values())
    tokens = int(next(iter(d.values()))["tokens"][-1])
    paras = [f"**The budget.** Every model was trained for {f['steps']:,} steps of {f['batch_size']} windows of "
             f"{f['context_length']} samples: {tokens:,} training tokens, {f['budget'].line()}. Each comparison "
             f"is over {seeds} seeds and the test recordings of its domain ("
             + ", ".join(f"{n}: {r['test_recordings']}" for n, r in d.items())
             + "); an interval in brackets is the report's 95% interval over both."]
    gaps = "; ".join(f"{n} {_pts(r['transformer - wavenet'])}" for n, r in d.items())
    below = [n for n, r in d.items() if not claims.clears_bigram(r["transformer - bigram"])]
    ahead = {n: r["transformer - wavenet"].interval for n, r in d.items()}
    wavenet_ahead = [n for n, iv in ahead.items() if iv.high < 0]
    if len(wavenet_ahead) == len(d):
        order = "WaveNet predicts the next sample better than the transformer on every domain"
    else:
        rest = [n for n in d if n not in wavenet_ahead]
        order = ((f"WaveNet predicts the next sample better than the transformer on {', '.join(wavenet_ahead)}; on "
                  if wavenet_ahead else "WaveNet is not ahead of the transformer on any domain; on ")
                 + ", ".join(f"{n} the transformer is " + ("ahead" if ahead[n].low > 0 else "level within the interval")
                             for n in rest))
    paras.append(
        f"**Transformer against WaveNet (3a).** At this budget {order}. Top-5 accuracy, transformer minus WaveNet: "
        f"{gaps}. " + _bigram_gate(d, below, c["3a"]["at_budget"]) + _below_linear(d))
    cond = [r["conditioned - transformer"] for r in d.values()]
    zero = all(x.interval.low <= 0 <= x.interval.high for x in cond)
    paras.append(
        f"**Conditioning on a wider past (3b).** The CNN that summarises the {f['past_length']:,} samples before the "
        f"window changes top-5 accuracy by between {min(100 * x.interval.mean for x in cond):+.1f} and "
        f"{max(100 * x.interval.mean for x in cond):+.1f} points across domains"
        + (", and every interval contains zero" if zero else "")
        + " (its projection starts at zero, so it starts as the plain transformer). Claim 3b: "
        f"*{c['3b']['at_budget']}*.")
    if "long_context" in f:
        lc = f["long_context"]
        helps = [n for n, g in lc.items() if g["interval"] is not None and g["interval"].low > 0]
        x = next(iter(lc.values()))
        paras.append(
            f"**How much past is used.** Each domain's transformer at this budget, given only the last "
            f"{x['short_past']} samples before a scored position and then its whole window of {x['long_past']} "
            "(bits per sample, short past − whole window: positive when the longer past helps; 95% interval over "
            f"{x['seeds']} seeds): " + "; ".join(
                f"{n} {g['short_bits']:.3f} → {g['long_bits']:.3f} bits, {g['gain']:+.3f}"
                + (f" [{g['interval'].low:+.3f}, {g['interval'].high:+.3f}]" if g["interval"] is not None else "")
                for n, g in lc.items()) + ". "
            + ("The longer past helps it on every domain: it has learned to use its attention window."
               if len(helps) == len(lc) else
               (f"The longer past helps it on {', '.join(helps)} only." if helps else
                "The longer past does not help it on any domain: it has not learned to use its attention window, "
                "which is why a still wider past (3b) cannot show anything at this budget.")))
    if "context" in f:
        x = f["context"]
        earlier = x["steps"] != f["steps"]  # measured on a model of another budget than the comparison read
        paras.append(
            (("" if "long_context" in f else "**How much past is used.** ")
             + f"At the comparison's {x['steps']:,} steps, given" if earlier else
             "**How much past is used.** Given")
            + f" only the last {x['short_past']} samples the transformer scores "
            f"{x['short_bits']:.3f} bits per sample on music, given {x['long_past']} it scores {x['long_bits']:.3f}"
            + ((": more past did not help it then." if earlier else
                ": more past does not help it yet. It has not learned to use its attention window, which is why a "
                "still wider past (3b) cannot show anything at this budget.")
               if x["long_bits"] >= x["short_bits"] else ": the longer past helps it."))
    if "to_bigram" in f:
        need, margin = f["to_bigram"]["need"], 100 * baseline_gap.MARGIN
        if need["open"]:
            head = (f"about {bg.compact(need['tokens'])} training tokens, set by {need['set_by'].split('/')[0]}"
                    if need["tokens"] is not None else
                    "a budget not in sight at the last rate on " + ", ".join(k.split("/")[0]
                                                                             for k in need["out_of_sight"]))
            paras.append(
                f"**What it would take.** The bar for reading 3a and 3b is every compared model {margin:.0f} points "
                f"of top-5 above the bigram table on every domain. The transformer's held-out learning curves say "
                f"{head}, if each curve kept the rate it gained over its last doubling of tokens (per domain: "
                "transformer − bigram now, its gain per doubling over the last and the first doubling, the tokens to +3 points at the "
                "last rate [over that rate's 95% interval], and where a power law with a ceiling fitted to the "
                "curve gets there): " + "; ".join(baseline_gap.short_text(k, f["to_bigram"]["trends"][k])
                                                   for k in need["open"]) + f". But {f['to_bigram']['caveat']}.")
    if "crossover" in f and f["crossover"].get("joint"):
        joint = f["crossover"]["joint"]
        t, w = joint["transformer"], joint["wavenet"]

        def iv(e: dict, key: str) -> str:
            return f"{e[key]:.2f} [{e[f'{key}_interval'][0]:.2f}, {e[f'{key}_interval'][1]:.2f}]"

        paras.append(
            f"**Where the curves could cross.** The scaling study (music, one seed) trained each family at "
            f"{len(t['sizes'])} sizes to {len(t['budgets_tokens'])} budgets, up to {bg.compact(t['d_max'])} tokens. "
            "Fitting every run at once as $L(N, D) = E + A N^{-\\alpha} + B D^{-\\beta}$ (brackets: 90% over a "
            f"bootstrap of the runs), the transformer has size exponent alpha {iv(t, 'alpha')} and token exponent "
            f"beta {iv(t, 'beta')}: at these sizes it is limited by {t['limited_by'].split(' (')[0]}; WaveNet has alpha {iv(w, 'alpha')}, beta {iv(w, 'beta')} and a floor of {iv(w, 'E')} bits per "
            f"sample. Extrapolating: {f['crossover']['text']}; {joint['crossing']['floor']['text']}. That is an "
            f"extrapolation from one seed and {t['runs']} runs per family, not a measurement.")
    elif "crossover" in f:
        paras.append(
            f"**Where the curves could cross.** Fitting a power law with a floor to each family's learning curve "
            f"against training tokens in the scaling study ({f['crossover']['parameters']:,}-parameter transformer, "
            f"music, one seed) and extrapolating: {f['crossover']['text']}. That is an extrapolation from one seed, "
            "not a measurement.")
    measured = long_results.scaling_summary(validate_profile(profile), directory=directory or results_dir())
    if long_results.scaling_complete(measured):
        paras.append("**Measured further.** The long study's part (b) trained the small size of both families on "
                     f"piano-mini to {bg.compact(measured['budgets_tokens'][-1])} tokens, each budget its own decayed "
                     "run, at rates tuned per family, 3 seeds: " + long_results.scaling_summary_text(measured, claims.PAPER))
    cost = c.get("3d")
    if cost and cost["verdict"] != ev.NOT_YET_RUN:
        paras.append(f"**The cost of attention (3d).** {cost['text'].split(';')[0]} against context length n: "
                     f"*{cost['at_budget']}*.")
    return "\n\n".join(paras)


def findings_table(profile: str, directory: Path | None = None) -> str:
    """The evidence table: per domain, mean held-out top-5 accuracy and bits per sample of the three models and
    the two baselines over seeds, as Markdown."""
    f = findings(profile, directory)
    if not f["domains"]:
        return "(no comparison in results/ at this profile)"
    head = "| | " + " | ".join(f"{n} top-5 | {n} bits" for n in f["domains"]) + " |"
    rule = "|---|" + "---:|---:|" * len(f["domains"])
    rows = [f"| {label} | " + " | ".join(
        f"{r['top5'][name]:.1%} | {r['bits_per_sample'][name]:.3f}" if name in r["top5"] else "– | –"
        for r in f["domains"].values()) + " |" for name, label in ROWS.items()]
    return "\n".join([head, rule, *rows])


def plot_findings(profile: str, ax: Any = None, directory: Path | None = None) -> Any:
    """The evidence figure: per domain, top-5 transformer − WaveNet and transformer − bigram with their 95%
    intervals (points), against zero. Returns the axes."""
    import matplotlib.pyplot as plt

    f = findings(profile, directory)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    pairs = (("transformer - wavenet", "transformer − WaveNet", "tab:blue"),
             ("transformer - bigram", "transformer − bigram", "tab:gray"))
    for j, (key, label, colour) in enumerate(pairs):
        for i, row in enumerate(f["domains"].values()):
            iv = row[key].interval
            y = i + 0.15 * (1 - 2 * j)
            ax.errorbar(100 * iv.mean, y, xerr=[[100 * (iv.mean - iv.low)], [100 * (iv.high - iv.mean)]], fmt="o",
                        color=colour, capsize=3, label=label if i == 0 else None)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(f["domains"])), [claims.ch3_domain_title(n) for n in f["domains"]])
    ax.invert_yaxis()
    budget = f["budget"].text if "budget" in f else ""
    ax.set(xlabel="top-5 accuracy difference (points; 95% interval)",
           title=f"Transformer against WaveNet and the bigram table at {budget}")
    ax.legend(fontsize=8, loc="lower left")
    return ax
