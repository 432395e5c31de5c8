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


# --- the one-standard-error rule (#32 item 5) ------------------------------------------------------


def test_one_se_picks_the_most_regularised_c_within_one_standard_error_of_the_best():
    # grid ordered strongest regularisation first; 4 held-out units per C
    scores = np.array([[0.50, 0.70, 0.74, 0.70],
                       [0.52, 0.72, 0.76, 0.78],
                       [0.48, 0.68, 0.78, 0.86],
                       [0.50, 0.70, 0.72, 0.74]])
    best = int(np.argmax(scores.mean(0)))
    se = scores[:, best].std(ddof=1) / 2
    assert best == 3 and scores.mean(0)[2] >= scores.mean(0)[3] - se  # index 2 lies within one SE of the best
    assert probes.one_se_index(scores) == 2  # a smaller C than the argmax
    assert scores.mean(0)[1] < scores.mean(0)[3] - se  # and index 1 does not
    # no spread: the SE is zero and the rule is the argmax
    assert probes.one_se_index(np.tile([0.1, 0.5, 0.4], (5, 1))) == 1
    # one unit: no standard error, the best
    assert probes.one_se_index([[0.2, 0.3, 0.1]]) == 1
    # lower is better (a loss): the same rule on the negated scores
    assert probes.one_se_index(-scores, higher_is_better=False) == 2


def test_one_se_refuses_bad_scores():
    with pytest.raises(ValueError, match="scores must be a non-empty"):
        probes.one_se_index([0.1, 0.2])
    with pytest.raises(ValueError, match="scores must be a non-empty"):
        probes.one_se_index(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        probes.one_se_index([[0.1, float("nan")]])
    with pytest.raises(TypeError, match="scores must be numbers"):
        probes.one_se_index([["a", "b"]])
    with pytest.raises(TypeError, match="higher_is_better"):
        probes.one_se_index([[0.1, 0.2]], higher_is_better="yes")
    with pytest.raises(ValueError, match="choices is empty"):
        probes.interior_fraction([])


def test_probe_grid_records_its_rule_and_the_one_se_choice_is_never_weaker_than_the_argmax():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 60)
    x = rng.standard_normal((180, 8)) + 0.8 * np.eye(8)[y]
    tr, va, te = np.arange(0, 180, 3), np.arange(1, 180, 3), np.arange(2, 180, 3)
    grid = probes.C_GRID
    one = probes.probe_grid(x[tr], y[tr], x[va], y[va], x[te], y[te], grid)
    arg = probes.probe_grid(x[tr], y[tr], x[va], y[va], x[te], y[te], grid, rule="argmax")
    assert one["rule"] == "one_se" and arg["rule"] == "argmax"
    assert one["c_index"] <= arg["c_index"]
    assert arg["val_accuracy"] == max(arg["val_by_c"]) == one["best_val_accuracy"]
    se = np.sqrt(arg["val_accuracy"] * (1 - arg["val_accuracy"]) / len(va))
    assert one["val_accuracy"] >= arg["val_accuracy"] - se - 1e-9
    assert one["interior"] == (0 < one["c_index"] < len(grid) - 1)
    with pytest.raises(ValueError, match="rule must be one of"):
        probes.probe_grid(x[tr], y[tr], x[va], y[va], x[te], y[te], grid, rule="best")

