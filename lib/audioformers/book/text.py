"""Text generated into committed files (answer keys, set-up cells, the README's figures) must read the same on every
machine: :func:`stable` prints a number only where no other machine could print another digit.

Used by :mod:`audioformers.booktools` and :mod:`audioformers.book.guide`; tested by ``lib/tests/test_generated_text.py``.
"""

from __future__ import annotations

#: How far (relative) a computed value may move between machines: float32 kernels (AVX-512, AVX2 or none), thread
#: counts and BLAS blockings change the last bits of a float32 result by a few ulps (about 1e-7); the margin is ten
#: times wider.
STABLE_MARGIN = 1e-6


def stable(value: float, spec: str, *, margin: float = STABLE_MARGIN) -> str:
    """``format(value, spec)`` where every value within ``margin`` (relative) prints the same; else ``ValueError``.

    Text generated into committed files (the guide's answer keys, the set-up cells, the README's figures) is
    compared by tests on other machines. A digit that rounds differently there would fail them, as one float
    digit of an answer key once did on a fresh machine. Print fewer digits, or a bound (``below 1e-5``), where
    this refuses.
    """
    import math

    if not isinstance(spec, str) or not spec:
        raise ValueError(f"spec must be a format specification such as '.3f', got {spec!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"value must be finite to be printed stably, got {value!r}")
    text = format(value, spec)
    for moved in (value * (1 - margin), value * (1 + margin)):
        if format(moved, spec) != text:
            raise ValueError(f"value {value!r} prints as {text!r} but within {margin:g} of it as {format(moved, spec)!r}: "
                             "another machine could print that digit; print fewer digits or a bound")
    return text
