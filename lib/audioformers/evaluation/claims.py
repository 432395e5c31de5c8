"""What a chapter's claims for the reproduction report are made of, and the helpers they read results with.

Each chapter package that reproduces a paper holds a ``claims`` module (registered in
:mod:`audioformers.chapters` as ``claims="audioformers.<key>.claims"``) defining:

* ``PUBLISHED``: its published numbers (:class:`Published`, each with its source tag, reference and conditions) —
  the only numbers on the report's page that are typed by hand;
* ``CLAIMS``: its claims (:class:`Claim`), each with a ``measure(profile, directory) -> Measured`` that reads
  ``results/`` and gives a verdict by :mod:`audioformers.evaluation.evidence`;
* optionally ``FIGURE_PUBLISHED`` (a figure's label -> a key of its ``PUBLISHED``) and its figures' series.

:mod:`audioformers.report` reads every registered chapter's module and builds the page. The helpers here read the
results files (:func:`load`, :func:`load_glob`, each noting the file in :func:`budgets.reading`), pair two
conditions' scores per seed and test source (:func:`paired`), and write the generated explanations that several
chapters share (:func:`sources_note`, :func:`seeds_needed`, :func:`missing`).

Notebook: ``chapters/R_reproduction_report.ipynb``.
"""

from __future__ import annotations

import glob
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from audioformers.core.results import read_results_file
from audioformers.evaluation import budgets as bg
from audioformers.evaluation import evidence as ev

SOURCE_TAGS = ("paper", "lecture", "secondary")
LECTURE = "Stanford CS25 lecture (P. Verma)"
SECONDARY = "third-party summary of {}, not checked against the paper"

Series = dict[str, tuple[float, float, int]]  # a figure's bars: label -> (mean, std, n)


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
    """One claim of the lecture or a paper, and how its chapter measures it.

    ``published`` names keys of the published numbers it is set beside (the chapter's ``PUBLISHED``, or another
    registered chapter's); the report refuses a key no registered chapter publishes."""

    key: str
    chapter: str  # the registry's key of the chapter that measures it ("ch3")
    kind: str  # evidence.EMPIRICAL | evidence.MECHANISM
    statement: str
    source: str  # tag of where the claim itself is stated
    published: tuple[str, ...]  # keys of Published numbers
    measure: Callable[[str, Path], Measured]

    def __post_init__(self) -> None:
        for name in ("key", "chapter", "statement"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        if self.kind not in ev.KINDS:
            raise ValueError(f"kind must be one of {ev.KINDS}, got {self.kind!r}")
        if self.source not in SOURCE_TAGS:
            raise ValueError(f"source must be one of {SOURCE_TAGS}, got {self.source!r}")
        if not isinstance(self.published, tuple) or not all(isinstance(k, str) for k in self.published):
            raise TypeError(f"published must be a tuple of keys (str), got {self.published!r}")
        if not callable(self.measure):
            raise TypeError(f"measure must be a function (profile, directory) -> Measured, got {self.measure!r}")


# --- reading results -------------------------------------------------------------------------------

def load(directory: Path, chapter: str, name: str, profile: str) -> dict[str, Any] | None:
    """``<directory>/<chapter>/<name>.<profile>.json``, or ``None`` if it does not exist (corrupt: an error naming it)."""
    path = directory / chapter / f"{name}.{profile}.json"
    bg.note_read(path, path.exists())
    return read_results_file(path, fields=()) if path.exists() else None


def load_glob(directory: Path, chapter: str, pattern: str, profile: str) -> list[dict[str, Any]]:
    """Every ``<directory>/<chapter>/<pattern>.<profile>.json``, in name order."""
    paths = sorted(glob.glob(str(directory / chapter / f"{pattern}.{profile}.json")))
    for p in paths:
        bg.note_read(Path(p), True)
    return [read_results_file(p, fields=()) for p in paths]


def dig(record: Any, dotted: str) -> Any:
    """``record["a"]["b"]`` for ``"a.b"``, or ``None`` where a level is missing."""
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


def provenance(records: list[dict[str, Any]]) -> tuple[str, float | None]:
    """The records' devices (sorted, joined) and their summed wall time in seconds (``None`` if none records it)."""
    devices = sorted({str(r.get("device", "?")) for r in records})
    times = [r.get("wall_time_s") for r in records if isinstance(r.get("wall_time_s"), (int, float))]
    return ", ".join(devices), (float(sum(times)) if times else None)


def missing(profile: str, what: str) -> Measured:
    """The row of a claim whose results are not in ``results/`` at ``profile``: not yet run."""
    return Measured(f"no {profile} results", ev.NOT_YET_RUN, f"{what} has not been run at the {profile!r} profile")


def paired(blocks_a: list[Any], blocks_b: list[Any], metric: str | None,
           pooled: Callable[[Any], float]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Scores of two conditions shaped (seeds, sources): the blocks' ``per_source`` values (under ``metric``
    when given) where every seed records them for the same two or more sources, else ``pooled(block)`` as
    one column. The flag says whether per-source values were found."""
    def per_source(block):
        table = dig(block, "per_source" + (f".{metric}" if metric else ""))
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


def sources_note(found: bool, pooled_count: Any, unit: str) -> str:
    """'' when per-source scores were found (:func:`paired`), else the note that the interval covers seeds only."""
    if found:
        return ""
    count = f"{pooled_count} {unit} pooled" if isinstance(pooled_count, int) and pooled_count > 0 else \
        "the test set pooled"
    return f"test sources: 1 ({count}; results/ record no per-source scores, so the interval covers seeds only)"


def levels_needed(iv: ev.Interval) -> str:
    """For an inconclusive two-level interval: which level its width comes from, and how many seeds (with the test
    sources as they are), or how many test sources (with the seeds as they are), the measured variances say would
    clear its mean — or that neither alone would."""
    from scipy import stats

    seed_part, source_part = iv.parts
    match = re.search(r"× \d+ (.+?) \(", iv.method)
    what = match.group(1) if match else "test sources"
    if iv.mean == 0 or not math.isfinite(iv.mean):
        return ""
    df = re.search(r"df (\d+)", iv.method)
    quantile = float(stats.t.ppf((1 + iv.level) / 2, int(df.group(1)))) if df else float(stats.norm.ppf((1 + iv.level) / 2))
    target = (abs(iv.mean) / quantile) ** 2  # the variance of the mean that would clear it (at today's df: conservative)
    options = []
    for label, part, n, other in (("seeds", seed_part, iv.seeds, source_part), (what, source_part, iv.sources, seed_part)):
        if other < target and part > 0:
            options.append(f"about {max(n + 1, math.ceil(part * n / (target - other)))} {label} (the rest as they are)")
    share = seed_part / (seed_part + source_part) if seed_part + source_part > 0 else 0.5
    head = (f"the interval's variance is {share:.0%} between seeds and {1 - share:.0%} between {what}; at these "
            f"variances a mean difference of {iv.mean:+.3g} would clear its {iv.level:.0%} interval with ")
    if not options:
        return head + f"neither more seeds alone nor more {what} alone: both must grow, or the difference is too small to resolve"
    return head + " or ".join(options)


def seeds_needed(iv: ev.Interval) -> str:
    """For an inconclusive interval: how many seeds (or folds, or test sources) the measured spread says would
    resolve its mean (:func:`levels_needed` for the two-level interval)."""
    from scipy import stats

    if iv.parts is not None:
        return levels_needed(iv)

    unit = iv.method.split()[-1]  # "t interval over 3 seeds" -> "seeds"
    n = int(iv.method.split()[-2]) if iv.method.split()[-2].isdigit() else 0
    if n < 2 or iv.mean == 0 or not math.isfinite(iv.high - iv.low):
        return ""
    sd = (iv.high - iv.low) / 2 / float(stats.t.ppf((1 + iv.level) / 2, n - 1)) * math.sqrt(n)
    need = ev.units_to_resolve(iv.mean, sd, n + 1, level=iv.level) or 10_000
    return (f"at the measured spread of paired differences (sd {sd:.3g} per {unit[:-1]}), a mean difference of "
            f"{iv.mean:+.3g} would clear its {iv.level:.0%} interval with about {need} {unit}")
