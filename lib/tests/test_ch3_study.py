"""Tests of chapter 3's study (audioformers.ch3.study and the parts it calls: scoring, tuning, comparison,
context_use, scaling): identical scoring of models and baselines, per-recording scores, context use, the
warm-up/stable/decay scaling run and its fits; one rule for reusing stored records; profile and device passed
down to training."""

import json
from dataclasses import replace
from pathlib import Path

import math

import numpy as np
import pytest
import torch

from audioformers.ch3 import comparison, context_use, long_results, scaling, scoring, study, tuning
from audioformers.ch3 import experiment as ns
from audioformers.ch3.scoring import Setup
from audioformers.core.results import write_results
from audioformers.core.results import load_results, write_results
from audioformers.evaluation.baselines import BigramTable, LinearPredictor

torch.set_num_threads(1)
CFG = ns.experiment_config("smoke")


def recordings(n: int = 3, length: int = 3000, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return [np.clip(128 + 60 * np.sin(2 * np.pi * t / (20 + 7 * i)) + rng.integers(-3, 4, length), 0, 255)
            .astype(np.int64) for i in range(n)]


@pytest.mark.parametrize("name", ns.MODEL_NAMES)
def test_models_scored_exactly_as_the_models_scorer(name):
    torch.manual_seed(0)
    model = ns.build_model(name, CFG).eval()
    windows, _ = scoring.scoring_windows(recordings(), 12, ns.window_length(CFG))
    windows = torch.from_numpy(windows)
    logp, targets = scoring.scored_log_probs(model, windows, CFG)
    scores = scoring.position_scores(logp, targets)
    expected = ns.evaluate(model, windows, CFG)
    assert logp.shape == (len(windows), CFG.score_length, 256)
    for key in ("top1", "top5", "bits_per_sample"):
        assert scores[key].mean() == pytest.approx(expected[key], abs=1e-5)


def test_baselines_scored_on_the_models_positions():
    recs = recordings()
    windows, _ = scoring.scoring_windows(recs, 6, ns.window_length(CFG))
    s = CFG.score_length
    _, model_targets = scoring.scored_log_probs(ns.build_model("wavenet", CFG), torch.from_numpy(windows), CFG)
    bigram = BigramTable().fit(recs)
    logp, targets = scoring.scored_log_probs(bigram, windows, CFG)
    torch.testing.assert_close(targets, model_targets)
    # position j of the scored block is predicted from the sample just before it in the window
    previous = windows[:, -s - 1 : -1]
    np.testing.assert_allclose(logp.numpy(), bigram.log_probs(previous.reshape(-1, 1)).reshape(len(windows), s, 256),
                               rtol=1e-6)
    linear = LinearPredictor(order=4).fit(recs)
    logp, targets = scoring.scored_log_probs(linear, windows, CFG)
    torch.testing.assert_close(targets, model_targets)
    last = np.stack([windows[:, -s - 4 + j : -s + j] for j in range(s)], axis=1)  # (N, S, 4)
    np.testing.assert_allclose(logp.numpy(), linear.log_probs(last.reshape(-1, 4)).reshape(len(windows), s, 256),
                               rtol=1e-5, atol=1e-6)


def test_scoring_windows_and_per_source_scores():
    recs = recordings(4) + [np.zeros(10, dtype=np.int64)]  # the last one is too short for a window
    windows, ids = scoring.scoring_windows(recs, 10, 100, seed=1)
    assert sorted(set(ids)) == [0, 1, 2, 3] and np.all(np.bincount(ids) == 3)  # ceil(10 / 4) windows each
    for w, i in zip(windows, ids):  # each window is a piece of its own recording
        assert any(np.array_equal(recs[i][s : s + 100], w) for s in range(len(recs[i]) - 99))
    scores = {"top5": np.arange(12, dtype=float)[:, None] * np.ones((12, 2))}
    out = scoring.summarise_positions(scores, ids, [f"r{k}" for k in range(5)])
    assert out["final"]["top5"] == pytest.approx(5.5)
    assert out["per_source"]["top5"] == {"r0": 1.0, "r1": 4.0, "r2": 7.0, "r3": 10.0}
    with pytest.raises(ValueError, match="no recording"):
        scoring.scoring_windows(recs, 4, 10_000)


def test_context_use_wavenet_gains_nothing_beyond_its_receptive_field():
    torch.manual_seed(0)
    model = ns.build_model("wavenet", replace(CFG, wavenet_layers_per_stack=3, wavenet_stacks=1))  # field 8
    windows = np.stack(recordings(2, 400))
    bits = context_use.bits_vs_past(model, windows, [1, 3, 7, 20, 100], positions=64)
    # a past longer than the receptive field changes nothing (up to float summation order) ...
    assert bits[3] == pytest.approx(bits[2], abs=1e-4) and bits[4] == pytest.approx(bits[2], abs=1e-4)
    # ... while a shorter one does
    assert abs(bits[0] - bits[2]) > 1e-3
    with pytest.raises(ValueError, match="cannot give a past"):
        context_use.bits_vs_past(model, windows, [400])


def test_wsd_run_gives_one_score_per_budget_and_resumes_nothing_hidden():
    recs = recordings()
    windows, _ = scoring.scoring_windows(recs, 4, ns.window_length(CFG))
    run = scaling.wsd_run("transformer", CFG, [2, 4, 6], recs, torch.from_numpy(windows), lr=3e-3)
    assert run["steps"] == [2, 4, 6] and len(run["bits_per_sample"]) == 3
    again = scaling.wsd_run("transformer", CFG, [2, 4, 6], recs, torch.from_numpy(windows), lr=3e-3)
    assert again["bits_per_sample"] == pytest.approx(run["bits_per_sample"])  # deterministic per seed


def test_fit_family_recovers_an_exponent():
    compute = np.logspace(12, 15, 8)
    bits = 4.0 + 2.0 * (compute / compute.max()) ** -0.3
    fit = scaling.fit_family(list(compute), list(bits), resamples=20)
    assert fit["exponent"] == pytest.approx(0.3, abs=0.03) and fit["floor"] == pytest.approx(4.0, abs=0.05)
    assert fit["exponent_interval"][0] <= fit["exponent"] <= fit["exponent_interval"][1]


def fake_setup(profile: str = "smoke", domain: str = "music", n: int = 4, length: int = 600) -> Setup:
    """A set-up without the offline datasets: synthetic recordings split three ways, the smoke config."""
    recs = recordings(n, length)
    return Setup(profile, torch.device("cpu"), domain, CFG, {"train": recs[1:], "validation": recs[:1], "test": recs[:1]})


def test_stored_comparison_reused_only_when_its_config_is_current(monkeypatch, tmp_path):
    """A result written with another configuration (an older conditioning init, another tuned rate) is re-run,
    never shown as current; the tuning is reused by the same rule."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    setup = fake_setup()
    monkeypatch.setattr(study, "study_setup", lambda profile, domain="music", device=None: setup)
    chosen = {"wavenet": 4e-3, "transformer": 2e-3, "conditioned": 2e-3}
    write_results("ch3", "tuning", {"chosen_lr": chosen}, config=tuning.tuning_config(setup), profile="smoke")
    config = comparison.comparison_config(setup, chosen)
    reran = []

    def rerun(setup_, seed, chosen_lr):
        reran.append(chosen_lr)
        write_results("ch3", "compare_music_seed0", {"rerun": True}, config=comparison.comparison_config(setup_, chosen_lr),
                      seed=seed, profile="smoke")

    monkeypatch.setattr(comparison, "run_comparison", rerun)
    monkeypatch.setattr(tuning, "tune", lambda setup_: pytest.fail("the stored tuning is current"))
    write_results("ch3", "compare_music_seed0", {"stored": True}, config=config, seed=0, profile="smoke")
    assert study.load_or_run("smoke", 0, "music") == {"stored": True} and not reran
    write_results("ch3", "compare_music_seed0", {"stored": True}, config={**config, "condition_zero_init": False},
                  seed=0, profile="smoke")
    assert study.load_or_run("smoke", 0, "music") == {"rerun": True} and reran == [chosen]
    write_results("ch3", "tuning", {"chosen_lr": {**chosen, "wavenet": 8e-3}}, config=tuning.tuning_config(setup),
                  profile="smoke")
    assert study.load_or_run("smoke", 0, "music") == {"rerun": True} and reran[-1]["wavenet"] == 8e-3


def test_split_holds_validation_out_of_training(monkeypatch):
    tracks = {"train": [np.zeros(n, dtype=np.int64) + i for i, n in enumerate([900, 500, 700, 800])],
              "test": recordings(1, 500)}
    monkeypatch.setattr(ns, "load_tokens", lambda domain, split: tracks[split])
    split = scoring.split_recordings("music")
    assert [len(t) for t in split["validation"]] == [500]  # a few long tracks: the shortest is held out
    assert sorted(len(t) for t in split["train"]) == [700, 800, 900] and len(split["test"]) == 1
    tracks["train"] = [np.zeros(100, dtype=np.int64) + i for i in range(25)]  # many prompts: every tenth
    split = scoring.split_recordings("speech")
    assert [int(t[0]) for t in split["validation"]] == [0, 10, 20] and len(split["train"]) == 22
    tracks["train"] = tracks["train"][:1]
    with pytest.raises(ValueError, match="at least two training recordings"):
        scoring.split_recordings("music")


def test_scaled_lr_follows_the_width_rule():
    small = replace(CFG, width=32, wavenet_channels=20)
    wide = replace(CFG, width=128, wavenet_channels=80)
    assert scaling.scaled_lr(8e-3, "transformer", small, wide) == pytest.approx(2e-3)
    assert scaling.scaled_lr(1.6e-2, "wavenet", small, wide) == pytest.approx(4e-3)
    assert scaling.scaled_lr(1e-3, "transformer", small, small) == pytest.approx(1e-3)


def _small_music_setup(monkeypatch, tmp_path) -> tuple[Setup, dict]:
    """Results in ``tmp_path`` and a tiny music set-up (synthetic recordings, the smoke config) for the scaling
    study; returns it and the tuning."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    return fake_setup(), {"chosen_lr": {"transformer": 4e-3, "wavenet": 8e-3}}


def test_scaling_study_chooses_the_rate_on_validation_not_test(monkeypatch, tmp_path):
    """The smallest size is tried at several rates; the one with the lowest validation bits at the largest budget
    is kept, even when another is better on test (test bits are the study's points, never a choice)."""
    setup, tuned = _small_music_setup(monkeypatch, tmp_path)
    monkeypatch.setitem(scaling.SCALING_LR_FRACTIONS, "smoke", (1.0, 0.5))
    calls = []

    def fake(family, cfg, budgets, lr, train, sets, device):
        calls.append((family, lr))
        good_on_validation = lr < tuned["chosen_lr"][family]
        val = [5.0, 4.5, 4.0] if good_on_validation else [5.0, 4.8, 4.6]
        test = [5.0, 4.9, 4.8] if good_on_validation else [5.0, 4.5, 4.1]
        return {"steps": budgets, "bits_per_sample": test, "bits_by_set": {"test": test, "validation": val},
                "lr": lr, "parameters": 1000, "train_seconds": 0.0}

    monkeypatch.setattr(scaling, "_cached_wsd", fake)
    out = scaling.scaling_study(setup, tuned["chosen_lr"], sizes=("small",), resamples=5)
    assert out["lr_tuning"]["transformer"]["lr_small"] == pytest.approx(2e-3)
    assert out["lr_tuning"]["wavenet"]["lr_small"] == pytest.approx(4e-3)
    assert out["families"]["transformer"]["runs"]["small"]["bits_per_sample"] == [5.0, 4.9, 4.8]
    assert sorted(calls) == sorted([("transformer", 4e-3), ("transformer", 2e-3), ("wavenet", 8e-3),
                                    ("wavenet", 4e-3)])
    assert "exponent" in out["families"]["wavenet"]


def test_compute_frontier_keeps_the_best_size_at_each_compute():
    runs = {"small": {"compute": [1.0, 2.0, 4.0], "bits_per_sample": [6.0, 5.5, 5.3]},
            "large": {"compute": [3.0, 6.0, 12.0], "bits_per_sample": [6.2, 5.4, 5.0]}}
    front = scaling.compute_frontier(runs)
    # large at 3 and 6 lose to small at less compute: there the frontier stays at small's best so far
    assert front == {"compute": [1.0, 2.0, 3.0, 4.0, 6.0, 12.0], "bits_per_sample": [6.0, 5.5, 5.5, 5.3, 5.3, 5.0],
                     "size": ["small", "small", "small", "small", "small", "large"]}


def test_next_rate_steps_past_a_winning_edge_only():
    assert scaling.next_rate({4e-3: 5.0, 1e-3: 4.0}) == pytest.approx(2.5e-4)  # the lowest won: a step lower
    assert scaling.next_rate({4e-3: 4.0, 1e-3: 5.0}) == pytest.approx(1.6e-2)  # the highest won: a step higher
    assert scaling.next_rate({4e-3: 5.0, 2e-3: 4.0, 1e-3: 4.5}) is None  # interior
    assert scaling.next_rate({4e-3: 5.0}) is None


@pytest.mark.parametrize("extensions, chosen, edge", [(1, 1e-3, True), (2, 1e-3, False)])
def test_scaling_study_extends_the_rate_grid_past_a_winning_edge(monkeypatch, tmp_path, extensions, chosen, edge):
    """Validation bits lowest at 1e-3; the grid starts at 4e-3 and 2e-3: one extension reaches 1e-3 (still at
    the edge, and recorded so), a second tries 5e-4 and finds 1e-3 interior."""
    setup, tuned = _small_music_setup(monkeypatch, tmp_path)
    monkeypatch.setitem(scaling.SCALING_LR_FRACTIONS, "smoke", (1.0, 0.5))
    monkeypatch.setitem(scaling.SCALING_LR_EXTENSIONS, "smoke", extensions)

    def fake(family, cfg, budgets, lr, train, sets, device):
        val = [5.0, 4.0 + math.log2(lr / 1e-3) ** 2]
        return {"steps": budgets[:2], "bits_per_sample": val, "bits_by_set": {"test": val, "validation": val},
                "lr": lr, "parameters": 1000, "train_seconds": 0.0}

    monkeypatch.setattr(scaling, "_cached_wsd", fake)
    out = scaling.scaling_study(setup, tuned["chosen_lr"], families=("transformer",), sizes=("small",), resamples=5)
    tuned = out["lr_tuning"]["transformer"]
    assert tuned["lr_small"] == pytest.approx(chosen) and tuned["edge_of_grid"] is edge
    assert len(tuned["extended_past_edge"]) == extensions
    assert len(tuned["validation_bits_at_largest_budget"]) == 2 + extensions


def test_scaling_study_resumes_from_its_results_file_alone(monkeypatch, tmp_path):
    """Finished runs live in results/ (committed), so an interrupted study continues without the disk cache."""
    setup, tuned = _small_music_setup(monkeypatch, tmp_path)
    trained = []

    def fake(family, cfg, budgets, lr, train, sets, device):
        trained.append(family)
        if len(trained) == 2:
            raise KeyboardInterrupt  # interrupted in the second unit
        bits = [5.0, 4.6, 4.4]
        return {"steps": budgets, "bits_per_sample": bits, "bits_by_set": {"test": bits, "validation": bits},
                "lr": lr, "parameters": 1000, "train_seconds": 0.0}

    monkeypatch.setattr(scaling, "_cached_wsd", fake)
    with pytest.raises(KeyboardInterrupt):
        scaling.scaling_study(setup, tuned["chosen_lr"], sizes=("small",), resamples=5)
    assert len(load_results("ch3", "scaling", "smoke")["metrics"]["units"]) == 1
    out = scaling.scaling_study(setup, tuned["chosen_lr"], sizes=("small",), resamples=5)
    assert trained == ["transformer", "wavenet", "wavenet"]  # the finished unit was not trained again
    assert set(out["sizes_done"]) == {"transformer", "wavenet"} and len(out["units"]) == 2


def test_uncertainty_by_source_separates_recordings_from_seeds():
    rng = np.random.default_rng(0)
    song = rng.normal(0, 0.2, size=8)  # the difference depends strongly on the recording, hardly on the seed
    a = 0.5 + song[None, :] + rng.normal(0, 0.001, size=(3, 8))
    b = np.full((3, 8), 0.5)
    out = comparison.uncertainty_by_source(a, b)
    width = {k: out[k].high - out[k].low for k in ("both", "recordings", "seeds")}
    assert width["recordings"] > 20 * width["seeds"] and width["both"] > 20 * width["seeds"]
    assert out["both"].mean == pytest.approx(out["recordings"].mean) == pytest.approx(out["seeds"].mean)
    one_track = comparison.uncertainty_by_source(a[:, :1], b[:, :1])  # one recording: no interval over recordings
    assert one_track["recordings"] is None and one_track["seeds"] is not None
    single = comparison.uncertainty_by_source(a[:1, :1], b[:1, :1])  # one seed, one recording (smoke): no interval at all
    assert single == {"both": None, "recordings": None, "seeds": None}


def test_trained_model_is_the_comparisons_model(monkeypatch, tmp_path):
    """The chapter's generation uses the comparison's model: retrained from the cache's key, not a new one."""
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    setup = fake_setup()
    monkeypatch.setattr(study, "load_or_tune", lambda *a, **k: {"chosen_lr": {n: 3e-3 for n in ns.MODEL_NAMES}})
    monkeypatch.setattr(study, "study_setup", lambda profile, domain="music", device=None: setup)
    first = study.trained_model("smoke", "transformer")
    again = study.trained_model("smoke", "transformer")  # from the disk cache
    for (k, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


def _scaling_runs() -> dict:
    """Two families, two sizes each, with compute, bits and what a finished unit stores."""
    def run(compute, bits, lr, params):
        return {"compute": compute, "bits_per_sample": bits, "tokens": [c / (6 * params) for c in compute],
                "lr": lr, "parameters": params, "train_seconds": 1.0, "steps": list(range(1, len(compute) + 1))}
    return {"transformer": {"small": run([1e9, 2e9, 4e9, 8e9], [6.0, 5.6, 5.4, 5.3], 2e-3, 1000),
                            "medium": run([4e9, 8e9, 16e9, 32e9], [6.1, 5.5, 5.1, 4.9], 1e-3, 4000)},
            "wavenet": {"small": run([1e9, 2e9, 4e9, 8e9], [5.8, 5.5, 5.35, 5.3], 4e-3, 1000),
                        "medium": run([4e9, 8e9, 16e9, 32e9], [5.9, 5.4, 5.2, 5.15], 2e-3, 4000)}}


def test_load_scaling_refits_a_record_written_before_the_frontier_fit(monkeypatch, tmp_path):
    """An old record (families without ``frontier``) is refitted from its runs in memory, never read as current;
    a current record comes back as stored; a missing one is None."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    assert study.load_scaling("smoke") is None
    runs = _scaling_runs()
    old = {"families": {f: {"runs": r, "comparison_lr": 1e-3, "exponent": 9.9} for f, r in runs.items()},
           "lr_tuning": {}, "units": {}}
    config = scaling.scaling_config("smoke", ns.experiment_config("smoke", "music"))
    write_results("ch3", "scaling", old, config=config, profile="smoke")
    before = (tmp_path / "ch3" / "scaling.smoke.json").read_bytes()
    loaded = study.load_scaling("smoke", resamples=5)
    assert loaded["metrics"]["refitted_on_load"] is True
    for family, r in runs.items():
        fit = loaded["metrics"]["families"][family]
        assert fit["frontier"] == scaling.compute_frontier(r)
        assert fit["exponent"] != 9.9 and fit["fitted_to"] == "compute-efficient frontier"
    assert "crossover" in loaded["metrics"]
    assert (tmp_path / "ch3" / "scaling.smoke.json").read_bytes() == before  # the file is left as it was

    current = scaling.scaling_metrics(runs, {"transformer": 1e-3, "wavenet": 2e-3}, resamples=5)
    write_results("ch3", "scaling", current, config={**config, "seed": 1}, profile="smoke")
    assert study.load_scaling("smoke") is None  # run with another config: not read as current
    write_results("ch3", "scaling", current, config=config, profile="smoke")
    again = study.load_scaling("smoke")
    assert "refitted_on_load" not in again["metrics"]
    assert again["metrics"]["families"]["wavenet"]["exponent"] == pytest.approx(current["families"]["wavenet"]["exponent"])


def test_scaling_lines_and_plot_show_each_family_fit_and_the_crossover():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = _scaling_runs()
    metrics = scaling.scaling_metrics(runs, {"transformer": 1e-3, "wavenet": 2e-3}, resamples=5,
                                 lr_tuning={"wavenet": {"validation_bits_at_largest_budget": {"0.004": 5.3, "0.008": 5.5},
                                                        "lr_small": 4e-3, "edge_of_grid": True}})
    lines = scaling.scaling_lines(metrics)
    assert any(line.startswith("wavenet: smallest size tried at 0.004: 5.300") and "still at an edge" in line
               for line in lines)
    for family in runs:
        fit = metrics["families"][family]
        assert any(line.startswith(family) and f"exponent {fit['exponent']:.2f}" in line for line in lines)
    assert "transformer vs WaveNet (the frontiers' fits, a picture): " + metrics["crossover"]["text"] in lines
    joint = metrics["joint_fit"]  # two sizes x four budgets per family: the joint law is fitted too
    for family in runs:
        assert any(line.startswith(family) and f"beta {joint[family]['beta']:.2f}" in line for line in lines)
    assert lines[-2:] == [joint["crossing"]["floor"]["text"], joint["crossing"]["curves"]["text"]]

    ax = scaling.plot_scaling(metrics)
    labels = [line.get_label() for line in ax.get_lines()]
    for family in runs:
        assert f"{family} small (1,000)" in labels and f"{family} medium (4,000)" in labels
        assert f"{family}: compute-efficient frontier" in labels and f"{family}: fit to the frontier" in labels
    fit_line = ax.get_lines()[labels.index("wavenet: fit to the frontier")]
    fit = metrics["families"]["wavenet"]
    x, y = fit_line.get_data()
    assert x[-1] == pytest.approx(100 * fit["x_ref"])
    assert y[0] == pytest.approx(fit["floor"] + fit["scale"] * (x[0] / fit["x_ref"]) ** -fit["exponent"])
    assert ax.get_xscale() == "log"
    plt.close(ax.figure)


def _refuse(*args, **kwargs):
    raise AssertionError("a stored book record must be reused, not run again")


def test_committed_book_results_are_reused_without_running_anything(monkeypatch):
    """Each of chapter 3's loaders returns the committed book record (results/ch3/*.book.json) as stored: every
    run function and every training is made to fail, so a config that no longer matches would show here."""
    from audioformers import data
    from audioformers.core.results import repo_root

    if repo_root() is None or not (repo_root() / "results" / "ch3" / "tuning.book.json").exists():
        pytest.skip("no committed results here")
    if not data.is_complete("wave-mini"):
        pytest.skip("the offline dataset wave-mini is not built here (the loaders count its recordings)")
    monkeypatch.delenv("BOOK_RESULTS_DIR", raising=False)
    for module, name in ((tuning, "tune"), (comparison, "run_comparison"), (context_use, "context_use"),
                         (scaling, "scaling_study"), (scoring, "train_cached"), (ns, "train_one"), (ns, "fit"),
                         (scaling, "wsd_run")):
        monkeypatch.setattr(module, name, _refuse)
    stored = lambda name: load_results("ch3", name, "book")["metrics"]  # noqa: E731
    assert study.load_or_tune("book", "cpu") == stored("tuning")
    dataset = {"music": "wave-mini", "speech": "wave-mini", "orchestra": "orchestra-mini", "piano-mini": "piano-mini"}
    for domain in [d for d, name in dataset.items() if data.is_complete(name)]:  # (a build in progress: not read)
        for seed in (0, 1, 2):
            assert study.load_or_run("book", seed, domain, "cpu") == stored(f"compare_{domain}_seed{seed}")
    assert study.load_or_run_context("book", "cpu") == stored("context_use")["context_use"]
    record = study.load_scaling("book")
    assert record is not None and record["metrics"] == stored("scaling")


def test_profile_and_device_reach_training_as_given(monkeypatch, tmp_path):
    """The caller's profile and device reach ``fit`` (not the environment's), and one call builds its config and
    reads its recordings once."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BOOK_PROFILE", "book")
    recs = recordings(4, 600)
    built, split = [], []
    original = ns.experiment_config
    monkeypatch.setattr(ns, "experiment_config", lambda profile, domain="music", **kw: built.append(profile) or original(profile, domain, **kw))
    monkeypatch.setattr(scoring, "split_recordings", lambda domain: split.append(domain) or
                        {"train": recs[1:], "validation": recs[:1], "test": recs[:1]})
    seen = {}

    class Stop(Exception):
        pass

    def fit(model, next_batch, loss_fn, steps, **kwargs):
        seen.update(steps=steps, device=kwargs["device"])
        raise Stop

    monkeypatch.setattr(ns, "fit", fit)
    with pytest.raises(Stop):
        study.load_or_run("smoke", 0, "music", device="cpu:0")
    assert seen["device"] == torch.device("cpu:0")
    assert seen["steps"] == original("smoke").steps  # the smoke profile's, not $BOOK_PROFILE's
    assert built == ["smoke"] and split == ["music"]  # once per call
    built.clear()
    split.clear()
    monkeypatch.setattr(ns, "fit", lambda *a, **k: pytest.fail("stored: nothing trains"))
    setup = scoring.study_setup("smoke", "music")
    chosen = {n: 1e-3 for n in ns.MODEL_NAMES}
    write_results("ch3", "tuning", {"chosen_lr": chosen}, config=tuning.tuning_config(setup), profile="smoke")
    write_results("ch3", "compare_speech_seed0", {"stored": True},
                  config=comparison.comparison_config(scoring.study_setup("smoke", "speech"), chosen), profile="smoke")
    built.clear()
    split.clear()
    assert study.load_or_run("smoke", 0, "speech") == {"stored": True}
    assert sorted(split) == ["music", "speech"] and built == ["smoke", "smoke"]  # the domain's, and music's for tuning


def test_loaders_refuse_bad_arguments():
    with pytest.raises(ValueError, match="resamples"):
        study.load_scaling("smoke", resamples=0)
    with pytest.raises(ValueError, match="seed"):
        study.load_or_run("smoke", -1)
    with pytest.raises(ValueError, match="profile"):
        study.load_or_tune("no-such-profile")


# --- the joint scaling law L(N, D) = E + A N^-alpha + B D^-beta (issue #32) ---------------------------------------

def _grid_runs(law, sizes=(6e4, 2.5e5, 1e6), budgets=(3e5, 6e5, 1.2e6, 2.4e6, 5e6), noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    n = np.repeat(np.asarray(sizes, dtype=float), len(budgets))
    d = np.tile(np.asarray(budgets, dtype=float), len(sizes))
    return n, d, law(n, d) + noise * rng.standard_normal(len(n))


@pytest.mark.parametrize("E, A, alpha, B, beta", [(5.0, 40.0, 0.35, 900.0, 0.45), (4.2, 8.0, 0.2, 60.0, 0.25),
                                                   (5.5, 3e3, 0.9, 2e5, 1.0)])
def test_joint_fit_recovers_known_terms(E, A, alpha, B, beta):
    from audioformers.ch3 import joint_fit as jf

    truth = jf.JointLaw(E, A, alpha, B, beta)
    fit = jf.fit_joint(*_grid_runs(truth))
    assert fit.alpha == pytest.approx(alpha, abs=0.003) and fit.beta == pytest.approx(beta, abs=0.003)
    assert fit.E == pytest.approx(E, abs=0.02)
    assert fit.A == pytest.approx(A, rel=0.05) and fit.B == pytest.approx(B, rel=0.05)
    # with noise, the bootstrap interval over runs holds the true exponents
    noisy = jf.joint_summary(*_grid_runs(truth, noise=0.003, seed=1), resamples=60)
    for key, value in (("alpha", alpha), ("beta", beta), ("E", E)):
        lo, hi = noisy[f"{key}_interval"]
        assert lo - 0.02 <= value <= hi + 0.02, (key, value, lo, hi)


def test_joint_fit_says_when_size_does_not_matter_and_finds_the_tokens_to_a_floor():
    from audioformers.ch3 import joint_fit as jf

    flat = jf.JointLaw(5.0, 0.0, 0.0, 50.0, 0.3)  # the size term is absent: only tokens matter
    summary = jf.joint_summary(*_grid_runs(flat, noise=0.002), resamples=40)
    assert summary["alpha_interval"][0] <= jf.MIN_EXPONENT and summary["limited_by"].startswith("tokens")
    lo, hi = summary["floor_at_largest_size_interval"]  # what is identified: the floor at the measured sizes
    assert lo <= 5.0 <= hi
    sized = jf.joint_summary(*_grid_runs(jf.JointLaw(5.0, 40.0, 0.35, 900.0, 0.45), noise=0.002), resamples=40)
    assert sized["alpha_interval"][0] > jf.MIN_EXPONENT and sized["limited_by"] == "size and tokens"
    law = jf.JointLaw(5.0, 10.0, 0.5, 100.0, 0.5)
    target = 5.2
    tokens = jf.tokens_to_reach(law, target, 1e6)  # 5 + 10e-3 + 100 / sqrt(D) = 5.2  ->  D = (100 / 0.19)^2
    assert tokens == pytest.approx((100 / 0.19) ** 2, rel=1e-9)
    assert law(1e6, tokens) == pytest.approx(target)
    assert jf.tokens_to_reach(law, 5.005, 1e6) is None  # below its floor at that size: never
    with pytest.raises(ValueError, match="n must be > 0"):
        jf.tokens_to_reach(law, 5.2, 0)


def test_joint_crossing_finds_where_one_family_reaches_the_others_floor():
    from audioformers.ch3 import joint_fit as jf

    slow = jf.JointLaw(4.8, 0.0, 0.0, 40.0, 0.25)  # still falling at the measured budgets, lower floor
    fast = jf.JointLaw(5.4, 2e3, 0.9, 2e5, 1.0)  # near its floor already
    a = jf.joint_summary(*_grid_runs(slow, noise=0.002), resamples=40)
    b = jf.joint_summary(*_grid_runs(fast, noise=0.002, seed=2), resamples=40)
    cross = jf.joint_crossing(a, b)
    expected = jf.tokens_to_reach(slow, float(fast.floor_at(1e6)), 1e6)
    assert cross["floor"]["fraction"] >= 0.5
    assert cross["floor"]["fit"] == pytest.approx(expected, rel=0.1)
    assert 0.9 * cross["floor"]["low"] <= expected <= 1.1 * cross["floor"]["high"]
    assert cross["curves"]["median"] is not None and cross["curves"]["median"] <= cross["floor"]["high"]
    text = jf.crossing_text(cross["floor"], "a reaches b's floor", cross["x_last"], cross["horizon"])
    assert text.startswith("a reaches b's floor at about ") and "of refits get there within 10,000×" in text
    never = jf.joint_crossing(b, a)  # the family with the higher floor never gets to the other's
    assert never["floor"]["median"] is None
    assert "not identified by the fit" in jf.crossing_text(never["floor"], "b", never["x_last"], never["horizon"])


def test_joint_fit_refuses_bad_input():
    from audioformers.ch3 import joint_fit as jf

    n, d, y = _grid_runs(jf.JointLaw(5.0, 40.0, 0.35, 900.0, 0.45))
    with pytest.raises(ValueError, match="at least 2 distinct model sizes"):
        jf.fit_joint(np.full_like(n, 1e5), d, y)
    with pytest.raises(ValueError, match="at least 3 distinct token budgets"):
        jf.fit_joint(n, np.where(d > 1e6, 2e6, 1e6), y)
    with pytest.raises(ValueError, match="one value per run"):
        jf.fit_joint(n, d, y[:-1])
    with pytest.raises(ValueError, match="must be positive"):
        jf.fit_joint(-n, d, y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        jf.fit_joint(n, d, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ValueError, match="1-D"):
        jf.fit_joint(n[None], d, y)
    with pytest.raises(ValueError, match="at least 6 runs"):
        jf.fit_joint(n[[0, 1, 2, 5, 6]], d[[0, 1, 2, 5, 6]], y[[0, 1, 2, 5, 6]])
    with pytest.raises(TypeError, match="resamples must be an integer"):
        jf.bootstrap_joint(n, d, y, resamples=2.5)
    with pytest.raises(ValueError, match="a must be a joint_summary"):
        jf.joint_crossing({"E": 1.0}, {"E": 1.0})


def test_the_committed_scaling_record_holds_the_joint_fit_of_its_runs():
    """results/ch3/scaling.book.json stores ``joint_fit`` per family; its terms are today's fit of the stored runs,
    and the record's config is the study's (so it is reused, not run again)."""
    from audioformers.ch3 import joint_fit as jf
    from audioformers.core.results import repo_root

    path = (repo_root() or Path(".")) / "results" / "ch3" / "scaling.book.json"
    if not path.exists():
        pytest.skip("no committed results here")
    record = json.loads(path.read_text())
    joint = record["metrics"]["joint_fit"]
    assert record["config"] == scaling.scaling_config("book", ns.experiment_config("book", "music"))
    for family in ("transformer", "wavenet"):
        runs = record["metrics"]["families"][family]["runs"]
        n = [r["parameters"] for r in runs.values() for _ in r["tokens"]]
        d = [t for r in runs.values() for t in r["tokens"]]
        y = [b for r in runs.values() for b in r["bits_per_sample"]]
        fit = jf.fit_joint(n, d, y)
        entry = joint[family]
        assert entry["runs"] == len(y) == 15
        for key in ("E", "alpha", "beta"):
            assert entry[key] == pytest.approx(getattr(fit, key), abs=1e-9)
            lo, hi = entry[f"{key}_interval"]
            assert lo <= entry[key] + 1e-9 and entry[key] - 1e-9 <= hi
        for key in ("A", "B"):
            assert entry[key] == pytest.approx(getattr(fit, key), rel=1e-9) and f"{key}_interval" in entry
    floor = joint["crossing"]["floor"]
    assert floor["text"].startswith("the transformer (largest size) reaches WaveNet's floor")


# --- the budget to clear the bigram by 3 points (claims 3a, 3b: not yet evidence) --------------------------------

def _gap_records(gain=0.02, bigram=0.25, seeds=3, on=("test", "test", "test")):
    tokens = [1e5, 2e5, 4e5, 8e5]
    return [{"metrics": {"transformer": {"curve_on": on[s], "curve": {
                "tokens": tokens, "top5": [0.2 + 0.001 * s + gain * math.log2(t / 1e5) for t in tokens]}},
             "bigram": {"final": {"top5": bigram}}}} for s in range(seeds)]


def test_gap_trend_extrapolates_the_last_doubling_to_bigram_plus_three_points():
    from audioformers.ch3 import baseline_gap as bgp

    trend = bgp.gap_trend(_gap_records(), "transformer")  # last 0.261, target 0.28: 0.019 / 0.02 = 0.95 doublings
    assert trend["seeds"] == 3 and trend["gain_per_doubling"] == pytest.approx(0.02)
    assert trend["gap_now"] == pytest.approx(0.011) and not trend["reached"]
    assert trend["doublings_needed"] == pytest.approx(0.95)
    assert trend["tokens_at_last_rate"] == pytest.approx(8e5 * 2 ** 0.95)
    assert "→ 1.55M tokens" in bgp.short_text("music/transformer", trend)
    need = bgp.budget_needed({"music/transformer": trend})
    assert need["set_by"] == "music/transformer" and need["tokens"] == pytest.approx(8e5 * 2 ** 0.95)
    text = bgp.budget_text({"music/transformer": trend})
    assert text.startswith("about 1.55M training tokens at the last doubling's rate") and "cosine schedule" in text
    assert "measures it at 2,500 steps" in text  # the 300-step curves point to the long study
    long = _gap_records()
    for r in long:
        r["config"] = {"study": "long"}
    text = bgp.budget_text({"music/transformer": bgp.gap_trend(long, "transformer")})
    assert "the long study's own curves" in text and "at 2,500 steps" not in text
    # a curve on validation windows is left out, and the text says how many seeds remain
    partial = bgp.gap_trend(_gap_records(on=("validation", "test", "test")), "transformer")
    assert partial["seeds"] == 2 and "2 of 3 seeds" in bgp.gap_text("music", partial)
    # already there; and a flat curve is never there at its rate
    assert bgp.gap_trend(_gap_records(bigram=0.2), "transformer")["reached"]
    flat = bgp.gap_trend(_gap_records(gain=0.0), "transformer")
    assert flat["tokens_at_last_rate"] is None and "never at that rate" in bgp.short_text("m/transformer", flat)
    assert bgp.budget_text({}) .startswith("the budget for that is not measured")
    assert bgp.gap_trend([{"metrics": {}}], "transformer") is None
    with pytest.raises(ValueError, match="margin must be >= 0"):
        bgp.gap_trend(_gap_records(), "transformer", margin=-0.1)


# --- the long study (prepared for the command line): resumable units, partial progress not read ----------------

def test_wsd_resumable_resumes_a_killed_unit_to_the_same_numbers(tmp_path):
    from audioformers.ch3 import long_study

    recs = recordings()
    windows = scoring.scoring_windows(recs, 8, ns.window_length(CFG))[0]
    sets = {"validation": torch.from_numpy(windows)}
    whole = long_study.wsd_resumable("transformer", CFG, [2, 4, 6], recs, sets, 3e-3, 0, tmp_path / "a.pt",
                                     lambda b, s: None, "cpu", checkpoint_every=1)

    class Killed(Exception):
        pass

    def kill_after_first(budget, scores):
        if budget == 4:
            raise Killed
    with pytest.raises(Killed):
        long_study.wsd_resumable("transformer", CFG, [2, 4, 6], recs, sets, 3e-3, 0, tmp_path / "b.pt",
                                 kill_after_first, "cpu", checkpoint_every=1)
    seen = []
    resumed = long_study.wsd_resumable("transformer", CFG, [2, 4, 6], recs, sets, 3e-3, 0, tmp_path / "b.pt",
                                       lambda b, s: seen.append(b), "cpu", checkpoint_every=1)
    assert seen == [6]  # budgets 2 and 4 were scored and checkpointed before the kill
    assert resumed == whole


def _long(directory, seeds, models=("wavenet", "transformer", "conditioned")):
    import json as _json

    for domain in ("speech", "orchestra", "piano-mini"):
        for seed in seeds:
            metrics = {m: {"final": {"top5": 0.5}, "curve": {"tokens": [1, 5_120_000]}} for m in models}
            path = directory / "ch3" / f"long_compare_{domain}_seed{seed}.book.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_json.dumps({"name": path.name, "metrics": metrics, "config": {"steps": 2500}}))


def test_claims_read_the_long_study_only_when_it_is_complete(tmp_path):
    from audioformers.ch3 import claims

    path = tmp_path / "ch3" / "compare_speech_seed0.book.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"metrics": {"transformer": {}}, "config": {"steps": 300}}))
    _long(tmp_path, seeds=(0, 1))  # two of three seeds: partial progress is not read
    assert claims.long_records("book", tmp_path) is None
    assert [r["config"]["steps"] for r in claims._ch3_records("book", tmp_path, "speech")] == [300]
    _long(tmp_path, seeds=(2,), models=("wavenet", "transformer"))  # the third seed without its last model
    assert claims.long_records("book", tmp_path) is None
    _long(tmp_path, seeds=(2,))
    assert {len(v) for v in claims.long_records("book", tmp_path).values()} == {3}
    assert [r["config"]["steps"] for r in claims._ch3_records("book", tmp_path, "speech")] == [2500] * 3
    assert claims._ch3_records("book", tmp_path, "music") == []  # a domain the long study does not hold


def test_long_study_command_line_passes_its_domains_and_seeds(monkeypatch):
    from audioformers.ch3 import long_study

    seen = {}
    monkeypatch.setattr(long_study, "compare_long", lambda profile, device, **kw: seen.update(kw, profile=profile))
    monkeypatch.setattr(long_study, "progress", lambda profile: {})
    long_study.main(["--profile", "smoke", "--parts", "compare", "--domains", "piano-mini", "--seeds", "2", "1",
                     "--device", "cpu"])
    assert seen == {"profile": "smoke", "domains": ("piano-mini",), "seeds": (2, 1), "steps": None}
    monkeypatch.setattr(long_study, "scaling_long", lambda profile, device, **kw: seen.update(scaling=kw))
    long_study.main(["--profile", "smoke", "--parts", "scaling", "--families", "wavenet", "--seeds", "2",
                     "--device", "cpu"])
    assert seen["scaling"] == {"families": ("wavenet",), "sizes": ("small",), "seeds": (2,)}
    with pytest.raises(SystemExit):
        long_study.main(["--parts", "compare", "--domains", "music"])  # the long study has no music


def _long_record(directory, domain, seed, gain, models=("wavenet", "transformer", "conditioned")):
    """A long-study record whose models score ``gain`` above the bigram's top-5 on each of 4 test recordings."""
    rng = np.random.default_rng(seed)
    base = {f"{domain}-test-{i:03d}": 0.3 + 0.01 * i for i in range(4)}

    def block(shift):
        per = {k: v + shift + 0.002 * rng.standard_normal() for k, v in base.items()}
        return {"final": {"top5": float(np.mean(list(per.values())))}, "per_source": {"top5": per},
                "curve": {"tokens": [100, 200, 300], "top5": [0.2, 0.25, float(np.mean(list(per.values())))]}}
    metrics = {m: block(gain) for m in models} | {"bigram": block(0.0)}
    path = directory / "ch3" / f"long_compare_{domain}_seed{seed}.book.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": path.name, "metrics": metrics, "config": {"steps": 2500}}))


def test_stored_comparison_shows_partial_progress_and_the_bigram_gate(monkeypatch, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from audioformers.ch3 import claims, long_study

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    assert long_results.stored_comparison("book") == {}
    for seed in (0, 1, 2):
        _long_record(tmp_path, "speech", seed, gain=0.08)
    _long_record(tmp_path, "orchestra", 0, gain=-0.01)
    _long_record(tmp_path, "orchestra", 1, gain=-0.01, models=("wavenet",))  # unfinished: left out
    stored = long_results.stored_comparison("book")
    assert {d: len(v) for d, v in stored.items()} == {"speech": 3, "orchestra": 1}
    assert claims.long_records("book", tmp_path) is None  # the claims still read the 300-step comparison
    speech = claims.above_bigram(stored["speech"], "transformer")
    assert speech.interval.low > 0.07 and speech.interval.high < 0.09
    from audioformers.evaluation import evidence as ev
    assert ev.above_baseline(speech.interval)
    assert claims.above_bigram(stored["orchestra"], "transformer").interval.mean == pytest.approx(-0.01, abs=0.005)
    assert len(long_results.plot_comparison(stored)) == 2
    with pytest.raises(ValueError, match="stored"):
        long_results.plot_comparison({})
    with pytest.raises(ValueError, match="records"):
        claims.above_bigram([], "transformer")
    with pytest.raises(ValueError, match="'linear'"):
        claims.above_bigram(stored["speech"], "linear")
    with pytest.raises(ValueError, match="profile"):
        long_results.stored_comparison("huge")


def test_compare_long_leaves_a_complete_record_alone_and_runs_the_rest(monkeypatch, tmp_path):
    """A resumed study does not rewrite a finished record (its wall time and commit stay the run's own)."""
    from audioformers.ch3 import long_study

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    chosen = {m: 1e-3 for m in ns.MODEL_NAMES}
    monkeypatch.setattr(long_study, "tune_long", lambda *a, **k: {"chosen_lr": chosen})
    monkeypatch.setattr(long_study, "study_setup", lambda profile, domain, device: fake_setup(profile, domain))
    ran = []

    def run(setup, seed, chosen_lr, name, config):
        ran.append(name)
        write_results("ch3", name, {m: {"final": {}} for m in ns.MODEL_NAMES}, config=config, seed=seed,
                      profile=setup.profile)
        return {m: {"final": {}} for m in ns.MODEL_NAMES}
    monkeypatch.setattr(long_study.comparison, "run_comparison", run)
    long_study.compare_long("smoke", "cpu", domains=("speech",), seeds=(0,))
    stamp = (tmp_path / "ch3" / "long_compare_speech_seed0.smoke.json").read_text()
    long_study.compare_long("smoke", "cpu", domains=("speech",), seeds=(0, 1))
    assert ran == ["long_compare_speech_seed0", "long_compare_speech_seed1"]
    assert (tmp_path / "ch3" / "long_compare_speech_seed0.smoke.json").read_text() == stamp


def test_context_long_measures_every_seed_and_the_gain_has_an_interval(monkeypatch, tmp_path):
    from audioformers.ch3 import long_study

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(long_study, "tune_long", lambda *a, **k: {"chosen_lr": {m: 1e-3 for m in ns.MODEL_NAMES}})
    monkeypatch.setattr(long_study, "study_setup", lambda profile, domain, device: fake_setup(profile, domain))
    built = []

    def trained(setup, name, seed, chosen):
        torch.manual_seed(seed)
        built.append((setup.domain, name, seed))
        return ns.build_model(name, setup.config).eval()
    monkeypatch.setattr(long_study.comparison, "trained", trained)
    out = long_study.context_long("smoke", "cpu", domains=("speech",), seeds=(0, 1))
    assert built == [("speech", m, s) for m in ("transformer", "wavenet") for s in (0, 1)]
    entry = out["speech"]
    assert entry["pasts"]["transformer"][-1] == CFG.context_length - 1
    assert len(entry["bits_per_sample"]["wavenet"]) == 2
    assert all(len(b) == len(entry["pasts"]["wavenet"]) for b in entry["bits_per_sample"]["wavenet"])
    stored = json.loads((tmp_path / "ch3" / "long_context_use.smoke.json").read_text())["metrics"]["domains"]
    assert stored["speech"]["pasts"] == entry["pasts"]
    assert long_results.stored_context("smoke")["speech"]["pasts"] == entry["pasts"]
    assert long_results.stored_context("book") is None
    # the gain: short past minus whole window, per seed, with a t interval over seeds
    synthetic = {"pasts": {"transformer": [1, 62, 255]},
                 "bits_per_sample": {"transformer": [[7.0, 6.0, 5.5], [7.0, 6.1, 5.7], [7.0, 6.2, 5.6]]}}
    gain = long_results.context_gain(synthetic)
    assert (gain["short_past"], gain["long_past"], gain["seeds"]) == (62, 255, 3)
    assert gain["gain"] == pytest.approx(0.5) and gain["interval"].low < 0.5 < gain["interval"].high
    with pytest.raises(ValueError, match="'conditioned'"):
        long_results.context_gain(synthetic, "conditioned")
    with pytest.raises(ValueError, match="near"):
        long_results.context_gain(synthetic, near=0)


def test_scaling_long_one_process_per_family_writes_one_record(monkeypatch, tmp_path):
    """Two processes (a family each) add their units to ``long_scaling`` without dropping the other's."""
    from audioformers.ch3 import long_study

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(long_study, "study_setup", lambda profile, domain, device: fake_setup(profile, domain))
    monkeypatch.setattr(long_study, "validation_windows", lambda setup: np.zeros((2, 8), dtype=np.int64))
    monkeypatch.setattr(long_study, "held_out_windows", lambda setup: (np.zeros((2, 8), dtype=np.int64), None))
    monkeypatch.setattr(long_study, "_size_rate", lambda family, size, profile, config: 1e-3)

    def fake_wsd(family, cfg, budgets, train, sets, lr, seed, path, on_budget, device):
        out = {}
        for b in budgets:
            out[b] = {k: {"bits_per_sample": 5.0 + lr * 100 + seed} for k in sets}
            on_budget(b, out[b])
        return out
    monkeypatch.setattr(long_study, "wsd_resumable", fake_wsd)
    long_study.scaling_long("smoke", "cpu", families=("transformer",), seeds=(0, 1))
    long_study.scaling_long("smoke", "cpu", families=("wavenet",), seeds=(0, 1))
    units = long_study.stored_units("smoke")
    assert {u["family"] for u in units.values()} == {"transformer", "wavenet"}
    assert all(len(u["budgets"]) == len(long_study.scaling_budgets("smoke")) for u in units.values())
    record = json.loads((tmp_path / "ch3" / "long_scaling.smoke.json").read_text())
    assert set(record["metrics"]["chosen_lr"]) == {"transformer/small", "wavenet/small"}
    # a process per seed of one family: a process that loaded another's unit half-done does not write that stale
    # copy back over it once the other finishes it (each writes only the units it trains)
    done_units = long_study.stored_units("smoke")
    other = {**next(u for u in done_units.values() if u["family"] == "transformer"), "seed": 5}
    half = {**other, "budgets": dict(list(other["budgets"].items())[:1])}
    rec = json.loads((tmp_path / "ch3" / "long_scaling.smoke.json").read_text())["metrics"]
    rec["units"]["transformer/small/seed5/other"] = half
    write_results("ch3", "long_scaling", rec, config={}, profile="smoke")

    def interleaved(family, cfg, budgets, train, sets, lr, seed, path, on_budget, device):
        if seed == 3:  # meanwhile, the other process finishes its seed-5 unit
            with long_study._scaling_lock("smoke"):
                now = json.loads((tmp_path / "ch3" / "long_scaling.smoke.json").read_text())["metrics"]
                now["units"]["transformer/small/seed5/other"] = other
                write_results("ch3", "long_scaling", now, config={}, profile="smoke")
        return fake_wsd(family, cfg, budgets, train, sets, lr, seed, path, on_budget, device)
    monkeypatch.setattr(long_study, "wsd_resumable", interleaved)
    long_study.scaling_long("smoke", "cpu", families=("transformer",), seeds=(0, 3))
    units = long_study.stored_units("smoke")
    assert units["transformer/small/seed5/other"]["budgets"] == other["budgets"]  # not the stale half
    assert [u["seed"] for u in units.values() if u["family"] == "transformer"].count(3) == 1


def test_scaling_summary_pairs_seeds_at_the_chosen_rates_and_reads_the_last_doubling(monkeypatch, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from audioformers.ch3 import long_study

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    assert long_results.scaling_summary("book") is None
    assert "not stored" in long_results.scaling_summary_text(None)
    budgets = long_study.scaling_budgets("book")  # 1,250 ... 20,000 steps: each twice the last

    def unit(family, seed, lr, offset, finished=len(budgets)):
        # bits fall with tokens; the transformer starts 0.4 bits worse and closes 0.1 bits per doubling
        scores = {}
        for i, b in enumerate(budgets[:finished]):
            bits = 6.0 - 0.2 * i + offset + 0.01 * seed + (0.4 - 0.1 * i if family == "transformer" else 0.0)
            scores[str(b)] = {"validation": {"bits_per_sample": bits}, "test": {"bits_per_sample": bits},
                              "tokens": b * 2048}
        return {"family": family, "size": "small", "seed": seed, "lr": lr, "budgets": scores, "parameters": 1000}
    units = {}
    for family in ("transformer", "wavenet"):
        units[f"{family}/small/seed0/lr0.002"] = unit(family, 0, 0.002, 0.3)  # a worse rate at seed 0
        for seed in (0, 1, 2):
            units[f"{family}/small/seed{seed}/lr0.001"] = unit(family, seed, 0.001, 0.0,
                                                               finished=2 if (family, seed) == ("wavenet", 2) else 5)
    write_results("ch3", "long_scaling", {"units": units, "chosen_lr": {"transformer/small": 0.001,
                                                                        "wavenet/small": 0.001},
                                          "tokens_per_step": 2048}, config={}, profile="book")
    summary = long_results.scaling_summary("book")
    assert summary["units"] == 8 and summary["units_finished"] == 7
    assert summary["families"]["transformer"]["rates_validation_bits"][0.002] == pytest.approx(6.3 - 0.8 + 0.0)
    assert sorted(summary["families"]["wavenet"]["test_bits"]) == [0, 1, 2]
    first, last = summary["gap"][0], summary["gap"][-1]
    assert first["seeds"] == 3 and first["mean"] == pytest.approx(0.4)
    assert last["seeds"] == 2 and last["mean"] == pytest.approx(0.0, abs=1e-9)  # wavenet seed 2 unfinished there
    assert summary["gap"][-2]["mean"] == pytest.approx(0.1)
    assert summary["trend"]["closing_per_doubling"] == pytest.approx(0.1)
    assert summary["trend"]["tokens_to_close"] is None  # already closed
    assert summary["trend"]["interval"].mean == pytest.approx(0.1)  # seeds 0 and 1 have both last budgets
    text = long_results.scaling_summary_text(summary)
    assert "7 of 8 started units finished" in text and "narrowed by 0.100 bits" in text
    assert "along the budgets it went +0.400, +0.300, +0.200, +0.100, +0.000 (widest at 2.56M tokens)" in text
    assert not long_results.scaling_complete(summary) and not long_results.scaling_complete(None)
    # finished: the report's 3a reads it beside the joint fit's extrapolation
    units["wavenet/small/seed2/lr0.001"] = unit("wavenet", 2, 0.001, 0.0)
    write_results("ch3", "long_scaling", {"units": units, "chosen_lr": {"transformer/small": 0.001,
                                                                        "wavenet/small": 0.001},
                                          "tokens_per_step": 2048}, config={}, profile="book")
    assert long_results.scaling_complete(long_results.scaling_summary("book"))
    import shutil
    from audioformers import report
    shutil.copytree(Path(__file__).resolve().parents[2] / "results" / "ch3", tmp_path / "ch3", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("long_scaling.*"))  # the committed part b, if any, is not this one
    rows = {r["claim"]: r for r in report.build_report("book", tmp_path)}
    assert "measured further, not extrapolated (the long study's part b" in rows["3a"]["what it would take"]
    assert "8 of 8 started units finished" in rows["3a"]["what it would take"]
    from audioformers.ch3 import findings
    assert "**Measured further.** The long study's part (b)" in findings.findings_markdown("book", tmp_path)
    assert long_results.plot_scaling_long(summary) is not None
    with pytest.raises(ValueError, match="summary"):
        long_results.plot_scaling_long(None)


def test_long_study_plan_counts_every_unit():
    from audioformers.ch3 import long_study

    kinds = {k: {"seconds_per_step": 1.0, "seconds_per_evaluation": 0.0}
             for k in [f"compare/{m}" for m in ns.MODEL_NAMES]
             + [f"scaling/{f}/{s}" for s in long_study.MEASURED_SIZES for f in ("transformer", "wavenet")]}
    plan = long_study.plan("book", kinds)
    # (a): 3 rates + 1 past an edge, then 3 domains x 3 seeds, 2,500 steps each, per model
    assert plan["compare"]["transformer"] == pytest.approx((4 + 9) * 2500 / 3600)
    # (b): 3 rates + 1 at seed 0 and 2 more seeds; a stable run to 16,000 steps plus every branch's decay
    steps = 0.8 * 20000 + 0.2 * (1250 + 2500 + 5000 + 10000 + 20000)
    assert plan["scaling"]["wavenet/small"] == pytest.approx(6 * steps / 3600)
    assert plan["scaling_hours"] == pytest.approx(2 * 6 * steps / 3600)  # the small size of both families
    assert long_study.plan("book", kinds, ("small", "medium"))["scaling_hours"] == pytest.approx(4 * 6 * steps / 3600)
    with pytest.raises(ValueError, match="profile"):
        long_study.plan("huge", kinds)


def test_load_scaling_adds_the_joint_fit_to_a_record_written_before_it(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    runs = _scaling_runs()
    current = scaling.scaling_metrics(runs, {"transformer": 1e-3, "wavenet": 2e-3}, resamples=5)
    config = scaling.scaling_config("smoke", ns.experiment_config("smoke", "music"))
    write_results("ch3", "scaling", {k: v for k, v in current.items() if k != "joint_fit"}, config=config,
                  profile="smoke")
    loaded = study.load_scaling("smoke", resamples=5)
    assert loaded["metrics"]["refitted_on_load"] is True
    assert loaded["metrics"]["joint_fit"]["wavenet"]["beta"] == current["joint_fit"]["wavenet"]["beta"]
    one_size = {f: {"small": r["small"]} for f, r in runs.items()}  # one size: no joint fit, the record as stored
    write_results("ch3", "scaling", scaling.scaling_metrics(one_size, {"transformer": 1e-3, "wavenet": 2e-3},
                                                            resamples=5), config=config, profile="smoke")
    loaded = study.load_scaling("smoke", resamples=5)
    assert "joint_fit" not in loaded["metrics"] and "refitted_on_load" not in loaded["metrics"]


def test_scaling_summary_reads_3a_bar_in_top5_along_the_budgets(monkeypatch, tmp_path):
    """Part (b)'s top-5 against part (a)'s bigram: the first budget where both families clear the 3-point bar, and
    the ordering read there only, with the budget and the paper's fraction in its verdict."""
    from audioformers.ch3 import claims, long_study

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    budgets = long_study.scaling_budgets("book")

    def unit(family, seed, top5):
        scores = {str(b): {"validation": {"bits_per_sample": 5.0}, "test": {"bits_per_sample": 5.0, "top5": t + 0.002 * seed},
                           "tokens": b * 2048} for b, t in zip(budgets, top5)}
        return {"family": family, "size": "small", "seed": seed, "lr": 0.001, "budgets": scores, "parameters": 1000}
    # bigram 0.30: the transformer passes +3 points only at the last two budgets; WaveNet from the first
    t5 = {"transformer": [0.30, 0.31, 0.32, 0.34, 0.36], "wavenet": [0.34, 0.36, 0.38, 0.40, 0.42]}
    units = {f"{f}/small/seed{s}/lr0.001": unit(f, s, t5[f]) for f in t5 for s in (0, 1, 2)}
    write_results("ch3", "long_scaling", {"units": units, "chosen_lr": {"transformer/small": 0.001,
                                                                        "wavenet/small": 0.001},
                                          "tokens_per_step": 2048}, config={}, profile="book")
    assert long_results.scaling_summary("book")["top5"] is None  # no part (a) bigram: nothing read
    assert "In top-5" not in long_results.scaling_summary_text(long_results.scaling_summary("book"))
    for seed in (0, 1, 2):
        write_results("ch3", long_results.long_name("piano-mini", seed), {"bigram": {"final": {"top5": 0.30}}},
                      config={}, profile="book")
    gate = long_results.scaling_summary("book")["top5"]
    assert gate["bigram"] == pytest.approx(0.30)
    assert [r["transformer"]["clears"] for r in gate["budgets"]] == [False, False, False, True, True]
    assert gate["first_clearing_tokens"] == budgets[3] * 2048
    assert gate["budgets"][-1]["difference"]["mean"] == pytest.approx(-0.06)
    text = long_results.scaling_summary_text(long_results.scaling_summary("book"), claims.PAPER)
    assert "both families clear it from 20.5M tokens" in text
    assert "is reversed at 41M tokens, 1.3% of the paper's data" in text
    import matplotlib
    matplotlib.use("Agg")
    ax = long_results.plot_scaling_long(long_results.scaling_summary("book"), metric="top5")
    assert [line.get_label() for line in ax.get_lines()][-2:] == ["bigram", "bigram + 3 pts"]
    assert ax.get_lines()[-1].get_ydata()[0] == pytest.approx(33.0)
    with pytest.raises(ValueError, match="metric"):
        long_results.plot_scaling_long(long_results.scaling_summary("book"), metric="loss")
    # a transformer that never clears: no ordering is read
    for s in (0, 1, 2):
        units[f"transformer/small/seed{s}/lr0.001"] = unit("transformer", s, [0.30] * 5)
    write_results("ch3", "long_scaling", {"units": units, "chosen_lr": {"transformer/small": 0.001,
                                                                        "wavenet/small": 0.001},
                                          "tokens_per_step": 2048}, config={}, profile="book")
    text = long_results.scaling_summary_text(long_results.scaling_summary("book"), claims.PAPER)
    assert "at no budget do both families clear it" in text and "reversed" not in text
