"""Multi-label tagging metrics: average precision per class, macro mAP, AUC and d′.

Written out in NumPy so that the reader can see what the numbers mean; unit tests check that they
equal scikit-learn's ``average_precision_score`` and ``roc_auc_score``.

Notebook: chapters/05_wavelet_audio_transformer.ipynb
"""

from __future__ import annotations

import numpy as np


def _check(targets: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    targets, scores = np.asarray(targets), np.asarray(scores, dtype=np.float64)
    if targets.shape != scores.shape:
        raise ValueError(f"targets {targets.shape} and scores {scores.shape} must have the same shape")
    if targets.ndim not in (1, 2) or targets.size == 0:
        raise ValueError(f"expected non-empty (N,) or (N, classes) arrays, got shape {targets.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain non-finite values")
    if not np.all((targets == 0) | (targets == 1)):
        raise ValueError("targets must be 0/1 (multi-hot)")
    return targets.astype(np.int64), scores


def average_precision(targets: np.ndarray, scores: np.ndarray) -> float:
    """AP of one class: sum over distinct thresholds of (recall step) x precision; NaN without positives."""
    y, s = _check(targets, scores)
    if y.ndim != 1:
        raise ValueError("average_precision takes one class: (N,) arrays")
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], y.size - 1]  # last index of each distinct score
    true_pos = np.cumsum(y)[last_of_tie]
    precision = true_pos / (last_of_tie + 1)
    recall = true_pos / true_pos[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(targets: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of one class (ties count half); NaN when one label is missing."""
    y, s = _check(targets, scores)
    pos, neg = int(y.sum()), int(y.size - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = _average_ranks(s)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size)
    sorted_values = values[order]
    starts = np.r_[0, np.nonzero(np.diff(sorted_values))[0] + 1]
    ends = np.r_[starts[1:], values.size]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2.0  # 1-based average rank of the tie group
    return ranks


def d_prime(auc: float | np.ndarray) -> float | np.ndarray:
    """d′ = √2 · Φ⁻¹(AUC), the AudioSet convention (0 for chance, 1.8 for AUC 0.9)."""
    from scipy.stats import norm  # here, not at import: scipy.stats costs every notebook about a second

    values = np.asarray(auc, dtype=np.float64) if not isinstance(auc, (bool, np.bool_)) else None
    if values is None or values.dtype.kind != "f":
        raise TypeError(f"auc must be a number or an array of numbers, got {type(auc).__name__}")
    if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
        raise ValueError(f"auc must lie in [0, 1] (an area under a ROC curve), got {auc!r}")
    return np.sqrt(2.0) * norm.ppf(np.clip(auc, 1e-6, 1 - 1e-6))


def tagging_metrics(targets: np.ndarray, scores: np.ndarray, classes: list[str] | None = None) -> dict:
    """Macro mAP, macro AUC, d′ (of the macro AUC) and per-class AP for (N, C) multi-hot targets.

    Classes without a positive example in ``targets`` are left out of the averages (and reported as NaN).
    """
    y, s = _check(targets, scores)
    if y.ndim != 2:
        raise ValueError(f"expected (N, classes) arrays, got shape {y.shape}")
    ap = np.array([average_precision(y[:, c], s[:, c]) for c in range(y.shape[1])])
    auc = np.array([roc_auc(y[:, c], s[:, c]) for c in range(y.shape[1])])
    names = classes or [str(c) for c in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} class names for {y.shape[1]} columns")
    mean_auc = float(np.nanmean(auc))
    return {
        "mAP": float(np.nanmean(ap)),
        "AUC": mean_auc,
        "d_prime": float(d_prime(mean_auc)),
        "per_class_AP": {n: (None if np.isnan(a) else float(a)) for n, a in zip(names, ap)},
        "classes_scored": int(np.sum(~np.isnan(ap))),
    }
