"""Chapter 4's "What we found": the chapter's findings in plain sentences, with their budgets and intervals,
generated from ``results/ch4`` so that the text cannot drift from the records.

The verdicts are the report's own (:data:`audioformers.ch4.claims.CLAIMS`, the functions the report calls); the
other intervals use the same protocol and levels (:func:`audioformers.evaluation.evidence.compare`: the two-level
interval over seeds × held-out test sources, from the probe table's ``per_source``).

Notebook: chapters/04_textless_audio_lm.ipynb, section "What we found".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from audioformers.ch4 import claims
from audioformers.ch4.tables import LABELS
from audioformers.core.profiles import validate_profile
from audioformers.core.results import results_dir
from audioformers.evaluation import evidence as ev
from audioformers.evaluation.claims import dig, load

#: the probe datasets in the order the text names them, with what their labels and held-out sources are
DATASETS = {"instruments-mini-xl": ("instrument family", "held-out GM programs"),
            "drums-mini": ("drum class", "held-out drum kits"),
            "instruments-mini": ("instrument family", "held-out GM programs")}

#: the representations of the chapter's table, in its order: name in results/ -> what the text calls it
TABLE_ROWS = {**{k: v for k, v in LABELS.items()}, "untrained": "untrained encoder (random weights)"}


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _interval(comp: ev.Comparison) -> str:
    """``-12.0 points [-19.4, -4.6]`` from a comparison of accuracies."""
    iv = comp.interval
    return f"{_pts(iv.mean)} points [{_pts(iv.low)}, {_pts(iv.high)}]"


def _compare(scores: dict[str, Any], a: str, b: str) -> ev.Comparison | None:
    """``a − b`` over seeds × test sources (``scores``: :func:`audioformers.ch4.claims.source_scores`)."""
    if a not in scores or b not in scores or np.shape(scores[a]) != np.shape(scores[b]) or np.shape(scores[a])[1] < 2:
        return None
    return ev.compare(scores[a], scores[b], names=(a, b))


def study_records(profile: str, directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per probe dataset with a stored fold study: its ``probe-table``, ``pipeline`` and ``pretrain`` records
    (whatever their config: this reads what results/ holds, as the report does)."""
    profile, directory = validate_profile(profile), directory or results_dir()
    out = {}
    for dataset in DATASETS:
        records = {kind: load(directory, "ch4", f"{kind}-{dataset}", profile)
                   for kind in ("probe-table", "pipeline", "pretrain")}
        if all(records.values()):
            out[dataset] = records
    return out


def findings(profile: str, directory: Path | None = None) -> dict[str, Any]:
    """The numbers the text states, per dataset, and the report's verdicts of claims 4a-4c (structured, for the
    text and its tests)."""
    profile, directory = validate_profile(profile), directory or results_dir()
    out: dict[str, Any] = {"datasets": {}, "claims": {}}
    for claim in claims.CLAIMS:
        measured = claim.measure(profile, directory)
        out["claims"][claim.key] = {"statement": claim.statement, "verdict": measured.verdict,
                                    "at_budget": measured.budget.words(measured.verdict) if measured.budget
                                    else measured.verdict,
                                    "comparisons": measured.comparisons}
    for dataset, records in study_records(profile, directory).items():
        m = records["probe-table"]["metrics"]
        per_fold = claims.source_scores(m)  # (seeds, test sources) per representation
        cfg = records["probe-table"].get("config") or {}
        pre = records["pretrain"]["metrics"]
        unlabelled = pre.get("unlabelled") or {}
        seconds = unlabelled.get("seconds_of_audio") or {}
        row = {"folds": m["folds"], "seeds": m["seeds"], "chance": m["chance"], "num_sources": m["num_sources"],
               "num_clips": m["num_clips"],
               "accuracy": {k: m["table"][k]["mean"] for k in TABLE_ROWS if k in m["table"]},
               "fold_std": {k: m["table"][k]["fold_std"] for k in TABLE_ROWS if k in m["table"]},
               "lm_steps": cfg.get("lm_steps"), "simclr_steps": cfg.get("simclr_steps"),
               "pool_clips": unlabelled.get("pool_clips"),
               "pool_minutes": sum(seconds.values()) / 60 if seconds else None,
               "untrained": "untrained" in per_fold,
               "interior_fraction": dig(m, "probe_c.interior_fraction"),
               "probe_rule": dig(m, "probe_c.rule") or "argmax", "grid": dig(m, "probe_c.grid"),
               "test_ce": _held_out_ce(pre)}
        for a, b in (("code_lm", "simclr"), ("code_lm", "mel_stats"), ("simclr", "mel_stats"),
                     ("centroid", "bottleneck"), ("bottleneck", "mel_stats"), ("lm_states", "centroid"),
                     ("code_lm", "untrained"), ("simclr", "untrained"), ("supervised_cnn", "simclr")):
            comp = _compare(per_fold, a, b)
            if comp is not None:
                row[f"{a} - {b}"] = comp
        out["datasets"][dataset] = row
    study = load(directory, "ch4", "study-instruments-mini-xl", profile)
    table = out["datasets"].get("instruments-mini-xl")
    if study and table:
        from audioformers.ch4 import study as ch4_study

        probe_table = load(directory, "ch4", "probe-table-instruments-mini-xl", profile)["metrics"]
        out["longer"] = ch4_study.pretraining_lines(study["metrics"], probe_table)
        seeds = sorted({x for row in (study["metrics"].get("pretrain_scale") or {}).values()
                        for x in (row.get("seeds") or [0])} & set(probe_table["seeds"]))
        out["longer_seeds"] = f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
    return out


def _held_out_ce(pre: dict[str, Any]) -> tuple[float, float, int] | None:
    """The next-code model's cross-entropy at the end of pre-training, mean over seeds: ``(held-out, train,
    seeds)``; None where the record holds no held-out value."""
    pairs = []
    for curve in (pre.get("lm_curve") or {}).values():
        test, train = (curve or {}).get("test_ce") or [], (curve or {}).get("train_ce") or []
        if test and isinstance(test[-1], (int, float)) and np.isfinite(test[-1]) and train:
            pairs.append((float(test[-1]), float(train[-1])))
    if not pairs:
        return None
    return float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs])), len(pairs)


_LINE = re.compile(r"^(.*?) − (.*?) = ([+-]?[0-9.]+) pts \[([+-]?[0-9.]+) pts, ([+-]?[0-9.]+) pts\]")


def _parse_line(line: str) -> tuple[str, tuple[float, float, float]] | None:
    """``('code_lm at 6000 steps minus code_lm at 1200 steps', (mean, low, high))`` in points from a comparison line; None if unreadable."""
    m = _LINE.match(line)
    return (f"{m.group(1)} minus {m.group(2)}", (float(m.group(3)), float(m.group(4)), float(m.group(5)))) if m else None


def _pts3(v: tuple[float, float, float]) -> str:
    return f"{v[0]:+.1f} points [{v[1]:+.1f}, {v[2]:+.1f}]"


def _budget_sentence(row: dict[str, Any]) -> str:
    pool = (f"an unlabelled pool of {row['pool_clips']:,} one-second clips"
            + (f" ({row['pool_minutes']:.0f} minutes of music, speech and events)" if row["pool_minutes"] else "")
            if row["pool_clips"] else "an unlabelled pool")
    return (f"{row['lm_steps']:,} next-code and {row['simclr_steps']:,} SimCLR pre-training steps on {pool}; the "
            "paper's data size is not stated in our sources, so no fraction of it can be given")


def findings_markdown(profile: str, directory: Path | None = None) -> str:
    """The section "What we found" as Markdown: a few paragraphs a student can repeat, every number from
    ``results/ch4`` (the intervals: 95% t over folds of held-out sources, seeds averaged inside each fold)."""
    f = findings(profile, directory)
    if not f["datasets"]:
        return (f"The probe study has not been run at the `{validate_profile(profile)}` profile: "
                f"`python -m audioformers.ch4.experiment --profile {validate_profile(profile)}` runs it.")
    names = list(f["datasets"])
    first = f["datasets"][names[0]]
    method = next((r[k].interval.describe().split(" over")[0] for r in f["datasets"].values() for k in r
                   if isinstance(r[k], ev.Comparison)), "95% interval")
    probe = ""
    if first.get("probe_rule") == "one_se" and isinstance(first.get("interior_fraction"), (int, float)):
        inside = ", ".join(f"{d} {r['interior_fraction']:.0%}" for d, r in f["datasets"].items()
                           if isinstance(r.get("interior_fraction"), (int, float)))
        probe = (f" The probe's regularisation C is chosen on the validation sources by the one-standard-error rule "
                 f"(the strongest regularisation within one standard error of the best) on a grid from "
                 f"{min(first['grid']):g} to {max(first['grid']):g}; the choice is inside the grid in {inside} of "
                 "the choices.")
    ce = ""
    if first.get("test_ce"):
        test, train, n = first["test_ce"]
        ce = (f" The next-code model ends pre-training at a held-out cross-entropy of {test:.2f} nats per code "
              f"(train {train:.2f}; mean over {n} seed(s), on crops of the unlabelled datasets' test splits).")
    paras = [f"**The budget.** Every number below was measured at {_budget_sentence(first)}. The probes are "
             "linear, trained on some sources and tested on others, with every representation pooled the same "
             f"way; an interval in brackets is the {method} over seeds and held-out test sources (GM programs, drum "
             f"kits; the report's protocol).{probe}{ce}"]
    acc = []
    for dataset, row in f["datasets"].items():
        what, sources = DATASETS[dataset]
        a = row["accuracy"]
        acc.append(f"on {dataset} ({what}, {row['folds']} folds of {sources}, chance {row['chance']:.0%}) the next-code "
                   f"model's states score {a['lm_states']:.1%}, SimCLR's CNN {a['simclr']:.1%}, mel statistics "
                   f"{a['mel_stats']:.1%} and the supervised CNN {a['supervised_cnn']:.1%}")
    gaps = "; ".join(f"{d}: {_interval(r['code_lm - simclr'])}" for d, r in f["datasets"].items()
                     if "code_lm - simclr" in r)
    c4a = f["claims"].get("4a", {})
    below = all(r["accuracy"]["lm_states"] < r["accuracy"]["simclr"] for r in f["datasets"].values())
    paras.append("**The ordering.** " + ("On average a linear probe reads the label off SimCLR better than off the "
                                         "next-code model: " if below else "Probe accuracies: ")
                 + "; ".join(acc) + f". The next-code model minus SimCLR is {gaps}. The lecture's ordering (next-code "
                 f"60% above SimCLR 55%) is, by the report's rule, {c4a.get('at_budget', 'not yet run')}.")
    mel = "; ".join(f"{d}: {_interval(r['code_lm - mel_stats'])}" for d, r in f["datasets"].items()
                    if "code_lm - mel_stats" in r)
    untrained = [d for d, r in f["datasets"].items() if r["untrained"]]
    if untrained:
        against = "; ".join(f"{d}: {_interval(f['datasets'][d]['code_lm - untrained'])}" for d in untrained
                            if "code_lm - untrained" in f["datasets"][d])
        simclr = "; ".join(f"{d}: {_interval(f['datasets'][d]['simclr - untrained'])}" for d in untrained
                           if "simclr - untrained" in f["datasets"][d])
        base = (f"The next-code model is compared with an untrained encoder (SimCLR's CNN with random weights, the "
                f"same pooling and probe): next-code minus untrained is {against}; SimCLR minus untrained is "
                f"{simclr}. A model not above it has not yet learned anything a random network does not give, and "
                "the report reads an ordering that involves it as *not yet evidence*.")
    else:
        base = ("results/ch4 holds no untrained-encoder row yet, so the next-code model has not been compared with "
                "an untrained encoder: whether pre-training taught it anything a random network does not already "
                "give is not measured here.")
    paras.append(f"**Against the trivial baselines.** {base} Against mel statistics (a fixed summary of the "
                 f"log-mel, no training) the next-code model is {mel}.")
    steps = "; ".join(f"{d}: centroids minus bottleneck {_interval(r['centroid - bottleneck'])}, next-code states "
                      f"minus centroids {_interval(r['lm_states - centroid'])}" for d, r in f["datasets"].items()
                      if "centroid - bottleneck" in r and "lm_states - centroid" in r)
    lost = [d for d, r in f["datasets"].items()
            if "centroid - bottleneck" in r and r["centroid - bottleneck"].interval.high < 0]
    adds = [d for d, r in f["datasets"].items()
            if "lm_states - centroid" in r and r["lm_states - centroid"].interval.low > 0]
    where = (f"The measurable loss sits in the tokenizer, where k-means replaces each bottleneck vector by its nearest "
             f"centroid (below zero on {', '.join(lost)}), below the language model"
             if lost else "No single stage's loss is measurable at this budget")
    where += (", which adds nothing measurable over its own input" if not adds else
              f"; the language model adds to its input on {', '.join(adds)}")
    paras.append("**Where the information is lost.** The pipeline figure probes every stage the next-code model "
                 f"depends on, with the same probe: {steps}. {where}. So claim 4a, as measured here, compares a "
                 "k-means tokenizer (trained on the pool) with a CNN on the log-mel more than it compares two "
                 "training objectives.")
    sup = "; ".join(f"{d}: {_interval(r['supervised_cnn - simclr'])}" for d, r in f["datasets"].items()
                    if "supervised_cnn - simclr" in r)
    c4b = f["claims"].get("4b", {})
    paras.append(f"**Labels.** The supervised CNN, trained per fold on a few thousand labelled clips, minus SimCLR "
                 f"is {sup}: by the report's rule claim 4b is {c4b.get('at_budget', 'not yet run')}.")
    if f.get("longer"):
        parsed = [_parse_line(line) for line in f["longer"]]
        if len(parsed) >= 3 and all(parsed):
            (lm_name, lm), (cnn_name, cnn), (_, gap) = parsed[:3]
            gains = [n.split(" at ")[0] for n, iv in ((lm_name, lm), (cnn_name, cnn)) if iv[1] > 0]
            paras.append(
                f"**Longer pre-training** (the command-line study: {f['longer_seeds']}, instruments-mini-xl, five "
                "times the steps): "
                f"{lm_name}: {_pts3(lm)}; {cnn_name}: {_pts3(cnn)}; the next-code model minus SimCLR at the longer "
                f"runs: {_pts3(gap)}. "
                + ("Neither model gains measurably" if not gains else f"Gains are measurable for {', '.join(gains)}")
                + (", and the next-code model stays below SimCLR: more pre-training on this pool is not what would "
                   "turn the ordering." if gap[2] < 0 else "; the ordering at the longer runs is not settled."))
    c4c = f["claims"].get("4c", {})
    piano = load(directory or results_dir(), "ch4", "two-notes-piano", validate_profile(profile))
    if piano and dig(piano, "metrics.clips"):
        paras.append(f"**Codes.** The lecture's mechanism (too few codes merge two alternating piano notes, more "
                     f"separate them), measured on two alternating segments of each of {dig(piano, 'metrics.num_clips')} "
                     f"real piano chorales (piano-mini's test pieces; section 4 shows the synthetic two-note clip): it "
                     f"holds on {dig(piano, 'metrics.holds')} of them, {c4c.get('at_budget', 'not yet run')}.")
    else:
        paras.append(f"**Codes.** The two-note example (section 4, one rendered clip) shows the lecture's mechanism: "
                     f"{c4c.get('at_budget', 'not yet run')}.")
    return "\n\n".join(paras)


def findings_table_markdown(profile: str, directory: Path | None = None) -> str:
    """The evidence table: probe test accuracy (mean over folds and seeds, ± sd over folds) of every
    representation on every probe dataset, as a Markdown table (names as in results/ and in the text)."""
    f = findings(profile, directory)
    names = list(f["datasets"])
    if not names:
        return ""
    rows = [k for k in TABLE_ROWS if any(k in f["datasets"][d]["accuracy"] for d in names)]
    lines = ["| representation | name | " + " | ".join(names) + " |",
             "|---|---|" + "---:|" * len(names)]
    for k in rows:
        cells = [(f"{f['datasets'][d]['accuracy'][k]:.3f} ± {f['datasets'][d]['fold_std'][k]:.3f}"
                  if k in f["datasets"][d]["accuracy"] else "–") for d in names]
        lines.append(f"| {TABLE_ROWS[k]} | `{k}` | " + " | ".join(cells) + " |")
    lines.append("| chance (the most frequent test class) | | "
                 + " | ".join(f"{f['datasets'][d]['chance']:.3f}" for d in names) + " |")
    return "\n".join(lines)
