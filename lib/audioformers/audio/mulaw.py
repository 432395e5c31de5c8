"""Mu-law companding and 8-bit quantisation: audio as a 256-symbol language.

    F(x) = sign(x) * ln(1 + mu |x|) / ln(1 + mu),   x in [-1, 1],  mu = quantization_channels - 1

The encoder maps [-1, 1] to integer codes 0..mu with the same rounding as torchaudio's
``mu_law_encoding``; the decoder maps codes back to the centre of each level.

Notebook: ``chapters/02_raw_audio_mulaw.ipynb``.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from audioformers.audio.audio_io import AudioError

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)


def _check_channels(quantization_channels: int) -> int:
    if isinstance(quantization_channels, bool) or not isinstance(quantization_channels, (int, np.integer)) or quantization_channels < 2:
        raise ValueError(f"quantization_channels must be an integer >= 2, got {quantization_channels!r}")
    return int(quantization_channels)


def _check_unit(x: ArrayLike, clip: bool) -> ArrayLike:
    is_tensor = isinstance(x, torch.Tensor)
    finite = torch.isfinite(x).all().item() if is_tensor else bool(np.all(np.isfinite(x)))
    if not finite:
        raise AudioError("mu-law input contains non-finite values (NaN or inf)")
    if x.numel() if is_tensor else np.size(x):
        peak = float(x.abs().max()) if is_tensor else float(np.max(np.abs(x)))
    else:
        raise AudioError("mu-law input is empty")
    if peak > 1.0:
        if not clip:
            raise AudioError(f"mu-law input has values outside [-1, 1] (peak {peak:.4g}); normalise it or pass clip=True")
        x = x.clamp(-1.0, 1.0) if is_tensor else np.clip(x, -1.0, 1.0)
    return x


def mu_law_compress(x: ArrayLike, quantization_channels: int = 256, clip: bool = False) -> ArrayLike:
    """The continuous companding curve F(x) in [-1, 1] (before quantisation)."""
    mu = _check_channels(quantization_channels) - 1
    if isinstance(x, torch.Tensor):
        x = _check_unit(x.float() if not x.is_floating_point() else x, clip)
        return torch.sign(x) * torch.log1p(mu * x.abs()) / np.log1p(mu)
    x = _check_unit(np.asarray(x, dtype=np.float64), clip)
    return np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)


def mu_law_encode(x: ArrayLike, quantization_channels: int = 256, clip: bool = False) -> ArrayLike:
    """Audio in [-1, 1] -> integer codes 0..quantization_channels-1 (int64).

    Raises :class:`AudioError` on non-finite input or values outside [-1, 1] unless ``clip=True``.
    Matches ``torchaudio.functional.mu_law_encoding``.
    """
    mu = _check_channels(quantization_channels) - 1
    compressed = mu_law_compress(x, quantization_channels, clip)
    if isinstance(compressed, torch.Tensor):
        return ((compressed + 1) / 2 * mu + 0.5).to(torch.int64)
    return ((compressed + 1) / 2 * mu + 0.5).astype(np.int64)


def mu_law_decode(codes: ArrayLike, quantization_channels: int = 256) -> ArrayLike:
    """Integer codes -> audio in [-1, 1] (float32). Matches ``torchaudio.functional.mu_law_decoding``."""
    mu = _check_channels(quantization_channels) - 1
    if isinstance(codes, torch.Tensor):
        if codes.is_floating_point():
            raise TypeError("mu-law codes must be integers")
        if codes.numel() and (codes.min() < 0 or codes.max() > mu):
            raise ValueError(f"mu-law codes must lie in 0..{mu}, got {int(codes.min())}..{int(codes.max())}")
        y = codes.to(torch.float32) / mu * 2 - 1
        return torch.sign(y) * (torch.exp(y.abs() * np.log1p(mu)) - 1) / mu
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"mu-law codes must be integers, got dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() > mu):
        raise ValueError(f"mu-law codes must lie in 0..{mu}, got {int(codes.min())}..{int(codes.max())}")
    y = codes.astype(np.float64) / mu * 2 - 1
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


def mu_law_expand(y: ArrayLike, quantization_channels: int = 256) -> ArrayLike:
    """Inverse of :func:`mu_law_compress`: ``sign(y) ((1 + mu) ** |y| - 1) / mu`` for ``y`` in [-1, 1]."""
    mu = _check_channels(quantization_channels) - 1
    if isinstance(y, torch.Tensor):
        y = _check_unit(y.float() if not y.is_floating_point() else y, clip=False)
        return torch.sign(y) * torch.expm1(y.abs() * np.log1p(mu)) / mu
    y = _check_unit(np.asarray(y, dtype=np.float64), clip=False)
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def code_histogram(codes: np.ndarray | torch.Tensor, quantization_channels: int = 256) -> np.ndarray:
    """Relative frequency of each code ``0..quantization_channels-1`` (sums to 1)."""
    channels = _check_channels(quantization_channels)
    codes = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    if codes.size == 0 or codes.dtype.kind not in "iu":
        raise ValueError(f"need a non-empty integer array of codes, got dtype {codes.dtype}, size {codes.size}")
    if codes.min() < 0 or codes.max() >= channels:
        raise ValueError(f"codes must lie in 0..{channels - 1}, got {int(codes.min())}..{int(codes.max())}")
    counts = np.bincount(codes.ravel(), minlength=channels)
    return counts / counts.sum()


def entropy_bits(probabilities: np.ndarray) -> float:
    """Shannon entropy ``-sum p log2 p`` (bits per symbol) of a distribution, e.g. a :func:`code_histogram`."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("probabilities must be a 1-D non-negative array summing to 1")
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def bigram_counts(sequences: list[np.ndarray], quantization_channels: int = 256) -> np.ndarray:
    """Counts ``(previous code, next code)`` over integer code sequences -> ``(C, C)`` int64."""
    channels = _check_channels(quantization_channels)
    counts = np.zeros((channels, channels), dtype=np.int64)
    for codes in sequences:
        codes = np.asarray(codes)
        code_histogram(codes, channels)  # validates dtype and range
        np.add.at(counts, (codes[:-1], codes[1:]), 1)
    return counts


def bigram_next_code_accuracy(train: list[np.ndarray], test: list[np.ndarray], quantization_channels: int = 256,
                              top_k: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Next-sample prediction as language modelling with the simplest model: a bigram table.

    Fits ``p(next | previous)`` by counting on ``train`` (add-one smoothing) and reports, on ``test``:
    top-k accuracy, the cross-entropy in bits per sample, and the top-1 accuracy of repeating the previous code.
    """
    channels = _check_channels(quantization_channels)
    from audioformers.core.checks import check_int

    if isinstance(top_k, (int, np.integer)):
        top_k = (top_k,)
    top_k = tuple(check_int("top_k", k, minimum=1) for k in top_k)
    if not top_k:
        raise ValueError("top_k must name at least one k")
    for i, codes in enumerate(test):  # a code outside 0..C-1 (e.g. -1) would index the table silently
        try:
            code_histogram(np.asarray(codes), channels)
        except ValueError as error:
            raise ValueError(f"test sequence {i}: {error}") from None
    counts = bigram_counts(train, quantization_channels) + 1.0  # (C, C) add-one smoothing
    log_p = np.log2(counts / counts.sum(1, keepdims=True))  # (C, C)
    ranking = np.argsort(-counts, axis=1)  # (C, C) most likely next codes first
    prev = np.concatenate([np.asarray(c)[:-1] for c in test])  # (N,)
    nxt = np.concatenate([np.asarray(c)[1:] for c in test])  # (N,)
    if prev.size == 0:
        raise ValueError("test sequences need at least two codes each")
    result = {f"top{k}": float(np.mean((ranking[prev, :k] == nxt[:, None]).any(1))) for k in top_k}
    result["bits_per_sample"] = float(-log_p[prev, nxt].mean())
    result["repeat_previous_top1"] = float(np.mean(prev == nxt))
    return result
