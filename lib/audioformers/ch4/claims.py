"""Chapter 4's claims for the reproduction report (textless audio language modelling, the lecture's numbers),
and the series the report's page draws from the same results files.

The probe orderings read, per probe dataset, the fold table ``probe-table-<dataset>`` (``metrics["per_fold"] =
{method: [[accuracy per seed] per fold]}``, the interval over folds of held-out sources) where it exists, else the
per-seed records ``probes-<dataset>-seed<N>`` with ``metrics["probe"][<method>]["per_source"] = {<source>:
accuracy}`` where they record them. 4a and 4b are read with the protocol's two-level interval over seeds × test
sources (the GM programs, the drum kits: each the test source of one fold), from the table's ``per_source``; the
interval over folds is shown beside it. Claim 4c reads the real-piano record (``two-notes-piano``), else the
synthetic two-note clip (``two-notes``).

The framework (:class:`~audioformers.evaluation.claims.Claim`, the loaders) is :mod:`audioformers.evaluation.claims`.
Notebooks: ``chapters/04_textless_audio_lm.ipynb`` (its verdicts), ``chapters/R_reproduction_report.ipynb``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from audioformers.core.profiles import validate_profile
from audioformers.core.results import results_dir
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev
from audioformers.evaluation.claims import (LECTURE, Claim, Measured, Published, Series, dig, load, load_glob,
                                            mean_std, missing, paired, provenance, seeds_needed, sources_note)

#: The paper's training data, in the unit this chapter's budget counts (EVIDENCE rule 9).
PAPER = bg.PaperData("Verma & Smith 2020", None, "clips", "not stated in our sources", "lecture", "Stanford CS25 lecture (P. Verma)")


def chapter_budget(record: dict[str, Any]) -> bg.Budget | None:
    """Chapter 4's probes: the pre-training steps of the next-code model and SimCLR (the paper's data size is
    not in our sources)."""
    cfg = record.get("config") or {}
    lm, simclr = bg.number(cfg.get("lm_steps")), bg.number(cfg.get("simclr_steps"))
    if lm is None and simclr is None:
        return None
    facts = str((record.get("metrics") or {}).get("facts") or "")
    pool = re.search(r"pool of (\d+)", facts)
    steps = " / ".join(f"{v:,.0f} {name}" for v, name in ((lm, "next-code"), (simclr, "SimCLR")) if v is not None)
    text = f"{steps} pre-training steps" + (f" on {int(pool.group(1)):,} clips" if pool else "")
    return bg.Budget(text, bg.fraction_of_paper(PAPER, 0.0))


PUBLISHED: tuple[Published, ...] = (
    Published("4a-simclr", "55%", "lecture", LECTURE, None, "linear probe, SimCLR embedding; the lecture's data",
              0.55),
    Published("4a-code_lm", "60%", "lecture", LECTURE, None,
              "linear probe, next-code transformer embedding; the lecture's data", 0.60),
    Published("4b", "≈ +10 points", "lecture", LECTURE, None, "supervised VGG-style model vs the self-supervised ones"),
    Published("4c", "qualitative", "lecture", LECTURE, None, "two alternating piano notes, k-means codes"),
)

#: Published numbers drawn beside ours on the page's chapter-4 figure: label -> key.
FIGURE_PUBLISHED = {"simclr": "4a-simclr", "code_lm": "4a-code_lm"}

PROBE_DATASETS = ("instruments-mini-xl", "instruments-mini", "drums-mini")


def _probe_runs(profile: str, directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Per probe dataset, the per-seed probe records."""
    out = {}
    for dataset in PROBE_DATASETS:
        records = [r for r in load_glob(directory, "ch4", f"probes-{dataset}-seed*", profile)
                   if dig(r, "metrics.probe")]
        if records:
            out[dataset] = records
    return out


def _probe_facts(records: list[dict[str, Any]]) -> str:
    if isinstance(dig(records[0], "metrics.facts"), str):  # chapter 4's fold study says what it ran
        return records[0]["metrics"]["facts"]
    r, cfg = records[0], records[0].get("config", {})
    clips, sources = dig(r, "metrics.num_clips") or {}, dig(r, "metrics.num_sources") or {}
    times = {k: mean_std([dig(x, f"metrics.times.{k}") or 0.0 for x in records])[0]
             for k in ("code_lm_s", "simclr_s", "supervised_s")}
    return (f"pre-training on the probe's {clips.get('train', '?')} training clips ({sources.get('train', '?')} "
            f"sources): {cfg.get('lm_steps', '?')} next-code steps ({times['code_lm_s']:.0f} s), "
            f"{cfg.get('simclr_steps', '?')} SimCLR steps ({times['simclr_s']:.0f} s), "
            f"{cfg.get('supervised_steps', '?')} supervised steps ({times['supervised_s']:.0f} s); test "
            f"{clips.get('test', '?')} clips from {sources.get('test', '?')} held-out sources")


def _probe_comparison(records, a: str, b: str | Callable) -> tuple[ev.Comparison, bool]:
    blocks_a = [r["metrics"]["probe"][a] for r in records]
    b_name = b({m: [r["metrics"]["probe"][m]["test_accuracy"] for r in records]
                for m in records[0]["metrics"]["probe"] if all(m in r["metrics"]["probe"] for r in records)}) \
        if callable(b) else b
    blocks_b = [r["metrics"]["probe"][b_name] for r in records]
    xa, xb, found = paired(blocks_a, blocks_b, None, lambda block: block["test_accuracy"])
    return ev.compare(xa, xb, names=(a, b_name)), found


def source_scores(table_metrics: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per representation, the ``(seeds, test sources)`` accuracies of a probe table (``metrics["per_source"] =
    {method: {source: [accuracy per seed]}}``; every source -- a GM program, a drum kit -- is a test source in
    exactly one fold). Sources are sorted by name, so every representation's columns are the same sources."""
    per_source = table_metrics.get("per_source") or {}
    out = {}
    for m, rows in per_source.items():
        if isinstance(rows, dict) and rows:
            out[m] = np.array([rows[name] for name in sorted(rows)], dtype=np.float64).T
    return out


def _source_comparison(scores: dict[str, np.ndarray], a: str, b: str | Callable) -> ev.Comparison | None:
    """The protocol's two-level interval over seeds × test sources (programs, kits) of a probe table's
    :func:`source_scores`."""
    if a not in scores or not any(m in scores for m in ("code_lm", "simclr")):
        return None
    b_name = b({m: list(np.ravel(v)) for m, v in scores.items()}) if callable(b) else b
    if a not in scores or b_name not in scores or scores[a].shape != scores[b_name].shape or scores[a].shape[1] < 2:
        return None
    return ev.compare(scores[a], scores[b_name], names=(a, b_name))


def _fold_comparison(per_fold: dict[str, Any], a: str, b: str | Callable) -> ev.Comparison | None:
    """From ``metrics["per_fold"] = {method: [[accuracy per seed] per fold]}`` of a probe table (the interval over
    seeds × folds: shown beside the one over test sources)."""
    b_name = b({m: list(np.ravel(v)) for m, v in per_fold.items()}) if callable(b) else b
    if a not in per_fold or b_name not in per_fold or len(per_fold[a]) < 2:
        return None
    return ev.compare(per_fold[a], per_fold[b_name], names=(a, b_name), folds=True)


def pipeline_loss(profile: str, directory: Path, dataset: str) -> str:
    """What the pipeline table of ``dataset`` says about claim 4a, from ``pipeline-<dataset>`` and
    ``pretrain-<dataset>``: the stage that loses the most (its paired step with the interval), whether it is the
    tokenizer, the pool k-means was fitted on -- so what 4a compares. '' without a pipeline record."""
    record = load(directory, "ch4", f"pipeline-{dataset}", profile)
    steps = dig(record, "metrics.steps") if record else None
    if not isinstance(steps, dict) or not steps:
        return ""
    key, worst = min(steps.items(), key=lambda kv: kv[1]["mean"])
    pool = dig(load(directory, "ch4", f"pretrain-{dataset}", profile), "metrics.unlabelled") or {}
    minutes = sum((pool.get("seconds_of_audio") or {}).values()) / 60
    kinds = ", ".join(sorted(pool.get("clips") or {})) or "music, speech and events"
    where = {"centroid - bottleneck": "the tokenizer's k-means (centroids below the bottleneck)",
             "histogram - centroid": "the code histogram (below the centroids)",
             "bottleneck - log_mel": "the autoencoder (its bottleneck below the log-mel)",
             "lm_states - histogram": "the next-code model (below its code histogram)"}.get(key, key)
    text = (f"the pipeline table's largest loss is {where}: {key.replace(' - ', ' − ')} = "
            f"{100 * worst['mean']:+.1f} pts [{100 * worst['ci_low']:+.1f}, {100 * worst['ci_high']:+.1f}]")
    if key in ("centroid - bottleneck", "histogram - centroid", "bottleneck - log_mel"):
        text += (f", so 4a mostly compares a k-means tokenizer fitted on a {minutes:.0f}-minute out-of-domain pool "
                 f"({kinds}) with a CNN on the log-mel, not two training objectives")
    return text


def _ch4_gate(comp: ev.Comparison, scores: dict[str, Any], chance: Any, folds: bool) -> tuple[ev.Comparison, str]:
    """:data:`evidence.BASELINE_RULE` for a probe comparison: each compared representation against the untrained
    encoder (``scores["untrained"]``) where results/ hold it, else against chance; the note names any below it."""
    if "untrained" in scores:
        name, base = "untrained encoder", np.asarray(scores["untrained"], dtype=np.float64)
    elif isinstance(chance, (int, float)):
        name, base = "chance", np.full(np.shape(scores[comp.a]), float(chance))
    else:
        return comp, ""
    checks = [ev.compare(scores[m], base, names=(m, name), folds=folds) for m in (comp.a, comp.b)]
    word = ev.gate(comp.verdict, [c.interval for c in checks])
    below = "".join(f" ({c.a} not above the {name}: {c.line(scale=100, digits=1, unit=' pts')})"
                    for c in checks if not ev.above_baseline(c.interval))
    return ev.Comparison(comp.a, comp.b, comp.interval, word, comp.claimed), below


def _best_self_supervised(values: dict[str, list[float]]) -> str:
    """The better self-supervised method by mean accuracy (``values``: method -> accuracies)."""
    means = {m: float(np.mean(values[m])) for m in ("code_lm", "simclr") if m in values}
    return max(means, key=means.get)


def _ch4_order(first: str, second: str | Callable) -> Callable[[str, Path], Measured]:
    def measure(profile: str, directory: Path) -> Measured:
        runs = _probe_runs(profile, directory)
        texts, verdicts, comps, notes, records_all = [], [], [], [], []
        for dataset in PROBE_DATASETS:
            table = load(directory, "ch4", f"probe-table-{dataset}", profile)
            by_source = source_scores(table["metrics"]) if table else {}
            comp = _source_comparison(by_source, first, second)
            records = runs.get(dataset, [])
            per_fold = dig(table, "metrics.per_fold") if table else None
            if comp is None and isinstance(per_fold, dict) and (fold_only := _fold_comparison(per_fold, first, second)):
                # a table without per-source scores: the interval over seeds × folds
                comp, below = _ch4_gate(fold_only, per_fold, dig(table, "metrics.chance"), folds=True)
                records_all.append(table)
                notes.append(f"{dataset}: {len(per_fold[first])} folds over held-out sources (no per-source scores "
                             "recorded)" + (f"; {_probe_facts(records)}" if records else ""))
            elif comp is not None:
                comp, below = _ch4_gate(comp, by_source, dig(table, "metrics.chance"), folds=False)
                per_fold = dig(table, "metrics.per_fold") or {}
                fold_comp = _fold_comparison(per_fold, comp.a, comp.b) if isinstance(per_fold, dict) else None
                records_all.append(table)
                notes.append(f"{dataset}: {by_source[first].shape[1]} held-out test sources (each the test source "
                             f"of one of {dig(table, 'metrics.folds')} folds) × {by_source[first].shape[0]} seed(s)"
                             + (f"; over the folds instead: {fold_comp.interval.text(100, 1, ' pts')}"
                                if fold_comp is not None else "")
                             + (f"; {pipeline_loss(profile, directory, dataset)}"
                                if first == "code_lm" and pipeline_loss(profile, directory, dataset) else "")
                             + (f"; {_probe_facts(records)}" if records else ""))
            elif len(records) >= 2 and all(first in r["metrics"]["probe"] for r in records):
                comp, found = _probe_comparison(records, first, second)
                seeds = {m: [r["metrics"]["probe"][m]["test_accuracy"] for r in records]
                         for m in (comp.a, comp.b, "untrained") if all(m in r["metrics"]["probe"] for r in records)}
                comp, below = _ch4_gate(comp, seeds, dig(records[0], "metrics.chance"), folds=False)
                records_all += records
                note = sources_note(found, (dig(records[0], "metrics.num_sources") or {}).get("test"),
                                     "held-out sources")
                notes.append(f"{dataset}: {_probe_facts(records)}" + (f"; {note}" if note else ""))
            else:
                continue
            comps.append(comp)
            verdicts.append(comp.verdict)
            texts.append(f"{dataset}: {comp.line(scale=100, digits=1, unit=' pts')}{below}")
        if not texts:
            return missing(profile, "chapter 4's probe study")
        verdict = ev.combine(verdicts)
        device, seconds = provenance(records_all)
        study = load_glob(directory, "ch4", "study*", profile) + load_glob(directory, "ch4", "pretrain*", profile)
        if verdict == ev.REPRODUCED:
            take = "–"
        elif verdict == ev.INCONCLUSIVE:
            take = next((seeds_needed(c.interval) for c in comps
                         if c.verdict == ev.INCONCLUSIVE and (c.interval.parts or c.interval.method.startswith("t interval"))), "")
            take = take or "more test sources (folds over held-out sources) than the current split holds"
        else:
            longer = _ch4_longer_pretraining(profile, directory)
            take = (longer or "no pre-training study in results/ch4 yet: the budget at which the ordering could "
                    "turn is not measured" if not study else longer or "see chapter 4's pre-training curves")
        if verdict == ev.NOT_YET_EVIDENCE:
            take = ("first, pre-training until both representations are above the untrained encoder (or chance) on "
                    f"every dataset; then: {take}")
        budget = next((b for d in PROBE_DATASETS for r in runs.get(d, [])[:1] if (b := chapter_budget(r))), None)
        return Measured("; ".join(texts), verdict, " | ".join(notes), take, device, seconds, tuple(comps), budget)

    return measure


def _ch4_longer_pretraining(profile: str, directory: Path) -> str:
    """The chapter-4 study's 5x pre-training, paired over folds and the seeds it holds, per dataset; '' if none."""
    from audioformers.ch4 import study as ch4_study

    texts = []
    for dataset in PROBE_DATASETS:
        study = load(directory, "ch4", f"study-{dataset}", profile)
        table = load(directory, "ch4", f"probe-table-{dataset}", profile)
        if study and table:
            lines = ch4_study.pretraining_lines(study["metrics"], table["metrics"])
            if lines:
                seeds = sorted({x for row in (study["metrics"].get("pretrain_scale") or {}).values()
                                for x in (row.get("seeds") or [0])})
                texts.append(f"{dataset}, longer pre-training (seeds {', '.join(map(str, seeds))}, paired over "
                             "folds): " + "; ".join(lines))
    return " | ".join(texts)


def _ch4_codes(profile: str, directory: Path) -> Measured:
    """4c from the real-piano record (``two-notes-piano``: every test piece of piano-mini, a t interval over the
    clips of the fall in shared patches from the smallest to the largest K, and the count of clips where the
    claim holds), else from the one synthetic clip (``two-notes``)."""
    piano = load(directory, "ch4", "two-notes-piano", profile)
    clips = dig(piano, "metrics.clips") if piano else None
    if isinstance(clips, list) and len(clips) >= 2:
        falls = np.array([c["fall"] for c in clips], dtype=np.float64)
        ks = sorted(row["K"] for row in clips[0]["table"])
        iv = ev.t_interval(falls, what="clips", sources=len(clips), seeds=1,
                           note="one k-means seed per clip; each clip a different chorale")
        comp = ev.Comparison(f"shared at K={ks[0]}", f"shared at K={ks[-1]}", iv, ev.verdict(iv))
        holds, margin = int(dig(piano, "metrics.holds")), float(dig(piano, "metrics.margin"))

        def shared(k: int) -> float:
            return float(np.mean([next(r["shared_patch_fraction"] for r in c["table"] if r["K"] == k) for c in clips]))

        text = (f"holds on {holds} of {len(clips)} real piano clips (a fall of at least {margin:.0%} in patches whose "
                f"code both segments use, from K={ks[0]} to K={ks[-1]}); mean shared {shared(ks[0]):.0%} at "
                f"K={ks[0]}, {shared(ks[-1]):.0%} at K={ks[-1]}; fall {iv.text(100, 0, ' pts')}")
        cfg = piano.get("config", {})
        why = (f"{len(clips)} test chorales of piano-mini (rendered grand piano, 16 kHz): per clip the two "
               f"{cfg.get('segment_seconds', '?')} s segments with the most different pitch classes, alternating "
               f"{cfg.get('repeats', '?')} times each, noise {cfg.get('snr_db', '?')} dB below; k-means per clip with "
               f"K = {', '.join(map(str, ks))} on {cfg.get('tokenizer', 'the chapter tokenizer')}'s bottleneck")
        return Measured(text, comp.verdict, why, "–", str(piano.get("device", "")), piano.get("wall_time_s"), (comp,),
                        bg.Budget(f"{len(clips)} real piano clips"))
    record = load(directory, "ch4", "two-notes", profile)
    table = dig(record, "metrics.table") if record else None
    if not table:
        return missing(profile, "chapter 4's two-note example")
    rows = sorted(table, key=lambda r: r["K"])
    few, many = rows[0], rows[-1]
    iv = ev.exact(few["shared_patch_fraction"] - many["shared_patch_fraction"],
                  "one rendered clip: a deterministic count, no sampling interval")
    comp = ev.Comparison(f"shared at K={few['K']}", f"shared at K={many['K']}", iv, ev.verdict(iv))
    text = (f"patches whose code both notes use: {few['shared_patch_fraction']:.0%} at K={few['K']}, "
            f"{many['shared_patch_fraction']:.0%} at K={many['K']}; codes per note at K={many['K']}: "
            f"{', '.join(str(n) for n in many['codes_per_pitch'])}")
    cfg = record.get("config", {})
    why = (f"one clip of two alternating notes (MIDI {', '.join(str(p) for p in dig(record, 'metrics.pitches') or [])}, "
           f"{cfg.get('note_seconds', '?')} s each, noise {dig(record, 'metrics.snr_db')} dB below), k-means with "
           f"K = {', '.join(str(r['K']) for r in rows)}; {iv.note}")
    return Measured(text, comp.verdict, why, "–", str(record.get("device", "")), record.get("wall_time_s"), (comp,),
                    bg.Budget("one rendered clip"))


E, M = ev.EMPIRICAL, ev.MECHANISM

CLAIMS: tuple[Claim, ...] = (
    Claim("4a", "ch4", E, "Linear probe: next-code transformer above SimCLR", "lecture", ("4a-code_lm", "4a-simclr"),
          _ch4_order("code_lm", "simclr")),
    Claim("4b", "ch4", E, "A supervised VGG-style model is above the self-supervised ones", "lecture", ("4b",),
          _ch4_order("supervised_cnn", _best_self_supervised)),
    Claim("4c", "ch4", M, "Too few codes merge two alternating piano notes; more codes separate them", "lecture",
          ("4c",), _ch4_codes),
)


# --- the report page's series ---------------------------------------------------------------------

def ch4_series(profile: str, directory: Path | None = None) -> dict[str, Series]:
    """Per probe dataset: method -> (mean, std, n) test accuracy, from the file the report's rows read: the
    fold table (mean and std over folds of each fold's seed-averaged accuracy, n = folds) where it exists,
    else the per-seed probe records (over seeds)."""
    profile, directory = validate_profile(profile), directory or results_dir()
    out: dict[str, Series] = {}
    for dataset in PROBE_DATASETS:
        per_fold = dig(load(directory, "ch4", f"probe-table-{dataset}", profile), "metrics.per_fold")
        if isinstance(per_fold, dict) and per_fold:
            folds = {m: np.asarray(v, dtype=np.float64).reshape(len(v), -1).mean(axis=1) for m, v in per_fold.items()
                     if not m.startswith("lm_layer")}
            out[dataset] = {m: (*mean_std(v), len(v)) for m, v in folds.items()}
    for dataset, records in _probe_runs(profile, directory).items():
        if dataset in out:
            continue
        methods = [m for m in records[0]["metrics"]["probe"] if not m.startswith("code_lm_layer")]
        out[dataset] = {m: (*mean_std([r["metrics"]["probe"][m]["test_accuracy"] for r in records]), len(records))
                        for m in methods if all(m in r["metrics"]["probe"] for r in records)}
    return out
