"""Dither turns distortion into noise; noise shaping moves the noise up in frequency."""

import numpy as np
import pytest

from audioformers.audio import dither, quantization

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


SQUARE = np.tile(np.repeat([1.0, -1.0], 240), 10)  # full scale: the quantiser saturates on every sample
_T = np.arange(SR) / SR
_MUSIC = 0.5 * np.sin(2 * np.pi * 220 * _T) + 0.3 * np.sin(2 * np.pi * 330 * _T + 1) + 0.2 * np.sin(2 * np.pi * 587 * _T + 2)
SNR_MARGIN_DB = 4.0  # first-order shaping doubles the noise power (3 dB); near full scale it may cost no more


@pytest.mark.parametrize("name,signal", [("square", SQUARE), ("tanh 3x", np.tanh(3 * _MUSIC)),
                                         ("tanh 10x", np.tanh(10 * _MUSIC)), ("tanh 30x", np.tanh(30 * _MUSIC))])
@pytest.mark.parametrize("num_levels", [256, 64])
def test_noise_shaping_stays_bounded_at_full_scale(name, signal, num_levels):
    step = 2 / num_levels
    shaped = dither.quantize_noise_shaped(signal, num_levels).astype(np.float64)
    plain = dither.quantize_dithered(signal, num_levels).astype(np.float64)
    assert np.abs(shaped - signal).max() <= 3 * step + 1e-6  # no clicks: the fed-back error is clipped (was 120 steps)
    assert quantization.snr_db(signal, shaped) > quantization.snr_db(signal, plain) - SNR_MARGIN_DB
    undithered = dither.quantize_noise_shaped(signal, num_levels, dither=False).astype(np.float64)
    assert np.abs(undithered - signal).max() <= step + 1e-6


def test_noise_shaping_is_unchanged_inside_full_scale():
    """The error clip (+-1.5 steps) is never reached unless the quantiser saturates: the same output, bit for bit,
    as the unclipped recursion, and still shaped."""
    x = 0.5 * np.tanh(3 * _MUSIC)
    num_levels, step = 256, 2 / 256
    noise = dither.tpdf_dither(len(x), num_levels, 0)
    out, error = np.empty(len(x)), 0.0
    for n in range(len(x)):  # the textbook recursion, without a clip
        wanted = x[n] - error
        cell = min(max(np.floor((wanted + noise[n] + 1.0) / step), 0), num_levels - 1)
        out[n] = -1.0 + (cell + 0.5) * step
        error = out[n] - wanted
    shaped = dither.quantize_noise_shaped(x, num_levels)
    assert np.array_equal(shaped, out.astype(np.float32))
    power = np.abs(np.fft.rfft(shaped - x)) ** 2
    assert power[-len(power) // 4 :].mean() > 10 * power[: len(power) // 4].mean()
