"""Datasets of the book: a registry, builders of the offline datasets, and loaders.

Everything lives under :func:`data_dir` (``$BOOK_DATA_DIR`` or ``~/.cache/audioformers``).
Offline datasets are built from Debian / PyPI packages on first use (see ``data.md`` and
``data_scripts/build_datasets.py``); a build goes into a temporary sibling folder
(``.NAME.partial-PID``), gets a completion marker, and is then moved into place, so an interrupted
build is never used. A file lock (``.NAME.lock``) lets two processes ask for the same dataset at
once: the second waits and uses the finished folder. Partial folders left by killed processes are
removed by the next build once their process is gone.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .datasets import builders
from .datasets import sources as _src
from .audio_io import check_sample_rate
from .datasets.synth import Note, render_events

BUILD_VERSION = 1
MARKER = ".complete.json"
WAVE_MINI_SAMPLE_RATE = builders.WAVE_RATE
EXAMPLE_NAMES: tuple[str, ...] = builders.EXAMPLE_NAMES
SOUNDMIX_CLASSES: list[str] = builders.SOUNDMIX_CLASSES


# --- registry ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetEntry:
    """An offline dataset, built by ``builder`` from installed packages.

    The full public datasets (FSD50K, MAESTRO, Speech Commands) are registered with their URLs and
    checksums in :mod:`audioformers.downloads`; :func:`ensure_dataset` knows both registries.
    """

    name: str
    kind: str
    description: str
    builder: Callable[[Path, dict], dict] | None = None
    config: dict = field(default_factory=dict)
    sources: tuple[_src.DebianSource, ...] = ()  # what it reads: their files enter the build hash


def _instruments_xl(folder: Path, config: dict) -> dict:
    return builders.build_instruments(folder, config, name="instruments-mini-xl")


_MUSIC, _SPEECH, _FLUID = _src.ASTERISK_MUSIC, _src.ASTERISK_SPEECH, _src.FLUIDR3
REGISTRY: dict[str, DatasetEntry] = {e.name: e for e in (
    DatasetEntry("wave-mini", "offline", "music and speech at 8 kHz (chapter 3)",
                 builders.build_wave_mini, builders.WAVE_CONFIG, (_MUSIC, _SPEECH)),
    DatasetEntry("orchestra-mini", "offline", "orchestral music at 8 kHz, 40 tracks (chapter 3)",
                 builders.build_orchestra, builders.ORCHESTRA_CONFIG, (_src.WESNOTH_MUSIC,)),
    DatasetEntry("piano-mini", "offline", "Bach chorales on a rendered grand piano at 16 kHz (chapter 3)",
                 builders.build_piano, builders.PIANO_CONFIG, (_FLUID,)),
    DatasetEntry("instruments-mini", "offline", "GM notes in 12 families (chapters 4, 5)",
                 builders.build_instruments, builders.INSTRUMENTS_CONFIG, (_FLUID,)),
    DatasetEntry("instruments-mini-xl", "offline", "larger instruments set, built on demand",
                 _instruments_xl, builders.INSTRUMENTS_XL_CONFIG, (_FLUID,)),
    DatasetEntry("drums-mini", "offline", "Hydrogen drum one-shots (chapters 4, 5)",
                 builders.build_drums, builders.DRUMS_CONFIG, (_src.HYDROGEN,)),
    DatasetEntry("soundmix-mini", "offline", "event bank for multi-label mixtures (chapter 5)",
                 builders.build_soundmix, builders.SOUNDMIX_CONFIG, builders.SOUNDMIX_SOURCES + (_FLUID,)),
    DatasetEntry("examples", "offline", "named example sounds (chapters 1, 2)",
                 builders.build_examples, builders.EXAMPLES_CONFIG, (_MUSIC, _SPEECH, _src.MINETEST, _FLUID)),
)}
DATASET_NAMES: tuple[str, ...] = tuple(REGISTRY)
OFFLINE_DEFAULT: tuple[str, ...] = ("wave-mini", "orchestra-mini", "piano-mini", "instruments-mini", "drums-mini",
                                    "soundmix-mini", "examples")
CLIP_DATASETS: tuple[str, ...] = ("instruments-mini", "instruments-mini-xl", "drums-mini")

# Tests may shrink a builder's config here ({name: {key: value}}); it is part of the build hash.
_CONFIG_OVERRIDES: dict[str, dict] = {}


def _check(value: str, valid: tuple[str, ...] | list[str], what: str) -> None:
    if value not in valid:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


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


def data_dir() -> Path:
    """``$BOOK_DATA_DIR`` or ``~/.cache/audioformers``, created if missing."""
    path = Path(os.environ.get("BOOK_DATA_DIR") or Path.home() / ".cache" / "audioformers")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _config(name: str) -> dict:
    return {**REGISTRY[name].config, **_CONFIG_OVERRIDES.get(name, {})}


def builder_code_digest() -> str:
    """sha256 of the builders' source: a change to how audio is made rebuilds every cached dataset.

    (A version number alone once let a cache built by an older renderer survive a fix with the same
    hash, so two machines held different audio under the same name.)
    """
    from .datasets import builders as _b, sources as _s, synth as _y

    digest = hashlib.sha256()
    for module in (_b, _s, _y):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def build_hash(name: str) -> str:
    """Hash of what a build depends on: builder version and code, config, and what it reads.

    What it reads: the name and size of every file of the dataset's source packages (so installing,
    removing or updating a package rebuilds what depends on it) and the soundfont renderer in use.
    """
    payload = {"name": name, "version": BUILD_VERSION, "code": builder_code_digest(), "config": _config(name),
               "inputs": inputs_state(name)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def inputs_state(name: str) -> dict:
    """What the build of ``name`` reads: per source package, [name, size] of each file (None when
    the package is absent), and the soundfont renderer with its file's size."""
    from .datasets import synth

    state: dict = {s.package: ([list(row) for row in s.inventory()] if s.available() else None)
                   for s in REGISTRY[name].sources}
    try:
        renderer = synth.backend()
    except RuntimeError as err:  # no renderer at all: the build will say so
        renderer = f"none: {err}"
    state["renderer"] = renderer
    if renderer == "tinysoundfont":
        timgm = synth.timgm_path()
        state["fallback soundfont"] = timgm.stat().st_size if timgm else None
    return state


def is_complete(name: str) -> bool:
    """True when the dataset folder exists with a marker matching the current build hash."""
    marker = data_dir() / name / MARKER
    try:
        return json.loads(marker.read_text()).get("build_hash") == build_hash(name)
    except (OSError, ValueError):
        return False


def ensure_dataset(name: str) -> Path:
    """Return the dataset's folder, building it first if missing, incomplete or out of date.

    A public dataset (see :mod:`audioformers.downloads`) is never fetched implicitly — it is tens of
    gigabytes — so a missing one is an error that names the download command. Two processes asking
    for the same offline dataset at once are serialised by a file lock: the second waits, then uses
    the folder the first built.
    """
    from . import downloads

    if name in downloads.REGISTRY:
        if not downloads.is_complete(name):
            raise FileNotFoundError(f"public dataset {name!r} is not downloaded: run "
                                    f"`python data_scripts/download_datasets.py --dataset {name}`")
        return downloads.dataset_folder(name)
    _check(name, DATASET_NAMES + tuple(downloads.REGISTRY), "dataset")
    folder = data_dir() / name
    if is_complete(name):
        return folder
    with file_lock(data_dir() / f".{name}.lock", f"the build of {name}"):
        if is_complete(name):  # another process built it while this one waited
            return folder
        remove_stale_partials(data_dir(), name)
        _build(name, folder)
    return folder


def _build(name: str, folder: Path) -> None:
    """Build ``name`` into ``.NAME.partial-PID`` and move it into place (the lock is held)."""
    if folder.exists():  # interrupted or outdated build: never used
        shutil.rmtree(folder)
    tmp = partial_folder(data_dir(), name)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        config = _config(name)
        digest = build_hash(name)  # before the build: a package changed during it is rebuilt next time
        metadata = REGISTRY[name].builder(tmp, config)
        metadata["builder_version"] = BUILD_VERSION
        metadata["build_hash"] = digest
        builders.write_json(tmp / "metadata.json", metadata)
        builders.write_json(tmp / MARKER, {"name": name, "builder_version": BUILD_VERSION,
                                          "build_hash": digest})
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


# --- concurrency: locks and partial folders ---------------------------------------------------

PARTIAL_TAG = ".partial-"


def partial_folder(root: Path, name: str, pid: int | None = None) -> Path:
    """``root/.NAME.partial-PID``: where process ``pid`` (default: this one) builds ``name``."""
    return root / f".{name}{PARTIAL_TAG}{os.getpid() if pid is None else pid}"


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_partials(root: Path, name: str) -> list[Path]:
    """Remove ``root/.NAME.partial-PID`` folders whose process is gone; return what was removed."""
    removed = []
    for path in root.glob(f".{name}{PARTIAL_TAG}*"):
        pid_text = path.name[len(f".{name}{PARTIAL_TAG}"):]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _process_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def file_lock(path: Path, what: str, notice_after: float = 2.0):
    """Hold an exclusive lock on ``path`` (created if needed) while the block runs.

    Another process holding it makes this one wait, with a one-line notice on stderr once it has
    waited ``notice_after`` seconds. The lock is released when the process dies, so a killed
    build never blocks the next one. Where ``fcntl`` is missing (Windows) no lock is taken.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        start, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and time.monotonic() - start >= notice_after:
                    print(f"audioformers: waiting for another process to finish {what} ({path})",
                          file=sys.stderr)
                    told = True
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def metadata(name: str) -> dict:
    """The dataset's ``metadata.json`` (building it first if needed)."""
    return json.loads((ensure_dataset(name) / "metadata.json").read_text())


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
    rows = [r for r in builders.read_csv(folder / "files.csv")
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
    rows = builders.read_csv(folder / f"{split}_meta.csv")
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

    def __len__(self) -> int:
        return len(self.targets)


SOUNDMIX_DEFAULT_CLIPS = {"train": 2000, "test": 500}


def mix_events(bank: np.ndarray, events: list[dict], classes: list[str], num_clips: int,
               seed: int, clip_samples: int, max_events: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic mixtures: per clip 1-``max_events`` events of distinct classes, random
    onset and gain (-12..0 dB); peaks above 0.99 are scaled down. Returns (audio, targets)."""
    rng = np.random.default_rng(seed)
    by_class = {c: [e for e in events if e["class"] == c] for c in classes}
    present = [i for i, c in enumerate(classes) if by_class[c]]
    audio = np.zeros((num_clips, clip_samples), np.float32)
    targets = np.zeros((num_clips, len(classes)), np.float32)
    for n in range(num_clips):
        k = int(rng.integers(1, min(max_events, len(present)) + 1))
        for ci in rng.choice(present, size=k, replace=False):
            options = by_class[classes[ci]]
            ev = options[int(rng.integers(len(options)))]
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
    return audio, targets


def load_soundmix(split: str, num_clips: int | None = None, seed: int = 0,
                  clip_seconds: float = 4.0) -> MultiLabelSet:
    """Multi-label mixtures generated from the soundmix-mini event bank of ``split``.

    ``num_clips`` defaults to 2000 (train) / 500 (test); the same arguments give the same set.
    """
    _check(split, ("train", "test"), "split")
    if num_clips is not None:
        num_clips = _whole(num_clips, "num_clips", 0)
    seed = _whole(seed, "seed", 0)
    clip_seconds = _positive(clip_seconds, "clip_seconds")
    folder = ensure_dataset("soundmix-mini")
    meta = json.loads((folder / "metadata.json").read_text())
    events = [e for e in builders.read_csv(folder / "events.csv") if e["split"] == split]
    bank = np.load(folder / "bank_audio.npy", mmap_mode="r")
    rate = int(meta["sample_rate"])
    count = SOUNDMIX_DEFAULT_CLIPS[split] if num_clips is None else num_clips
    audio, targets = mix_events(bank, events, list(meta["classes"]), count,
                                seed * 2 + (split == "test"), int(round(clip_seconds * rate)))
    return MultiLabelSet(audio=audio, targets=targets, classes=list(meta["classes"]), sample_rate=rate)


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
