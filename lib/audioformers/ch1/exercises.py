"""Self-checks for chapter 1 (Fourier and spectrograms): DFT magnitude, framing, spectrogram, Hz -> mel.

Each ``check_<exercise>(student_fn)`` runs the student's function on seeded random inputs, compares it
with :mod:`audioformers.audio.signals` and prints ``✓ ...`` or raises :class:`ExerciseFailed` saying what is wrong.
``solution_<exercise>`` is a reference solution written the way a student would (the tests use it).

Notebook: chapters/01_fourier_spectrograms.ipynb (section "Exercises").
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from audioformers.audio import signals
from audioformers.audio.audio_io import check_audio, check_sample_rate
from audioformers.core.checks import check_int
from audioformers.core.selfcheck import Exercise, ExerciseFailed, Forbidden, Mistake, call_student, diagnose, finish, run_trials

CHAPTER = 1


def _dft(x: np.ndarray, full: bool = False) -> np.ndarray:
    """X_k for k = 0 .. N//2 (all N with ``full``) by the DFT matrix: the known mistakes call no FFT, which the
    DFT checks forbid while the student's function runs."""
    n = len(x)
    return np.exp(-2j * np.pi * np.arange(n if full else n // 2 + 1)[:, None] * np.arange(n)[None, :] / n) @ x


# What would replace each exercise's algorithm: patched to raise while the student's function runs.
DFT_FORBIDDEN = Forbidden("write the DFT yourself", (
    "numpy.fft", "scipy.fft", "scipy.fftpack", "torch.fft", "torch.stft", "librosa.stft", "librosa.core.stft",
    "torchaudio.functional.spectrogram", "torchaudio.transforms.Spectrogram", "audioformers.audio.signals.dft_amplitude",
    "audioformers.audio.signals.stft_magnitude"), " (sum x[n] e^(-2πi k n / N) over n with a loop or a matrix; "
    "use np.fft.rfft outside your function to check it)")
FRAME_FORBIDDEN = Forbidden("cut the frames yourself", (
    "librosa.util.frame", "numpy.lib.stride_tricks.sliding_window_view", "audioformers.audio.signals.frame_signal"),
    " (frame i is waveform[i * hop_length : i * hop_length + frame_length])")
SPECTROGRAM_FORBIDDEN = Forbidden("build the spectrogram yourself from frames, a window and the FFT", (
    "librosa.stft", "librosa.core.stft", "torch.stft", "scipy.signal.stft", "scipy.signal.spectrogram",
    "scipy.signal.ShortTimeFFT", "torchaudio.functional.spectrogram", "torchaudio.transforms.Spectrogram",
    "audioformers.audio.signals.stft_magnitude", "audioformers.audio.stft.stft"), " (np.fft.rfft of each windowed frame is allowed)")
MEL_FORBIDDEN = Forbidden("write the mel scale yourself", (
    "librosa.hz_to_mel", "librosa.core.hz_to_mel", "librosa.mel_frequencies", "torchaudio.functional.functional._hz_to_mel",
    "audioformers.audio.signals.hz_to_mel"), " (linear below 1 kHz, logarithmic above)")


# ------------------------------------------------------------------------------ 1. DFT magnitude of a frame
def solution_dft_magnitude(frame: np.ndarray) -> np.ndarray:
    """|X_k| for k = 0 .. N//2 of a real frame of N samples (no normalisation), by the DFT sum."""
    n = len(frame)
    k = np.arange(n // 2 + 1)[:, None]  # (K, 1)
    t = np.arange(n)[None, :]  # (1, N)
    basis = np.exp(-2j * np.pi * k * t / n)  # (K, N)
    return np.abs(basis @ frame)  # (K,)


def _reference_dft_magnitude(frame: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(frame))


DFT_MISTAKES = [
    Mistake(lambda f: np.abs(_dft(f, full=True)), "you return all N bins; a real frame's spectrum is symmetric, keep bins 0 .. N//2 (N//2 + 1 of them)"),
    Mistake(lambda f: np.abs(_dft(f)) / len(f), "you divided by N: this exercise asks for the unnormalised |X_k| (as np.fft.rfft)"),
    Mistake(lambda f: np.abs(_dft(f)) ** 2, "you return the power |X_k|², not the magnitude |X_k|"),
    Mistake(lambda f: np.real(_dft(f)), "you return the real part of X_k: the magnitude is the absolute value of the complex number"),
    Mistake(lambda f: np.abs(_dft(f * np.hanning(len(f)))), "you applied a window: this exercise asks for the DFT of the frame as it is"),
    Mistake(lambda f: _dft(f), "you return the complex X_k: the magnitude is its absolute value |X_k| (np.abs)"),
    Mistake(lambda f: np.abs(np.fft.rfft(f)), DFT_FORBIDDEN.message("numpy.fft.rfft")),
]


def check_dft_magnitude(student_fn: Callable[[np.ndarray], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``dft_magnitude(frame) -> (N // 2 + 1,)`` against ``np.fft.rfft``."""
    rng = np.random.default_rng(1)
    cases = [((rng.standard_normal(n),), f"a random frame of {n} samples") for n in (64, 101, 256)]
    return run_trials("dft_magnitude", student_fn, _reference_dft_magnitude, cases, mistakes=DFT_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=DFT_FORBIDDEN, rtol=1e-6, atol=1e-8, axes=("frequency bin",))


# ------------------------------------------------------------------------------ 1b. amplitude spectrum in Hz
def solution_dft_amplitude(waveform: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(frequencies_hz, amplitude)``: a loop over bins, scaled so a bin-centred sinusoid of amplitude a peaks at a."""
    waveform = check_audio(waveform)  # the argument checks of the package's own functions (not part of the exercise)
    sample_rate = check_sample_rate(sample_rate)
    n = len(waveform)
    t = np.arange(n)
    amplitude = np.array([abs(np.sum(waveform * np.exp(-2j * np.pi * k * t / n))) for k in range(n // 2 + 1)]) / n
    amplitude[1 : (n + 1) // 2] *= 2  # each bin but DC (and Nyquist for even n) also stands for its mirror image
    return np.arange(n // 2 + 1) * sample_rate / n, amplitude


def _amplitude_without_doubling(x: np.ndarray, sr: int) -> np.ndarray:
    return np.abs(_dft(x)) / len(x)


def _amplitude_doubling(x: np.ndarray, first: int, stop: int) -> np.ndarray:
    """|X_k| / N with bins ``first .. stop - 1`` doubled (``stop`` may be negative, as a slice end)."""
    amplitude = np.abs(_dft(x)) / len(x)
    amplitude[first:stop] *= 2
    return amplitude


AMPLITUDE_MISTAKES = [
    Mistake(_amplitude_without_doubling, "your peaks are half as high: double every bin except DC (and Nyquist for even N), "
                                         "because each also stands for its negative-frequency mirror image"),
    Mistake(lambda x, sr: _amplitude_doubling(x, 0, None),
            "you doubled the DC bin (k = 0) too: DC has no mirror image, so its amplitude is |X_0| / N"),
    Mistake(lambda x, sr: _amplitude_doubling(x, 1, None),
            "you doubled the Nyquist bin (k = N/2, even N) too: like DC it has no mirror image, so its amplitude is |X_N/2| / N"),
    Mistake(lambda x, sr: _amplitude_doubling(x, 1, -1),
            "for odd N the last bin, k = (N - 1)/2, is not the Nyquist frequency: it has a mirror image, so double it too "
            "(double bins 1 .. (N - 1)/2 for odd N, 1 .. N/2 - 1 for even N)"),
    Mistake(lambda x, sr: np.abs(_dft(x)), "you forgot to divide by N: the DFT sum grows with the frame length"),
]
FREQUENCY_MISTAKES = [
    Mistake(lambda x, sr: np.arange(len(x) // 2 + 1), "your frequencies are bin numbers k: multiply by sample_rate / N to get Hz"),
    Mistake(lambda x, sr: np.fft.fftfreq(len(x), 1 / sr), "your frequencies are the full, two-sided ones: keep the N//2 + 1 non-negative frequencies"),
    Mistake(lambda x, sr: np.linspace(0, sr / 2, len(x) // 2 + 1),
            "your frequency grid ends at sample_rate / 2 (np.linspace(0, sample_rate / 2, N//2 + 1)), which is right for even N only: "
            "bin k lies at k · sample_rate / N, so for odd N the last bin, k = (N - 1)/2, lies below the Nyquist frequency"),
    Mistake(lambda x, sr: np.fft.fftfreq(len(x), 1 / sr)[: len(x) // 2 + 1],
            "for even N, np.fft.fftfreq puts bin N/2 at -sample_rate/2 (the two-sided convention): the one-sided grid is "
            "k · sample_rate / N for k = 0 .. N//2 (np.fft.rfftfreq), ending at +sample_rate/2"),
]


# The same mistakes as whole answers (frequencies, amplitude), for the tests and the registry.
AMPLITUDE_ANSWER_MISTAKES = [
    Mistake(lambda x, sr, m=m: (np.fft.rfftfreq(len(x), 1 / sr), m.fn(x, sr)), m.message) for m in AMPLITUDE_MISTAKES
] + [Mistake(lambda x, sr, m=m: (m.fn(x, sr), _amplitude_doubling(x, 1, (len(x) + 1) // 2)), m.message) for m in FREQUENCY_MISTAKES
     ] + [Mistake(lambda x, sr: signals.dft_amplitude(x, sr), DFT_FORBIDDEN.message("audioformers.audio.signals.dft_amplitude"))]


def check_dft_amplitude(student_fn: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]], raise_on_failure: bool = True) -> bool:
    """Self-check of ``dft_amplitude(waveform, sample_rate) -> (frequencies_hz, amplitude)`` against ``signals.dft_amplitude``."""
    rng = np.random.default_rng(5)
    t = np.arange(800) / 8000
    three = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1000 * t) + 0.1).astype(np.float32)
    n = np.arange(64)
    nyquist = (0.25 + 0.5 * np.cos(2 * np.pi * 1000 * n / 8000) + 0.2 * np.cos(np.pi * n)).astype(np.float32)
    cases = [((three, 8000), "0.5 sin(440 Hz) + 0.3 sin(1000 Hz) + 0.1, 800 samples at 8 kHz"),
             ((rng.uniform(-1, 1, 255).astype(np.float32), 16000), "255 random samples at 16 kHz (odd N: no Nyquist bin)"),
             ((nyquist, 8000), "0.25 + 0.5 cos(1000 Hz) + 0.2 cos(4000 Hz), 64 samples at 8 kHz (energy at DC and at Nyquist)")]
    try:
        for (x, sr), text in cases:
            got = call_student(student_fn, (x, sr), "dft_amplitude", text, DFT_FORBIDDEN)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise ExerciseFailed(f"✗ dft_amplitude: return two arrays, (frequencies_hz, amplitude); got {type(got).__name__} [input: {text}]")
            freqs, amplitude = signals.dft_amplitude(x, sr)
            for name, answer, expected, mistakes in (("frequencies", got[0], freqs, FREQUENCY_MISTAKES),
                                                     ("amplitude", got[1], amplitude, AMPLITUDE_MISTAKES)):
                problem = diagnose(answer, expected, mistakes=[(m.fn(x, sr), m.message) for m in mistakes], rtol=1e-5, atol=1e-7)
                if problem is not None:
                    raise ExerciseFailed(f"✗ dft_amplitude ({name}): {problem} [input: {text}]")
    except ExerciseFailed as failure:
        if raise_on_failure:
            raise
        print(failure)
        return False
    return finish("dft_amplitude", None, f"frequencies and amplitudes match the reference on {len(cases)} inputs", raise_on_failure)


# ------------------------------------------------------------------------------ 2. framing
def solution_frame_signal(waveform: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Overlapping frames ``(num_frames, frame_length)``, frame ``i`` starting at ``i * hop_length``; no padding."""
    waveform = check_audio(waveform)  # the argument checks of the package's own functions (not part of the exercise)
    frame_length = check_int("frame_length", frame_length, minimum=1)
    hop_length = check_int("hop_length", hop_length, minimum=1)
    if len(waveform) < frame_length:
        raise ValueError(f"waveform ({len(waveform)} samples) is shorter than one frame (frame_length={frame_length})")
    num_frames = 1 + (len(waveform) - frame_length) // hop_length
    return np.stack([waveform[i * hop_length : i * hop_length + frame_length] for i in range(num_frames)])


def _frames_one_too_few(x: np.ndarray, n: int, h: int) -> np.ndarray:
    """``range(0, len(x) - n, h)``: loses the last frame when the leftover is a multiple of the hop."""
    return np.stack([x[s : s + n] for s in range(0, len(x) - n, h)])


def _frames_zero_padded(x: np.ndarray, n: int, h: int) -> np.ndarray:
    """A partial last frame padded with zeros: ``1 + ceil((len - n) / h)`` frames."""
    count = 1 + -(-(len(x) - n) // h)
    padded = np.concatenate([x, np.zeros(n + (count - 1) * h - len(x), dtype=x.dtype)])
    return solution_frame_signal(padded, n, h)


TOO_FEW_FRAMES = ("one frame too few: when (len - frame_length) is a multiple of hop_length the last frame ends exactly at "
                  "the end of the signal and still counts; there are 1 + (len - frame_length) // hop_length frames "
                  "(e.g. range(0, len - frame_length + 1, hop_length), note the + 1)")
TOO_MANY_FRAMES = ("one frame too many: you zero-padded the end to fit a partial last frame; this exercise keeps only "
                   "whole frames, 1 + (len - frame_length) // hop_length of them, and no padding")
FRAME_MISTAKES = [
    Mistake(lambda x, n, h: solution_frame_signal(x, n, n),
            "your frames do not overlap: consecutive frames must start hop_length samples apart, not frame_length"),
    Mistake(_frames_one_too_few, TOO_FEW_FRAMES),
    Mistake(_frames_zero_padded, TOO_MANY_FRAMES),
    Mistake(lambda x, n, h: np.lib.stride_tricks.sliding_window_view(x, n)[::h],
            FRAME_FORBIDDEN.message("numpy.lib.stride_tricks.sliding_window_view")),
]


def check_frame_signal(student_fn: Callable[[np.ndarray, int, int], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``frame_signal(waveform, frame_length, hop_length) -> (num_frames, frame_length)``."""
    rng = np.random.default_rng(2)
    cases = [((rng.uniform(-1, 1, t).astype(np.float32), n, h), f"{t} samples, frame_length={n}, hop_length={h}")
             for t, n, h in ((1000, 64, 16), (1037, 100, 30), (512, 128, 128))]
    return run_trials("frame_signal", student_fn, signals.frame_signal, cases, mistakes=FRAME_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=FRAME_FORBIDDEN, axes=("frame", "sample"))


# ------------------------------------------------------------------------------ 3. magnitude spectrogram
def solution_spectrogram(waveform: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """|STFT| ``(n_fft // 2 + 1, frames)``: periodic Hann window, frames of ``n_fft`` every ``hop_length``, no padding."""
    waveform = check_audio(waveform)  # the argument checks of the package's own functions (not part of the exercise)
    n_fft = check_int("n_fft", n_fft, minimum=1)
    if len(waveform) < n_fft:
        raise ValueError(f"waveform ({len(waveform)} samples) is shorter than one frame (n_fft={n_fft})")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = solution_frame_signal(waveform, n_fft, hop_length)  # (frames, n_fft)
    return np.abs(np.fft.rfft(frames * window, axis=1)).T  # (n_fft // 2 + 1, frames)


def _reference_spectrogram(waveform: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    return signals.stft_magnitude(waveform, n_fft, hop_length, center=False).numpy()


def _framed_rfft(x: np.ndarray, n: int, h: int, window: np.ndarray, magnitude: bool = True) -> np.ndarray:
    spectrum = np.fft.rfft(solution_frame_signal(x, n, h) * window, axis=1).T  # (n // 2 + 1, frames)
    return np.abs(spectrum) if magnitude else spectrum


CENTRED = ("your frames are centred (librosa.stft's and torch.stft's default center=True): the signal was padded with "
           "n_fft // 2 samples at each end, so frame i is centred on sample i * hop_length and there are 1 + len // hop_length "
           "frames. Centring keeps frame i aligned with time i * hop_length and lets the first frame see the very start. "
           "This exercise asks for center=False: frame i starts at sample i * hop_length, no padding, "
           "1 + (len - n_fft) // hop_length frames (librosa.stft(..., center=False) gives it)")
SPECTROGRAM_MISTAKES = [
    Mistake(lambda x, n, h: _framed_rfft(x, n, h, np.ones(n)), "no window: multiply each frame by a (periodic) Hann window before the DFT"),
    Mistake(lambda x, n, h: _framed_rfft(x, n, h, np.hanning(n)),
            "you used a symmetric Hann window (np.hanning); the STFT uses the periodic one: 0.5 - 0.5 cos(2π n / N)"),
    Mistake(lambda x, n, h: _framed_rfft(x, n, h, np.hanning(n + 1)[:-1]) ** 2, "you return the power |X|², not the magnitude |X|"),
    Mistake(lambda x, n, h: _framed_rfft(x, n, h, np.hanning(n + 1)[:-1], magnitude=False),
            "you return the complex STFT: a magnitude spectrogram is its absolute value, np.abs(X)"),
    Mistake(lambda x, n, h: _framed_rfft(x, n, h, np.hanning(n + 1)[:-1])[:, : len(range(0, len(x) - n, h))], TOO_FEW_FRAMES),
    Mistake(lambda x, n, h: np.abs(np.fft.rfft(_frames_zero_padded(x, n, h) * np.hanning(n + 1)[:-1], axis=1)).T, TOO_MANY_FRAMES),
    Mistake(lambda x, n, h: _framed_rfft(np.pad(x, n // 2), n, h, np.hanning(n + 1)[:-1]), CENTRED),
    Mistake(lambda x, n, h: _framed_rfft(np.pad(x, n // 2, mode="reflect"), n, h, np.hanning(n + 1)[:-1]), CENTRED),
    Mistake(lambda x, n, h: torch.stft(torch.from_numpy(x), n, h, window=torch.hann_window(n), center=False, return_complex=True).abs().numpy(),
            SPECTROGRAM_FORBIDDEN.message("torch.stft")),
]


def check_spectrogram(student_fn: Callable[[np.ndarray, int, int], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``spectrogram(waveform, n_fft, hop_length) -> (n_fft // 2 + 1, frames)`` (no centre padding)."""
    rng = np.random.default_rng(3)
    cases = [((rng.uniform(-1, 1, t).astype(np.float32), n, h), f"{t} samples, n_fft={n}, hop_length={h}")
             for t, n, h in ((2000, 256, 64), (1601, 400, 160), (2048, 256, 64))]  # the last: (2048 - 256) / 64 frames exactly
    return run_trials("spectrogram", student_fn, _reference_spectrogram, cases, mistakes=SPECTROGRAM_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=SPECTROGRAM_FORBIDDEN, rtol=1e-3, atol=1e-4, axes=("frequency", "time"))


# ------------------------------------------------------------------------------ 4. Hz -> mel
def solution_hz_to_mel(frequency_hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: ``f / (200/3)`` below 1 kHz, ``15 + 27 ln(f / 1000) / ln(6.4)`` above."""
    f = np.asarray(frequency_hz, dtype=np.float64)
    linear = f / (200.0 / 3.0)
    logarithmic = 15.0 + 27.0 * np.log(np.maximum(f, 1e-10) / 1000.0) / np.log(6.4)
    return np.where(f < 1000.0, linear, logarithmic)


MEL_MISTAKES = [
    Mistake(lambda f: 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0),
            "that is the HTK mel formula 2595 log10(1 + f/700); the book (and librosa) use Slaney's: linear below 1 kHz, logarithmic above"),
    Mistake(lambda f: np.asarray(f, dtype=np.float64) / (200.0 / 3.0),
            "your scale is linear everywhere: above 1 kHz it must be logarithmic, 15 + 27 ln(f/1000) / ln(6.4)"),
    Mistake(lambda f: 15.0 + 27.0 * np.log(np.maximum(np.asarray(f, dtype=np.float64), 1e-10) / 1000.0) / np.log(6.4),
            "your scale is logarithmic everywhere: below 1 kHz it must be linear, f / (200/3)"),
    Mistake(lambda f: signals.hz_to_mel(f), MEL_FORBIDDEN.message("audioformers.audio.signals.hz_to_mel")),
]


def check_hz_to_mel(student_fn: Callable[[np.ndarray], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``hz_to_mel(frequency_hz)`` (Slaney, as librosa) on frequencies from 0 to 8 kHz."""
    rng = np.random.default_rng(4)
    cases = [((np.sort(rng.uniform(0, 8000, 50)),), "50 random frequencies in 0 .. 8000 Hz"),
             ((np.array([0.0, 500.0, 999.0, 1000.0, 4000.0, 8000.0]),), "0, 500, 999, 1000, 4000, 8000 Hz")]
    return run_trials("hz_to_mel", student_fn, signals.hz_to_mel, cases, mistakes=MEL_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=MEL_FORBIDDEN, rtol=1e-6, atol=1e-6)


EXERCISES = {
    "dft_magnitude": Exercise(CHAPTER, "dft_magnitude", "The DFT magnitude of one frame, from the definition",
                              check_dft_magnitude, solution_dft_magnitude,
                              '''def dft_magnitude(frame):
    """|X_k| for k = 0 .. N//2 of a real frame of N samples (unnormalised), from the DFT sum."""
    raise NotImplementedError("write dft_magnitude")

exercises.ch1.check_dft_magnitude(dft_magnitude)''', DFT_MISTAKES),
    "dft_amplitude": Exercise(CHAPTER, "dft_amplitude", "The amplitude spectrum in Hz, with a loop over bins",
                              check_dft_amplitude, solution_dft_amplitude,
                              '''def dft_amplitude(waveform, sample_rate):
    """(frequencies_hz, amplitude): a sinusoid of amplitude a on a DFT bin shows a peak of height a."""
    raise NotImplementedError("write dft_amplitude")

exercises.ch1.check_dft_amplitude(dft_amplitude)''', AMPLITUDE_ANSWER_MISTAKES),
    "frame_signal": Exercise(CHAPTER, "frame_signal", "Cutting audio into overlapping frames",
                             check_frame_signal, solution_frame_signal,
                             '''def frame_signal(waveform, frame_length, hop_length):
    """Frames (num_frames, frame_length); frame i starts at sample i * hop_length; no padding."""
    raise NotImplementedError("write frame_signal")

exercises.ch1.check_frame_signal(frame_signal)''', FRAME_MISTAKES),
    "spectrogram": Exercise(CHAPTER, "spectrogram", "A magnitude spectrogram from frames, a window and the FFT",
                            check_spectrogram, solution_spectrogram,
                            '''def spectrogram(waveform, n_fft, hop_length):
    """|STFT| of shape (n_fft // 2 + 1, frames): periodic Hann window, hop_length between frames, no padding."""
    raise NotImplementedError("write spectrogram")

exercises.ch1.check_spectrogram(spectrogram)''', SPECTROGRAM_MISTAKES),
    "hz_to_mel": Exercise(CHAPTER, "hz_to_mel", "The mel scale (Slaney): linear below 1 kHz, logarithmic above",
                          check_hz_to_mel, solution_hz_to_mel,
                          '''def hz_to_mel(frequency_hz):
    """Frequencies in Hz (an array) -> Slaney's mel scale (librosa's default), as floats of the same shape."""
    raise NotImplementedError("write hz_to_mel")

exercises.ch1.check_hz_to_mel(hz_to_mel)''', MEL_MISTAKES),
}


# ================================================================================ back from a spectrogram to sound
# The inverse STFT, the mel filterbank and Griffin-Lim live in their own module; registered here with the rest.
from audioformers.ch1 import synthesis_exercises as _synthesis  # noqa: E402
from audioformers.ch1.synthesis_exercises import *  # noqa: E402,F401,F403 - exercises.ch1.check_istft etc.
from audioformers.ch1.synthesis_exercises import (  # noqa: E402,F401 - the underscored names tests and the guide use
    _filterbank_on_bin_indices, _filterbank_variant, _griffin_lim_cases, _overlap_add, _reference_griffin_lim,
    _reference_istft,
    _reference_mel_filterbank,
)

EXERCISES.update(_synthesis.EXERCISES)
