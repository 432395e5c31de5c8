"""At what budget a verdict was read, and what fraction of the paper's that is.

EVIDENCE rule 9: every verdict states its budget and its fraction of the paper's (``reversed at 614k tokens,
0.02% of the paper's data``). The budget comes from what ``results/`` records (steps, batch, tokens, clips);
the paper's side from each chapter's ``claims.PAPER`` (a :class:`PaperData`: the paper's training-data size as our
sources state it, with its source tag), so a new chapter brings its own and nothing here lists chapters.

Notebook: ``chapters/R_reproduction_report.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audioformers.evaluation import evidence as ev


@dataclass(frozen=True)
class PaperData:
    """How much training data a paper used, in the unit our budget is counted in (None: not in our sources)."""

    paper: str
    amount: float | None
    unit: str  # "tokens" (samples), "clips"
    text: str  # as printed
    tag: str  # paper | lecture | secondary
    reference: str


@dataclass(frozen=True)
class Budget:
    """Our budget (``614k tokens``) and its fraction of the paper's (``0.02% of the paper's data``)."""

    text: str
    fraction: str = ""

    def words(self, verdict_word: str) -> str:
        """``reversed at 614k tokens, 0.02% of the paper's data``."""
        return ev.at_budget(verdict_word, self.text, self.fraction)

    def line(self) -> str:
        return self.text + (f", {self.fraction}" if self.fraction else "")


def compact(n: float) -> str:
    """``614400 -> '614k'``, ``5120000 -> '5.1M'``, ``950 -> '950'``."""
    n = float(n)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            value = n / size
            return f"{value:.0f}{suffix}" if value >= 100 else f"{value:.3g}{suffix}"
    return f"{n:.0f}"


def percent(fraction: float) -> str:
    """A fraction as a percentage with two significant digits: ``0.00019 -> '0.019%'``, ``0.049 -> '4.9%'``."""
    if not fraction > 0:
        raise ValueError(f"fraction must be positive, got {fraction!r}")
    value = 100 * fraction
    text = f"{value:.2g}"
    return (f"{float(text):,.0f}" if "e" in text else text) + "%"


def fraction_of_paper(paper: PaperData, amount: float) -> str:
    """``0.019% of the paper's data`` for ``amount`` in ``paper``'s unit (each chapter's ``claims.PAPER``)."""
    if not isinstance(paper, PaperData):
        raise TypeError(f"paper must be a PaperData (a chapter's claims.PAPER), got {paper!r}")
    if paper.amount is None:
        return "the paper's data size is not in our sources"
    return f"{percent(amount / paper.amount)} of the paper's data ({paper.unit})"


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def ratio_text(larger: float, smaller: float) -> str:
    """``'8.3 times'``: how many times ``larger`` is ``smaller`` (a stated ratio instead of a typed one)."""
    if not (larger > 0 and smaller > 0):
        raise ValueError(f"larger and smaller must be positive, got {larger!r} and {smaller!r}")
    return f"{larger / smaller:.2g} times"


# --- which results files a row or a figure reads (so a test can check that they read the same) ---------

_READS: list[set[str]] = []


def note_read(path, exists: bool) -> None:
    """Called by the report's loaders: records ``path`` (when it exists) in every open :func:`reading`."""
    if exists:
        for found in _READS:
            found.add(str(path))


class reading:
    """``with budgets.reading() as files: ...``: the results files the report's loaders read inside."""

    def __enter__(self) -> set[str]:
        self.files: set[str] = set()
        _READS.append(self.files)
        return self.files

    def __exit__(self, *exc) -> None:
        _READS.remove(self.files)
