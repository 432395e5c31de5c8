"""Tests of audioformers.models.code_lm: causality, shapes, learning a predictable sequence."""
import numpy as np
import pytest
import torch

from audioformers.models.code_lm import CodeLM, CodeLMConfig, evaluate_ce, train_code_lm

CFG = CodeLMConfig(num_codes=8, context_length=16, width=32, num_layers=2, num_heads=4, dropout=0.0)

pytestmark = pytest.mark.usefixtures("one_thread")  # small models: one thread is faster on shared cores



def test_next_code_transformer_is_causal():
    torch.manual_seed(0)
    model = CodeLM(CFG).eval()
    codes = torch.randint(0, 8, (2, 16))
    changed = codes.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 8  # change the future
    a, b = model(codes), model(changed)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])
    for sa, sb in zip(model.hidden_states(codes), model.hidden_states(changed)):
        torch.testing.assert_close(sa[:, :10], sb[:, :10])


def test_shapes_and_errors():
    model = CodeLM(CFG)
    codes = torch.randint(0, 8, (3, 12))
    assert model(codes).shape == (3, 12, 8)
    assert len(model.hidden_states(codes)) == CFG.num_layers + 1
    assert model.embed(codes, layer=1).shape == (3, 32)
    with pytest.raises(ValueError, match="codes must lie"):
        model(torch.full((1, 4), 8))
    with pytest.raises(ValueError, match="context_length"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_learns_a_periodic_sequence():
    seq = np.tile(np.array([0, 3, 5, 3]), 4)[None].repeat(32, 0)  # (32, 16)
    model, log = train_code_lm(seq, CFG, steps=150, batch_size=16, lr=3e-3, test_codes=seq, eval_every=150)
    assert log["test_ce"][-1] < 0.2  # chance is log 8 = 2.08 nats
    assert evaluate_ce(model, seq) == pytest.approx(log["test_ce"][-1])
