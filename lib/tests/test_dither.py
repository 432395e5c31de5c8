"""Dither turns distortion into noise; noise shaping moves the noise up in frequency."""

import numpy as np
import pytest

from audioformers import dither, quantization

SR = 16000
QUIET_TONE = (0.02 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)).astype(np.float32)  # about 2.5 steps at 8 bits


def test_tpdf_dither_range_and_power():
    d = dither.tpdf_dither(200_000, 256, seed=1)
    step = 2 / 256
    assert np.abs(d).max() <= step
    assert np.var(d) == pytest.approx(step**2 / 6, rel=0.02)
    assert np.array_equal(d, dither.tpdf_dither(200_000, 256, seed=1))
    with pytest.raises(ValueError, match="num_levels"):
        dither.tpdf_dither(10, 1)


def test_dither_removes_harmonic_distortion_at_a_cost_in_snr():
    plain = quantization.quantize_uniform(QUIET_TONE, 256)
    dithered = dither.quantize_dithered(QUIET_TONE, 256)
    plain_harmonics = dither.harmonic_levels_db(plain, SR, 1000, 7)[1:]
    dithered_harmonics = dither.harmonic_levels_db(dithered, SR, 1000, 7)[1:]
    assert np.nanmax(plain_harmonics) > -25  # odd harmonics stand out
    assert np.nanmax(dithered_harmonics) < np.nanmax(plain_harmonics) - 10
    assert quantization.snr_db(QUIET_TONE, dithered) < quantization.snr_db(QUIET_TONE, plain)


def test_noise_shaping_moves_error_power_to_high_frequencies():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 8192).astype(np.float32)
    for quantized in (quantization.quantize_uniform(noise, 64), dither.quantize_noise_shaped(noise, 64)):
        error_power = np.abs(np.fft.rfft(quantized - noise)) ** 2
        low, high = error_power[: len(error_power) // 4].mean(), error_power[-len(error_power) // 4 :].mean()
        ratio = high / low
    assert ratio > 10  # shaped: far more error near Nyquist than near DC
    flat_error = np.abs(np.fft.rfft(quantization.quantize_uniform(noise, 64) - noise)) ** 2
    assert 0.5 < flat_error[-len(flat_error) // 4 :].mean() / flat_error[: len(flat_error) // 4].mean() < 2


def test_harmonic_levels_reads_a_known_spectrum():
    t = np.arange(SR) / SR
    x = np.sin(2 * np.pi * 500 * t) + 0.1 * np.sin(2 * np.pi * 1500 * t)
    levels = dither.harmonic_levels_db(x, SR, 500, 20)
    assert levels[0] == 0 and levels[2] == pytest.approx(-20, abs=0.1) and levels[1] < -80
    assert np.isnan(levels[-1])  # 10 kHz is above Nyquist
    with pytest.raises(ValueError, match="Nyquist"):
        dither.harmonic_levels_db(x, SR, 9000)
