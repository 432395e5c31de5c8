"""Fourier analysis: STFT magnitudes, mel filterbanks and log-mel spectrograms (torch, any device).

Notebook: ``chapters/01_fourier_spectrograms.ipynb``.
"""

from __future__ import annotations

import numpy as np
import torch

from .audio_io import check_audio, check_sample_rate


def _as_tensor(waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(waveform, torch.Tensor):
        if waveform.numel() == 0:
            raise check_audio(np.zeros(0))  # raises AudioError("... is empty")
        if not torch.isfinite(waveform).all():
            check_audio(waveform.detach().cpu().numpy(), ndim=None)
        return waveform.float()
    return torch.from_numpy(np.ascontiguousarray(check_audio(waveform, ndim=None), dtype=np.float32))


def stft_magnitude(
    waveform: np.ndarray | torch.Tensor,
    n_fft: int = 512,
    hop_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    power: float = 1.0,
    pad_mode: str = "constant",
) -> torch.Tensor:
    """|STFT|**power of ``(..., time)`` audio -> ``(..., n_fft // 2 + 1, frames)``.

    Periodic windows; with ``center`` the signal is padded by ``n_fft // 2`` on each side
    (zeros by default, as librosa >= 0.10; ``pad_mode="reflect"`` as torchaudio).
    """
    x = _as_tensor(waveform)
    if n_fft <= 0 or (hop_length is not None and hop_length <= 0):
        raise ValueError(f"n_fft and hop_length must be positive, got {n_fft}, {hop_length}")
    hop_length = hop_length or n_fft // 4
    win = make_window(window, n_fft, device=x.device)
    lead = x.shape[:-1]
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, hop_length, window=win, center=center, pad_mode=pad_mode, return_complex=True)
    mag = spec.abs() if power == 1.0 else spec.abs() ** power
    return mag.reshape(*lead, *mag.shape[-2:])


def make_window(name: str, length: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Periodic analysis windows: ``hann``, ``hamming`` or ``rectangular``."""
    if name == "hann":
        return torch.hann_window(length, periodic=True, device=device)
    if name == "hamming":
        return torch.hamming_window(length, periodic=True, device=device)
    if name in ("rectangular", "boxcar", "ones"):
        return torch.ones(length, device=device)
    raise ValueError(f"unknown window {name!r}: use 'hann', 'hamming' or 'rectangular'")


def hz_to_mel(frequency_hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (librosa's default, ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(frequency_hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(mels: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = 64, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular, Slaney-normalised mel filters, shape ``(n_mels, n_fft // 2 + 1)``; equals ``librosa.filters.mel``."""
    sample_rate = check_sample_rate(sample_rate)
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= Nyquist ({sample_rate / 2} Hz), got fmin={fmin}, fmax={fmax}")
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2 : n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


def log_mel_spectrogram(
    waveform: np.ndarray | torch.Tensor,
    sample_rate: int,
    n_fft: int = 400,
    hop_length: int = 160,
    n_mels: int = 64,
    fmin: float = 0.0,
    fmax: float | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """``log(mel power + eps)`` of ``(..., time)`` audio -> ``(..., n_mels, frames)`` (natural log)."""
    power = stft_magnitude(waveform, n_fft, hop_length, power=2.0)
    fb = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)).to(power.device)
    mel = torch.matmul(fb, power)  # (..., n_mels, frames)
    return torch.log(mel + eps)


def power_to_db(power: np.ndarray | torch.Tensor, top_db: float | None = 80.0, amin: float = 1e-10) -> np.ndarray:
    """10 log10(power / max), floored ``top_db`` below the peak (as ``librosa.power_to_db(ref=np.max)``)."""
    p = power.detach().cpu().numpy() if isinstance(power, torch.Tensor) else np.asarray(power)
    db = 10.0 * np.log10(np.maximum(amin, p)) - 10.0 * np.log10(max(amin, float(p.max())))
    return np.maximum(db, db.max() - top_db) if top_db is not None else db
