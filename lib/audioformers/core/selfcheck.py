"""The machinery behind every self-check: run the student's function, compare, diagnose in plain words.

A self-check calls the student's function on a few seeded random inputs, compares each answer with the
package's reference, and on a mismatch first asks "does the answer equal one of the known mistakes?"
(each with its own explanation), then looks for the usual suspects: ``None`` returned, wrong type, complex
values where a magnitude is expected, wrong shape (transposed axes get their own message), floats where integers
are expected (or integers where floats are), a reversed sign, a transposed or reversed answer, values shifted by
one position, a constant factor (normalisation), a constant offset, codes off by one level, and finally the
largest difference.

An implement-it exercise can name the functions that would replace what it asks for (:class:`Forbidden`: an FFT
in the DFT exercise, torchaudio's mu-law in the mu-law one, the package's own implementation): while the student's
function runs, they are patched to raise, and the check fails saying which one was called.

Notebook: every chapter's "Exercises" section (the self-check cells).
"""

from __future__ import annotations

import importlib
import sys
import traceback
import types
from contextlib import contextmanager
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


class LibraryCall(BaseException):
    """Raised inside a student's function, while its self-check runs, when it calls a function that replaces what
    the exercise asks for. A ``BaseException``, so that a student's ``except Exception`` does not swallow it."""


@dataclass(frozen=True)
class Forbidden:
    """What an implement-it exercise asks the student to write, and the functions that would replace it.

    ``names`` are dotted names: a module (every public function in it, FFT helpers such as ``rfftfreq`` excepted)
    or one function or class. Modules of :data:`ONLY_IF_IMPORTED` packages are patched only when already imported
    (a slow import is not paid for a check); others are imported when installed.
    """

    task: str  # "write the DFT yourself"
    names: tuple[str, ...]
    hint: str = ""

    def message(self, called: str) -> str:
        return f"this exercise asks you to {self.task}: your function called {called}{self.hint}"

    def as_data(self) -> dict[str, Any]:
        return {"task": self.task, "names": list(self.names), "hint": self.hint}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Forbidden":
        return cls(str(data["task"]), tuple(str(n) for n in data["names"]), str(data.get("hint", "")))


ONLY_IF_IMPORTED = ("librosa", "sklearn", "torchmetrics", "scipy.signal", "scipy.stats", "scipy.cluster")
_HELPERS = {"fftfreq", "rfftfreq", "fftshift", "ifftshift", "next_fast_len", "prev_fast_len", "set_workers",
            "get_workers", "set_backend", "skip_backend", "set_global_backend", "register_backend", "test"}


def _targets(name: str) -> list[tuple[Any, str, Any, str]]:
    """``(owner, attribute, original, dotted name)`` for each function ``name`` stands for (none if not loaded)."""
    parts = name.split(".")
    lazy = next((p for p in ONLY_IF_IMPORTED if name == p or name.startswith(p + ".")), None)
    for i in range(len(parts), 0, -1):
        module_name = ".".join(parts[:i])
        if lazy and (module_name not in sys.modules or len(module_name) < len(lazy)):
            continue  # not imported yet: the student's code cannot have called it either
        try:
            owner = importlib.import_module(module_name)
            break
        except Exception:  # noqa: BLE001 - not installed, or not a module: try the parent
            continue
    else:
        return []
    if i == len(parts):  # a whole module: each public function or class in it
        return [(owner, attr, value, f"{name}.{attr}") for attr, value in sorted(vars(owner).items())
                if not attr.startswith("_") and attr not in _HELPERS and callable(value)
                and not isinstance(value, (types.ModuleType, type))]
    parent, value = owner, owner
    for attr in parts[i:]:
        parent, value = value, getattr(value, attr, None)
        if value is None:
            return []
    return [(parent, parts[-1], value, name)]


def _refusal(forbidden: Forbidden, called: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise LibraryCall(forbidden.message(called))
    refuse.__name__ = called.rsplit(".", 1)[-1]
    return refuse


@contextmanager
def forbidding(forbidden: Forbidden | None, fn: Callable[..., Any] | None = None):
    """While the block runs, every function ``forbidden`` names raises :class:`LibraryCall` — where the student's
    code looks it up (``np.fft.rfft``) and where ``fn``'s module bound it by name (``from numpy.fft import rfft``).
    Everything is put back afterwards (the ``unittest.mock.patch`` idea, by hand: only the patched names)."""
    patched: list[tuple[Any, str, Any]] = []
    try:
        if forbidden is not None:
            stand_ins: dict[int, tuple[Any, Any]] = {}
            for name in forbidden.names:
                for owner, attr, original, called in _targets(name):
                    if id(original) not in stand_ins:
                        stand_ins[id(original)] = (original, _refusal(forbidden, called))
                    setattr(owner, attr, stand_ins[id(original)][1])
                    patched.append((owner, attr, original))
            itself = stand_ins.get(id(fn))
            if itself is not None and itself[0] is fn:  # the answer is the forbidden function itself (imported as is)
                itself[1]()
            space = getattr(fn, "__globals__", None)
            if isinstance(space, dict):
                for key, value in list(space.items()):
                    found = stand_ins.get(id(value))
                    if found is not None and found[0] is value:
                        space[key] = found[1]
                        patched.append((space, key, value))
        yield
    finally:
        for owner, attr, original in reversed(patched):
            if isinstance(owner, dict):
                owner[attr] = original
            else:
                setattr(owner, attr, original)


def to_numpy(value: Any) -> np.ndarray:
    """Tensors, lists and scalars -> a NumPy array (tensors are detached and moved to the CPU)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def describe_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def call_student(fn: Callable[..., Any], args: tuple, name: str, inputs: str, forbidden: Forbidden | None = None) -> Any:
    """Call ``fn(*args)`` with the ``forbidden`` functions patched to raise; turn ``NotImplementedError``, a
    forbidden call or a crash into an :class:`ExerciseFailed`.

    A stand-in whose function runs elsewhere (the grader's, in the student's kernel) declares a ``forbidden``
    attribute: it gets the list and patches there.
    """
    if not callable(fn):
        raise ExerciseFailed(f"✗ {name}: pass your function itself (without calling it), got {type(fn).__name__}")
    remote = hasattr(fn, "forbidden")
    if remote:
        fn.forbidden = forbidden
    try:
        with forbidding(None if remote else forbidden, fn):
            return fn(*args)
    except NotImplementedError:
        raise ExerciseFailed(f"✗ {name}: not implemented yet — replace `raise NotImplementedError` with your code") from None
    except LibraryCall as call:
        raise ExerciseFailed(f"✗ {name}: {call}") from None
    except Exception as error:  # the student's bug: show where it happened, then the plain-words line
        if type(error).__name__ == LibraryCall.__name__:  # a forbidden call in the grader's kernel, sent back by name
            raise ExerciseFailed(f"✗ {name}: {error}") from None
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
        if got.dtype.kind == "c" or expected.dtype.kind == "c":
            return bool(np.allclose(got.astype(np.complex128), expected.astype(np.complex128), rtol=rtol, atol=atol, equal_nan=True))
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
    if got.dtype.kind == "c" and expected.dtype.kind != "c":
        return f"complex values (dtype {got.dtype}), expected real ones (dtype {expected.dtype})"
    if got.dtype == bool and expected.dtype == bool:
        return _wrong_entries(got, expected)
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


def _at(index: np.ndarray) -> str:
    first = tuple(int(i) for i in index)
    return str(first if len(first) != 1 else first[0])


def _wrong_entries(got: np.ndarray, expected: np.ndarray) -> str:
    """Boolean answers: how many entries are wrong, split into True-where-False and False-where-True."""
    extra, missing = got & ~expected, ~got & expected
    parts = []
    if extra.any():
        parts.append(f"{int(extra.sum())} are True where they must be False (first at index {_at(np.argwhere(extra)[0])})")
    if missing.any():
        parts.append(f"{int(missing.sum())} are False where they must be True (first at index {_at(np.argwhere(missing)[0])})")
    everywhere = " — your answer is True everywhere" if got.all() else " — your answer is False everywhere" if not got.any() else ""
    return f"{int((extra | missing).sum())} of {got.size} entries are wrong: {' and '.join(parts)}{everywhere}"


_NICE_RATIOS = {2.0: "2", 0.5: "1/2", 4.0: "4", 0.25: "1/4", 10.0: "10", 0.1: "1/10", float(np.log(2)): "ln 2",
                float(1 / np.log(2)): "1 / ln 2", float(np.log(10)): "ln 10", float(1 / np.log(10)): "1 / ln 10"}


def _axis_name(axis: int, axes: Sequence[str] | None) -> str:
    return f"axis {axis} ({axes[axis]})" if axes and axis < len(axes) else f"axis {axis}"


def _kind_of_difference(g: np.ndarray, e: np.ndarray, close, axes: Sequence[str] | None) -> str | None:
    """A name for a difference between two same-shaped float arrays: reversed sign, transposed, reversed along an
    axis, shifted by one position along an axis; ``None`` when none of these explains it."""
    if np.any(e != 0) and close(g, -e):
        return ("the sign is reversed: your values are the negatives of the expected ones "
                "(a minus sign too many or too few, or a difference or ratio taken the other way round)")
    if g.ndim >= 2 and g.shape[-1] == g.shape[-2] and close(g, np.swapaxes(e, -1, -2)):
        return "your answer is transposed: your entry [i, j] is the expected entry [j, i] (rows and columns swapped)"
    for axis in range(g.ndim):
        n = g.shape[axis]
        if n < 3:
            continue
        flipped = np.flip(e, axis=axis)
        if not close(flipped, e) and close(g, flipped):
            return f"your answer runs backwards along {_axis_name(axis, axes)}: index i holds the expected value at index {n - 1} - i"
        for shift in (1, -1):
            head = [slice(None)] * g.ndim
            tail = [slice(None)] * g.ndim
            head[axis], tail[axis] = (slice(1, None), slice(None, -1)) if shift == 1 else (slice(None, -1), slice(1, None))
            moved, same = e[tuple(tail)], e[tuple(head)]
            if not close(moved, same) and close(g[tuple(head)], moved):
                direction = "later" if shift == 1 else "earlier"
                return (f"shifted by one position along {_axis_name(axis, axes)}: your value at each index is the expected "
                        f"value one index {'before' if shift == 1 else 'after'} it, so everything comes one sample or bin "
                        f"{direction} (an off-by-one in an index, a range or a slice)")
    return None


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
    if got_arr.dtype.kind == "c" and expected_arr.dtype.kind != "c":
        fits = got_arr.shape == expected_arr.shape and _same(np.abs(got_arr), expected_arr, rtol, atol)
        return (f"your answer is complex (dtype {got_arr.dtype}), the expected one is real: the DFT's values X_k are "
                f"complex numbers, a magnitude is their absolute value |X_k| (np.abs or .abs())"
                + (" — with np.abs your answer would match" if fits else ""))
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
        if got_arr.size == expected_arr.size and got_arr.size > 1:
            return (f"wrong shape: got {describe_shape(got_arr.shape)}, expected {describe_shape(expected_arr.shape)}{named} "
                    f"— the same number of values, arranged differently (a reshape or a missing/extra axis?)")
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
        return _wrong_entries(got_arr, expected_arr)
    diff = g - e
    if e.size == 1 and not integer and expected_arr.dtype.kind == "f":
        note = ""
        if float(e.flat[0]) != 0 and np.isfinite(g.flat[0]):
            ratio = float(g.flat[0]) / float(e.flat[0])
            if abs(ratio + 1) < 1e-6:
                note = " — the sign is reversed"
            name = next((text for value, text in _NICE_RATIOS.items() if abs(ratio / value - 1) < 1e-4), None)
            if name:
                note = f" — {name} × the expected value"
        return f"expected {float(e.flat[0]):.6g}, got {float(g.flat[0]):.6g}{note}"
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
    if got_arr.dtype.kind in "iub" and expected_arr.dtype.kind == "f":
        for how, rounded in (("truncated", np.trunc(e)), ("floored", np.floor(e)), ("rounded", np.round(e))):
            if np.array_equal(g, rounded):
                return (f"your answer has integer dtype {got_arr.dtype} where floats are expected: the values were {how} "
                        f"to whole numbers (an integer division //, .astype(int) or int(...) too early?)")
        return f"your answer has integer dtype {got_arr.dtype} where floats are expected, and its values differ ({evidence(got_arr, expected_arr)})"

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol * 10, atol=atol * 10, equal_nan=True))

    if np.allclose(g, e, rtol=max(rtol, 1e-6) * 1000, atol=max(atol, 1e-9) * 1000):
        relative = float(np.max(np.abs(diff) / np.maximum(np.abs(e), max(atol, 1e-12))))
        return (f"close, but not within the check's tolerance (rtol={rtol:g}, atol={atol:g}): the largest relative "
                f"difference is {relative:.2g} — float32 rounding? compute in float64 ({evidence(got_arr, expected_arr)})")
    kind = _kind_of_difference(g, e, close, axes)
    if kind is not None:
        return f"{kind} ({evidence(got_arr, expected_arr)})"
    scale = np.dot(g.ravel(), e.ravel()) / max(np.dot(e.ravel(), e.ravel()), 1e-300)
    if abs(scale) > 1e-12 and np.allclose(g, scale * e, rtol=rtol * 10, atol=atol * 10):
        name = next((f" = {text}" for value, text in _NICE_RATIOS.items() if abs(scale / value - 1) < 1e-4), "")
        return f"off by a constant factor: your values are {scale:.4g}{name} × the expected ones (a normalisation or scaling?)"
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
    forbidden: Forbidden | None = None,
    **diagnose_kwargs: Any,
) -> bool:
    """Compare ``student_fn`` with ``reference`` on each ``(args, description)`` case and report the first failure;
    the functions ``forbidden`` names raise while the student's function runs (:func:`forbidding`)."""
    try:
        for args, description in cases:
            got = call_student(student_fn, args, name, description, forbidden)
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
