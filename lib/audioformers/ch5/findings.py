"""Chapter 5's "What we found": the chapter's findings in plain sentences, with their budgets and intervals,
generated from ``results/ch5`` so that the text cannot drift from the records.

The verdicts are the report's own (:data:`audioformers.ch5.claims.CLAIMS`, the functions the report calls, and
their budgets), read from the comparison (split by recording, rates tuned on validation, intervals over seeds x
test recordings). The data sweep varies unique training recordings. The gap's trend with training comes from the
command-line study on the earlier split (:data:`audioformers.ch5.claims.STUDY_SPLIT`), stated piecewise between the
step counts that were measured, and never extrapolated past a change of slope.

Notebook: chapters/05_wavelet_audio_transformer.ipynb, section "What we found".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from audioformers.ch5 import claims
from audioformers.ch5 import mechanisms as mech
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


def comparison_facts(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The comparison's numbers the text states: budget, split, tuning, table, data sweep (None without runs)."""
    m = (record or {}).get("metrics") or {}
    if not m.get("runs") or not m.get("chosen_lr"):
        return None
    cfg = record.get("config", {})
    runs = m["runs"]
    table = {}
    for model in [x for x in MODEL_NAMES if any(r["config"]["model"] == x for r in runs)]:
        rows = [r for r in runs if r["config"]["model"] == model]
        test, val = [r["map"] for r in rows], [r.get("validation_map", np.nan) for r in rows]
        table[model] = {"test": (float(np.mean(test)), float(np.std(test, ddof=1)) if len(test) > 1 else 0.0),
                        "validation": float(np.mean(val)), "seeds": len(rows), "lr": m["chosen_lr"].get(model),
                        "parameters": rows[0].get("parameters")}
    split = m.get("test_set", {})
    sweep = m.get("data_sweep", {})
    full = next((p for p in sweep.get("points", []) if p["fraction"] == 1.0), None)
    return {"steps": cfg.get("steps"), "batch_size": cfg.get("batch_size"), "train_clips": cfg.get("train_clips"),
            "test_clips": split.get("clips", cfg.get("test_clips")), "validation_clips": cfg.get("validation_clips"),
            "seeds": cfg.get("seeds"), "lr_grid": m["tuning"]["grid"], "chosen_lr": m["chosen_lr"],
            "tuning": m["tuning"], "selected": m.get("selected_transformer"), "table": table,
            "rows": m.get("comparisons", []),
            "recordings": split.get("recordings_by_split", {}), "test_recordings": split.get("recordings"),
            "least_per_class": min(split.get("recordings_per_class", {0: 0}).values()),
            "unique_minutes": full["unique_minutes"] if full else None, "sweep": sweep,
            "prior_map": dig(m, "baselines.prior.map"), "complete": bool(m.get("complete")),
            "stage": m.get("stage"), "classes": len((m.get("clip_scores") or {}).get("classes", [])),
            "paper_clips": claims.PAPER.amount}


def findings(profile: str, directory: Path | None = None) -> dict[str, Any]:
    """The numbers the text states (structured, for the text, its table and figure, and their tests): the
    report's verdicts, the comparison (:func:`comparison_facts`) and the study's trend with steps (on
    :data:`audioformers.ch5.claims.STUDY_SPLIT`)."""
    profile, directory = validate_profile(profile), directory or results_dir()
    out: dict[str, Any] = {"profile": profile, "claims": {}}
    for claim in claims.CLAIMS:
        measured = claim.measure(profile, directory)
        out["claims"][claim.key] = {"statement": claim.statement, "verdict": measured.verdict,
                                    "at_budget": measured.budget.words(measured.verdict) if measured.budget
                                    else measured.verdict,
                                    "budget": measured.budget, "comparisons": measured.comparisons}
    out["comparison"] = comparison_facts(load(directory, "ch5", "comparison", profile))
    out["time_scale"] = _time_scale(directory, profile)
    out["front_end"] = _front_end(directory, profile)
    study = load(directory, "ch5", "study", profile)
    scale = dig(study, "metrics.scale") if study else None
    if not isinstance(scale, dict) or not scale.get("units"):
        out["study"] = None
        return out
    table_steps, clips = int(scale["steps"]), int(scale["train_clips"])
    cfg = dig(scale, "table_record.config") or {}
    out["study"] = {"steps": table_steps, "long_steps": int(scale.get("long_steps") or 0), "train_clips": clips,
                    "batch_size": cfg.get("batch_size"), "test_clips": cfg.get("test_clips"),
                    "lr": cfg.get("lr"), "seeds": cfg.get("seeds"), "paper_clips": claims.PAPER.amount}
    table = {}
    for model in MODEL_NAMES:
        row = {}
        for steps in sorted({int(u["steps"]) for u in scale["units"] if u["model"] == model}):
            units = _units(scale, model, steps, clips)
            if units:
                values = [u["map"] for u in units.values()]
                row[steps] = (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                              len(values))
        if row:
            table[model] = row
    out["study_table"] = table
    steps_measured = sorted({int(u["steps"]) for u in scale["units"]
                             if u["model"] == TRANSFORMER and int(u["train_clips"]) == clips})
    by_steps = [(s, gap(scale, s, clips)) for s in steps_measured]
    out["gap_by_steps"] = [(s, c) for s, c in by_steps if c is not None]
    points = [(s, c.interval.mean) for s, c in out["gap_by_steps"]]
    out["slopes"] = claims.piecewise_slopes(points)
    if len(points) >= 2:
        out["steps_change"] = gap_change(scale, (points[0][0], clips), (points[-1][0], clips))
    return out


def _time_scale(directory: Path, profile: str) -> dict[str, Any] | None:
    """The time-scale study as :func:`mechanisms.read_time_scale` reads its scores per seed and held-out kit."""
    record = load(directory, "ch5", "time_scale", profile)
    ts = dig(record, "metrics.time_scale") if record else None
    if not ts or not ts.get("scores"):
        return None
    cfg = record.get("config") or {}
    row = mech.read_time_scale(ts["scores"], dig(ts, "baselines.prior"),
                               mech.time_scale_budget(cfg, len(ts.get("train_kits") or [])))
    if row is None or len(row["seeds"]) < 2:
        return None
    return {"row": row, "per_seed": row["per_seed"], "seeds": row["seeds"], "kits": row["test_sources"],
            "steps": cfg.get("steps"), "accuracy": {m: float(np.mean(v)) for m, v in ts["accuracy"].items()},
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
    if isinstance(m.get("tasks"), dict) and all(m["tasks"].get(t) for t in mech.TASKS):
        out["task"] = mech.read_task_dependence(m["tasks"], mech.TASK_CHANCE,
                                                mech.front_end_budget(record.get("config") or {}))
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


def _sweep_gaps(c: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(p, p["gap"]) for p in c["sweep"].get("points", []) if p.get("gap")]


def findings_markdown(profile: str, directory: Path | None = None) -> str:
    """The section "What we found" as Markdown: a few paragraphs a student can repeat, every number from
    ``results/ch5``; one paragraph per finding, each one line of Markdown."""
    f = findings(profile, directory)
    c, s, c5 = f["comparison"], f["study"], f["claims"]
    if c is None:
        stage = dig(load(directory or results_dir(), "ch5", "comparison", f["profile"]) or {}, "metrics.stage")
        return ((f"The comparison at the `{f['profile']}` profile is not complete (its stage: {stage}): "
                 if stage else f"The comparison has not been run at the `{f['profile']}` profile: ")
                + f"`python -m audioformers.reproduce ch5 --profile {f['profile']} -- --what comparison` runs it.")
    crops = c["steps"] * c["batch_size"]
    method = next((x.interval.method for x in c5["5a"]["comparisons"]), "two-level t interval")
    rec = c["recordings"]
    rates = ", ".join(f"`{m}` {lr:g}" for m, lr in c["chosen_lr"].items())
    paras = [
        f"**The data and the budget.** soundmix-mini is split by recording: {rec.get('train', '?')} training, "
        f"{rec.get('validation', '?')} validation and {rec.get('test', '?')} test recordings, none in two splits, "
        f"at least {c['least_per_class']} test recordings per class heard in the {c['test_clips']} test clips. Every "
        f"model was trained for {c['steps']:,} steps of {c['batch_size']} one-second crops ({crops:,} crops) on "
        f"{c['train_clips']:,} mixtures of the {rec.get('train', '?')} training recordings "
        f"({c['unique_minutes']:.1f} minutes of unique audio; the paper trained on {c['paper_clips']:,.0f} FSD50K "
        f"clips), at the learning rate it chose on the {c['validation_clips']} validation clips from "
        f"{', '.join(f'{x:g}' for x in c['lr_grid'])} ({rates}), with {_n(len(c['seeds'] or []), 'seed')}. Each "
        f"interval in brackets is a 95% {method}, over seeds × test recordings, in per-recording AP (a test "
        f"recording's AP for its class over the clips that hold it)."]
    table = c["table"]
    best_cnn = max((m for m in table if m.startswith("cnn")), key=lambda m: table[m]["validation"], default=None)
    sel = c["selected"]
    comps = "; ".join(f"{x.a} − {x.b} = {_iv(x)}" for x in c5["5a"]["comparisons"])
    if sel is None or best_cnn is None or sel not in table:
        paras.append(f"**Transformers against CNNs.** The comparison's table is not complete in results/ for the "
                     f"`{f['profile']}` profile yet; by the report's rule claim 5a is {c5['5a']['at_budget']}.")
    else:
        paras.append(
            f"**Transformers against CNNs.** Chosen on validation mAP, the transformer is `{sel}` (validation "
            f"{table[sel]['validation']:.3f}); on the test clips it reaches mAP {table[sel]['test'][0]:.3f}, and "
            f"`{best_cnn}` {table[best_cnn]['test'][0]:.3f}"
            + (f" (the label prior scores {c['prior_map']:.3f})" if c["prior_map"] is not None else "") + ". In "
            f"per-recording AP: {comps}. The paper's claim that the transformer beats the CNNs is, by the "
            f"report's rule, {c5['5a']['at_budget']}: it is measured far below the paper's budget, so it says what "
            f"happens early in training on little audio, not at the paper's scale.")
    grid = c["tuning"]["validation_map"]
    if grid:
        tf_best = max((max(v.values()), m) for m, v in grid.items() if m.startswith("transformer"))
        cnn_worst = min((min(v.values()), m) for m, v in grid.items() if m.startswith("cnn")) \
            if any(m.startswith("cnn") for m in grid) else None
        lines = "; ".join(f"`{m}` " + ", ".join(f"{float(lr):g}: {v:.3f}" for lr, v in g.items())
                          for m, g in grid.items())
        verdict = (f"the best transformer at any rate of the grid (`{tf_best[1]}`, {tf_best[0]:.3f}) is below the "
                   f"worst CNN at any rate (`{cnn_worst[1]}`, {cnn_worst[0]:.3f}), so the learning rate does not "
                   f"explain the CNNs' lead" if cnn_worst and tf_best[0] < cnn_worst[0] else
                   "the grid's rates move the models by as much as the gap, so tuning matters here")
        paras.append(f"**Tuning.** Validation mAP at each learning rate (seed {c['tuning']['seed']}): {lines}. "
                     f"Chosen on validation: {verdict}.")
    gs = _sweep_gaps(c)
    if len(gs) >= 2:
        pts = ", ".join(f"{p['recordings']} recordings ({p['unique_minutes']:.1f} min): {_iv_row(g)}" for p, g in gs)
        first, last = gs[0][0], gs[-1][0]
        paras.append(
            f"**More unique audio.** Trained on a fraction of every class's training recordings (nested subsets, the "
            f"same {c['train_clips']:,} mixtures, steps and seeds), the gap `{c['sweep']['models'][0]}` − "
            f"`{c['sweep']['models'][-1]}` in per-recording AP is {pts}"
            + _sweep_change(c["sweep"].get("change"))
            + f". This sweep varies the unique audio the "
            f"models hear ({first['unique_minutes']:.1f} to {last['unique_minutes']:.1f} minutes), which is the "
            f"variable the paper's claim turns on; but its largest point is {last['recordings']} recordings against "
            f"the paper's {c['paper_clips']:,.0f} clips, so it can show whether the gap moves with data at this "
            f"scale, not what 40k clips would do, and no trend is extrapolated from it.")
    g = (f["gap_by_steps"] if s else [])
    if len(g) >= 2:
        gaps = ", ".join(f"{x.interval.mean:+.3f} at {st:,}" for st, x in g)
        rates_text = " and ".join(f"{r:+.3f} mAP per doubling of steps from {a:,} to {b:,} steps"
                                  for a, b, r in f["slopes"])
        fell = len(f["slopes"]) >= 2 and abs(f["slopes"][-1][2]) < abs(f["slopes"][0][2])
        ch = f.get("steps_change")
        paras.append(
            f"**More steps (the earlier split).** The command-line study ran before the split by recording, on "
            f"{claims.STUDY_SPLIT}, every model at {s['lr']:g} (not tuned), so its intervals are over folds that "
            f"share recordings. There the gap `{TRANSFORMER}` − `{CNN}` shrinks with training ({gaps} steps); from "
            f"{g[0][0]:,} to {g[-1][0]:,} steps it moved by {_iv(ch) if ch else '?'} in the transformer's favour. "
            f"It closed by {rates_text}"
            + (": the rate fell, so the trend is not a straight line in log-steps, and nothing here says whether "
               f"or when the transformer would catch up after {g[-1][0]:,} steps." if fell else "."))
    c5b = c5["5b"]
    pool = "; ".join(f"{x.a} − {x.b} = {_iv(x)}" for x in c5b["comparisons"])
    ts = f["time_scale"]
    ts_text = ""
    if ts:
        row = ts["row"]
        reading = {ev.REPRODUCED: "Haar pooling helps where time scales decide the label",
                   ev.REVERSED: "Haar pooling is worse even where time scales decide the label",
                   ev.INCONCLUSIVE: "the interval contains zero: even where time scales decide the label, Haar "
                                    "pooling gives no gain this study can resolve",
                   ev.NOT_YET_EVIDENCE: "a model is not above the label prior, so the ordering says nothing yet"}
        acc = ts["accuracy"]
        ts_text = (f" On the time-scale task, built so that only the spacing of events decides the label, Haar "
                   f"minus average is {_iv_row(row)} accuracy over {_n(len(ts['seeds']), 'seed')} × "
                   f"{ts['kits']} held-out drum kits (two-level t interval; per seed from {min(ts['per_seed']):+.3f} "
                   f"to {max(ts['per_seed']):+.3f}; accuracy {acc.get(TRANSFORMER, float('nan')):.3f} average, "
                   f"{acc.get('transformer-haar', float('nan')):.3f} Haar, against {ts['prior']:.3f} for the label "
                   f"prior and {ts['envelope']:.3f} for the energy envelope in time order): {row['at_budget']}; "
                   f"{reading.get(row['verdict'], row['verdict'])}.")
    changes = ("changes nothing measurable" if c5b["comparisons"] and not any(map(_resolved, c5b["comparisons"]))
               else "gives")
    paras.append(f"**Haar pooling.** On soundmix, where the labels are decided by timbre rather than timing, Haar "
                 f"multi-scale pooling {changes} ({pool}); claim 5b is {c5b['at_budget']}." + ts_text)
    dft = _pair(f, "transformer-dft", TRANSFORMER)
    if dft is not None:
        paras.append(f"**A DFT start.** Starting the front end as a DFT: `transformer-dft` − `{TRANSFORMER}` = "
                     f"{_iv_row(dft)} in per-recording AP at {c['steps']:,} steps, each at its own tuned rate.")
    fe = f["front_end"]
    if fe:
        text = (f"**What the front end learned.** Sorted by centre frequency, the filters of the random start lie "
                f"on average {fe['initial_hz']:,.0f} Hz from the curve that follows the training data's energy, and "
                f"after {fe['steps']} steps of training {fe['trained_hz']:,.0f} Hz ({_n(fe['seeds'], 'seed')}). "
                f"Gradient descent on a linear layer moves its weights into the span of its input patches, so this "
                f"is a check of how we read the filters, not evidence for the paper.")
        td = fe.get("task")
        if td:
            cd = td["curve_distance_hz"]
            within = cd["within_family"] + cd["within_pitch"]
            sd = td["seed_sd_hz"]
            text += (f" The paper's claim is that the filterbank depends on the task. Trained on the same audio, "
                     f"from the same start and on the same crops, to name the instrument family or the pitch class "
                     f"({_n(len(td['seeds']), 'seed')} each), the weight changes' geometric-mean centre frequency "
                     f"differs by {td['difference']:+,.0f} Hz [{td['low']:+,.0f}, {td['high']:+,.0f}] (family − "
                     f"pitch, t interval over seeds), against a spread between seeds on the same task of "
                     f"{sd['family']:,.0f} Hz (family) and {sd['pitch']:,.0f} Hz (pitch) (standard deviations); "
                     f"the sorted curves lie {min(cd['between_tasks']):,.0f}–{max(cd['between_tasks']):,.0f} Hz "
                     f"apart between the tasks and {min(within):,.0f}–{max(within):,.0f} Hz between seeds on one "
                     f"task: claim 5d is {c5['5d']['at_budget']}.")
        paras.append(text)
    c5c = c5["5c"]
    paras.append(f"**The published number.** The paper's 0.537 mAP is on FSD50K's 200 classes; ours are on "
                 f"{c['classes'] or '?'} classes of soundmix-mini (the transformer shown is the one chosen on "
                 f"validation), so the two are {c5c['at_budget']} (claim 5c).")
    return "\n\n".join(paras)


def _sweep_change(change: dict[str, Any] | None) -> str:
    """``; from the least audio to the most it moved by +x [lo, hi] (which way)`` for the sweep's paired change."""
    if not change:
        return ""
    way = ("towards the transformer" if change["low"] > 0 else "towards the CNN" if change["high"] < 0
           else "a change the interval cannot resolve")
    return f"; from the least audio to the most it moved by {_iv_row(change)} ({way})"


def _iv_row(row: dict[str, Any], digits: int = 3) -> str:
    """A stored comparison row's mean and interval: ``-0.112 [-0.158, -0.065]``."""
    return f"{row['difference']:+.{digits}f} [{row['low']:+.{digits}f}, {row['high']:+.{digits}f}]"


def _pair(f: dict[str, Any], a: str, b: str) -> dict[str, Any] | None:
    """The comparison's stored row ``a − b`` (None where it was not run)."""
    c = f["comparison"]
    rows = (c or {}).get("rows") or []
    return next((r for r in rows if r["a"] == a and r["b"] == b), None)


def findings_table_markdown(profile: str, directory: Path | None = None) -> str:
    """The evidence table: every model of the comparison with its tuned learning rate, its validation mAP and its
    test mAP (mean ± sd over seeds), and its parameters, as a Markdown table."""
    f = findings(profile, directory)
    c = f["comparison"]
    if not c:
        return ""
    lines = ["| model | what it is | parameters | learning rate (chosen on validation) | validation mAP | "
             "test mAP |", "|---|---|---:|---:|---:|---:|"]
    for model, row in c["table"].items():
        params = f"{row['parameters']:,}" if row.get("parameters") else "–"
        mark = " (chosen)" if model == c["selected"] else ""
        lines.append(f"| `{model}`{mark} | {MODEL_NAMES[model]} | {params} | {row['lr']:g} | {row['validation']:.3f} | "
                     f"{row['test'][0]:.3f} ± {row['test'][1]:.3f} |")
    seeds = sorted({row["seeds"] for row in c["table"].values()})
    lines.append(f"\nmAP on the {c['validation_clips']} validation and {c['test_clips']} test clips of soundmix-mini, "
                 f"mean over {' or '.join(map(str, seeds))} seed{'' if seeds == [1] else 's'} (test: ± standard "
                 f"deviation), {c['steps']:,} steps on {c['train_clips']:,} training mixtures"
                 + (f"; label prior {c['prior_map']:.3f}." if c["prior_map"] is not None else "."))
    return "\n".join(lines)


def plot_findings(axes, profile: str, directory: Path | None = None):
    """The evidence figure on two axes: each sweep model's test mAP against minutes of unique training audio
    (mean ± seed sd; the data sweep of the comparison), and, from the study on the earlier split, the gap
    `transformer-average` − `cnn-vgg` with its 95% interval at each measured step count, its piecewise slopes
    written beside each segment (no line drawn past the last measured point)."""
    f = findings(profile, directory)
    left, right = axes
    c = f["comparison"]
    points = (c or {}).get("sweep", {}).get("points", [])
    if points:
        for model in c["sweep"]["models"]:
            xs = [p["unique_minutes"] for p in points if p["map"].get(model)]
            vals = [list(p["map"][model].values()) for p in points if p["map"].get(model)]
            left.errorbar(xs, [np.mean(v) for v in vals], yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals],
                          fmt="o-", capsize=3, ms=4, label=model)
        left.set(xscale="log", xlabel="minutes of unique training audio (recordings, not mixtures)",
                 ylabel="test mAP", title="More unique audio: the data sweep")
        left.set_xticks([p["unique_minutes"] for p in points], [f"{p['unique_minutes']:.1f}" for p in points])
        left.minorticks_off()
        left.legend(fontsize=7)
    else:
        left.text(0.5, 0.5, "no data sweep in results/", ha="center", transform=left.transAxes)
    g = f.get("gap_by_steps") or []
    if not g:
        right.text(0.5, 0.5, "no chapter-5 study in results/", ha="center", transform=right.transAxes)
        return f
    x = [st for st, _ in g]
    y = [cmp.interval.mean for _, cmp in g]
    right.errorbar(x, y, yerr=[[cmp.interval.mean - cmp.interval.low for _, cmp in g],
                               [cmp.interval.high - cmp.interval.mean for _, cmp in g]], fmt="o-", capsize=3,
                   color="k")
    for a, b, rate in f["slopes"]:
        ya, yb = dict(zip(x, y))[a], dict(zip(x, y))[b]
        right.annotate(f"{rate:+.3f} per doubling", (np.sqrt(a * b), (ya + yb) / 2), textcoords="offset points",
                       xytext=(0, 8), ha="center", fontsize=8)
    right.axhline(0, color="grey", lw=0.8)
    right.set(xscale="log", xlabel="optimiser steps", ylabel="mAP difference (95% interval)",
              title=f"{TRANSFORMER} − {CNN} (earlier split): measured points only")
    right.set_xticks(x, [f"{t:,}" for t in x])
    right.minorticks_off()
    return f
