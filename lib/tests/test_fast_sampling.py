"""Tests of audioformers.models.fast_sampling: the compiled sampling loops against the PyTorch decoders.

Small models keep the arithmetic short; the loops compile once per session (cached on disk after).
"""

import numpy as np
import pytest
import torch

from audioformers.models import fast_sampling
from audioformers.models.decoding import Decoder
from audioformers.models.sample_transformer import (
    ConditionEncoderConfig,
    ConditionedSampleTransformer,
    SampleTransformer,
    SampleTransformerConfig,
)
from audioformers.models.wavenet import WaveNet, WaveNetConfig

torch.set_num_threads(1)
pytestmark = pytest.mark.skipif(not fast_sampling.numba_available(), reason="numba is not installed")
TCFG = SampleTransformerConfig(context_length=24, width=16, num_layers=2, num_heads=2)


def spread(model: torch.nn.Module, std: float = 0.3) -> torch.nn.Module:
    """Random weights larger than the initialisation (as after training), so the logits are far from uniform."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * std)
    return model.eval()


def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "wavenet": spread(WaveNet(WaveNetConfig(residual_channels=8, dilation_channels=8, skip_channels=16,
                                                layers_per_stack=3, num_stacks=2))),
        "wavenet_k3": spread(WaveNet(WaveNetConfig(residual_channels=6, dilation_channels=5, skip_channels=7,
                                                   layers_per_stack=2, num_stacks=1, kernel_size=3))),
        "transformer": spread(SampleTransformer(TCFG)),
        "conditioned": spread(ConditionedSampleTransformer(TCFG, ConditionEncoderConfig(
            past_length=32, channels=4, num_layers=2, stride=4, latent_dim=8))),
    }


MODELS = models()


def prompt_for(model: torch.nn.Module, length: int = 20) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, getattr(model, "past_length", 0) + length)


@pytest.mark.parametrize("name", list(MODELS))
def test_teacher_forced_logits_match_pytorch(name):
    """Feeding the same tokens, the compiled loop's logits are within 1e-5 of the PyTorch cached decoder's,
    across the transformer's window refills (24-sample window, 70 tokens fed)."""
    model = MODELS[name]
    forced = np.random.default_rng(6).integers(0, 256, 70)
    fast = fast_sampling.teacher_forced_logits(model, forced, prompt_for(model), backend="numba")
    slow = fast_sampling.teacher_forced_logits(model, forced, prompt_for(model), backend="torch")
    assert fast.shape == slow.shape == (70, 256)
    assert np.abs(slow).max() > 0.5  # not a trivially flat model
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-5)


def test_teacher_forced_wavenet_equals_parallel_forward():
    """Row i predicts the sample after tokens[i]: the same as the parallel forward pass over prompt + tokens."""
    model = MODELS["wavenet"]
    prompt, forced = prompt_for(model), np.random.default_rng(7).integers(0, 256, 30)
    fast = fast_sampling.teacher_forced_logits(model, forced, prompt, backend="numba")
    with torch.no_grad():
        full = model(torch.from_numpy(np.concatenate([prompt, forced]))[None])[0].numpy()  # (P + N, 256)
    np.testing.assert_allclose(fast, full[len(prompt):], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_same_draws_give_same_tokens(name, temperature):
    model = MODELS[name]
    fast = fast_sampling.generate(model, 90, prompt_for(model), temperature=temperature, seed=3, backend="numba")
    slow = fast_sampling.generate(model, 90, prompt_for(model), temperature=temperature, seed=3, backend="torch")
    assert fast.dtype == np.int64 and fast.shape == (90,)
    np.testing.assert_array_equal(fast, slow)
    if temperature > 0:
        assert len(np.unique(fast)) > 5  # it samples, not a constant
        other = fast_sampling.generate(model, 90, prompt_for(model), temperature=temperature, seed=4, backend="numba")
        assert (other != fast).any()


def test_torch_path_is_the_package_decoder():
    """The PyTorch backend feeds decoding.Decoder(cached=True): its logits are the decoder's own."""
    model = MODELS["transformer"]
    prompt, forced = prompt_for(model), np.random.default_rng(8).integers(0, 256, 40)
    got = fast_sampling.teacher_forced_logits(model, forced, prompt, backend="torch")
    decoder = Decoder(model, cached=True)
    with torch.no_grad():
        decoder.reset(torch.from_numpy(prompt)[None])
        want = np.stack([decoder.push(torch.tensor([int(t)]))[0].numpy() for t in forced])
    np.testing.assert_array_equal(got, want)


def test_draws_follow_the_distribution():
    """Inverse-CDF draws: a token whose probability is p is drawn about p of the time."""
    logits = np.log(np.array([0.1, 1e-30, 0.6, 0.3] + [1e-30] * 252)).astype(np.float32)
    draws = np.array([fast_sampling._draw_py(logits, u, 1.0) for u in np.random.default_rng(0).random(4000)])
    counts = np.bincount(draws, minlength=256)[:4] / 4000
    np.testing.assert_allclose(counts, [0.1, 0.0, 0.6, 0.3], atol=0.03)
    assert fast_sampling._draw_py(logits, 0.5, 0.0) == 2


def test_default_prompt_and_bad_inputs():
    assert fast_sampling.generate(MODELS["wavenet"], 5, backend="numba").shape == (5,)
    assert fast_sampling.generate(MODELS["conditioned"], 5, backend="numba").shape == (5,)
    with pytest.raises(TypeError, match="model"):
        fast_sampling.generate(torch.nn.Linear(2, 2), 5)
    with pytest.raises(ValueError, match="num_samples"):
        fast_sampling.generate(MODELS["wavenet"], 0)
    with pytest.raises(ValueError, match="prompt"):
        fast_sampling.generate(MODELS["wavenet"], 5, prompt=[0, 256])
    with pytest.raises(ValueError, match="past"):
        fast_sampling.generate(MODELS["conditioned"], 5, prompt=np.zeros(32, np.int64))
    with pytest.raises(ValueError, match="backend"):
        fast_sampling.generate(MODELS["wavenet"], 5, backend="jax")
    with pytest.raises(ValueError, match="temperature"):
        fast_sampling.generate(MODELS["wavenet"], 5, temperature=-1.0)


def test_without_numba_it_warns_and_falls_back(monkeypatch):
    model = MODELS["wavenet"]
    want = fast_sampling.generate(model, 30, prompt_for(model), seed=2, backend="numba")
    monkeypatch.setattr(fast_sampling, "numba_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="numba is not installed"):
        got = fast_sampling.generate(model, 30, prompt_for(model), seed=2)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ImportError, match="numba"):
        fast_sampling.generate(model, 30, backend="numba")


def test_training_mode_is_restored():
    model = MODELS["transformer"].train()
    fast_sampling.generate(model, 5, backend="numba")
    assert model.training
    model.eval()


def test_real_time_factor_names_bad_arguments():
    from audioformers.models import fast_sampling as fs

    assert fs.real_time_factor(0.5, 8000) == pytest.approx(0.5)
    for kwargs, name in (({"seconds": 0.0}, "seconds"), ({"num_samples": 0}, "num_samples"),
                         ({"sample_rate": 8000.5}, "sample_rate")):
        args = {"seconds": 1.0, "num_samples": 8000, "sample_rate": 8000, **kwargs}
        with pytest.raises((TypeError, ValueError), match=name):
            fs.real_time_factor(**args)
