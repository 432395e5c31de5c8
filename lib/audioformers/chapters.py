"""The one list of the book's chapters: every tool that needs them reads it from here.

A chapter is registered once, in :data:`CHAPTERS`, with what the tools need to know about it:

* the table of contents (``_toc.yml``, generated: ``python -m audioformers.booktools sync-toc``) and the Colab
  set-up cells (``datasets``: which Debian packages a fresh runtime installs) — :mod:`audioformers.booktools`;
* the command line (``experiment``: ``python -m audioformers.reproduce <key>``) — :mod:`audioformers.reproduce`;
* the reproduction report (``claims``: the module whose ``CLAIMS`` it reads) — :mod:`audioformers.report`;
* the exercises and the student edition (``exercises``: the module with the self-checks) —
  :mod:`audioformers.exercises`, :mod:`audioformers.coursework`;
* the hint a missing result prints (``results/<key>/``) — :mod:`audioformers.core.results`.

This module imports nothing from the package, so any layer may read it. ``CONTRIBUTING.md`` says where a new
chapter's pieces go.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Chapter:
    key: str  # "ch3": results/<key>/, the package audioformers.<key>, the exercises' "<key>." prefix
    notebook: str  # the notebook, relative to the repository root
    title: str
    part: str  # the table of contents' caption above it
    datasets: tuple[str, ...] = ()  # the offline datasets its notebook reads (Colab installs their Debian packages)
    experiment: str | None = None  # "module:function" run by `python -m audioformers.reproduce <key>`
    experiment_title: str = ""
    aliases: tuple[str, ...] = ()  # other names `reproduce` accepts
    claims: str | None = None  # the module whose CLAIMS the reproduction report reads
    exercises: str | None = None  # the module of its self-checked exercises
    paper: str | None = None  # the paper it reproduces (a key of references.bib)

    @property
    def stem(self) -> str:
        """The notebook's name without folder and suffix (``03_wavenet_vs_transformer``)."""
        return PurePosixPath(self.notebook).stem

    @property
    def number(self) -> int | None:
        """The chapter's number (3), or ``None`` for a page without one (the report)."""
        head = self.stem.split("_", 1)[0]
        return int(head) if head.isdigit() else None


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("ch1", "chapters/01_fourier_spectrograms.ipynb", "Fourier analysis and spectrograms", "Foundations",
            datasets=("examples", "instruments-mini"), exercises="audioformers.ch1.exercises"),
    Chapter("ch2", "chapters/02_raw_audio_mulaw.ipynb", "Raw audio, sampling and mu-law", "Foundations",
            datasets=("examples", "wave-mini"), exercises="audioformers.ch2.exercises"),
    Chapter("ch3", "chapters/03_wavenet_vs_transformer.ipynb", "WaveNet vs transformer", "Transformers on audio",
            datasets=("wave-mini", "orchestra-mini", "piano-mini"),
            experiment="audioformers.ch3.study:main", experiment_title="WaveNet vs transformer (next-sample prediction)",
            aliases=("3", "03", "nextsample"), claims="audioformers.ch3.claims", exercises="audioformers.ch3.exercises",
            paper="verma2021generative"),
    Chapter("ch4", "chapters/04_textless_audio_lm.ipynb", "Textless audio language modelling", "Transformers on audio",
            datasets=("instruments-mini", "instruments-mini-xl", "drums-mini"),
            experiment="audioformers.ch4.experiment:main",
            experiment_title="textless audio language modelling (linear probes over folds)",
            aliases=("4", "04", "textless"), claims="audioformers.ch4.claims", exercises="audioformers.ch4.exercises",
            paper="verma2020framework"),
    Chapter("ch5", "chapters/05_wavelet_audio_transformer.ipynb", "Wavelet audio transformers", "Transformers on audio",
            datasets=("soundmix-mini", "instruments-mini"),
            experiment="audioformers.ch5.experiment:main",
            experiment_title="wavelet audio transformers (multi-label tagging)",
            aliases=("5", "05", "sound_events"), claims="audioformers.ch5.claims", exercises="audioformers.ch5.exercises",
            paper="verma2021audio"),
    Chapter("report", "chapters/R_reproduction_report.ipynb", "Reproduction report", "Reproduction"),
)


def get(key: str) -> Chapter:
    """The chapter registered as ``key`` (or with ``key`` as its notebook's stem), else a ``KeyError`` listing them."""
    for chapter in CHAPTERS:
        if key in (chapter.key, chapter.stem):
            return chapter
    raise KeyError(f"unknown chapter {key!r}; registered: {', '.join(c.key for c in CHAPTERS)}")


def numbered() -> tuple[Chapter, ...]:
    """The chapters with a number (every one but the report), in order."""
    return tuple(c for c in CHAPTERS if c.number is not None)


def with_experiments() -> tuple[Chapter, ...]:
    return tuple(c for c in CHAPTERS if c.experiment)


def with_claims() -> tuple[Chapter, ...]:
    return tuple(c for c in CHAPTERS if c.claims)


def with_exercises() -> tuple[Chapter, ...]:
    return tuple(c for c in CHAPTERS if c.exercises)
