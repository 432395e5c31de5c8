"""Chapter 5's "What we found": the chapter's findings in plain sentences, with their budgets and intervals,
generated from ``results/ch5`` so that the text cannot drift from the records.

The verdicts are the report's own (:data:`audioformers.ch5.claims.CLAIMS`, the functions the report calls, and
their budgets). The other intervals use the same protocol (:func:`audioformers.evaluation.evidence.compare`,
paired by seed and test fold). The gap's trend with training is stated piecewise, between the step counts that
were measured, and never extrapolated past a change of slope.

Notebook: chapters/05_wavelet_audio_transformer.ipynb, section "What we found".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from audioformers.ch5 import claims
from audioformers.core.profiles import validate_profile
from audioformers.core.results import results_dir
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev
from audioformers.evaluation.claims import dig, load, paired

#: every model name the chapter's tables use, and what it is (the notebook defines each in its text)
MODEL_NAMES = {
    "transformer-average": "the raw-waveform transformer, time-averaged after its last layer",
    "transformer-haar": "the same transformer with Haar multi-scale pooling after its first two layers",
    "transformer-dft": "transformer-average with its wide front-end layer started as a DFT (Hann-windowed "
                       "cosines and sines)",
    "transformer-intermediate": "the transformer averaging the time means of every layer",
    "cnn-vgg": "a VGG-like CNN (four conv-BN-ReLU-max-pool stages) on 64-band log-mel spectrograms",
    "cnn-resnet": "a small ResNet (four residual stages) on the same log-mels",
}
TRANSFORMER, CNN = "transformer-average", "cnn-vgg"  # the pair of the study's sweeps


def _units(scale: dict[str, Any], model: str, steps: int, clips: int) -> dict[int, dict[str, Any]]:
    """seed -> the study's unit of ``model`` at ``steps`` on ``clips`` training clips."""
    return {int(u["seed"]): u for u in scale.get("units", [])
            if u["model"] == model and int(u["steps"]) == steps and int(u["train_clips"]) == clips}


def _scores(scale: dict[str, Any], model: str, steps: int, clips: int, seeds: list[int]) -> np.ndarray:
    units = _units(scale, model, steps, clips)
    return paired([units[s] for s in seeds], [units[s] for s in seeds], None, lambda u: u["map"])[0]  # (seeds, folds)


def _common_seeds(scale: dict[str, Any], points: list[tuple[str, int, int]]) -> list[int]:
    sets = [set(_units(scale, m, s, c)) for m, s, c in points]
    return sorted(set.intersection(*sets)) if sets else []


def gap(scale: dict[str, Any], steps: int, clips: int, a: str = TRANSFORMER, b: str = CNN) -> ev.Comparison | None:
    """``a − b`` mAP at ``steps`` on ``clips`` clips, paired by seed and test fold (None without two seeds)."""
    seeds = _common_seeds(scale, [(a, steps, clips), (b, steps, clips)])
    if len(seeds) < 2:
        return None
    return ev.compare(_scores(scale, a, steps, clips, seeds), _scores(scale, b, steps, clips, seeds), names=(a, b))


def gap_change(scale: dict[str, Any], first: tuple[int, int], last: tuple[int, int], a: str = TRANSFORMER,
               b: str = CNN) -> ev.Comparison | None:
    """The change of the gap ``a − b`` from ``first`` to ``last`` ((steps, clips) each), paired by seed and fold:
    positive means the gap moved in ``a``'s favour."""
    seeds = _common_seeds(scale, [(m, *p) for m in (a, b) for p in (first, last)])
    if len(seeds) < 2:
        return None
    at = {p: _scores(scale, a, *p, seeds) - _scores(scale, b, *p, seeds) for p in (first, last)}
    return ev.compare(at[last], at[first], names=(f"gap at {last[0]:,} steps, {last[1]:,} clips",
                                                  f"gap at {first[0]:,} steps, {first[1]:,} clips"))


def findings(profile: str, directory: Path | None = None) -> dict[str, Any]:
    """The numbers the text states (structured, for the text, its table and figure, and their tests)."""
    profile, directory = validate_profile(profile), directory or results_dir()
    out: dict[str, Any] = {"profile": profile, "claims": {}}
    for claim in claims.CLAIMS:
        measured = claim.measure(profile, directory)
        out["claims"][claim.key] = {"statement": claim.statement, "verdict": measured.verdict,
                                    "at_budget": measured.budget.words(measured.verdict) if measured.budget
                                    else measured.verdict,
                                    "budget": measured.budget, "comparisons": measured.comparisons}
    study = load(directory, "ch5", "study", profile)
    scale = dig(study, "metrics.scale") if study else None
    if not isinstance(scale, dict) or not scale.get("units"):
        out["study"] = None
        return out
    table_steps, clips = int(scale["steps"]), int(scale["train_clips"])
    cfg = dig(scale, "table_record.config") or {}
    out["study"] = {"steps": table_steps, "long_steps": int(scale.get("long_steps") or 0), "train_clips": clips,
                    "batch_size": cfg.get("batch_size"), "test_clips": cfg.get("test_clips"),
                    "lr": cfg.get("lr"),
                    "seeds": cfg.get("seeds"), "paper_clips": claims.PAPER.amount}
    models = list(MODEL_NAMES)
    table = {}
    for model in models:
        row = {}
        for steps in sorted({int(u["steps"]) for u in scale["units"] if u["model"] == model}):
            units = _units(scale, model, steps, clips)
            if units:
                values = [u["map"] for u in units.values()]
                row[steps] = (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                              len(values))
                row["parameters"] = next(iter(units.values())).get("parameters")
        if row:
            table[model] = row
    out["table"] = table
    steps_measured = sorted({int(u["steps"]) for u in scale["units"]
                             if u["model"] == TRANSFORMER and int(u["train_clips"]) == clips})
    by_steps = [(s, gap(scale, s, clips)) for s in steps_measured]
    out["gap_by_steps"] = [(s, c) for s, c in by_steps if c is not None]
    points = [(s, c.interval.mean) for s, c in out["gap_by_steps"]]
    out["slopes"] = claims.piecewise_slopes(points)
    if len(points) >= 2:
        out["steps_change"] = gap_change(scale, (points[0][0], clips), (points[-1][0], clips))
    clip_counts = sorted({int(u["train_clips"]) for u in scale["units"]
                          if u["model"] == TRANSFORMER and int(u["steps"]) == table_steps})
    out["gap_by_clips"] = [(c, g) for c in clip_counts if (g := gap(scale, table_steps, c)) is not None]
    if len(out["gap_by_clips"]) >= 2:
        out["clips_change"] = gap_change(scale, (table_steps, out["gap_by_clips"][0][0]),
                                         (table_steps, out["gap_by_clips"][-1][0]))
    out["dft"] = {s: g for s in (table_steps, out["study"]["long_steps"])
                  if (g := gap(scale, s, clips, "transformer-dft", TRANSFORMER)) is not None}
    out["time_scale"] = _time_scale(directory, profile)
    out["front_end"] = _front_end(directory, profile)
    return out


def _time_scale(directory: Path, profile: str) -> dict[str, Any] | None:
    record = load(directory, "ch5", "time_scale", profile)
    ts = dig(record, "metrics.time_scale") if record else None
    if not ts or not ts.get("runs"):
        return None
    runs = {(r["model"], int(r["seed"])): r for r in ts["runs"]}
    seeds = sorted(s for m, s in runs if m == "transformer-haar" and ("transformer-average", s) in runs)
    if len(seeds) < 2:
        return None
    a, b, _ = paired([runs["transformer-haar", s] for s in seeds], [runs["transformer-average", s] for s in seeds],
                     None, lambda r: r["accuracy"])
    comp = ev.compare(a, b, names=("transformer-haar", "transformer-average"))
    return {"comparison": comp, "per_seed": (a.mean(1) - b.mean(1)).tolist(), "seeds": seeds,
            "kits": len(ts.get("test_kits", [])), "steps": dig(record, "config.steps"),
            "accuracy": {m: float(np.mean(v)) for m, v in ts["accuracy"].items()},
            "envelope": dig(ts, "baselines.envelope"), "prior": dig(ts, "baselines.prior")}


def _curve_distance(a: list[float], b: list[float]) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def _front_end(directory: Path, profile: str) -> dict[str, Any] | None:
    record = load(directory, "ch5", "front_end", profile)
    m = record.get("metrics") if record else None
    if not m or "distance_to_energy_hz" not in m:
        return None
    out: dict[str, Any] = {"initial_hz": float(np.mean(m["distance_to_energy_hz"]["initial"])),
                           "trained_hz": float(np.mean(m["distance_to_energy_hz"]["trained"])),
                           "seeds": len(m["distance_to_energy_hz"]["trained"]), "steps": dig(record, "config.steps")}
    seeds = [m["soundmix"][k]["curves"]["weight_change"] for k in sorted(m.get("soundmix", {}))]
    if len(seeds) >= 2:
        pairs = [_curve_distance(seeds[i], seeds[j]) for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
        out["between_seeds_hz"] = (min(pairs), max(pairs))
    if m.get("family") and m.get("pitch"):
        out["family_vs_pitch_hz"] = _curve_distance(m["family"]["curves"]["weight_change"],
                                                    m["pitch"]["curves"]["weight_change"])
        out["accuracy"] = {t: float(m[t]["accuracy"]) for t in ("family", "pitch")}
    return out


def _n(count: int, noun: str) -> str:
    """``'3 seeds'``, ``'1 seed'``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _iv(comp: ev.Comparison, digits: int = 3) -> str:
    """``-0.112 [-0.158, -0.065]``: a comparison's mean and interval (its method is stated once, in the text)."""
    iv = comp.interval
    return f"{iv.mean:+.{digits}f} [{iv.low:+.{digits}f}, {iv.high:+.{digits}f}]"


def _resolved(comp: ev.Comparison) -> bool:
    return comp.interval.low > 0 or comp.interval.high < 0


def findings_markdown(profile: str, directory: Path | None = None) -> str:
    """The section "What we found" as Markdown: a few paragraphs a student can repeat, every number from
    ``results/ch5``; one paragraph per finding, each one line of Markdown."""
    f = findings(profile, directory)
    s = f["study"]
    if s is None:
        return (f"The command-line study has not been run at the `{f['profile']}` profile: "
                f"`python -m audioformers.ch5.study --profile {f['profile']}` runs it.")
    c5 = f["claims"]
    crops = s["steps"] * s["batch_size"]
    method = next((c.interval.method for c in c5["5a"]["comparisons"]), "two-level t interval")
    paras = [
        f"**The budget.** The table below was read at {s['steps']:,} steps of {s['batch_size']} one-second crops "
        f"({crops:,} crops) on {s['train_clips']:,} soundmix-mini training clips, {_n(len(s['seeds'] or []), 'seed')} "
        f"per model, every "
        f"model at the same learning rate ({s['lr']:g}, not tuned per model). {s['train_clips']:,} clips are "
        f"{bg.percent(s['train_clips'] / s['paper_clips'])} of the {s['paper_clips']:,.0f} FSD50K clips the paper "
        f"trained on, and our clips are mixtures of a few hundred offline sound events, not {s['paper_clips']:,.0f} "
        f"distinct recordings. Each interval in "
        f"brackets is a 95% {method} (paired by seed and by fold of the {s['test_clips']} test clips), in mAP."]
    table = f["table"]
    at_table = {m: row[s["steps"]][0] for m, row in table.items() if s["steps"] in row}
    best_tf = max((m for m in at_table if m.startswith("transformer")), key=at_table.get, default=None)
    best_cnn = max((m for m in at_table if m.startswith("cnn")), key=at_table.get, default=None)
    comps = "; ".join(f"{c.a} − {c.b} = {_iv(c)}" for c in c5["5a"]["comparisons"])
    if best_tf is None or best_cnn is None:
        paras.append(f"**Transformers against CNNs.** The study's table at {s['steps']:,} steps is not in results/ "
                     f"for the `{f['profile']}` profile yet; by the report's rule claim 5a is "
                     f"{c5['5a']['at_budget']}.")
    else:
        paras.append(
            f"**Transformers against CNNs.** At this budget the CNNs on log-mel spectrograms are ahead: the best "
            f"transformer, `{best_tf}`, reaches mAP {at_table[best_tf]:.3f} and the best CNN, `{best_cnn}`, "
            f"{at_table[best_cnn]:.3f} ({comps}). The paper's claim that the transformer beats the CNNs is, by the "
            f"report's rule, {c5['5a']['at_budget']}: the ordering is measured at a budget far below the paper's, so "
            f"it says what happens early in training on little data, not what happens at the paper's scale.")
    g = f["gap_by_steps"]
    if len(g) >= 2:
        gaps = ", ".join(f"{c.interval.mean:+.3f} at {st:,}" for st, c in g)
        rates = " and ".join(f"{r:+.3f} mAP per doubling of steps from {a:,} to {b:,} steps"
                             for a, b, r in f["slopes"])
        fell = len(f["slopes"]) >= 2 and abs(f["slopes"][-1][2]) < abs(f["slopes"][0][2])
        ch = f.get("steps_change")
        paras.append(
            f"**More steps.** The gap `{TRANSFORMER}` − `{CNN}` shrinks with training ({gaps} steps); from "
            f"{g[0][0]:,} to {g[-1][0]:,} steps it moved by {_iv(ch) if ch else '?'} in the transformer's favour. "
            f"It closed by {rates}"
            + (": the rate fell, so the trend is not a straight line in log-steps, and nothing here says whether "
               f"or when the transformer would catch up after {g[-1][0]:,} steps." if fell else "."))
    gc = f["gap_by_clips"]
    if len(gc) >= 2:
        ch = f.get("clips_change")
        paras.append(
            f"**More clips is not more data.** At {s['steps']:,} steps the gap is "
            + ", ".join(f"{c.interval.mean:+.3f} on {n:,} clips" for n, c in gc)
            + (f" (change {_iv(ch)}: no change the interval can resolve)" if ch and not _resolved(ch)
               else f" (change {_iv(ch)})" if ch else "")
            + ". But every soundmix clip is a new mixture of the same training events: the sweep varies how many "
              "mixtures the models see, not how much unique audio, so it says nothing about the paper's question "
              "of what 40k distinct clips would do.")
    c5b = c5["5b"]
    pool = "; ".join(f"{c.a} − {c.b} = {_iv(c)}" for c in c5b["comparisons"])
    ts = f["time_scale"]
    ts_text = ""
    if ts:
        per_seed = ", ".join(f"{x:+.3f}" for x in ts["per_seed"])
        ts_text = (f" On the time-scale task, built so that only the spacing of events decides the label, Haar "
                   f"minus average is {_iv(ts['comparison'])} accuracy over {len(ts['seeds'])} seeds × "
                   f"{ts['kits']} held-out drum kits at {ts['steps']} steps (per seed {per_seed}): one seed gains "
                   f"a lot and two do not, so more seeds are needed before this says anything.")
    changes = ("changes nothing measurable" if c5b["comparisons"] and not any(map(_resolved, c5b["comparisons"]))
               else "gives")
    paras.append(f"**Haar pooling.** On soundmix, where the labels are decided by timbre rather than timing, Haar "
                 f"multi-scale pooling {changes} ({pool}); claim 5b is {c5b['at_budget']}."
                 + ts_text)
    dft = f["dft"]
    if dft:
        paras.append("**A DFT start.** Starting the front end as a DFT (`transformer-dft`) helps early: "
                     + "; ".join(f"`transformer-dft` − `{TRANSFORMER}` = {_iv(c)} at {st:,} steps"
                                 for st, c in sorted(dft.items()))
                     + (". The head start is gone by the longest run." if len(dft) >= 2
                        and not _resolved(dft[max(dft)]) else "."))
    fe = f["front_end"]
    if fe:
        text = (f"**What the front end learned.** Sorted by centre frequency, the filters of the random start lie "
                f"on average {fe['initial_hz']:,.0f} Hz from the curve that follows the training data's energy, and "
                f"after {fe['steps']} steps of training {fe['trained_hz']:,.0f} Hz ({_n(fe['seeds'], 'seed')}): claim "
                f"5d is {c5['5d']['at_budget']}. Gradient descent on a linear layer moves its weights into the span "
                f"of its input patches, so this is a check of how we read the filters more than of the paper.")
        if "family_vs_pitch_hz" in fe and "between_seeds_hz" in fe:
            lo, hi = fe["between_seeds_hz"]
            text += (f" Trained on the same audio to name the instrument family or the pitch, the two front ends' "
                     f"weight changes differ by {fe['family_vs_pitch_hz']:,.0f} Hz on average over the sorted "
                     f"neurons, and two seeds of the soundmix run by {lo:,.0f}–{hi:,.0f} Hz; but each task was "
                     f"trained with one seed, so the spread between seeds on those tasks is unknown and whether the "
                     f"front end depends on the task is not established here.")
        paras.append(text)
    c5c = c5["5c"]
    paras.append(f"**The published number.** The paper's 0.537 mAP is on FSD50K's 200 classes; ours are on 21 "
                 f"classes of soundmix-mini, so the two are {c5c['at_budget']} (claim 5c).")
    return "\n\n".join(paras)


def findings_table_markdown(profile: str, directory: Path | None = None) -> str:
    """The evidence table: every model's test mAP (mean ± sd over seeds) at each step count the study measured
    on all the training clips, with its parameters, as a Markdown table."""
    f = findings(profile, directory)
    if not f["study"]:
        return ""
    table = f["table"]
    steps = sorted({k for row in table.values() for k in row if isinstance(k, int)})
    lines = ["| model | what it is | parameters | " + " | ".join(f"mAP at {s:,} steps" for s in steps) + " |",
             "|---|---|---:|" + "---:|" * len(steps)]
    for model, row in table.items():
        cells = [f"{row[s][0]:.3f} ± {row[s][1]:.3f}" if s in row else "–" for s in steps]
        params = f"{row['parameters']:,}" if row.get("parameters") else "–"
        lines.append(f"| `{model}` | {MODEL_NAMES[model]} | {params} | " + " | ".join(cells) + " |")
    seeds = sorted({row[s][2] for row in table.values() for s in steps if s in row})
    lines.append(f"\nmAP on the {f['study']['test_clips']} soundmix-mini test clips, mean ± standard deviation over "
                 f"{' or '.join(map(str, seeds))} seed{'' if seeds == [1] else 's'}, {f['study']['train_clips']:,} training clips.")
    return "\n".join(lines)


def plot_findings(axes, profile: str, directory: Path | None = None):
    """The evidence figure on two axes: each model's mAP against steps (mean ± seed sd), and the gap
    `transformer-average` − `cnn-vgg` with its 95% interval at each measured step count, its piecewise slopes
    written beside each segment (no line drawn past the last measured point)."""
    f = findings(profile, directory)
    if not f["study"]:
        for ax in axes:
            ax.text(0.5, 0.5, "no chapter-5 study in results/", ha="center", transform=ax.transAxes)
        return f
    left, right = axes
    for model, row in f["table"].items():
        steps = sorted(k for k in row if isinstance(k, int))
        left.errorbar(steps, [row[s][0] for s in steps], yerr=[row[s][1] for s in steps], fmt="o", capsize=3,
                      ms=4, label=model, ls="-" if model.startswith("transformer") else "--")
    left.set(xscale="log", xlabel="optimiser steps (16 one-second crops each)", ylabel="test mAP",
             title="Every model: mAP against training steps")
    left.legend(fontsize=7)
    g = f["gap_by_steps"]
    x = [s for s, _ in g]
    y = [c.interval.mean for _, c in g]
    right.errorbar(x, y, yerr=[[c.interval.mean - c.interval.low for _, c in g],
                               [c.interval.high - c.interval.mean for _, c in g]], fmt="o-", capsize=3,
                   color="k")
    for a, b, rate in f["slopes"]:
        ya, yb = dict(zip(x, y))[a], dict(zip(x, y))[b]
        right.annotate(f"{rate:+.3f} per doubling", (np.sqrt(a * b), (ya + yb) / 2), textcoords="offset points",
                       xytext=(0, 8), ha="center", fontsize=8)
    right.axhline(0, color="grey", lw=0.8)
    right.set(xscale="log", xlabel="optimiser steps", ylabel="mAP difference (95% interval)",
              title=f"{TRANSFORMER} − {CNN}: measured points only")
    ticks = sorted({k for row in f["table"].values() for k in row if isinstance(k, int)})
    for ax in axes:  # the measured step counts, written out (no log-scale minor labels)
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
        ax.minorticks_off()
    return f
