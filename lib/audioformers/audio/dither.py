"""Dither and noise shaping: making quantisation error behave like noise instead of distortion.

Without dither the error of a quantiser is a deterministic function of the signal: on a quiet tone it
repeats every period and is heard as harmonics (distortion) and, on a fading note, as a gritty tail that
finally drops to silence. Adding a small random signal (TPDF dither, +-1 step) before rounding makes the error
independent of the signal: a steady hiss replaces the distortion, at the price of some 4.8 dB of SNR.
Noise shaping feeds the error back so that its spectrum tilts towards high frequencies, where the ear is
less sensitive; at full scale, where the quantiser saturates, it cannot and falls back to unshaped noise.

Notebook: ``chapters/02_raw_audio_mulaw.ipynb`` (section "Dither").
"""

from __future__ import annotations

import numpy as np

from audioformers.audio.audio_io import check_audio, check_sample_rate
from audioformers.audio.quantization import _check_levels, quantize_uniform
from audioformers.core.checks import check_int


def tpdf_dither(num_samples: int, num_levels: int, seed: int = 0) -> np.ndarray:
    """Triangular-PDF dither: the sum of two independent uniform noises of one quantisation step each.

    Ranges over +-1 step (``step = 2 / num_levels``); its power is ``step**2 / 6``. This makes the mean
    and the power of the error independent of the signal.
    """
    step = 2.0 / _check_levels(num_levels)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    return (rng.uniform(-step / 2, step / 2, num_samples) + rng.uniform(-step / 2, step / 2, num_samples))


def quantize_dithered(waveform: np.ndarray, num_levels: int = 256, seed: int = 0) -> np.ndarray:
    """Uniform quantisation (mid-rise, :func:`quantize_uniform`) after adding TPDF dither (float32).

    Samples pushed past +-1 by the dither are clipped to full scale.
    """
    x = check_audio(waveform).astype(np.float64)
    seed = check_int("seed", seed, minimum=0)
    noisy = np.clip(x + tpdf_dither(len(x), num_levels, seed), -1.0, 1.0)
    return quantize_uniform(noisy, num_levels)


def quantize_noise_shaped(waveform: np.ndarray, num_levels: int = 256, seed: int = 0, dither: bool = True) -> np.ndarray:
    """First-order noise shaping: the previous sample's error is subtracted before rounding (float32).

    The error reaching the output is ``e[n] - e[n-1]``: its spectrum is the quantiser's (white) error times
    ``|1 - exp(-i omega)|^2 = 4 sin^2(omega / 2)``, 6 dB more at the Nyquist frequency and much less at
    low frequencies. Its total power is twice the quantiser's, so the SNR is about 3 dB below plain TPDF
    dither (:func:`quantize_dithered`): noise shaping moves the noise, it does not remove it.

    Near full scale. When the quantiser saturates (the wanted value plus the dither lies beyond the outer
    levels), the error it makes is no longer a rounding error and feeding it back unchecked lets it grow
    sample after sample, to be released as a click at the next change of sign (a full-scale square wave at
    8 bits would get clicks of about 120 steps). The fed-back error is therefore clipped to +-1.5 steps with
    dither (+-0.5 step without), the most it ever reaches when the quantiser does not saturate: inside full
    scale nothing changes, and for any input within [-1, 1] the output error stays within 3 steps
    (1 step without dither). The cost: while the signal sits within about 2.5 steps of full scale the error
    is not shaped (there is no room to push it back), so a heavily limited signal gets roughly plain
    dither's error spectrum there; the SNR stays within about 3 dB of plain dither's (measured in the tests
    and in chapter 2 on a full-scale square wave and on limited music).
    """
    x = check_audio(waveform).astype(np.float64)
    levels = _check_levels(num_levels)
    seed = check_int("seed", seed, minimum=0)
    step = 2.0 / levels
    noise = tpdf_dither(len(x), levels, seed) if dither else np.zeros(len(x))
    bound = (1.5 if dither else 0.5) * step  # |error| never exceeds this unless the quantiser saturates
    out = np.empty(len(x))
    error = 0.0
    for n in range(len(x)):
        wanted = x[n] - error
        cell = min(max(np.floor((wanted + noise[n] + 1.0) / step), 0), levels - 1)
        out[n] = -1.0 + (cell + 0.5) * step
        error = min(max(out[n] - wanted, -bound), bound)
    return out.astype(np.float32)


def harmonic_levels_db(waveform: np.ndarray, sample_rate: int, fundamental_hz: float, num_harmonics: int = 10) -> np.ndarray:
    """Levels (dB re the fundamental) of harmonics ``1..num_harmonics`` of a steady tone (Hann-windowed DFT).

    Each level is the highest bin within +-2 bins of ``k * fundamental_hz``; harmonics above the Nyquist
    frequency are returned as ``nan``. A level near the noise floor means "no distortion at this harmonic".
    """
    x = check_audio(waveform).astype(np.float64)
    sample_rate = check_sample_rate(sample_rate)
    if not 0 < fundamental_hz < sample_rate / 2 or num_harmonics < 1:
        raise ValueError(f"need 0 < fundamental_hz < Nyquist and num_harmonics >= 1, got {fundamental_hz}, {num_harmonics}")
    n = len(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(n)))
    levels = np.full(num_harmonics, np.nan)
    for k in range(1, num_harmonics + 1):
        centre = k * fundamental_hz * n / sample_rate
        if centre >= n / 2 - 2:
            break
        lo, hi = max(int(centre) - 2, 0), int(centre) + 3
        levels[k - 1] = spectrum[lo:hi].max()
    return 20 * np.log10(np.maximum(levels / levels[0], 1e-12))
