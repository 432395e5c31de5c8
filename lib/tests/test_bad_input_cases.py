"""The bad-input cases of issue #28 (item 4), each reproduced by hand: a clear error naming the argument, in seconds.

``lm`` is a (6, 16, 20) float32 log-mel batch, ``cfg`` a small CNN config, ``c = np.arange(40) % 16``.
(``stft.istft`` of case 5 is tested with stft.py; ``coursework grade --timeout nan`` of case 15 with coursework.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from audioformers.models.contrastive import CNNConfig, CNNEncoder


@pytest.fixture(autouse=True)
def _small(one_thread):
    torch.manual_seed(0)


def _lm(nan: bool = False) -> np.ndarray:
    lm = np.random.default_rng(0).normal(-4.0, 1.0, (6, 16, 20)).astype(np.float32)
    if nan:
        lm[2, 3, 4] = np.nan
    return lm


CFG = CNNConfig(n_mels=16, channels=(4, 8), embed_dim=8, projection_dim=4)


def _wavenet(**overrides):
    from audioformers.models.wavenet import WaveNet, WaveNetConfig

    kw = dict(residual_channels=8, dilation_channels=8, skip_channels=8, layers_per_stack=2, num_stacks=1)
    return WaveNet(WaveNetConfig(**{**kw, **overrides})).eval()


def _transformer():
    from audioformers.models.sample_transformer import SampleTransformer, SampleTransformerConfig

    return SampleTransformer(SampleTransformerConfig(context_length=16, width=16, num_layers=1, num_heads=2)).eval()


# 1 -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [-1, 0])
def test_case_1_train_simclr_and_supervised_refuse_a_batch_size_below_one(batch_size):
    from audioformers.models.contrastive import train_simclr, train_supervised

    with pytest.raises(ValueError, match="batch_size"):
        train_simclr(_lm(), CFG, steps=2, batch_size=batch_size, crop_frames=8, device="cpu")
    supervised = CNNConfig(n_mels=16, channels=(4, 8), embed_dim=8, projection_dim=4, num_classes=3)
    with pytest.raises(ValueError, match="batch_size"):
        train_supervised(_lm(), np.arange(6) % 3, supervised, steps=2, batch_size=batch_size, crop_frames=8,
                         device="cpu")


# 2 -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["rate_in", "rate_out"])
def test_case_2_soxr_resample_refuses_a_nan_rate_instead_of_hanging(which):
    from audioformers.audio.audio_io import soxr_resample

    rates = {"rate_in": 16000, "rate_out": 8000, which: math.nan}
    with pytest.raises(ValueError, match=which):
        soxr_resample(np.zeros(100, "float32"), rates["rate_in"], rates["rate_out"])


# 3 -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("grad_clip", [-1.0, 0.0, math.nan])
def test_case_3_fit_refuses_a_grad_clip_that_is_not_positive(grad_clip):
    from audioformers.train.training import fit

    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="grad_clip"):
        fit(model, lambda step: torch.ones(4, 2), lambda m, b: m(b).pow(2).mean(), steps=2, grad_clip=grad_clip,
            device="cpu", progress=False)


# 4 -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("top_k", [(-1,), (0,), (1.5,), ()])
def test_case_4_bigram_accuracy_refuses_a_top_k_outside_one_to_the_classes(top_k):
    from audioformers.audio.mulaw import bigram_next_code_accuracy

    c = np.arange(40) % 16
    with pytest.raises((ValueError, TypeError), match="top_k"):
        bigram_next_code_accuracy([c], [c], 16, top_k=top_k)
    assert bigram_next_code_accuracy([c], [c], 16, top_k=(1, 16, 20))["top20"] == 1.0  # k > C: every class


# 5 -----------------------------------------------------------------------------------------------------------

def test_case_5_one_nan_in_a_log_mel_is_refused_everywhere():
    from audioformers.models.contrastive import pooled_embeddings
    from audioformers.evaluation.probes import mel_statistics
    from audioformers.models.tokenizer import AutoencoderConfig, PatchAutoencoder, encode_patches, make_patches

    bad = _lm(nan=True)
    with pytest.raises(ValueError, match="log_mels"):
        mel_statistics(bad)
    with pytest.raises(ValueError, match="log_mels"):
        make_patches(bad, 2)
    patches = make_patches(_lm(), 2)  # (6, 10, 32)
    patches[0, 0, 0] = np.nan
    autoencoder = PatchAutoencoder(AutoencoderConfig(input_dim=32, hidden_dim=16, bottleneck_dim=4))
    with pytest.raises(ValueError, match="patches"):
        encode_patches(autoencoder, patches, device="cpu")
    model = CNNEncoder(CFG).eval()
    with pytest.raises(ValueError, match="log_mels"):
        pooled_embeddings(model, bad, device="cpu")
    with pytest.raises(ValueError, match="log_mels"), torch.no_grad():
        model(torch.from_numpy(bad))
    assert np.isfinite(pooled_embeddings(model, _lm(), device="cpu")).all()


# 6 -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample_rate", [-8000, 0, math.nan])
def test_case_6_centre_frequencies_refuses_a_sample_rate_that_is_not_positive(sample_rate):
    from audioformers.audio.filterbank_analysis import centre_frequencies

    filters = np.random.default_rng(0).normal(size=(8, 64))
    with pytest.raises(ValueError, match="sample_rate"):
        centre_frequencies(filters, sample_rate, 256)
    assert (centre_frequencies(filters, 8000, 256) >= 0).all()


# 7 -----------------------------------------------------------------------------------------------------------

def test_case_7_step_refuses_float_out_of_range_and_empty_tokens():
    wavenet, transformer = _wavenet(), _transformer()
    for model, state in ((wavenet, wavenet.init_state(1)), (transformer, transformer.init_cache())):
        if model is transformer:
            model.prefill(torch.tensor([[1, 2]]), state)
        with pytest.raises(TypeError, match="token"):
            model.step(torch.tensor([5.7]), state)
        with pytest.raises(ValueError, match="token"):
            model.step(torch.tensor([300]), state)
        with pytest.raises(ValueError, match="token"):
            model.step(torch.zeros(0, dtype=torch.long), state)
        assert model.step(torch.tensor([5]), state).shape == (1, 256)


# 8 -----------------------------------------------------------------------------------------------------------

def test_case_8_evaluate_ce_refuses_float_codes():
    from audioformers.models.code_lm import CodeLM, CodeLMConfig, evaluate_ce

    lm16 = CodeLM(CodeLMConfig(num_codes=16, context_length=16, width=16, num_layers=1, num_heads=2))
    codes = (np.arange(40) % 16).reshape(4, 10)
    with pytest.raises(TypeError, match="codes"):
        evaluate_ce(lm16, codes + 0.5)
    with pytest.raises(ValueError, match="codes"):
        evaluate_ce(lm16, codes + 16)
    assert math.isfinite(evaluate_ce(lm16, codes))


# 9 -----------------------------------------------------------------------------------------------------------

def test_case_9_mean_bits_refuses_a_negative_target():
    from audioformers.evaluation.baselines import mean_bits

    logp = np.log(np.full((2, 256), 1 / 256))
    with pytest.raises(ValueError, match="targets"):
        mean_bits(logp, np.array([-1, 0]))
    assert mean_bits(logp, np.array([3, 0])) == pytest.approx(8.0)


# 10 ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [("layers_per_stack", -1), ("num_classes", 0), ("kernel_size", 2.5)])
def test_case_10_wavenet_config_refuses_sizes_below_one(field, value):
    from audioformers.models.wavenet import WaveNetConfig

    with pytest.raises((ValueError, TypeError), match=field):
        WaveNetConfig(**{field: value})


@pytest.mark.parametrize("field, value", [("num_heads", 0), ("num_heads", 3), ("dropout", math.nan)])
def test_case_10_transformer_configs_refuse_zero_heads_and_bad_dropout(field, value):
    from audioformers.models.code_lm import CodeLMConfig
    from audioformers.models.sample_transformer import SampleTransformerConfig

    for config in (SampleTransformerConfig, CodeLMConfig):
        with pytest.raises(ValueError, match=field):
            config(width=16, **{field: value})


# 11 ----------------------------------------------------------------------------------------------------------

def test_case_11_reading_a_float_wav_that_holds_nan_is_an_error(tmp_path):
    from audioformers.audio.audio_io import read_file
    from audioformers.data.sources import read_mono

    path = tmp_path / "nan.wav"
    x = np.zeros(800, np.float32)
    x[10] = np.nan
    sf.write(str(path), x, 8000, subtype="FLOAT")
    for read in (read_file, read_mono):
        with pytest.raises(ValueError, match=r"nan\.wav.*non-finite"):
            read(path)


# 12 ----------------------------------------------------------------------------------------------------------

def test_case_12_teacher_forced_logits_follows_the_model_classes():
    from audioformers.models.fast_sampling import teacher_forced_logits

    model = _wavenet(num_classes=16)
    tokens = np.arange(10) % 16
    logits = teacher_forced_logits(model, tokens, prompt=np.array([3]), backend="torch")
    with torch.no_grad():
        expected = model(torch.tensor(np.r_[3, tokens])[None])[0, 1:].numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    with pytest.raises(ValueError, match="tokens"):
        teacher_forced_logits(model, np.array([3, 16]), prompt=np.array([3]), backend="torch")


# 13 ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("auc", [1.5, -0.1, math.nan])
def test_case_13_d_prime_refuses_an_auc_outside_zero_one(auc):
    from audioformers.evaluation.metrics import d_prime

    with pytest.raises(ValueError, match="auc"):
        d_prime(auc)
    assert d_prime(0.5) == pytest.approx(0.0)


# 14 ----------------------------------------------------------------------------------------------------------

def test_case_14_unknown_domain_and_model_names_are_refused():
    from audioformers.ch3.experiment import experiment_config, largest_context

    with pytest.raises(ValueError, match="domain"):
        experiment_config("smoke", domain="jazz")
    config = experiment_config("smoke")
    with pytest.raises(ValueError, match="name"):
        largest_context("no-such-model", config, 1e9)
    assert largest_context("wavenet", config, 1e9) > 0


# 15 (first half) ---------------------------------------------------------------------------------------------

def test_case_15_resolve_refuses_a_device_the_machine_does_not_have():
    from audioformers.core.device import resolve

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ValueError, match=r"device 'cuda:7'|device 'cuda:\d+'"):
        resolve(f"cuda:{max(7, count)}")
    with pytest.raises(RuntimeError, match="device"):  # the error is a RuntimeError too, as before
        resolve(f"cuda:{max(7, count)}")
    with pytest.raises(ValueError, match="device"):
        resolve("no-such-device")
    assert resolve("cpu") == torch.device("cpu")
