import librosa
import numpy as np
import pytest

from audioformers import filterbank_analysis as fa

SR = 16000


def _sines(freqs, taps=400):
    n = np.arange(taps)
    return np.stack([np.sin(2 * np.pi * f * n / SR) * np.hanning(taps) for f in freqs])


def test_centre_frequencies_of_sinusoids():
    freqs = [250.0, 1000.0, 3000.0, 6000.0]
    centres = fa.centre_frequencies(_sines(freqs), SR, n_fft=4000)
    np.testing.assert_allclose(centres, freqs, atol=SR / 4000)
    sorted_c, order = fa.sorted_centres(_sines(freqs[::-1]), SR, n_fft=4000)
    assert np.all(np.diff(sorted_c) > 0) and list(order) == [3, 2, 1, 0]


def test_reference_lines():
    dft = fa.dft_line(5, SR)
    np.testing.assert_allclose(dft, [0, 2000, 4000, 6000, 8000])
    mel = fa.mel_line(64, SR)
    np.testing.assert_allclose(mel, librosa.mel_frequencies(64, fmin=0, fmax=SR / 2), rtol=1e-6)
    assert mel[32] < dft[2]  # mel packs more neurons into low frequencies


def test_energy_line_follows_the_data():
    rng = np.random.default_rng(0)
    n = np.arange(SR)
    audio = np.sin(2 * np.pi * 500 * n / SR)[None] + 0.001 * rng.standard_normal((1, SR))
    power, freqs = fa.average_spectrum(audio, SR)
    line = fa.energy_line(power, freqs, 10)
    assert np.all(np.abs(line - 500) < 50)  # all the energy is at 500 Hz


def test_gallery_finds_each_kind():
    taps = 400
    sine = _sines([2000.0])[0]
    window = np.hanning(taps)
    onset = np.zeros(taps)
    onset[200:] = 1.0
    filters = np.stack([sine, window, onset] + [0.01 * np.random.default_rng(i).standard_normal(taps) for i in range(5)])
    picks = fa.gallery(filters, SR, per_kind=1)
    assert picks == {"sinusoid": [0], "window": [1], "onset": [2]}
    summary = fa.curvature_summary(fa.dft_line(20, SR), SR)
    assert summary["mean_abs_from_dft_hz"] == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="filters"):
        fa.centre_frequencies(np.zeros(10), SR)
    with pytest.raises(ValueError, match="non-finite"):
        fa.centre_frequencies(np.full((3, 8), np.nan), SR)
    with pytest.raises(ValueError, match="n_fft"):
        fa.filter_spectra(np.zeros((3, 2048)), SR, n_fft=1024)
