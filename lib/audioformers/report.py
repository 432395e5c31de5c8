"""The reproduction report: every claim of the lecture and its papers beside what ``results/`` records.

The claims live with their chapters: each chapter registered in :mod:`audioformers.chapters` with
``claims="audioformers.<key>.claims"`` holds, in that module, its ``PUBLISHED`` numbers (the only numbers on the
page typed by hand, each with its source tag, reference and conditions), its ``CLAIMS`` and its figures' series
(what a claims module is made of: :mod:`audioformers.evaluation.claims`). This module reads them from the registry,
in its order, and builds the page: one row per claim (:func:`build_report`), the headline, the chapters' own
verdict lines (:func:`chapter_verdicts`), the table of published numbers. Registering a chapter with a claims
module is all it takes for its rows to appear.

Every verdict comes from :mod:`audioformers.evaluation.evidence` (the same protocol the chapters use), every
"why" and every "what it would take" is generated from the results files: steps, tokens, clips, training seconds,
fitted slopes and extrapolated crossovers. Two kinds of rows are counted apart: the papers' *empirical claims*
(the headline counts these) and *mechanism* facts the book demonstrates (the n² cost of attention, few codes
merging notes, a front end's filterbank moving with its data).

``report.CLAIMS``, ``report.PUBLISHED`` and ``report.PUBLISHED_BY_KEY`` are read from the registry when asked
for; any other name a chapter's claims module defines (``report.ch3_series``, ``report.plot_ch5_study``,
``report.ch5_doubling``...) is found there, so ``from audioformers import report`` gives the page everything.

Notebook: ``chapters/R_reproduction_report.ipynb``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from audioformers import chapters
from audioformers.core.profiles import validate_profile
from audioformers.core.results import results_dir
from audioformers.evaluation import evidence as ev
from audioformers.evaluation.claims import SOURCE_TAGS, Claim, Measured, Published, Series, mean_std  # noqa: F401

__all__ = ["Claim", "Measured", "Published", "SOURCE_TAGS", "Series", "build_report", "chapter_claims",
           "chapter_verdicts", "claims", "figure_published", "headline", "mean_std", "mechanisms_line",
           "plot_series", "published", "published_by_key", "published_table", "published_text", "to_markdown"]


# --- the chapters' claims, from the registry --------------------------------------------------------

def chapter_claims(chapter: chapters.Chapter) -> ModuleType:
    """The claims module of a registered ``chapter``, checked: a ``PUBLISHED`` tuple of :class:`Published` (may be
    empty) and a ``CLAIMS`` tuple of :class:`Claim`, each claim naming ``chapter`` as its own."""
    if not isinstance(chapter, chapters.Chapter) or not chapter.claims:
        raise ValueError(f"chapter must be a registered Chapter with a claims module, got {chapter!r}")
    module = importlib.import_module(chapter.claims)
    found = getattr(module, "CLAIMS", None)
    if not isinstance(found, tuple) or not all(isinstance(c, Claim) for c in found):
        raise ValueError(f"{chapter.claims} (the claims of {chapter.key}) must define CLAIMS, a tuple of Claim")
    if not isinstance(getattr(module, "PUBLISHED", ()), tuple) or \
            not all(isinstance(p, Published) for p in getattr(module, "PUBLISHED", ())):
        raise ValueError(f"{chapter.claims}.PUBLISHED must be a tuple of Published")
    strangers = [c.key for c in found if c.chapter != chapter.key]
    if strangers:
        raise ValueError(f"{chapter.claims}: claims {strangers} name another chapter than {chapter.key!r}")
    return module


def _modules() -> list[ModuleType]:
    return [chapter_claims(c) for c in chapters.with_claims()]


def published() -> tuple[Published, ...]:
    """Every registered chapter's published numbers, in the registry's order (keys unique across chapters)."""
    entries = tuple(p for module in _modules() for p in getattr(module, "PUBLISHED", ()))
    keys = [p.key for p in entries]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"published numbers registered twice: {twice}")
    return entries


def published_by_key() -> dict[str, Published]:
    return {p.key: p for p in published()}


def claims() -> tuple[Claim, ...]:
    """Every registered chapter's claims, in the registry's order; a claim that names a published number no
    chapter publishes, or a claim key used twice, is a ``ValueError``."""
    found = tuple(c for module in _modules() for c in module.CLAIMS)
    table = published_by_key()
    for claim in found:
        missing = [k for k in claim.published if k not in table]
        if missing:
            raise ValueError(f"claim {claim.key} ({claim.chapter}): published names unknown keys {missing}")
    keys = [c.key for c in found]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"claim keys used twice: {twice}")
    return found


def published_text(keys: tuple[str, ...]) -> str:
    """The published numbers of ``keys``, each with its tag: ``0.434 / 0.373 [paper: Fonseca et al. 2022]``."""
    table = published_by_key()
    groups: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        p = table[key]
        groups.setdefault((p.tag, p.reference), []).append(p.text)
    return "; ".join(f"{' / '.join(texts)} [{tag}: {ref}]" for (tag, ref), texts in groups.items())


def published_table() -> list[dict[str, str]]:
    """Rows of every chapter's published numbers for the page."""
    return [{"key": p.key, "number": p.text, "tag": p.tag, "reference": p.reference,
             "bibliography": p.cite or "–", "conditions": p.conditions} for p in published()]


# --- rows ------------------------------------------------------------------------------------------

def build_report(profile: str, directory: Path | None = None) -> list[dict[str, str]]:
    """One row per claim: kind, claim, source, published numbers (tagged), ours, verdict, why, what it would take."""
    profile = validate_profile(profile)
    directory = directory or results_dir()
    rows = []
    for claim in claims():
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
                         f"{sorted({str(c.chapter) for c in claims()})})")
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


# --- figures ---------------------------------------------------------------------------------------

def figure_published(chapter: str) -> dict[str, float]:
    """The published numbers a chapter's figure draws beside ours (its claims module's ``FIGURE_PUBLISHED``:
    label -> key), as label -> value."""
    module = chapter_claims(chapters.get(chapter))
    table = published_by_key()
    return {label: table[key].value for label, key in getattr(module, "FIGURE_PUBLISHED", {}).items()}


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


def __getattr__(name: str) -> Any:
    """``report.CLAIMS``, ``report.PUBLISHED``, ``report.PUBLISHED_BY_KEY`` from the registry; any other name from
    the registered chapters' claims modules (``report.ch3_series``...)."""
    if name == "CLAIMS":
        return claims()
    if name == "PUBLISHED":
        return published()
    if name == "PUBLISHED_BY_KEY":
        return published_by_key()
    if not name.startswith("__"):
        for chapter in chapters.with_claims():
            module = importlib.import_module(chapter.claims)
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (nor has any registered chapter's claims "
                         "module)")
