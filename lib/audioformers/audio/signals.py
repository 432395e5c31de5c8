"""Fourier analysis: DFT, square-wave series, windows, STFT, constant-Q, mel, MFCC; aliasing (torch, any device).

Notebook: ``chapters/01_fourier_spectrograms.ipynb`` (sampling and aliasing helpers at the end:
``chapters/02_raw_audio_mulaw.ipynb``).
"""

from __future__ import annotations

import numpy as np
import torch

from audioformers.audio.audio_io import check_audio, check_sample_rate
from audioformers.core.checks import check_choice, check_float, check_int

#: ``torch.stft``'s padding modes (used with ``center=True``)
PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _as_tensor(waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(waveform, torch.Tensor):
        if waveform.numel() == 0:
            check_audio(np.zeros(0))  # raises AudioError: waveform is empty
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
    n_fft = check_int("n_fft", n_fft, minimum=1)
    hop_length = n_fft // 4 if hop_length is None else check_int("hop_length", hop_length, minimum=1)
    power = check_float("power", power, minimum=0.0, strict_minimum=True)
    pad_mode = check_choice("pad_mode", pad_mode, PAD_MODES)
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


def hz_to_mel(frequency_hz: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Slaney's mel scale (librosa's default, ``htk=False``): linear below 1 kHz, logarithmic above.

    With ``htk=True``, the HTK formula ``2595 log10(1 + f / 700)``.
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(mels: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = 64, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | float | None = "slaney") -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``; equals ``librosa.filters.mel`` for every parameter.

    The filters are placed on the true frequencies of the DFT bins, ``k * sample_rate / n_fft`` (for an odd
    ``n_fft`` the last bin lies below Nyquist). ``htk`` picks the HTK mel formula instead of Slaney's;
    ``norm="slaney"`` scales each filter to unit area per Hz, ``None`` leaves peaks at 1, and a number ``p``
    divides each filter by its ``p``-norm (``np.inf``: its maximum), as librosa.
    """
    sample_rate = check_sample_rate(sample_rate)
    n_fft = check_int("n_fft", n_fft, minimum=1)
    n_mels = check_int("n_mels", n_mels, minimum=1)
    fmin = check_float("fmin", fmin, minimum=0.0)
    fmax = sample_rate / 2 if fmax is None else check_float("fmax", fmax, minimum=0.0)
    if not fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= Nyquist ({sample_rate / 2} Hz), got fmin={fmin}, fmax={fmax}")
    if not (norm is None or norm == "slaney" or (isinstance(norm, (int, float, np.number)) and not isinstance(norm, bool)
                                                  and float(norm) > 0)):
        raise ValueError(f"norm must be 'slaney', None or a positive number, got {norm!r}")
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)  # (n_fft // 2 + 1,) true bin frequencies
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_freqs[2 : n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    elif norm is not None:
        p = float(norm)
        size = np.abs(weights).max(axis=1) if np.isinf(p) else (np.abs(weights) ** p).sum(axis=1) ** (1.0 / p)
        tiny = np.finfo(np.float32).tiny
        weights = weights / np.where(size < tiny, 1.0, size)[:, None]  # an empty filter stays zero
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
    """``log(mel power + eps)`` of ``(..., time)`` audio -> ``(..., n_mels, frames)`` (natural log); ``eps > 0``."""
    eps = check_float("eps", eps, minimum=0.0, strict_minimum=True)
    power = stft_magnitude(waveform, n_fft, hop_length, power=2.0)
    fb = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)).to(power.device)
    mel = torch.matmul(fb, power)  # (..., n_mels, frames)
    return torch.log(mel + eps)


def power_to_db(power: np.ndarray | torch.Tensor, top_db: float | None = 80.0, amin: float = 1e-10) -> np.ndarray:
    """10 log10(power / max), floored ``top_db`` below the peak (as ``librosa.power_to_db(ref=np.max)``)."""
    if top_db is not None:
        top_db = check_float("top_db", top_db, minimum=0.0)
    amin = check_float("amin", amin, minimum=0.0, strict_minimum=True)
    p = power.detach().cpu().numpy() if isinstance(power, torch.Tensor) else np.asarray(power)
    db = 10.0 * np.log10(np.maximum(amin, p)) - 10.0 * np.log10(max(amin, float(p.max())))
    return np.maximum(db, db.max() - top_db) if top_db is not None else db


# --------------------------------------------------------------------------------------------
# Chapter 1: sinusoids, the DFT, square waves, windows and leakage.
# --------------------------------------------------------------------------------------------


def sum_of_sinusoids(
    frequencies_hz: list[float] | np.ndarray,
    amplitudes: list[float] | np.ndarray,
    sample_rate: int,
    seconds: float,
    phases: list[float] | np.ndarray | None = None,
) -> np.ndarray:
    """``sum_k a_k sin(2 pi f_k t + phi_k)`` sampled for ``seconds`` at ``sample_rate`` (float32)."""
    sample_rate = check_sample_rate(sample_rate)
    freqs = np.asarray(frequencies_hz, dtype=np.float64)
    amps = np.asarray(amplitudes, dtype=np.float64)
    phis = np.zeros_like(freqs) if phases is None else np.asarray(phases, dtype=np.float64)
    if freqs.ndim != 1 or freqs.shape != amps.shape or freqs.shape != phis.shape or freqs.size == 0:
        raise ValueError(f"need as many amplitudes/phases as frequencies, got {freqs.shape}, {amps.shape}, {phis.shape}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate  # (T,)
    return (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phis[:, None])).sum(0).astype(np.float32)  # (T,)


def dft_amplitude(waveform: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """One-sided DFT amplitude spectrum ``(frequencies_hz, amplitude)``.

    Scaled so that a sinusoid of amplitude ``a`` whose frequency falls on a DFT bin shows a peak of
    height ``a`` (``2 |X_k| / N``; the DC and Nyquist bins ``|X_k| / N``).
    """
    x = check_audio(waveform).astype(np.float64)
    sample_rate = check_sample_rate(sample_rate)
    n = len(x)
    amplitude = np.abs(np.fft.rfft(x)) / n
    amplitude[1 : (n + 1) // 2] *= 2.0  # every bin but DC (and Nyquist for even n) has a mirror image
    return np.fft.rfftfreq(n, d=1.0 / sample_rate), amplitude


def find_peaks_hz(frequencies_hz: np.ndarray, amplitude: np.ndarray, num_peaks: int) -> list[tuple[float, float]]:
    """The ``num_peaks`` largest local maxima of a spectrum as ``(frequency_hz, amplitude)``, by frequency."""
    a = np.asarray(amplitude)
    is_peak = np.r_[False, (a[1:-1] > a[:-2]) & (a[1:-1] >= a[2:]), False]
    idx = np.flatnonzero(is_peak)
    top = idx[np.argsort(a[idx])[::-1][:num_peaks]]
    return [(float(frequencies_hz[i]), float(a[i])) for i in sorted(top)]


def square_wave(frequency_hz: float, sample_rate: int, seconds: float) -> np.ndarray:
    """A +-1 square wave, ``sign(sin(2 pi f t))`` (float32)."""
    t = np.arange(int(round(seconds * check_sample_rate(sample_rate)))) / sample_rate
    return np.where(np.sin(2 * np.pi * frequency_hz * t) >= 0, 1.0, -1.0).astype(np.float32)


def square_wave_partial_sum(frequency_hz: float, sample_rate: int, seconds: float, num_harmonics: int) -> np.ndarray:
    """Fourier series of the square wave truncated to its first ``num_harmonics`` odd harmonics.

    ``(4 / pi) * sum_{k = 1, 3, 5, ...} sin(2 pi k f t) / k``: only odd multiples, amplitude ``1/k``.
    Every harmonic must lie strictly below the Nyquist frequency ``sample_rate / 2``: one above it would alias
    (harmonic ``k`` folds onto ``sample_rate / f - k`` with its sign inverted) and cancel the harmonic it lands
    on, so that is refused with a ``ValueError`` that says how many odd harmonics fit.

    Notebook: chapters/01_fourier_spectrograms.ipynb (section "A square wave: many harmonics, and Gibbs").
    """
    from audioformers.core.checks import check_float, check_int

    frequency_hz = check_float("frequency_hz", frequency_hz, minimum=0.0, strict_minimum=True)
    sample_rate = check_sample_rate(sample_rate)
    num_harmonics = check_int("num_harmonics", num_harmonics, minimum=1)
    # odd k with k f < sample_rate / 2, i.e. k < bound: ceil((bound - 1) / 2) of them (none when bound <= 1)
    bound = sample_rate / (2.0 * frequency_hz)
    fit = max(0, int(np.ceil((bound - 1.0) / 2.0 - 1e-9)))
    if num_harmonics > fit:
        top = 2 * num_harmonics - 1
        raise ValueError(
            f"num_harmonics={num_harmonics}: the highest odd harmonic, {top} x {frequency_hz:g} Hz = {top * frequency_hz:g} Hz, "
            f"is not below the Nyquist frequency ({sample_rate / 2:g} Hz at sample_rate={sample_rate}) and would alias; "
            f"at most {fit} odd harmonics of {frequency_hz:g} Hz fit (raise sample_rate or lower num_harmonics)")
    ks = 2 * np.arange(num_harmonics) + 1  # 1, 3, 5, ...
    return sum_of_sinusoids(ks * frequency_hz, 4 / (np.pi * ks), sample_rate, seconds)


def frame_signal(waveform: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Cut 1-D audio into overlapping frames ``(num_frames, frame_length)`` (no padding)."""
    x = check_audio(waveform)
    frame_length = check_int("frame_length", frame_length, minimum=1)
    hop_length = check_int("hop_length", hop_length, minimum=1)
    if len(x) < frame_length:
        raise ValueError(f"waveform ({len(x)} samples) is shorter than one frame ({frame_length})")
    num_frames = 1 + (len(x) - frame_length) // hop_length
    index = np.arange(frame_length)[None, :] + hop_length * np.arange(num_frames)[:, None]  # (F, L)
    return x[index]


def window_response_db(name: str, length: int, n_fft: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude response of a window in dB re its peak, against offset in DFT bins of a ``length``-point DFT.

    Returns ``(bin_offset, level_db)`` for offsets ``0 .. length/2`` (the response is symmetric).
    """
    w = make_window(name, length).double().numpy()
    response = np.abs(np.fft.rfft(w, n=n_fft))
    level_db = 20 * np.log10(np.maximum(response / response.max(), 1e-12))
    bin_offset = np.arange(len(response)) * length / n_fft
    return bin_offset, level_db


def window_leakage(name: str, length: int = 512, n_fft: int = 65536) -> dict[str, float]:
    """Main-lobe half-width (bins, to the first null) and highest side-lobe (dB) of a window."""
    bins, level = window_response_db(name, length, n_fft)
    rising = np.flatnonzero(np.diff(level) > 0)
    first_null = int(rising[0]) if rising.size else len(level) - 1
    return {"mainlobe_halfwidth_bins": float(bins[first_null]), "highest_sidelobe_db": float(level[first_null:].max())}


# --------------------------------------------------------------------------------------------
# Log frequency: constant-Q transform (own implementation) and MFCCs.
# --------------------------------------------------------------------------------------------


def cqt_frequencies(fmin: float, n_bins: int, bins_per_octave: int = 12) -> np.ndarray:
    """Centre frequencies ``fmin * 2 ** (k / bins_per_octave)`` (Hz), as ``librosa.cqt_frequencies``."""
    fmin = check_float("fmin", fmin, minimum=0.0, strict_minimum=True)
    n_bins = check_int("n_bins", n_bins, minimum=1)
    bins_per_octave = check_int("bins_per_octave", bins_per_octave, minimum=1)
    return fmin * 2.0 ** (np.arange(n_bins) / bins_per_octave)


def cqt_kernels(sample_rate: int, fmin: float, n_bins: int, bins_per_octave: int = 12) -> torch.Tensor:
    """Complex constant-Q kernels ``(n_bins, kernel_length)``, each centred in the longest one.

    Bin ``k`` is a Hann-windowed complex exponential at ``f_k`` lasting ``Q * sample_rate / f_k`` samples,
    ``Q = 1 / (2 ** (1 / bins_per_octave) - 1)``: every filter spans the same number of periods, so the
    bandwidth grows with frequency (constant ratio ``f_k / bandwidth``). Kernels are L1-normalised, so a
    sinusoid of amplitude ``a`` at ``f_k`` gives about ``a / 2`` in bin ``k``.
    """
    sample_rate = check_sample_rate(sample_rate)
    freqs = cqt_frequencies(fmin, n_bins, bins_per_octave)  # checks fmin > 0, n_bins, bins_per_octave
    if freqs[-1] >= sample_rate / 2:
        raise ValueError(f"fmin {fmin} Hz with n_bins {n_bins} at bins_per_octave {bins_per_octave}: the CQT bins "
                         f"must lie below Nyquist ({sample_rate / 2} Hz), the highest is at {freqs[-1]:.1f} Hz")
    q = 1.0 / (2.0 ** (1.0 / bins_per_octave) - 1.0)
    lengths = np.ceil(q * sample_rate / freqs).astype(int)
    size = int(lengths[0]) | 1  # odd, so that every kernel has a centre sample
    kernels = np.zeros((n_bins, size), dtype=np.complex64)
    for k, (f, n) in enumerate(zip(freqs, lengths)):
        t = np.arange(n) - (n - 1) / 2  # (n,) centred time in samples
        atom = np.hanning(n + 2)[1:-1] * np.exp(2j * np.pi * f * t / sample_rate)
        start = (size - n) // 2
        kernels[k, start : start + n] = atom / np.abs(atom).sum()
    return torch.from_numpy(kernels)


def cqt_magnitude(
    waveform: np.ndarray | torch.Tensor,
    sample_rate: int,
    hop_length: int = 256,
    fmin: float = 32.70,
    n_bins: int = 84,
    bins_per_octave: int = 12,
) -> torch.Tensor:
    """Constant-Q magnitude of ``(..., time)`` audio -> ``(..., n_bins, frames)`` on the input's device.

    Frames are centred at ``0, hop, 2 hop, ...`` (zero padding), as the STFT with ``center=True``; there are
    ``1 + samples // hop_length`` of them, as many as the STFT's.
    The default ``fmin`` is C1 (32.70 Hz) and 84 bins cover seven octaves, as ``librosa.cqt``.
    """
    x = _as_tensor(waveform)
    hop_length = check_int("hop_length", hop_length, minimum=1)
    fmin = check_float("fmin", fmin, minimum=0.0, strict_minimum=True)
    n_bins = check_int("n_bins", n_bins, minimum=1)
    bins_per_octave = check_int("bins_per_octave", bins_per_octave, minimum=1)
    kernels = cqt_kernels(sample_rate, fmin, n_bins, bins_per_octave).to(x.device)  # (K, L) complex
    size = kernels.shape[-1]
    lead = x.shape[:-1]
    # size // 2 zeros on the left and one more than that on the right: 1 + T // hop frames, as the STFT
    flat = torch.nn.functional.pad(x.reshape(-1, x.shape[-1]), (size // 2, size // 2 + 1))  # (B, T + L)
    frames = flat.unfold(-1, size, hop_length)  # (B, F, L), F = 1 + T // hop
    real = frames @ kernels.real.T  # (B, F, K)
    imag = frames @ kernels.imag.T  # (B, F, K)
    mag = torch.sqrt(real**2 + imag**2).transpose(-1, -2)  # (B, K, F)
    return mag.reshape(*lead, n_bins, mag.shape[-1])  # (..., K, F)


def mfcc(
    waveform: np.ndarray | torch.Tensor,
    sample_rate: int,
    n_mfcc: int = 13,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    top_db: float | None = 80.0,
) -> torch.Tensor:
    """Mel-frequency cepstral coefficients ``(..., n_mfcc, frames)``: DCT-II (orthonormal) of the log-mel in dB.

    The recipe and defaults of ``librosa.feature.mfcc``: power mel spectrogram, ``10 log10``
    (floored at ``top_db`` below the loudest value of the whole input), then a DCT along the mel axis.
    """
    n_mels = check_int("n_mels", n_mels, minimum=1)
    n_mfcc = check_int("n_mfcc", n_mfcc, minimum=1, maximum=n_mels)
    if top_db is not None:
        top_db = check_float("top_db", top_db, minimum=0.0)
    power = stft_magnitude(waveform, n_fft, hop_length, power=2.0)  # (..., n_fft//2+1, F)
    fb = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)).to(power.device)
    db = 10.0 * torch.log10(torch.clamp(fb @ power, min=1e-10))  # (..., n_mels, F)
    if top_db is not None:
        db = torch.maximum(db, db.max() - top_db)
    m = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64)[:, None]
    dct = torch.cos(np.pi / n_mels * (m + 0.5) * k) * np.sqrt(2.0 / n_mels)  # (n_mfcc, n_mels)
    dct[0] /= np.sqrt(2.0)
    return dct.to(db.dtype).to(db.device) @ db  # (..., n_mfcc, F)


# --------------------------------------------------------------------------------------------
# Chapter 2: sampling and aliasing.
# --------------------------------------------------------------------------------------------


def alias_frequency(frequency_hz: float | np.ndarray, sample_rate: int) -> np.ndarray:
    """The frequency (Hz, in ``[0, sample_rate / 2]``) at which a sinusoid is heard after sampling.

    Notebook: ``chapters/02_raw_audio_mulaw.ipynb``.
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    sample_rate = check_sample_rate(sample_rate)
    return np.abs(f - sample_rate * np.round(f / sample_rate))


def downsample_naive(waveform: np.ndarray, factor: int) -> np.ndarray:
    """Keep every ``factor``-th sample with no anti-aliasing filter (to hear aliasing; never do this).

    Notebook: ``chapters/02_raw_audio_mulaw.ipynb``.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    return np.ascontiguousarray(check_audio(waveform)[::factor])
