"""The command-line runner: argument errors, dispatch to the chapters, and resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audioformers import reproduce
from audioformers.training import load_checkpoint


@pytest.mark.parametrize("argv, message", [
    (["ch9", "--profile", "smoke"], "unknown chapter 'ch9'"),
    (["ch5", "--profile", "huge"], "unknown profile 'huge'"),
    (["ch5", "--seed", "-1"], "seeds must be non-negative"),
    ([], "a chapter is required"),
    (["demo", "--profile", "smoke", "--bogus"], "unknown arguments for demo"),
])
def test_bad_arguments_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_aliases_resolve():
    assert reproduce.resolve_chapter("3") == "ch3" and reproduce.resolve_chapter("sound_events") == "ch5"
    assert set(reproduce.CHAPTERS) >= {"ch3", "ch4", "ch5", "demo"}


def test_dispatch_sets_profile_and_passes_seeds(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(reproduce, "_call", lambda target, argv: calls.append((target, argv, os.environ["BOOK_PROFILE"])))
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert reproduce.main(["5", "--profile", "book", "--seed", "3", "4", "--", "--models", "cnn"]) == 0
    assert calls == [("audioformers.sound_events:main", ["--profile", "book", "--seeds", "3", "4", "--models", "cnn"], "book")]
    record = json.loads(next(Path(os.environ["BOOK_RESULTS_DIR"]).glob("reproduce/ch5-run.book.json")).read_text())
    assert record["profile"] == "book" and record["seed"] == [3, 4]
    assert reproduce.main(["ch3", "--profile", "paper", "--dry-run"]) == 0
    assert "audioformers.nextsample:main" in capsys.readouterr().out


def test_chapter_targets_exist():
    import importlib

    for chapter in reproduce.CHAPTERS.values():
        module, function = chapter.target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), chapter.target


def test_refuses_torchrun_for_single_process_chapters(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert reproduce.main(["ch4", "--profile", "smoke"]) == 2


def _demo_metrics(results: Path) -> dict:
    return json.loads((results / "reproduce-demo" / "demo-seed0.smoke.json").read_text())["metrics"]


def test_killed_run_resumes_to_the_same_metrics(tmp_path, monkeypatch):
    env = {**os.environ, "BOOK_DATA_DIR": str(tmp_path / "data_a"), "BOOK_RESULTS_DIR": str(tmp_path / "results_a"),
           "BOOK_PROFILE": "smoke", "OMP_NUM_THREADS": "1"}
    checkpoint = tmp_path / "data_a" / "checkpoints" / "reproduce" / "demo-smoke-seed0.pt"
    process = subprocess.Popen([sys.executable, "-m", "audioformers.reproduce", "demo", "--seed", "0",
                                "--threads", "1", "--throttle", "0.1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)  # mid-run, without warning
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = load_checkpoint(checkpoint)["step"]
    assert 0 < killed_at < 60, "the run was not interrupted mid-way"
    assert not (tmp_path / "results_a" / "reproduce-demo").exists()  # nothing written yet
    assert not list(checkpoint.parent.glob("*.partial"))  # never a half-written checkpoint left as one

    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "data_a"))
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results_a"))
    assert reproduce.main(["demo", "--profile", "smoke", "--seed", "0"]) == 0  # resumes
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "data_b"))
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results_b"))
    assert reproduce.main(["demo", "--profile", "smoke", "--seed", "0"]) == 0  # uninterrupted
    resumed, uninterrupted = _demo_metrics(tmp_path / "results_a"), _demo_metrics(tmp_path / "results_b")
    assert resumed == pytest.approx(uninterrupted, rel=1e-6, abs=1e-7)
    assert uninterrupted["test_accuracy"] > 0.5  # it learned something (chance 0.25)
