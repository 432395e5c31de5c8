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

from audioformers.audio.signals import hz_to_mel, mel_to_hz


def _check_filters(filters: np.ndarray) -> np.ndarray:
    filters = np.asarray(filters, dtype=np.float64)
    if filters.ndim != 2 or min(filters.shape) < 2:
        raise ValueError(f"filters must be (neurons, taps) with at least 2 of each, got shape {filters.shape}")
    if not np.all(np.isfinite(filters)):
        raise ValueError("filters contain non-finite values")
    return filters


def filter_spectra(filters: np.ndarray, sample_rate: int, n_fft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectra (neurons, n_fft // 2 + 1) of zero-padded filters, and their frequencies in Hz."""
    from audioformers.audio.audio_io import check_sample_rate
    from audioformers.core.checks import check_int

    filters = _check_filters(filters)
    sample_rate = check_sample_rate(sample_rate)
    n_fft = check_int("n_fft", n_fft, minimum=1)
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
    num_neurons, sample_rate = _check_line(num_neurons, sample_rate)
    return np.linspace(0.0, sample_rate / 2, num_neurons)


def _check_line(num_neurons: int, sample_rate: int) -> tuple[int, int]:
    from audioformers.audio.audio_io import check_sample_rate
    from audioformers.core.checks import check_int

    return check_int("num_neurons", num_neurons, minimum=1), check_sample_rate(sample_rate)


def mel_line(num_neurons: int, sample_rate: int) -> np.ndarray:
    """Centre frequencies equally spaced on the mel scale (librosa's Slaney mel) from 0 Hz to Nyquist."""
    num_neurons, sample_rate = _check_line(num_neurons, sample_rate)
    return mel_to_hz(np.linspace(0.0, float(hz_to_mel(sample_rate / 2)), num_neurons))


def average_spectrum(audio: np.ndarray, sample_rate: int, n_fft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Mean power spectrum of (N, T) audio over Hann-windowed frames of ``n_fft`` samples (hop n_fft/2)."""
    from audioformers.audio.audio_io import check_audio, check_sample_rate
    from audioformers.core.checks import check_int

    audio = check_audio(audio, name="audio", ndim=(1, 2)).astype(np.float64)
    sample_rate = check_sample_rate(sample_rate)
    n_fft = check_int("n_fft", n_fft, minimum=2)
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
    from audioformers.core.checks import check_int

    per_kind = check_int("per_kind", per_kind, minimum=1)
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


# --- weight change: what training added, read against the training data --------------------------

def random_patches(audio: np.ndarray, patch_samples: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` patches of ``patch_samples`` samples at random positions of random clips of (N, T) audio."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[1] < patch_samples:
        raise ValueError(f"audio must be (clips, >= {patch_samples} samples), got shape {audio.shape}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    rng = np.random.default_rng(seed)
    clips = rng.integers(0, audio.shape[0], count)
    starts = rng.integers(0, audio.shape[1] - patch_samples + 1, count)
    return np.stack([audio[c, s : s + patch_samples] for c, s in zip(clips, starts)])  # (count, patch)


def principal_components(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions of (count, taps) patches (uncentred second moment: the energy the layer sees).

    Returns (variances descending (taps,), directions as rows (taps, taps))."""
    patches = np.asarray(patches, dtype=np.float64)
    if patches.ndim != 2 or patches.shape[0] < 2:
        raise ValueError(f"patches must be (count >= 2, taps), got shape {patches.shape}")
    moment = patches.T @ patches / len(patches)  # (taps, taps)
    values, vectors = np.linalg.eigh(moment)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order].T


def top_energy(weights: np.ndarray, directions: np.ndarray, top: int) -> float:
    """Fraction of the energy (squared norm) of the rows of ``weights`` inside the span of the first ``top``
    ``directions``. Random weights give about ``top / taps``; gradient steps of a linear layer fed by the
    patches lie in the span of the patches, so they concentrate in the top directions."""
    weights = _check_filters(weights)
    if not 1 <= top <= directions.shape[0]:
        raise ValueError(f"top must be in 1..{directions.shape[0]}, got {top}")
    projected = weights @ directions[:top].T  # (neurons, top)
    total = float(np.sum(weights ** 2))
    if total == 0:
        raise ValueError("weights are all zero: no energy to split")
    return float(np.sum(projected ** 2) / total)


def filterbank_summary(filters: np.ndarray, sample_rate: int, energy_curve: np.ndarray) -> dict[str, float]:
    """:func:`curvature_summary` plus the mean |Δ| (Hz) from the data's energy-following curve."""
    centres, _ = sorted_centres(filters, sample_rate)
    if len(energy_curve) != len(centres):
        raise ValueError(f"energy_curve has {len(energy_curve)} points for {len(centres)} neurons")
    return {**curvature_summary(centres, sample_rate),
            "mean_abs_from_energy_hz": float(np.mean(np.abs(centres - energy_curve)))}


def front_end_report(initial: np.ndarray, trained: np.ndarray, patches: np.ndarray, power: np.ndarray,
                     freqs: np.ndarray, sample_rate: int, top: int = 50) -> dict:
    """The initial weights, the trained weights and the ``weight_change`` (trained − initial), each read the same
    way: filterbank layout (below 1 kHz, distance to the DFT, mel and the data's energy-following curves) and
    the share of its energy in the ``top`` principal components of the training patches. The weight change
    also gets ``relative_change`` = ‖trained − initial‖ / ‖initial‖."""
    initial, trained = _check_filters(initial), _check_filters(trained)
    if initial.shape != trained.shape:
        raise ValueError(f"initial and trained weights differ in shape: {initial.shape} vs {trained.shape}")
    _, directions = principal_components(patches)
    if directions.shape[0] != initial.shape[1]:
        raise ValueError(f"patches have {directions.shape[0]} samples, the filters {initial.shape[1]} taps")
    curve = energy_line(power, freqs, initial.shape[0])
    out = {}
    for name, weights in (("initial", initial), ("trained", trained), ("weight_change", trained - initial)):
        out[name] = {**filterbank_summary(weights, sample_rate, curve), "top_energy": top_energy(weights, directions, top)}
    out["weight_change"]["relative_change"] = float(np.linalg.norm(trained - initial) / np.linalg.norm(initial))
    out["energy_curve_below_1khz"] = float(np.mean(curve < 1000.0))
    out["top_components"] = top
    return out
