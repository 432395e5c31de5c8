"""Exercises with self-checks: one module per chapter (``audioformers.ch<N>.exercises``, listed by the registry).

In a notebook::

    from audioformers import exercises
    exercises.ch2.check_mu_law_encode(my_mu_law_encode)   # prints "✓ ..." or says what is wrong

Every exercise has a self-check ``check_<name>(student_fn, raise_on_failure=True)``, a reference
solution ``solution_<name>`` and the stub a student starts from (:data:`EXERCISES`, keyed
``"ch<N>.<name>"``); :func:`list_exercises` prints them all. The student copies of the notebooks
(:mod:`audioformers.coursework`) use the stubs.

Notebook: every chapter's "Exercises" section; ``instructor_guide.md``.
"""

from __future__ import annotations

import importlib

from audioformers import chapters
from audioformers.core.selfcheck import Exercise, ExerciseFailed, Mistake

#: Each chapter's exercise module by its key, from the chapter registry; each is also an attribute
#: (``exercises.ch2.check_mu_law_encode``).
MODULES = {c.key: importlib.import_module(c.exercises) for c in chapters.with_exercises()}
globals().update(MODULES)

EXERCISES: dict[str, Exercise] = {
    exercise.key: exercise for module in MODULES.values() for exercise in module.EXERCISES.values()
}


def get_exercise(key: str) -> Exercise:
    """The exercise called ``"ch<N>.<name>"`` (e.g. ``"ch2.mu_law_encode"``), or a ``KeyError`` listing them."""
    if key not in EXERCISES:
        raise KeyError(f"unknown exercise {key!r}; known: {', '.join(EXERCISES)}")
    return EXERCISES[key]


def list_exercises() -> list[tuple[str, str]]:
    """``(key, title)`` of every exercise with a self-check, printed as a table."""
    rows = [(key, exercise.title) for key, exercise in EXERCISES.items()]
    width = max(len(key) for key, _ in rows)
    for key, title in rows:
        print(f"{key:<{width}}  {title}")
    return rows


__all__ = ["EXERCISES", "Exercise", "ExerciseFailed", "MODULES", "Mistake", "get_exercise", "list_exercises", *MODULES]
