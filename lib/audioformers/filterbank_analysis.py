"""What a learned raw-waveform front end computes: centre frequencies, reference lines, single neurons.

Each row of the front end's wide layer is a filter of ``patch_samples`` taps. Its magnitude
spectrum has a peak (the centre frequency); sorting the neurons by it and plotting centre
frequency against neuron index shows the learned filterbank's frequency layout. Three reference
curves help to read it: a DFT's straight line, the mel scale, and the "energy-following" curve of
the training data (the frequency below which a fraction ``i / N`` of the data's energy lies).

Notebook: chapters/05_wavelet_audio_transformer.ipynb
"""

from __future__ import annotations

import numpy as np

from .signals import hz_to_mel, mel_to_hz


def _check_filters(filters: np.ndarray) -> np.ndarray:
    filters = np.asarray(filters, dtype=np.float64)
    if filters.ndim != 2 or min(filters.shape) < 2:
        raise ValueError(f"filters must be (neurons, taps) with at least 2 of each, got shape {filters.shape}")
    if not np.all(np.isfinite(filters)):
        raise ValueError("filters contain non-finite values")
    return filters


def filter_spectra(filters: np.ndarray, sample_rate: int, n_fft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectra (neurons, n_fft // 2 + 1) of zero-padded filters, and their frequencies in Hz."""
    filters = _check_filters(filters)
    if n_fft < filters.shape[1]:
        raise ValueError(f"n_fft {n_fft} must be at least the filter length {filters.shape[1]}")
    spectra = np.abs(np.fft.rfft(filters, n=n_fft, axis=1))  # (neurons, n_fft/2+1)
    return spectra, np.fft.rfftfreq(n_fft, 1.0 / sample_rate)


def centre_frequencies(filters: np.ndarray, sample_rate: int, n_fft: int = 1024) -> np.ndarray:
    """Frequency (Hz) of each filter's spectral peak, shape (neurons,)."""
    spectra, freqs = filter_spectra(filters, sample_rate, n_fft)
    return freqs[spectra.argmax(1)]


def sorted_centres(filters: np.ndarray, sample_rate: int, n_fft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Centre frequencies sorted ascending, and the neuron order that sorts them."""
    centres = centre_frequencies(filters, sample_rate, n_fft)
    order = np.argsort(centres, kind="stable")
    return centres[order], order


def dft_line(num_neurons: int, sample_rate: int) -> np.ndarray:
    """A DFT's centre frequencies: equally spaced from 0 Hz to Nyquist over ``num_neurons``."""
    return np.linspace(0.0, sample_rate / 2, num_neurons)


def mel_line(num_neurons: int, sample_rate: int) -> np.ndarray:
    """Centre frequencies equally spaced on the mel scale (librosa's Slaney mel) from 0 Hz to Nyquist."""
    return mel_to_hz(np.linspace(0.0, float(hz_to_mel(sample_rate / 2)), num_neurons))


def average_spectrum(audio: np.ndarray, sample_rate: int, n_fft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Mean power spectrum of (N, T) audio over Hann-windowed frames of ``n_fft`` samples (hop n_fft/2)."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.shape[1] < n_fft:
        raise ValueError(f"clips of {audio.shape[1]} samples are shorter than n_fft {n_fft}")
    hop = n_fft // 2
    starts = np.arange(0, audio.shape[1] - n_fft + 1, hop)
    window = np.hanning(n_fft)
    power = np.zeros(n_fft // 2 + 1)
    for clip in audio:  # one clip at a time keeps memory small
        frames = np.stack([clip[s : s + n_fft] for s in starts]) * window  # (frames, n_fft)
        power += (np.abs(np.fft.rfft(frames, axis=-1)) ** 2).mean(0)  # (n_fft/2+1,)
    return power / len(audio), np.fft.rfftfreq(n_fft, 1.0 / sample_rate)


def energy_line(power: np.ndarray, freqs: np.ndarray, num_neurons: int) -> np.ndarray:
    """The filterbank that only follows the energy: neuron ``i`` sits where the data's cumulative energy is ``i/N``."""
    cumulative = np.cumsum(power) / np.sum(power)
    quantiles = (np.arange(num_neurons) + 0.5) / num_neurons
    return np.interp(quantiles, cumulative, freqs)


def neuron_kinds(filters: np.ndarray, sample_rate: int, n_fft: int = 1024) -> dict[str, np.ndarray]:
    """Per-neuron scores for three shapes the lecture names (higher = more typical).

    * ``sinusoid``: fraction of spectral energy within ±2 bins of the peak, for peaks above 100 Hz.
    * ``window``: low-pass and smooth: fraction of spectral energy below 100 Hz.
    * ``onset``: energy concentrated in time: fraction of the filter's energy in its strongest 10% of taps
      after high-passing (a sharp edge or click).
    """
    filters = _check_filters(filters)
    spectra, freqs = filter_spectra(filters, sample_rate, n_fft)
    power = spectra**2
    total = power.sum(1) + 1e-12
    peak = power.argmax(1)
    bins = np.arange(power.shape[1])[None]
    near_peak = (np.abs(bins - peak[:, None]) <= 2) * power
    sinusoid = near_peak.sum(1) / total * (freqs[peak] > 100)
    window = power[:, freqs < 100].sum(1) / total
    edges = np.diff(filters, axis=1) ** 2  # (neurons, taps-1)
    k = max(1, edges.shape[1] // 10)
    onset = np.sort(edges, axis=1)[:, -k:].sum(1) / (edges.sum(1) + 1e-12)
    return {"sinusoid": sinusoid, "window": window, "onset": onset}


def gallery(filters: np.ndarray, sample_rate: int, per_kind: int = 2) -> dict[str, list[int]]:
    """Indices of the ``per_kind`` most typical neurons of each kind (no neuron twice)."""
    scores = neuron_kinds(filters, sample_rate)
    chosen: set[int] = set()
    out: dict[str, list[int]] = {}
    for kind, values in scores.items():
        picks = [int(i) for i in np.argsort(-values) if int(i) not in chosen][:per_kind]
        chosen.update(picks)
        out[kind] = picks
    return out


def curvature_summary(centres_sorted: np.ndarray, sample_rate: int) -> dict[str, float]:
    """How far a sorted centre-frequency curve is from the DFT line and from the mel line (mean |Δ| in Hz),
    and the fraction of neurons centred below 1 kHz."""
    n = len(centres_sorted)
    return {
        "mean_abs_from_dft_hz": float(np.mean(np.abs(centres_sorted - dft_line(n, sample_rate)))),
        "mean_abs_from_mel_hz": float(np.mean(np.abs(centres_sorted - mel_line(n, sample_rate)))),
        "fraction_below_1khz": float(np.mean(centres_sorted < 1000.0)),
    }
