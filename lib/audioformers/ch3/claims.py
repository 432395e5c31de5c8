"""Chapter 3's claims for the reproduction report (WaveNet vs transformer, Verma & Chafe 2021), and the series
and figures the report's page draws from the same results files.

Per-test-source results are read as ``metrics[<model>]["per_source"][<metric>] = {<recording>: value}`` in each
``compare_<domain>_seed<N>`` file (and ``test_recordings``, the count, in ``metrics`` or ``config``); without them
the interval covers seeds only and the row says ``test sources: 1``. Claim 3a's "what it would take" reads the
chapter's study (``study*``/``scaling*``): fitted power laws and their extrapolated crossover.

The framework (:class:`~audioformers.evaluation.claims.Claim`, the loaders) is :mod:`audioformers.evaluation.claims`.
Notebooks: ``chapters/03_wavenet_vs_transformer.ipynb`` (its verdicts), ``chapters/R_reproduction_report.ipynb``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from audioformers.ch3 import baseline_gap
from audioformers.ch3 import long_results
from audioformers.ch3.long_results import LONG_DOMAINS, LONG_SEEDS  # the long study's (part a), read when complete
from audioformers.core.checks import check_choice, check_int
from audioformers.core.profiles import validate_profile
from audioformers.core.results import results_dir
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev
from audioformers.evaluation.claims import (LECTURE, SECONDARY, Claim, Measured, Published, Series, dig, load,
                                            load_glob, mean_std, missing, paired, provenance, seeds_needed,
                                            sources_note)

_GEN = "verma2021generative"

#: The paper's training data, in the unit this chapter's budget counts (EVIDENCE rule 9).
PAPER = bg.PaperData("Verma & Chafe 2021", 56 * 3600 * 16_000, "tokens", "about 56 h of piano at 16 kHz (3.2e9 samples, one epoch)", "secondary", "third-party summary of Verma & Chafe 2021, not checked against the paper")


def chapter_budget(record: dict[str, Any], model: str = "transformer") -> bg.Budget | None:
    """Chapter 3's comparison: the training tokens one model saw (its curve's last point, else steps × batch ×
    context), as a fraction of the paper's 56 h."""
    tokens = (((record.get("metrics") or {}).get(model) or {}).get("curve") or {}).get("tokens")
    cfg = record.get("config") or {}
    last = bg.number(tokens[-1]) if isinstance(tokens, list) and tokens else None
    if last is None:
        parts = [bg.number(cfg.get(k)) for k in ("steps", "batch_size", "context_length")]
        last = parts[0] * parts[1] * parts[2] if all(p is not None for p in parts) else None
    if not last:
        return None
    steps = bg.number(cfg.get("steps"))
    text = f"{bg.compact(last)} tokens" + (f" ({steps:,.0f} steps)" if steps else "")
    return bg.Budget(text, bg.fraction_of_paper(PAPER, last))


PUBLISHED: tuple[Published, ...] = (
    Published("3a", "up to +9%", "paper", "Verma & Chafe 2021", _GEN,
              "next-sample accuracy, causal transformer vs a stacked WaveNet, 16 kHz 8-bit piano"),
    Published("3b", "+2%", "paper", "Verma & Chafe 2021", _GEN, "conditioning on a wider past, same setting"),
    Published("3c-wavenet", "74%", "secondary", SECONDARY.format("Verma & Chafe 2021"), _GEN,
              "top-5 of 256, WaveNet 10 layers; about 56 h of piano at 16 kHz, 100 ms context", 0.74),
    Published("3c-transformer", "80%", "secondary", SECONDARY.format("Verma & Chafe 2021"), _GEN,
              "top-5 of 256, transformer 3 layers; same data", 0.80),
    Published("3c-conditioned", "82%", "secondary", SECONDARY.format("Verma & Chafe 2021"), _GEN,
              "top-5 of 256, conditioned 3-layer transformer; same data", 0.82),
    Published("3d", "n² (1,600 × 1,600 per layer)", "lecture", LECTURE, None,
              "100 ms at 16 kHz = 1,600 samples of context"),
)
PUBLISHED_BY_KEY = {p.key: p for p in PUBLISHED}

#: Published numbers drawn beside ours on the page's chapter-3 figure: label -> key.
FIGURE_PUBLISHED = {"wavenet": "3c-wavenet", "transformer": "3c-transformer", "conditioned": "3c-conditioned"}

METRICS = ("top1", "top5", "bits_per_sample")  # what each model's "final" block records

DOMAINS = ("music", "speech", "orchestra", "piano-mini", "piano")


def _sample_rates() -> dict[str, int]:
    """The experiment's sample rate per domain (imported when a row needs it: the experiment imports torch)."""
    import warnings

    with warnings.catch_warnings():  # the training loop's progress bar warns about widgets on import
        warnings.simplefilter("ignore")
        from audioformers.ch3.experiment import DOMAIN_SAMPLE_RATES
    return DOMAIN_SAMPLE_RATES


MODELS = ("wavenet", "transformer", "conditioned")


def long_records(profile: str, directory: Path) -> dict[str, list[dict[str, Any]]] | None:
    """The long study's comparison records per domain when it is complete (every domain of :data:`LONG_DOMAINS`
    with every seed of :data:`LONG_SEEDS`, each holding all three models), else None: partial progress is not read
    by the claims (:func:`audioformers.ch3.long_study.progress` reports it)."""
    found = {d: [r for r in load_glob(directory, "ch3", f"long_compare_{d}_seed*", profile) if "metrics" in r]
             for d in LONG_DOMAINS}
    complete = all(len(found[d]) == len(LONG_SEEDS) and all(all(m in r["metrics"] for m in MODELS) for r in found[d])
                   for d in LONG_DOMAINS)
    return found if complete else None


def _ch3_records(profile: str, directory: Path, domain: str) -> list[dict[str, Any]]:
    """A domain's comparison records: the long study's where it is complete (then a domain it does not hold has
    none), else the 300-step comparison's."""
    long = long_records(profile, directory)
    if long is not None:
        return long.get(domain, [])
    return [r for r in load_glob(directory, "ch3", f"compare_{domain}_seed*", profile) if "metrics" in r]


def above_bigram(records: list[dict[str, Any]], model: str) -> ev.Comparison:
    """``model`` − bigram count table in held-out top-5, paired by seed and test recording, with the report's
    interval: the gate a comparison passes before it is read (:func:`audioformers.evaluation.evidence.gate`)."""
    if not records:
        raise ValueError("records must hold at least one comparison record, got none")
    for key in (model, "bigram"):
        if any(dig(r.get("metrics", {}), f"{key}.final.top5") is None for r in records):
            raise ValueError(f"records must each hold {key!r} with a final top5, and one does not")
    a, b, _ = paired([r["metrics"][model] for r in records], [r["metrics"]["bigram"] for r in records], "top5",
                     lambda block: block["final"]["top5"])
    return ev.compare(a, b, names=(model, "bigram"))


def clears_bigram(comp: ev.Comparison) -> bool:
    """Chapter 3's gate (issue #32): ``model − bigram`` in top-5 (:func:`above_bigram`) is above zero over its
    whole interval (the report's rule for every trivial baseline, :data:`audioformers.evaluation.evidence.
    BASELINE_RULE`) and at least :data:`audioformers.ch3.baseline_gap.MARGIN` (3 points) on average: a domain's
    comparison is read only where every compared model clears it."""
    return baseline_gap.clears(comp.interval)


def _ch3_training_facts(records: list[dict[str, Any]], models: tuple[str, ...]) -> str:
    cfg = records[0].get("config", {})
    tokens = dig(records[0]["metrics"], f"{models[0]}.curve.tokens")
    seconds = {m: mean_std([r["metrics"][m]["train_seconds"] for r in records
                            if dig(r["metrics"], f"{m}.train_seconds") is not None])[0] for m in models}
    facts = [f"{cfg.get('steps', '?')} steps of {cfg.get('batch_size', '?')} × {cfg.get('context_length', '?')} "
             f"samples ({int(tokens[-1]):,} training tokens)" if tokens else f"{cfg.get('steps', '?')} steps",
             "about " + ", ".join(f"{seconds[m]:.0f} s ({m})" for m in models) + " of training per model",
             f"learning rate {cfg.get('lr', '?')}"]
    return "; ".join(facts)


def _ch3_study(profile: str, directory: Path) -> dict[str, Any] | None:
    """The longest chapter-3 study on music with both families' learning curves, fitted."""
    candidates = load_glob(directory, "ch3", "study*", profile) + load_glob(directory, "ch3", "scaling*", profile)
    for record in candidates:
        curves = {m: dig(record, f"metrics.{m}.curve") for m in ("transformer", "wavenet")}
        if all(c and len(c.get("tokens", [])) >= 3 and len(c.get("bits_per_sample", [])) == len(c["tokens"])
               for c in curves.values()):
            return {"record": record, "curves": curves,
                    "fits": {m: ev.fit_power_law(c["tokens"], c["bits_per_sample"]) for m, c in curves.items()}}
    return None


def _joint(profile: str, directory: Path) -> dict[str, Any] | None:
    """The scaling record's joint fit L(N, D) per family (:mod:`audioformers.ch3.joint_fit`), with both families and
    their crossing, or None (not run, or written before the joint fit)."""
    record = load(directory, "ch3", "scaling", profile)
    joint = dig(record, "metrics.joint_fit") if record else None
    if not joint or not all(k in joint for k in ("transformer", "wavenet", "crossing")):
        return None
    return {"record": record, "joint": joint}


def ch3_crossover(profile: str, directory: Path | None = None, resamples: int = 200) -> tuple[dict, ev.Crossover] | None:
    """Chapter 3's one crossover: the training tokens at which the transformer's loss would fall below WaveNet's.

    Where the scaling record holds the joint fit (``joint_fit``: L(N, D) = E + A·N^−alpha + B·D^−beta per family
    over every run, bootstrap over runs), it is that fit's: each family at its largest measured size, the same tokens
    (``study["joint"]`` holds the fit). Otherwise a power law with a floor per family fitted to one learning curve
    against tokens (a ``study*`` record's, or the scaling record's medium size), with a residual bootstrap."""
    resamples = check_int("resamples", resamples, minimum=1)
    profile, directory = validate_profile(profile), directory or results_dir()
    joint = _joint(profile, directory)
    if joint is not None:
        c = joint["joint"]["crossing"]
        curves = c["curves"]
        cross = ev.Crossover(c["x_last"], curves["median"], curves["low"], curves["high"], curves["fraction"],
                             c["horizon"])
        return joint, cross
    study = _ch3_study(profile, directory)
    if study is None:
        return None
    t, w = study["curves"]["transformer"], study["curves"]["wavenet"]
    cross = ev.crossover(t["tokens"], t["bits_per_sample"], w["tokens"], w["bits_per_sample"],
                         lower_is_better=True, resamples=resamples)
    return study, cross


def _joint_terms(family: str, e: dict[str, Any]) -> str:
    def term(key: str) -> str:
        lo, hi = e[f"{key}_interval"]
        return f"{key} {e[key]:.2f} [{lo:.2f}, {hi:.2f}]"
    return f"{family}: {term('alpha')}, {term('beta')}, {term('E')} bits (limited by {e['limited_by']})"


def _ch3_joint_text(found: dict[str, Any], cross: ev.Crossover) -> tuple[str, str]:
    """Claim 3a's why and what-it-would-take from the joint fit."""
    rec, joint = found["record"], found["joint"]
    t = joint["transformer"]
    why = (f"the scaling study (music, one seed; {len(t['sizes'])} sizes × {len(t['budgets_tokens'])} budgets per "
           f"family, up to {bg.compact(t['d_max'])} tokens) fitted jointly over every run as L(N, D) = E + A·N^−alpha "
           "+ B·D^−beta, 90% intervals over a bootstrap of the runs: "
           + "; ".join(_joint_terms(f, joint[f]) for f in ("transformer", "wavenet")))
    seconds = max((r.get("train_seconds") or 0) for r in
                  (dig(rec, "metrics.families.transformer.runs") or {}).values()) if rec else 0
    take = (f"{cross.text('training tokens')} (the one crossover of chapter 3 and this report, ch3_crossover: the joint "
            "fit of each family at its largest size); " + joint["crossing"]["floor"]["text"])
    median = joint["crossing"]["floor"]["median"]
    if median is not None and seconds:
        take += (f"; at this size and device about {median * seconds / t['d_max'] / 3600:,.0f} CPU hours of "
                 "training for the transformer")
    take += ("; the compute-efficient frontier over sizes is drawn as a picture and not read for a crossover: most of "
             "its points carry a few measurements forward")
    return why, take


def _ch3_study_text(profile: str, directory: Path) -> tuple[str, str]:
    found = ch3_crossover(profile, directory)
    if found is None:
        return "", "no chapter-3 scaling study in results/: nothing to extrapolate from"
    study, cross = found
    if "joint" in study:
        why, take = _ch3_joint_text(study, cross)
        if load(directory, "ch3", "long_scaling", profile) is not None:  # noted as read by this row
            measured = long_results.scaling_summary(profile, directory=directory)
            if long_results.scaling_complete(measured):
                take += ("; measured further, not extrapolated (the long study's part b: piano-mini, both families' "
                         "small size to " + bg.compact(measured["budgets_tokens"][-1]) + " tokens, 3 seeds): "
                         + long_results.scaling_summary_text(measured, PAPER))
        return why, take
    rec, fits, curves = study["record"], study["fits"], study["curves"]
    last = {m: curves[m]["bits_per_sample"][-1] for m in curves}
    tokens = int(curves["transformer"]["tokens"][-1])
    secs = {m: dig(rec, f"metrics.{m}.train_seconds") for m in curves}
    why = (f"the study '{rec.get('name')}' ({rec.get('config', {}).get('steps', '?')} steps, {tokens:,} tokens, "
           f"one seed) ends at {last['transformer']:.2f} (transformer) vs {last['wavenet']:.2f} (WaveNet) bits "
           f"per sample after {secs['transformer']:.0f} s and {secs['wavenet']:.0f} s of training; fitted exponents "
           f"{fits['transformer'].exponent:.2f} (transformer) and {fits['wavenet'].exponent:.2f} (WaveNet)")
    seconds_per_token = (secs["transformer"] or 0) / tokens if tokens else 0
    take = cross.text("training tokens")
    if cross.median is not None and seconds_per_token:
        take += (f"; at this model size and device that is about {cross.median * seconds_per_token / 3600:,.1f} "
                 "CPU hours per model")
    take += " (power law with a floor fitted to one seed's learning curve under one learning-rate schedule)"
    families = dig(rec, "metrics.families") or {}
    fitted = {m: f for m, f in families.items() if "exponent" in f}
    crossing = dig(rec, "metrics.crossover.text")
    if len(fitted) == 2 and crossing:  # the scaling study: every size and budget, bits against compute
        sizes = {m: ", ".join(f["runs"]) for m, f in fitted.items()}
        best = {m: min(b for r in f["runs"].values() for b in r["bits_per_sample"]) for m, f in fitted.items()}
        front = {m: ", ".join(dict.fromkeys(f.get("frontier", {}).get("size", []))) or "?" for m, f in fitted.items()}
        why = ("the scaling study (one seed; " + "; ".join(
            f"{m}: sizes {sizes[m]}, best {best[m]:.2f} bits per sample; its compute-efficient frontier "
            f"({f['points']} points, from the {front[m]} size) has exponent {f['exponent']:.2f} "
            f"[{f['exponent_interval'][0]:.2f}, {f['exponent_interval'][1]:.2f}] against compute"
            for m, f in fitted.items()) + ")")
        take = (f"{cross.text('training tokens')} (the one crossover of chapter 3 and this report, ch3_crossover: "
                "a power law with a floor fitted to each family's medium-size learning curve against tokens, one "
                "seed, residual bootstrap); the compute-efficient frontier over sizes is drawn as a picture and not "
                "read for a crossover: most of its points carry a few measurements forward")
    return why, take


def _ch3_gap(model: str, base: str) -> Callable[[str, Path], Measured]:
    def measure(profile: str, directory: Path) -> Measured:
        texts, verdicts, comparisons, records_all, notes, trends = [], [], [], [], [], {}
        for domain in DOMAINS:
            records = [r for r in _ch3_records(profile, directory, domain)
                       if dig(r["metrics"], f"{model}.final.top5") is not None
                       and dig(r["metrics"], f"{base}.final.top5") is not None]
            if len(records) < 2:
                continue
            a, b, found = paired([r["metrics"][model] for r in records], [r["metrics"][base] for r in records],
                                  "top5", lambda block: block["final"]["top5"])
            comp = ev.compare(a, b, names=(model, base))
            below = []
            if all(dig(r["metrics"], "bigram.final.top5") is not None for r in records):  # the trivial baseline
                checks = [above_bigram(records, m) for m in (model, base)]
                below = [c for c in checks if not clears_bigram(c)]
                word = (ev.NOT_YET_EVIDENCE if below and comp.verdict not in (ev.NOT_COMPARABLE, ev.NOT_YET_RUN)
                        else comp.verdict)
                for m in (model, base):  # each learning curve against bigram + 3 points: the budget it would take
                    trend = baseline_gap.gap_trend(records, m)
                    if trend is not None:
                        trends[f"{domain}/{m}"] = trend
                comp = ev.Comparison(comp.a, comp.b, comp.interval, word, comp.claimed)
            comparisons.append(comp)
            verdicts.append(comp.verdict)
            records_all += records
            count = dig(records[0], "metrics.test_recordings") or dig(records[0], "config.test_recordings")
            note = sources_note(found, count, "test recordings")
            notes.append(f"{domain}: {_ch3_training_facts(records, (model, base))}" + (f"; {note}" if note else ""))
            texts.append(f"{domain}: top-5 {comp.line(scale=100, digits=1, unit=' pts')}" + "".join(
                f" ({c.a} not {100 * baseline_gap.MARGIN:.0f} points above the bigram count model: {c.a} − bigram = "
                f"{c.interval.text(scale=100, digits=1, unit=' pts')})" for c in below))
        if not texts:
            return missing(profile, "chapter 3's comparison")
        device, seconds = provenance(records_all)
        study_why, take = _ch3_study_text(profile, directory) if model == "transformer" else ("", "")
        verdict = ev.combine(verdicts)
        if model != "transformer":
            take = next((seeds_needed(c.interval) for c in comparisons
                         if c.verdict == ev.INCONCLUSIVE), "") or "–"
        elif verdict == ev.REPRODUCED:
            take = "–"
        if verdict == ev.NOT_YET_EVIDENCE:
            take = (f"first, training until every compared model is {100 * baseline_gap.MARGIN:.0f} points of top-5 "
                    f"above the bigram count model on every domain: {baseline_gap.budget_text(trends, paper=PAPER)}; then: {take}")
        why = " | ".join(notes + ([study_why] if study_why else []))
        budget = chapter_budget(records_all[0], model)
        return Measured("; ".join(texts), verdict, why, take, device, seconds, tuple(comparisons), budget)

    return measure


def _ch3_absolute(profile: str, directory: Path) -> Measured:
    parts, records_all = [], []
    domain = "piano-mini" if long_records(profile, directory) is not None else "music"  # the long study has no music
    for model in ("wavenet", "transformer", "conditioned"):
        records = [r for r in _ch3_records(profile, directory, domain) if dig(r["metrics"], f"{model}.final.top5")]
        if records:
            records_all += records
            m, s = mean_std([r["metrics"][model]["final"]["top5"] for r in records])
            parts.append(f"{model} {m:.1%} ± {s:.1%} (n={len(records)})")
    if not parts:
        return missing(profile, "chapter 3's comparison")
    device, seconds = provenance(records_all)
    cfg = records_all[0].get("config", {})
    rates = _sample_rates()
    why = (f"ours: {cfg.get('domain', 'music')} at {rates.get(cfg.get('domain', 'music'), '?')} Hz, "
           f"{cfg.get('context_length', '?')}-sample context, {cfg.get('steps', '?')} steps; published: "
           f"{PUBLISHED_BY_KEY['3c-wavenet'].conditions} — different data, rate and training, so the absolute "
           "numbers are shown for scale only")
    return Measured(f"{domain} top-5: " + ", ".join(parts), ev.verdict(None, comparable=False), why,
                    "a like-for-like test needs the same piano data at 16 kHz and the paper's training budget",
                    device, seconds, budget=chapter_budget(records_all[0]))


def _ch3_attention(profile: str, directory: Path) -> Measured:
    record = load(directory, "ch3", "attention_cost", profile)
    seconds = dig(record, "metrics.seconds") if record else None
    contexts = dig(record, "metrics.contexts") if record else None
    if not seconds or not contexts or "plain_attention" not in seconds or "wavenet" not in seconds:
        return missing(profile, "chapter 3's attention-cost measurement")
    if len(contexts) < 3:  # the smoke profile measures two lengths: too few for a slope with an interval
        return missing(profile, "chapter 3's attention-cost measurement at three or more context lengths")
    plain, wave = np.asarray(seconds["plain_attention"]), np.asarray(seconds["wavenet"])
    slope = {m: ev.slope_interval(contexts, seconds[m]) for m in seconds}
    ratio = ev.slope_interval(contexts, plain / wave)
    comp = ev.Comparison("explicit attention", "WaveNet", ratio, ev.verdict(ratio))
    text = ("step time ∝ n^a: " + ", ".join(f"{m} a = {iv.mean:.2f} [{iv.low:.2f}, {iv.high:.2f}]"
                                            for m, iv in slope.items())
            + f"; exponent difference (attention − WaveNet) {ratio.text(digits=2)}")
    why = (f"measured at contexts {', '.join(str(c) for c in contexts)} samples on {record.get('device', '?')}: "
           f"{plain[-1]:.2f} s (explicit attention) vs {wave[-1]:.2f} s (WaveNet) per step at n = {contexts[-1]}")
    return Measured(text, comp.verdict, why, "–", str(record.get("device", "")), record.get("wall_time_s"), (comp,),
                    bg.Budget(f"contexts up to {contexts[-1]:,} samples"))


E, M = ev.EMPIRICAL, ev.MECHANISM

CLAIMS: tuple[Claim, ...] = (
    Claim("3a", "ch3", E, "A causal transformer beats WaveNet at next-sample prediction", "paper", ("3a",),
          _ch3_gap("transformer", "wavenet")),
    Claim("3b", "ch3", E, "Conditioning on a wider past (CNN latent) adds to the transformer", "paper", ("3b",),
          _ch3_gap("conditioned", "transformer")),
    Claim("3c", "ch3", E, "Absolute top-5 accuracy of WaveNet, transformer and conditioned transformer", "secondary",
          ("3c-wavenet", "3c-transformer", "3c-conditioned"), _ch3_absolute),
    Claim("3d", "ch3", M, "Attention over n samples holds an n × n matrix per layer: its cost grows faster than "
          "WaveNet's", "lecture", ("3d",), _ch3_attention),
)


# --- the report page's series and figures ---------------------------------------------------------

def ch3_series(profile: str, metric: str = "top5", directory: Path | None = None) -> dict[str, Series]:
    """Per domain: model -> (mean, std, n) of the final held-out ``metric`` (one of :data:`METRICS`) over seeds."""
    profile = validate_profile(profile)
    metric = check_choice("metric", metric, METRICS)
    directory = directory or results_dir()
    out: dict[str, Series] = {}
    for domain in DOMAINS:
        records = _ch3_records(profile, directory, domain)
        series = {}
        for model in ("wavenet", "transformer", "conditioned"):
            values = [v for r in records if (v := dig(r["metrics"], f"{model}.final.{metric}")) is not None]
            if values:
                series[model] = (*mean_std(values), len(values))
        if series:
            out[domain] = series
    return out


def ch3_domain_title(domain: str) -> str:
    """``'piano-mini (16 kHz)'``: a chapter-3 domain with its sample rate as the data loader defines it."""
    rate = _sample_rates().get(domain)
    return f"{domain} ({rate / 1000:g} kHz)" if rate else domain


def ch3_study_tokens(profile: str, directory: Path | None = None) -> str:
    """One line for the report: the scaling study's longest run and the comparison the verdicts read, in training
    tokens per model, and their ratio: ``'training tokens per model: the scaling study's longest run 5.12M, the
    comparison that 3a and 3b read 614k (300 steps): 8.3×'``."""
    profile, directory = validate_profile(profile), directory or results_dir()
    study = _ch3_study(profile, directory)
    records = _ch3_records(profile, directory, "piano-mini" if long_records(profile, directory) is not None
                           else "music")
    tokens = dig(records[0], "metrics.transformer.curve.tokens") if records else None
    if study is None or not tokens:
        return "training tokens per model: the scaling study or the comparison is not stored at this profile"
    longest = max(study["curves"]["transformer"]["tokens"])
    steps = dig(records[0], "config.steps")
    return (f"training tokens per model: the scaling study's longest run {bg.compact(longest)}, the comparison that "
            f"3a and 3b read {bg.compact(tokens[-1])}" + (f" ({steps:,} steps)" if steps else "")
            + f": {longest / tokens[-1]:.2g}×")


def _plot_joint(ax, found: dict[str, Any], cross: ev.Crossover) -> ev.Crossover:
    """The joint fit's picture: every run (bits against tokens, lighter = smaller), each size's fitted curve over the
    measured tokens, the largest size's extrapolated (dashed) with the 90% band of the refits, and the crossover."""
    from audioformers.ch3 import joint_fit as jf

    record, joint = found["record"], found["joint"]
    x_last = cross.x_last
    x_end = max(100 * x_last, 2 * (cross.high or 0))
    for family, colour in (("transformer", "tab:orange"), ("wavenet", "tab:blue")):
        entry, runs = joint[family], dig(record, f"metrics.families.{family}.runs") or {}
        law = jf.law_from(entry)
        ordered = sorted(runs.items(), key=lambda kv: kv[1]["parameters"])
        for i, (size, run) in enumerate(ordered):
            shade = 0.35 + 0.65 * (i + 1) / len(ordered)
            ax.plot(run["tokens"], run["bits_per_sample"], "o", color=colour, alpha=shade, ms=4,
                    label=f"{family} {size} ({run['parameters']:,}): measured")
            grid = np.geomspace(min(run["tokens"]), max(run["tokens"]), 50)
            ax.plot(grid, law(run["parameters"], grid), "-", color=colour, alpha=shade, lw=1)
        grid = np.geomspace(x_last, x_end, 200)
        ax.plot(grid, law(entry["n_max"], grid), "--", color=colour,
                label=f"{family} largest size: joint fit, alpha {entry['alpha']:.2f}, beta {entry['beta']:.2f}, "
                      f"E {entry['E']:.2f}")
        refits = np.array([jf.law_from(r)(entry["n_max"], grid) for r in entry["refits"]])
        band = np.quantile(refits, [0.05, 0.95], axis=0)
        ax.fill_between(grid, band[0], band[1], color=colour, alpha=0.12)
    if cross.median is not None:
        ax.axvspan(cross.low, cross.high, color="grey", alpha=0.15, label="crossover (90% of refits that cross)")
        ax.axvline(cross.median, color="grey", ls=":")
    ax.axvline(x_last, color="black", lw=0.8)
    ax.set(xscale="log", xlabel="training tokens", ylabel="held-out bits per sample",
           title="scaling study: joint fit L(N, D) per family (music, one seed)")
    ax.legend(fontsize=6)
    return cross


def plot_ch3_study(ax, profile: str, directory: Path | None = None, resamples: int = 200):
    """Chapter 3's study: held-out bits per sample against training tokens, the fits extrapolated (dashed) to the
    crossover or 100× the budget with a 90% band: the joint fit's (every run of the scaling study) where the record
    holds it, else the power laws fitted to one learning curve per family (residual bootstrap)."""
    found = ch3_crossover(profile, directory, resamples=resamples)
    if found is None:
        ax.text(0.5, 0.5, "no chapter-3 study in results/", ha="center", transform=ax.transAxes)
        return None
    study, cross = found
    if "joint" in study:
        return _plot_joint(ax, study, cross)
    x_last = cross.x_last
    x_end = max(100 * x_last, 2 * (cross.high or 0))
    grid = np.logspace(math.log10(min(study["curves"]["transformer"]["tokens"])), math.log10(x_end), 200)
    for i, (model, color) in enumerate((("transformer", "tab:orange"), ("wavenet", "tab:blue"))):
        curve = study["curves"][model]
        ax.plot(curve["tokens"], curve["bits_per_sample"], "o", color=color, ms=4, label=f"{model} (measured)")
        fits = ev.bootstrap_trends(curve["tokens"], curve["bits_per_sample"], resamples=resamples, seed=i)
        band = np.quantile([f(grid) for f in fits], [0.05, 0.95], axis=0)
        fit = study["fits"][model]
        inside = grid <= x_last
        ax.plot(grid[inside], fit(grid[inside]), "-", color=color,
                label=f"{model} fit: exponent {fit.exponent:.2f}, floor {fit.floor:.2f}")
        ax.plot(grid[~inside], fit(grid[~inside]), "--", color=color)
        ax.fill_between(grid, band[0], band[1], color=color, alpha=0.15)
    if cross.median is not None:
        ax.axvspan(cross.low, cross.high, color="grey", alpha=0.15, label="crossover (90% of refits)")
        ax.axvline(cross.median, color="grey", ls=":")
    ax.axvline(x_last, color="black", lw=0.8)
    ax.set(xscale="log", xlabel="training tokens", ylabel="held-out bits per sample",
           title=f"chapter 3 study '{study['record'].get('name')}' (one seed)")
    ax.legend(fontsize=7)
    return cross
