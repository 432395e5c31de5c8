"""Chapter 5's tasks: the audio and targets each run trains and is scored on, the crops, and the test metric.

* ``soundmix`` (soundmix-mini, multi-label, mAP), ``family`` and ``pitch`` (the same instruments-mini audio
  labelled by instrument family or by pitch class), ``time_scale`` (four rhythms of one drum hit:
  :mod:`audioformers.ch5.time_scale`) and ``fsd50k`` (the ``paper`` profile's data).
* Training draws random 1 s crops (:func:`random_crops`); a test clip is scored by averaging its crops'
  outputs (:func:`audioformers.ch5.runs.clip_scores`), then :func:`score_task` gives the metric overall and
  per test source (a fold of clips, a GM program, a drum kit): the test sources of the paired intervals.

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "The data: soundmix-mini")
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from audioformers import data
from audioformers.ch5 import time_scale
from audioformers.evaluation.metrics import tagging_metrics

CROP_SAMPLES = 16000  # 1 s at 16 kHz
TASKS = ("soundmix", "family", "pitch", "time_scale", "fsd50k")
EVAL_FOLDS = 5  # the test clips in this many fixed folds: mAP per fold = the test sources of the paired intervals
PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

#: the offline dataset each task reads (``fsd50k`` is downloaded, checksummed at download)
TASK_DATASETS = {"soundmix": "soundmix-mini", "family": "instruments-mini", "pitch": "instruments-mini",
                 "time_scale": "drums-mini"}


def data_version(task: str) -> str:
    """The offline dataset's build hash, or the task name for downloaded data (checksummed at download).

    The time-scale clips are made from drums-mini by :mod:`audioformers.ch5.time_scale`: its ``VERSION`` is part
    of the data."""
    name = TASK_DATASETS.get(task)
    if task == "time_scale":
        return f"{data.build_hash(name)}-v{time_scale.VERSION}"
    return data.build_hash(name) if name else task


def _subset(clips: data.ClipSet, count: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.permutation(len(clips.labels))[: min(count, len(clips.labels))]


@lru_cache(maxsize=4)
def load_task(task: str, train_clips: int, test_clips: int) -> dict[str, Any]:
    """Training/test audio and targets (float multi-hot or int labels) for a task.

    ``test_sources`` names what each test clip comes from (a fold of clips, a GM program, a drum kit): the
    test sources of the paired intervals.
    """
    if task == "soundmix":
        train = data.load_soundmix("train", num_clips=train_clips)
        test = data.load_soundmix("test", num_clips=test_clips)
        return {"train_audio": train.audio, "train_targets": train.targets, "test_audio": test.audio,
                "test_targets": test.targets, "classes": train.classes, "multilabel": True,
                "test_sources": _folds(len(test.targets))}
    if task in ("family", "pitch"):  # the same audio; labels: instrument family, or pitch class (MIDI mod 12)
        train = data.load_clips("instruments-mini", "train")
        test = data.load_clips("instruments-mini", "test")
        tr, te = _subset(train, train_clips), _subset(test, test_clips)
        if task == "family":
            y_train, y_test, classes = train.labels[tr], test.labels[te], train.classes
        else:
            y_train, y_test, classes = train.info["pitch"][tr] % 12, test.info["pitch"][te] % 12, PITCH_CLASSES
        return {"train_audio": train.audio[tr], "train_targets": y_train.astype(np.int64), "test_audio": test.audio[te],
                "test_targets": y_test.astype(np.int64), "classes": classes, "multilabel": False,
                "test_sources": test.sources[te]}
    if task == "time_scale":
        train, test = time_scale.make_split("train", train_clips), time_scale.make_split("test", test_clips)
        return {"train_audio": train.audio, "train_targets": train.labels, "test_audio": test.audio,
                "test_targets": test.labels, "classes": train.classes, "multilabel": False,
                "test_sources": test.sources}
    if task == "fsd50k":  # the paper's data: downloaded with data_scripts/download_datasets.py --dataset fsd50k
        from audioformers.data.public_datasets import load_fsd50k  # only the paper profile needs it (and its deps)

        train = load_fsd50k("train", max_clips=train_clips)
        test = load_fsd50k("eval", max_clips=test_clips)
        return {"train_audio": train.audio, "train_targets": train.targets, "test_audio": test.audio,
                "test_targets": test.targets, "classes": train.classes, "multilabel": True,
                "test_sources": _folds(len(test.targets))}
    raise ValueError(f"unknown task {task!r}; choose from {TASKS}")


def _folds(count: int) -> np.ndarray:
    """Fixed contiguous folds of the test clips (``fold0`` ... ): mAP needs many clips, so a fold is the unit."""
    folds = min(EVAL_FOLDS, max(1, count // 2))
    return np.array([f"fold{i * folds // count}" for i in range(count)])


def random_crops(audio: np.ndarray, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` random 1 s crops (indices of their clips, crops (B, 16000))."""
    clip_index = rng.integers(0, audio.shape[0], batch_size)
    starts = rng.integers(0, audio.shape[1] - CROP_SAMPLES + 1, batch_size)
    crops = np.stack([audio[i, s : s + CROP_SAMPLES] for i, s in zip(clip_index, starts)])  # (B, 16000)
    return clip_index, crops


def score_task(task: dict[str, Any], scores: np.ndarray) -> dict[str, Any]:
    """The test metric (``map`` for multi-label tasks, ``accuracy`` otherwise) overall and per test source."""
    sources = np.asarray(task["test_sources"])
    names = list(dict.fromkeys(sources.tolist()))
    if task["multilabel"]:
        metrics = tagging_metrics(task["test_targets"], scores, task["classes"])
        per_source = {n: tagging_metrics(task["test_targets"][sources == n], scores[sources == n])["mAP"]
                      for n in names}
        return {"map": metrics["mAP"], "mAP": metrics["mAP"], "d_prime": metrics["d_prime"],
                "per_class_AP": metrics["per_class_AP"], "per_source": per_source}
    correct = scores.argmax(1) == task["test_targets"]
    return {"accuracy": float(correct.mean()), "per_source": {n: float(correct[sources == n].mean()) for n in names}}
