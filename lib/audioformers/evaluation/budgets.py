"""At what budget a verdict was read, and what fraction of the paper's that is.

EVIDENCE rule 9: every verdict states its budget and its fraction of the paper's (``reversed at 614k tokens,
0.02% of the paper's data``). The budget comes from what ``results/`` records (steps, batch, tokens, clips);
the papers' side comes from one table, :data:`PAPER_DATA`, the training-data sizes of the three papers as our
sources state them (each with its source tag, as :data:`audioformers.report.PUBLISHED`).

Notebook: ``chapters/R_reproduction_report.ipynb``.
"""

from __future__ import annotations

import re
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


#: The papers' training-data sizes, from the papers and the lecture (the sources are named per entry).
PAPER_DATA: dict[str, PaperData] = {
    "ch3": PaperData("Verma & Chafe 2021", 56 * 3600 * 16_000, "tokens",
                     "about 56 h of piano at 16 kHz (3.2e9 samples, one epoch)", "secondary",
                     "third-party summary of Verma & Chafe 2021, not checked against the paper"),
    "ch4": PaperData("Verma & Smith 2020", None, "clips", "not stated in our sources", "lecture",
                     "Stanford CS25 lecture (P. Verma)"),
    "ch5": PaperData("Verma & Berger 2021", 40_966, "clips", "FSD50K dev set, 40,966 clips (train + validation)",
                     "paper", "Fonseca et al. 2022 (FSD50K)"),
}


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


def fraction_of_paper(chapter: str, amount: float) -> str:
    """``0.019% of the paper's data`` for ``amount`` in :data:`PAPER_DATA`'s unit; '' without the paper's size."""
    paper = PAPER_DATA.get(chapter)
    if paper is None:
        raise ValueError(f"chapter must be one of {sorted(PAPER_DATA)}, got {chapter!r}")
    if paper.amount is None:
        return "the paper's data size is not in our sources"
    return f"{percent(amount / paper.amount)} of the paper's data ({paper.unit})"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def ch3(record: dict[str, Any], model: str = "transformer") -> Budget | None:
    """Chapter 3's comparison: the training tokens one model saw (its curve's last point, else steps × batch ×
    context), as a fraction of the paper's 56 h."""
    tokens = (((record.get("metrics") or {}).get(model) or {}).get("curve") or {}).get("tokens")
    cfg = record.get("config") or {}
    last = _number(tokens[-1]) if isinstance(tokens, list) and tokens else None
    if last is None:
        parts = [_number(cfg.get(k)) for k in ("steps", "batch_size", "context_length")]
        last = parts[0] * parts[1] * parts[2] if all(p is not None for p in parts) else None
    if not last:
        return None
    steps = _number(cfg.get("steps"))
    text = f"{compact(last)} tokens" + (f" ({steps:,.0f} steps)" if steps else "")
    return Budget(text, fraction_of_paper("ch3", last))


def ch4(record: dict[str, Any]) -> Budget | None:
    """Chapter 4's probes: the pre-training steps of the next-code model and SimCLR (the paper's data size is
    not in our sources)."""
    cfg = record.get("config") or {}
    lm, simclr = _number(cfg.get("lm_steps")), _number(cfg.get("simclr_steps"))
    if lm is None and simclr is None:
        return None
    facts = str((record.get("metrics") or {}).get("facts") or "")
    pool = re.search(r"pool of (\d+)", facts)
    steps = " / ".join(f"{v:,.0f} {name}" for v, name in ((lm, "next-code"), (simclr, "SimCLR")) if v is not None)
    text = f"{steps} pre-training steps" + (f" on {int(pool.group(1)):,} clips" if pool else "")
    return Budget(text, fraction_of_paper("ch4", 0.0))


def ch5(record: dict[str, Any]) -> Budget | None:
    """Chapter 5's table: its steps and training clips, the clips as a fraction of FSD50K's."""
    cfg = record.get("config") or {}
    steps, clips = _number(cfg.get("steps")), _number(cfg.get("train_clips"))
    if steps is None and clips is None:
        return None
    text = " on ".join(x for x in ((f"{steps:,.0f} steps" if steps else ""),
                                   (f"{clips:,.0f} training clips" if clips else "")) if x)
    return Budget(text, fraction_of_paper("ch5", clips) if clips else "")


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
