"""The offline datasets on disk: built once into ``data_dir()/NAME``, recorded, and checked at each use.

A build goes into a temporary sibling folder (``.NAME.partial-PID``), gets a completion marker, and is then moved
into place, so an interrupted build is never used. A file lock (``.NAME.lock``) lets two processes ask for the same
dataset at once: the second waits and uses the finished folder. Partial folders left by killed processes are
removed by the next build once their process is gone.

The marker also records every file the build wrote (size and sha256, :func:`file_record`); each use of a dataset
checks its files against that record (:func:`check_dataset`), so a truncated or overwritten file is named and
rebuilt, never read as data. The record is not part of the build hash (the cache key,
:func:`audioformers.data.registry.build_hash`). The locks, partial folders and :func:`data_dir` live in
:mod:`audioformers.core.storage`, shared with :mod:`audioformers.data.downloads`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audioformers.core.storage import data_dir, file_lock, partial_folder, remove_stale_partials
from audioformers.data import downloads, registry
from audioformers.data.builders import write_json

MARKER = ".complete.json"

#: Files up to this size, and every file that is not ``.npy`` (CSV and JSON tables), are hashed when a
#: dataset is used; larger arrays are checked by size (their header by numpy when loaded).
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
    registry.check_name(name, registry.REGISTRY, "offline dataset")
    folder = data_dir() / name
    try:
        marker = json.loads((folder / MARKER).read_text())
        if not isinstance(marker, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError):
        return DatasetCheck(name, "missing")
    if marker.get("build_hash") != registry.build_hash(name):
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
    write_json(tmp, marker)
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
    registry.check_name(name, (*registry.REGISTRY, *downloads.REGISTRY), "dataset")
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
        config = registry.dataset_config(name)
        digest = registry.build_hash(name)  # before the build: a package changed during it is rebuilt next time
        metadata = registry.REGISTRY[name].builder(tmp, config)
        metadata["builder_version"] = registry.BUILD_VERSION
        metadata["build_hash"] = digest
        write_json(tmp / "metadata.json", metadata)
        write_json(tmp / MARKER, {"name": name, "builder_version": registry.BUILD_VERSION,
                                  "build_hash": digest, "files": file_record(tmp)})
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def metadata(name: str) -> dict:
    """The dataset's ``metadata.json`` (building it first if needed)."""
    return json.loads((ensure_dataset(name) / "metadata.json").read_text())
