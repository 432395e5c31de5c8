"""The complex STFT, its inverse, COLA, Griffin-Lim, instantaneous frequency and window gains, against
librosa and scipy where they have the same function."""

import librosa
import numpy as np
import pytest
import scipy.signal

from audioformers import stft

RNG = np.random.default_rng(0)
NOISE = (0.3 * RNG.normal(size=6000)).astype(np.float32)


def test_stft_matches_librosa():
    ours = stft.stft(NOISE, n_fft=512, hop_length=128)
    ref = librosa.stft(NOISE.astype(np.float64), n_fft=512, hop_length=128, pad_mode="constant")
    assert ours.shape == ref.shape and np.iscomplexobj(ours)
    assert np.abs(ours - ref).max() < 1e-9 * np.abs(ref).max()


@pytest.mark.parametrize("n_fft,hop", [(512, 128), (400, 160), (256, 64), (512, 200)])
def test_istft_matches_librosa_and_reconstructs(n_fft, hop):
    spec = stft.stft(NOISE, n_fft, hop)
    ours = stft.istft(spec, hop)
    ref = librosa.istft(spec, hop_length=hop, n_fft=n_fft)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-9
    rebuilt = stft.istft(spec, hop, length=len(NOISE))
    assert np.abs(rebuilt - NOISE).max() < 1e-6  # perfect reconstruction (float32 input)


def test_hann_frames_without_overlap_lose_the_samples_where_the_window_is_zero():
    rebuilt = stft.istft(stft.stft(NOISE, 256, 256), 256, length=len(NOISE))
    wrong = np.flatnonzero(np.abs(rebuilt - NOISE) > 1e-6)
    assert wrong.size and np.all(wrong % 256 == 128)  # the frame edges (centre=True shifts them by n_fft/2)


def test_istft_matches_scipy_on_the_interior():
    _, _, ref_spec = scipy.signal.stft(NOISE, nperseg=512, noverlap=384, window="hann", boundary="zeros")
    _, ref = scipy.signal.istft(ref_spec, nperseg=512, noverlap=384, window="hann")
    ours = stft.istft(stft.stft(NOISE, 512, 128), 128, length=len(NOISE))
    assert np.abs(ours - ref[: len(NOISE)]).max() < 1e-6


def test_istft_rejects_bad_input():
    with pytest.raises(ValueError, match="complex"):
        stft.istft(np.ones((257, 4)), 128)
    with pytest.raises(ValueError, match="hop_length"):
        stft.istft(np.ones((257, 4), dtype=complex), 0)
    with pytest.raises(ValueError, match="exceed"):
        stft.stft(NOISE, 256, 512)


@pytest.mark.parametrize("window,n_fft,hop", [("hann", 512, 256), ("hann", 512, 128), ("hann", 512, 200),
                                              ("hann", 512, 384), ("hamming", 512, 256), ("hamming", 512, 100),
                                              ("rectangular", 512, 512), ("rectangular", 512, 300)])
def test_cola_agrees_with_scipy(window, n_fft, hop):
    scipy_window = scipy.signal.get_window("boxcar" if window == "rectangular" else window, n_fft, fftbins=True)
    assert stft.is_cola(window, n_fft, hop) == scipy.signal.check_COLA(scipy_window, n_fft, n_fft - hop)


def test_overlap_add_window_levels():
    assert np.allclose(stft.overlap_add_window("hann", 512, 256), 1.0)
    assert np.allclose(stft.overlap_add_window("hann", 512, 128, power=2), 1.5)
    assert np.ptp(stft.overlap_add_window("hann", 512, 256, power=2)) == pytest.approx(0.5)  # w^2 is not COLA at half overlap


def test_griffin_lim_is_as_good_as_librosa_and_improves_with_iterations():
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1250 * t * (1 + t))).astype(np.float32)
    mag = np.abs(stft.stft(tone, 512, 128))
    convergence = {}
    for n_iter in (2, 32):
        ours = stft.griffin_lim(mag, 128, n_iter=n_iter, length=len(tone))
        convergence[n_iter] = stft.spectral_convergence(mag, np.abs(stft.stft(ours, 512, 128)))
    ref = librosa.griffinlim(mag, n_iter=32, hop_length=128, length=len(tone), random_state=0)
    ref_convergence = stft.spectral_convergence(mag, np.abs(stft.stft(ref, 512, 128)))
    assert convergence[32] < 0.5 * convergence[2]
    assert convergence[32] < 1.5 * ref_convergence


def test_griffin_lim_and_convergence_reject_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        stft.griffin_lim(-np.ones((257, 4)), 128)
    with pytest.raises(ValueError, match="momentum"):
        stft.griffin_lim(np.ones((257, 4)), 128, momentum=1.0)
    with pytest.raises(ValueError, match="all zeros"):
        stft.spectral_convergence(np.zeros((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="bins"):
        stft.spectral_convergence(np.ones((3, 3)), np.ones((4, 3)))


def test_instantaneous_frequency_beats_the_bin_spacing():
    sr, f = 16000, 441.3
    tone = np.sin(2 * np.pi * f * np.arange(sr) / sr).astype(np.float32)
    spec = stft.stft(tone, 512, 128)
    peak = int(np.argmax(np.abs(spec[:, 20])))
    estimate = np.median(stft.instantaneous_frequency(spec, sr, 128)[peak, 5:-5])
    assert abs(peak * sr / 512 - f) > 3  # the bin is off by several Hz
    assert abs(estimate - f) < 0.05


def test_zero_padding_does_not_resolve_two_close_partials():
    sr = 16000
    t = np.arange(sr) / sr
    pair = np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 450 * t)  # in phase at 0.3 s

    def peaks(frame_length, n_fft):
        frame = pair[4800 - frame_length // 2 : 4800 + frame_length // 2]
        freqs, level = stft.padded_spectrum_db(frame, sr, n_fft)
        band = (freqs > 400) & (freqs < 500)
        lv = level[band]
        return int(np.sum((lv[1:-1] > lv[:-2]) & (lv[1:-1] > lv[2:]) & (lv[1:-1] > -20)))

    assert peaks(1024, 1024) == 1
    assert peaks(1024, 16384) == 1  # zero-padding: smoother, still one peak
    assert peaks(4096, 16384) == 2  # a longer frame: two peaks
    with pytest.raises(ValueError, match="at least the frame length"):
        stft.padded_spectrum_db(pair[:1024], sr, 512)


@pytest.mark.parametrize("window,scipy_name", [("hann", "hann"), ("hamming", "hamming"), ("rectangular", "boxcar")])
def test_coherent_gain_matches_scipy_and_corrects_the_peak(window, scipy_name):
    assert stft.coherent_gain(window, 512) == pytest.approx(scipy.signal.get_window(scipy_name, 512).mean(), abs=1e-12)
    tone = 0.7 * np.sin(2 * np.pi * 1000 * np.arange(512) / 16000)  # on bin 32
    _, amplitude = stft.windowed_amplitude(tone, 16000, window)
    assert amplitude.max() == pytest.approx(0.7, rel=1e-6)
    with pytest.raises(ValueError, match="length"):
        stft.coherent_gain(window, 0)


def test_peaks_in_band_counts_resolved_partials():
    sr = 16000
    t = np.arange(sr) / sr
    pair = np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 450 * t)
    frame = pair[4800 - 2048 : 4800 + 2048]
    found = stft.peaks_in_band(frame, sr, 400, 500, n_fft=16384)
    assert len(found) == 2 and abs(found[0] - 440) < 1.5 and abs(found[1] - 450) < 1.5
    assert len(stft.peaks_in_band(pair[4800 - 512 : 4800 + 512], sr, 400, 500, n_fft=16384)) == 1
    with pytest.raises(ValueError, match="low_hz"):
        stft.peaks_in_band(frame, sr, 500, 400)
