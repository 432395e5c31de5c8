"""Tests of audioformers.evaluation.probes: separable toy data, source-disjoint splits, summaries."""
import numpy as np
import pytest

from audioformers.evaluation import probes


def test_probe_on_separable_embeddings_is_near_perfect():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    x = np.eye(4)[y] * 5 + rng.normal(scale=0.3, size=(400, 4))
    x = np.concatenate([x, rng.normal(size=(400, 6))], axis=1)
    r = probes.linear_probe(x[:300], y[:300], x[300:], y[300:])
    assert r["test_accuracy"] > 0.98 and r["chance"] < 0.4


def test_source_disjoint_split_never_shares_a_source():
    sources = np.repeat([f"program{i}" for i in range(12)], 7)
    for seed in range(5):
        tr, te = probes.source_disjoint_split(sources, 0.25, seed)
        assert len(tr) + len(te) == len(sources)
        assert not set(sources[tr]) & set(sources[te])
        probes.check_source_disjoint(sources[tr], sources[te])
    with pytest.raises(ValueError, match="both sides"):
        probes.check_source_disjoint(["kitA", "kitB"], ["kitB"])
    with pytest.raises(ValueError, match="two distinct"):
        probes.source_disjoint_split(["a", "a"])


def test_probe_errors_and_summary():
    with pytest.raises(ValueError, match="NaN"):
        probes.linear_probe(np.full((4, 2), np.nan), np.arange(4) % 2, np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="width"):
        probes.linear_probe(np.zeros((4, 2)), np.arange(4) % 2, np.zeros((2, 3)), [0, 1])
    s = probes.summarise({"a": [0.5, 0.7], "b": [0.3]})
    assert s["a"]["mean"] == pytest.approx(0.6) and s["a"]["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert s["b"] == {"mean": 0.3, "std": 0.0, "n": 1}
    assert probes.mel_statistics(np.ones((3, 4, 5))).shape == (3, 8)
