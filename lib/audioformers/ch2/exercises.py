"""Self-checks for chapter 2 (raw audio and mu-law): mu-law encoding and decoding, a uniform quantiser, SNR in dB.

Each ``check_<exercise>(student_fn)`` compares the student's function with :mod:`audioformers.audio.mulaw` /
:mod:`audioformers.audio.quantization` on seeded random audio and prints ``✓ ...`` or says what is wrong.

Notebook: chapters/02_raw_audio_mulaw.ipynb (section "Exercises").
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from audioformers.audio import mulaw, quantization
from audioformers.core.checks import check_int, check_tokens
from audioformers.core.selfcheck import Exercise, Forbidden, Mistake, run_trials

CHAPTER = 2

# What would replace each exercise's algorithm: patched to raise while the student's function runs.
ENCODE_FORBIDDEN = Forbidden("write the mu-law encoding yourself", (
    "torchaudio.functional.mu_law_encoding", "torchaudio.transforms.MuLawEncoding", "librosa.mu_compress",
    "audioformers.audio.mulaw.mu_law_encode", "audioformers.audio.mulaw.mu_law_compress"),
    " (F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu), then round (F(x) + 1) / 2 · mu)")
DECODE_FORBIDDEN = Forbidden("write the mu-law decoding yourself", (
    "torchaudio.functional.mu_law_decoding", "torchaudio.transforms.MuLawDecoding", "librosa.mu_expand",
    "audioformers.audio.mulaw.mu_law_decode", "audioformers.audio.mulaw.mu_law_expand"),
    " (y = 2 code / mu - 1, then the inverse curve sign(y) ((1 + mu) ** |y| - 1) / mu)")
UNIFORM_FORBIDDEN = Forbidden("write the quantiser yourself", (
    "audioformers.audio.quantization.quantize_uniform", "audioformers.audio.quantization.uniform_encode",
    "audioformers.audio.quantization.uniform_decode"))
SNR_FORBIDDEN = Forbidden("write the SNR yourself", ("audioformers.audio.quantization.snr_db",))


def _torchaudio_mu_law(x: np.ndarray) -> np.ndarray:
    import torch
    import torchaudio

    return torchaudio.functional.mu_law_encoding(torch.as_tensor(x), 256).numpy()


def _audio_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    quiet = (0.05 * rng.standard_normal(500)).clip(-1, 1)
    loud = rng.uniform(-1, 1, 500)
    edges = np.array([-1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0])
    return [((quiet,), "500 quiet samples (std 0.05)"), ((loud,), "500 samples uniform in [-1, 1]"),
            ((edges,), "the values -1, -0.5, -0.001, 0, 0.001, 0.5, 1")]


# ------------------------------------------------------------------------------ 1. mu-law encoding
def solution_mu_law_encode(x: np.ndarray, quantization_channels: int = 256) -> np.ndarray:
    """Audio in [-1, 1] -> integer codes 0 .. quantization_channels - 1 (mu = channels - 1), rounded to the nearest level."""
    mu = quantization_channels - 1
    compressed = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)  # in [-1, 1]
    return np.floor((compressed + 1) / 2 * mu + 0.5).astype(np.int64)  # 0 .. mu


def _compress(x: np.ndarray, mu: float) -> np.ndarray:
    return np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)


def _without_abs(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.floor((np.log1p(255 * x) / np.log1p(255) + 1) / 2 * 255 + 0.5).astype(np.int64)


SCALED_BY_256 = ("you scaled by 256 (the number of codes) instead of mu = 255 (the largest code): (F(x) + 1) / 2 lies in "
                 "[0, 1] and must map onto 0 .. 255, so multiply by 255 and round; with 256, x = 1 gives code 256 (or, clipped, "
                 "codes drift up to one level high)")
ENCODE_MISTAKES = [
    Mistake(lambda x: np.floor((_compress(x, 255) + 1) / 2 * 255).astype(np.int64),
            "off by one level: you floor (truncate); the reference rounds to the nearest level (add 0.5 before flooring)"),
    Mistake(lambda x: np.floor(_compress(x, 255) * 127.5 + 0.5).astype(np.int64),
            "your codes are centred on 0 (about -128 .. 127): map [-1, 1] to 0 .. 255, i.e. (F(x) + 1) / 2 * mu"),
    Mistake(lambda x: np.floor((_compress(x, 256) + 1) / 2 * 255 + 0.5).astype(np.int64),
            "mu must be quantization_channels - 1 = 255 (256 levels are numbered 0 .. 255), you used 256"),
    Mistake(lambda x: np.floor((x + 1) / 2 * 255 + 0.5).astype(np.int64),
            "you quantised x uniformly: apply the mu-law curve F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu) first"),
    Mistake(lambda x: np.floor((_compress(x, 255) + 1) / 2 * 256 + 0.5).astype(np.int64), SCALED_BY_256),
    Mistake(lambda x: np.floor((_compress(x, 255) + 1) / 2 * 256).astype(np.int64), SCALED_BY_256),
    Mistake(lambda x: np.clip(np.floor((_compress(x, 255) + 1) / 2 * 256), 0, 255).astype(np.int64), SCALED_BY_256),
    Mistake(lambda x: np.floor((np.log1p(255 * np.abs(x)) / np.log1p(255) + 1) / 2 * 255 + 0.5).astype(np.int64),
            "you dropped the sign: the curve is F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu), so a negative sample gets a code "
            "below 128; without sign(x), x and -x get the same code (x = -0.5 gives 239 instead of 16)"),
    Mistake(lambda x: _without_abs(x),
            "ln(1 + mu x) is undefined for x < -1/mu (NaN, which became a meaningless integer code): use "
            "sign(x) ln(1 + mu|x|), the curve applied to |x| with the sign put back"),
    Mistake(_torchaudio_mu_law, ENCODE_FORBIDDEN.message("torchaudio.functional.mu_law_encoding")),
]


def check_mu_law_encode(student_fn: Callable[[np.ndarray], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``mu_law_encode(x) -> int codes 0..255`` against :func:`audioformers.audio.mulaw.mu_law_encode`."""
    return run_trials("mu_law_encode", student_fn, lambda x: mulaw.mu_law_encode(x, 256), _audio_cases(21),
                      mistakes=ENCODE_MISTAKES, raise_on_failure=raise_on_failure, forbidden=ENCODE_FORBIDDEN,
                      integer=True, rtol=0, atol=0)


# ------------------------------------------------------------------------------ 1b. mu-law decoding
def solution_mu_law_decode(codes: np.ndarray, quantization_channels: int = 256) -> np.ndarray:
    """Integer codes 0 .. quantization_channels - 1 -> audio in [-1, 1]: back to [-1, 1], then the inverse curve."""
    # the argument checks of the package's own functions (not part of the exercise)
    quantization_channels = check_int("quantization_channels", quantization_channels, minimum=2)
    check_tokens("codes", codes, quantization_channels, allow_empty=True)
    mu = quantization_channels - 1
    y = 2 * np.asarray(codes, dtype=np.float64) / mu - 1  # codes -> [-1, 1], still compressed
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu  # undo F: ((1 + mu) ** |y| - 1) / mu


def _decode_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    return [((np.arange(256),), "every code 0 .. 255"), ((rng.integers(0, 256, 300),), "300 random codes"),
            ((np.array([0, 127, 128, 255]),), "the codes 0, 127, 128, 255")]


def _expand(y: np.ndarray, mu: float) -> np.ndarray:
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


DECODE_MISTAKES = [
    Mistake(lambda c: 2 * np.asarray(c, dtype=np.float64) / 255 - 1,
            "you mapped the codes back to [-1, 1] but did not undo the mu-law curve: apply its inverse, "
            "sign(y) ((1 + mu) ** |y| - 1) / mu, to y = 2 code / mu - 1"),
    Mistake(lambda c: _expand(2 * np.asarray(c, dtype=np.float64) / 256 - 1, 255),
            "you divided by 256: the largest code is mu = 255 and must decode to 1.0, so y = 2 code / 255 - 1"),
    Mistake(lambda c: _expand(2 * np.asarray(c, dtype=np.float64) / 255 - 1, 256),
            "mu must be quantization_channels - 1 = 255 in the inverse curve too, you used 256"),
    Mistake(lambda c: np.sign(2 * np.asarray(c, dtype=np.float64) / 255 - 1) * np.log1p(255 * np.abs(2 * np.asarray(c, dtype=np.float64) / 255 - 1)) / np.log1p(255),
            "you applied the compressing curve F again; decoding needs its inverse, sign(y) ((1 + mu) ** |y| - 1) / mu"),
    Mistake(lambda c: mulaw.mu_law_decode(c, 256), DECODE_FORBIDDEN.message("audioformers.audio.mulaw.mu_law_decode")),
]


def check_mu_law_decode(student_fn: Callable[[np.ndarray], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``mu_law_decode(codes) -> audio in [-1, 1]`` against :func:`audioformers.audio.mulaw.mu_law_decode`."""
    return run_trials("mu_law_decode", student_fn, lambda c: mulaw.mu_law_decode(c, 256), _decode_cases(24),
                      mistakes=DECODE_MISTAKES, raise_on_failure=raise_on_failure, forbidden=DECODE_FORBIDDEN, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ 2. uniform quantiser
def solution_quantize_uniform(x: np.ndarray, num_levels: int) -> np.ndarray:
    """Round each sample to the centre of one of ``num_levels`` equal cells of [-1, 1] (mid-rise quantiser)."""
    step = 2.0 / num_levels
    codes = np.clip(np.floor((x + 1.0) / step), 0, num_levels - 1)  # 0 .. num_levels - 1
    return -1.0 + (codes + 0.5) * step


UNIFORM_MISTAKES = [
    Mistake(lambda x, n: np.clip(np.floor((x + 1.0) / (2.0 / n)), 0, n - 1),
            "you return the level indices (codes); return the reconstructed amplitudes, the centre of each cell: -1 + (code + 0.5) * 2 / num_levels"),
    Mistake(lambda x, n: -1.0 + np.clip(np.floor((x + 1.0) / (2.0 / n)), 0, n - 1) * (2.0 / n),
            "you return the lower edge of each cell; a mid-rise quantiser returns its centre (add half a step)"),
    Mistake(lambda x, n: np.round(x * (n / 2)) / (n / 2),
            "you round to a grid that includes 0 (mid-tread), which has num_levels + 1 levels; use num_levels cells of width 2 / num_levels and their centres"),
    Mistake(lambda x, n: quantization.quantize_uniform(x, n), UNIFORM_FORBIDDEN.message("audioformers.audio.quantization.quantize_uniform")),
]


def check_quantize_uniform(student_fn: Callable[[np.ndarray, int], np.ndarray], raise_on_failure: bool = True) -> bool:
    """Self-check of ``quantize_uniform(x, num_levels)`` against :func:`audioformers.audio.quantization.quantize_uniform`."""
    cases = [((args[0], levels), f"{text}, num_levels={levels}") for (args, text), levels in zip(_audio_cases(22), (16, 256, 8))]
    return run_trials("quantize_uniform", student_fn, quantization.quantize_uniform, cases, mistakes=UNIFORM_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=UNIFORM_FORBIDDEN, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ 3. SNR in dB
def solution_snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """``10 log10(sum x² / sum (x - x̂)²)``: signal power over noise power, in decibels."""
    noise = reference - estimate
    return float(10 * np.log10(np.sum(reference**2) / np.sum(noise**2)))


def _snr_cases(seed: int) -> list[tuple[tuple, str]]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, noise in ((400, 0.1), (1000, 0.01), (300, 0.5)):
        x = rng.uniform(-0.8, 0.8, n)
        cases.append(((x, x + noise * rng.standard_normal(n)), f"{n} samples plus noise of std {noise}"))
    return cases


SNR_MISTAKES = [
    Mistake(lambda x, y: 20 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2)),
            "you used 20 log10 of a power ratio: powers take 10 log10 (20 log10 is for amplitude ratios)"),
    Mistake(lambda x, y: 10 * np.log10(np.sqrt(np.sum(x**2)) / np.sqrt(np.sum((x - y) ** 2))),
            "you used 10 log10 of an amplitude (RMS) ratio: either 10 log10 of powers or 20 log10 of amplitudes"),
    Mistake(lambda x, y: 10 * np.log10(np.sum((x - y) ** 2) / np.sum(x**2)),
            "the ratio is upside down: signal power over noise power, so more noise gives a lower SNR"),
    Mistake(lambda x, y: 10 * np.log(np.sum(x**2) / np.sum((x - y) ** 2)), "you used the natural log: decibels use log10"),
    Mistake(lambda x, y: np.sum(x**2) / np.sum((x - y) ** 2), "you return the plain power ratio: convert it to decibels, 10 log10(ratio)"),
    Mistake(lambda x, y: quantization.snr_db(x, y), SNR_FORBIDDEN.message("audioformers.audio.quantization.snr_db")),
]


def check_snr_db(student_fn: Callable[[np.ndarray, np.ndarray], float], raise_on_failure: bool = True) -> bool:
    """Self-check of ``snr_db(reference, estimate) -> float`` against :func:`audioformers.audio.quantization.snr_db`."""
    return run_trials("snr_db", student_fn, quantization.snr_db, _snr_cases(23), mistakes=SNR_MISTAKES,
                      raise_on_failure=raise_on_failure, forbidden=SNR_FORBIDDEN, rtol=1e-6, atol=1e-9)


EXERCISES = {
    "mu_law_encode": Exercise(CHAPTER, "mu_law_encode", "Mu-law encoding: 256 codes from audio in [-1, 1]",
                              check_mu_law_encode, solution_mu_law_encode,
                              '''def mu_law_encode(x, quantization_channels=256):
    """Audio in [-1, 1] -> integer codes 0 .. 255 (mu-law with mu = 255, rounded to the nearest level)."""
    raise NotImplementedError("write mu_law_encode")

exercises.ch2.check_mu_law_encode(mu_law_encode)''', ENCODE_MISTAKES),
    "mu_law_decode": Exercise(CHAPTER, "mu_law_decode", "Mu-law decoding: from 256 codes back to audio",
                              check_mu_law_decode, solution_mu_law_decode,
                              '''def mu_law_decode(codes, quantization_channels=256):
    """Integer codes 0 .. 255 -> audio samples in [-1, 1] (floats): the inverse of mu_law_encode, up to rounding."""
    raise NotImplementedError("write mu_law_decode")

exercises.ch2.check_mu_law_decode(mu_law_decode)''', DECODE_MISTAKES),
    "quantize_uniform": Exercise(CHAPTER, "quantize_uniform", "A uniform (mid-rise) quantiser with num_levels levels",
                                 check_quantize_uniform, solution_quantize_uniform,
                                 '''def quantize_uniform(x, num_levels):
    """Replace each sample by the centre of its cell, out of num_levels equal cells covering [-1, 1]."""
    raise NotImplementedError("write quantize_uniform")

exercises.ch2.check_quantize_uniform(quantize_uniform)''', UNIFORM_MISTAKES),
    "snr_db": Exercise(CHAPTER, "snr_db", "Signal-to-noise ratio of a quantised signal, in dB",
                       check_snr_db, solution_snr_db,
                       '''def snr_db(reference, estimate):
    """Signal power over the power of (reference - estimate), in decibels."""
    raise NotImplementedError("write snr_db")

exercises.ch2.check_snr_db(snr_db)''', SNR_MISTAKES),
}
