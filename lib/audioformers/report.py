"""The reproduction report: every claim of the lecture and its papers beside what ``results/`` records.

Nothing on the page is typed by hand except :data:`PUBLISHED`, the one table of published numbers (each
with its source tag, reference and conditions). Every verdict comes from :mod:`audioformers.evaluation.evidence`
(the same protocol the chapters use), every "why" and every "what it would take" is generated from the
results files: steps, tokens, clips, training seconds, fitted slopes and extrapolated crossovers.

Two kinds of rows are counted apart: the papers' *empirical claims* (the headline counts these) and
*mechanism* facts the book demonstrates (the n² cost of attention, few codes merging notes, a front end's
filterbank moving with its data).

Per-test-source results, where a chapter records them, are read as:

* chapter 3: ``metrics[<model>]["per_source"][<metric>] = {<recording>: value}`` in each
  ``compare_<domain>_seed<N>`` file (and ``test_recordings``, the count, in ``metrics`` or ``config``);
* chapter 4: ``metrics["probe"][<method>]["per_source"] = {<source>: accuracy}`` in each
  ``probes-<dataset>-seed<N>`` file;
* chapter 5: ``metrics["runs"][i]["per_source"] = {<clip or source>: score}``.

Without them the interval covers seeds only and the row says ``test sources: 1``. Chapter 5's front-end
mechanism row reads ``results/ch5/front_end.<profile>.json`` with
``metrics["distance_to_energy_hz"] = {"initial": [per seed], "trained": [per seed]}``.

Notebook: ``chapters/R_reproduction_report.ipynb``.
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev
from audioformers.core.profiles import validate_profile
from audioformers.core.results import read_results_file, results_dir

SOURCE_TAGS = ("paper", "lecture", "secondary")


# --- the one table of published numbers -----------------------------------------------------------

@dataclass(frozen=True)
class Published:
    """A published number (or statement) with where it comes from and under which conditions."""

    key: str
    text: str  # as printed: "0.434", "up to +9%", "n²"
    tag: str  # paper | lecture | secondary
    reference: str  # who says it
    cite: str | None  # bibliography key of the work it comes from (None: the lecture)
    conditions: str
    value: float | None = None
    label: str = ""  # short name on figures

    def __post_init__(self) -> None:
        if self.tag not in SOURCE_TAGS:
            raise ValueError(f"tag must be one of {SOURCE_TAGS}, got {self.tag!r}")


_GEN, _FRAME, _AUDIO = ("verma2021generative", "verma2020framework", "verma2021audio")
_LECTURE = "Stanford CS25 lecture (P. Verma)"
_SECONDARY = "third-party summary of {}, not checked against the paper"

PUBLISHED: tuple[Published, ...] = (
    Published("3a", "up to +9%", "paper", "Verma & Chafe 2021", _GEN,
              "next-sample accuracy, causal transformer vs a stacked WaveNet, 16 kHz 8-bit piano"),
    Published("3b", "+2%", "paper", "Verma & Chafe 2021", _GEN, "conditioning on a wider past, same setting"),
    Published("3c-wavenet", "74%", "secondary", _SECONDARY.format("Verma & Chafe 2021"), _GEN,
              "top-5 of 256, WaveNet 10 layers; about 56 h of piano at 16 kHz, 100 ms context", 0.74),
    Published("3c-transformer", "80%", "secondary", _SECONDARY.format("Verma & Chafe 2021"), _GEN,
              "top-5 of 256, transformer 3 layers; same data", 0.80),
    Published("3c-conditioned", "82%", "secondary", _SECONDARY.format("Verma & Chafe 2021"), _GEN,
              "top-5 of 256, conditioned 3-layer transformer; same data", 0.82),
    Published("3d", "n² (1,600 × 1,600 per layer)", "lecture", _LECTURE, None,
              "100 ms at 16 kHz = 1,600 samples of context"),
    Published("4a-simclr", "55%", "lecture", _LECTURE, None, "linear probe, SimCLR embedding; the lecture's data",
              0.55),
    Published("4a-code_lm", "60%", "lecture", _LECTURE, None,
              "linear probe, next-code transformer embedding; the lecture's data", 0.60),
    Published("4b", "≈ +10 points", "lecture", _LECTURE, None, "supervised VGG-style model vs the self-supervised ones"),
    Published("4c", "qualitative", "lecture", _LECTURE, None, "two alternating piano notes, k-means codes"),
    Published("5a", "transformer > CNNs", "paper", "Verma & Berger 2021 (arXiv v1)", _AUDIO,
              "FSD50K, 200 classes, no unsupervised pre-training"),
    Published("5-transformer", "0.537", "secondary", _SECONDARY.format("Verma & Berger 2021"), _AUDIO,
              "FSD50K eval mAP, large 6-layer transformer with pooling", 0.537, label="audio transformer (v1)"),
    Published("fsd50k-vgg", "0.434", "paper", "Fonseca et al. 2022 (FSD50K)", "fonseca2022fsd50k",
              "FSD50K eval mAP, VGG-like baseline, log-mel, no pre-training", 0.434, label="VGG-like, no pre-training"),
    Published("fsd50k-resnet18", "0.373", "paper", "Fonseca et al. 2022 (FSD50K)", "fonseca2022fsd50k",
              "FSD50K eval mAP, ResNet-18 baseline, log-mel, no pre-training", 0.373, label="ResNet-18, no pre-training"),
    Published("psla", "0.567", "paper", "Gong et al. 2021 (PSLA)", "gong2021psla",
              "FSD50K eval mAP as stated in the abstract: EfficientNet with ImageNet pre-training, balanced sampling, "
              "augmentation and model ensembling", 0.567, label="PSLA, ImageNet pre-tr., ensemble"),
    Published("passt-low", "0.642", "paper", "Koutini et al. 2022 (PaSST)", "koutini2022passt",
              "FSD50K eval mAP, spectrogram transformer with AudioSet pre-training, 32 kHz (lowest variant)", 0.642, label="PaSST, AudioSet pre-tr., 32 kHz"),
    Published("passt-high", "0.655", "paper", "Koutini et al. 2022 (PaSST)", "koutini2022passt",
              "FSD50K eval mAP, AudioSet pre-training, 32 kHz (best variant)", 0.655, label="PaSST best, AudioSet pre-tr., 32 kHz"),
    Published("5b", "improves", "paper", "Verma & Berger 2021 (arXiv v1)", _AUDIO,
              "wavelet (Haar) multi-scale pooling vs average pooling, FSD50K"),
    Published("5d", "learned, non-constant-bandwidth, task-dependent", "paper", "Verma & Berger 2021 (arXiv v1)",
              _AUDIO, "the front end's filterbank after training on FSD50K vs on pitch estimation"),
)
PUBLISHED_BY_KEY = {p.key: p for p in PUBLISHED}

#: Numbers from later work, shown beside ours for scale (FSD50K eval mAP).
CONTEXT_KEYS = ("fsd50k-vgg", "fsd50k-resnet18", "5-transformer", "psla",
                "passt-low", "passt-high")


def published_text(keys: tuple[str, ...]) -> str:
    """The published numbers of ``keys``, each with its tag: ``0.434 / 0.373 [paper: Fonseca et al. 2022]``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        p = PUBLISHED_BY_KEY[key]
        groups.setdefault((p.tag, p.reference), []).append(p.text)
    return "; ".join(f"{' / '.join(texts)} [{tag}: {ref}]" for (tag, ref), texts in groups.items())


def published_table() -> list[dict[str, str]]:
    """Rows of :data:`PUBLISHED` for the page."""
    return [{"key": p.key, "number": p.text, "tag": p.tag, "reference": p.reference,
             "bibliography": p.cite or "–", "conditions": p.conditions} for p in PUBLISHED]


# --- rows ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    """Our side of a claim: numbers, verdict, why (generated), what it would take (generated)."""

    text: str
    verdict: str
    why: str
    would_take: str = "–"
    device: str = ""
    wall_time_s: float | None = None
    comparisons: tuple[ev.Comparison, ...] = field(default=())
    budget: bg.Budget | None = None  # at what budget the verdict was read, and its fraction of the paper's

    def __post_init__(self) -> None:
        if self.verdict not in ev.VERDICTS:
            raise ValueError(f"verdict must be one of {ev.VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    key: str
    chapter: str
    kind: str  # evidence.EMPIRICAL | evidence.MECHANISM
    statement: str
    source: str  # tag of where the claim itself is stated
    published: tuple[str, ...]  # keys into PUBLISHED
    measure: Callable[[str, Path], Measured]

    def __post_init__(self) -> None:
        if self.kind not in ev.KINDS:
            raise ValueError(f"kind must be one of {ev.KINDS}, got {self.kind!r}")
        if self.source not in SOURCE_TAGS:
            raise ValueError(f"source must be one of {SOURCE_TAGS}, got {self.source!r}")
        missing = [k for k in self.published if k not in PUBLISHED_BY_KEY]
        if missing:
            raise ValueError(f"published names unknown keys {missing}")


# --- reading results -------------------------------------------------------------------------------

def _load(directory: Path, chapter: str, name: str, profile: str) -> dict[str, Any] | None:
    path = directory / chapter / f"{name}.{profile}.json"
    bg.note_read(path, path.exists())
    return read_results_file(path, fields=()) if path.exists() else None  # corrupt: an error naming it


def _load_glob(directory: Path, chapter: str, pattern: str, profile: str) -> list[dict[str, Any]]:
    paths = sorted(glob.glob(str(directory / chapter / f"{pattern}.{profile}.json")))
    for p in paths:
        bg.note_read(Path(p), True)
    return [read_results_file(p, fields=()) for p in paths]


def _dig(record: Any, dotted: str) -> Any:
    value = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def _provenance(records: list[dict[str, Any]]) -> tuple[str, float | None]:
    devices = sorted({str(r.get("device", "?")) for r in records})
    times = [r.get("wall_time_s") for r in records if isinstance(r.get("wall_time_s"), (int, float))]
    return ", ".join(devices), (float(sum(times)) if times else None)


def _missing(profile: str, what: str) -> Measured:
    return Measured(f"no {profile} results", ev.NOT_YET_RUN, f"{what} has not been run at the {profile!r} profile")


def _paired(blocks_a: list[Any], blocks_b: list[Any], metric: str | None,
            pooled: Callable[[Any], float]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Scores of two conditions shaped (seeds, sources): the blocks' ``per_source`` values (under ``metric``
    when given) where every seed records them for the same two or more sources, else ``pooled(block)`` as
    one column. The flag says whether per-source values were found."""
    def per_source(block):
        table = _dig(block, "per_source" + (f".{metric}" if metric else ""))
        return table if isinstance(table, dict) and table else None

    tables = [(per_source(a), per_source(b)) for a, b in zip(blocks_a, blocks_b)]
    if tables and all(ta and tb for ta, tb in tables):
        names = sorted(set.intersection(*(set(ta) & set(tb) for ta, tb in tables)))
        if len(names) >= 2:
            a = np.array([[ta[n] for n in names] for ta, _ in tables], dtype=np.float64)
            b = np.array([[tb[n] for n in names] for _, tb in tables], dtype=np.float64)
            return a, b, True
    a = np.array([pooled(x) for x in blocks_a], dtype=np.float64)[:, None]
    b = np.array([pooled(x) for x in blocks_b], dtype=np.float64)[:, None]
    return a, b, False


def _sources_note(found: bool, pooled_count: Any, unit: str) -> str:
    if found:
        return ""
    count = f"{pooled_count} {unit} pooled" if isinstance(pooled_count, int) and pooled_count > 0 else \
        "the test set pooled"
    return f"test sources: 1 ({count}; results/ record no per-source scores, so the interval covers seeds only)"


def _seeds_needed(iv: ev.Interval) -> str:
    """For an inconclusive t interval: how many seeds (or folds) the measured spread says would resolve its mean."""
    from scipy import stats

    unit = iv.method.split()[-1]  # "t interval over 3 seeds" -> "seeds"
    n = int(iv.method.split()[-2]) if iv.method.split()[-2].isdigit() else 0
    if n < 2 or iv.mean == 0 or not math.isfinite(iv.high - iv.low):
        return ""
    sd = (iv.high - iv.low) / 2 / float(stats.t.ppf((1 + iv.level) / 2, n - 1)) * math.sqrt(n)
    need = ev.units_to_resolve(iv.mean, sd, n + 1, level=iv.level) or 10_000
    return (f"at the measured spread of paired differences (sd {sd:.3g} per {unit[:-1]}), a mean difference of "
            f"{iv.mean:+.3g} would clear its {iv.level:.0%} interval with about {need} {unit}")


# --- chapter 3 -----------------------------------------------------------------------------------

_CH3_DOMAINS = ("music", "speech", "orchestra", "piano-mini", "piano")


def _ch3_records(profile: str, directory: Path, domain: str) -> list[dict[str, Any]]:
    return [r for r in _load_glob(directory, "ch3", f"compare_{domain}_seed*", profile) if "metrics" in r]


def _ch3_training_facts(records: list[dict[str, Any]], models: tuple[str, ...]) -> str:
    cfg = records[0].get("config", {})
    tokens = _dig(records[0]["metrics"], f"{models[0]}.curve.tokens")
    seconds = {m: mean_std([r["metrics"][m]["train_seconds"] for r in records
                            if _dig(r["metrics"], f"{m}.train_seconds") is not None])[0] for m in models}
    facts = [f"{cfg.get('steps', '?')} steps of {cfg.get('batch_size', '?')} × {cfg.get('context_length', '?')} "
             f"samples ({int(tokens[-1]):,} training tokens)" if tokens else f"{cfg.get('steps', '?')} steps",
             "about " + ", ".join(f"{seconds[m]:.0f} s ({m})" for m in models) + " of training per model",
             f"learning rate {cfg.get('lr', '?')}"]
    return "; ".join(facts)


def _ch3_study(profile: str, directory: Path) -> dict[str, Any] | None:
    """The longest chapter-3 study on music with both families' learning curves, fitted."""
    candidates = _load_glob(directory, "ch3", "study*", profile) + _load_glob(directory, "ch3", "scaling*", profile)
    for record in candidates:
        curves = {m: _dig(record, f"metrics.{m}.curve") for m in ("transformer", "wavenet")}
        if all(c and len(c.get("tokens", [])) >= 3 and len(c.get("bits_per_sample", [])) == len(c["tokens"])
               for c in curves.values()):
            return {"record": record, "curves": curves,
                    "fits": {m: ev.fit_power_law(c["tokens"], c["bits_per_sample"]) for m, c in curves.items()}}
    return None


def ch3_crossover(profile: str, directory: Path | None = None, resamples: int = 200) -> tuple[dict, ev.Crossover] | None:
    """The chapter-3 study and the extrapolated budget at which the transformer's bits per sample would
    fall below WaveNet's (power law with a floor per family, residual bootstrap)."""
    study = _ch3_study(validate_profile(profile), directory or results_dir())
    if study is None:
        return None
    t, w = study["curves"]["transformer"], study["curves"]["wavenet"]
    cross = ev.crossover(t["tokens"], t["bits_per_sample"], w["tokens"], w["bits_per_sample"],
                         lower_is_better=True, resamples=resamples)
    return study, cross


def _ch3_study_text(profile: str, directory: Path) -> tuple[str, str]:
    found = ch3_crossover(profile, directory)
    if found is None:
        return "", "no chapter-3 scaling study in results/: nothing to extrapolate from"
    study, cross = found
    rec, fits, curves = study["record"], study["fits"], study["curves"]
    last = {m: curves[m]["bits_per_sample"][-1] for m in curves}
    tokens = int(curves["transformer"]["tokens"][-1])
    secs = {m: _dig(rec, f"metrics.{m}.train_seconds") for m in curves}
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
    families = _dig(rec, "metrics.families") or {}
    fitted = {m: f for m, f in families.items() if "exponent" in f}
    crossing = _dig(rec, "metrics.crossover.text")
    if len(fitted) == 2 and crossing:  # the scaling study: every size and budget, bits against compute
        sizes = {m: ", ".join(f["runs"]) for m, f in fitted.items()}
        best = {m: min(b for r in f["runs"].values() for b in r["bits_per_sample"]) for m, f in fitted.items()}
        front = {m: ", ".join(dict.fromkeys(f.get("frontier", {}).get("size", []))) or "?" for m, f in fitted.items()}
        why = ("the scaling study (one seed; " + "; ".join(
            f"{m}: sizes {sizes[m]}, best {best[m]:.2f} bits per sample; its compute-efficient frontier "
            f"({f['points']} points, from the {front[m]} size) has exponent {f['exponent']:.2f} "
            f"[{f['exponent_interval'][0]:.2f}, {f['exponent_interval'][1]:.2f}] against compute"
            for m, f in fitted.items()) + ")")
        take = (f"against training compute, each family's compute-efficient frontier (the best size at each "
                f"compute): {crossing} (power law with a floor per family, residual bootstrap). A fit to one "
                f"size's learning curve alone (medium, against tokens) says: {cross.text('training tokens')}; it "
                f"ignores how the curves move with model size, so the frontier fit is the verdict")
    return why, take
    return why, take


def _ch3_gap(model: str, base: str) -> Callable[[str, Path], Measured]:
    def measure(profile: str, directory: Path) -> Measured:
        texts, verdicts, comparisons, records_all, notes = [], [], [], [], []
        for domain in _CH3_DOMAINS:
            records = [r for r in _ch3_records(profile, directory, domain)
                       if _dig(r["metrics"], f"{model}.final.top5") is not None
                       and _dig(r["metrics"], f"{base}.final.top5") is not None]
            if len(records) < 2:
                continue
            a, b, found = _paired([r["metrics"][model] for r in records], [r["metrics"][base] for r in records],
                                  "top5", lambda block: block["final"]["top5"])
            comp = ev.compare(a, b, names=(model, base))
            below = []
            if all(_dig(r["metrics"], "bigram.final.top5") is not None for r in records):  # the trivial baseline
                checks = [ev.compare(*_paired([r["metrics"][m] for r in records], [r["metrics"]["bigram"] for r in records],
                                              "top5", lambda block: block["final"]["top5"])[:2], names=(m, "bigram"))
                          for m in (model, base)]
                word = ev.gate(comp.verdict, [c.interval for c in checks])
                below = [c for c in checks if not ev.above_baseline(c.interval)]
                comp = ev.Comparison(comp.a, comp.b, comp.interval, word, comp.claimed)
            comparisons.append(comp)
            verdicts.append(comp.verdict)
            records_all += records
            count = _dig(records[0], "metrics.test_recordings") or _dig(records[0], "config.test_recordings")
            note = _sources_note(found, count, "test recordings")
            notes.append(f"{domain}: {_ch3_training_facts(records, (model, base))}" + (f"; {note}" if note else ""))
            texts.append(f"{domain}: top-5 {comp.line(scale=100, digits=1, unit=' pts')}" + "".join(
                f" ({c.a} not above the bigram count model: {c.a} − bigram = "
                f"{c.interval.text(scale=100, digits=1, unit=' pts')})" for c in below))
        if not texts:
            return _missing(profile, "chapter 3's comparison")
        device, seconds = _provenance(records_all)
        study_why, take = _ch3_study_text(profile, directory) if model == "transformer" else ("", "")
        verdict = ev.combine(verdicts)
        if model != "transformer":
            take = next((_seeds_needed(c.interval) for c in comparisons
                         if c.verdict == ev.INCONCLUSIVE), "") or "–"
        elif verdict == ev.REPRODUCED:
            take = "–"
        if verdict == ev.NOT_YET_EVIDENCE:
            take = ("first, training until every compared model is above the bigram count model on every domain "
                    f"(the budget for that is not measured yet); then: {take}")
        why = " | ".join(notes + ([study_why] if study_why else []))
        budget = bg.ch3(records_all[0], model)
        return Measured("; ".join(texts), verdict, why, take, device, seconds, tuple(comparisons), budget)

    return measure


def _ch3_absolute(profile: str, directory: Path) -> Measured:
    parts, records_all = [], []
    for model in ("wavenet", "transformer", "conditioned"):
        records = [r for r in _ch3_records(profile, directory, "music") if _dig(r["metrics"], f"{model}.final.top5")]
        if records:
            records_all += records
            m, s = mean_std([r["metrics"][model]["final"]["top5"] for r in records])
            parts.append(f"{model} {m:.1%} ± {s:.1%} (n={len(records)})")
    if not parts:
        return _missing(profile, "chapter 3's comparison")
    device, seconds = _provenance(records_all)
    cfg = records_all[0].get("config", {})
    import warnings

    with warnings.catch_warnings():  # the training loop's progress bar warns about widgets on import
        warnings.simplefilter("ignore")
        from audioformers.ch3.experiment import DOMAIN_SAMPLE_RATES

    why = (f"ours: {cfg.get('domain', 'music')} at {DOMAIN_SAMPLE_RATES.get(cfg.get('domain', 'music'), '?')} Hz, "
           f"{cfg.get('context_length', '?')}-sample context, {cfg.get('steps', '?')} steps; published: "
           f"{PUBLISHED_BY_KEY['3c-wavenet'].conditions} — different data, rate and training, so the absolute "
           "numbers are shown for scale only")
    return Measured("music top-5: " + ", ".join(parts), ev.verdict(None, comparable=False), why,
                    "a like-for-like test needs the same piano data at 16 kHz and the paper's training budget",
                    device, seconds, budget=bg.ch3(records_all[0]))


def _ch3_attention(profile: str, directory: Path) -> Measured:
    record = _load(directory, "ch3", "attention_cost", profile)
    seconds = _dig(record, "metrics.seconds") if record else None
    contexts = _dig(record, "metrics.contexts") if record else None
    if not seconds or not contexts or "plain_attention" not in seconds or "wavenet" not in seconds:
        return _missing(profile, "chapter 3's attention-cost measurement")
    if len(contexts) < 3:  # the smoke profile measures two lengths: too few for a slope with an interval
        return _missing(profile, "chapter 3's attention-cost measurement at three or more context lengths")
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


# --- chapter 4 -----------------------------------------------------------------------------------

_PROBE_DATASETS = ("instruments-mini-xl", "instruments-mini", "drums-mini")


def _probe_runs(profile: str, directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Per probe dataset, the per-seed probe records."""
    out = {}
    for dataset in _PROBE_DATASETS:
        records = [r for r in _load_glob(directory, "ch4", f"probes-{dataset}-seed*", profile)
                   if _dig(r, "metrics.probe")]
        if records:
            out[dataset] = records
    return out


def _probe_facts(records: list[dict[str, Any]]) -> str:
    if isinstance(_dig(records[0], "metrics.facts"), str):  # chapter 4's fold study says what it ran
        return records[0]["metrics"]["facts"]
    r, cfg = records[0], records[0].get("config", {})
    clips, sources = _dig(r, "metrics.num_clips") or {}, _dig(r, "metrics.num_sources") or {}
    times = {k: mean_std([_dig(x, f"metrics.times.{k}") or 0.0 for x in records])[0]
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
    xa, xb, found = _paired(blocks_a, blocks_b, None, lambda block: block["test_accuracy"])
    return ev.compare(xa, xb, names=(a, b_name)), found


def _fold_comparison(per_fold: dict[str, Any], a: str, b: str | Callable) -> ev.Comparison | None:
    """From ``metrics["per_fold"] = {method: [[accuracy per seed] per fold]}`` of a probe table."""
    b_name = b({m: list(np.ravel(v)) for m, v in per_fold.items()}) if callable(b) else b
    if a not in per_fold or b_name not in per_fold or len(per_fold[a]) < 2:
        return None
    return ev.compare(per_fold[a], per_fold[b_name], names=(a, b_name), folds=True)


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
        for dataset in _PROBE_DATASETS:
            table = _load(directory, "ch4", f"probe-table-{dataset}", profile)
            per_fold = _dig(table, "metrics.per_fold") if table else None
            comp = _fold_comparison(per_fold, first, second) if isinstance(per_fold, dict) else None
            records = runs.get(dataset, [])
            if comp is not None:
                comp, below = _ch4_gate(comp, per_fold, _dig(table, "metrics.chance"), folds=True)
                records_all.append(table)
                notes.append(f"{dataset}: {len(per_fold[first])} folds over held-out sources, seeds averaged "
                             "inside each fold" + (f"; {_probe_facts(records)}" if records else ""))
            elif len(records) >= 2 and all(first in r["metrics"]["probe"] for r in records):
                comp, found = _probe_comparison(records, first, second)
                seeds = {m: [r["metrics"]["probe"][m]["test_accuracy"] for r in records]
                         for m in (comp.a, comp.b, "untrained") if all(m in r["metrics"]["probe"] for r in records)}
                comp, below = _ch4_gate(comp, seeds, _dig(records[0], "metrics.chance"), folds=False)
                records_all += records
                note = _sources_note(found, (_dig(records[0], "metrics.num_sources") or {}).get("test"),
                                     "held-out sources")
                notes.append(f"{dataset}: {_probe_facts(records)}" + (f"; {note}" if note else ""))
            else:
                continue
            comps.append(comp)
            verdicts.append(comp.verdict)
            texts.append(f"{dataset}: {comp.line(scale=100, digits=1, unit=' pts')}{below}")
        if not texts:
            return _missing(profile, "chapter 4's probe study")
        verdict = ev.combine(verdicts)
        device, seconds = _provenance(records_all)
        study = _load_glob(directory, "ch4", "study*", profile) + _load_glob(directory, "ch4", "pretrain*", profile)
        if verdict == ev.REPRODUCED:
            take = "–"
        elif verdict == ev.INCONCLUSIVE:
            take = next((_seeds_needed(c.interval) for c in comps
                         if c.verdict == ev.INCONCLUSIVE and c.interval.method.startswith("t interval")), "")
            take = take or "more test sources (folds over held-out sources) than the current split holds"
        else:
            longer = _ch4_longer_pretraining(profile, directory)
            take = (longer or "no pre-training study in results/ch4 yet: the budget at which the ordering could "
                    "turn is not measured" if not study else longer or "see chapter 4's pre-training curves")
        if verdict == ev.NOT_YET_EVIDENCE:
            take = ("first, pre-training until both representations are above the untrained encoder (or chance) on "
                    f"every dataset; then: {take}")
        budget = next((b for d in _PROBE_DATASETS for r in runs.get(d, [])[:1] if (b := bg.ch4(r))), None)
        return Measured("; ".join(texts), verdict, " | ".join(notes), take, device, seconds, tuple(comps), budget)

    return measure


def _ch4_longer_pretraining(profile: str, directory: Path) -> str:
    """The chapter-4 study's 5x pre-training, paired over folds (seed 0), per dataset it ran on; '' if none."""
    from audioformers.ch4 import study as ch4_study

    texts = []
    for dataset in _PROBE_DATASETS:
        study = _load(directory, "ch4", f"study-{dataset}", profile)
        table = _load(directory, "ch4", f"probe-table-{dataset}", profile)
        if study and table:
            lines = ch4_study.pretraining_lines(study["metrics"], table["metrics"])
            if lines:
                texts.append(f"{dataset}, longer pre-training (seed 0, paired over folds): " + "; ".join(lines))
    return " | ".join(texts)


def _ch4_codes(profile: str, directory: Path) -> Measured:
    record = _load(directory, "ch4", "two-notes", profile)
    table = _dig(record, "metrics.table") if record else None
    if not table:
        return _missing(profile, "chapter 4's two-note example")
    rows = sorted(table, key=lambda r: r["K"])
    few, many = rows[0], rows[-1]
    iv = ev.exact(few["shared_patch_fraction"] - many["shared_patch_fraction"],
                  "one rendered clip: a deterministic count, no sampling interval")
    comp = ev.Comparison(f"shared at K={few['K']}", f"shared at K={many['K']}", iv, ev.verdict(iv))
    text = (f"patches whose code both notes use: {few['shared_patch_fraction']:.0%} at K={few['K']}, "
            f"{many['shared_patch_fraction']:.0%} at K={many['K']}; codes per note at K={many['K']}: "
            f"{', '.join(str(n) for n in many['codes_per_pitch'])}")
    cfg = record.get("config", {})
    why = (f"one clip of two alternating notes (MIDI {', '.join(str(p) for p in _dig(record, 'metrics.pitches') or [])}, "
           f"{cfg.get('note_seconds', '?')} s each, noise {_dig(record, 'metrics.snr_db')} dB below), k-means with "
           f"K = {', '.join(str(r['K']) for r in rows)}; {iv.note}")
    return Measured(text, comp.verdict, why, "–", str(record.get("device", "")), record.get("wall_time_s"), (comp,),
                    bg.Budget("one rendered clip"))


# --- chapter 5 -----------------------------------------------------------------------------------

def _ch5_comparison(profile: str, directory: Path) -> dict[str, Any] | None:
    record = _load(directory, "ch5", "comparison", profile)
    return record if record and _dig(record, "metrics.runs") else None


def _ch5_table(profile: str, directory: Path) -> dict[str, Any] | None:
    """The multi-seed table: ``audioformers.ch5.study``'s (every model and seed planned before any run, at its
    fixed step count) once complete, else the chapter's comparison."""
    table = _dig(_load(directory, "ch5", "study", profile), "metrics.scale.table_record")
    if isinstance(table, dict) and table.get("complete") and _dig(table, "metrics.runs"):
        return table
    return _ch5_comparison(profile, directory)


def _ch5_scores(record: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """model -> seed -> run."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for run in record["metrics"]["runs"]:
        cfg = run.get("config", {})
        out.setdefault(cfg.get("model", "?"), {})[int(cfg.get("seed", 0))] = run
    return out


def _ch5_pair(scores, a: str, b: str) -> tuple[ev.Comparison, bool]:
    seeds = sorted(set(scores[a]) & set(scores[b]))
    runs_a, runs_b = [scores[a][s] for s in seeds], [scores[b][s] for s in seeds]
    xa, xb, found = _paired(runs_a, runs_b, None, lambda run: run["mAP"])
    return ev.compare(xa, xb, names=(a, b)), found


def _ch5_facts(record: dict[str, Any], scores) -> str:
    cfg = record.get("config", {})
    secs = {m: mean_std([r["train_seconds"] for r in runs.values()])[0] for m, runs in scores.items()}
    steps, batch, clips = cfg.get("steps"), cfg.get("batch_size"), cfg.get("train_clips")
    passes = f" ({steps * batch / clips:.1f} passes over the data)" if all(
        isinstance(v, (int, float)) for v in (steps, batch, clips)) and clips else ""
    return (f"{steps} steps of {batch} clips on {clips} training clips{passes}; training time per model "
            + ", ".join(f"{m} {s:.0f} s" for m, s in secs.items())
            + f"; test {cfg.get('test_clips', '?')} clips on task '{cfg.get('task', '?')}'")


def ch5_doubling(profile: str, directory: Path | None = None) -> dict[str, Any] | None:
    """From chapter 5's study: mAP gained by doubling the steps, per family, and the gap's trend per doubling
    with an interval from the comparison's seed spread (each point's noise taken as that family's seed sd)."""
    profile = validate_profile(profile)
    directory = directory or results_dir()
    study, comparison = _load(directory, "ch5", "study", profile), _ch5_comparison(profile, directory)
    variants = _dig(study, "metrics.variants") if study else None
    need = ("baseline", "2x steps", "CNN (VGG-like)", "CNN (VGG-like), 2x steps")
    if not variants or comparison is None or not all(k in variants for k in need):
        return None
    summary = comparison["metrics"].get("summary", {})
    tf_model = variants["baseline"]["config"].get("model", "transformer-average")
    cnn_model = variants["CNN (VGG-like)"]["config"].get("model", "cnn-vgg")
    sd_tf = summary.get(tf_model, {}).get("mAP_std", 0.0)
    sd_cnn = summary.get(cnn_model, {}).get("mAP_std", 0.0)
    steps = (variants["baseline"]["config"]["steps"], variants["2x steps"]["config"]["steps"])
    gain_tf = variants["2x steps"]["mAP"] - variants["baseline"]["mAP"]
    gain_cnn = variants["CNN (VGG-like), 2x steps"]["mAP"] - variants["CNN (VGG-like)"]["mAP"]
    doublings = math.log2(steps[1] / steps[0])
    per_doubling = (gain_tf - gain_cnn) / doublings
    sd = math.sqrt(2 * sd_tf ** 2 + 2 * sd_cnn ** 2) / doublings
    gap_now = summary[tf_model]["mAP_mean"] - summary[cnn_model]["mAP_mean"]
    seeds = min(int(summary.get(m, {}).get("seeds", 1)) for m in (tf_model, cnn_model))
    if seeds < 2:
        return None  # no seed spread to judge a one-seed study by
    from scipy import stats

    t = float(stats.t.ppf(0.975, seeds - 1))
    iv = ev.Interval(per_doubling, per_doubling - t * sd, per_doubling + t * sd, 0.95,
                     f"t interval from each family's seed sd over {seeds} seeds", 1, 0, "one seed per study point")
    return {"steps": steps, "gain": {tf_model: gain_tf, cnn_model: gain_cnn}, "models": (tf_model, cnn_model),
            "per_doubling": iv, "gap_now": gap_now,
            "points": {tf_model: [variants["baseline"]["mAP"], variants["2x steps"]["mAP"]],
                       cnn_model: [variants["CNN (VGG-like)"]["mAP"], variants["CNN (VGG-like), 2x steps"]["mAP"]]},
            "sd": {tf_model: sd_tf, cnn_model: sd_cnn}, "t": t, "study": study}


def ch5_gap_by_steps(profile: str, directory: Path | None = None) -> dict[str, Any] | None:
    """From :mod:`audioformers.ch5.study`'s 3-seed runs: the transformer–CNN gap at its shortest and longest
    step counts on all the clips, and its change per doubling of steps with the study's paired interval
    (bootstrap over seeds and test sources) divided by the number of doublings; ``None`` without two points."""
    study = _load(directory or results_dir(), "ch5", "study", validate_profile(profile))
    trend = _dig(study, "metrics.scale.gap_by_steps") if study else None
    change, points = (trend or {}).get("change"), (trend or {}).get("points", [])
    if not change or len(points) < 2:
        return None
    first, last = points[0], points[-1]
    doublings = math.log2(last["steps"] / first["steps"])
    iv = ev.Interval(change["difference"] / doublings, change["low"] / doublings, change["high"] / doublings, 0.95,
                     f"{change['method'].split('; test sources')[0].removeprefix('95% ')}, divided by "
                     f"{doublings:.2f} doublings", len(change.get("seeds", [])),
                     int(change.get("test_sources", 0)))
    return {"steps": (first["steps"], last["steps"]), "models": (trend["a"], trend["b"]), "per_doubling": iv,
            "gap_now": last["difference"], "gap_first": first["difference"], "study": study}


def gap_by_steps_text(d: dict[str, Any]) -> tuple[str, str]:
    """(why, what it would take) for :func:`ch5_gap_by_steps`: the measured gaps and where the trend leads."""
    tf, cnn = d["models"]
    iv, gap, (s0, s1) = d["per_doubling"], d["gap_now"], d["steps"]
    why = (f"study ({iv.seeds} seeds): {tf} − {cnn} = {d['gap_first']:+.3f} mAP at {s0} steps and {gap:+.3f} at "
           f"{s1} steps")
    slope = f"the gap ({gap:+.3f} mAP at {s1} steps) changes by {iv.text(digits=3)} per doubling of steps"
    if (gap < 0 < iv.low) or (gap > 0 > iv.high):
        n = -gap / iv.mean
        lo, hi = sorted((-gap / iv.low, -gap / iv.high))
        take = (f"{slope}: if that trend held, the gap would close after about {n:.1f} more doublings "
                f"(≈ {s1 * 2 ** n:,.0f} steps; interval {s1 * 2 ** lo:,.0f}–{s1 * 2 ** hi:,.0f}); a straight line "
                f"in log-steps is an assumption the 5,000-step stage of the study tests")
    elif (gap < 0 < iv.high) or (gap > 0 > iv.low):
        take = f"{slope}: the interval includes a closing trend, so a crossover is not excluded but not in sight"
    else:
        take = f"{slope}: no crossover in sight at the measured slopes"
    return why, take


def doubling_text(d: dict[str, Any]) -> tuple[str, str]:
    """(why, what it would take) for :func:`ch5_doubling`'s result: the gains and the gap's trend per doubling."""
    tf, cnn = d["models"]
    iv, gap = d["per_doubling"], d["gap_now"]
    why = (f"study: from {d['steps'][0]} to {d['steps'][1]} steps {tf} gained {d['gain'][tf]:+.3f} mAP and "
           f"{cnn} {d['gain'][cnn]:+.3f}")
    closes = (gap < 0 < iv.low) or (gap > 0 > iv.high)
    possible = (gap < 0 < iv.high) or (gap > 0 > iv.low)
    slope = f"the gap ({gap:+.3f} mAP at {d['steps'][0]} steps) changes by {iv.text(digits=3)} per doubling of steps"
    if closes:
        n = -gap / iv.mean
        lo, hi = sorted((-gap / iv.low, -gap / iv.high)) if iv.low * iv.high > 0 else (n, math.inf)
        take = (f"{slope}: extrapolated crossover after about {n:.1f} doublings "
                f"(≈ {d['steps'][0] * 2 ** n:,.0f} steps; interval {d['steps'][0] * 2 ** lo:,.0f}–"
                f"{d['steps'][0] * 2 ** hi:,.0f})")
    elif possible:
        take = f"{slope}: the interval includes a closing trend, so a crossover is not excluded but not in sight"
    else:
        take = f"{slope}: no crossover in sight at the measured slopes"
    return why, take


def _ch5_transformer_vs_cnn(profile: str, directory: Path) -> Measured:
    record = _ch5_table(profile, directory)
    if record is None:
        return _missing(profile, "chapter 5's comparison")
    scores = _ch5_scores(record)
    tfs = [m for m in scores if m.startswith("transformer")]
    cnns = [m for m in scores if m.startswith("cnn")]
    if not tfs or not cnns:
        return _missing(profile, "chapter 5's transformer–CNN comparison")
    best_tf = max(tfs, key=lambda m: np.mean([r["mAP"] for r in scores[m].values()]))
    comps, notes = [], []
    for cnn in cnns:
        comp, found = _ch5_pair(scores, best_tf, cnn)
        comps.append(comp)
        if not found and not notes:
            notes.append(_sources_note(False, record.get("config", {}).get("test_clips"), "test clips"))
    verdict = ev.combine(c.verdict for c in comps)
    g = ch5_gap_by_steps(profile, directory)
    d = None if g else ch5_doubling(profile, directory)
    why_study, take = (gap_by_steps_text(g) if g else doubling_text(d) if d
                       else ("", "no chapter-5 study in results/: nothing to extrapolate from"))
    if verdict == ev.REPRODUCED:
        take = "–"
    why = " | ".join([_ch5_facts(record, scores)] + notes + ([why_study] if why_study else []))
    text = "; ".join(f"mAP {c.line()}" for c in comps)
    return Measured(text, verdict, why, take, str(record.get("device", "")), record.get("wall_time_s"), tuple(comps),
                    bg.ch5(record))


def _ch5_haar(profile: str, directory: Path) -> Measured:
    record = _ch5_table(profile, directory)
    if record is None:
        return _missing(profile, "chapter 5's pooling comparison")
    scores = _ch5_scores(record)
    if "transformer-haar" not in scores or "transformer-average" not in scores:
        return _missing(profile, "chapter 5's pooling comparison")
    comp, found = _ch5_pair(scores, "transformer-haar", "transformer-average")
    note = "" if found else _sources_note(False, record.get("config", {}).get("test_clips"), "test clips")
    why = "; ".join(x for x in (_ch5_facts(record, {k: scores[k] for k in ("transformer-haar", "transformer-average")}),
                                note) if x)
    take = "–" if comp.verdict == ev.REPRODUCED else (_seeds_needed(comp.interval) or "–")
    return Measured(f"mAP {comp.line()}", comp.verdict, why, take, str(record.get("device", "")),
                    record.get("wall_time_s"), (comp,), bg.ch5(record))


def _ch5_absolute(profile: str, directory: Path) -> Measured:
    record = _ch5_table(profile, directory)
    if record is None:
        return _missing(profile, "chapter 5's comparison")
    scores = {m: runs for m, runs in _ch5_scores(record).items() if m.startswith("transformer")}
    if not scores:  # like with like: the published number is a transformer's, so only transformers are set beside it
        return _missing(profile, "chapter 5's transformer")
    best = max(scores, key=lambda m: np.mean([r["mAP"] for r in scores[m].values()]))
    values = [r["mAP"] for r in scores[best].values()]
    m, s = mean_std(values)
    task = str(record.get("config", {}).get("task", "?"))
    text = f"best transformer ({best}) mAP {m:.3f} ± {s:.3f} (n={len(values)}) on {task}"
    published = PUBLISHED_BY_KEY["5-transformer"]
    if task.lower() != "fsd50k" or len(values) < 2:
        why = (f"ours: task '{task}' ({_ch5_facts(record, {best: scores[best]})}); published: "
               f"{published.conditions} — a different dataset, so shown for scale only")
        return Measured(text, ev.verdict(None, comparable=False), why,
                        "the FSD50K eval set at the paper's training budget (the paper profile)",
                        str(record.get("device", "")), record.get("wall_time_s"), budget=bg.ch5(record))
    comp = ev.compare(np.asarray(values), np.full(len(values), published.value), names=(best, "published 0.537"))
    return Measured(f"{text}; {comp.line()}", comp.verdict, f"FSD50K eval; {_ch5_facts(record, {best: scores[best]})}",
                    "–", str(record.get("device", "")), record.get("wall_time_s"), (comp,), bg.ch5(record))


def _ch5_front_end(profile: str, directory: Path) -> Measured:
    record = _load(directory, "ch5", "front_end", profile)
    dist = _dig(record, "metrics.distance_to_energy_hz") if record else None
    if not dist or "initial" not in dist or "trained" not in dist:
        return _missing(profile, "chapter 5's front-end analysis (results/ch5/front_end)")
    comp = ev.compare(dist["trained"], dist["initial"], names=("trained", "initial"), claimed="lower")
    return Measured(f"distance to the data's energy-following curve (Hz): {comp.line(digits=0)}", comp.verdict,
                    f"{len(dist['trained'])} seeds", "–", str(record.get("device", "")), record.get("wall_time_s"),
                    (comp,), bg.ch5({"config": _dig(record, "config.soundmix_config") or record.get("config", {})}))


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
    Claim("4a", "ch4", E, "Linear probe: next-code transformer above SimCLR", "lecture", ("4a-code_lm", "4a-simclr"),
          _ch4_order("code_lm", "simclr")),
    Claim("4b", "ch4", E, "A supervised VGG-style model is above the self-supervised ones", "lecture", ("4b",),
          _ch4_order("supervised_cnn", _best_self_supervised)),
    Claim("4c", "ch4", M, "Too few codes merge two alternating piano notes; more codes separate them", "lecture",
          ("4c",), _ch4_codes),
    Claim("5a", "ch5", E, "A transformer on raw waveform beats CNNs without pre-training", "paper",
          ("5a", "5-transformer", "fsd50k-vgg", "fsd50k-resnet18"), _ch5_transformer_vs_cnn),
    Claim("5b", "ch5", E, "Wavelet (Haar) multi-scale pooling of intermediate embeddings improves on average pooling",
          "paper", ("5b",), _ch5_haar),
    Claim("5c", "ch5", E, "Best FSD50K mAP of the audio transformer (6 layers, with pooling)", "secondary",
          ("5-transformer",), _ch5_absolute),
    Claim("5d", "ch5", M, "A learned front end's filterbank moves with its training data", "paper", ("5d",),
          _ch5_front_end),
)


def build_report(profile: str, directory: Path | None = None) -> list[dict[str, str]]:
    """One row per claim: kind, claim, source, published numbers (tagged), ours, verdict, why, what it would take."""
    profile = validate_profile(profile)
    directory = directory or results_dir()
    rows = []
    for claim in CLAIMS:
        measured = claim.measure(profile, directory)
        minutes = f"{measured.wall_time_s / 60:.1f} min" if measured.wall_time_s else "–"
        rows.append({
            "claim": claim.key, "kind": claim.kind, "chapter": claim.chapter, "statement": claim.statement,
            "source": claim.source, "published": published_text(claim.published), f"ours ({profile})": measured.text,
            "verdict": measured.verdict, "budget": measured.budget.line() if measured.budget else "–",
            "verdict at budget": measured.budget.words(measured.verdict) if measured.budget else measured.verdict,
            "why": measured.why, "what it would take": measured.would_take,
            "device": measured.device or "–", "wall time": minutes,
        })
    return rows


def chapter_verdicts(chapter: int | str, profile: str, directory: Path | None = None) -> list[str]:
    """The report's rows for one chapter, one line each: what a chapter prints as its verdicts.

    A chapter calls this instead of re-deriving its verdicts, so the chapter and the report cannot disagree.
    """
    profile = validate_profile(profile)
    wanted = chapter if isinstance(chapter, str) and chapter.startswith("ch") else f"ch{chapter}"
    rows = [r for r in build_report(profile, directory) if r["chapter"] == wanted]
    if not rows:
        raise ValueError(f"chapter {chapter!r} has no claims in the report (chapters: "
                         f"{sorted({str(c.chapter) for c in CLAIMS})})")
    return [f"{r['claim']} ({r['kind']}) {r['statement']}: {r['verdict at budget']} — {r[f'ours ({profile})']}"
            for r in rows]


def headline(rows: list[dict[str, str]]) -> str:
    """The empirical claims' verdicts counted (with their claims), then the budgets they were read at, per
    chapter, with their fractions of the papers'. Mechanism facts are counted apart (:func:`mechanisms_line`)."""
    found = [r for r in rows if r["kind"] == ev.EMPIRICAL]
    parts = [f"{len(same)} {v} ({', '.join(r['claim'] for r in same)})" for v in ev.VERDICTS
             if (same := [r for r in found if r["verdict"] == v])]
    budgets: dict[str, list[str]] = {}
    for r in found:
        if r.get("budget", "–") != "–" and r["budget"] not in budgets.setdefault(r["chapter"], []):
            budgets[r["chapter"]].append(r["budget"])
    read_at = "; ".join(f"chapter {c.removeprefix('ch')} at {' / '.join(b)}" for c, b in budgets.items() if b)
    return (f"{len(found)} {ev.EMPIRICAL}s: " + (", ".join(parts) if parts else "none")
            + (f" — read at: {read_at}" if read_at else "") + ".")


def mechanisms_line(rows: list[dict[str, str]]) -> str:
    """The mechanism facts, counted apart from the headline's empirical claims."""
    found = [r for r in rows if r["kind"] == ev.MECHANISM]
    parts = [f"{sum(r['verdict'] == v for r in found)} {v}" for v in ev.VERDICTS if any(r["verdict"] == v for r in found)]
    return f"{len(found)} {ev.MECHANISM}s, counted apart: " + (", ".join(parts) if parts else "none")


def to_markdown(rows: list[dict[str, str]]) -> str:
    """A Markdown table (pipes escaped) for ``IPython.display.Markdown``."""
    if not rows:
        return "(no claims)"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(str(row[h]).replace("|", "\\|") for h in headers) + " |")
    return "\n".join(lines)


# --- series and figures ----------------------------------------------------------------------------

Series = dict[str, tuple[float, float, int]]  # label -> (mean, std, n)

#: Published numbers drawn beside ours, by figure: label -> key into PUBLISHED.
FIGURE_PUBLISHED = {
    "ch3": {"wavenet": "3c-wavenet", "transformer": "3c-transformer", "conditioned": "3c-conditioned"},
    "ch4": {"simclr": "4a-simclr", "code_lm": "4a-code_lm"},
    "ch5": {"transformer-haar": "5-transformer", "cnn-vgg": "fsd50k-vgg", "cnn-resnet": "fsd50k-resnet18"},
}


def figure_published(chapter: str) -> dict[str, float]:
    return {label: PUBLISHED_BY_KEY[key].value for label, key in FIGURE_PUBLISHED[chapter].items()}


def ch3_series(profile: str, metric: str = "top5", directory: Path | None = None) -> dict[str, Series]:
    """Per domain: model -> (mean, std, n) of the final held-out ``metric`` over seeds."""
    profile = validate_profile(profile)
    directory = directory or results_dir()
    out: dict[str, Series] = {}
    for domain in _CH3_DOMAINS:
        records = _ch3_records(profile, directory, domain)
        series = {}
        for model in ("wavenet", "transformer", "conditioned"):
            values = [v for r in records if (v := _dig(r["metrics"], f"{model}.final.{metric}")) is not None]
            if values:
                series[model] = (*mean_std(values), len(values))
        if series:
            out[domain] = series
    return out


def ch3_domain_title(domain: str) -> str:
    """``'piano-mini (16 kHz)'``: a chapter-3 domain with its sample rate as the data loader defines it."""
    import warnings

    with warnings.catch_warnings():  # the training loop's progress bar warns about widgets on import
        warnings.simplefilter("ignore")
        from audioformers.ch3.experiment import DOMAIN_SAMPLE_RATES
    rate = DOMAIN_SAMPLE_RATES.get(domain)
    return f"{domain} ({rate / 1000:g} kHz)" if rate else domain


def ch3_study_ratio(profile: str, directory: Path | None = None) -> str:
    """How many times the comparison's training tokens the chapter-3 study's longest run saw: ``'8.3 times'``."""
    profile, directory = validate_profile(profile), directory or results_dir()
    study = _ch3_study(profile, directory)
    records = _ch3_records(profile, directory, "music")
    tokens = _dig(records[0], "metrics.transformer.curve.tokens") if records else None
    if study is None or not tokens:
        return "an unknown multiple of"
    return bg.ratio_text(max(study["curves"]["transformer"]["tokens"]), tokens[-1])


def ch4_series(profile: str, directory: Path | None = None) -> dict[str, Series]:
    """Per probe dataset: method -> (mean, std, n) test accuracy, from the file the report's rows read: the
    fold table (mean and std over folds of each fold's seed-averaged accuracy, n = folds) where it exists,
    else the per-seed probe records (over seeds)."""
    profile, directory = validate_profile(profile), directory or results_dir()
    out: dict[str, Series] = {}
    for dataset in _PROBE_DATASETS:
        per_fold = _dig(_load(directory, "ch4", f"probe-table-{dataset}", profile), "metrics.per_fold")
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


def ch5_series(profile: str, directory: Path | None = None) -> Series:
    """Model -> (mean, std, n) clip-level macro mAP over seeds."""
    record = _ch5_table(validate_profile(profile), directory or results_dir())  # the table the rows read
    if record is None:
        return {}
    return {m: (*mean_std([r["mAP"] for r in runs.values()]), len(runs)) for m, runs in _ch5_scores(record).items()}


def plot_series(ax, series: Series, *, published: dict[str, float] | None = None, title: str, ylabel: str):
    """Bars of our mean ± std (n in the label), with the published number as a black tick where there is one."""
    labels = list(series)
    xs = np.arange(len(labels))
    ax.bar(xs, [series[k][0] for k in labels], yerr=[series[k][1] for k in labels], capsize=4, color="tab:blue",
           alpha=0.8, label="ours (mean ± std)")
    rotate = max(len(k) for k in labels) > 12 if labels else False
    if published:
        marked = [(x, published[k]) for x, k in zip(xs, labels) if k in published]
        if marked:
            ax.scatter([x for x, _ in marked], [v for _, v in marked], marker="_", s=600, color="black",
                       linewidths=2.5, label="published (other data: scale only)", zorder=3)
    ax.set_xticks(xs, [f"{k}\n(n={series[k][2]})" for k in labels], fontsize=8,
                  rotation=25 if rotate else 0, ha="right" if rotate else "center")
    ax.set(title=title, ylabel=ylabel, ylim=(0, 1.3))  # headroom above 1 for the legend: no tick hides under it
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(fontsize=7, loc="upper right")
    return ax


def plot_ch3_study(ax, profile: str, directory: Path | None = None, resamples: int = 200):
    """Chapter 3's study: held-out bits per sample against training tokens, the fitted power laws with a
    90% band from the residual bootstrap, extrapolated (dashed) to the crossover or 100× the budget."""
    found = ch3_crossover(profile, directory, resamples=resamples)
    if found is None:
        ax.text(0.5, 0.5, "no chapter-3 study in results/", ha="center", transform=ax.transAxes)
        return None
    study, cross = found
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


def plot_ch5_study(ax, profile: str, directory: Path | None = None):
    """Chapter 5's study, as the 5a row reads it: where the multi-seed study measured the transformer–CNN gap at
    several step counts (:func:`ch5_gap_by_steps`), each family's mAP against steps (mean ± seed sd, measured
    points only, no extrapolation); otherwise the older one-seed study's doubling (:func:`ch5_doubling`)."""
    g = ch5_gap_by_steps(profile, directory)
    by_steps = _dig(g["study"], "metrics.scale.by_steps") if g else None
    if g and isinstance(by_steps, dict) and all(m in by_steps for m in g["models"]):
        for model, color in zip(g["models"], ("tab:orange", "tab:blue")):
            points = sorted((int(k), v["map"]) for k, v in by_steps[model].items() if len(v.get("map", [])) >= 1)
            steps = [k for k, _ in points]
            stats = [mean_std(v) for _, v in points]
            ax.errorbar(steps, [m for m, _ in stats], yerr=[s for _, s in stats], fmt="o-", color=color, capsize=3,
                        label=f"{model} (mean ± seed sd, {max(len(v) for _, v in points)} seeds)")
        ax.set(xscale="log", xlabel="training steps", ylabel="test mAP",
               title="chapter 5 study: mAP against steps (measured points)")
        ax.legend(fontsize=7)
        return g
    d = ch5_doubling(profile, directory)
    if d is None:
        ax.text(0.5, 0.5, "no chapter-5 study in results/", ha="center", transform=ax.transAxes)
        return None
    steps = np.array(d["steps"], dtype=float)
    far = steps[1] * 2.0 ** np.linspace(0, 2, 9)
    for model, color in zip(d["models"], ("tab:orange", "tab:blue")):
        y = np.array(d["points"][model])
        sd = d["sd"][model]
        slope = (y[1] - y[0]) / math.log2(steps[1] / steps[0])
        ax.errorbar(steps, y, yerr=sd, fmt="o", color=color, capsize=3, label=f"{model} (± seed sd)")
        ax.plot(steps, y, "-", color=color)
        trend = y[1] + slope * np.log2(far / steps[1])
        spread = d["t"] * math.sqrt(2) * sd * np.log2(far / steps[0]) / math.log2(steps[1] / steps[0])
        ax.plot(far, trend, "--", color=color, label=f"{model}: {slope:+.3f} mAP per doubling")
        ax.fill_between(far, trend - spread, trend + spread, color=color, alpha=0.15)
    ax.set(xscale="log", xlabel="training steps", ylabel="test mAP", title="chapter 5 study (one seed per point)")
    ax.legend(fontsize=7)
    return d


def plot_context(ax, keys: tuple[str, ...] = CONTEXT_KEYS):
    """Published FSD50K eval numbers as horizontal bars, each labelled with its source, tag and conditions
    (another dataset: for scale only)."""
    entries = [PUBLISHED_BY_KEY[k] for k in keys]
    ys = np.arange(len(entries))
    colors = {"paper": "dimgrey", "secondary": "lightgrey", "lecture": "grey"}
    ax.barh(ys, [p.value for p in entries], color=[colors[p.tag] for p in entries])
    ax.set_yticks(ys, [f"{p.label or p.key} [{p.tag}]" for p in entries], fontsize=7)
    for y, p in zip(ys, entries):
        ax.text(p.value + 0.01, y, p.text, va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="FSD50K eval mAP", title="published, on FSD50K (scale only)")
    return ax
