"""Tests of audioformers.audio.mulaw: agreement with torchaudio and librosa, exact inverse, bad input."""

import librosa
import numpy as np
import pytest
import torch
import torchaudio

from audioformers.audio import mulaw
from audioformers.audio.audio_io import AudioError


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 4000), 0.05 * rng.standard_normal(4000), [-1.0, 0.0, 1.0]])
    return np.clip(x, -1, 1).astype(np.float32)


@pytest.mark.parametrize("channels", [256, 16])
def test_encode_matches_torchaudio(audio, channels):
    ref = torchaudio.functional.mu_law_encoding(torch.from_numpy(audio), channels)
    torch.testing.assert_close(mulaw.mu_law_encode(torch.from_numpy(audio), channels), ref)
    # The numpy path computes in float64, torchaudio in float32: a sample lying on a rounding boundary
    # may land one code apart, nothing else may differ.
    diff = np.abs(mulaw.mu_law_encode(audio, channels) - ref.numpy())
    assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3


@pytest.mark.parametrize("channels", [256, 16])
def test_decode_matches_torchaudio(channels):
    codes = torch.arange(channels)
    ref = torchaudio.functional.mu_law_decoding(codes, channels)
    torch.testing.assert_close(mulaw.mu_law_decode(codes, channels), ref)
    np.testing.assert_allclose(mulaw.mu_law_decode(codes.numpy(), channels), ref.numpy(), atol=1e-6)


def test_companding_curve_matches_librosa(audio):
    y = mulaw.mu_law_compress(audio)
    np.testing.assert_allclose(y, librosa.mu_compress(audio, mu=255, quantize=False), atol=1e-6)
    np.testing.assert_allclose(mulaw.mu_law_expand(y), librosa.mu_expand(y, mu=255, quantize=False), atol=1e-6)
    np.testing.assert_allclose(mulaw.mu_law_expand(y), audio, atol=1e-5)


def test_codes_within_one_of_librosa(audio):
    # librosa quantises with np.digitize (rounding up) onto codes -128..127; torchaudio and we round to nearest.
    ref = librosa.mu_compress(audio, mu=255, quantize=True).astype(np.int64) + 128
    assert np.abs(mulaw.mu_law_encode(audio) - ref).max() <= 1


@pytest.mark.parametrize("channels", [256, 4])
def test_exact_inverse_on_the_code_points(channels):
    codes = np.arange(channels)
    np.testing.assert_array_equal(mulaw.mu_law_encode(mulaw.mu_law_decode(codes, channels), channels), codes)
    t = torch.arange(channels)
    torch.testing.assert_close(mulaw.mu_law_encode(mulaw.mu_law_decode(t, channels), channels), t)


def test_roundtrip_error_is_small_and_relative(audio):
    decoded = mulaw.mu_law_decode(mulaw.mu_law_encode(audio))
    quiet = np.abs(audio) < 0.01
    assert np.abs(decoded - audio)[quiet].max() < 3e-4  # small steps near zero
    assert np.abs(decoded - audio).max() < 0.022  # half the largest step, ln(256) / 255 / 2 * 2


@pytest.mark.parametrize("bad", [[0.0, np.nan], [np.inf, 0.0], [-np.inf]])
def test_non_finite_input_is_rejected(bad):
    with pytest.raises(AudioError, match="non-finite"):
        mulaw.mu_law_encode(np.array(bad))
    with pytest.raises(AudioError, match="non-finite"):
        mulaw.mu_law_encode(torch.tensor(bad), clip=True)


def test_out_of_range_rejected_unless_clip():
    x = np.array([-1.5, 0.0, 1.2])
    with pytest.raises(AudioError, match=r"outside \[-1, 1\]"):
        mulaw.mu_law_encode(x)
    with pytest.raises(AudioError, match="clip=True"):
        mulaw.mu_law_encode(torch.from_numpy(x))
    np.testing.assert_array_equal(mulaw.mu_law_encode(x, clip=True), [0, 128, 255])
    torch.testing.assert_close(mulaw.mu_law_encode(torch.from_numpy(x), clip=True), torch.tensor([0, 128, 255]))


def test_bad_codes_and_channels():
    with pytest.raises(ValueError, match="0..255"):
        mulaw.mu_law_decode(np.array([0, 256]))
    with pytest.raises(TypeError, match="integers"):
        mulaw.mu_law_decode(np.array([0.5]))
    with pytest.raises(ValueError, match="quantization_channels"):
        mulaw.mu_law_encode(np.zeros(3), 1)
    with pytest.raises(AudioError, match="empty"):
        mulaw.mu_law_encode(np.zeros(0))


def test_histogram_and_entropy():
    hist = mulaw.code_histogram(np.array([0, 0, 1, 3]), 4)
    np.testing.assert_allclose(hist, [0.5, 0.25, 0.0, 0.25])
    assert mulaw.entropy_bits(hist) == pytest.approx(1.5)
    assert mulaw.entropy_bits(np.full(256, 1 / 256)) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="0..3"):
        mulaw.code_histogram(np.array([4]), 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_tensors_stay_on_device(audio):
    x = torch.from_numpy(audio).cuda()
    codes = mulaw.mu_law_encode(x)
    assert codes.is_cuda and mulaw.mu_law_decode(codes).is_cuda
    torch.testing.assert_close(codes.cpu(), mulaw.mu_law_encode(torch.from_numpy(audio)))


def test_bigram_model_learns_a_deterministic_sequence():
    ramp = np.tile(np.arange(8), 50)  # 0 1 2 ... 7 0 1 ...: the next code is always known
    counts = mulaw.bigram_counts([ramp], 8)
    assert counts.sum() == len(ramp) - 1 and counts[7, 0] == 49
    scores = mulaw.bigram_next_code_accuracy([ramp], [ramp[:40]], 8, top_k=(1, 2))
    assert scores["top1"] == 1.0 and scores["repeat_previous_top1"] == 0.0
    assert scores["bits_per_sample"] < 0.3  # add-one smoothing keeps some mass elsewhere
    with pytest.raises(ValueError, match="0..7"):
        mulaw.bigram_counts([np.array([9, 1])], 8)
