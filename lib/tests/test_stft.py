"""The complex STFT, its inverse, COLA, Griffin-Lim, instantaneous frequency and window gains, against
librosa and scipy where they have the same function."""

import librosa
import numpy as np
import pytest
import scipy.signal

from audioformers.audio import stft

RNG = np.random.default_rng(0)
NOISE = (0.3 * RNG.normal(size=6000)).astype(np.float32)


def test_stft_matches_librosa():
    ours = stft.stft(NOISE, n_fft=512, hop_length=128)
    ref = librosa.stft(NOISE.astype(np.float64), n_fft=512, hop_length=128, pad_mode="constant")
    assert ours.shape == ref.shape and np.iscomplexobj(ours)
    assert np.abs(ours - ref).max() < 1e-9 * np.abs(ref).max()


@pytest.mark.parametrize("n_fft,hop", [(512, 128), (400, 160), (256, 64), (512, 200)])
def test_istft_without_n_fft_assumes_an_even_size(n_fft, hop):
    spec = stft.stft(NOISE, n_fft, hop)
    ours = stft.istft(spec, hop)
    ref = librosa.istft(spec, hop_length=hop, n_fft=n_fft)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-9
    rebuilt = stft.istft(spec, hop, length=len(NOISE))
    assert np.abs(rebuilt - NOISE).max() < 1e-6  # perfect reconstruction (float32 input)


WINDOWS = {"hann": "hann", "hamming": "hamming", "rectangular": "boxcar"}  # ours -> scipy/librosa name


@pytest.mark.parametrize("n_fft", [512, 511, 1023, 255, 400, 401])
@pytest.mark.parametrize("window,hop_fraction", [("hann", 4), ("hann", 2.5), ("hamming", 2), ("hamming", 3),
                                                 ("rectangular", 1), ("rectangular", 1.7)])
def test_istft_matches_librosa_for_odd_and_even_sizes(n_fft, window, hop_fraction):
    hop = int(n_fft // hop_fraction)
    spec = stft.stft(NOISE, n_fft, hop, window)
    assert spec.shape[0] == n_fft // 2 + 1
    ref_spec = librosa.stft(NOISE.astype(np.float64), n_fft=n_fft, hop_length=hop, window=WINDOWS[window],
                            pad_mode="constant")
    assert np.abs(spec - ref_spec).max() < 1e-9 * np.abs(ref_spec).max()
    ours = stft.istft(spec, hop, window, n_fft=n_fft)
    ref = librosa.istft(spec, hop_length=hop, n_fft=n_fft, window=WINDOWS[window])
    assert ours.shape == ref.shape  # the same default length (one sample more for an odd n_fft)
    assert np.abs(ours - ref).max() < 1e-9
    for length in (len(NOISE), len(NOISE) - 37, len(NOISE) + 300):
        ours = stft.istft(spec, hop, window, length=length, n_fft=n_fft)
        ref = librosa.istft(spec, hop_length=hop, n_fft=n_fft, window=WINDOWS[window], length=length)
        assert ours.shape == ref.shape == (length,) and np.abs(ours - ref).max() < 1e-9
    covered = stft.istft(spec, hop, window, n_fft=n_fft)  # the frames reach this far (a rectangular hop of
    assert np.abs(covered - NOISE[: len(covered)]).max() < 1e-6  # a whole frame can stop short of the end)


@pytest.mark.parametrize("n_fft", [1023, 255, 511])
@pytest.mark.parametrize("hop_fraction", [4, 2, 3.3])
def test_odd_size_round_trip_is_exact(n_fft, hop_fraction):
    x = np.random.default_rng(0).standard_normal(8000)
    hop = int(n_fft // hop_fraction)
    rebuilt = stft.istft(stft.stft(x, n_fft, hop), hop, length=len(x), n_fft=n_fft)
    assert np.abs(rebuilt - x).max() < 1e-10
    # what issue #33 found: without n_fft the rows read as an even frame of n_fft - 1 samples, and the audio is wrong
    assert np.abs(stft.istft(stft.stft(x, n_fft, hop), hop, length=len(x)) - x).max() > 0.1


def test_istft_with_a_window_array_matches_librosa():
    n_fft, hop = 301, 75
    window = scipy.signal.get_window("blackman", n_fft, fftbins=True)
    spec = stft.stft(NOISE, n_fft, hop, window)
    ours = stft.istft(spec, hop, window, n_fft=n_fft)
    assert np.abs(ours - librosa.istft(spec, hop_length=hop, n_fft=n_fft, window=window)).max() < 1e-9
    assert np.abs(stft.istft(spec, hop, window, length=len(NOISE), n_fft=n_fft) - NOISE).max() < 1e-6


def test_griffin_lim_and_instantaneous_frequency_take_an_odd_n_fft():
    sr, f = 16000, 441.3
    tone = np.sin(2 * np.pi * f * np.arange(sr) / sr)
    spec = stft.stft(tone, 511, 128)
    peak = int(np.argmax(np.abs(spec[:, 20])))
    assert abs(np.median(stft.instantaneous_frequency(spec, sr, 128, n_fft=511)[peak, 5:-5]) - f) < 0.05
    estimate = stft.griffin_lim(np.abs(spec), 128, n_iter=4, length=len(tone), n_fft=511)
    assert estimate.shape == tone.shape and np.all(np.isfinite(estimate))
    with pytest.raises(ValueError, match="n_fft=512 gives 257"):
        stft.griffin_lim(np.abs(spec), 128, n_fft=512)


def test_istft_rejects_an_impossible_combination():
    spec = stft.stft(NOISE, 511, 128)  # 256 rows
    with pytest.raises(ValueError, match="n_fft=512 gives 257 frequency rows, but the spectrogram has 256"):
        stft.istft(spec, 128, n_fft=512)
    with pytest.raises(ValueError, match="n_fft must be a positive integer"):
        stft.istft(spec, 128, n_fft=510.0)
    with pytest.raises(ValueError, match="hop_length .600. must not exceed n_fft .511."):
        stft.istft(spec, 600, n_fft=511)
    with pytest.raises(ValueError, match="window has 512 samples but n_fft is 511"):
        stft.istft(spec, 128, np.hanning(512), n_fft=511)
    with pytest.raises(ValueError, match="window has 512 samples but n_fft is 511"):
        stft.stft(NOISE, 511, 128, np.hanning(512))
    with pytest.raises(ValueError, match="NOLA"):  # a Hann window is zero at the frame edges: no overlap, no inverse
        stft.istft(stft.stft(NOISE, 256, 256), 256, n_fft=256)
    with pytest.raises(ValueError, match="NOLA"):
        stft.istft(stft.stft(NOISE, 256, 200, np.r_[np.zeros(100), np.ones(156)]), 200, np.r_[np.zeros(100), np.ones(156)])
    with pytest.raises(ValueError, match="length"):
        stft.istft(spec, 128, length=-1, n_fft=511)


@pytest.mark.parametrize("bad", [np.nan, np.inf, complex(0, -np.inf)])
def test_istft_refuses_nan_or_inf_bins(bad):
    spec = stft.stft(NOISE, 512, 128)
    spec[40, 7] = bad
    with pytest.raises(ValueError, match=r"spectrogram holds 1 NaN or inf bin\(s\) \(the first at row 40, frame 7\)"):
        stft.istft(spec, 128)


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
