"""Datasets of the book: a registry, builders of the offline datasets, and loaders.

Everything lives under :func:`data_dir` (``$BOOK_DATA_DIR`` or ``~/.cache/audioformers``).
Offline datasets are built from Debian / PyPI packages on first use (see ``data.md`` and
``data_scripts/build_datasets.py``); a build goes into a temporary sibling folder
(``.NAME.partial-PID``), gets a completion marker, and is then moved into place, so an interrupted
build is never used. A file lock (``.NAME.lock``) lets two processes ask for the same dataset at
once: the second waits and uses the finished folder. Partial folders left by killed processes are
removed by the next build once their process is gone.

The marker also records every file the build wrote (size and sha256, :func:`file_record`); each use
of a dataset checks its files against that record (:func:`check_dataset`), so a truncated or
overwritten file is named and rebuilt, never read as data. The record is not part of the build hash
(the cache key). The locks, partial folders and :func:`data_dir` live in :mod:`audioformers.core.storage`,
shared with :mod:`audioformers.data.downloads`.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from audioformers.data import downloads
from audioformers.data import builders
from audioformers.data import sources as _src
from audioformers.core.storage import PARTIAL_TAG, data_dir, file_lock, partial_folder, remove_stale_partials  # noqa: F401 (API)
from audioformers.audio.audio_io import check_sample_rate
from audioformers.data.synth import Note, render_events

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
    checksums in :mod:`audioformers.data.downloads`; :func:`ensure_dataset` knows both registries.
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


def _config(name: str) -> dict:
    return {**REGISTRY[name].config, **_CONFIG_OVERRIDES.get(name, {})}


def code_fingerprint(source: str) -> str:
    """What a module's code *does*, independent of where it lives: its syntax tree without import statements and
    docstrings (``ast.dump``), so moving the file, rewriting its imports or editing its prose changes nothing,
    while any change to a statement, a constant or a name does."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        kept = [stmt for stmt in body if not isinstance(stmt, (ast.Import, ast.ImportFrom))]
        if kept and isinstance(kept[0], ast.Expr) and isinstance(kept[0].value, ast.Constant) \
                and isinstance(kept[0].value.value, str):
            kept = kept[1:]
        node.body = kept or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


def builder_code_digest() -> str:
    """A fingerprint of the builders' code (:func:`code_fingerprint` of ``builders``, ``sources`` and ``synth``):
    a change to how audio is made rebuilds every cached dataset; moving the modules or editing their docstrings
    does not.

    (A version number alone once let a cache built by an older renderer survive a fix with the same
    hash, so two machines held different audio under the same name.)
    """
    from audioformers.data import builders as _b, sources as _s, synth as _y

    digest = hashlib.sha256()
    for module in (_b, _s, _y):
        digest.update(code_fingerprint(Path(module.__file__).read_text()).encode())
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
    from audioformers.data import synth

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


# --- the build record: what a finished build wrote, checked when it is used -------------------

#: Files up to this size, and every file that is not ``.npy`` (CSV and JSON tables), are hashed when a
#: dataset is used; larger arrays are checked by size (their header by numpy when loaded).
HASH_ON_LOAD_BYTES = 1 << 20
_VERIFIED: dict[str, tuple] = {}  # folder -> stat signature of the files last verified in this process


@dataclass(frozen=True)
class DatasetCheck:
    """What :func:`check_dataset` found: ``state`` is one of

    * ``"ok"``: built by the current code and config from the current inputs, every file as the build wrote it;
    * ``"missing"``: no folder or no completion marker (never built, or interrupted);
    * ``"outdated"``: built from other code, config or inputs (the build hash differs);
    * ``"damaged"``: ``problems`` names each file that differs from the build record (missing, other
      size, other sha256) or, for a dataset without a record, that fails the consistency checks;
    * ``"unrecorded"``: built by a version that wrote no file record, consistent as far as
      :func:`consistency_problems` can tell (:func:`ensure_dataset` then writes the record).
    """

    name: str
    state: str
    problems: tuple[str, ...] = ()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _built_files(folder: Path) -> list[Path]:
    """The files a build wrote (the marker and other hidden files excluded)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def file_record(folder: Path) -> dict[str, dict]:
    """``{relative path: {"size": bytes, "sha256": hex}}`` of every file the build wrote into ``folder``."""
    return {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)}
            for p in _built_files(folder)}


def _hashed_on_load(rel: str, size: int) -> bool:
    return not rel.endswith(".npy") or size <= HASH_ON_LOAD_BYTES


def record_problems(folder: Path, record: dict[str, dict]) -> list[str]:
    """Each file of ``folder`` that differs from ``record`` (see :data:`HASH_ON_LOAD_BYTES`), one line each."""
    problems = []
    for rel, expected in sorted(record.items()):
        path = folder / rel
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{path} is missing")
            continue
        if size != expected["size"]:
            problems.append(f"{path} has {size} bytes, the build wrote {expected['size']}")
        elif _hashed_on_load(rel, size) and _sha256(path) != expected["sha256"]:
            problems.append(f"{path} differs from what the build wrote (sha256)")
    return problems


def _npy_rows(path: Path) -> tuple[int, str | None]:
    """(rows, problem) of an ``.npy`` file: its header read, its size checked against the header."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f".npy format version {version} (np.save writes 1.0 or 2.0)")
            shape, _, dtype = read_header(handle)
            offset = handle.tell()
    except (OSError, ValueError, EOFError) as error:
        return 0, f"{path} is not a readable .npy file ({error})"
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        return 0, f"{path} has {size} bytes, its header says {expected}"
    return (shape[0] if shape else 1), None


def _csv_rows(path: Path) -> tuple[list[dict[str, str]], str | None]:
    """(rows, problem) of a CSV table: every row must have exactly the header's columns."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        return [], f"{path} is not a readable CSV table ({error})"
    for i, row in enumerate(rows):
        if None in row or None in row.values():
            return rows, f"{path} row {i + 2} does not have the header's columns (truncated?)"
    return rows, None


def consistency_problems(folder: Path) -> list[str]:
    """What a dataset's files say about each other, for a dataset built without a file record.

    ``metadata.json`` must parse; every ``.npy`` must be as long as its header says; every CSV row must have the
    header's columns; a ``{split}_meta.csv`` must have one row per clip of ``{split}_audio.npy``; the rows of
    ``files.csv`` / ``events.csv`` must end where ``audio.npy`` / ``bank_audio.npy`` ends; each example must have
    the samples ``metadata.json`` lists.
    """
    problems: list[str] = []
    meta_path = folder / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        return [f"{meta_path} is not readable ({type(error).__name__}: {error})"]
    rows: dict[str, int] = {}
    for path in _built_files(folder):
        if path.suffix == ".npy":
            rows[path.name], problem = _npy_rows(path)
            if problem:
                problems.append(problem)
    tables: dict[str, list[dict[str, str]]] = {}
    for path in _built_files(folder):
        if path.suffix == ".csv":
            tables[path.name], problem = _csv_rows(path)
            if problem:
                problems.append(problem)
    if problems:
        return problems
    for table, table_rows in tables.items():
        if table.endswith("_meta.csv") and f"{table[:-len('_meta.csv')]}_audio.npy" in rows:
            clips = rows[f"{table[:-len('_meta.csv')]}_audio.npy"]
            if len(table_rows) != clips:
                problems.append(f"{folder / table} has {len(table_rows)} rows for {clips} clips")
        array = {"files.csv": "audio.npy", "events.csv": "bank_audio.npy"}.get(table)
        if array in rows:
            try:
                end = max((int(r["offset"]) + int(r["length"]) for r in table_rows), default=0)
            except (KeyError, ValueError):
                end = -1
            if end != rows[array]:
                problems.append(f"{folder / table} ends at sample {end}, {array} at {rows[array]}")
    for example, info in (meta.get("examples") or {}).items():
        if isinstance(info, dict) and rows.get(f"{example}.npy") != info.get("samples"):
            problems.append(f"{folder / (example + '.npy')} does not hold the {info.get('samples')} samples "
                            "metadata.json lists")
    return problems


def _signature(folder: Path) -> tuple:
    return tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                 for p in sorted(folder.rglob("*")) if p.is_file())


def check_dataset(name: str) -> DatasetCheck:
    """Whether offline dataset ``name`` can be used as it is (see :class:`DatasetCheck`); builds nothing.

    The files are compared with the record the build wrote into the completion marker: every file's size, and
    the sha256 of the tables and small arrays. Within one process a folder whose files have not changed
    (same sizes and modification times) since they were last verified is not hashed again.
    """
    _check(name, DATASET_NAMES, "offline dataset")
    folder = data_dir() / name
    try:
        marker = json.loads((folder / MARKER).read_text())
        if not isinstance(marker, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError):
        return DatasetCheck(name, "missing")
    if marker.get("build_hash") != build_hash(name):
        return DatasetCheck(name, "outdated")
    try:
        signature = _signature(folder)
    except OSError:  # a file vanished while it was listed (a rebuild replacing the folder)
        return DatasetCheck(name, "damaged", (f"{folder} changed while it was checked",))
    if _VERIFIED.get(str(folder)) == signature:
        return DatasetCheck(name, "ok")
    record = marker.get("files")
    if not isinstance(record, dict):
        problems = consistency_problems(folder)
        return DatasetCheck(name, "damaged" if problems else "unrecorded", tuple(problems))
    problems = record_problems(folder, record)
    if problems:
        return DatasetCheck(name, "damaged", tuple(problems))
    _VERIFIED[str(folder)] = signature
    return DatasetCheck(name, "ok")


def is_complete(name: str) -> bool:
    """True when the dataset folder holds a build of the current build hash whose files match its record."""
    return check_dataset(name).state == "ok"


def _write_marker(folder: Path, marker: dict) -> None:
    tmp = folder / f"{MARKER}.{os.getpid()}.tmp"
    builders.write_json(tmp, marker)
    os.replace(tmp, folder / MARKER)


def ensure_dataset(name: str) -> Path:
    """Return the dataset's folder, building it first if missing, incomplete, out of date or damaged.

    A public dataset (see :mod:`audioformers.data.downloads`) is never fetched implicitly — it is tens of
    gigabytes — so a missing one is an error that names the download command. Two processes asking
    for the same offline dataset at once are serialised by a file lock: the second waits, then uses
    the folder the first built.

    A file that differs from the build record (truncated, overwritten, deleted) is never read as data:
    the dataset is rebuilt, after a one-line notice on stderr naming the file. A dataset built by a version
    that wrote no file record is checked for consistency (:func:`consistency_problems`): consistent, its
    record is written from its files (no rebuild); inconsistent, it is rebuilt like a damaged one.
    """
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
        found = check_dataset(name)  # another process may have built it while this one waited
        if found.state == "ok":
            return folder
        if found.state == "unrecorded":
            marker = json.loads((folder / MARKER).read_text())
            _write_marker(folder, {**marker, "files": file_record(folder)})
            if is_complete(name):
                return folder
        if found.state == "damaged":
            shown = "; ".join(found.problems[:3]) + (f"; and {len(found.problems) - 3} more"
                                                      if len(found.problems) > 3 else "")
            print(f"audioformers: dataset {name!r} is damaged ({shown}); rebuilding it", file=sys.stderr,
                  flush=True)
        remove_stale_partials(data_dir(), name)
        _build(name, folder)
    return folder


def _build(name: str, folder: Path) -> None:
    """Build ``name`` into ``.NAME.partial-PID`` and move it into place (the lock is held).

    The completion marker, written last, holds the build hash and the record of every file written
    (:func:`file_record`); the record is not part of the build hash, so adding it changed no cache key.
    """
    if folder.exists():  # interrupted, outdated or damaged build: never used
        shutil.rmtree(folder)
    _VERIFIED.pop(str(folder), None)
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
                                          "build_hash": digest, "files": file_record(tmp)})
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


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
