import numpy as np
import pytest
import soundfile as sf

from audioformers.audio.audio_io import AudioError, check_audio, load_audio, peak_normalise, resample, save_audio


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


# --- resampling: anti-aliasing measured with tones -------------------------------------------

def _level_db(x: np.ndarray) -> float:
    """Amplitude of a (steady) signal in dB re a full-scale sine, ignoring the edges."""
    core = x[len(x) // 5: -len(x) // 5]
    return 20 * np.log10(np.sqrt(2 * np.mean(np.square(core, dtype=np.float64))) + 1e-12)


RATE_PAIRS = [(44100, 16000), (32000, 8000), (48000, 22050), (16000, 8000)]


@pytest.mark.parametrize("rate_in, rate_out", RATE_PAIRS)
def test_resample_rejects_tones_above_the_new_nyquist_by_80_db(rate_in, rate_out):
    """scipy's resample_poly default let these through at -14 to -31 dB."""
    from audioformers.data import sources

    nyquist = rate_out / 2
    for factor in (1.01, 1.05, 1.2, 1.5):
        freq = factor * nyquist
        if freq >= rate_in / 2:
            continue
        tone = 2 * _tone(sr=rate_in, seconds=1.0, freq=freq)  # full scale
        for y in (resample(tone, rate_in, rate_out), sources.resample(tone, rate_in, rate_out)):
            assert _level_db(y) < -80, (freq, _level_db(y))
    passed = resample(2 * _tone(sr=rate_in, seconds=1.0, freq=0.8 * nyquist), rate_in, rate_out)
    assert abs(_level_db(passed)) < 0.1  # the pass band is untouched
    assert abs(len(passed) - rate_out) <= 1


def test_load_audio_resampling_rejects_aliases(tmp_path):
    path = tmp_path / "high.wav"
    sf.write(path, 2 * _tone(sr=44100, seconds=1.0, freq=8200.0), 44100, subtype="FLOAT")
    waveform, sr = load_audio(path, sample_rate=16000)
    assert sr == 16000 and _level_db(waveform) < -80


# --- damaged files, overs, bad sample rates ------------------------------------------------------

@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("PCM_24", 2), ("FLOAT", 1)])
def test_truncated_wav_is_an_error_naming_the_file(tmp_path, subtype, channels):
    path = tmp_path / "cut.wav"
    x = _tone(seconds=1.0)
    sf.write(path, np.stack([x] * channels, axis=1), 16000, subtype=subtype)
    full = path.read_bytes()
    path.write_bytes(full[: len(full) // 2])  # an interrupted copy: the header still says 1 s
    with pytest.raises(AudioError, match=r"cut\.wav is truncated.*16000 samples"):
        load_audio(path)
    from audioformers.data import sources

    with pytest.raises(AudioError, match="truncated"):
        sources.read_mono(path)


@pytest.mark.parametrize("fmt", ["flac", "ogg"])
def test_truncated_compressed_file_is_an_error_naming_the_file(tmp_path, fmt):
    path = tmp_path / f"cut.{fmt}"
    sf.write(path, _tone(seconds=1.0), 16000)
    full = path.read_bytes()
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(AudioError, match=rf"cut\.{fmt}.*(damaged or truncated|is truncated)"):
        load_audio(path)


def test_streamed_wav_with_unknown_length_is_read(tmp_path):
    """A WAV whose data size is left as 0xFFFFFFFF (streaming writers) is not called truncated."""
    path = tmp_path / "stream.wav"
    sf.write(path, _tone(), 16000)
    raw = bytearray(path.read_bytes())
    at = raw.find(b"data")
    raw[at + 4: at + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    waveform, _ = load_audio(path)
    assert len(waveform) == 8000


def test_overs_in_a_float_file_are_clipped_with_a_warning(tmp_path):
    path = tmp_path / "hot.wav"
    x = _tone() * 3.2  # peak 1.6
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.warns(UserWarning, match=r"hot\.wav: \d+ samples beyond full scale \(peak 1\.6\)"):
        waveform, _ = load_audio(path)
    assert np.abs(waveform).max() == 1.0
    np.testing.assert_allclose(waveform[np.abs(x) <= 1.0], x[np.abs(x) <= 1.0], atol=1e-6)


def test_full_scale_file_resampled_stays_in_range_without_warning(tmp_path, recwarn):
    path = tmp_path / "square.wav"
    square = np.sign(_tone(sr=44100, freq=441.0)).astype(np.float32)  # overshoots when band-limited
    sf.write(path, square, 44100, subtype="FLOAT")
    waveform, _ = load_audio(path, sample_rate=16000)
    assert np.abs(waveform).max() <= 1.0
    assert not [w for w in recwarn if "full scale" in str(w.message)]


@pytest.mark.parametrize("bad", [-8000, 0, 8000.5, float("nan"), True, "16000", None])
def test_bad_sample_rates_are_rejected_by_name(tmp_path, bad):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(), 16000)
    if bad is not None:
        with pytest.raises(AudioError, match=r"sample_rate must be a positive whole number of Hz"):
            load_audio(path, sample_rate=bad)
    with pytest.raises(AudioError, match=r"target_sr must be a positive whole number"):
        resample(_tone(), 16000, bad)
    with pytest.raises(AudioError, match=r"sample_rate must be a positive whole number"):
        save_audio(tmp_path / "y.wav", _tone(), bad)
    assert not (tmp_path / "y.wav").exists()


def test_whole_number_sample_rates_of_any_type_are_accepted(tmp_path):
    from audioformers.audio.audio_io import check_sample_rate

    assert check_sample_rate(np.int64(8000)) == 8000 and check_sample_rate(16e3) == 16000
    assert check_sample_rate(np.float32(22050.0)) == 22050
    path = tmp_path / "x.wav"
    sf.write(path, _tone(), 16000)
    waveform, sr = load_audio(path, sample_rate=np.int32(8000))
    assert sr == 8000 and type(sr) is int and len(waveform) == 4000
