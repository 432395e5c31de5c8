import librosa
import numpy as np
import pytest

from audioformers.audio import filterbank_analysis as fa

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


def test_weight_change_energy_in_the_patches_principal_components():
    rng = np.random.default_rng(0)
    taps, top = 40, 5
    basis = np.linalg.qr(rng.standard_normal((taps, taps)))[0].T  # orthonormal rows
    patches = (rng.standard_normal((4000, top)) * [5, 4, 3, 2, 1]) @ basis[:top]  # energy in 5 directions only
    values, directions = fa.principal_components(patches)
    assert np.all(np.diff(values) <= 1e-9) and values[top:].max() < 1e-9
    initial = rng.standard_normal((64, taps))
    assert fa.top_energy(initial, directions, top) == pytest.approx(top / taps, abs=0.05)  # random: top / taps
    change = rng.standard_normal((64, top)) @ patches[:top]  # steps in the span of the patches
    assert fa.top_energy(change, directions, top) == pytest.approx(1.0)
    power, freqs = fa.average_spectrum(rng.standard_normal((2, 2048)), SR)
    report = fa.front_end_report(initial, initial + 0.1 * change, patches, power, freqs, SR, top=top)
    assert report["weight_change"]["top_energy"] == pytest.approx(1.0)
    assert report["initial"]["top_energy"] < report["trained"]["top_energy"] < report["weight_change"]["top_energy"]
    assert report["weight_change"]["relative_change"] == pytest.approx(
        np.linalg.norm(0.1 * change) / np.linalg.norm(initial))
    assert report["initial"]["mean_abs_from_energy_hz"] >= 0
    with pytest.raises(ValueError, match="top must be"):
        fa.top_energy(initial, directions, 0)
    with pytest.raises(ValueError, match="differ in shape"):
        fa.front_end_report(initial, initial[:10], patches, power, freqs, SR)
    with pytest.raises(ValueError, match="count must be"):
        fa.random_patches(np.zeros((2, 100)), 40, 0)
    assert fa.random_patches(np.arange(200.0).reshape(2, 100), 40, 7).shape == (7, 40)
