"""One statistical protocol for the book's comparisons: paired differences, an interval, a verdict.

Chapters 3–5 and the reproduction report call the same functions, so a chapter and the report can never
disagree about a claim.

**Data.** For each condition (a model, a representation, a pooling), an array of scores shaped
``(seeds, sources)``: one row per training seed, one column per *test source* (a held-out recording, a
GM program, a drum kit, a clip). A 1-D array is read as ``(seeds,)`` with one pooled test source. The two
conditions are paired: the same seed and the same test source in the same cell.

**Intervals.** One method for every seeds × sources comparison, :func:`interval` (a *two-level t interval*):

* the paired differences ``d[i, j]`` vary with the training seed ``i`` *and* the test source ``j`` (crossed:
  every seed is scored on every source); the interval is for their mean over both populations;
* ``var(mean) ≈ s_seed² / n_seed + s_source² / n_source``, where ``s_seed²`` is the variance of the per-seed
  means (over sources) and ``s_source²`` that of the per-source means (over seeds) — a conservative estimate of
  ``σ_seed²/n_seed + σ_source²/n_source + σ_residual²/(n_seed·n_source)``;
* half-width ``t(ν) · √var``, with the Welch–Satterthwaite degrees of freedom
  ``ν = var² / ((s_seed²/n_seed)²/(n_seed − 1) + (s_source²/n_source)²/(n_source − 1))`` rounded down to a
  whole number (the conservative convention; unrounded, it undercovers slightly): where seeds dominate
  it is the t interval over seeds (ν → n_seed − 1 = 2 at three seeds), where sources dominate the t interval
  over sources;
* one test source: a t interval over seeds, flagged ``test sources: 1`` (it covers training randomness on that
  source, not the choice of test set); one seed: a t interval over sources, flagged ``one seed``; one of each:
  no interval (``−∞, +∞``).

Its coverage is checked by simulation in ``lib/tests/test_evidence.py`` (seed effects + source effects + a
residual, seed-dominated, source-dominated and balanced, at 3 seeds × 1, 3, 5 and 8 sources): 95% nominal
measures 94.5–97.5% (at one source, for the mean on that source). Where a seed × source residual dominates, the
interval is conservative (98–99%). The two-way bootstrap that came before (deleted; ``lib/tests/test_evidence.py`` keeps a copy to
show why it was replaced) measures about 76% at three seeds where seeds dominate: a bootstrap over three
values sees their spread but not how wide a t(2) tail is.

* :func:`fold_interval` is the same interval for ``(folds, seeds)`` scores (folds are the test sources), or a
  distribution-free sign-test interval for the median of the per-fold differences.

**Verdict rule** (:data:`RULE`), for a claim that condition ``a`` scores higher than ``b`` (or lower,
with ``higher_is_better=False`` or ``claimed="lower"``):

* *reproduced*: the whole interval of ``a − b`` lies on the claimed side of zero;
* *reversed*: the whole interval lies on the other side;
* *inconclusive*: the interval contains zero;
* *not comparable*: different data, sample rate or metric: a number shown for scale only;
* *not yet run*: no results;
* *not yet evidence* (:data:`BASELINE_RULE`, :func:`gate`): a compared model is not above its trivial
  baseline (a bigram count model, an untrained encoder, the label prior, chance), so the comparison says
  nothing about the claim yet, whatever its interval.

Several data sets for one claim (:func:`combine`): reproduced (reversed) only where every one is
reproduced (reversed); *not yet evidence* where any one is; otherwise inconclusive.

Every verdict is read at a budget (tokens, steps, clips): :func:`at_budget` writes it beside the verdict,
with its fraction of the paper's (``reversed at 614k tokens, 0.02% of the paper's data``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

REPRODUCED, REVERSED, INCONCLUSIVE, NOT_COMPARABLE, NOT_YET_RUN, NOT_YET_EVIDENCE = (
    "reproduced", "reversed", "inconclusive", "not comparable", "not yet run", "not yet evidence")
VERDICTS = (REPRODUCED, REVERSED, INCONCLUSIVE, NOT_COMPARABLE, NOT_YET_RUN, NOT_YET_EVIDENCE)

#: The two kinds of rows in the report: the papers' empirical results, and mechanism facts the book demonstrates.
EMPIRICAL, MECHANISM = "empirical claim", "mechanism"
KINDS = (EMPIRICAL, MECHANISM)

RULE = ("A claim that A scores better than B is *reproduced* when the whole interval of the paired difference "
        "A − B lies on the claimed side of zero, *reversed* when it lies wholly on the other side, and "
        "*inconclusive* when it contains zero. The interval is a 95% two-level t interval over seeds and test "
        "sources (folds are test sources): the variance of the mean is the per-seed means' variance over the "
        "seeds plus the per-source means' variance over the sources, with Satterthwaite's degrees of freedom "
        "(its coverage is checked by simulation at three seeds); with one (pooled) test source it is a 95% t "
        "interval over seeds, flagged 'test sources: 1'; with one seed, a t interval over test sources, flagged "
        "'one seed'. Numbers from other data, sample rates or metrics are *not comparable* (shown for scale); "
        "a claim without results is *not yet run*. A comparison where a compared model is not above its trivial "
        "baseline is *not yet evidence*. A claim measured on several data sets is reproduced (reversed) only where "
        "every one is, and not yet evidence where any one is.")

BASELINE_RULE = ("A comparison is *not yet evidence* when a compared model is not above its trivial baseline (a "
                 "bigram count model, an untrained encoder, the label prior, chance): the 95% interval of the "
                 "paired difference model − baseline must lie wholly on the better side of zero. A model that "
                 "has not beaten a count table has not learned what the claim is about, so an ordering between "
                 "it and another model is not read as reproduced or reversed, even when that ordering's interval "
                 "excludes zero.")


@dataclass(frozen=True)
class Interval:
    """An interval for the mean (or median) paired difference ``a − b`` and how it was made."""

    mean: float
    low: float
    high: float
    level: float
    method: str
    seeds: int
    sources: int  # test sources behind the interval; 0 where not applicable (a slope, an exact count)
    note: str = ""
    parts: tuple[float, float] | None = None  # two-level intervals: (s_seed²/n_seed, s_source²/n_source)

    def text(self, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
        """``+0.002 [−0.004, +0.009] (95% t over 3 seeds; test sources: 1)``."""
        def num(v: float) -> str:
            return f"{v * scale:+.{digits}f}{unit}" if math.isfinite(v) else ("−∞" if v < 0 else "+∞")
        return f"{num(self.mean)} [{num(self.low)}, {num(self.high)}] ({self.describe()})"

    def describe(self) -> str:
        parts = [f"{self.level:.0%} {self.method}"] + ([f"test sources: {self.sources}"] if self.sources else [])
        return "; ".join(parts + ([self.note] if self.note else []))


def _check_level(level: float) -> float:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    return float(level)


def as_scores(values, name: str = "a") -> np.ndarray:
    """``values`` as a float array shaped ``(seeds, sources)``; a 1-D array is ``(seeds, 1)``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers shaped (seeds,) or (seeds, sources): {error}") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be shaped (seeds,) or (seeds, sources), got {array.ndim} dimensions")
    if array.size == 0:
        raise ValueError(f"{name} is empty: need at least one seed and one test source")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def paired_differences(a, b) -> np.ndarray:
    """``a − b`` cell by cell, shaped ``(seeds, sources)``, after checking both have the same shape."""
    a, b = as_scores(a, "a"), as_scores(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired (same seeds and test sources): shapes {a.shape} and {b.shape}")
    return a - b


def _student_t_quantile(p: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(p, df))


def t_interval(differences, *, level: float = 0.95, what: str = "folds", sources: int = 1,
               seeds: int | None = None, note: str = "") -> Interval:
    """Student-t interval for the mean of independent paired ``differences`` (folds, or seeds)."""
    level = _check_level(level)
    if np.ndim(differences) > 1:
        raise ValueError("differences must be one number per fold (or seed): a 1-D array")
    d = as_scores(differences, "differences")[:, 0]
    n = len(d)
    if n < 2:
        raise ValueError(f"differences needs at least two {what} for a t interval, got {n}")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = _student_t_quantile((1 + level) / 2, n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, level, f"t interval over {n} {what}",
                    seeds if seeds is not None else n, sources, note)


def sign_interval(differences, *, level: float = 0.95, what: str = "folds", sources: int = 1,
                  seeds: int | None = None) -> Interval:
    """Distribution-free interval for the median difference from order statistics (the sign test's).

    With too few folds for the requested level (fewer than 6 at 95%) the interval is unbounded.
    """
    from scipy import stats

    level = _check_level(level)
    if np.ndim(differences) > 1:
        raise ValueError("differences must be one number per fold (or seed): a 1-D array")
    d = np.sort(as_scores(differences, "differences")[:, 0])
    n = len(d)
    if n < 2:
        raise ValueError(f"differences needs at least two {what} for a sign-test interval, got {n}")
    # the largest k with P(k <= Binomial(n, 1/2) <= n - k) >= level gives [d_(k+1), d_(n-k)] (1-based)
    k_best = None
    for k in range(n // 2, 0, -1):
        if 1 - 2 * stats.binom.cdf(k - 1, n, 0.5) >= level:
            k_best = k
            break
    median = float(np.median(d))
    if k_best is None:
        return Interval(median, -math.inf, math.inf, level, f"sign-test interval over {n} {what}",
                        seeds if seeds is not None else n, sources,
                        f"too few {what} for a {level:.0%} sign-test interval")
    return Interval(median, float(d[k_best - 1]), float(d[n - k_best]), level,
                    f"sign-test interval over {n} {what}", seeds if seeds is not None else n, sources)


def _two_level(diff: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, variance of the mean and Satterthwaite degrees of freedom of paired differences shaped
    ``(..., seeds, sources)`` (at least two of each), vectorised over the leading axes.

    ``var = s_seed²/n_seed + s_source²/n_source`` with ``s_seed²`` the variance of the per-seed means (over
    sources) and ``s_source²`` that of the per-source means (over seeds), and
    ``ν = var² / ((s_seed²/n_seed)²/(n_seed − 1) + (s_source²/n_source)²/(n_source − 1))``, rounded down to a
    whole number (the conservative convention: with unrounded ν the interval measures about 92% at two sources
    where sources dominate, and 93.5% at 5–8 sources where seeds dominate).
    """
    n_seeds, n_sources = diff.shape[-2:]
    seed_part = diff.mean(axis=-1).var(axis=-1, ddof=1) / n_seeds
    source_part = diff.mean(axis=-2).var(axis=-1, ddof=1) / n_sources
    var = seed_part + source_part
    denominator = seed_part ** 2 / (n_seeds - 1) + source_part ** 2 / (n_sources - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denominator > 0, var ** 2 / np.where(denominator > 0, denominator, 1.0),
                      float(n_seeds + n_sources - 2))
    # ν lies in [min(n_seed, n_source) − 1, n_seed + n_source − 2]; the small tolerance keeps an exact 2 at 2
    return diff.mean(axis=(-2, -1)), var, np.floor(df + 1e-9)


def _parts(diff: np.ndarray) -> tuple[float, float]:
    """The two terms of :func:`_two_level`'s variance: ``(s_seed²/n_seed, s_source²/n_source)``."""
    n_seeds, n_sources = diff.shape
    return (float(diff.mean(axis=1).var(ddof=1) / n_seeds), float(diff.mean(axis=0).var(ddof=1) / n_sources))


def _hierarchical(diff: np.ndarray, level: float, what: str) -> Interval:
    """The protocol's interval for paired differences shaped ``(seeds, sources)``; ``what`` names the sources."""
    n_seeds, n_sources = diff.shape
    if n_seeds >= 2 and n_sources >= 2:
        mean, var, df = (float(x) for x in _two_level(diff))
        half = _student_t_quantile((1 + level) / 2, df) * math.sqrt(var)
        return Interval(mean, mean - half, mean + half, level,
                        f"two-level t interval over {n_seeds} seeds × {n_sources} {what} (Satterthwaite df {df:.0f})",
                        n_seeds, n_sources, parts=tuple(float(x) for x in _parts(diff)))
    if n_sources >= 2:  # one seed: the test sources vary, training randomness is not covered
        return t_interval(diff[0], level=level, what=what, sources=n_sources, seeds=1,
                          note="one seed: training randomness not covered")
    if n_seeds >= 2:  # one (pooled) test source: the interval covers seeds on that source, not the test set
        return t_interval(diff[:, 0], level=level, what="seeds", sources=1, note="seeds only")
    # one seed, one test source: nothing varies, so no interval exists (e.g. the smoke profile)
    return Interval(float(diff[0, 0]), -math.inf, math.inf, level, "no interval", 1, 1,
                    "one seed and one test source: not enough replication")


def fold_interval(a, b, *, level: float = 0.95, method: str = "t") -> Interval:
    """Interval over folds for scores shaped ``(folds,)`` or ``(folds, seeds)`` (folds are the test sources).

    ``method="t"``: the protocol's two-level t interval (:func:`interval`, with folds as the test sources and
    seeds crossed with them: the same seed's models are probed in every fold); with one seed, a t interval over
    folds. ``method="sign"``: a distribution-free sign-test interval for the median of the per-fold
    differences (each fold averaged over its seeds), shown beside it.
    """
    if method not in ("t", "sign"):
        raise ValueError(f"method must be 't' or 'sign', got {method!r}")
    level = _check_level(level)
    diff = paired_differences(a, b)  # (folds, seeds)
    n_folds, n_seeds = diff.shape
    if method == "t":
        return _hierarchical(diff.T, level, "folds")
    return sign_interval(diff.mean(axis=1), level=level, what="folds", sources=n_folds, seeds=n_seeds)


def interval(a, b, *, level: float = 0.95, seed: int = 0, resamples: int = 10_000) -> Interval:
    """The protocol's interval for paired ``(seeds, sources)`` scores: a two-level t interval.

    The variance of the mean difference is ``s_seed²/n_seed + s_source²/n_source`` (per-seed means' variance
    over seeds, per-source means' variance over sources) with Satterthwaite's degrees of freedom, so that at
    three seeds a seed-dominated difference gets the t(2) width it needs. Its 95% coverage is checked by
    simulation (seed-, source-dominated and balanced, 3 seeds × 1–8 sources: 94.5–97.5%). One test source: a t
    interval over seeds, flagged ``seeds only``; one seed: a t interval over sources, flagged ``one seed``; one
    of each: no interval. ``seed`` and ``resamples`` are accepted for compatibility and unused (nothing is
    resampled).
    """
    level = _check_level(level)
    return _hierarchical(paired_differences(a, b), level, "test sources")


def units_to_resolve(mean: float, sd: float, start: int, *, level: float = 0.95, limit: int = 10_000) -> int | None:
    """How many seeds (or folds, or sources) a mean paired difference ``mean`` with spread ``sd`` per unit needs
    before its ``level`` t interval excludes zero: the smallest n in ``[start, limit]``, or None if none is."""
    from scipy import stats

    level = _check_level(level)
    if not (math.isfinite(mean) and math.isfinite(sd)) or sd < 0:
        raise ValueError(f"mean and sd must be finite and sd >= 0, got mean={mean!r}, sd={sd!r}")
    if mean == 0:
        return None
    for n in range(max(int(start), 2), int(limit) + 1):
        if float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n) < abs(mean):
            return n
    return None


def single_run_interval(difference: float, seed_sd: float, seeds: int, *, level: float = 0.95) -> Interval:
    """Interval for a difference between two single runs (one seed each), from a seed standard deviation
    measured elsewhere over ``seeds`` seeds: ``difference ± t(seeds − 1) · seed_sd · √2``."""
    level = _check_level(level)
    value, sd = float(difference), float(seed_sd)
    if not math.isfinite(value):
        raise ValueError(f"difference must be a finite number, got {difference!r}")
    if not (math.isfinite(sd) and sd >= 0):
        raise ValueError(f"seed_sd must be a finite number >= 0, got {seed_sd!r}")
    if not (isinstance(seeds, int) and seeds >= 2):
        raise ValueError(f"seeds must be an integer of at least 2 (the seeds behind seed_sd), got {seeds!r}")
    half = _student_t_quantile((1 + level) / 2, seeds - 1) * sd * math.sqrt(2)
    return Interval(value, value - half, value + half, level,
                    f"t interval from a seed sd over {seeds} seeds (one run per condition)", 1, 1)


def exact(difference: float, note: str = "one deterministic measurement: no sampling interval") -> Interval:
    """A difference measured once, without sampling variation (e.g. a count on one fixed clip)."""
    value = float(difference)
    if not math.isfinite(value):
        raise ValueError(f"difference must be a finite number, got {difference!r}")
    return Interval(value, value, value, 1.0, "exact", 1, 0, note)


def verdict(iv: Interval | None, *, claimed: str = "higher", comparable: bool = True) -> str:
    """The verdict of :data:`RULE` for the claim that ``a`` is ``claimed`` ("higher" or "lower") than ``b``."""
    if claimed not in ("higher", "lower"):
        raise ValueError(f"claimed must be 'higher' or 'lower', got {claimed!r}")
    if not isinstance(comparable, bool):
        raise ValueError(f"comparable must be True or False, got {comparable!r}")
    if not comparable:
        return NOT_COMPARABLE
    if iv is None:
        return NOT_YET_RUN
    if not isinstance(iv, Interval):
        raise ValueError(f"iv must be an Interval or None, got {type(iv).__name__}")
    sign = 1.0 if claimed == "higher" else -1.0
    low, high = sorted((sign * iv.low, sign * iv.high))
    if low > 0:
        return REPRODUCED
    if high < 0:
        return REVERSED
    return INCONCLUSIVE


def combine(verdicts: Iterable[str]) -> str:
    """One verdict for a claim measured on several data sets (see the module's rule)."""
    found = list(verdicts)
    for v in found:
        if v not in VERDICTS:
            raise ValueError(f"verdicts must be among {VERDICTS}, got {v!r}")
    if not found:
        return NOT_YET_RUN
    measured = [v for v in found if v != NOT_YET_RUN]
    if not measured:
        return NOT_YET_RUN
    if len(set(measured)) == 1:
        return measured[0]
    if NOT_COMPARABLE in measured:
        raise ValueError("verdicts mixes 'not comparable' with measured verdicts: keep them in separate claims")
    if NOT_YET_EVIDENCE in measured:
        return NOT_YET_EVIDENCE
    return INCONCLUSIVE


def above_baseline(iv: Interval | None, *, higher_is_better: bool = True) -> bool:
    """Whether the interval of ``model − baseline`` lies wholly on the better side of zero (:data:`BASELINE_RULE`)."""
    if iv is None:
        return False
    if not isinstance(iv, Interval):
        raise ValueError(f"iv must be an Interval (model − baseline) or None, got {type(iv).__name__}")
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"higher_is_better must be True or False, got {higher_is_better!r}")
    return iv.low > 0 if higher_is_better else iv.high < 0


def gate(verdict_word: str, baselines: Iterable[Interval | None], *, higher_is_better: bool = True) -> str:
    """:data:`BASELINE_RULE`: ``verdict_word`` unless a compared model is not above its trivial baseline.

    ``baselines``: one interval of ``model − baseline`` per compared model (None where the baseline is not
    measured: then the rule cannot be applied to that model and the verdict is kept). A reproduced, reversed
    or inconclusive verdict becomes *not yet evidence* when any measured interval is not wholly on the better
    side of zero; *not comparable* and *not yet run* stay as they are.
    """
    if verdict_word not in VERDICTS:
        raise ValueError(f"verdict_word must be among {VERDICTS}, got {verdict_word!r}")
    checks = list(baselines)
    if verdict_word in (NOT_COMPARABLE, NOT_YET_RUN):
        return verdict_word
    measured = [iv for iv in checks if iv is not None]
    if any(not above_baseline(iv, higher_is_better=higher_is_better) for iv in measured):
        return NOT_YET_EVIDENCE
    return verdict_word


def at_budget(verdict_word: str, budget: str, fraction: str = "") -> str:
    """``reversed at 614k tokens, 0.02% of the paper's data``: a verdict with the budget it was read at."""
    if verdict_word not in VERDICTS:
        raise ValueError(f"verdict_word must be among {VERDICTS}, got {verdict_word!r}")
    if not isinstance(budget, str) or not isinstance(fraction, str):
        raise ValueError("budget and fraction must be strings")
    if verdict_word == NOT_YET_RUN or not budget:
        return verdict_word
    return f"{verdict_word} at {budget}" + (f", {fraction}" if fraction else "")


@dataclass(frozen=True)
class Comparison:
    """A paired comparison and its verdict: ``a`` claimed ``claimed`` than ``b``."""

    a: str
    b: str
    interval: Interval
    verdict: str
    claimed: str = "higher"

    def line(self, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
        """``transformer − wavenet = −0.045 [−0.052, −0.038] (95% t over 3 seeds; test sources: 1): reversed``."""
        return f"{self.a} − {self.b} = {self.interval.text(scale, digits, unit)}: {self.verdict}"


def compare(a, b, *, names: Sequence[str] = ("a", "b"), claimed: str = "higher", level: float = 0.95,
            seed: int = 0, folds: bool = False, method: str = "t") -> Comparison:
    """Interval and verdict for paired scores of two conditions, the way every chapter and the report do it.

    ``a``, ``b``: ``(seeds, sources)`` scores (or ``(folds, seeds)`` with ``folds=True``).
    """
    if len(names) != 2 or not all(isinstance(n, str) for n in names):
        raise ValueError(f"names must be two strings, got {names!r}")
    iv = fold_interval(a, b, level=level, method=method) if folds else interval(a, b, level=level, seed=seed)
    return Comparison(names[0], names[1], iv, verdict(iv, claimed=claimed), claimed)


def compare_gated(a, b, baseline, *, names: Sequence[str] = ("a", "b"), baseline_name: str = "baseline",
                  claimed: str = "higher", higher_is_better: bool = True, level: float = 0.95, seed: int = 0,
                  folds: bool = False, method: str = "t") -> tuple[Comparison, tuple[Comparison, Comparison]]:
    """:func:`compare` of ``a`` and ``b`` with :data:`BASELINE_RULE` applied: each of them is compared with the
    trivial ``baseline`` (paired like them; a scalar such as chance is broadcast) and the verdict becomes
    *not yet evidence* unless both are above it. Returns the comparison and the two baseline comparisons."""
    comp = compare(a, b, names=names, claimed=claimed, level=level, seed=seed, folds=folds, method=method)
    shape = paired_differences(a, b).shape
    base = np.asarray(baseline, dtype=np.float64)
    if base.ndim == 0:
        base = np.full(shape, float(base))
    side = "higher" if higher_is_better else "lower"
    checks = tuple(compare(x, base.reshape(shape) if base.size == math.prod(shape) else base,
                           names=(n, baseline_name), claimed=side, level=level, seed=seed, folds=folds, method=method)
                   for x, n in zip((a, b), names))
    word = gate(comp.verdict, (c.interval for c in checks), higher_is_better=higher_is_better)
    return Comparison(comp.a, comp.b, comp.interval, word, claimed), checks


# --- trends: power laws with an irreducible term, and where two of them cross ---------------------

@dataclass(frozen=True)
class Trend:
    """``y = floor + scale · (x / x_ref) ** (−exponent)`` fitted by least squares (exponent on a grid)."""

    floor: float
    scale: float
    exponent: float
    x_ref: float

    def __call__(self, x) -> np.ndarray:
        return self.floor + self.scale * (np.asarray(x, dtype=np.float64) / self.x_ref) ** (-self.exponent)


_EXPONENTS = np.concatenate([np.linspace(0.02, 1.0, 99), np.linspace(1.02, 3.0, 100)])


def _check_curve(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D and of equal length, got shapes {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"x needs at least 3 points to fit a power law with a floor, got {len(x)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    if np.any(x <= 0):
        raise ValueError("x must be positive (a budget: tokens, steps, seconds)")
    return x, y


def fit_power_law(x, y) -> Trend:
    """Least-squares fit of ``y = floor + scale · (x/x_ref)^−exponent``; exponent from a grid in (0, 3]."""
    x, y = _check_curve(x, y)
    x_ref = float(x.max())
    z = (x / x_ref)[None, :] ** (-_EXPONENTS[:, None])  # (grid, points)
    zc = z - z.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    scale = (zc @ yc) / np.maximum(np.sum(zc ** 2, axis=1), 1e-300)  # closed-form simple regression per exponent
    floor = y.mean() - scale * z.mean(axis=1)
    sse = np.sum((floor[:, None] + scale[:, None] * z - y[None, :]) ** 2, axis=1)
    best = int(np.argmin(sse))
    return Trend(float(floor[best]), float(scale[best]), float(_EXPONENTS[best]), x_ref)


def bootstrap_trends(x, y, *, resamples: int = 200, seed: int = 0) -> list[Trend]:
    """Trends refitted to the fit plus resampled residuals (a residual bootstrap; deterministic per seed)."""
    x, y = _check_curve(x, y)
    base = fit_power_law(x, y)
    residuals = y - base(x)
    rng = np.random.default_rng(seed)
    return [fit_power_law(x, base(x) + rng.choice(residuals, size=len(x), replace=True)) for _ in range(resamples)]


@dataclass(frozen=True)
class Crossover:
    """Where curve ``a`` would overtake curve ``b`` beyond the measured range, from bootstrap refits."""

    x_last: float
    median: float | None  # median crossing point over refits that cross, None if fewer than half do
    low: float | None
    high: float | None
    fraction: float  # share of refits whose curves cross within the horizon
    horizon: float  # multiples of x_last searched

    def text(self, unit: str = "tokens") -> str:
        if self.median is None:
            return (f"no crossover in sight at the measured slopes: {self.fraction:.0%} of bootstrap refits cross "
                    f"within {self.horizon:,.0f}× the largest measured budget ({self.x_last:,.3g} {unit})")
        return (f"extrapolated crossover at about {self.median:,.3g} {unit} (90% of crossing refits: "
                f"{self.low:,.3g}–{self.high:,.3g}; {self.fraction:.0%} of refits cross within "
                f"{self.horizon:,.0f}× the measured {self.x_last:,.3g} {unit})")


def _first_crossing(a: Trend, b: Trend, grid: np.ndarray, lower_is_better: bool) -> float | None:
    gap = a(grid) - b(grid)
    ahead = gap < 0 if lower_is_better else gap > 0
    if ahead[0]:
        return float(grid[0])  # already ahead at the last measured budget
    turned = np.flatnonzero(ahead)
    return float(grid[turned[0]]) if len(turned) else None


def crossover(x_a, y_a, x_b, y_b, *, lower_is_better: bool = True, horizon: float = 1e4, resamples: int = 200,
              seed: int = 0) -> Crossover:
    """Extrapolated budget at which curve ``a`` overtakes ``b`` (both fitted with :func:`fit_power_law`).

    The uncertainty comes from :func:`bootstrap_trends` of each curve; a crossover is reported only when
    at least half of the paired refits cross within ``horizon`` times the largest measured budget.
    """
    if not (isinstance(horizon, (int, float)) and horizon > 1):
        raise ValueError(f"horizon must be a number above 1, got {horizon!r}")
    fits_a = bootstrap_trends(x_a, y_a, resamples=resamples, seed=seed)
    fits_b = bootstrap_trends(x_b, y_b, resamples=resamples, seed=seed + 1)
    x_last = float(max(np.max(x_a), np.max(x_b)))
    grid = x_last * np.logspace(0, math.log10(horizon), 400)
    points = [c for fa, fb in zip(fits_a, fits_b) if (c := _first_crossing(fa, fb, grid, lower_is_better))]
    fraction = len(points) / resamples
    if fraction < 0.5:
        return Crossover(x_last, None, None, None, fraction, float(horizon))
    low, median, high = np.quantile(points, [0.05, 0.5, 0.95])
    return Crossover(x_last, float(median), float(low), float(high), fraction, float(horizon))


def slope_interval(x, y, *, level: float = 0.95, log: bool = True) -> Interval:
    """Least-squares slope of ``y`` on ``x`` (log–log by default) with its t interval over the points."""
    level = _check_level(level)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 3:
        raise ValueError(f"x and y must be 1-D, of equal length and at least 3 points, got {x.shape} and {y.shape}")
    if log:
        if np.any(x <= 0) or np.any(y <= 0):
            raise ValueError("x and y must be positive for a log-log slope")
        x, y = np.log(x), np.log(y)
    n = len(x)
    xc = x - x.mean()
    slope = float(np.sum(xc * (y - y.mean())) / np.sum(xc ** 2))
    resid = y - y.mean() - slope * xc
    se = math.sqrt(float(np.sum(resid ** 2)) / (n - 2) / float(np.sum(xc ** 2)))
    half = _student_t_quantile((1 + level) / 2, n - 2) * se
    return Interval(slope, slope - half, slope + half, level, f"t interval of a slope over {n} points", 1, 0)


def describe(a, b, *, names: Sequence[str] = ("a", "b"), claimed: str = "higher", scale: float = 1.0,
             digits: int = 3, unit: str = "") -> str:
    """One printed line for a chapter: :func:`compare`'s line, or — with a single seed and a single test
    source, where no interval exists — the difference marked inconclusive."""
    diff = paired_differences(a, b)
    if diff.size < 2:
        if len(names) != 2:
            raise ValueError(f"names must be two strings, got {names!r}")
        value = float(diff[0, 0]) * scale
        return (f"{names[0]} − {names[1]} = {value:+.{digits}f}{unit} (one seed and one test source: no interval): "
                f"{INCONCLUSIVE}")
    return compare(a, b, names=names, claimed=claimed).line(scale=scale, digits=digits, unit=unit)
