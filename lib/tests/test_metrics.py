import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from audioformers.evaluation import metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_and_auc_equal_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((200, 6)) < 0.2).astype(int)
    s = np.round(rng.random((200, 6)) + 0.5 * y, 1)  # rounded: many ties
    for c in range(6):
        assert metrics.average_precision(y[:, c], s[:, c]) == pytest.approx(average_precision_score(y[:, c], s[:, c]))
        assert metrics.roc_auc(y[:, c], s[:, c]) == pytest.approx(roc_auc_score(y[:, c], s[:, c]))
    out = metrics.tagging_metrics(y, s)
    assert out["mAP"] == pytest.approx(average_precision_score(y, s, average="macro"))


def test_missing_class_skipped_and_dprime():
    y = np.array([[1, 0], [0, 0], [1, 0]])
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.8, 0.5]])
    out = metrics.tagging_metrics(y, s, classes=["a", "b"])
    assert out["mAP"] == pytest.approx(1.0) and out["per_class_AP"]["b"] is None
    assert metrics.d_prime(0.5) == pytest.approx(0.0)
    assert metrics.d_prime(0.9) == pytest.approx(1.8124, abs=1e-3)


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        metrics.tagging_metrics(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        metrics.tagging_metrics(np.ones((2, 1)), np.array([[np.nan], [0.0]]))
    with pytest.raises(ValueError, match="0/1"):
        metrics.tagging_metrics(np.full((2, 1), 2), np.zeros((2, 1)))
