"""Tests of audioformers.audio.signals: agreement with librosa and torchaudio, shapes, errors, device."""

import librosa
import numpy as np
import pytest
import torch
import torchaudio

from audioformers.audio import signals
from audioformers.audio.audio_io import AudioError

SR = 16000


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32)


@pytest.mark.parametrize("n_fft,hop", [(512, 128), (400, 160), (1024, 256)])
def test_stft_magnitude_matches_librosa(noise, n_fft, hop):
    ours = signals.stft_magnitude(noise, n_fft, hop).numpy()
    ref = np.abs(librosa.stft(noise, n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant"))
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_stft_magnitude_matches_torchaudio(noise):
    spec = torchaudio.transforms.Spectrogram(n_fft=512, hop_length=128, power=2.0, pad_mode="reflect")
    ref = spec(torch.from_numpy(noise))
    ours = signals.stft_magnitude(noise, 512, 128, power=2.0, pad_mode="reflect")
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def test_stft_batch_shape(noise):
    batch = torch.from_numpy(np.stack([noise, noise[::-1].copy()]))[:, None]  # (2, 1, T)
    out = signals.stft_magnitude(batch, 256, 64)
    assert out.shape == (2, 1, 129, 1 + SR // 64)
    torch.testing.assert_close(out[0, 0], signals.stft_magnitude(noise, 256, 64))


@pytest.mark.parametrize("n_fft,n_mels,fmin,fmax", [(400, 64, 0.0, None), (2048, 128, 50.0, 7000.0)])
def test_mel_filterbank_matches_librosa(n_fft, n_mels, fmin, fmax):
    ours = signals.mel_filterbank(SR, n_fft, n_mels, fmin, fmax)
    ref = librosa.filters.mel(sr=SR, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)


def test_mel_filterbank_matches_torchaudio():
    ref = torchaudio.functional.melscale_fbanks(201, 0.0, SR / 2, 64, SR, norm="slaney", mel_scale="slaney")  # (freq, mels)
    np.testing.assert_allclose(signals.mel_filterbank(SR, 400, 64), ref.T.numpy(), rtol=1e-4, atol=1e-6)


def test_log_mel_matches_librosa_and_torchaudio(noise):
    ours = signals.log_mel_spectrogram(noise, SR).numpy()
    mel = librosa.feature.melspectrogram(y=noise, sr=SR, n_fft=400, hop_length=160, n_mels=64, pad_mode="constant")
    np.testing.assert_allclose(ours, np.log(mel + 1e-6), atol=1e-3)
    transform = torchaudio.transforms.MelSpectrogram(
        SR, n_fft=400, hop_length=160, n_mels=64, norm="slaney", mel_scale="slaney", pad_mode="constant"
    )
    np.testing.assert_allclose(ours, torch.log(transform(torch.from_numpy(noise)) + 1e-6).numpy(), atol=1e-3)


def test_power_to_db_matches_librosa(noise):
    power = signals.stft_magnitude(noise, 512, 128, power=2.0).numpy()
    np.testing.assert_allclose(signals.power_to_db(power), librosa.power_to_db(power, ref=np.max), atol=1e-3)


def test_mfcc_matches_librosa(noise):
    ours = signals.mfcc(noise, SR, n_mfcc=20).numpy()
    ref = librosa.feature.mfcc(y=noise, sr=SR, n_mfcc=20)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-3 * np.abs(ref).max())


def test_dft_amplitude_reads_off_sinusoids():
    x = signals.sum_of_sinusoids([440.0, 1000.0, 2500.0], [1.0, 0.5, 0.25], SR, 1.0)
    freqs, amplitude = signals.dft_amplitude(x, SR)
    peaks = signals.find_peaks_hz(freqs, amplitude, 3)
    np.testing.assert_allclose([p[0] for p in peaks], [440.0, 1000.0, 2500.0])
    np.testing.assert_allclose([p[1] for p in peaks], [1.0, 0.5, 0.25], atol=1e-5)


def test_square_wave_partial_sums_converge_with_gibbs_overshoot():
    sr, f = 200_000, 50.0
    square = signals.square_wave(f, sr, 0.02)
    errors = [np.mean(np.abs(signals.square_wave_partial_sum(f, sr, 0.02, n) - square)) for n in (1, 5, 50)]
    assert errors[0] > errors[1] > errors[2]
    peak = signals.square_wave_partial_sum(f, sr, 0.02, 200).max()
    assert 1.17 < peak < 1.19  # Gibbs: about 9% of the jump of 2 overshoots, whatever the number of terms
    freqs, amplitude = signals.dft_amplitude(square, sr)
    for k in (1, 3, 5):
        assert amplitude[np.argmin(np.abs(freqs - k * f))] == pytest.approx(4 / (np.pi * k), rel=0.01)
    assert amplitude[np.argmin(np.abs(freqs - 2 * f))] < 5e-3  # no even harmonics (sampling the jumps leaves a trace)


def test_square_wave_partial_sum_refuses_harmonics_at_or_above_nyquist():
    # 200 Hz at 16 kHz: odd harmonics 1, 3, ..., 39 (7,800 Hz) fit below 8 kHz, 20 of them; the 21st (41 x 200 = 8,200 Hz)
    # would fold onto 7,800 Hz with its sign inverted and cancel it (the chapter once played "40 harmonics" this way).
    twenty = signals.square_wave_partial_sum(200.0, 16000, 0.1, 20)
    freqs, amplitude = signals.dft_amplitude(twenty, 16000)
    assert amplitude[np.argmin(np.abs(freqs - 39 * 200))] == pytest.approx(4 / (np.pi * 39), rel=1e-3)
    for too_many in (21, 40):
        with pytest.raises(ValueError, match="at most 20 odd harmonics of 200 Hz fit"):
            signals.square_wave_partial_sum(200.0, 16000, 0.1, too_many)
    # a harmonic exactly at Nyquist samples to zeros: it does not count as fitting
    with pytest.raises(ValueError, match="at most 2 odd harmonics"):
        signals.square_wave_partial_sum(1000.0, 10000, 0.01, 3)  # 5 x 1000 Hz = 5000 Hz = Nyquist
    assert signals.square_wave_partial_sum(1000.0, 10000, 0.01, 2).shape == (100,)
    for bad in (0.0, -50.0, float("nan")):
        with pytest.raises(ValueError, match="frequency_hz"):
            signals.square_wave_partial_sum(bad, 16000, 0.1, 1)
    with pytest.raises(ValueError, match="num_harmonics"):
        signals.square_wave_partial_sum(200.0, 16000, 0.1, 0)


def test_frame_signal():
    x = np.arange(10, dtype=np.float32)
    frames = signals.frame_signal(x, 4, 3)
    np.testing.assert_array_equal(frames, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    with pytest.raises(ValueError, match="shorter than one frame"):
        signals.frame_signal(x, 20, 1)


def test_window_leakage_textbook_values():
    rect, hann, hamming = (signals.window_leakage(name) for name in ("rectangular", "hann", "hamming"))
    assert rect["highest_sidelobe_db"] == pytest.approx(-13.26, abs=0.1)
    assert hann["highest_sidelobe_db"] == pytest.approx(-31.47, abs=0.1)
    assert hamming["highest_sidelobe_db"] == pytest.approx(-42.7, abs=0.3)
    assert rect["mainlobe_halfwidth_bins"] == pytest.approx(1.0, abs=0.01)
    assert hann["mainlobe_halfwidth_bins"] == pytest.approx(2.0, abs=0.01)


def test_cqt_peaks_at_the_tone_and_shifts_with_pitch():
    freqs = signals.cqt_frequencies(32.70, 84)
    np.testing.assert_allclose(freqs, librosa.cqt_frequencies(n_bins=84, fmin=32.70))
    for midi in (57, 69):  # A3, A4
        tone = librosa.tone(librosa.midi_to_hz(midi), sr=SR, duration=1.0)
        spectrum = signals.cqt_magnitude(tone, SR)[:, 31]
        assert int(spectrum.argmax()) == midi - 24  # bin 0 is C1 = MIDI 24
        assert float(spectrum.max()) == pytest.approx(0.5, rel=0.02)
    # A harmonic tone an octave up is the same pattern shifted by 12 bins.
    low = signals.cqt_magnitude(signals.sum_of_sinusoids([220, 440, 660], [1, 0.5, 0.3], SR, 1.0), SR)[:, 31]
    high = signals.cqt_magnitude(signals.sum_of_sinusoids([440, 880, 1320], [1, 0.5, 0.3], SR, 1.0), SR)[:, 31]
    assert np.corrcoef(low[45:72].numpy(), high[57:84].numpy())[0, 1] > 0.95


@pytest.mark.filterwarnings("ignore:n_fft=.*is too large")  # librosa.cqt on its lowest octaves of a 1 s clip
def test_cqt_resembles_librosa():
    y = signals.sum_of_sinusoids([261.6, 523.3, 784.0, 1046.5], [1, 0.6, 0.4, 0.3], SR, 1.0)
    ours = signals.cqt_magnitude(y, SR, hop_length=512).numpy()[:, 5:-5]
    ref = np.abs(librosa.cqt(y, sr=SR, hop_length=512, fmin=32.70, n_bins=84))[:, 5:-5]
    assert ours.shape == ref.shape
    assert np.corrcoef(ours.mean(1), ref.mean(1))[0, 1] > 0.95
    np.testing.assert_array_equal(np.sort(np.argsort(ours.mean(1))[-4:]), np.sort(np.argsort(ref.mean(1))[-4:]))


def test_aliasing_helpers():
    assert float(signals.alias_frequency(7000, 8000)) == pytest.approx(1000)
    assert float(signals.alias_frequency(3000, 8000)) == pytest.approx(3000)
    x = signals.sum_of_sinusoids([3000.0], [1.0], SR, 0.5)
    y = signals.downsample_naive(x, 4)  # 4 kHz: 3 kHz folds to 1 kHz
    freqs, amplitude = signals.dft_amplitude(y, SR // 4)
    assert freqs[amplitude.argmax()] == pytest.approx(1000.0)
    with pytest.raises(ValueError, match="positive integer"):
        signals.downsample_naive(x, 0)


@pytest.mark.parametrize("bad", [np.array([0.0, np.nan, 0.1], dtype=np.float32), np.zeros(0, dtype=np.float32)])
def test_bad_input_is_rejected(bad):
    with pytest.raises(AudioError):
        signals.stft_magnitude(bad)
    with pytest.raises(AudioError):
        signals.cqt_magnitude(torch.from_numpy(bad), SR)


def test_bad_parameters_are_rejected(noise):
    with pytest.raises(ValueError, match="unknown window"):
        signals.stft_magnitude(noise, window="kaiser")
    with pytest.raises(ValueError, match="Nyquist"):
        signals.mel_filterbank(SR, 400, fmax=9000.0)
    with pytest.raises(ValueError, match="Nyquist"):
        signals.cqt_magnitude(noise, SR, fmin=1000.0, n_bins=84)
    with pytest.raises(ValueError, match="n_mfcc"):
        signals.mfcc(noise, SR, n_mfcc=200)


@pytest.mark.parametrize("call, name", [
    (lambda x: signals.stft_magnitude(x, power=float("nan")), "power"),
    (lambda x: signals.stft_magnitude(x, power=0.0), "power"),
    (lambda x: signals.stft_magnitude(x, pad_mode="mirror"), "pad_mode"),
    (lambda x: signals.log_mel_spectrogram(x, SR, eps=0.0), "eps"),
    (lambda x: signals.log_mel_spectrogram(x, SR, eps=float("inf")), "eps"),
    (lambda x: signals.mfcc(x, SR, top_db=float("nan")), "top_db"),
    (lambda x: signals.mfcc(x, SR, top_db=-1.0), "top_db"),
    (lambda x: signals.power_to_db(np.abs(x), top_db=float("inf")), "top_db"),
    (lambda x: signals.cqt_magnitude(x, SR, fmin=float("nan")), "fmin"),
    (lambda x: signals.cqt_magnitude(x, SR, fmin=0.0), "fmin"),
    (lambda x: signals.cqt_frequencies(-32.7, 12), "fmin"),
], ids=["power-nan", "power-0", "pad_mode", "eps-0", "eps-inf", "top_db-nan", "top_db-neg", "db-top_db-inf",
        "fmin-nan", "fmin-0", "cqt_frequencies-fmin"])
def test_bad_settings_are_a_clear_error_naming_them(noise, call, name):
    """Each was a NaN/inf result or a library's message (a bare 'negative dimensions', 'Unrecognised padding mode')."""
    with pytest.raises((ValueError, TypeError), match=name):
        call(noise)
    assert signals.stft_magnitude(noise, pad_mode="reflect", power=2.0).shape[0] == 257


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_outputs_stay_on_the_input_device_and_agree(noise):
    x = torch.from_numpy(noise)
    for fn in (lambda t: signals.stft_magnitude(t, 512, 128), lambda t: signals.log_mel_spectrogram(t, SR),
               lambda t: signals.cqt_magnitude(t, SR), lambda t: signals.mfcc(t, SR)):
        on_gpu = fn(x.cuda())
        assert on_gpu.is_cuda
        torch.testing.assert_close(on_gpu.cpu(), fn(x), rtol=1e-3, atol=1e-3)


@pytest.mark.filterwarnings("ignore:Empty filters detected")
@pytest.mark.parametrize("n_fft", [255, 400, 401, 511, 1023])
@pytest.mark.parametrize("htk", [False, True])
def test_mel_filterbank_equals_librosa_for_every_parameter(n_fft, htk):
    """Odd n_fft included: the filters sit on the true DFT bin frequencies k * sr / n_fft."""
    for sr, n_mels, fmin, fmax, norm in [(16000, 64, 0.0, None, "slaney"), (22050, 128, 30.0, 8000.0, None),
                                         (8000, 20, 50.0, 3500.0, 1), (16000, 40, 0.0, 5000.0, 2),
                                         (44100, 80, 20.0, None, np.inf), (16000, 128, 0.0, None, "slaney")]:
        ours = signals.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk, norm=norm)
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6 * np.abs(ref).max(),
                                   err_msg=f"sr={sr} n_fft={n_fft} n_mels={n_mels} fmin={fmin} fmax={fmax} norm={norm}")


def test_mel_filterbank_rejects_bad_norm_and_sizes():
    with pytest.raises(ValueError, match="norm"):
        signals.mel_filterbank(SR, 400, norm="area")
    with pytest.raises(ValueError, match="n_mels"):
        signals.mel_filterbank(SR, 400, n_mels=0)
    with pytest.raises(TypeError, match="n_fft"):
        signals.mel_filterbank(SR, 400.5)


@pytest.mark.parametrize("seconds, hop", [(1.0, 160), (1.0, 256), (0.5, 100), (1.0, 333)])
def test_cqt_has_as_many_frames_as_the_stft(seconds, hop):
    x = np.random.default_rng(0).standard_normal(int(seconds * SR)).astype(np.float32)
    cqt = signals.cqt_magnitude(x, SR, hop_length=hop)
    stft = signals.stft_magnitude(x, 512, hop)
    assert cqt.shape[-1] == stft.shape[-1] == 1 + len(x) // hop
