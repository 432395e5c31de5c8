"""Loaders of the offline datasets: recordings (wave-mini, orchestra-mini, piano-mini), single-label clips
(instruments-mini, drums-mini), multi-label mixtures drawn from the soundmix-mini event bank, the named examples,
and notes rendered on a General-MIDI soundfont. Each builds its dataset first if needed
(:func:`audioformers.data.cache.ensure_dataset`); all are re-exported by :mod:`audioformers.data`
(``data.load_example("piano")``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from audioformers.audio.audio_io import check_sample_rate
from audioformers.data import sources as _src
from audioformers.data.builders import read_csv
from audioformers.data.cache import ensure_dataset
from audioformers.data.registry import CLIP_DATASETS, EXAMPLE_NAMES, check_name as _check
from audioformers.data.synth import Note, render_events


def _whole(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int (Python or numpy integer, or a whole float) within [low, high]."""
    ok = isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not np.isfinite(value) or float(value) != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return int(value)


def _positive(value, name: str) -> float:
    """``value`` as a finite float > 0."""
    ok = isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


# --- wave-mini --------------------------------------------------------------------------------

def load_wave_mini(domain: str = "music", split: str = "train") -> list[np.ndarray]:
    """One float32 array in [-1, 1] per source file, at 8 kHz (16 kHz for ``piano-mini``; stored as 16-bit PCM).

    ``music`` and ``speech`` come from wave-mini; ``orchestra`` from orchestra-mini (one excerpt per track);
    ``piano-mini`` from piano-mini (one excerpt per rendered piece, at 16 kHz).
    """
    _check(domain, ("music", "speech", "orchestra", "piano-mini"), "domain")
    _check(split, ("train", "test"), "split")
    folder = ensure_dataset({"orchestra": "orchestra-mini", "piano-mini": "piano-mini"}.get(domain, "wave-mini"))
    stored = "piano" if domain == "piano-mini" else domain  # piano-mini's rows name their domain "piano"
    rows = [r for r in read_csv(folder / "files.csv")
            if r["domain"] == stored and r["split"] == split]
    if not rows and domain == "speech":
        _src.require(_src.ASTERISK_SPEECH, "wave-mini speech")
    pcm = np.load(folder / "audio.npy", mmap_mode="r")
    return [_src.from_int16(np.asarray(pcm[int(r["offset"]):int(r["offset"]) + int(r["length"])]))
            for r in rows]


# --- single-label clips -----------------------------------------------------------------------

@dataclass
class ClipSet:
    """Fixed-length clips with one label each; ``sources`` are never shared between splits."""

    audio: np.ndarray
    labels: np.ndarray
    classes: list[str]
    sources: np.ndarray
    sample_rate: int
    info: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


def load_clips(name: str, split: str) -> ClipSet:
    """1-s clips at 16 kHz of ``name`` in CLIP_DATASETS; ``split`` in train / val / test."""
    _check(name, CLIP_DATASETS, "clip dataset")
    _check(split, ("train", "val", "test"), "split")
    folder = ensure_dataset(name)
    meta = json.loads((folder / "metadata.json").read_text())
    rows = read_csv(folder / f"{split}_meta.csv")
    audio = _src.from_int16(np.load(folder / f"{split}_audio.npy"))
    columns = [c for c in (rows[0] if rows else {}) if c not in ("label", "source")]
    info = {}
    for c in columns:
        values = [r[c] for r in rows]
        info[c] = (np.array(values, dtype=np.int64) if all(v.lstrip("-").isdigit() for v in values)
                   else np.array(values, dtype=str))
    return ClipSet(audio=audio, labels=np.array([int(r["label"]) for r in rows], dtype=np.int64),
                   classes=list(meta["classes"]), sources=np.array([r["source"] for r in rows], dtype=str),
                   sample_rate=int(meta["sample_rate"]), info=info)


# --- soundmix-mini ----------------------------------------------------------------------------

@dataclass
class MultiLabelSet:
    """Mixtures with multi-hot targets."""

    audio: np.ndarray
    targets: np.ndarray
    classes: list[str]
    sample_rate: int
    recordings: list[list[str]] | None = None  # per clip, the recordings its events come from (soundmix-mini)

    def __len__(self) -> int:
        return len(self.targets)


SOUNDMIX_DEFAULT_CLIPS = {"train": 2000, "validation": 500, "test": 500}


def mix_events(bank: np.ndarray, events: list[dict], classes: list[str], num_clips: int,
               seed: int, clip_samples: int, max_events: int = 4,
               chosen: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic mixtures: per clip 1-``max_events`` events of distinct classes, random
    onset and gain (-12..0 dB); peaks above 0.99 are scaled down. Returns (audio, targets); a ``chosen`` list
    gets, per clip, the list of its events' ``recording`` (else ``source``)."""
    rng = np.random.default_rng(seed)
    by_class = {c: [e for e in events if e["class"] == c] for c in classes}
    present = [i for i, c in enumerate(classes) if by_class[c]]
    audio = np.zeros((num_clips, clip_samples), np.float32)
    targets = np.zeros((num_clips, len(classes)), np.float32)
    for n in range(num_clips):
        k = int(rng.integers(1, min(max_events, len(present)) + 1))
        picked = []
        for ci in rng.choice(present, size=k, replace=False):
            options = by_class[classes[ci]]
            ev = options[int(rng.integers(len(options)))]
            picked.append(ev.get("recording") or ev["source"])
            x = _src.from_int16(bank[int(ev["offset"]):int(ev["offset"]) + int(ev["length"])])
            if len(x) > clip_samples:
                start = int(rng.integers(0, len(x) - clip_samples + 1))
                x, onset = x[start:start + clip_samples], 0
            else:
                onset = int(rng.integers(0, clip_samples - len(x) + 1))
            gain = np.float32(10 ** (rng.uniform(-12.0, 0.0) / 20))
            audio[n, onset:onset + len(x)] += gain * x
            targets[n, ci] = 1.0
        peak = float(np.abs(audio[n]).max())
        if peak > 0.99:
            audio[n] *= np.float32(0.99 / peak)
        if chosen is not None:
            chosen.append(picked)
    return audio, targets


def load_soundmix(split: str, num_clips: int | None = None, seed: int = 0,
                  clip_seconds: float = 4.0) -> MultiLabelSet:
    """Multi-label mixtures generated from the soundmix-mini event bank of ``split``.

    ``num_clips`` defaults to 2000 (train) / 500 (validation, test); the same arguments give the same set.
    ``recordings`` names, per clip, the recordings its events come from.
    """
    _check(split, ("train", "validation", "test"), "split")
    if num_clips is not None:
        num_clips = _whole(num_clips, "num_clips", 0)
    seed = _whole(seed, "seed", 0)
    clip_seconds = _positive(clip_seconds, "clip_seconds")
    folder = ensure_dataset("soundmix-mini")
    meta = json.loads((folder / "metadata.json").read_text())
    events = [e for e in read_csv(folder / "events.csv") if e["split"] == split]
    bank = np.load(folder / "bank_audio.npy", mmap_mode="r")
    rate = int(meta["sample_rate"])
    count = SOUNDMIX_DEFAULT_CLIPS[split] if num_clips is None else num_clips
    chosen: list = []
    audio, targets = mix_events(bank, events, list(meta["classes"]), count,
                                seed * 2 + (split == "test") + 1_000_003 * (split == "validation"),
                                int(round(clip_seconds * rate)), chosen=chosen)
    return MultiLabelSet(audio=audio, targets=targets, classes=list(meta["classes"]), sample_rate=rate,
                         recordings=chosen)


# --- examples and rendering -------------------------------------------------------------------

def load_example(name: str, sample_rate: int = 16000, seconds: float | None = None) -> np.ndarray:
    """A named example sound (``EXAMPLE_NAMES``) as float32 mono at ``sample_rate``."""
    _check(name, EXAMPLE_NAMES, "example")
    sample_rate = check_sample_rate(sample_rate, "sample_rate")
    if seconds is not None:
        seconds = _positive(seconds, "seconds")
    folder = ensure_dataset("examples")
    meta = json.loads((folder / "metadata.json").read_text())
    if name not in meta["examples"]:
        package = meta["missing"][name]
        raise FileNotFoundError(f"example {name!r} needs the Debian package '{package}': "
                                f"{_src.install_hint([package])}")
    audio = _src.from_int16(np.load(folder / f"{name}.npy"))
    audio = _src.resample(audio, int(meta["examples"][name]["sample_rate"]), sample_rate)
    if seconds is not None:
        audio = audio[: int(round(seconds * sample_rate))]
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def render_notes(pitches: list[int], program: int = 0, note_seconds: float = 0.5,
                 sample_rate: int = 16000, velocity: int = 100) -> np.ndarray:
    """Notes one after another (each ``note_seconds``) on GM ``program``, as float32 mono.

    Uses FluidR3 (Debian) or the PyPI fallback soundfont. Explained in chapter 4 (two piano notes).
    """
    program, velocity = _whole(program, "program", 0, 127), _whole(velocity, "velocity", 1, 127)
    note_seconds = _positive(note_seconds, "note_seconds")
    sample_rate = check_sample_rate(sample_rate, "sample_rate")
    if np.ndim(pitches) != 1 or len(pitches) == 0:
        raise ValueError(f"pitches must be a non-empty list of MIDI pitches (0..127), got {pitches!r}")
    pitches = [_whole(p, "pitches", 0, 127) for p in np.asarray(pitches).tolist()]
    notes = [Note(i * note_seconds, (i + 1) * note_seconds, int(p), velocity, program)
             for i, p in enumerate(pitches)]
    return render_events(notes, len(notes) * note_seconds, sample_rate)
