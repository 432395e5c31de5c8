"""Quantisation of audio amplitudes: uniform and mu-law quantisers, and the SNR they leave.

A ``B``-bit quantiser has ``2 ** B`` levels. The uniform one spaces them evenly over [-1, 1]
(mid-rise: ``level = -1 + (code + 1/2) * step``, ``step = 2 / levels``); the mu-law one spaces
them evenly after the companding curve of :mod:`audioformers.audio.mulaw`, so quiet samples get small
steps and loud samples large ones.

Notebook: ``chapters/02_raw_audio_mulaw.ipynb``.
"""

from __future__ import annotations

import numpy as np

from audioformers.audio.audio_io import AudioError, check_audio
from audioformers.audio.mulaw import mu_law_decode, mu_law_encode


def _check_levels(num_levels: int) -> int:
    if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) or num_levels < 2:
        raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}")
    return int(num_levels)


def _check_unit(waveform: np.ndarray, clip: bool) -> np.ndarray:
    x = check_audio(waveform, ndim=None).astype(np.float64)
    peak = float(np.max(np.abs(x)))
    if peak > 1.0:
        if not clip:
            raise AudioError(f"waveform has values outside [-1, 1] (peak {peak:.4g}); normalise it or pass clip=True")
        x = np.clip(x, -1.0, 1.0)
    return x


def uniform_encode(waveform: np.ndarray, num_levels: int = 256, clip: bool = False) -> np.ndarray:
    """Audio in [-1, 1] -> integer codes ``0..num_levels-1`` of a uniform mid-rise quantiser (int64)."""
    levels = _check_levels(num_levels)
    x = _check_unit(waveform, clip)
    return np.clip(np.floor((x + 1.0) / 2.0 * levels), 0, levels - 1).astype(np.int64)


def uniform_decode(codes: np.ndarray, num_levels: int = 256) -> np.ndarray:
    """Integer codes -> the centre of each uniform level in [-1, 1] (float32)."""
    levels = _check_levels(num_levels)
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() >= levels):
        raise ValueError(f"codes must lie in 0..{levels - 1}, got {int(codes.min())}..{int(codes.max())}")
    return (-1.0 + (codes + 0.5) * 2.0 / levels).astype(np.float32)


def quantize_uniform(waveform: np.ndarray, num_levels: int = 256, clip: bool = False) -> np.ndarray:
    """Round every sample to the nearest of ``num_levels`` evenly spaced levels (float32)."""
    return uniform_decode(uniform_encode(waveform, num_levels, clip), num_levels)


def quantize_mu_law(waveform: np.ndarray, num_levels: int = 256, clip: bool = False) -> np.ndarray:
    """Mu-law encode then decode with ``num_levels`` levels (``mu = num_levels - 1``), float32."""
    levels = _check_levels(num_levels)
    x = _check_unit(waveform, clip)
    return mu_law_decode(mu_law_encode(x, levels), levels).astype(np.float32)


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-noise ratio ``10 log10(sum x^2 / sum (x - x_hat)^2)`` in dB; ``inf`` when identical."""
    ref = check_audio(reference, name="reference", ndim=None).astype(np.float64)
    est = check_audio(estimate, name="estimate", ndim=None).astype(np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same shape, got {ref.shape} and {est.shape}")
    signal, noise = float(np.sum(ref**2)), float(np.sum((ref - est) ** 2))
    if signal == 0.0:
        raise AudioError("reference is silent (all zeros): SNR is undefined")
    return float("inf") if noise == 0.0 else float(10.0 * np.log10(signal / noise))


QUANTIZERS = {"uniform": quantize_uniform, "mu-law": quantize_mu_law}


def snr_by_levels(
    waveforms: dict[str, np.ndarray], bit_depths: list[int] | tuple[int, ...] = (4, 6, 8, 10, 12)
) -> list[dict[str, object]]:
    """SNR (dB) of uniform and mu-law quantisation for each named waveform and bit depth.

    Returns rows ``{"signal", "bits", "levels", "uniform_db", "mu-law_db"}`` (a table).
    """
    rows: list[dict[str, object]] = []
    for name, waveform in waveforms.items():
        for bits in bit_depths:
            levels = 2 ** int(bits)
            row: dict[str, object] = {"signal": name, "bits": int(bits), "levels": levels}
            for method, quantize in QUANTIZERS.items():
                row[f"{method}_db"] = snr_db(waveform, quantize(waveform, levels))
            rows.append(row)
    return rows
