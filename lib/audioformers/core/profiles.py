"""Run profiles: ``smoke`` (CI, seconds), ``book`` (default, minutes on 2 CPU cores), ``paper`` (GPU, hours).

The environment variable ``BOOK_PROFILE`` is read here and nowhere else. Every notebook and
experiment sizes its run with :func:`pick`, so one switch changes the whole book.

Notebook: ``intro.md`` (section "Profiles").
"""

from __future__ import annotations

import os
from typing import TypeVar

PROFILE_NAMES: tuple[str, ...] = ("smoke", "book", "paper")
DEFAULT_PROFILE = "book"
ENV_VAR = "BOOK_PROFILE"

T = TypeVar("T")


def validate_profile(name: str) -> str:
    """Return ``name`` normalised, or raise ``ValueError`` listing the valid profiles."""
    normalised = str(name).strip().lower()
    if normalised not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {name!r}: {ENV_VAR} must be one of {', '.join(PROFILE_NAMES)}"
        )
    return normalised


def get_profile() -> str:
    """The active profile: ``$BOOK_PROFILE`` if set (and valid), else ``book``."""
    raw = os.environ.get(ENV_VAR, "")
    if raw.strip() == "":
        return DEFAULT_PROFILE
    return validate_profile(raw)


def pick(*, smoke: T, book: T, paper: T, profile: str | None = None) -> T:
    """Choose the value for the active (or given) profile.

    >>> pick(smoke=2, book=200, paper=20_000, profile="book")
    200
    """
    name = validate_profile(profile) if profile is not None else get_profile()
    return {"smoke": smoke, "book": book, "paper": paper}[name]
