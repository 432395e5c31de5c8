"""The machinery behind every self-check: run the student's function, compare, diagnose in plain words.

A self-check calls the student's function on a few seeded random inputs, compares each answer with the
package's reference, and on a mismatch first asks "does the answer equal one of the known mistakes?"
(each with its own explanation), then looks for the usual suspects: ``None`` returned, wrong type, wrong
shape (transposed axes get their own message), floats where integers are expected, a constant factor
(normalisation), a constant offset, codes off by one level, and finally the largest difference.

Notebook: every chapter's "Exercises" section (the self-check cells).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch


class ExerciseFailed(AssertionError):
    """A self-check failed; the message says what is wrong in plain words, with the numbers.

    In a notebook (IPython, Jupyter, Colab) the failure prints as that message alone: IPython asks an
    exception for ``_render_traceback_()`` before formatting a traceback, and this one answers with the
    message, so the student does not scroll through the package's internals to find it. Elsewhere (a script,
    pytest) it is an ordinary ``AssertionError`` with its full traceback.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31mExerciseFailed\x1b[0m: {self}"]


@dataclass
class Mistake:
    """A known wrong answer: a function computing it, and what to tell the student who gives it."""

    fn: Callable[..., Any]
    message: str


@dataclass
class Exercise:
    """One coding exercise: its self-check, a reference solution and the stub a student starts from."""

    chapter: int
    name: str
    title: str
    check: Callable[..., bool]
    reference: Callable[..., Any]
    student_stub: str
    mistakes: list[Mistake] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"ch{self.chapter}.{self.name}"


def to_numpy(value: Any) -> np.ndarray:
    """Tensors, lists and scalars -> a NumPy array (tensors are detached and moved to the CPU)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def describe_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def call_student(fn: Callable[..., Any], args: tuple, name: str, inputs: str) -> Any:
    """Call ``fn(*args)``; turn ``NotImplementedError`` or a crash into an :class:`ExerciseFailed`."""
    if not callable(fn):
        raise ExerciseFailed(f"✗ {name}: pass your function itself (without calling it), got {type(fn).__name__}")
    try:
        return fn(*args)
    except NotImplementedError:
        raise ExerciseFailed(f"✗ {name}: not implemented yet — replace `raise NotImplementedError` with your code") from None
    except Exception as error:  # the student's bug: show where it happened, then the plain-words line
        last = traceback.extract_tb(error.__traceback__)[-1]
        raise ExerciseFailed(
            f"✗ {name}: your function raised {type(error).__name__}: {error} "
            f"(line {last.lineno}: `{(last.line or '').strip()}`) when called on {inputs}"
        ) from error


def _same(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    if got.shape != expected.shape:
        return False
    if expected.dtype == bool or got.dtype == bool:
        return got.dtype == expected.dtype and bool(np.array_equal(got, expected))
    try:
        return bool(np.allclose(got.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True))
    except (TypeError, ValueError):
        return False


def _number(value: float) -> str:
    return f"{value:.6g}"


def evidence(got: np.ndarray, expected: np.ndarray) -> str:
    """The numbers behind a diagnosis: the shapes if they differ, else the largest difference and where it is."""
    if got.shape != expected.shape:
        return f"shape {describe_shape(got.shape)}, expected {describe_shape(expected.shape)}"
    if got.size == 0:
        return "an empty answer"
    try:
        g, e = got.astype(np.float64), expected.astype(np.float64)
    except (TypeError, ValueError):
        return f"dtype {got.dtype}, expected {expected.dtype}"
    if got.size == 1:
        return f"expected {_number(float(e.flat[0]))}, got {_number(float(g.flat[0]))}"
    diff = np.abs(np.nan_to_num(g - e, nan=np.inf))
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    index = tuple(int(i) for i in worst)
    where = index if len(index) != 1 else index[0]
    wrong = int(np.sum(~np.isclose(g, e, rtol=1e-6, atol=1e-9, equal_nan=True)))
    return (f"{wrong} of {got.size} values differ; the largest difference is at index {where}: "
            f"expected {_number(float(e[worst]))}, got {_number(float(g[worst]))}")


def diagnose(
    got: Any,
    expected: Any,
    *,
    mistakes: Sequence[tuple[Any, str]] = (),
    rtol: float = 1e-4,
    atol: float = 1e-6,
    axes: Sequence[str] | None = None,
    integer: bool = False,
) -> str | None:
    """``None`` if ``got`` matches ``expected``; otherwise a sentence saying what is wrong.

    ``mistakes`` are ``(wrong_answer, explanation)`` pairs computed on the same input; ``axes`` names the
    expected axes (e.g. ``("frequency", "time")``) for the shape messages; ``integer`` asks for integer codes.
    """
    if got is None:
        return "your function returned None — did you forget the `return` statement?"
    expected_arr = to_numpy(expected)
    try:
        got_arr = to_numpy(got)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        return f"expected an array, got a {type(got).__name__}"
    if got_arr.dtype == object:
        return f"expected a numeric array, got an object array (a ragged list?) of shape {got_arr.shape}"
    for wrong, explanation in mistakes:
        if _same(got_arr, to_numpy(wrong), rtol, atol) and not _same(got_arr, expected_arr, rtol, atol):
            return f"{explanation} ({evidence(got_arr, expected_arr)})"
    named = f" = {describe_shape(expected_arr.shape)} ({', '.join(axes)})" if axes else ""
    if got_arr.shape != expected_arr.shape:
        if got_arr.ndim == 2 and got_arr.shape == expected_arr.shape[::-1]:
            where = f" ({axes[1]}, {axes[0]}) instead of ({axes[0]}, {axes[1]})" if axes and len(axes) == 2 else ""
            return f"axes swapped: your answer is transposed{where}, shape {describe_shape(got_arr.shape)}, expected {describe_shape(expected_arr.shape)}"
        if got_arr.ndim == expected_arr.ndim and sorted(got_arr.shape) == sorted(expected_arr.shape):
            return f"axes in the wrong order: shape {describe_shape(got_arr.shape)}, expected {describe_shape(expected_arr.shape)}{named}"
        if got_arr.ndim == expected_arr.ndim:
            off = [i for i, (a, b) in enumerate(zip(got_arr.shape, expected_arr.shape)) if a != b]
            if len(off) == 1 and abs(got_arr.shape[off[0]] - expected_arr.shape[off[0]]) == 1:
                label = f" ({axes[off[0]]})" if axes and off[0] < len(axes) else ""
                return (f"off by one in axis {off[0]}{label}: shape {describe_shape(got_arr.shape)}, "
                        f"expected {describe_shape(expected_arr.shape)}")
        return f"wrong shape: got {describe_shape(got_arr.shape)}, expected {describe_shape(expected_arr.shape)}{named}"
    if expected_arr.dtype == bool and got_arr.dtype != bool:
        return f"expected a boolean array (True/False), got dtype {got_arr.dtype}"
    if integer and got_arr.dtype.kind not in "iu":
        if got_arr.dtype.kind == "f" and np.all(np.isfinite(got_arr)) and np.array_equal(got_arr, np.round(got_arr)) \
                and np.array_equal(got_arr.astype(np.int64), expected_arr):
            return f"right values but dtype {got_arr.dtype}: return integer codes (e.g. `.astype(np.int64)` or `.long()`)"
        return f"expected integer codes, got dtype {got_arr.dtype}"
    if got_arr.dtype.kind not in "iufb":
        return f"expected a numeric array, got dtype {got_arr.dtype}"
    g, e = got_arr.astype(np.float64), expected_arr.astype(np.float64)
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        return f"your answer contains {int(np.sum(~np.isfinite(g)))} NaN or infinite values (a division by zero or log of 0?)"
    if _same(got_arr, expected_arr, rtol, atol):
        return None
    if expected_arr.dtype == bool:
        wrong = int(np.sum(got_arr != expected_arr))
        return f"{wrong} of {got_arr.size} entries are wrong (first at index {tuple(int(i) for i in np.argwhere(got_arr != expected_arr)[0])})"
    diff = g - e
    if e.size == 1 and not integer and expected_arr.dtype.kind == "f":
        return f"expected {float(e.flat[0]):.6g}, got {float(g.flat[0]):.6g}"
    if integer or expected_arr.dtype.kind in "iu":
        if np.max(np.abs(diff)) <= 1:
            share = float(np.mean(diff != 0))
            first = tuple(int(i) for i in np.argwhere(diff != 0)[0])
            where = first if len(first) != 1 else first[0]
            return (f"off by one level in {share:.0%} of the values (rounding: did you floor or truncate "
                    f"where the reference rounds to the nearest level?) — e.g. at index {where}: "
                    f"expected {int(e[first])}, got {int(g[first])}")
        if np.ptp(diff) == 0:
            return f"every value is off by {int(diff.flat[0]):+d} (an offset: check where the code range starts)"
    scale = np.dot(g.ravel(), e.ravel()) / max(np.dot(e.ravel(), e.ravel()), 1e-300)
    if abs(scale) > 1e-12 and np.allclose(g, scale * e, rtol=rtol * 10, atol=atol * 10):
        return f"off by a constant factor: your values are {scale:.4g} × the expected ones (a normalisation or scaling?)"
    if np.ptp(diff) < 1e-6 * max(1.0, float(np.max(np.abs(e)))):
        return f"off by a constant offset of {float(diff.flat[0]):+.4g}"
    worst = np.unravel_index(int(np.argmax(np.abs(diff))), diff.shape)
    index = tuple(int(i) for i in worst)
    return (f"values differ: the largest difference is {float(np.abs(diff)[worst]):.4g} at index "
            f"{index if len(index) != 1 else index[0]} (expected {float(e[worst]):.6g}, got {float(g[worst]):.6g})")


def finish(name: str, problem: str | None, passed_note: str, raise_on_failure: bool) -> bool:
    """Print ``✓ ...`` and return True, or raise (or print) ``✗ name: problem``."""
    if problem is None:
        print(f"✓ {name}: {passed_note}")
        return True
    message = problem if problem.startswith("✗") else f"✗ {name}: {problem}"
    if raise_on_failure:
        raise ExerciseFailed(message)
    print(message)
    return False


def run_trials(
    name: str,
    student_fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple[tuple, str]],
    *,
    mistakes: Sequence[Mistake] = (),
    raise_on_failure: bool = True,
    **diagnose_kwargs: Any,
) -> bool:
    """Compare ``student_fn`` with ``reference`` on each ``(args, description)`` case and report the first failure."""
    try:
        for args, description in cases:
            got = call_student(student_fn, args, name, description)
            expected = reference(*args)
            wrong = []
            for mistake in mistakes:
                try:
                    wrong.append((mistake.fn(*args), mistake.message))
                except Exception:  # noqa: BLE001 - a mistake that cannot run on this input is skipped
                    continue
            problem = diagnose(got, expected, mistakes=wrong, **diagnose_kwargs)
            if problem is not None:
                return finish(name, f"{problem} [input: {description}]", "", raise_on_failure)
    except ExerciseFailed as failure:
        if raise_on_failure:
            raise
        print(failure)
        return False
    return finish(name, None, f"matches the reference on {len(cases)} random inputs", raise_on_failure)
