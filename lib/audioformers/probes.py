"""Linear probes: logistic regression on frozen, cached embeddings, with source-disjoint splits.

A representation is judged by how well a *linear* classifier reads labels off it, trained on
one set of sources (instrument programs, drum kits) and tested on others — so that a probe
cannot score by recognising a recording it has already seen.

Notebook: chapters/04_textless_audio_lm.ipynb
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def check_source_disjoint(train_sources: Sequence[str], test_sources: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the shared sources if any source is on both sides of a split."""
    shared = sorted(set(map(str, train_sources)) & set(map(str, test_sources)))
    if shared:
        raise ValueError(f"{len(shared)} source(s) on both sides of the split, e.g. {shared[:5]}")


def source_disjoint_split(sources: Sequence[str], test_fraction: float = 0.25,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` such that every source lies wholly on one side."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    sources = np.asarray(list(map(str, sources)))
    unique = np.unique(sources)
    if len(unique) < 2:
        raise ValueError("need at least two distinct sources to split by source")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(unique)
    n_test = min(len(unique) - 1, max(1, int(round(test_fraction * len(unique)))))
    test_sources = set(shuffled[:n_test])
    is_test = np.array([s in test_sources for s in sources])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 c: float = 1.0, max_iter: int = 1000) -> dict[str, float]:
    """Standardise on the training embeddings, fit multinomial logistic regression, report accuracy.

    Returns ``{"train_accuracy", "test_accuracy", "chance"}`` (chance = majority class of the test set).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train_x, test_x = _check_embeddings(train_x, "train_x"), _check_embeddings(test_x, "test_x")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train and test embeddings differ in width: {train_x.shape[1]} vs {test_x.shape[1]}")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError("embeddings and labels differ in length")
    from threadpoolctl import threadpool_limits

    scaler = StandardScaler().fit(train_x)
    with threadpool_limits(1):  # BLAS threads on shared cores slow these small fits down many times
        clf = LogisticRegression(C=c, max_iter=max_iter).fit(scaler.transform(train_x), train_y)
    counts = np.bincount(np.asarray(test_y))
    return {
        "train_accuracy": float(clf.score(scaler.transform(train_x), train_y)),
        "test_accuracy": float(clf.score(scaler.transform(test_x), test_y)),
        "chance": float(counts.max() / counts.sum()),
    }


def choose_c(train_x: np.ndarray, train_y: np.ndarray, sources: Sequence[str],
             grid: Sequence[float] = (0.01, 0.1, 1.0), seed: int = 0) -> float:
    """Pick the probe's inverse regularisation on a source-disjoint split of the *training* set only."""
    inner_train, inner_val = source_disjoint_split(sources, 0.25, seed)
    scores = [linear_probe(train_x[inner_train], train_y[inner_train], train_x[inner_val], train_y[inner_val], c=c)
              ["test_accuracy"] for c in grid]
    return float(grid[int(np.argmax(scores))])


def mel_statistics(log_mels: np.ndarray) -> np.ndarray:
    """Baseline embedding: mean and std over time of each mel band ``(N, M, T)`` -> ``(N, 2M)``."""
    log_mels = np.asarray(log_mels, dtype=np.float32)
    if log_mels.ndim != 3:
        raise ValueError(f"log_mels must be (N, n_mels, frames), got shape {log_mels.shape}")
    return np.concatenate([log_mels.mean(2), log_mels.std(2)], axis=1)  # (N, 2M)


def summarise(accuracies: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
    """``{method: [acc per seed]}`` -> ``{method: {"mean", "std", "n"}}`` (sample std, ddof=1)."""
    out = {}
    for name, values in accuracies.items():
        v = np.asarray(list(values), dtype=np.float64)
        out[name] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}
    return out


def _check_embeddings(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty (count, dim) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return x
