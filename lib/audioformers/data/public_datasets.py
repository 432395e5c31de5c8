"""Loaders for the full public datasets (``paper`` profile), in the offline loaders' containers.

* :func:`load_fsd50k` -> :class:`data.MultiLabelSet` (200 AudioSet labels; dev.csv's train/val split,
  eval.csv for the test set), like ``data.load_soundmix``;
* :func:`load_maestro` -> list of float32 waveforms at 16 kHz, one per recording, split by MAESTRO's
  own file-level split, like ``data.load_wave_mini``;
* :func:`load_speech_commands` -> :class:`data.ClipSet` (35 words, 1 s at 16 kHz, the official
  validation/testing lists, speaker ids as ``sources``), like ``data.load_clips``.

Each reads the folder that :func:`downloads.download_dataset` unpacked (or ``root``), so a chapter
switches from offline to public data by profile without other changes.

Notebook: ``chapters/R_reproduction_report.ipynb`` (section "Running at the paper's scale").
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from audioformers.core.progress import tqdm

from audioformers.data import downloads
from audioformers.audio.audio_io import check_sample_rate, load_audio
from audioformers.data.loaders import ClipSet, MultiLabelSet, _positive, _whole
from audioformers.core.results import read_cache_npy, read_cache_npz

FSD50K_NUM_CLASSES = 200
SPEECH_COMMANDS_WORDS: tuple[str, ...] = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward", "four", "go",
    "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on", "one", "right", "seven",
    "sheila", "six", "stop", "three", "tree", "two", "up", "visual", "wow", "yes", "zero")
SAMPLE_RATE = 16000


def _check(value: str, valid: tuple[str, ...], what: str) -> None:
    if value not in valid:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def dataset_root(name: str, root: str | Path | None = None) -> Path:
    """The unpacked folder of public dataset ``name``; a clear error saying how to download it if missing."""
    folder = Path(root) if root is not None else downloads.dataset_folder(name)
    if root is None and not downloads.is_complete(name):
        raise FileNotFoundError(f"the public dataset {name!r} is not downloaded: run "
                                f"`python data_scripts/download_datasets.py --dataset {name}` "
                                "(needs internet and the disk space it reports)")
    if not folder.is_dir():
        raise FileNotFoundError(f"{name}: folder {folder} does not exist")
    return folder


def _fit_length(waveform: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` samples, zero-padded at the end when shorter."""
    out = np.zeros(length, np.float32)
    out[: min(length, len(waveform))] = waveform[:length]
    return out


# --- FSD50K -----------------------------------------------------------------------------------

def _to_pcm(audio: np.ndarray) -> np.ndarray:
    return np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def _from_pcm(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.float32) / 32767.0


def _cache_key(files: list[Path], *settings: object) -> str:
    """What a decoded cache depends on: each source file's name and size, and the loader's settings."""
    import hashlib

    payload = [["/".join(f.parts[-2:]), f.stat().st_size if f.exists() else None] for f in files] + [str(v) for v in settings]
    return hashlib.sha1(repr(payload).encode()).hexdigest()[:12]


def _save_atomic(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` of ``arrays`` to a temporary name, then renamed into place (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def fsd50k_vocabulary(root: str | Path | None = None) -> tuple[list[str], list[str]]:
    """The 200 class names and their AudioSet ids, in ``vocabulary.csv`` order (its index column)."""
    folder = dataset_root("fsd50k", root) / "FSD50K.ground_truth"
    rows = list(csv.reader((folder / "vocabulary.csv").open(newline="")))
    rows = sorted((r for r in rows if r and r[0].strip().isdigit()), key=lambda r: int(r[0]))
    if [int(r[0]) for r in rows] != list(range(len(rows))):
        raise ValueError(f"{folder / 'vocabulary.csv'}: the index column must run 0..N-1")
    return [r[1] for r in rows], [r[2] for r in rows]


def fsd50k_index(split: str, root: str | Path | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """``(wav paths, multi-hot targets (N, 200) float32, classes)`` of ``split`` in train / val / eval.

    train and val are the two parts of ``dev.csv`` (its ``split`` column); eval is ``eval.csv``.
    """
    _check(split, ("train", "val", "eval"), "FSD50K split")
    folder = dataset_root("fsd50k", root)
    classes, _ = fsd50k_vocabulary(folder)
    column = {name: i for i, name in enumerate(classes)}
    table = "eval.csv" if split == "eval" else "dev.csv"
    audio_dir = folder / ("FSD50K.eval_audio" if split == "eval" else "FSD50K.dev_audio")
    paths, targets = [], []
    with (folder / "FSD50K.ground_truth" / table).open(newline="") as handle:
        for row in csv.DictReader(handle):
            if split != "eval" and row["split"] != split:
                continue
            target = np.zeros(len(classes), np.float32)
            for label in row["labels"].split(","):
                if label not in column:
                    raise ValueError(f"{table}: clip {row['fname']} has label {label!r} not in vocabulary.csv")
                target[column[label]] = 1.0
            paths.append(audio_dir / f"{row['fname']}.wav")
            targets.append(target)
    return paths, np.array(targets, np.float32).reshape(-1, len(classes)), classes  # (N, C)


def load_fsd50k(split: str, root: str | Path | None = None, clip_seconds: float = 4.0,
                max_clips: int | None = None, sample_rate: int = SAMPLE_RATE, cache: bool = True) -> MultiLabelSet:
    """FSD50K clips of ``split`` (train / val / eval) as a :class:`data.MultiLabelSet`.

    Each clip is resampled to ``sample_rate`` and cut (or zero-padded) to its first ``clip_seconds``.
    ``max_clips`` keeps the first clips in CSV order (a deterministic subset). Decoding and resampling
    all of FSD50K takes a while, so with ``cache`` the result is kept as 16-bit PCM in
    ``<fsd50k>/.cache`` (written atomically) and reused by later calls with the same arguments.
    """
    clip_seconds = _positive(clip_seconds, "clip_seconds")
    sample_rate = check_sample_rate(sample_rate, "sample_rate")
    paths, targets, classes = fsd50k_index(split, root)
    if max_clips is not None:
        max_clips = _whole(max_clips, "max_clips", 0)
        paths, targets = paths[:max_clips], targets[:max_clips]
    length = int(round(clip_seconds * sample_rate))
    # "soxr": the resampler; a cache made with scipy's resample_poly (aliasing) is not reused
    cached = dataset_root("fsd50k", root) / ".cache" / f"{split}-{sample_rate}hz-{length}-{len(paths)}-soxr.npy"
    stored = read_cache_npy(cached) if cache else None  # None when missing or damaged (with a notice)
    if stored is not None:
        audio = stored.astype(np.float32) / 32767.0  # (N, T)
    else:
        audio = np.zeros((len(paths), length), np.float32)  # (N, T)
        for i, path in enumerate(tqdm(paths, desc=f"FSD50K {split}", leave=False)):
            audio[i] = _fit_length(load_audio(path, sample_rate)[0], length)
        if cache:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(cached.name + ".partial.npy")
            np.save(tmp, np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16))
            os.replace(tmp, cached)
    return MultiLabelSet(audio=audio, targets=targets, classes=classes, sample_rate=sample_rate)


# --- MAESTRO ----------------------------------------------------------------------------------

MAESTRO_SPLITS = ("train", "validation", "test")


def maestro_index(split: str, root: str | Path | None = None) -> list[dict[str, str]]:
    """The rows of ``maestro-v3.0.0.csv`` in ``split`` (train / validation / test)."""
    _check(split, MAESTRO_SPLITS, "MAESTRO split")
    folder = dataset_root("maestro", root)
    tables = sorted(folder.glob("maestro-v*/maestro-v*.csv")) or sorted(folder.glob("maestro-v*.csv"))
    if not tables:
        raise FileNotFoundError(f"no maestro-v*.csv under {folder}")
    with tables[-1].open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == split]
    for r in rows:
        r["path"] = str(tables[-1].parent / r["audio_filename"])
    return rows


def load_maestro(split: str = "train", root: str | Path | None = None, max_files: int | None = None,
                 max_seconds: float | None = None, sample_rate: int = SAMPLE_RATE, cache: bool = True
                 ) -> list[np.ndarray]:
    """One float32 mono waveform at ``sample_rate`` per MAESTRO recording of ``split``.

    The split is MAESTRO's own (by recording), so no piece is on both sides. ``max_files`` and
    ``max_seconds`` (per recording) bound the memory: all of MAESTRO at 16 kHz is about 46 GB. Decoding and
    resampling happen once: with ``cache`` the waveforms are kept as 16-bit PCM in ``<maestro>/.cache``
    (written atomically, keyed by the files' names and sizes and these arguments) and every call, the first
    included, returns the same 16-bit values.
    """
    sample_rate = check_sample_rate(sample_rate, "sample_rate")
    if max_files is not None:
        max_files = _whole(max_files, "max_files", 0)
    if max_seconds is not None:
        max_seconds = _positive(max_seconds, "max_seconds")
    rows = maestro_index(split, root)[: max_files]
    files = [Path(r["path"]) for r in rows]
    cached = (dataset_root("maestro", root) / ".cache" /
              f"{split}-{sample_rate}hz-{len(rows)}-{_cache_key(files, sample_rate, max_seconds, 'soxr')}.npz")
    stored = read_cache_npz(cached, ("pcm", "lengths")) if cache else None  # None: missing or damaged
    if stored is not None:
        pcm, lengths = stored["pcm"], stored["lengths"]
    else:
        pieces = []
        for path in tqdm(files, desc=f"MAESTRO {split}", leave=False):
            waveform, _ = load_audio(path, sample_rate)
            if max_seconds is not None:
                waveform = waveform[: int(round(max_seconds * sample_rate))]
            pieces.append(_to_pcm(waveform))
        lengths = np.array([len(w) for w in pieces], np.int64)
        pcm = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
        if cache:
            _save_atomic(cached, pcm=pcm, lengths=lengths)
    ends = np.cumsum(lengths)
    return [_from_pcm(pcm[end - n:end]) for n, end in zip(lengths, ends)]


# --- Speech Commands v2 -----------------------------------------------------------------------

def speech_commands_index(split: str, root: str | Path | None = None) -> list[tuple[str, str, str]]:
    """``(relative path, word, speaker)`` of ``split`` (train / val / test) from the official lists."""
    _check(split, ("train", "val", "test"), "Speech Commands split")
    folder = dataset_root("speech-commands-v2", root)
    if (folder / "speech_commands_v0.02").is_dir():
        folder = folder / "speech_commands_v0.02"
    listed = {name: {line.strip() for line in (folder / f"{name}_list.txt").read_text().splitlines() if line.strip()}
              for name in ("validation", "testing")}
    if split == "val":
        names = listed["validation"]
    elif split == "test":
        names = listed["testing"]
    else:
        held_out = listed["validation"] | listed["testing"]
        names = {p.relative_to(folder).as_posix() for p in folder.glob("*/*.wav")
                 if not p.parent.name.startswith("_")} - held_out
    rows = []
    for name in sorted(names):
        word, file = name.split("/")
        rows.append((name, word, file.split("_nohash_")[0]))
    return rows


def load_speech_commands(split: str, root: str | Path | None = None, max_clips: int | None = None,
                         cache: bool = True) -> ClipSet:
    """Speech Commands v2 as a :class:`data.ClipSet`: 1 s at 16 kHz, 35 words, speakers as sources.

    With ``cache`` the decoded clips are kept as 16-bit PCM in ``<speech-commands-v2>/.cache`` (written
    atomically, keyed by the files' names and sizes) and every call, the first included, returns those values."""
    if max_clips is not None:
        max_clips = _whole(max_clips, "max_clips", 0)
    rows = speech_commands_index(split, root)[: max_clips]
    folder = dataset_root("speech-commands-v2", root)
    if (folder / "speech_commands_v0.02").is_dir():
        folder = folder / "speech_commands_v0.02"
    classes = list(SPEECH_COMMANDS_WORDS)
    column = {w: i for i, w in enumerate(classes)}
    unknown = sorted({w for _, w, _ in rows} - set(column))
    if unknown:
        raise ValueError(f"Speech Commands: words {unknown} are not among the 35 of version 2")
    files = [folder / name for name, _, _ in rows]
    cached = (dataset_root("speech-commands-v2", root) / ".cache" /
              f"{split}-{len(rows)}-{_cache_key(files, SAMPLE_RATE, 'soxr')}.npz")
    stored = read_cache_npz(cached, ("pcm",)) if cache else None  # None when missing or damaged (with a notice)
    if stored is not None:
        pcm = stored["pcm"]
    else:
        pcm = np.zeros((len(rows), SAMPLE_RATE), np.int16)  # (N, T)
        for i, path in enumerate(files):
            pcm[i] = _to_pcm(_fit_length(load_audio(path, SAMPLE_RATE)[0], SAMPLE_RATE))
        if cache:
            _save_atomic(cached, pcm=pcm)
    audio = _from_pcm(pcm)
    return ClipSet(audio=audio, labels=np.array([column[w] for _, w, _ in rows], np.int64), classes=classes,
                   sources=np.array([s for _, _, s in rows], dtype=str), sample_rate=SAMPLE_RATE,
                   info={"word": np.array([w for _, w, _ in rows], dtype=str)})
