"""Chapter 5's phases: the committed results are reused by the one rule (their config), never re-run; the
notebook's ``device`` reaches training; :class:`RunConfig` refuses bad fields by name."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from audioformers.ch5 import experiment as se
from audioformers.ch5 import runs
from audioformers.ch5 import study as cs
from audioformers.ch5.config import RunConfig

COMMITTED = Path(__file__).resolve().parents[2] / "results" / "ch5"


class Ran(Exception):
    """Raised by a run function that must not have been called."""


def _never(*args, **kwargs):
    raise Ran("a stored result was not reused")


@pytest.fixture
def committed(tmp_path, monkeypatch):
    """A copy of the committed ``results/ch5`` as the results folder, and every way to train closed."""
    shutil.copytree(COMMITTED, tmp_path / "results" / "ch5")
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "data"))
    for name, (config, _) in list(se.PHASES.items()):
        monkeypatch.setitem(se.PHASES, name, (config, _never))
    monkeypatch.setattr(cs, "run_study", _never)
    monkeypatch.setattr(runs, "train_model", _never)
    return tmp_path / "results" / "ch5"


# Only the book profile's records are committed (smoke records are written by CI's own runs and ignored by git):
# the loaders are checked against what a fresh clone holds.
@pytest.mark.parametrize("profile, name", [("book", "comparison"), ("book", "time_scale"), ("book", "front_end"),
                                           ("book", "study")])
def test_each_loader_returns_the_committed_record_without_running(committed, profile, name):
    stored = json.loads((committed / f"{name}.{profile}.json").read_text())
    assert se.load_or_run(name, profile=profile, device="cpu") == stored["metrics"]


@pytest.mark.parametrize("profile", ["book"])
def test_the_study_loader_returns_the_committed_record_without_running(committed, profile):
    stored = json.loads((committed / f"study.{profile}.json").read_text())
    scale, record = cs.load_or_run(profile, device="cpu")
    assert scale == stored["metrics"]["scale"] and record["config"] == stored["config"]


def test_the_committed_configs_are_the_ones_the_runs_write(committed):
    """What each loader asks for is built as the run builds it (no field of the committed files changes)."""
    for profile in ("book",):  # the committed profile (smoke records are not in git)
        for name, (config, _) in se.PHASES.items():
            path = committed / f"{name}.{profile}.json"
            if name == "study" and "variants" not in json.loads(path.read_text())["config"]:
                continue  # the one-seed variants were never run at smoke: only the command-line study's part
            assert json.loads(json.dumps(config(profile))) == json.loads(path.read_text())["config"], (name, profile)
        assert json.loads(json.dumps(cs.study_config(profile))) == json.loads(
            (committed / f"study.{profile}.json").read_text())["config"]


@pytest.mark.parametrize("field, value", [("steps", 301), ("seeds", [0, 1]), ("lr", 3e-4), ("models", ["cnn-vgg"])])
def test_a_stored_result_with_another_config_is_run_again(committed, field, value):
    path = committed / "comparison.book.json"
    record = json.loads(path.read_text())
    record["config"][field] = value
    path.write_text(json.dumps(record))
    with pytest.raises(Ran):
        se.load_or_run("comparison", profile="book")


def test_the_study_loader_runs_when_the_study_part_differs(committed):
    path = committed / "study.book.json"
    record = json.loads(path.read_text())
    record["config"]["scale"]["table_steps"] = 999
    path.write_text(json.dumps(record))
    with pytest.raises(Ran):
        cs.load_or_run("book")


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="unknown name 'nope'"):
        se.load_or_run("nope", profile="smoke")


class Reached(Exception):
    pass


@pytest.mark.parametrize("phase", [*se.PHASES, "command-line study"])
def test_the_notebooks_device_reaches_training(phase, tmp_path, monkeypatch):
    """``load_or_run(..., device=...)`` trains on that device; the environment's default is never consulted."""
    from audioformers.core import device as core_device

    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "data"))
    rng = np.random.default_rng(0)
    tiny = {"train_audio": rng.standard_normal((4, 16000)).astype(np.float32) * 0.1,
            "train_targets": (rng.random((4, 3)) < 0.5).astype(np.float32),
            "test_audio": rng.standard_normal((2, 16000)).astype(np.float32) * 0.1,
            "test_targets": np.eye(3, dtype=np.float32)[:2], "classes": ["a", "b", "c"], "multilabel": True,
            "test_sources": np.array(["fold0", "fold1"])}
    monkeypatch.setattr(runs, "load_task", lambda *args: tiny)
    monkeypatch.setattr(core_device, "get_device", lambda *a, **k: pytest.fail("the default device was consulted"))
    seen = []

    def fit(model, next_batch, loss_fn, *, device, **kwargs):
        seen.append(torch.device(device))
        raise Reached()

    monkeypatch.setattr(runs, "fit", fit)
    chosen = torch.device("cpu")
    with pytest.raises(Reached):
        if phase == "command-line study":
            cs.load_or_run("smoke", device=chosen)
        else:
            se.load_or_run(phase, profile="smoke", device=chosen)
    assert seen == [chosen]


@pytest.mark.parametrize("field, value, error", [
    ("model", "densenet", ValueError), ("task", "tempo", ValueError), ("front_init", "mel", ValueError),
    ("steps", 0, ValueError), ("batch_size", 2.5, TypeError), ("train_clips", -1, ValueError),
    ("lr", math.nan, ValueError), ("lr", 0.0, ValueError), ("seed", -1, ValueError), ("seed", "3", TypeError),
    ("eval_every", -1, ValueError), ("front_hidden", 0, ValueError), ("patch_samples", 0, ValueError),
])
def test_run_config_refuses_bad_fields_by_name(field, value, error):
    with pytest.raises(error, match=field):
        RunConfig(**{field: value})
    assert RunConfig(eval_every=0, seed=0).key() == RunConfig().key()  # valid defaults; the key is unchanged


# --- #32 item 4: the split by recording, per-recording scores, tuning on validation, the data sweep ------------
from audioformers import data  # noqa: E402
from audioformers.ch5 import claims as ch5_claims  # noqa: E402
from audioformers.ch5 import comparison as cmp  # noqa: E402
from audioformers.ch5 import tasks  # noqa: E402
from audioformers.data.builders import soundmix as sm  # noqa: E402


def test_recordings_split_three_ways_with_the_minima():
    cfg = sm.SOUNDMIX_CONFIG
    for n in (7, 8, 12, 40):
        split = sm.split_recordings([f"r{i}" for i in range(n)], "salt", cfg)
        counts = {s: sum(v == s for v in split.values()) for s in sm.SOUNDMIX_SPLITS}
        assert len(split) == n and sum(counts.values()) == n
        assert counts["test"] >= cfg["min_recordings"]["test"] and counts["validation"] >= 1, (n, counts)
        assert counts["train"] >= cfg["min_recordings"]["train"], (n, counts)
    assert sm.split_recordings(["a", "b", "c"], "x", cfg) == sm.split_recordings(["c", "b", "a"], "x", cfg)


def _events():
    from audioformers.data.builders import read_csv

    return read_csv(data.ensure_dataset("soundmix-mini") / "events.csv")


def test_soundmix_is_split_by_recording_with_four_test_recordings_per_class():
    events = _events()
    splits: dict[str, set] = {}
    for e in events:
        splits.setdefault(e["recording"], set()).add(e["split"])
    assert all(len(s) == 1 for s in splits.values())  # no recording in two splits
    for cls in data.metadata("soundmix-mini")["classes"]:
        for split, least in (("train", 2), ("validation", 1), ("test", 4)):
            assert len({e["recording"] for e in events if e["class"] == cls and e["split"] == split}) >= least, \
                (cls, split)
    programs = {e["recording"] for e in events if e["source"].startswith("gm-program-")}
    assert all(p.startswith("gm-program-") and "phrase" not in p for p in programs)  # a program is one recording


def test_soundmix_clips_name_their_recordings_and_validation_is_its_own_split():
    val, test = data.load_soundmix("validation", num_clips=12), data.load_soundmix("test", num_clips=12)
    events = {e["recording"]: e for e in _events()}
    for clips, split in ((val, "validation"), (test, "test")):
        assert len(clips.recordings) == 12
        for row, names in zip(clips.targets, clips.recordings):
            assert all(events[n]["split"] == split for n in names)
            assert sorted(events[n]["class"] for n in names) == sorted(np.array(clips.classes)[row == 1])
    with pytest.raises(ValueError, match="split"):
        data.load_soundmix("dev")


def test_recording_ap_scores_each_recording_against_the_clips_without_its_class():
    targets = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1]], dtype=np.float32)
    recordings = [["a1"], ["a2"], ["b1"], ["b1"], ["a1", "b2"]]
    scores = np.array([[0.9, 0], [0.2, 0], [0.5, 0.1], [0.1, 0.3], [0.8, 0.7]], dtype=np.float32)
    ap = tasks.recording_ap(targets, scores, recordings, {"a1": "x", "a2": "x", "b1": "y", "b2": "y"}, ["x", "y"])
    # a1: positives clips 0 and 4 (0.9, 0.8) above the negatives of class x (clips 2, 3: 0.5, 0.1): AP 1
    # a2: positive clip 1 (0.2) below clip 2 (0.5), above clip 3 (0.1): AP 1/2; clip 0 and 4 hold x: left out
    assert ap == pytest.approx({"a1": 1.0, "a2": 0.5, "b1": 1.0, "b2": 1.0})
    # b1's positives (0.1, 0.3) against negatives 0 and 0 of class y in clips 0, 1
    worse = scores.copy()
    worse[1, 1] = 0.2
    assert tasks.recording_ap(targets, worse, recordings, {"a1": "x", "a2": "x", "b1": "y", "b2": "y"},
                              ["x", "y"])["b1"] == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))  # 0.3 pos, 0.2 neg, 0.1 pos


def test_the_sweep_trains_on_nested_subsets_of_recordings():
    quarter, half, everything = (tasks.training_recordings(f) for f in (0.25, 0.5, 1.0))
    for cls, names in everything["recordings"].items():
        assert set(quarter["recordings"][cls]) <= set(half["recordings"][cls]) <= set(names)
        assert len(quarter["recordings"][cls]) >= 1
    assert quarter["seconds"] < half["seconds"] < everything["seconds"]
    with pytest.raises(ValueError, match="fraction"):
        tasks.training_recordings(0.0)


def _run(model, seed, val, test, per_source=None, lr=1e-3):
    return {"config": {"model": model, "seed": seed, "lr": lr, "task": "soundmix"}, "validation_map": val,
            "map": test, "mAP": test, "per_source": per_source or {"r1": test, "r2": test - 0.01}}


def test_rates_and_the_transformer_are_chosen_on_validation_not_test():
    grid = {"cnn-vgg": {3e-4: _run("cnn-vgg", 0, 0.5, 0.9), 1e-3: _run("cnn-vgg", 0, 0.6, 0.1)}}
    assert cmp.chosen_rates(grid) == {"cnn-vgg": 1e-3}
    runs_ = [_run("transformer-average", s, 0.40, 0.20) for s in (0, 1)] + \
            [_run("transformer-dft", s, 0.30, 0.35) for s in (0, 1)]
    assert cmp.selected_transformer(runs_) == "transformer-average"
    scores = {"transformer-average": {0: runs_[0], 1: runs_[1]}, "transformer-dft": {0: runs_[2], 1: runs_[3]}}
    assert ch5_claims.selected_transformer({"metrics": {}}, scores) == "transformer-average"
    with pytest.raises(ValueError, match="validation_map"):
        cmp.chosen_rates({"cnn-vgg": {1e-3: {"map": 0.5}, 3e-3: {"map": 0.4}}})


def test_5a_reads_the_transformer_chosen_on_validation(tmp_path):
    runs_ = [_run(m, s, val, test, {f"r{i}": test + 0.01 * i + 0.003 * s for i in range(4)})
             for m, val, test in (("transformer-average", 0.40, 0.20), ("transformer-dft", 0.30, 0.35),
                                  ("cnn-vgg", 0.50, 0.45)) for s in (0, 1, 2)]
    record = {"config": {"steps": 300, "train_clips": 2000, "test_clips": 300, "task": "soundmix"},
              "metrics": {"runs": [{**r, "train_seconds": 1.0} for r in runs_],
                          "selected_transformer": "transformer-average",
                          "test_set": {"recordings_by_split": {"train": 156}}}}
    (tmp_path / "ch5").mkdir()
    (tmp_path / "ch5" / "comparison.book.json").write_text(json.dumps(record))
    measured = ch5_claims._ch5_transformer_vs_cnn("book", tmp_path)
    assert [c.a for c in measured.comparisons] == ["transformer-average"]
    assert "chosen on validation mAP: transformer-average" in measured.why
    assert "156 training recordings" in measured.budget.text
    absolute = ch5_claims._ch5_absolute("book", tmp_path)
    assert "(transformer-average)" in absolute.text and "0.200" in absolute.text


def test_the_committed_comparison_holds_clip_scores_and_chosen_rates():
    record = json.loads((COMMITTED / "comparison.book.json").read_text())
    m, cfg = record["metrics"], record["config"]
    assert set(m["chosen_lr"]) == set(cfg["models"]) and all(lr in cfg["lr_grid"] for lr in m["chosen_lr"].values())
    for model, by_lr in m["tuning"]["validation_map"].items():
        assert set(map(float, by_lr)) == set(cfg["lr_grid"])
        assert float(max(by_lr, key=by_lr.get)) == m["chosen_lr"][model]  # the best on validation
    clips = m["clip_scores"]
    assert len(clips["recordings"]) == m["test_set"]["clips"] == cfg["test_clips"]
    for model in cfg["models"]:
        assert set(clips["scores"][model]) == {str(s) for s in cfg["seeds"]}
        for scores in clips["scores"][model].values():
            assert np.array(scores).shape == (cfg["test_clips"], len(clips["classes"]))
    assert min(m["test_set"]["recordings_per_class"].values()) >= 4
    for run in m["runs"]:
        assert run["config"]["lr"] == m["chosen_lr"][run["config"]["model"]]
        assert len(run["per_source"]) == m["test_set"]["recordings"]  # test sources: the test recordings
