"""Trivial next-sample baselines for chapter 3: a bigram count table and a linear predictor.

Both give a full distribution over the 256 mu-law levels for every scored position, so they are scored
with the same metrics (top-1, top-5, bits per sample) on exactly the positions the models are scored on
(:func:`audioformers.ch3.scoring.scored_log_probs`).

* :class:`BigramTable`: counts of (previous code, next code) on the training recordings, add-``alpha``
  smoothed. No parameters are learned by gradient; the table has 256 x 256 entries.
* :class:`LinearPredictor`: classical linear prediction. The next sample's amplitude (mu-law decoded) is a
  least-squares combination of the previous ``order`` amplitudes; the prediction error is modelled by a
  Laplace distribution whose scale is fitted (maximum likelihood: the mean absolute residual) on the
  training recordings, and each of the 256 levels gets the error probability mass of its decision interval
  (the amplitudes that encode to it). The order is chosen on validation recordings
  (:func:`choose_linear_order`).

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audioformers.audio.mulaw import mu_law_decode

NUM_LEVELS = 256
#: Orders the linear predictor chooses from on validation data.
LINEAR_ORDERS = (1, 2, 4, 8, 16, 32)
_MIN_PROB = 1e-9


def _check_recordings(tokens: list[np.ndarray], name: str = "tokens") -> list[np.ndarray]:
    if not isinstance(tokens, (list, tuple)) or not tokens:
        raise ValueError(f"{name} must be a non-empty list of 1-D integer arrays (one per recording)")
    out = []
    for i, t in enumerate(tokens):
        t = np.asarray(t)
        if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"{name}[{i}] must be a 1-D integer array, got dtype {t.dtype} and shape {t.shape}")
        if t.size and (t.min() < 0 or t.max() >= NUM_LEVELS):
            raise ValueError(f"{name}[{i}] holds codes outside 0..{NUM_LEVELS - 1}")
        out.append(t.astype(np.int64))
    return out


def _check_context(context: np.ndarray, needed: int) -> np.ndarray:
    context = np.asarray(context)
    if context.ndim != 2 or context.shape[1] < needed:
        raise ValueError(f"context must have shape (N, >= {needed}) (previous codes, oldest first), "
                         f"got {context.shape}")
    if not np.issubdtype(context.dtype, np.integer) or context.min() < 0 or context.max() >= NUM_LEVELS:
        raise ValueError(f"context must hold integer codes in 0..{NUM_LEVELS - 1}")
    return context.astype(np.int64)


@dataclass
class BigramTable:
    """P(next code | previous code) from counts with add-``alpha`` smoothing."""

    alpha: float = 0.5
    counts: np.ndarray | None = None  # (256, 256): counts[previous, next]

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_float

        check_float("alpha", self.alpha, minimum=0.0, strict_minimum=True)

    def fit(self, tokens: list[np.ndarray]) -> BigramTable:
        if not (isinstance(self.alpha, (int, float)) and self.alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}")
        counts = np.zeros((NUM_LEVELS, NUM_LEVELS), dtype=np.float64)
        for t in _check_recordings(tokens):
            if len(t) > 1:
                np.add.at(counts, (t[:-1], t[1:]), 1.0)
        self.counts = counts
        return self

    @property
    def num_parameters(self) -> int:
        return NUM_LEVELS * NUM_LEVELS

    def log_probs(self, context: np.ndarray) -> np.ndarray:
        """context (N, >= 1) previous codes -> (N, 256) natural-log probabilities of the next code."""
        if self.counts is None:
            raise RuntimeError("fit the bigram table before asking for probabilities")
        prev = _check_context(context, 1)[:, -1]
        table = self.counts + self.alpha
        table /= table.sum(axis=1, keepdims=True)
        return np.log(table[prev])


def level_edges() -> np.ndarray:
    """Decision boundaries between the 256 decoded levels (255 midpoints), in amplitude."""
    levels = mu_law_decode(np.arange(NUM_LEVELS))
    return (levels[1:] + levels[:-1]) / 2  # (255,)


def _lagged(x: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the previous ``order`` samples (oldest first) and the sample after each."""
    rows = np.lib.stride_tricks.sliding_window_view(x[:-1], order)  # (len - order, order)
    return rows, x[order:]


@dataclass
class LinearPredictor:
    """Least-squares linear prediction of the next amplitude with a Laplace error over the 256 levels."""

    order: int = 16
    max_rows: int = 400_000  # training rows used for the least-squares fit (evenly strided)
    coef: np.ndarray | None = None  # (order + 1,): weights for the previous samples (oldest first), then a bias
    scale: float | None = None  # Laplace scale of the prediction error, in amplitude

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_float, check_int

        check_int("order", self.order, minimum=1)
        check_int("max_rows", self.max_rows, minimum=1)
        if self.scale is not None:
            check_float("scale", self.scale, minimum=0.0, strict_minimum=True)

    def fit(self, tokens: list[np.ndarray]) -> LinearPredictor:
        if not (isinstance(self.order, int) and self.order >= 1):
            raise ValueError(f"order must be a positive integer, got {self.order!r}")
        rows, targets = [], []
        for t in _check_recordings(tokens):
            if len(t) > self.order:
                r, y = _lagged(mu_law_decode(t), self.order)
                rows.append(r)
                targets.append(y)
        if not rows:
            raise ValueError(f"no training recording is longer than the order ({self.order})")
        x, y = np.concatenate(rows), np.concatenate(targets)
        stride = max(1, len(y) // self.max_rows)
        x, y = x[::stride], y[::stride]
        design = np.concatenate([x, np.ones((len(x), 1))], axis=1)
        self.coef = np.linalg.lstsq(design, y, rcond=None)[0]
        self.scale = max(float(np.mean(np.abs(y - design @ self.coef))), 1e-6)
        return self

    @property
    def num_parameters(self) -> int:
        return self.order + 2  # weights, bias, error scale

    def predict(self, context: np.ndarray) -> np.ndarray:
        """context (N, >= order) previous codes -> (N,) predicted amplitude of the next sample."""
        if self.coef is None:
            raise RuntimeError("fit the linear predictor before asking for predictions")
        ctx = mu_law_decode(_check_context(context, self.order)[:, -self.order :])
        return ctx @ self.coef[:-1] + self.coef[-1]

    def log_probs(self, context: np.ndarray) -> np.ndarray:
        """(N, 256) natural-log probabilities: Laplace(prediction, scale) mass of each level's interval."""
        pred = self.predict(context)[:, None]  # (N, 1)
        z = (level_edges()[None, :] - pred) / self.scale  # (N, 255)
        cdf = np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))
        cdf = np.concatenate([np.zeros((len(pred), 1)), cdf, np.ones((len(pred), 1))], axis=1)  # (N, 257)
        probs = np.maximum(np.diff(cdf, axis=1), _MIN_PROB)  # (N, 256): floor keeps log finite
        return np.log(probs / probs.sum(axis=1, keepdims=True))


def mean_bits(log_probs: np.ndarray, targets: np.ndarray) -> float:
    """Bits per sample of (N, 256) natural-log probabilities against (N,) target codes."""
    from audioformers.core.checks import check_tokens

    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 2 or log_probs.shape[0] == 0:
        raise ValueError(f"log_probs must be (N, classes) with N >= 1, got shape {log_probs.shape}")
    if np.isnan(log_probs).any():
        raise ValueError("log_probs holds NaN values")
    targets = check_tokens("targets", targets, log_probs.shape[1], ndim=1).numpy()  # -1 would score class 255
    if len(targets) != len(log_probs):
        raise ValueError(f"targets ({len(targets)}) and log_probs ({len(log_probs)}) must have the same length")
    return float(-log_probs[np.arange(len(targets)), targets].mean() / math.log(2))


def _positions(tokens: list[np.ndarray], order: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random (context of ``order`` codes, next code) pairs from the recordings."""
    tokens = [t for t in _check_recordings(tokens, "validation") if len(t) > order]
    if not tokens:
        raise ValueError(f"no validation recording is longer than {order} samples")
    lengths = np.array([len(t) - order for t in tokens], dtype=np.float64)
    files = rng.choice(len(tokens), size=count, p=lengths / lengths.sum())
    starts = (rng.random(count) * lengths[files]).astype(np.int64)
    ctx = np.stack([tokens[f][s : s + order] for f, s in zip(files, starts)])
    nxt = np.array([tokens[f][s + order] for f, s in zip(files, starts)])
    return ctx, nxt


def choose_linear_order(train: list[np.ndarray], validation: list[np.ndarray], orders=LINEAR_ORDERS,
                        positions: int = 20_000, seed: int = 0, max_rows: int = 400_000) -> tuple[LinearPredictor, dict[int, float]]:
    """Fit a predictor of each order on ``train``; keep the one with the fewest validation bits per sample.

    Returns the chosen (fitted) predictor and the validation bits of every order tried.
    """
    orders = tuple(orders)
    if not orders or any(not (isinstance(o, int) and o >= 1) for o in orders):
        raise ValueError(f"orders must be positive integers, got {orders!r}")
    ctx, nxt = _positions(validation, max(orders), positions, np.random.default_rng(seed))
    scores, fitted = {}, {}
    for order in orders:
        fitted[order] = LinearPredictor(order=order, max_rows=max_rows).fit(train)
        scores[order] = mean_bits(fitted[order].log_probs(ctx), nxt)
    best = min(scores, key=scores.get)
    return fitted[best], scores
