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
