"""Chapter 1's exercises on going back from a spectrogram to sound: the inverse STFT by weighted overlap-add, the
mel filterbank, and Griffin-Lim, each written by the student from its definition and self-checked.

Part of :mod:`audioformers.ch1.exercises` (which re-exports everything here and registers these exercises);
notebook: ``chapters/01_fourier_spectrograms.ipynb``, section "Exercises".
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from audioformers.audio import signals
from audioformers.audio import stft as _stft
from audioformers.audio.audio_io import check_sample_rate
from audioformers.core.checks import check_int
from audioformers.core.selfcheck import Exercise, Forbidden, Mistake, run_trials

CHAPTER = 1



# ------------------------------------------------------------------------------ 5. the inverse STFT by overlap-add
def _periodic_hann(n_fft: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)


def solution_istft(spectrogram: np.ndarray, hop_length: int, n_fft: int) -> np.ndarray:
    """Weighted overlap-add: ``y = sum_m w (IDFT X_m) / sum_m w^2`` (periodic Hann, frames not centred).

    Frame ``m`` covers samples ``m * hop_length .. m * hop_length + n_fft - 1``; the output has
    ``n_fft + hop_length * (frames - 1)`` samples; where the squared windows sum to (nearly) 0, the output is 0.
    """
    n_fft = check_int("n_fft", n_fft, minimum=1)  # the argument checks of the package's own functions (not part of the exercise)
    hop_length = check_int("hop_length", hop_length, minimum=1, maximum=n_fft)
    spectrogram = np.asarray(spectrogram)
    if spectrogram.ndim != 2 or spectrogram.shape[0] != n_fft // 2 + 1 or not np.all(np.isfinite(spectrogram)):
        raise ValueError(f"spectrogram must be a finite (n_fft // 2 + 1 = {n_fft // 2 + 1}, frames) array, got shape {spectrogram.shape}")
    window = _periodic_hann(n_fft)  # (n_fft,)
    frames = np.fft.irfft(spectrogram, n=n_fft, axis=0) * window[:, None]  # (n_fft, frames): synthesis window
    total = n_fft + hop_length * (spectrogram.shape[1] - 1)
    out, weight = np.zeros(total), np.zeros(total)
    for m in range(spectrogram.shape[1]):
        out[m * hop_length : m * hop_length + n_fft] += frames[:, m]
        weight[m * hop_length : m * hop_length + n_fft] += window**2
    nonzero = weight > 1e-10
    out[nonzero] /= weight[nonzero]
    return out


def _reference_istft(spectrogram: np.ndarray, hop_length: int, n_fft: int) -> np.ndarray:
    return _stft.istft(spectrogram, hop_length, "hann", center=False, n_fft=n_fft)


def _overlap_add(spectrogram: np.ndarray, hop_length: int, n_fft: int, synthesis: bool, divide_by: str | None,
                 guard: bool = True) -> np.ndarray:
    """The student's variants: with or without the synthesis window, divided by sum w^2, sum w or nothing."""
    window = _periodic_hann(n_fft)
    frames = np.fft.irfft(spectrogram, n=n_fft, axis=0) * (window[:, None] if synthesis else 1.0)
    total = n_fft + hop_length * (spectrogram.shape[1] - 1)
    out, weight = np.zeros(total), np.zeros(total)
    for m in range(spectrogram.shape[1]):
        out[m * hop_length : m * hop_length + n_fft] += frames[:, m]
        weight[m * hop_length : m * hop_length + n_fft] += window ** (2 if divide_by == "w2" else 1)
    if divide_by is None:
        return out
    if not guard:
        with np.errstate(divide="ignore", invalid="ignore"):
            return out / weight
    nonzero = weight > 1e-10
    out[nonzero] /= weight[nonzero]
    return out


ISTFT_MISTAKES = [
    Mistake(lambda s, h, n: _overlap_add(s, h, n, synthesis=True, divide_by=None),
            "you overlap-added the windowed frames but did not divide by the overlap-added squared window "
            "sum_m w[n - m hop]^2: the analysis and synthesis windows both stay in, so the output is scaled (1.5 in the "
            "middle for Hann at a hop of N/4) and dips to 0 at the ends"),
    Mistake(lambda s, h, n: _overlap_add(s, h, n, synthesis=True, divide_by="w"),
            "you divided by the overlap-added window sum_m w, but with a synthesis window the frames carry w twice "
            "(analysis and synthesis): divide by sum_m w^2"),
    Mistake(lambda s, h, n: _overlap_add(s, h, n, synthesis=False, divide_by="w"),
            "no synthesis window: irfft, overlap-add and divide by sum_m w inverts an STFT that nobody modified, but "
            "this input is a modified spectrogram (random phase), and then the frames' edges do not taper: multiply "
            "each inverse frame by the window again and divide by sum_m w^2 (least squares, as librosa.istft)"),
    Mistake(lambda s, h, n: _overlap_add(s, h, n, synthesis=True, divide_by="w2", guard=False),
            "you divided by sum_m w^2 everywhere, also where it is 0 (the periodic Hann window starts with w[0] = 0, so "
            "the first sample has no weight): leave the samples with a (near) zero weight at 0"),
]


def _istft_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    cases = []
    for n_fft, hop, samples in ((256, 64, 2000), (512, 128, 3000), (400, 200, 2400)):
        x = rng.uniform(-1, 1, samples)
        spec = _stft.stft(x, n_fft, hop, center=False)  # (n_fft // 2 + 1, frames): a consistent STFT
        cases.append(((spec, hop, n_fft), f"the STFT of {samples} random samples, n_fft={n_fft}, hop_length={hop}"))
    magnitude = np.abs(_stft.stft(rng.uniform(-1, 1, 3000), 512, 128, center=False))
    modified = magnitude * np.exp(2j * np.pi * rng.random(magnitude.shape))
    cases.append(((modified, 128, 512), "a modified spectrogram (an STFT magnitude with random phase), n_fft=512, hop_length=128"))
    return cases


def check_istft(student_fn: Callable[[np.ndarray, int, int], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``istft(spectrogram, hop_length, n_fft) -> (n_fft + hop_length * (frames - 1),)`` (no centring)."""
    return run_trials("istft", student_fn, _reference_istft, _istft_cases(6), mistakes=ISTFT_MISTAKES,
                      raise_on_failure=raise_on_failure, rtol=1e-6, atol=1e-8, forbidden=ISTFT_FORBIDDEN)


# ------------------------------------------------------------------------------ 6. the mel filterbank
def solution_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney mel filters ``(n_mels, n_fft // 2 + 1)`` from 0 Hz to Nyquist, each scaled to unit area (as librosa)."""
    sample_rate = check_sample_rate(sample_rate)  # the argument checks of the package's own functions (not part of the exercise)
    n_fft = check_int("n_fft", n_fft, minimum=2)
    n_mels = check_int("n_mels", n_mels, minimum=1)

    def to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f < 1000.0, f / (200.0 / 3.0), 15.0 + 27.0 * np.log(np.maximum(f, 1e-10) / 1000.0) / np.log(6.4))

    def to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m < 15.0, m * (200.0 / 3.0), 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0))

    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sample_rate / 2), n_mels + 2))  # (n_mels + 2,) Hz
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft  # (F,) true bin frequencies
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1) each
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))  # (n_mels, F), peaks at 1
    return triangles * (2.0 / (upper - lower))  # Slaney: unit area per Hz, so wide filters get low peaks


def _reference_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    return signals.mel_filterbank(sample_rate, n_fft, n_mels)


def _filterbank_on_bin_indices(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """The old recipe: edges rounded down to bin indices, triangles of integer width, peaks at 1, Slaney-scaled."""
    edges_hz = signals.mel_to_hz(np.linspace(signals.hz_to_mel(0.0), signals.hz_to_mel(sample_rate / 2), n_mels + 2))
    points = np.floor((n_fft + 1) * edges_hz / sample_rate).astype(int)
    weights = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        lo, mid, hi = points[m], points[m + 1], points[m + 2]
        for k in range(lo, min(hi, n_fft // 2) + 1):
            if lo <= k <= mid and mid > lo:
                weights[m, k] = (k - lo) / (mid - lo)
            elif mid < k <= hi and hi > mid:
                weights[m, k] = (hi - k) / (hi - mid)
        weights[m] *= 2.0 / (edges_hz[m + 2] - edges_hz[m])
    return weights


def _filterbank_variant(sample_rate: int, n_fft: int, n_mels: int, *, htk: bool = False, area: bool = True) -> np.ndarray:
    """The filterbank built as the solution builds it, on Slaney's or HTK's mel scale, with or without the area
    normalisation: the known mistakes, written without the package's mel_filterbank (which the check forbids)."""
    top = signals.hz_to_mel(np.array([0.0, sample_rate / 2]), htk=htk)
    edges = signals.mel_to_hz(np.linspace(top[0], top[1], n_mels + 2), htk=htk)
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    triangles = np.maximum(0.0, np.minimum((bins[None, :] - lower) / (centre - lower), (upper - bins[None, :]) / (upper - centre)))
    return triangles * (2.0 / (upper - lower)) if area else triangles


MEL_FILTERBANK_FORBIDDEN = Forbidden("build the mel filterbank yourself", (
    "librosa.filters.mel", "torchaudio.functional.melscale_fbanks", "torchaudio.transforms.MelScale",
    "audioformers.audio.signals.mel_filterbank"), " (triangles between mel-spaced edges, each scaled to unit area)")
ISTFT_FORBIDDEN = Forbidden("write the overlap-add yourself", (
    "librosa.istft", "librosa.core.istft", "torch.istft", "scipy.signal.istft", "torchaudio.transforms.InverseSpectrogram",
    "audioformers.audio.stft.istft"), " (np.fft.irfft of each frame is allowed)")
GRIFFIN_LIM_FORBIDDEN = Forbidden("write the Griffin-Lim iterations yourself", (
    "librosa.griffinlim", "torchaudio.functional.griffinlim", "torchaudio.transforms.GriffinLim",
    "audioformers.audio.stft.griffin_lim"), " (your own istft, or the package's stft.istft, is allowed)")

MEL_FILTERBANK_MISTAKES = [
    Mistake(lambda sr, n, m: _filterbank_variant(sr, n, m, area=False),
            "your triangles all peak at 1: Slaney's normalisation (librosa's default norm='slaney') scales filter m by "
            "2 / (f[m + 2] - f[m]), the width of its base in Hz, so every filter has the same area and the wide "
            "high-frequency filters get low peaks"),
    Mistake(lambda sr, n, m: _filterbank_variant(sr, n, m, htk=True),
            "your edges are on the HTK mel scale 2595 log10(1 + f/700); place them on Slaney's (your hz_to_mel of "
            "exercise 3: linear below 1 kHz, logarithmic above)"),
    Mistake(_filterbank_on_bin_indices,
            "you rounded the edges to bin indices (floor((n_fft + 1) f / sample_rate)): place each triangle on the true "
            "bin frequencies k * sample_rate / n_fft, so that a filter's weights follow its edges in Hz"),
    Mistake(lambda sr, n, m: _filterbank_variant(sr, n, m).T,
            "axes swapped: one row per mel filter, shape (n_mels, n_fft // 2 + 1)"),
]


def check_mel_filterbank(student_fn: Callable[[int, int, int], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``mel_filterbank(sample_rate, n_fft, n_mels) -> (n_mels, n_fft // 2 + 1)`` against librosa's (Slaney)."""
    cases = [((16000, 400, 64), "sample_rate=16000, n_fft=400, n_mels=64"),
             ((8000, 256, 40), "sample_rate=8000, n_fft=256, n_mels=40"),
             ((22050, 2048, 128), "sample_rate=22050, n_fft=2048, n_mels=128")]
    return run_trials("mel_filterbank", student_fn, _reference_mel_filterbank, cases, mistakes=MEL_FILTERBANK_MISTAKES,
                      raise_on_failure=raise_on_failure, rtol=1e-4, atol=1e-7, axes=("mel", "frequency"),
                      forbidden=MEL_FILTERBANK_FORBIDDEN)


# ------------------------------------------------------------------------------ 7. Griffin-Lim
def solution_griffin_lim(magnitude: np.ndarray, hop_length: int, n_iter: int, angles: np.ndarray) -> np.ndarray:
    """Griffin and Lim (1984), no momentum: from ``angles`` (unit complex numbers, the shape of ``magnitude``),
    ``n_iter`` times invert, re-analyse and keep only the phase; return the waveform of the last estimate.
    STFT conventions of ``stft.stft``/``stft.istft``: periodic Hann, centred frames, ``n_fft = 2 (rows - 1)``."""
    n_iter = check_int("n_iter", n_iter, minimum=0)  # the argument checks of the package's own functions (not part of the exercise)
    magnitude, angles = np.asarray(magnitude), np.asarray(angles)
    if magnitude.ndim != 2 or angles.shape != magnitude.shape:
        raise ValueError(f"magnitude must be (F, frames) and angles of the same shape, got {magnitude.shape} and {angles.shape}")
    n_fft = 2 * (magnitude.shape[0] - 1)
    for _ in range(n_iter):
        waveform = _stft.istft(magnitude * angles, hop_length, n_fft=n_fft)  # a consistent signal
        rebuilt = _stft.stft(waveform, n_fft, hop_length)[:, : magnitude.shape[1]]  # its STFT: (F, frames)
        angles = rebuilt / (np.abs(rebuilt) + 1e-16)  # keep the phase, drop the magnitude
    return _stft.istft(magnitude * angles, hop_length, n_fft=n_fft)


def _reference_griffin_lim(magnitude: np.ndarray, hop_length: int, n_iter: int, angles: np.ndarray) -> np.ndarray:
    return solution_griffin_lim(magnitude, hop_length, n_iter, angles)


GRIFFIN_LIM_MISTAKES = [
    Mistake(lambda mag, h, n, a: _stft.istft(mag * a, h, n_fft=2 * (mag.shape[0] - 1)),
            "your answer is the inverse of the starting estimate (the target magnitude with the initial phase): either "
            "the loop did not change the phase, or you kept the re-analysed STFT whole (re-analysing and inverting gives "
            "the same waveform back, so nothing moves). Each iteration: invert, take the STFT of the result, keep only "
            "its phase, rebuilt / |rebuilt|, and put the target magnitude back"),
    Mistake(lambda mag, h, n, a: solution_griffin_lim(mag, h, n - 1, a),
            "one iteration too few: n_iter rounds of invert / re-analyse / keep the phase, then the final inversion"),
    Mistake(lambda mag, h, n, a: solution_griffin_lim(mag, h, n + 1, a),
            "one iteration too many: n_iter rounds of invert / re-analyse / keep the phase, then the final inversion"),
]


def _griffin_lim_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    t = np.arange(4000) / 8000
    tones = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1250 * t) * (t > 0.2)
    cases = []
    for x, n_fft, hop, n_iter, text in ((tones, 256, 64, 4, "two tones (4,000 samples), n_fft=256, hop_length=64, n_iter=4"),
                                        (rng.uniform(-1, 1, 2000), 128, 32, 3, "2,000 random samples, n_fft=128, hop_length=32, n_iter=3")):
        magnitude = np.abs(_stft.stft(x, n_fft, hop))  # (F, frames)
        angles = np.exp(2j * np.pi * rng.random(magnitude.shape))
        cases.append(((magnitude, hop, n_iter, angles), text + ", random initial phase"))
    return cases


def check_griffin_lim(student_fn: Callable[[np.ndarray, int, int, np.ndarray], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``griffin_lim(magnitude, hop_length, n_iter, angles) -> waveform`` (no momentum), and that its
    spectral convergence falls below that of the starting phase."""
    cases = _griffin_lim_cases(7)
    if not run_trials("griffin_lim", student_fn, _reference_griffin_lim, cases, mistakes=GRIFFIN_LIM_MISTAKES,
                      raise_on_failure=raise_on_failure, rtol=1e-5, atol=1e-7, forbidden=GRIFFIN_LIM_FORBIDDEN):
        return False
    (magnitude, hop, n_iter, angles), _ = cases[0]
    n_fft = 2 * (magnitude.shape[0] - 1)
    start = _stft.spectral_convergence(magnitude, np.abs(_stft.stft(_stft.istft(magnitude * angles, hop, n_fft=n_fft), n_fft, hop)))
    reached = _stft.spectral_convergence(magnitude, np.abs(_stft.stft(np.asarray(student_fn(magnitude, hop, n_iter, angles)), n_fft, hop)))
    print(f"  spectral convergence on the two tones: {start:.2f} from the random phase, {reached:.2f} after {n_iter} iterations")
    return True


EXERCISES: dict[str, Exercise] = {
    "istft": Exercise(CHAPTER, "istft", "The inverse STFT by weighted overlap-add",
                      check_istft, solution_istft,
                      '''def istft(spectrogram, hop_length, n_fft):
    """Waveform from a complex STFT (n_fft // 2 + 1, frames) by weighted overlap-add: periodic Hann window,
    frame m starting at sample m * hop_length (no centring); n_fft + hop_length * (frames - 1) samples."""
    raise NotImplementedError("write istft")

exercises.ch1.check_istft(istft)''', ISTFT_MISTAKES),
    "mel_filterbank": Exercise(CHAPTER, "mel_filterbank", "The mel filterbank: triangles on Slaney's scale, unit area",
                               check_mel_filterbank, solution_mel_filterbank,
                               '''def mel_filterbank(sample_rate, n_fft, n_mels):
    """Triangular filters (n_mels, n_fft // 2 + 1), evenly spaced on Slaney's mel scale from 0 Hz to Nyquist,
    each scaled to unit area (librosa.filters.mel's defaults)."""
    raise NotImplementedError("write mel_filterbank")

exercises.ch1.check_mel_filterbank(mel_filterbank)''', MEL_FILTERBANK_MISTAKES),
    "griffin_lim": Exercise(CHAPTER, "griffin_lim", "Griffin-Lim: a phase from the magnitude alone",
                            check_griffin_lim, solution_griffin_lim,
                            '''def griffin_lim(magnitude, hop_length, n_iter, angles):
    """From the initial phase `angles` (unit complex numbers, the shape of `magnitude`), n_iter times: invert
    (stft.istft), re-analyse (stft.stft) and keep only the phase; return the waveform of the last estimate."""
    raise NotImplementedError("write griffin_lim")

exercises.ch1.check_griffin_lim(griffin_lim)''', GRIFFIN_LIM_MISTAKES),
}

#: What ``from ... import *`` re-exports into :mod:`audioformers.ch1.exercises` (not its EXERCISES or CHAPTER).
__all__ = ["ISTFT_MISTAKES", "MEL_FILTERBANK_MISTAKES", "GRIFFIN_LIM_MISTAKES", "ISTFT_FORBIDDEN",
           "MEL_FILTERBANK_FORBIDDEN", "GRIFFIN_LIM_FORBIDDEN", "check_istft", "check_mel_filterbank", "check_griffin_lim",
           "solution_istft", "solution_mel_filterbank", "solution_griffin_lim"]
