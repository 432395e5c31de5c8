"""Crest factor, the fixed-mu quantiser, the 6.02 B + 1.76 dB rule, loud signals and clipping."""

import numpy as np
import pytest

from audioformers.audio import headroom, quantization
from audioformers.audio.audio_io import AudioError

SR = 48000
SINE = np.sin(2 * np.pi * 997.3 * np.arange(SR) / SR)


@pytest.mark.parametrize("mu", [float("inf"), float("nan"), 0.0, -5.0])
def test_fixed_mu_must_be_a_finite_positive_number(mu):
    with pytest.raises(ValueError, match="mu"):
        headroom.quantize_mu_law_fixed(SINE * 0.5, 256, mu=mu)


def test_crest_factor_of_a_sine_and_rms():
    assert headroom.crest_factor_db(SINE) == pytest.approx(3.01, abs=0.01)
    assert headroom.rms(SINE) == pytest.approx(2**-0.5, abs=1e-4)
    with pytest.raises(AudioError, match="silent"):
        headroom.crest_factor_db(np.zeros(10))


@pytest.mark.parametrize("bits", [6, 8, 12, 16])
def test_full_scale_sine_rule_matches_measurement(bits):
    measured = quantization.snr_db(SINE, quantization.quantize_uniform(SINE, 2**bits, clip=True))
    assert headroom.full_scale_sine_snr_db(bits) == pytest.approx(6.0206 * bits + 1.7609, abs=0.001)
    assert measured == pytest.approx(float(headroom.full_scale_sine_snr_db(bits)), abs=0.3)


def test_fixed_mu_equals_the_package_quantiser_when_tied():
    x = np.random.default_rng(0).uniform(-1, 1, 5000)
    for levels in (8, 256):
        assert np.array_equal(headroom.quantize_mu_law_fixed(x, levels, mu=levels - 1), quantization.quantize_mu_law(x, levels))
    with pytest.raises(AudioError, match="clip=True"):
        headroom.quantize_mu_law_fixed(2 * x, 256)
    with pytest.raises(ValueError, match="mu"):
        headroom.quantize_mu_law_fixed(x, 256, mu=0)


def test_fixed_mu_keeps_mu_law_ahead_on_a_quiet_signal_at_12_bits():
    quiet = 0.05 * np.random.default_rng(1).laplace(size=20000)
    quiet = np.clip(quiet, -1, 1)
    fixed = quantization.snr_db(quiet, headroom.quantize_mu_law_fixed(quiet, 4096, mu=255))
    uniform = quantization.snr_db(quiet, quantization.quantize_uniform(quiet, 4096))
    assert fixed > uniform


def test_soft_limit_lowers_the_crest_factor_and_then_uniform_wins():
    speechy = np.random.default_rng(2).laplace(size=40000) * np.repeat(np.random.default_rng(3).uniform(0, 1, 40) ** 3, 1000)
    speechy /= np.abs(speechy).max()
    loud = headroom.soft_limit(speechy, 24)
    assert np.abs(loud).max() == pytest.approx(1.0) and headroom.crest_factor_db(loud) < headroom.crest_factor_db(speechy) - 6
    snr = {name: (quantization.snr_db(x, quantization.quantize_uniform(x, 256)), quantization.snr_db(x, quantization.quantize_mu_law(x, 256)))
           for name, x in (("dynamic", speechy), ("loud", loud))}
    assert snr["dynamic"][1] > snr["dynamic"][0]  # mu-law wins on a high crest factor
    assert snr["loud"][0] > snr["loud"][1]  # uniform wins on a loud, compressed signal


def test_snr_against_gain_falls_once_the_peaks_clip():
    rows = headroom.snr_against_gain(0.5 * SINE, [-20, 0, 6, 12], 256)
    uniform = [r["uniform_db"] for r in rows]
    assert uniform[1] > uniform[0] and uniform[3] < uniform[1]
    assert rows[1]["clipped_share"] == 0 and rows[3]["clipped_share"] > 0.3
    assert rows[2]["peak_dbfs"] == pytest.approx(0.0, abs=0.05)
