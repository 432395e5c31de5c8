"""Where the book keeps its data, and how processes share it: the data folder, file locks, partial folders.

Used by :mod:`audioformers.data` (offline builds) and :mod:`audioformers.data.downloads` (public datasets),
which both build into ``.NAME.partial-PID`` and move the result into place under ``.NAME.lock``. It
lives in its own module so that neither of the two has to import the other for it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

PARTIAL_TAG = ".partial-"


def data_dir() -> Path:
    """``$BOOK_DATA_DIR`` or ``~/.cache/audioformers``, created if missing."""
    path = Path(os.environ.get("BOOK_DATA_DIR") or Path.home() / ".cache" / "audioformers")
    path.mkdir(parents=True, exist_ok=True)
    return path


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
