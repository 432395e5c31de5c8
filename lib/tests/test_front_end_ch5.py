"""Chapter 5's mechanism studies as read from results (ch5.mechanisms): the front end's task dependence against the
spread between seeds, and Haar − average on the time-scale task over seeds × held-out kits; the committed book
records hold what issue 32 asks for and are read without running anything."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audioformers.ch5 import mechanisms as mech
from audioformers.evaluation import evidence as ev

COMMITTED = Path(__file__).resolve().parents[2] / "results" / "ch5"
RANKS = np.linspace(0, 1, 64)


def _run(level_hz: float, accuracy: float = 0.6) -> dict:
    """A run whose sorted weight-change curve rises from 20 Hz to about ``level_hz`` · 8."""
    return {"accuracy": accuracy, "curves": {"weight_change": (20 + level_hz * 8 * RANKS ** 2).tolist()}}


def _tasks(family: list[float], pitch: list[float], accuracy: float = 0.6) -> dict:
    return {"family": {str(i): _run(v, accuracy) for i, v in enumerate(family)},
            "pitch": {str(i): _run(v, accuracy) for i, v in enumerate(pitch)}}


def test_centre_hz_is_a_geometric_mean_with_a_floor():
    assert mech.centre_hz([100.0, 400.0]) == pytest.approx(200.0)
    assert mech.centre_hz([0.0, 20.0]) == pytest.approx(20.0)  # a DC-like filter counts as the floor
    for bad in ([], [[1.0]], [float("nan")], [-5.0]):
        with pytest.raises(ValueError, match="curve"):
            mech.centre_hz(bad)


def test_a_task_difference_beyond_the_seed_spread_is_reproduced():
    td = mech.read_task_dependence(_tasks([400, 410, 395], [200, 205, 198]), chance=1 / 12)
    assert td["verdict"] == ev.REPRODUCED and td["low"] > 0
    assert td["difference_in_seed_sds"] > 10 and td["curves_separated"] is True
    assert len(td["centre_hz"]["family"]) == 3 and td["seeds"] == [0, 1, 2]
    # the other direction is the same claim (the paper names no direction)
    assert mech.read_task_dependence(_tasks([200, 205, 198], [400, 410, 395]), chance=1 / 12)["verdict"] == ev.REPRODUCED


def test_a_task_difference_inside_the_seed_spread_is_inconclusive():
    """Family and pitch 30 Hz apart on average while seeds on one task differ by hundreds: not established."""
    td = mech.read_task_dependence(_tasks([400, 150, 650], [300, 250, 550]), chance=1 / 12)
    assert td["verdict"] == ev.INCONCLUSIVE and td["low"] < 0 < td["high"]
    assert td["curves_separated"] is False
    assert max(td["curve_distance_hz"]["within_family"]) > max(td["curve_distance_hz"]["between_tasks"])


def test_a_model_at_chance_makes_it_not_yet_evidence():
    td = mech.read_task_dependence(_tasks([400, 410, 395], [200, 205, 198], accuracy=1 / 12), chance=1 / 12)
    assert td["verdict"] == ev.NOT_YET_EVIDENCE


def test_task_dependence_needs_two_paired_seeds_and_refuses_bad_input():
    assert mech.read_task_dependence(_tasks([400], [200]), chance=0.1) is None
    with pytest.raises(ValueError, match="runs"):
        mech.read_task_dependence({"family": {}}, chance=0.1)
    with pytest.raises(ValueError, match="chance"):
        mech.read_task_dependence(_tasks([1, 2], [1, 2]), chance=1.5)


def _scores(haar: np.ndarray, average: np.ndarray) -> dict:
    kits = [f"kit{j}" for j in range(haar.shape[1])]
    return {m: {str(i): dict(zip(kits, row.tolist())) for i, row in enumerate(x)}
            for m, x in (("transformer-haar", haar), ("transformer-average", average))}


def test_time_scale_reading_uses_the_two_level_interval_over_seeds_and_kits():
    rng = np.random.default_rng(0)
    average = 0.7 + 0.05 * rng.standard_normal((10, 8))
    td = mech.read_time_scale(_scores(average + 0.1, average), prior=1 / 3)
    assert td["verdict"] == ev.REPRODUCED and td["test_sources"] == 8 and len(td["seeds"]) == 10
    assert "two-level t interval over 10 seeds × 8 test sources" in td["method"]
    assert td["difference"] == pytest.approx(0.1) and len(td["per_seed"]) == 10 and len(td["per_kit"]) == 8
    noisy = mech.read_time_scale(_scores(average + 0.3 * rng.standard_normal((10, 8)), average), prior=1 / 3)
    assert noisy["verdict"] in (ev.INCONCLUSIVE, ev.NOT_YET_EVIDENCE)


def test_time_scale_models_not_above_the_prior_are_not_yet_evidence():
    chance = np.full((10, 8), 1 / 3) + np.random.default_rng(1).normal(0, 0.01, (10, 8))
    td = mech.read_time_scale(_scores(chance + 0.5, chance), prior=1 / 3)
    assert td["verdict"] == ev.NOT_YET_EVIDENCE  # Haar is far ahead, but average has learned nothing
    with pytest.raises(ValueError, match="prior"):
        mech.read_time_scale(_scores(chance, chance), prior=3)
    with pytest.raises(TypeError, match="scores"):
        mech.read_time_scale([1, 2], prior=0.3)
    assert mech.read_time_scale({"transformer-haar": {}}, prior=0.3) is None


# --- the committed book records ----------------------------------------------------------------------

def _committed(name: str) -> dict:
    return json.loads((COMMITTED / f"{name}.book.json").read_text())


def test_the_committed_time_scale_study_has_ten_seeds_and_six_kits_per_seed_and_kit():
    record = _committed("time_scale")
    ts = record["metrics"]["time_scale"]
    assert len(record["config"]["seeds"]) >= 10 and len(record["config"]["test_kits"]) >= 6
    for model in mech.TIME_SCALE_MODELS:
        assert len(ts["scores"][model]) >= 10
        assert all(len(kits) >= 6 for kits in ts["scores"][model].values())
    again = mech.read_time_scale(ts["scores"], ts["baselines"]["prior"])
    assert again["difference"] == pytest.approx(ts["comparison"]["difference"])
    assert again["verdict"] == ts["comparison"]["verdict"] and ts["comparison"]["budget"]


def test_the_committed_front_end_has_three_seeds_per_task_read_against_the_seed_spread():
    record = _committed("front_end")
    m = record["metrics"]
    assert all(len(m["tasks"][t]) >= 3 for t in mech.TASKS)
    td = mech.read_task_dependence(m["tasks"], 1 / 12)
    assert td["difference"] == pytest.approx(m["task_dependence"]["difference"])
    assert td["verdict"] == m["task_dependence"]["verdict"]
    assert m["soundmix"] and m["distance_to_energy_hz"]["trained"]  # the soundmix part is kept
