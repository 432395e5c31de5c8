"""Results with provenance: ``results/<chapter>/<name>.<profile>.json``.

Every number the book shows in prose or in the reproduction report is read from one of these
files, written by the cell or command-line run that computed it.
"""

from __future__ import annotations

import json
import sys
import math
import os
import platform
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from audioformers import chapters
from audioformers.core.profiles import get_profile, validate_profile

_VERSIONED = ("audioformers", "torch", "torchaudio", "numpy", "scipy", "librosa", "scikit-learn", "PyWavelets")


def repo_root() -> Path | None:
    """The repository root when the package is installed editable from a checkout, else ``None``."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "_toc.yml").exists() and (parent / "lib" / "audioformers").exists():
            return parent
    return None


def results_dir() -> Path:
    """``$BOOK_RESULTS_DIR``, else ``<repo>/results``, else ``./results``."""
    env = os.environ.get("BOOK_RESULTS_DIR")
    if env:
        return Path(env)
    root = repo_root()
    return (root / "results") if root is not None else Path.cwd() / "results"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_commit() -> str:
    """The checkout's commit (with ``-dirty`` when there are uncommitted changes), or ``unknown``."""
    root = repo_root() or Path.cwd()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10)
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _jsonable(value: Any) -> Any:
    """Convert numpy/torch scalars and arrays, paths and dataclasses to JSON types; NaN -> None."""
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


class CorruptFileError(ValueError):
    """A checkpoint, results or dataset file that exists but cannot be read (truncated, garbled).

    The message names the file and the command or flag that rebuilds it.
    """


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` through ``write(handle)`` into a temporary file beside it, then rename it into place.

    A reader never sees a half-written file: a kill leaves either the old file or the new one (and at
    worst a hidden ``.NAME.*.partial`` file, removed here on failure).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` to ``path`` (see :func:`atomic_write`)."""
    return atomic_write(path, lambda handle: handle.write(text), mode="w")


def read_cache_json(path: str | Path) -> Any | None:
    """A JSON cache file's content, or ``None`` (with a one-line notice, the file removed) if it is corrupt.

    A cache can always be recomputed, so a truncated or garbled one is not an error.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as error:
        cache_notice(path, error)
        return None


def read_cache_npy(path: str | Path) -> Any | None:
    """A cached ``.npy`` array, or ``None`` when it is missing, or corrupt (then with a one-line notice, the file
    removed, for the caller to recompute it)."""
    import numpy as np

    path = Path(path)
    if not path.exists():
        return None
    try:
        return np.load(path)
    except (ValueError, OSError, EOFError) as error:
        cache_notice(path, error)
        return None


def read_cache_npz(path: str | Path, keys: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Every array of a cached ``.npz``, or ``None`` when it is missing, or corrupt (truncated, garbled, without
    one of ``keys``): then with a one-line notice, the file removed, for the caller to recompute it."""
    import zipfile

    import numpy as np

    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path) as cached:
            arrays = {k: cached[k] for k in cached.files}
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise KeyError(f"no {', '.join(missing)} in the cache")
        return arrays
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        cache_notice(path, error)
        return None


def cache_notice(path: Path, error: BaseException) -> None:
    """Print the one-line notice for a corrupt cache file and remove it (the caller recomputes it)."""
    import sys

    print(f"notice: cache {path} is corrupt ({type(error).__name__}: {str(error)[:80]}); recomputing it",
          file=sys.stderr, flush=True)
    try:
        path.unlink()
    except OSError:
        pass


def _rebuild_hint(chapter: str, profile: str) -> str:
    if chapter in {c.key for c in chapters.with_experiments()}:
        return f"python -m audioformers.reproduce {chapter} --profile {profile}, or the chapter's notebook"
    if chapter == "reproduce-demo":
        return f"python -m audioformers.reproduce demo --profile {profile}"
    return "rerun the code that wrote it"


def _is_rank_zero() -> bool:
    """False only in a process of an initialised torch.distributed group whose rank is not 0 (torch is not
    imported for this: a process that never loaded torch.distributed has no group)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return True
    return dist.get_rank() == 0


def write_results(
    chapter: str,
    name: str,
    metrics: Mapping[str, Any],
    *,
    config: Mapping[str, Any] | Any = None,
    seed: int | list[int] | None = None,
    device: str | None = None,
    wall_time_s: float | None = None,
    profile: str | None = None,
    directory: Path | None = None,
) -> Path:
    """Write one result file atomically and return its path.

    Under ``torchrun`` only rank 0 writes (every rank computes the same metrics on identical weights); the
    other ranks get the path without touching the file, so no two processes replace it at once."""
    for label, text in (("chapter", chapter), ("name", name)):
        if not text or "/" in text or "\\" in text or text.startswith("."):
            raise ValueError(f"{label} must be a plain non-empty name, got {text!r}")
    profile = validate_profile(profile) if profile is not None else get_profile()
    folder = (directory or results_dir()) / chapter
    if not _is_rank_zero():
        return folder / f"{name}.{profile}.json"
    record = {
        "chapter": chapter,
        "name": name,
        "profile": profile,
        "metrics": _jsonable(dict(metrics)),
        "config": _jsonable(config) if config is not None else {},
        "seed": _jsonable(seed),
        "device": device or "unknown",
        "versions": package_versions(),
        "git_commit": git_commit(),
        "wall_time_s": wall_time_s,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{profile}.json"
    if _same_measurement(path, record):
        return path  # the same numbers from the same config: the stored record (and its provenance) stands
    return atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _same_measurement(path: Path, record: dict[str, Any]) -> bool:
    """True when ``path`` already holds ``record``'s metrics, config and seed (only provenance would change), so
    re-executing a notebook that re-measures something cheap does not rewrite the committed record."""
    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    keys = ("metrics", "config", "seed", "profile")
    return isinstance(old, dict) and all(_as_json(old.get(k)) == _as_json(record.get(k)) for k in keys)


def load_results(chapter: str, name: str, profile: str | None = None, directory: Path | None = None) -> dict[str, Any]:
    """Read ``results/<chapter>/<name>.<profile>.json``.

    A clear ``FileNotFoundError`` if it was never run; :class:`CorruptFileError` (naming the file and the
    command that rewrites it) if it cannot be read.
    """
    profile = validate_profile(profile) if profile is not None else get_profile()
    path = (directory or results_dir()) / chapter / f"{name}.{profile}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no results at {path}: run the experiment at the {profile!r} profile first "
            f"({_rebuild_hint(chapter, profile)})"
        )
    return read_results_file(path)


def read_results_file(path: str | Path, fields: tuple[str, ...] = ("metrics", "config")) -> dict[str, Any]:
    """The record in the results file ``path`` (``<chapter>/<name>.<profile>.json``), however it was found.

    The one reader of stored results (:func:`load_results`, the reproduction report, the studies): a file that
    is truncated or garbled, not a JSON object, or without the keys ``fields`` is a :class:`CorruptFileError`
    naming the file and the command that rewrites it, never a bare ``JSONDecodeError``.
    """
    path = Path(path)
    parts = path.name.split(".")
    hint = _rebuild_hint(path.parent.name, parts[-2] if len(parts) >= 3 else "book")
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no results at {path} ({hint})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CorruptFileError(f"results file {path} is corrupt ({type(error).__name__}: {error}); delete it and "
                               f"rebuild it ({hint})") from None
    missing = [f for f in fields if not isinstance(record, dict) or f not in record]
    if not isinstance(record, dict) or missing:
        what = "not a JSON object" if not isinstance(record, dict) else f"no {'/'.join(missing)}"
        raise CorruptFileError(f"results file {path} is not a results record ({what}); delete it and "
                               f"rebuild it ({hint})")
    return record


def stored_result(chapter: str, name: str, profile: str, config: Mapping[str, Any],
                  directory: Path | None = None) -> dict[str, Any] | None:
    """The one rule for reusing a stored result: the record ``results/<chapter>/<name>.<profile>.json`` when the
    config it recorded equals ``config``, else ``None`` (never run, or run with another config).

    Configs are compared as JSON (tuples and lists, dataclasses and dicts alike), so a config that survives a
    round trip through the results file matches itself. Put everything that decides the numbers in ``config``:
    sizes, seeds, the learning rates chosen, the data's version. A damaged file is a :class:`CorruptFileError`,
    not a reason to re-run silently.
    """
    try:
        record = load_results(chapter, name, profile, directory)
    except FileNotFoundError:
        return None
    return record if _as_json(record.get("config")) == _as_json(config) else None


def reuse_or_run(chapter: str, name: str, profile: str, config: Mapping[str, Any], run: Callable[[], Any],
                 directory: Path | None = None) -> dict[str, Any]:
    """The stored record if :func:`stored_result` accepts it; else ``run()`` (which writes the record with this
    ``config`` through :func:`write_results`) and the record it wrote. Every chapter's "load or run" goes
    through here, so a stored study is reused by one rule: its config."""
    record = stored_result(chapter, name, profile, config, directory)
    if record is not None:
        return record
    run()
    record = stored_result(chapter, name, profile, config, directory)
    if record is None:
        raise RuntimeError(f"{chapter}/{name} at the {profile!r} profile ran but did not write a record with this "
                           f"config (the run must call write_results with config={_jsonable(config)!r})")
    return record


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(_jsonable(value), sort_keys=True)) if value is not None else None


class Stopwatch:
    """``with Stopwatch() as clock: ...; clock.seconds``"""

    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
