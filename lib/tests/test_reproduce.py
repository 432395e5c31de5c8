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
import torch

from audioformers import reproduce
from audioformers.train.training import load_checkpoint


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
    assert calls == [("audioformers.ch5.experiment:main", ["--profile", "book", "--seeds", "3", "4", "--models", "cnn"], "book")]
    record = json.loads(next(Path(os.environ["BOOK_RESULTS_DIR"]).glob("reproduce/ch5-run.book.json")).read_text())
    assert record["profile"] == "book" and record["seed"] == [3, 4]
    assert reproduce.main(["ch3", "--profile", "paper", "--dry-run"]) == 0
    assert "audioformers.ch3.study:main" in capsys.readouterr().out


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


# --- the chapters: kill -9 mid-training, rerun, same metrics as an uninterrupted run -------------------

_KILLER = """
import importlib, os, signal, sys
module, nth, kill_step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
target = importlib.import_module(module)
original, calls = target.fit, [0]

def fit(model, next_batch, *args, **kwargs):  # the nth training in `module` dies at `kill_step`
    calls[0] += 1
    if calls[0] != nth:
        return original(model, next_batch, *args, **kwargs)

    def dying(step):
        if step == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)
        return next_batch(step)

    return original(model, dying, *args, **kwargs)

target.fit = fit
from audioformers import reproduce
sys.exit(reproduce.main(sys.argv[4:]))
"""

# chapter: (datasets it reads, extra arguments, module whose nth fit() is killed, n, step, results file,
#           steps that module's fit() runs when resuming / when starting afresh)
_CHAPTER_RUNS = {
    "ch3": (["wave-mini"], ["--", "--parts", "tuning", "compare", "--domains", "music", "--threads", "1"],
            "audioformers.ch3.experiment", 2, 3, "ch3/compare_music_seed0.smoke.json", (27, 36)),
    "ch4": (["instruments-mini"], [], "audioformers.models.contrastive", 1, 2,
            "ch4/probe-table-instruments-mini.smoke.json", (4, 4)),  # killed in SimCLR pre-training
    "ch5": (["soundmix-mini"], ["--", "--what", "comparison", "--models", "transformer-haar", "cnn-vgg"],
            "audioformers.ch5.runs", 2, 2, "ch5/comparison.smoke.json", (14, 20)),  # 2 rates x 2 models + sweep
}
_TIMES = ("train_seconds", "train_seconds_mean", "eval_seconds", "wall_time_s", "probe_s", "times", "tokenizer_s", "code_lm_s",
          "simclr_s", "supervised_s", "seconds", "cpu_seconds", "seconds_full")


def _without_times(value):
    """Metrics with wall-clock times removed (they differ between any two runs)."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in _TIMES}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _data_dir_linked_to_built_datasets(tmp: Path, names: list[str]) -> Path:
    """A fresh data folder (checkpoints and caches start empty) holding hard links to the reader's built datasets."""
    import shutil

    from audioformers import data

    def link(source, destination):
        try:
            os.link(source, destination)
        except OSError:  # another file system
            shutil.copy2(source, destination)

    folder = tmp / "data"
    folder.mkdir(parents=True)
    for name in names:
        built = data.ensure_dataset(name)  # builds it into the reader's cache if `make data` has not
        shutil.copytree(built, folder / name, copy_function=link)
    return folder


def _kill_chapter(chapter: str, data_dir: Path, results: Path, extra: list[str]) -> int:
    """Run the chapter in a child process that SIGKILLs itself mid-training; return its exit status."""
    _, _, module, nth, step, _, _ = _CHAPTER_RUNS[chapter]
    env = {**os.environ, "BOOK_DATA_DIR": str(data_dir), "BOOK_RESULTS_DIR": str(results), "BOOK_PROFILE": "smoke",
           "OMP_NUM_THREADS": "1"}
    argv = [chapter, "--profile", "smoke", "--seed", "0", "--threads", "1", *extra]
    done = subprocess.run([sys.executable, "-c", _KILLER, module, str(nth), str(step), *argv], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stdout[-3000:]
    return done.returncode


def _run_chapter(chapter: str, extra: list[str], monkeypatch, flags: tuple[str, ...] = ()) -> tuple[dict, int]:
    """Run the chapter in this process (data and results folders as set in the environment).

    Returns its metrics and the number of training steps the killed module's ``fit`` ran."""
    import importlib

    module, result = importlib.import_module(_CHAPTER_RUNS[chapter][2]), _CHAPTER_RUNS[chapter][5]
    original, steps = module.fit, []

    def counting_fit(model, next_batch, *args, **kwargs):
        return original(model, lambda step: (steps.append(step), next_batch(step))[1], *args, **kwargs)

    threads = torch.get_num_threads()
    monkeypatch.setattr(module, "fit", counting_fit)
    try:
        assert reproduce.main([chapter, "--profile", "smoke", "--seed", "0", "--threads", "1", *flags, *extra]) == 0
    finally:
        torch.set_num_threads(threads)
        monkeypatch.setattr(module, "fit", original)
    return json.loads((Path(os.environ["BOOK_RESULTS_DIR"]) / result).read_text())["metrics"], len(steps)


@pytest.mark.parametrize("chapter", sorted(_CHAPTER_RUNS))
def test_chapter_killed_mid_training_resumes_to_the_same_metrics(chapter, tmp_path, monkeypatch, capsys):
    """kill -9 mid-training, rerun: the same metrics as an uninterrupted run (--no-resume, from scratch)."""
    names, extra, _, _, _, result, (resumed_steps, all_steps) = _CHAPTER_RUNS[chapter]
    data_dir, results = _data_dir_linked_to_built_datasets(tmp_path, names), tmp_path / "results"
    _kill_chapter(chapter, data_dir, results, extra)
    assert not (results / result).exists()  # killed before it could write its results
    assert not list(data_dir.rglob(".*.partial"))  # no half-written checkpoint was left
    if chapter == "ch4":  # killed in SimCLR: the tokenizer was saved, the pre-training unit (LM + SimCLR) was not
        folds = data_dir / "ch4" / "folds"
        assert len(list(folds.glob("tokenizer-*.pt"))) == 1 and not list(folds.glob("pretrain-*.pt"))
    else:  # the second model's checkpoint is mid-way
        partial = [c for c in map(load_checkpoint, data_dir.rglob("*.pt")) if "step" in c]
        assert any(0 < c["step"] < c["steps"] for c in partial), [(c["step"], c["steps"]) for c in partial]
    monkeypatch.setenv("BOOK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(results))
    resumed, steps = _run_chapter(chapter, extra, monkeypatch)
    assert steps == resumed_steps  # it continued from the checkpoints, it did not start again

    # --no-resume reaches the chapter: with every checkpoint, cache and result garbled, it still runs (it
    # deletes what it would have resumed from), from scratch and uninterrupted, to the same numbers.
    for path in [*(p for p in data_dir.glob(f"{chapter}/**/*") if p.is_file()), results / result]:
        path.unlink()
        path.write_bytes(b"garbled")
    capsys.readouterr()
    whole, steps = _run_chapter(chapter, extra, monkeypatch, flags=("--no-resume",))
    assert steps == all_steps
    assert _without_times(resumed) == _without_times(whole)
    if chapter == "ch4":  # the garbled log-mel caches were recomputed, each with a one-line notice
        assert capsys.readouterr().err.count("notice: cache") == 3
