import numpy as np
import pytest
import soundfile as sf

from audioformers.audio_io import AudioError, check_audio, load_audio, peak_normalise, resample, save_audio


def _tone(sr=16000, seconds=0.5, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_roundtrip_formats_to_mono_float32(tmp_path, fmt):
    stereo = np.stack([_tone(), _tone(freq=220)], axis=1)
    path = tmp_path / f"x.{fmt}"
    sf.write(path, stereo, 16000)
    waveform, sr = load_audio(path)
    assert sr == 16000 and waveform.dtype == np.float32 and waveform.ndim == 1
    assert waveform.shape[0] == stereo.shape[0]
    if fmt != "ogg":  # lossless formats keep the mono mix to 16-bit precision
        np.testing.assert_allclose(waveform, stereo.mean(axis=1), atol=1e-4)


def test_resampling_on_load_gives_the_same_tone(tmp_path):
    """A 440 Hz tone at 44.1 kHz, read at 16 kHz, is the 440 Hz tone sampled at 16 kHz."""
    path = tmp_path / "x.wav"
    sf.write(path, _tone(sr=44100), 44100, subtype="FLOAT")
    waveform, sr = load_audio(path, sample_rate=16000)
    assert sr == 16000 and abs(len(waveform) - 8000) <= 1
    expected = _tone(sr=16000)[: len(waveform)]
    np.testing.assert_allclose(waveform[200:-200], expected[200:-200], atol=2e-3)


def test_missing_unreadable_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio")
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(bad)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(empty)


def test_non_finite_file_is_rejected(tmp_path):
    x = _tone()
    x[10] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="non-finite"):
        load_audio(path)


def test_check_audio_errors():
    with pytest.raises(AudioError, match="rank"):
        check_audio(np.zeros((2, 3)))
    with pytest.raises(AudioError, match="empty"):
        check_audio(np.zeros(0))
    with pytest.raises(AudioError, match="outside"):
        check_audio(np.array([0.5, 1.5]), unit_range=True)
    with pytest.raises(AudioError, match="numeric"):
        check_audio(np.array(["a"]))


def test_save_is_atomic_and_checks_range(tmp_path):
    path = tmp_path / "out.wav"
    with pytest.raises(AudioError):
        save_audio(path, np.array([2.0, 0.0]), 16000)
    assert not path.exists() and not list(tmp_path.iterdir())
    save_audio(path, _tone(), 16000)
    back, sr = load_audio(path)
    assert sr == 16000 and np.max(np.abs(back - _tone())) < 1e-3


def test_resample_and_normalise():
    y = resample(_tone(sr=8000), 8000, 16000)
    assert y.shape == (8000,) and y.dtype == np.float32
    assert np.isclose(np.abs(peak_normalise(_tone())).max(), 0.99)
    with pytest.raises(AudioError, match="silent"):
        peak_normalise(np.zeros(10))
    with pytest.raises(AudioError, match="orig_sr must be a positive whole number"):
        resample(_tone(), 0, 16000)
