"""Tests of audioformers.ch3.experiment, audioformers.models.decoding and audioformers.core.benchmarking (synthetic
tokens; a few training steps)."""

import math

import numpy as np
import pytest
import torch

from audioformers.core import benchmarking
from audioformers.ch3 import experiment as nextsample
from audioformers.ch3.experiment import build_model, experiment_config, next_sample_metrics
from audioformers.models import decoding
from audioformers.models.decoding import Decoder, generate

torch.set_num_threads(1)


def test_metrics_known_values():
    logits = torch.full((4, 256), -10.0)
    logits[torch.arange(4), torch.tensor([1, 2, 3, 4])] = 10.0  # argmax 1, 2, 3, 4
    m = next_sample_metrics(logits, torch.tensor([1, 2, 0, 9]))
    assert m["top1"] == 0.5
    uniform = next_sample_metrics(torch.zeros(10, 256), torch.zeros(10, dtype=torch.long))
    assert math.isclose(uniform["bits_per_sample"], 8.0, rel_tol=1e-6)
    with pytest.raises(ValueError, match="expected logits"):
        next_sample_metrics(torch.zeros(3, 256), torch.zeros(4, dtype=torch.long))


def test_parameter_budget_within_ten_percent_at_book():
    config = experiment_config("book")
    counts = {name: build_model(name, config).num_parameters() for name in nextsample.MODEL_NAMES}
    reference = counts["transformer"]
    assert all(abs(c - reference) / reference <= 0.10 for c in counts.values()), counts


def test_windows_and_inputs_line_up():
    config = experiment_config("smoke")
    tokens = [np.arange(1000) % 256, np.arange(500) % 256]
    windows = torch.from_numpy(nextsample.sample_windows(tokens, 6, nextsample.window_length(config), np.random.default_rng(0)))
    assert windows.shape == (6, nextsample.window_length(config))
    for name in nextsample.MODEL_NAMES:
        model = build_model(name, config)
        inputs, targets = nextsample.model_inputs(model, windows, config)
        assert model(inputs).shape[:2] == targets.shape
        assert torch.equal((inputs[:, -1] + 1) % 256, targets[:, -1])  # targets are the next samples
    with pytest.raises(ValueError, match="as long as"):
        nextsample.sample_windows([np.zeros(10, dtype=np.int64)], 2, 50, np.random.default_rng(0))


@pytest.mark.parametrize("name", nextsample.MODEL_NAMES)
def test_cached_decoder_equals_naive_across_window_restarts(name):
    """Teacher-forced through both decoders for longer than one attention window: same logits."""
    torch.manual_seed(0)
    config = experiment_config("smoke")
    model = build_model(name, config).eval()
    seq = torch.randint(0, 256, (2, config.past_length + 2 * config.context_length))
    prompt_len = config.past_length + 10
    cached, naive = Decoder(model, cached=True), Decoder(model, cached=False)
    a, b = cached.reset(seq[:, :prompt_len]), naive.reset(seq[:, :prompt_len])
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    for t in range(prompt_len, seq.shape[1]):
        a, b = cached.push(seq[:, t]), naive.push(seq[:, t])
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_generate_shapes_and_temperature():
    torch.manual_seed(0)
    config = experiment_config("smoke")
    model = build_model("wavenet", config)
    out = generate(model, torch.randint(0, 256, (1, 20)), 30, temperature=0.8, seed=1)
    assert out.shape == (1, 30) and out.min() >= 0 and out.max() < 256
    again = generate(model, torch.randint(0, 256, (1, 20)), 30, temperature=0.0)
    assert again.shape == (1, 30)
    with pytest.raises(ValueError, match="temperature"):
        decoding.sample_logits(torch.zeros(1, 256), -1.0)


def test_train_one_learns_a_repeating_pattern():
    config = experiment_config("smoke", steps=30, eval_every=0, lr=3e-3, warmup_steps=0)
    pattern = np.tile(np.array([10, 50, 90, 130, 170, 210, 250, 30]), 200)
    window = nextsample.window_length(config)
    test_windows = torch.from_numpy(nextsample.sample_windows([pattern], 4, window, np.random.default_rng(0)))
    run = nextsample.train_one("transformer", config, 0, [pattern], test_windows)
    assert run["final"]["top1"] > 0.5
    assert run["curve"]["tokens"][-1] == 30 * config.batch_size * config.context_length


def test_benchmarking_helpers():
    assert benchmarking.matmul_flops_per_second(n=64, repeats=2) > 0
    assert benchmarking.time_callable(lambda: None, repeats=2) >= 0
    assert benchmarking.mfu(1e6, 10.0, 2e7) == 0.5
    with pytest.raises(ValueError):
        benchmarking.time_callable(lambda: None, repeats=0)


def test_scaling_exponents_recover_power_laws():
    contexts = [256, 512, 1024, 2048]
    cost = {"linear": {"seconds": [1e-3 * t for t in contexts]}, "quadratic": {"seconds": [1e-6 * t * t for t in contexts]}}
    slopes = nextsample.scaling_exponents(contexts, cost)
    assert abs(slopes["linear"] - 1.0) < 1e-9 and abs(slopes["quadratic"] - 2.0) < 1e-9
    with pytest.raises(ValueError, match="two context"):
        nextsample.scaling_exponents([256], cost)


def test_device_windows_are_the_host_windows():
    """Tokens held on an accelerator as uint8 give the same windows, from the same draws, as sample_windows."""
    tokens = [np.random.default_rng(i).integers(0, 256, 500 + 37 * i) for i in range(4)]
    host = nextsample.sample_windows(tokens, 16, 100, np.random.default_rng(5))
    held = nextsample.DeviceWindows(tokens, "cpu:0")  # a device other than the host CPU itself
    assert held.flat.dtype == torch.uint8
    windows = held.sample(16, 100, np.random.default_rng(5))
    assert windows.dtype == torch.int64 and np.array_equal(windows.numpy(), host)
    assert not nextsample.DeviceWindows.fits(tokens, "cpu")  # the host keeps its arrays (no copy)
    assert not nextsample.DeviceWindows.fits([np.array([0, 300])], "cpu:0")  # not 8-bit: not held as uint8


def test_cost_vs_context_times_fused_and_explicit_attention(monkeypatch):
    """The plain-attention row is the transformer built with explicit attention (no patched functions)."""
    import torch.nn.functional as F

    from audioformers.models import sample_transformer

    built = []
    original = nextsample.build_model
    monkeypatch.setattr(nextsample, "build_model",
                        lambda name, config, attention="fused": built.append((name, attention)) or original(name, config, attention))
    calls = {"sdpa": 0}
    sdpa = F.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls["sdpa"] += 1
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", counting)
    config = experiment_config("smoke")
    cost = nextsample.cost_vs_context([16, 32], config, "cpu", repeats=1)
    assert set(cost) == {"wavenet", "transformer", "plain_attention"}
    assert all(len(v["seconds"]) == 2 and min(v["seconds"]) > 0 for v in cost.values())
    assert built == [("wavenet", "fused"), ("transformer", "fused"), ("transformer", "explicit")] * 2
    assert sample_transformer.F.scaled_dot_product_attention is counting  # nothing swapped it out and back
    fused_calls = calls["sdpa"]
    calls["sdpa"] = 0
    model = build_model("transformer", config, attention="explicit")
    model(torch.randint(0, 256, (1, 16)))
    assert fused_calls > 0 and calls["sdpa"] == 0  # the explicit model never calls the fused kernel
