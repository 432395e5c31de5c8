"""Chapter 5's tasks: the audio and targets each run trains and is scored on, the crops, and the test metric.

* ``soundmix`` (soundmix-mini, multi-label, mAP), ``family`` and ``pitch`` (the same instruments-mini audio
  labelled by instrument family or by pitch class), ``time_scale`` (four rhythms of one drum hit:
  :mod:`audioformers.ch5.time_scale`) and ``fsd50k`` (the ``paper`` profile's data).
* Training draws random 1 s crops (:func:`random_crops`); a test clip is scored by averaging its crops'
  outputs (:func:`audioformers.ch5.runs.clip_scores`), then :func:`score_task` gives the metric overall and
  per test source (a test recording, a GM program, a drum kit): the test sources of the paired intervals.
* soundmix-mini is split by recording into train, validation and test (:mod:`audioformers.data.builders.soundmix`);
  a soundmix test clip mixes events of several recordings, so its test source is each recording: the recording's
  AP (:func:`recording_ap`). ``soundmix-r50`` and ``soundmix-r25`` train on half and a quarter of each class's
  training recordings (nested subsets; the same number of mixtures): the training-data sweep over unique audio.

Notebook: chapters/05_wavelet_audio_transformer.ipynb (section "The data: soundmix-mini")
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from audioformers import data
from audioformers.ch5 import time_scale
from audioformers.evaluation.metrics import average_precision, tagging_metrics

CROP_SAMPLES = 16000  # 1 s at 16 kHz
#: soundmix tasks by the fraction of each class's training recordings they train on (the data sweep)
SOUNDMIX_FRACTIONS = {"soundmix": 1.0, "soundmix-r50": 0.5, "soundmix-r25": 0.25}
TASKS = (*SOUNDMIX_FRACTIONS, "family", "pitch", "time_scale", "fsd50k")
EVAL_FOLDS = 5  # fsd50k: the test clips in this many fixed folds (the test sources of the paired intervals)
PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

#: the offline dataset each task reads (``fsd50k`` is downloaded, checksummed at download)
TASK_DATASETS = {**{t: "soundmix-mini" for t in SOUNDMIX_FRACTIONS}, "family": "instruments-mini",
                 "pitch": "instruments-mini", "time_scale": "drums-mini"}


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


def training_recordings(fraction: float) -> dict[str, Any]:
    """soundmix-mini's training events from ``fraction`` of each class's training recordings (at least one; a
    seeded order, so a smaller fraction's recordings are part of a larger one's): ``events``, ``recordings``
    (per class) and ``seconds`` (unique audio)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    folder = data.ensure_dataset("soundmix-mini")
    from audioformers.data.builders import read_csv

    events = [e for e in read_csv(folder / "events.csv") if e["split"] == "train"]
    kept: dict[str, list[str]] = {}
    for cls in sorted({e["class"] for e in events}):
        names = sorted({e["recording"] for e in events if e["class"] == cls})
        order = [names[i] for i in np.random.default_rng(len(names)).permutation(len(names))]
        kept[cls] = sorted(order[: max(1, int(np.ceil(fraction * len(names) - 1e-9)))])
    chosen = [e for e in events if e["recording"] in kept[e["class"]]]
    rate = int(data.metadata("soundmix-mini")["sample_rate"])
    return {"events": chosen, "recordings": kept, "seconds": sum(int(e["length"]) for e in chosen) / rate}


def _soundmix_train(task: str, clips: int) -> data.MultiLabelSet:
    """Training mixtures: all of the split's recordings (``soundmix``, as :func:`data.load_soundmix` makes them)
    or a fraction of each class's (the sweep's tasks: the same seed, fewer unique events)."""
    if SOUNDMIX_FRACTIONS[task] == 1.0:
        return data.load_soundmix("train", num_clips=clips)
    folder = data.ensure_dataset("soundmix-mini")
    meta = data.metadata("soundmix-mini")
    bank = np.load(folder / "bank_audio.npy", mmap_mode="r")
    audio, targets = data.mix_events(bank, training_recordings(SOUNDMIX_FRACTIONS[task])["events"],
                                     list(meta["classes"]), clips, 0, 4 * int(meta["sample_rate"]))
    return data.MultiLabelSet(audio=audio, targets=targets, classes=list(meta["classes"]),
                              sample_rate=int(meta["sample_rate"]))


def validation_clips(test_clips: int) -> int:
    """How many validation clips a soundmix run scores besides its test clips (half as many, at least 8)."""
    return max(8, test_clips // 2)


@lru_cache(maxsize=4)
def load_task(task: str, train_clips: int, test_clips: int) -> dict[str, Any]:
    """Training/test audio and targets (float multi-hot or int labels) for a task.

    ``test_sources`` names what each test clip comes from (a GM program, a drum kit, a fold): the test sources of
    the paired intervals. soundmix tasks also hold ``validation_audio``/``validation_targets`` (the clips models
    and learning rates are chosen on), ``test_recordings`` (per test clip, its events' recordings) and
    ``recording_class``; their test sources are the test recordings (:func:`recording_ap`).
    """
    if task in SOUNDMIX_FRACTIONS:
        train = _soundmix_train(task, train_clips)
        validation = data.load_soundmix("validation", num_clips=validation_clips(test_clips))
        test = data.load_soundmix("test", num_clips=test_clips)
        folder = data.ensure_dataset("soundmix-mini")
        from audioformers.data.builders import read_csv

        recording_class = {e["recording"]: e["class"] for e in read_csv(folder / "events.csv")}
        return {"train_audio": train.audio, "train_targets": train.targets, "test_audio": test.audio,
                "test_targets": test.targets, "classes": train.classes, "multilabel": True,
                "validation_audio": validation.audio, "validation_targets": validation.targets,
                "test_recordings": test.recordings, "recording_class": recording_class,
                "test_sources": np.array(["+".join(r) for r in test.recordings])}
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


def recording_ap(targets: np.ndarray, scores: np.ndarray, recordings: list[list[str]], recording_class: dict[str, str],
                 classes: list[str]) -> dict[str, float]:
    """Per test recording, the AP of its class over the clips that hold that recording (positives) and the clips
    without the class (negatives); clips holding the class through another recording are left out. Each
    recording is then one test source: its own events, scored against the same negatives for every model."""
    targets, scores = np.asarray(targets), np.asarray(scores)
    out: dict[str, float] = {}
    for name in sorted({r for clip in recordings for r in clip}):
        c = classes.index(recording_class[name])
        has = np.array([name in clip for clip in recordings])
        keep = has | (targets[:, c] == 0)
        if has.any() and (~has & keep).any():
            out[name] = float(average_precision(has[keep].astype(np.float32), scores[keep, c]))
    return out


def score_task(task: dict[str, Any], scores: np.ndarray) -> dict[str, Any]:
    """The test metric (``map`` for multi-label tasks, ``accuracy`` otherwise) overall and per test source (soundmix:
    per test recording, :func:`recording_ap`)."""
    sources = np.asarray(task["test_sources"])
    names = list(dict.fromkeys(sources.tolist()))
    if task["multilabel"] and "test_recordings" in task:
        metrics = tagging_metrics(task["test_targets"], scores, task["classes"])
        per_source = recording_ap(task["test_targets"], scores, task["test_recordings"], task["recording_class"],
                                  task["classes"])
        return {"map": metrics["mAP"], "mAP": metrics["mAP"], "d_prime": metrics["d_prime"],
                "per_class_AP": metrics["per_class_AP"], "per_source": per_source}
    if task["multilabel"]:
        metrics = tagging_metrics(task["test_targets"], scores, task["classes"])
        per_source = {n: tagging_metrics(task["test_targets"][sources == n], scores[sources == n])["mAP"]
                      for n in names}
        return {"map": metrics["mAP"], "mAP": metrics["mAP"], "d_prime": metrics["d_prime"],
                "per_class_AP": metrics["per_class_AP"], "per_source": per_source}
    correct = scores.argmax(1) == task["test_targets"]
    return {"accuracy": float(correct.mean()), "per_source": {n: float(correct[sources == n].mean()) for n in names}}
