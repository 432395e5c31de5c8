"""Chapter 3's joint scaling law: held-out loss against model size *and* training tokens,

    L(N, D) = E + A · N^−alpha + B · D^−beta,

fitted to every run of a family (each size at each budget: one point per run, none repeated), as Hoffmann et al.
(2022, "Chinchilla", approach 3) fit theirs. A compute-efficient frontier repeats its last measurement wherever a
bigger compute did not improve on it, and a fit to those copies treats one run as many (issue #32); the joint fit
uses each run once and says which of size and tokens limits the loss.

* :func:`fit_joint`: least squares with ``A, B >= 0`` (a bigger model or more tokens never hurts) and ``E`` free;
  the exponents on a grid in ``[0.02, 3]`` refined around the best cell, ``(E, A, B)`` solved exactly for each
  (an exponent whose amplitude is zero is reported as 0: that variable does not matter);
* :func:`bootstrap_joint`: the fit refitted on runs resampled with replacement (a bootstrap over runs), giving
  percentile intervals of every term (:func:`joint_summary`);
* :func:`tokens_to_reach`: the tokens a model of size N needs for its fitted loss to reach a target (None where the
  target is at or below its floor at that size, E + A · N^−alpha);
* :func:`joint_crossing`: the tokens at which one family's fitted curve (at its largest measured size) reaches
  another's floor, or falls below its curve, over paired bootstrap refits.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "Does the ordering turn with scale?".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from audioformers.core.checks import check_float, check_int

#: the exponent grid of the first pass (refined around the best cell afterwards); an amplitude's exponent is at
#: least its first step, 0.02: below that, N^-alpha is flat over any measured range and the term is a second
#: constant beside E (fitted as amplitude 0: that variable does not matter)
EXPONENT_GRID = np.round(np.arange(0.02, 3.0 + 1e-9, 0.02), 4)
MIN_EXPONENT = float(EXPONENT_GRID[0])
#: the interval every summary reports (percentiles of the bootstrap refits)
LEVEL = 0.90


@dataclass(frozen=True)
class JointLaw:
    """``L(N, D) = E + A · N^−alpha + B · D^−beta`` (``A``, ``B`` in the raw units of N parameters and D tokens)."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float

    def __call__(self, n, d) -> np.ndarray:
        n, d = np.asarray(n, dtype=np.float64), np.asarray(d, dtype=np.float64)
        return self.floor_at(n) + self.B * d ** (-self.beta)

    def floor_at(self, n) -> np.ndarray:
        """The loss a model of ``n`` parameters tends to with unlimited tokens: ``E + A · n^−alpha``."""
        return self.E + self.A * np.asarray(n, dtype=np.float64) ** (-self.alpha)


def _check_runs(n, d, loss) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = []
    for name, values in (("n", n), ("d", d), ("loss", loss)):
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be numbers, one per run: {error}") from None
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one number per run), got {array.ndim} dimensions")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values")
        arrays.append(array)
    n, d, loss = arrays
    if not (len(n) == len(d) == len(loss)):
        raise ValueError(f"n, d and loss must have one value per run each, got {len(n)}, {len(d)} and {len(loss)}")
    if np.any(n <= 0) or np.any(d <= 0):
        raise ValueError("n (parameters) and d (tokens) must be positive")
    if len(np.unique(n)) < 2:
        raise ValueError(f"n needs at least 2 distinct model sizes to fit a size term, got {len(np.unique(n))}")
    if len(np.unique(d)) < 3:
        raise ValueError(f"d needs at least 3 distinct token budgets to fit a token term, got {len(np.unique(d))}")
    if len(n) < 6:
        raise ValueError(f"loss needs at least 6 runs to fit 5 terms with a residual, got {len(n)}")
    return n, d, loss


def _solve(columns: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``y`` (points,) on ``columns`` (each (..., points), broadcast together), batched over the
    leading axes: coefficients (..., k) and the sum of squared residuals (...)."""
    shape = np.broadcast_shapes(*(c.shape for c in columns))
    X = np.stack([np.broadcast_to(c, shape) for c in columns], axis=-1)  # (..., points, k)
    gram = np.einsum("...pi,...pj->...ij", X, X)
    rhs = np.einsum("...pi,p->...i", X, y)
    k = len(columns)
    gram = gram + 1e-12 * np.eye(k) * np.maximum(np.trace(gram, axis1=-2, axis2=-1)[..., None, None], 1.0)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    residual = np.einsum("...pi,...i->...p", X, coef) - y
    return coef, np.sum(residual ** 2, axis=-1)


def _best(n: np.ndarray, d: np.ndarray, y: np.ndarray, alphas: np.ndarray, betas: np.ndarray) -> tuple[float, ...]:
    """The constrained least-squares fit over an exponent grid: ``(sse, E, A, alpha, B, beta)`` in normalised units
    (N / max N, D / max D). For each (alpha, beta) the exact optimum with ``A, B >= 0`` is the best feasible one of
    the fits with both amplitudes, with one of them at zero, or with neither."""
    nn, dd = n / n.max(), d / d.max()
    a = nn[None, :] ** (-alphas[:, None])  # (alphas, points)
    b = dd[None, :] ** (-betas[:, None])  # (betas, points)
    one = np.ones_like(y)
    candidates = []
    coef, sse = _solve([one, a[:, None, :], b[None, :, :]], y)  # (alphas, betas, 3)
    sse = np.where((coef[..., 1] >= 0) & (coef[..., 2] >= 0), sse, np.inf)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    candidates.append((float(sse[i, j]), float(coef[i, j, 0]), float(coef[i, j, 1]), float(alphas[i]),
                       float(coef[i, j, 2]), float(betas[j])))
    coef, sse = _solve([one, b], y)  # size does not matter: A = 0
    sse = np.where(coef[..., 1] >= 0, sse, np.inf)
    j = int(np.argmin(sse))
    candidates.append((float(sse[j]), float(coef[j, 0]), 0.0, 0.0, float(coef[j, 1]), float(betas[j])))
    coef, sse = _solve([one, a], y)  # tokens do not matter: B = 0
    sse = np.where(coef[..., 1] >= 0, sse, np.inf)
    i = int(np.argmin(sse))
    candidates.append((float(sse[i]), float(coef[i, 0]), float(coef[i, 1]), float(alphas[i]), 0.0, 0.0))
    candidates.append((float(np.sum((y - y.mean()) ** 2)), float(y.mean()), 0.0, 0.0, 0.0, 0.0))
    best = min(candidates, key=lambda c: c[0])
    sse, E, A, alpha, B, beta = best
    return sse, E, A, (alpha if A > 0 else 0.0), B, (beta if B > 0 else 0.0)


def fit_joint(n, d, loss) -> JointLaw:
    """Least-squares fit of ``loss = E + A · n^−alpha + B · d^−beta`` over runs (``n`` parameters, ``d`` training
    tokens, one value of each per run): ``A, B >= 0``, exponents in ``[0, 3]`` (a grid of 0.02, then 0.001 around
    the best cell). Needs at least 2 sizes, 3 budgets and 6 runs."""
    n, d, y = _check_runs(n, d, loss)
    _, E, A, alpha, B, beta = _best(n, d, y, EXPONENT_GRID, EXPONENT_GRID)
    fine = lambda e: np.unique(np.clip(np.round(np.arange(e - 0.02, e + 0.0205, 0.001), 4), MIN_EXPONENT, 3.0))  # noqa: E731
    refined = _best(n, d, y, fine(alpha) if alpha > 0 else EXPONENT_GRID, fine(beta) if beta > 0 else EXPONENT_GRID)
    _, E, A, alpha, B, beta = refined
    # normalised amplitudes back to raw units: A (N / N_max)^-alpha = (A N_max^alpha) N^-alpha
    return JointLaw(E, A * n.max() ** alpha, alpha, B * d.max() ** beta, beta)


def bootstrap_joint(n, d, loss, *, resamples: int = 200, seed: int = 0) -> tuple[list[JointLaw], int]:
    """The fit refitted on ``resamples`` resamples of the runs (with replacement; a resample with fewer than 2 sizes
    or 3 budgets is drawn again, at most 20 times each). Returns the refits and how many draws were redrawn."""
    n, d, y = _check_runs(n, d, loss)
    resamples = check_int("resamples", resamples, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    fits, redrawn = [], 0
    for _ in range(resamples):
        for _try in range(20):
            pick = rng.integers(0, len(y), len(y))
            if len(np.unique(n[pick])) >= 2 and len(np.unique(d[pick])) >= 3 and len(np.unique(pick)) >= 6:
                break
            redrawn += 1
        else:
            raise ValueError("n and d: resampled runs kept missing a second size or a third budget")
        fits.append(fit_joint(n[pick], d[pick], y[pick]))
    return fits, redrawn


def tokens_to_reach(law: JointLaw, target: float, n: float) -> float | None:
    """Training tokens at which a model of ``n`` parameters reaches fitted loss ``target``; None where the target is
    at or below its floor at that size (``E + A · n^−alpha``: no number of tokens gets there)."""
    target = check_float("target", target)
    n = check_float("n", n, minimum=0.0, strict_minimum=True)
    excess = target - float(law.floor_at(n))
    if excess <= 0 or law.B <= 0 or law.beta <= 0:
        return None
    return float((excess / law.B) ** (-1.0 / law.beta))


def _quantiles(values: Sequence[float], level: float = LEVEL) -> list[float]:
    lo, hi = np.quantile(np.asarray(values, dtype=np.float64), [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def joint_summary(n, d, loss, *, resamples: int = 200, seed: int = 0) -> dict[str, Any]:
    """The fit of one family and its bootstrap: every term with its 90% percentile interval over refits
    (``<term>_interval``), the floor at the largest measured size, and how the terms are identified."""
    n, d, y = _check_runs(n, d, loss)
    law = fit_joint(n, d, y)
    boots, redrawn = bootstrap_joint(n, d, y, resamples=resamples, seed=seed)
    out: dict[str, Any] = {**asdict(law), "runs": int(len(y)), "sizes": sorted({int(v) for v in n}),
                           "budgets_tokens": sorted({int(v) for v in d}),
                           "residual_rms": float(np.sqrt(np.mean((law(n, d) - y) ** 2))),
                           "n_max": float(n.max()), "d_max": float(d.max()),
                           "floor_at_largest_size": float(law.floor_at(n.max())), "resamples": resamples,
                           "redrawn": redrawn, "interval": f"{LEVEL:.0%} percentile over a bootstrap of the runs"}
    for term in ("E", "A", "alpha", "B", "beta"):
        out[f"{term}_interval"] = _quantiles([getattr(b, term) for b in boots])
    out["floor_at_largest_size_interval"] = _quantiles([float(b.floor_at(n.max())) for b in boots])
    out["alpha_zero_fraction"] = float(np.mean([b.A == 0 for b in boots]))  # refits where size did not matter
    lo, hi = out["alpha_interval"]
    out["limited_by"] = ("tokens (the size exponent's interval reaches 0)" if lo <= 0.02 < out["beta_interval"][0]
                         else "size and tokens" if lo > 0.02 and out["beta_interval"][0] > 0.02
                         else "size (the token exponent's interval reaches 0)" if out["beta_interval"][0] <= 0.02
                         else "neither term is identified")
    out["refits"] = [asdict(b) for b in boots]
    return out


def law_from(entry: dict[str, Any]) -> JointLaw:
    """The :class:`JointLaw` stored in a summary (or one of its ``refits``)."""
    return JointLaw(*(float(entry[k]) for k in ("E", "A", "alpha", "B", "beta")))


def _first_below(a: JointLaw, b: JointLaw, n_a: float, n_b: float, grid: np.ndarray) -> float | None:
    """The first budget of ``grid`` (from the largest measured one up) where ``a`` is below ``b``."""
    below = np.flatnonzero(a(n_a, grid) < b(n_b, grid))
    return float(grid[below[0]]) if len(below) else None


def joint_crossing(a: dict[str, Any], b: dict[str, Any], *, horizon: float = 1e4) -> dict[str, Any]:
    """Where family ``a`` (a :func:`joint_summary`, at its largest measured size) overtakes family ``b``, from
    paired bootstrap refits (refit i of ``a`` with refit i of ``b``), searched up to ``horizon`` times the largest
    measured budget:

    * ``floor``: the tokens at which ``a`` reaches ``b``'s floor at ``b``'s largest size (what ``b`` of that size
      would reach with unlimited tokens);
    * ``curves``: the tokens (from the largest measured budget up) at which ``a``'s fitted curve falls below
      ``b``'s, both given the same tokens (the largest measured budget itself where ``a`` is already below).

    Each: the fit's own value, the median and 90% range over refits that get there, and the share that do; a median
    only where at least half do (else the fit does not identify it)."""
    horizon = check_float("horizon", horizon, minimum=1.0, strict_minimum=True)
    for name, entry in (("a", a), ("b", b)):
        if not isinstance(entry, dict) or "refits" not in entry or "n_max" not in entry:
            raise ValueError(f"{name} must be a joint_summary (with refits and n_max), got {type(entry).__name__}")
    if len(a["refits"]) != len(b["refits"]):
        raise ValueError(f"a and b must have as many refits each, got {len(a['refits'])} and {len(b['refits'])}")
    x_last = max(a["d_max"], b["d_max"])
    limit = x_last * horizon
    grid = x_last * np.logspace(0, math.log10(horizon), 600)  # beyond the measured range only
    na, nb = a["n_max"], b["n_max"]

    def floor_point(la: JointLaw, lb: JointLaw) -> float | None:
        t = tokens_to_reach(la, float(lb.floor_at(nb)), na)
        return t if t is not None and t <= limit else None

    out: dict[str, Any] = {"x_last": x_last, "horizon": horizon, "n_a": na, "n_b": nb}
    pairs = [(law_from(ra), law_from(rb)) for ra, rb in zip(a["refits"], b["refits"])]
    for key, find in (("floor", floor_point), ("curves", lambda la, lb: _first_below(la, lb, na, nb, grid))):
        points = [p for la, lb in pairs if (p := find(la, lb)) is not None]
        fraction = len(points) / len(pairs)
        entry: dict[str, Any] = {"fit": find(law_from(a), law_from(b)), "fraction": fraction}
        if fraction >= 0.5:
            low, median, high = np.quantile(points, [0.05, 0.5, 0.95])
            entry.update(median=float(median), low=float(low), high=float(high))
        else:
            entry.update(median=None, low=None, high=None)
        out[key] = entry
    return out


def crossing_text(entry: dict[str, Any], what: str, x_last: float, horizon: float) -> str:
    """``'the transformer reaches WaveNet's floor at about 1.2e+08 tokens (90% of refits that do: …; 93% do within
    10,000× the measured 5.12e+06)'``, or that the fit does not identify it."""
    if entry.get("median") is None:
        return (f"{what}: not identified by the fit ({entry['fraction']:.0%} of bootstrap refits get there within "
                f"{horizon:,.0f}× the largest measured {x_last:,.3g} tokens)")
    return (f"{what} at about {entry['median']:,.3g} tokens (90% of the refits that get there: {entry['low']:,.3g}–"
            f"{entry['high']:,.3g}; {entry['fraction']:.0%} of refits get there within {horizon:,.0f}× the "
            f"measured {x_last:,.3g})")
