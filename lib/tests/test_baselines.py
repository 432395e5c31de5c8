"""Tests of audioformers.evaluation.baselines: the bigram table and the linear predictor over 256 mu-law levels."""

import numpy as np
import pytest

from audioformers.evaluation.baselines import (
    BigramTable,
    LinearPredictor,
    choose_linear_order,
    level_edges,
    mean_bits,
)
from audioformers.audio.mulaw import mu_law_decode, mu_law_encode


def ar2(n: int, seed: int, a1: float = 1.6, a2: float = -0.8, noise: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    e = rng.normal(0, noise, n)
    for t in range(2, n):
        x[t] = a1 * x[t - 1] + a2 * x[t - 2] + e[t]
    return x / np.abs(x).max() * 0.9


def test_linear_predictor_recovers_a_known_ar_process():
    tokens = [mu_law_encode(ar2(60_000, s).astype(np.float32), 256) for s in (0, 1)]
    lp = LinearPredictor(order=2).fit(tokens)
    np.testing.assert_allclose(lp.coef[:2], [-0.8, 1.6], atol=0.05)  # oldest first
    assert abs(lp.coef[2]) < 0.01
    # order chosen on validation: an order that cannot express AR(2) loses to one that can
    chosen, scores = choose_linear_order(tokens[:1], tokens[1:], orders=(1, 2, 8), positions=5_000)
    assert chosen.order in (2, 8) and scores[1] > scores[2]


def test_linear_predictor_probabilities_and_scale():
    tokens = [mu_law_encode(ar2(20_000, 3).astype(np.float32), 256)]
    lp = LinearPredictor(order=4).fit(tokens)
    context = np.stack([tokens[0][i : i + 4] for i in range(100, 200)])
    logp = lp.log_probs(context)
    assert logp.shape == (100, 256) and np.all(np.isfinite(logp))
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, atol=1e-9)
    # each level gets the Laplace(prediction, scale) mass of the amplitudes that encode to it
    pred = lp.predict(context)[:, None]
    edges = np.concatenate([[-np.inf], level_edges(), [np.inf]])
    cdf = 0.5 + 0.5 * np.sign(edges - pred) * (1 - np.exp(-np.abs(edges - pred) / lp.scale))
    mass = np.diff(cdf, axis=1)
    big = mass > 1e-6
    np.testing.assert_allclose(np.exp(logp)[big], mass[big], rtol=1e-6)
    # the fitted scale is the mean absolute residual: a noisier process gets a wider error model
    hiss = 0.05 * np.random.default_rng(4).normal(size=20_000)
    noisy = LinearPredictor(order=4).fit([mu_law_encode((0.8 * ar2(20_000, 3) + hiss).astype(np.float32), 256, clip=True)])
    assert noisy.scale > lp.scale


def test_bigram_probabilities_sum_to_one_and_follow_counts():
    seq = np.array([0, 1, 0, 1, 0, 2, 0, 1])
    table = BigramTable(alpha=0.5).fit([seq])
    logp = table.log_probs(np.arange(256)[:, None])
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, atol=1e-12)
    after0 = np.exp(table.log_probs(np.array([[0]])))[0]
    # after 0: three 1s and one 2 among 4 transitions, add-0.5 smoothing over 256 levels
    np.testing.assert_allclose(after0[1], 3.5 / (4 + 128))
    np.testing.assert_allclose(after0[2], 1.5 / (4 + 128))
    assert mean_bits(np.log(np.full((2, 256), 1 / 256)), np.array([3, 7])) == pytest.approx(8.0)


def test_baselines_errors():
    with pytest.raises(ValueError, match="alpha"):
        BigramTable(alpha=0).fit([np.array([1, 2])])
    with pytest.raises(ValueError, match="order"):
        LinearPredictor(order=0).fit([np.array([1, 2, 3])])
    with pytest.raises(ValueError, match="outside 0..255"):
        BigramTable().fit([np.array([1, 300])])
    with pytest.raises(ValueError, match="non-empty list"):
        BigramTable().fit([])
    with pytest.raises(RuntimeError, match="fit"):
        LinearPredictor().log_probs(np.zeros((1, 16), dtype=np.int64))
    lp = LinearPredictor(order=4).fit([np.arange(100) % 256])
    with pytest.raises(ValueError, match="context"):
        lp.log_probs(np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="orders"):
        choose_linear_order([np.arange(100)], [np.arange(100)], orders=(0,))
    assert np.allclose(mu_law_decode(np.array([0, 255])), [-1, 1])
