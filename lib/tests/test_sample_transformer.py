"""Tests of audioformers.models.sample_transformer: causality, KV cache == naive, clear errors."""

from dataclasses import replace

import pytest
import torch

from audioformers.models.sample_transformer import (
    ConditionEncoderConfig,
    ConditionedSampleTransformer,
    SampleTransformer,
    SampleTransformerConfig,
)

torch.set_num_threads(1)
CFG = SampleTransformerConfig(context_length=32, width=32, num_layers=2, num_heads=4)
COND = ConditionEncoderConfig(past_length=64, channels=8, num_layers=2, stride=4, latent_dim=16)


def trained_like(model: ConditionedSampleTransformer) -> ConditionedSampleTransformer:
    """A conditioned model whose condition projection has moved away from its zero start (as after training)."""
    with torch.no_grad():
        model.encoder.to_width.weight.normal_(std=0.1)
    return model


def test_shapes_and_parameters():
    model = SampleTransformer(CFG)
    assert model(torch.randint(0, 256, (2, 32))).shape == (2, 32, 256)
    cond = ConditionedSampleTransformer(CFG, COND)
    assert cond(torch.randint(0, 256, (2, 64 + 20))).shape == (2, 20, 256)
    assert cond.num_parameters() > model.num_parameters()
    assert model.num_parameters(non_embedding=True) < model.num_parameters()


def test_transformer_causal():
    torch.manual_seed(0)
    model = SampleTransformer(CFG).eval()
    tokens = torch.randint(0, 256, (2, 32))
    changed = tokens.clone()
    changed[:, 20:] = (changed[:, 20:] + 7) % 256
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :20], b[:, :20])
    assert not torch.allclose(a[:, 20:], b[:, 20:])


def test_conditioned_causal():
    """Changing future samples (in the window) leaves earlier logits unchanged; the past changes everything."""
    torch.manual_seed(0)
    model = trained_like(ConditionedSampleTransformer(CFG, COND)).eval()
    tokens = torch.randint(0, 256, (2, 64 + 32))
    changed = tokens.clone()
    changed[:, 64 + 10 :] = (changed[:, 64 + 10 :] + 5) % 256
    with torch.no_grad():
        a, b = model(tokens), model(changed)
        past_changed = tokens.clone()
        past_changed[:, :64] = (past_changed[:, :64] + 5) % 256
        c = model(past_changed)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])
    assert not torch.allclose(a[:, :1], c[:, :1])  # the latent of the past reaches position 0


@pytest.mark.parametrize("conditioned", [False, True])
def test_kv_cache_equals_naive(conditioned):
    torch.manual_seed(0)
    model = (trained_like(ConditionedSampleTransformer(CFG, COND)) if conditioned else SampleTransformer(CFG)).eval()
    past = 64 if conditioned else 0
    tokens = torch.randint(0, 256, (2, past + 32))
    with torch.no_grad():
        full = model(tokens)  # (2, 32, 256)
    cache = model.init_cache()
    prompt = 12
    logits = [model.prefill(tokens[:, : past + prompt], cache)]
    for t in range(past + prompt, past + 32):
        logits.append(model.step(tokens[:, t], cache)[:, None])
    torch.testing.assert_close(torch.cat(logits, dim=1), full, rtol=1e-4, atol=1e-5)


def test_conditioned_starts_as_the_plain_transformer():
    """Initialisation parity: with the plain model's weights, the conditioned model's logits are the plain model's
    at initialisation, whatever the past holds; the condition path still receives a gradient, so it can learn."""
    torch.manual_seed(0)
    cond = ConditionedSampleTransformer(CFG, COND)
    plain = SampleTransformer(CFG)
    plain.load_state_dict(cond.transformer.state_dict())
    tokens = torch.randint(0, 256, (3, 64 + 32))
    other_past = tokens.clone()
    other_past[:, :64] = torch.randint(0, 256, (3, 64))
    with torch.no_grad():
        expected = plain(tokens[:, 64:])
        torch.testing.assert_close(cond(tokens), expected, rtol=0, atol=0)
        torch.testing.assert_close(cond(other_past), expected, rtol=0, atol=0)
    cond(tokens).logsumexp(-1).mean().backward()
    assert cond.encoder.to_width.weight.grad.abs().sum() > 0
    # the old default (PyTorch's init of the projection) does not start as the plain model
    torch.manual_seed(0)
    legacy = ConditionedSampleTransformer(CFG, replace(COND, zero_init=False))
    plain.load_state_dict(legacy.transformer.state_dict())
    with torch.no_grad():
        assert not torch.allclose(legacy(tokens), plain(tokens[:, 64:]), atol=1e-3)


def test_bad_input_errors():
    model = SampleTransformer(CFG)
    with pytest.raises(ValueError, match="position table"):
        model(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match="0..255"):
        model(torch.full((1, 4), 300))
    with pytest.raises(ValueError, match="rank"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        SampleTransformer(SampleTransformerConfig(width=30, num_heads=4))
    with pytest.raises(ValueError, match="past_length"):
        ConditionedSampleTransformer(CFG, COND)(torch.zeros(1, 64, dtype=torch.long))
    cache = model.init_cache()
    model.prefill(torch.zeros(1, 32, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="position table"):
        model.step(torch.zeros(1, dtype=torch.long), cache)


@pytest.mark.parametrize("conditioned", [False, True])
def test_explicit_attention_equals_the_fused_path_on_the_same_weights(conditioned):
    """The explicit attention (the (T, T) matrix the chapter's cost measures) gives the fused path's logits and
    gradients on the same weights, over the whole window and through the key/value cache."""
    torch.manual_seed(0)
    explicit_cfg = replace(CFG, attention="explicit")
    if conditioned:
        fused = trained_like(ConditionedSampleTransformer(CFG, COND))
        explicit = ConditionedSampleTransformer(explicit_cfg, COND)
    else:
        fused, explicit = SampleTransformer(CFG), SampleTransformer(explicit_cfg)
    explicit.load_state_dict(fused.state_dict(), strict=True)
    assert all(b.attention == "explicit" for b in (explicit.transformer if conditioned else explicit).blocks)
    past = 64 if conditioned else 0
    tokens = torch.randint(0, 256, (2, past + 32))
    a, b = fused(tokens), explicit(tokens)
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    a.logsumexp(-1).mean().backward()
    b.logsumexp(-1).mean().backward()
    for (name, p), q in zip(fused.named_parameters(), explicit.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
    cache = explicit.eval().init_cache()
    with torch.no_grad():
        steps = [explicit.prefill(tokens[:, : past + 12], cache)]  # a prompt: causal after nothing cached
        steps += [explicit.step(tokens[:, t], cache)[:, None] for t in range(past + 12, past + 32)]
        torch.testing.assert_close(torch.cat(steps, dim=1), fused.eval()(tokens), rtol=1e-4, atol=1e-5)


def test_explicit_attention_function_and_mask():
    from audioformers.models.sample_transformer import causal_mask, explicit_attention

    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 9, 4), torch.randn(2, 3, 9, 4)
    mask = causal_mask(5, 9)
    assert mask.shape == (5, 9) and mask[0, :5].all() and not mask[0, 5:].any() and mask[-1].all()
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(explicit_attention(q, k, v, mask), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="attention"):
        SampleTransformerConfig(attention="flash")
