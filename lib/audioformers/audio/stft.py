"""Phase and inversion: the complex STFT, overlap-add (COLA), Griffin-Lim, zero-padding and window gains.

A magnitude spectrogram (:func:`audioformers.audio.signals.stft_magnitude`) keeps ``|X|`` and throws the phase away.
This module keeps it: :func:`stft` returns complex coefficients, :func:`istft` inverts them by weighted
overlap-add (as ``librosa.istft``), :func:`griffin_lim` estimates a phase from the magnitude alone (as
``librosa.griffinlim``), and :func:`instantaneous_frequency` reads the precise frequency of a partial from the
phase advance between frames. An STFT's ``n_fft // 2 + 1`` rows do not say whether ``n_fft`` was even or odd:
the three take ``n_fft=`` and assume the even size ``2 * (rows - 1)`` only when it is not given.

Notebook: ``chapters/01_fourier_spectrograms.ipynb`` (sections "Phase", "Inverting the STFT",
"Griffin-Lim", "Zero-padding is not resolution", "Window transfer functions and coherent gain").
"""

from __future__ import annotations

import numpy as np
import torch

from audioformers.audio.audio_io import check_audio, check_sample_rate
from audioformers.audio.signals import make_window


def _check_frame(n_fft: int, hop_length: int) -> None:
    for name, value in (("n_fft", n_fft), ("hop_length", hop_length)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if hop_length > n_fft:
        raise ValueError(f"hop_length ({hop_length}) must not exceed n_fft ({n_fft}): frames would leave gaps")


def window_array(window: str | np.ndarray, n_fft: int) -> np.ndarray:
    """The periodic analysis window ``window`` (``hann``, ``hamming``, ``rectangular``) in float64.

    The same windows as :func:`audioformers.audio.signals.make_window`, computed in double precision (COLA checks
    and perfect reconstruction are measured to 1e-10 and better). ``window`` may also be the window itself, a
    finite 1-D array of ``n_fft`` samples (as ``librosa``'s functions accept); another length is a ``ValueError``.
    """
    if not isinstance(window, str):
        win = np.asarray(window)
        if win.ndim != 1 or not np.issubdtype(win.dtype, np.number) or np.iscomplexobj(win):
            raise ValueError(f"window must be a name or a real 1-D array, got {win.dtype} {win.shape}")
        if len(win) != n_fft:
            raise ValueError(f"window has {len(win)} samples but n_fft is {n_fft}: the window must be one frame long")
        if not np.all(np.isfinite(win)):
            raise ValueError("window holds NaN or inf")
        return win.astype(np.float64)
    make_window(window, 1)  # validates the name
    phase = 2 * np.pi * np.arange(n_fft) / n_fft
    if window == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if window == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    return np.ones(n_fft)


def stft(waveform: np.ndarray, n_fft: int = 512, hop_length: int | None = None, window: str | np.ndarray = "hann",
         center: bool = True) -> np.ndarray:
    """Complex STFT of 1-D audio, shape ``(n_fft // 2 + 1, frames)`` (complex128).

    The same framing as :func:`audioformers.audio.signals.stft_magnitude` (and ``librosa.stft`` with
    ``pad_mode="constant"``): periodic window, ``n_fft // 2`` zeros each side when ``center``. An odd ``n_fft``
    gives ``(n_fft + 1) / 2`` rows, as many as ``n_fft - 1``: pass ``n_fft`` to :func:`istft` to invert it.
    """
    x = check_audio(waveform).astype(np.float64)
    hop_length = n_fft // 4 if hop_length is None else hop_length
    _check_frame(n_fft, hop_length)
    win = torch.from_numpy(window_array(window, n_fft))
    spec = torch.stft(torch.from_numpy(x), n_fft, hop_length, window=win, center=center, pad_mode="constant",
                      return_complex=True)  # (F, frames)
    return spec.numpy()


def _frame_length(rows: int, n_fft: int | None) -> int:
    """``n_fft`` checked against a spectrogram's ``rows`` (``n_fft // 2 + 1``), or ``2 * (rows - 1)`` if None."""
    if n_fft is None:
        if rows < 2:
            raise ValueError(f"spectrogram has {rows} row(s): need n_fft // 2 + 1 >= 2 rows, or pass n_fft")
        return 2 * (rows - 1)
    if isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer)) or n_fft <= 0:
        raise ValueError(f"n_fft must be a positive integer, got {n_fft!r}")
    if rows != n_fft // 2 + 1:
        raise ValueError(f"n_fft={n_fft} gives {n_fft // 2 + 1} frequency rows, but the spectrogram has {rows} "
                         f"(rows = n_fft // 2 + 1: n_fft is {2 * (rows - 1)} or {2 * rows - 1})")
    return int(n_fft)


def _check_nola(win: np.ndarray, n_fft: int, hop_length: int, tol: float = 1e-10) -> None:
    """Nonzero overlap-add (as ``scipy.signal.check_NOLA``): ``sum_m w[n - m hop]^2 > tol`` for every ``n``."""
    padded = np.pad(win**2, (0, (-n_fft) % hop_length))
    binsums = padded.reshape(-1, hop_length).sum(0)
    if not np.all(binsums > tol):
        where = int(np.argmin(binsums))
        raise ValueError(f"window and hop_length violate NOLA: with hop_length={hop_length} and n_fft={n_fft} the "
                         f"overlapped squared windows sum to {binsums[where]:.3g} at offset {where} of each hop, so "
                         f"those samples cannot be recovered; use a smaller hop_length (or another window)")


def istft(spectrogram: np.ndarray, hop_length: int, window: str | np.ndarray = "hann", center: bool = True,
          length: int | None = None, *, n_fft: int | None = None) -> np.ndarray:
    """Invert :func:`stft` by weighted overlap-add: ``y = sum_m w (IDFT X_m) / sum_m w^2`` (float64).

    Every frame is transformed back, multiplied by the window again (the synthesis window) and added at its
    place; dividing by the overlap-added squared window undoes both windows wherever it is non-zero, so the
    reconstruction is exact for any window and hop whose squared windows overlap-add to no zero (NOLA; every
    COLA choice satisfies it). Matches ``librosa.istft``, including its output length.

    ``n_fft`` is the frame length the STFT was computed with. The number of rows does not determine it: an
    STFT of ``n_fft = 1023`` and one of ``1022`` both have 512 rows. Without ``n_fft`` the even size
    ``2 * (rows - 1)`` is assumed (as ``librosa.istft`` does), which is wrong for an odd ``n_fft``: pass it.
    A given ``n_fft`` must satisfy ``rows == n_fft // 2 + 1``.

    Errors (``ValueError``): a spectrogram that is not complex 2-D or holds NaN or inf; ``hop_length > n_fft``;
    a window array whose length is not ``n_fft``; a window and hop that violate NOLA (a Hann window with
    ``hop_length == n_fft``, for example, leaves the frame edges unrecoverable).
    """
    spec = np.asarray(spectrogram)
    if spec.ndim != 2 or not np.iscomplexobj(spec):
        raise ValueError(f"spectrogram must be a complex (n_fft // 2 + 1, frames) array, got {spec.dtype} {spec.shape}")
    if spec.shape[1] < 1:
        raise ValueError(f"spectrogram has no frames, shape {spec.shape}")
    bad = ~np.isfinite(spec)
    if bad.any():
        row, frame = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(f"spectrogram holds {int(bad.sum())} NaN or inf bin(s) (the first at row {row}, frame {frame}): "
                         f"the inverse would be NaN over the frames they touch")
    n_fft = _frame_length(spec.shape[0], n_fft)
    _check_frame(n_fft, hop_length)
    if length is not None and (isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0):
        raise ValueError(f"length must be a non-negative integer or None, got {length!r}")
    num_frames = spec.shape[1]
    win = window_array(window, n_fft)
    _check_nola(win, n_fft, hop_length)
    frames = np.fft.irfft(spec, n=n_fft, axis=0) * win[:, None]  # (n_fft, frames)
    total = n_fft + hop_length * (num_frames - 1)
    out, weight = np.zeros(total), np.zeros(total)
    for m in range(num_frames):
        out[m * hop_length : m * hop_length + n_fft] += frames[:, m]
        weight[m * hop_length : m * hop_length + n_fft] += win**2
    nonzero = weight > np.finfo(np.float64).tiny * 1e3
    out[nonzero] /= weight[nonzero]
    if center:
        out = out[n_fft // 2 :]
    if length is None:  # librosa's length: n_fft // 2 trimmed at each end (one more sample for an odd n_fft)
        return out[: total - 2 * (n_fft // 2)] if center else out
    return out[:length] if len(out) >= length else np.pad(out, (0, length - len(out)))


def overlap_add_window(window: str, n_fft: int, hop_length: int, power: int = 1) -> np.ndarray:
    """``sum_m w[n - m hop] ** power`` over one hop in the steady state (length ``hop_length``).

    Constant for ``power=1`` means the window satisfies COLA at this hop (overlapped frames add up to the
    signal times that constant); ``power=2`` is the sum :func:`istft` divides by.
    """
    _check_frame(n_fft, hop_length)
    if power not in (1, 2):
        raise ValueError(f"power must be 1 or 2, got {power!r}")
    w = window_array(window, n_fft) ** power
    padded = np.pad(w, (0, (-n_fft) % hop_length))
    return padded.reshape(-1, hop_length).sum(0)


def is_cola(window: str, n_fft: int, hop_length: int, tol: float = 1e-10) -> bool:
    """Constant overlap-add: do the shifted windows sum to a constant? (as ``scipy.signal.check_COLA``)."""
    total = overlap_add_window(window, n_fft, hop_length)
    return bool(np.max(np.abs(total - np.median(total))) < tol)


def griffin_lim(magnitude: np.ndarray, hop_length: int, n_iter: int = 32, window: str | np.ndarray = "hann",
                momentum: float = 0.99, length: int | None = None, seed: int = 0, *,
                n_fft: int | None = None) -> np.ndarray:
    """A waveform whose STFT magnitude approaches ``magnitude`` ``(n_fft // 2 + 1, frames)``, from random phase.

    Each iteration inverts the current complex estimate, takes the STFT of the result and keeps only its phase
    (the projection on consistent spectrograms), then puts the target magnitude back. ``momentum`` is the
    "fast Griffin-Lim" acceleration of Perraudin et al. (2013), librosa's default 0.99; 0 gives the original
    algorithm of Griffin and Lim (1984). ``n_fft`` as in :func:`istft` (default ``2 * (rows - 1)``; pass it
    for an odd frame length).
    """
    mag = np.asarray(magnitude, dtype=np.float64)
    if mag.ndim != 2 or np.any(mag < 0) or not np.all(np.isfinite(mag)):
        raise ValueError(f"magnitude must be a finite, non-negative (n_fft // 2 + 1, frames) array, got shape {mag.shape}")
    if n_iter < 1 or not 0 <= momentum < 1:
        raise ValueError(f"need n_iter >= 1 and 0 <= momentum < 1, got {n_iter}, {momentum}")
    n_fft = _frame_length(mag.shape[0], n_fft)
    rng = np.random.default_rng(seed)
    angles = np.exp(2j * np.pi * rng.random(mag.shape))  # (F, frames)
    previous = np.zeros_like(angles)
    eps = 1e-16
    for _ in range(n_iter):
        inverse = istft(mag * angles, hop_length, window, length=length, n_fft=n_fft)
        rebuilt = stft(inverse, n_fft, hop_length, window)[:, : mag.shape[1]]
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles /= np.abs(angles) + eps
        previous = rebuilt
    return istft(mag * angles, hop_length, window, length=length, n_fft=n_fft)


def spectral_convergence(target_magnitude: np.ndarray, estimate_magnitude: np.ndarray) -> float:
    """``||S - S_hat||_F / ||S||_F`` between two magnitude spectrograms (0 = identical). Frames are aligned
    from the start and the shorter one sets the count."""
    s, e = np.asarray(target_magnitude, dtype=np.float64), np.asarray(estimate_magnitude, dtype=np.float64)
    if s.ndim != 2 or e.ndim != 2 or s.shape[0] != e.shape[0]:
        raise ValueError(f"need two (bins, frames) magnitudes with the same number of bins, got {s.shape} and {e.shape}")
    frames = min(s.shape[1], e.shape[1])
    norm = np.linalg.norm(s[:, :frames])
    if norm == 0:
        raise ValueError("target magnitude is all zeros: spectral convergence is undefined")
    return float(np.linalg.norm(s[:, :frames] - e[:, :frames]) / norm)


def instantaneous_frequency(spectrogram: np.ndarray, sample_rate: int, hop_length: int, *,
                            n_fft: int | None = None) -> np.ndarray:
    """Frequency (Hz) of each bin read from the phase advance between consecutive frames, ``(F, frames - 1)``.

    A sinusoid at ``f`` advances the phase of the bins near it by ``2 pi f hop / sample_rate`` per frame; the
    deviation from bin ``k``'s own advance ``2 pi k hop / n_fft`` (wrapped to ``[-pi, pi)``) gives ``f`` far
    more precisely than the bin spacing ``sample_rate / n_fft`` (the phase vocoder's estimate). ``n_fft`` as in
    :func:`istft` (default ``2 * (rows - 1)``; pass it for an odd frame length).
    """
    spec = np.asarray(spectrogram)
    if spec.ndim != 2 or not np.iscomplexobj(spec) or spec.shape[1] < 2:
        raise ValueError(f"need a complex (bins, frames >= 2) spectrogram, got {spec.dtype} {spec.shape}")
    sample_rate = check_sample_rate(sample_rate)
    n_fft = _frame_length(spec.shape[0], n_fft)
    _check_frame(n_fft, hop_length)
    k = np.arange(spec.shape[0])[:, None]  # (F, 1)
    expected = 2 * np.pi * k * hop_length / n_fft
    advance = np.angle(spec[:, 1:]) - np.angle(spec[:, :-1]) - expected  # (F, frames - 1)
    deviation = np.mod(advance + np.pi, 2 * np.pi) - np.pi
    return (k / n_fft + deviation / (2 * np.pi * hop_length)) * sample_rate


def padded_spectrum_db(frame: np.ndarray, sample_rate: int, n_fft: int, window: str = "hann") -> tuple[np.ndarray, np.ndarray]:
    """Window ``frame``, zero-pad it to ``n_fft`` samples, and return ``(frequencies_hz, level in dB re peak)``.

    Zero-padding samples the *same* spectrum (the window's response around each partial) more densely; it
    does not narrow the main lobes, so it cannot separate two partials that the frame length cannot.
    """
    x = check_audio(frame).astype(np.float64)
    sample_rate = check_sample_rate(sample_rate)
    if n_fft < len(x):
        raise ValueError(f"n_fft ({n_fft}) must be at least the frame length ({len(x)}) to zero-pad")
    magnitude = np.abs(np.fft.rfft(x * window_array(window, len(x)), n=n_fft))
    level = 20 * np.log10(np.maximum(magnitude / max(magnitude.max(), 1e-300), 1e-12))
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate), level


def coherent_gain(window: str, length: int) -> float:
    """``sum(w) / length``: the peak height a windowed sinusoid on a bin keeps (1 rectangular, 0.5 Hann).

    Divide a windowed amplitude spectrum by it to read amplitudes off a windowed DFT.
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length <= 0:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    return float(window_array(window, length).mean())


def windowed_amplitude(waveform: np.ndarray, sample_rate: int, window: str = "hann") -> tuple[np.ndarray, np.ndarray]:
    """One-sided amplitude spectrum of a windowed frame, corrected by the window's coherent gain.

    A sinusoid of amplitude ``a`` on a bin reads ``a`` whatever the window; between bins it reads less
    (the scalloping loss). Without the correction a Hann window reads ``a / 2``.
    """
    x = check_audio(waveform).astype(np.float64)
    sample_rate = check_sample_rate(sample_rate)
    n = len(x)
    amplitude = np.abs(np.fft.rfft(x * window_array(window, n))) / n
    amplitude[1 : (n + 1) // 2] *= 2.0
    return np.fft.rfftfreq(n, 1.0 / sample_rate), amplitude / coherent_gain(window, n)


def peaks_in_band(frame: np.ndarray, sample_rate: int, low_hz: float, high_hz: float, n_fft: int | None = None,
                  window: str = "hann", floor_db: float = -20.0) -> list[float]:
    """Frequencies (Hz) of the spectral peaks of a windowed ``frame`` between ``low_hz`` and ``high_hz``.

    A peak is a local maximum no more than ``floor_db`` below the band's highest level; ``n_fft`` (default:
    the frame length) zero-pads. Two partials are *resolved* when each gives its own peak.
    """
    if not 0 <= low_hz < high_hz:
        raise ValueError(f"need 0 <= low_hz < high_hz, got {low_hz}, {high_hz}")
    freqs, level = padded_spectrum_db(frame, sample_rate, n_fft or len(frame), window)
    band = np.flatnonzero((freqs >= low_hz) & (freqs <= high_hz))
    if band.size < 3:
        raise ValueError(f"the band {low_hz}-{high_hz} Hz holds fewer than 3 bins at this resolution")
    lv = level[band]
    is_peak = (lv[1:-1] > lv[:-2]) & (lv[1:-1] >= lv[2:]) & (lv[1:-1] >= lv.max() + floor_db)
    return [float(freqs[band[1 + i]]) for i in np.flatnonzero(is_peak)]
