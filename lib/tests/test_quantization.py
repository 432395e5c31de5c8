"""Tests of audioformers.audio.quantization: uniform / mu-law quantisers and SNR."""

import numpy as np
import pytest

from audioformers.audio import quantization as q
from audioformers.audio.audio_io import AudioError


def test_uniform_levels_and_roundtrip():
    levels = q.uniform_decode(np.arange(4), 4)
    np.testing.assert_allclose(levels, [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_array_equal(q.uniform_encode(levels, 4), np.arange(4))
    np.testing.assert_array_equal(q.uniform_encode(np.array([-1.0, 1.0]), 4), [0, 3])


def test_uniform_error_bounded_by_half_step():
    x = np.random.default_rng(0).uniform(-1, 1, 10_000)
    for levels in (4, 256):
        assert np.abs(q.quantize_uniform(x, levels) - x).max() <= 1.0 / levels + 1e-6


def test_six_db_per_bit_for_a_full_scale_uniform_signal():
    x = np.random.default_rng(0).uniform(-1, 1, 100_000)
    snrs = [q.snr_db(x, q.quantize_uniform(x, 2**b)) for b in (6, 8, 10)]
    np.testing.assert_allclose(np.diff(snrs), [12.04, 12.04], atol=0.3)  # 20 log10(2) = 6.02 dB per bit
    assert snrs[1] == pytest.approx(6.02 * 8, abs=0.3)


def test_mu_law_beats_uniform_on_quiet_audio():
    quiet = 0.02 * np.random.default_rng(1).standard_normal(20_000)
    rows = q.snr_by_levels({"quiet": quiet}, (8,))
    assert rows[0]["mu-law_db"] > rows[0]["uniform_db"] + 10
    assert set(rows[0]) == {"signal", "bits", "levels", "uniform_db", "mu-law_db"}


def test_snr_definition_and_errors():
    x = np.array([1.0, -1.0, 1.0, -1.0])
    assert q.snr_db(x, x) == float("inf")
    assert q.snr_db(x, 0.9 * x) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="same shape"):
        q.snr_db(x, x[:3])
    with pytest.raises(AudioError, match="silent"):
        q.snr_db(np.zeros(4), x)


def test_bad_input():
    with pytest.raises(AudioError, match="non-finite"):
        q.quantize_uniform(np.array([0.0, np.nan]), 16)
    with pytest.raises(AudioError, match="clip=True"):
        q.quantize_mu_law(np.array([2.0]), 16)
    np.testing.assert_allclose(q.quantize_uniform(np.array([2.0]), 4, clip=True), [0.75])
    with pytest.raises(ValueError, match="num_levels"):
        q.quantize_uniform(np.zeros(3), 1)
