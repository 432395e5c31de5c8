"""Level, crest factor, clipping and headroom; quantisers compared at a fixed mu; the full-scale sine rule.

Which quantiser leaves less error depends on the signal's level distribution, not only on the bit depth:
uniform quantisation's SNR rises one dB per dB of RMS level, mu-law's hardly moves. A peak-normalised
signal with a high crest factor (speech with pauses, dynamic music) favours mu-law; a loud, compressed one
(low crest factor, RMS near full scale) favours uniform. Turning the gain up improves SNR until the peaks
clip; the margin left below full scale is the headroom.

Notebook: ``chapters/02_raw_audio_mulaw.ipynb`` (sections "Which quantiser wins depends on the signal",
"Clipping and headroom", "The 6.02 B + 1.76 dB rule").
"""

from __future__ import annotations

import numpy as np

from audioformers.audio.audio_io import AudioError, check_audio
from audioformers.core.checks import check_float
from audioformers.audio.quantization import _check_levels, quantize_mu_law, quantize_uniform, snr_db


def rms(waveform: np.ndarray) -> float:
    """Root-mean-square level (1.0 = full-scale square wave; a full-scale sine has ``1 / sqrt(2)``)."""
    x = check_audio(waveform, ndim=None).astype(np.float64)
    return float(np.sqrt(np.mean(x**2)))


def crest_factor_db(waveform: np.ndarray) -> float:
    """Peak over RMS in dB: 3.01 dB for a sine, about 15–20 dB for speech with pauses, less for loud masters."""
    level = rms(waveform)
    if level == 0.0:
        raise AudioError("waveform is silent: the crest factor is undefined")
    return float(20 * np.log10(np.max(np.abs(waveform)) / level))


def full_scale_sine_snr_db(bits: int | np.ndarray) -> np.ndarray:
    """Theoretical SNR of a full-scale sine after uniform quantisation: ``20 log10(2^B) + 10 log10(3/2)``.

    The familiar ``6.02 B + 1.76`` dB: signal power ``1/2`` over error power ``step**2 / 12``.
    """
    b = np.asarray(bits, dtype=np.float64)
    if np.any(b < 1):
        raise ValueError(f"bits must be >= 1, got {bits}")
    return 20 * np.log10(2.0) * b + 10 * np.log10(1.5)


def quantize_mu_law_fixed(waveform: np.ndarray, num_levels: int = 256, mu: float = 255.0, clip: bool = False) -> np.ndarray:
    """Mu-law companding with a fixed ``mu`` (default 255), then ``num_levels`` uniform levels (float32).

    :func:`audioformers.audio.quantization.quantize_mu_law` ties ``mu = num_levels - 1``, so with few levels the
    curve is nearly straight and with many it bends hard. Fixing ``mu`` separates "how many levels" from
    "how strongly the curve bends". With ``num_levels = mu + 1`` both agree.
    """
    levels = _check_levels(num_levels)
    mu = check_float("mu", mu, minimum=0.0, strict_minimum=True)
    x = check_audio(waveform, ndim=None).astype(np.float64)
    if np.max(np.abs(x)) > 1.0:
        if not clip:
            raise AudioError(f"waveform has values outside [-1, 1] (peak {np.max(np.abs(x)):.4g}); normalise it or pass clip=True")
        x = np.clip(x, -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)  # the curve F(x) with this mu
    codes = np.floor((y + 1) / 2 * (levels - 1) + 0.5)  # 0 .. levels - 1
    y_hat = codes / (levels - 1) * 2 - 1
    return (np.sign(y_hat) * np.expm1(np.abs(y_hat) * np.log1p(mu)) / mu).astype(np.float32)


def soft_limit(waveform: np.ndarray, drive_db: float) -> np.ndarray:
    """A loudness-maximising limiter: ``tanh(g x)`` with ``g = 10 ** (drive_db / 20)``, then peak-normalised.

    More drive flattens the peaks and raises the RMS level (lowers the crest factor), as the mastering of
    loud music and the compression of broadcast speech do.
    """
    x = check_audio(waveform).astype(np.float64)
    if np.max(np.abs(x)) == 0:
        raise AudioError("waveform is silent: nothing to limit")
    y = np.tanh(10 ** (drive_db / 20) * x / np.max(np.abs(x)))
    return (y / np.max(np.abs(y))).astype(np.float32)


def snr_against_gain(waveform: np.ndarray, gains_db: list[float] | np.ndarray, num_levels: int = 256) -> list[dict[str, float]]:
    """SNR (dB) of uniform and mu-law quantisation of ``gain * waveform``, clipped at full scale.

    The reference is the amplified, *unclipped* signal, so clipping counts as error. Returns rows
    ``{"gain_db", "peak_dbfs", "clipped_share", "uniform_db", "mu-law_db"}``.
    """
    x = check_audio(waveform).astype(np.float64)
    levels = _check_levels(num_levels)
    rows = []
    for gain_db in gains_db:
        wanted = x * 10 ** (gain_db / 20)
        clipped = np.clip(wanted, -1.0, 1.0)
        rows.append({
            "gain_db": float(gain_db),
            "peak_dbfs": float(20 * np.log10(np.max(np.abs(wanted)))),
            "clipped_share": float(np.mean(np.abs(wanted) > 1.0)),
            "uniform_db": snr_db(wanted, quantize_uniform(clipped, levels)),
            "mu-law_db": snr_db(wanted, quantize_mu_law(clipped, levels)),
        })
    return rows
