"""Downloads of the full public datasets (``paper`` profile): a registry of URL + checksum, fetched safely.

Each :class:`PublicDataset` lists its files (URL, size, sha256 and/or the publisher's md5) and the
archives to unpack. :func:`download_dataset`:

* checks the free disk space before starting;
* fetches into ``<file>.partial`` and resumes an interrupted fetch with an HTTP ``Range`` request
  (a ``.partial`` file is never used as data);
* verifies every finished file (sha256, else the publisher's md5); a mismatch deletes the file and
  fetches it again once, then stops with a clear error; a file with no published checksum is refused
  unless ``trust_unverified=True``, and its computed sha256 is recorded in ``checksums.json``;
* gives each file an overall deadline (:func:`default_deadline`: an hour plus the time at 256 KiB/s),
  besides the per-read timeout, so a server that sends a byte now and then cannot hold a download forever;
* extracts zip (including multi-part ``.z01 ... .zip``) and tar archives into a temporary folder,
  refusing any member that would land outside it, and any archive with more members than its
  :class:`Archive` allows or whose members would take more than ``max_ratio`` times its own size
  (a decompression bomb), before anything is written; writes a completion marker, then renames it
  into place (an interrupted extraction is never used).

Only the standard library (``urllib``) and ``tqdm`` are used. Checksums are never invented: where the
publisher gives none and none could be found, the entry says so (``sha256=None, md5=None``).

Notebook: ``chapters/R_reproduction_report.ipynb`` (section "Running at the paper's scale");
command line: ``data_scripts/download_datasets.py``.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable

from tqdm.auto import tqdm

from audioformers.core.storage import data_dir, file_lock, partial_folder, remove_stale_partials

MARKER = ".complete.json"
CHECKSUMS = "checksums.json"
CHUNK = 1 << 20  # bytes read per network / disk read
GiB = 1 << 30
MAX_MEMBERS = 10_000  # members of one archive, unless its Archive says otherwise
MAX_RATIO = 100.0  # extracted bytes per archive byte, unless its Archive says otherwise
RATIO_SLACK = 1 << 20  # extracted bytes allowed on top of the ratio (tiny archives of text compress well)
DEADLINE_BASE_S = 3600.0  # a file's overall deadline: this, plus its size at DEADLINE_RATE
DEADLINE_RATE = 256 << 10  # bytes per second


class DownloadError(RuntimeError):
    """A download or extraction that cannot be completed safely."""


class ChecksumError(DownloadError):
    """A file whose checksum does not match the registry, or that has no checksum to check."""


class UnsafeArchiveError(DownloadError):
    """An archive member that would be written outside the target folder (or is a link/device), or an
    archive with more members, or more extracted bytes, than its registry entry allows."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a public dataset."""

    filename: str  # name on disk, inside the dataset's downloads folder
    url: str
    size: int | None = None  # bytes, where the publisher states it
    sha256: str | None = None  # None: not published / not found (never invented)
    md5: str | None = None  # the publisher's md5 (Zenodo gives md5 only)
    note: str = ""  # where the checksum comes from, or why there is none
    max_bytes: int | None = None  # where ``size`` is unknown: a ceiling a little above the stated size


@dataclass(frozen=True)
class Archive:
    """Archive(s) to unpack: one file, or the parts of a split zip in order (``.z01``, ..., ``.zip``)."""

    parts: tuple[str, ...]
    into: str = "."  # sub-folder of the dataset folder that receives the members
    max_members: int = MAX_MEMBERS  # more (files and folders) is refused before anything is written
    max_ratio: float = MAX_RATIO  # extracted bytes per byte of the archive's parts (plus RATIO_SLACK)


@dataclass(frozen=True)
class PublicDataset:
    """A downloadable dataset: its files, what to unpack, and how much disk it needs."""

    name: str
    description: str
    files: tuple[RemoteFile, ...]
    archives: tuple[Archive, ...] = ()
    disk_bytes: int | None = None  # downloads + extracted (approx.), checked before starting
    licence: str = ""
    homepage: str = ""
    keep_archives: bool = False  # delete archives after a verified extraction unless True

    def download_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)


_ZENODO = "https://zenodo.org/records/4060432/files/{}?download=1"
_FSD50K_MD5_NOTE = "md5 as published on Zenodo record 4060432 (Zenodo gives no sha256)"


def _fsd(name: str, md5: str, size: int | None, max_bytes: int | None = None) -> RemoteFile:
    return RemoteFile(name, _ZENODO.format(name), size=size, md5=md5, note=_FSD50K_MD5_NOTE,
                      max_bytes=max_bytes)


REGISTRY: dict[str, PublicDataset] = {d.name: d for d in (
    PublicDataset(
        "fsd50k",
        "FSD50K: 51,197 Freesound clips, 200 AudioSet classes, dev/eval CSVs (chapter 5, paper profile)",
        files=(
            _fsd("FSD50K.ground_truth.zip", "ca27382c195e37d2269c4c866dd73485", None,
                 max_bytes=64 << 20),  # three CSV files, well under 64 MiB
            _fsd("FSD50K.metadata.zip", "b9ea0c829a411c1d42adb9da539ed237", 6_700_838),
            _fsd("FSD50K.doc.zip", "3516162b82dc2945d3e7feba0904e800", 6_984),
            _fsd("FSD50K.dev_audio.z01", "faa7cf4cc076fc34a44a479a5ed862a3", 3_221_225_472),
            _fsd("FSD50K.dev_audio.z02", "8f9b66153e68571164fb1315d00bc7bc", 3_221_225_472),
            _fsd("FSD50K.dev_audio.z03", "1196ef47d267a993d30fa98af54b7159", 3_221_225_472),
            _fsd("FSD50K.dev_audio.z04", "d088ac4e11ba53daf9f7574c11cccac9", 3_221_225_472),
            _fsd("FSD50K.dev_audio.z05", "81356521aa159accd3c35de22da28c7f", 3_221_225_472),
            _fsd("FSD50K.dev_audio.zip", "c480d119b8f7a7e32fdb58f3ea4d6c5a", 2_306_663_327),
            _fsd("FSD50K.eval_audio.z01", "3090670eaeecc013ca1ff84fe4442aeb", 3_221_225_472),
            _fsd("FSD50K.eval_audio.zip", "6fa47636c3a3ad5c7dfeba99f2637982", 3_037_675_767),
        ),
        archives=(
            Archive(("FSD50K.ground_truth.zip",)),
            Archive(("FSD50K.metadata.zip",)),
            Archive(("FSD50K.doc.zip",)),
            Archive(tuple(f"FSD50K.dev_audio.z0{i}" for i in range(1, 6)) + ("FSD50K.dev_audio.zip",),
                    max_members=45_000),  # 40,966 clips
            Archive(("FSD50K.eval_audio.z01", "FSD50K.eval_audio.zip"), max_members=12_000),  # 10,231 clips
        ),
        disk_bytes=65 * GiB,  # 24 GiB of archives + about 31 GiB of wav files, with margin
        licence="CC-BY 4.0 (per clip: CC0, CC-BY, CC-BY-NC, CC Sampling+)",
        homepage="https://zenodo.org/records/4060432",
    ),
    PublicDataset(
        "maestro",
        "MAESTRO v3.0.0: about 200 h of virtuosic piano (wav + MIDI), train/validation/test in its CSV "
        "(chapter 3, paper profile)",
        files=(RemoteFile(
            "maestro-v3.0.0.zip",
            "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0.zip",
            size=None,  # about 101 GB; the exact byte count is not published
            max_bytes=110 * 10**9,
            sha256="6680fea5be2339ea15091a249fbd70e49551246ddbd5ca50f1b2352c08c95291",
            note="sha256 as published on the MAESTRO dataset page (magenta.tensorflow.org/datasets/maestro)"),),
        archives=(Archive(("maestro-v3.0.0.zip",)),),
        disk_bytes=235 * GiB,  # 101 GB zip + 120 GB extracted
        licence="CC BY-NC-SA 4.0",
        homepage="https://magenta.tensorflow.org/datasets/maestro",
    ),
    PublicDataset(
        "speech-commands-v2",
        "Speech Commands v2: 105,829 one-second utterances of 35 words by 2,618 speakers; "
        "validation/testing lists (chapter 4 probes, paper profile)",
        files=(RemoteFile(
            "speech_commands_v0.02.tar.gz",
            "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
            size=None,  # about 2.3 GiB; the exact byte count is not published
            max_bytes=3 * GiB,
            sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
            note="sha256 as used by public loaders of this archive (torchaudio-style registries)"),),
        archives=(Archive(("speech_commands_v0.02.tar.gz",), into="speech_commands_v0.02",
                          max_members=110_000),),  # 105,829 utterances, 6 noise files, 36 folders
        disk_bytes=8 * GiB,
        licence="CC-BY 4.0",
        homepage="https://arxiv.org/abs/1804.03209",
    ),
)}
DATASET_NAMES: tuple[str, ...] = tuple(REGISTRY)


def get_dataset(name: str, registry: dict[str, PublicDataset] | None = None) -> PublicDataset:
    """The registry entry ``name``; a clear error listing the valid names otherwise."""
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise ValueError(f"unknown public dataset {name!r}; valid: {', '.join(registry)}")
    return registry[name]


def downloads_root() -> Path:
    """``<data_dir>/public`` (``$BOOK_DATA_DIR`` or ``~/.cache/audioformers``)."""
    return data_dir() / "public"


# --- checksums --------------------------------------------------------------------------------

def file_digest(path: str | Path, algorithm: str = "sha256", progress: bool = False) -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    path = Path(path)
    with path.open("rb") as handle, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                         desc=f"{algorithm} {path.name}", disable=not progress,
                                         leave=False) as bar:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def verify_file(path: Path, remote: RemoteFile, trust_unverified: bool = False,
                progress: bool = False) -> dict[str, str]:
    """Check ``path`` against ``remote``'s size and checksum; return the record of what was checked.

    Raises :class:`ChecksumError` on a mismatch, or when there is no checksum to check and
    ``trust_unverified`` is False.
    """
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise ChecksumError(f"{path.name}: {size} bytes, expected {remote.size} (truncated or corrupted)")
    sha256 = file_digest(path, "sha256", progress)
    record = {"sha256": sha256, "size": str(size)}
    if remote.sha256 is not None:
        if sha256 != remote.sha256.lower():
            raise ChecksumError(f"{path.name}: sha256 {sha256} does not match the registry's {remote.sha256}")
        record["verified"] = "sha256"
    elif remote.md5 is not None:
        md5 = file_digest(path, "md5", progress)
        if md5 != remote.md5.lower():
            raise ChecksumError(f"{path.name}: md5 {md5} does not match the publisher's {remote.md5}")
        record["verified"] = "md5"
    elif trust_unverified:
        record["verified"] = "unverified (trusted on request)"
    else:
        raise ChecksumError(f"{path.name} has no published checksum in the registry; its sha256 is {sha256}. "
                            "Re-run with --trust-unverified (trust_unverified=True) to accept it.")
    return record


# --- fetching ---------------------------------------------------------------------------------

def check_disk_space(folder: Path, needed_bytes: int) -> None:
    """Raise :class:`DownloadError` when the file system of ``folder`` has less than ``needed_bytes`` free."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise DownloadError(f"not enough disk space in {folder}: {needed_bytes / GiB:.1f} GiB needed, "
                            f"{free / GiB:.1f} GiB free (set BOOK_DATA_DIR or --dest to a larger disk)")


def _content_range(header: str | None) -> tuple[int, int, int | None] | None:
    """``bytes START-END/TOTAL`` -> (start, end, total or None for ``*``); None when malformed."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", header or "")
    if not match:
        return None
    start, end, total = match.groups()
    return int(start), int(end), None if total == "*" else int(total)


def default_deadline(size: int | None) -> float:
    """Seconds a file of ``size`` bytes (None: unknown, counted as 1 GiB) may take in all: an hour plus
    the time to fetch it at 256 KiB/s."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ValueError(f"size must be a whole number of bytes >= 0 (or None), got {size!r}")
    return DEADLINE_BASE_S + (GiB if size is None else size) / DEADLINE_RATE


def _content_length(value: str | None, url: str) -> int | None:
    """The ``Content-Length`` header as bytes, None when absent; a :class:`DownloadError` when malformed."""
    if value is None:
        return None
    if not re.fullmatch(r"\s*\d+\s*", value):
        raise DownloadError(f"fetching {url}: the server sent a malformed Content-Length {value!r} "
                            "(not a whole number of bytes)")
    return int(value)


def _check_deadline(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise ValueError(f"deadline_s must be a finite number of seconds > 0 (or None), got {value!r}")
    return float(value)


def fetch(url: str, target: Path, expected_size: int | None = None, progress: bool = True,
          timeout: float = 60.0, max_attempts: int = 5, max_bytes: int | None = None,
          deadline_s: float | None = None) -> Path:
    """Fetch ``url`` to ``target`` through ``target.partial``, resuming with HTTP Range requests.

    A connection that ends early is resumed (up to ``max_attempts`` connections without progress).
    A resumed (206) answer must carry a ``Content-Range`` that starts where the partial file ends
    (and, where ``expected_size`` is known, states that total); otherwise the partial file is
    discarded and the transfer starts again, once. No more than ``expected_size`` (or, where the
    exact size is not published, ``max_bytes``) bytes are ever written: a server that sends more is
    an error. A malformed ``Content-Length`` is an error naming it.

    ``timeout`` bounds each connection and read; ``deadline_s`` (default :func:`default_deadline` of the
    file's size) bounds the whole transfer, resumes included: past it (by at most one ``timeout``) the
    partial file is kept (a later call resumes it) and :class:`DownloadError` says how far it got. Returns ``target`` once the transfer
    completed; the caller verifies its checksum.
    """
    deadline_s = _check_deadline(deadline_s)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    limit = expected_size if expected_size is not None else max_bytes
    stalled, restarts = 0, 0
    budget = deadline_s if deadline_s is not None else default_deadline(limit)
    deadline = time.monotonic() + budget

    def remaining(have: int) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DownloadError(f"fetching {url}: not finished within the deadline of {budget:.0f} s "
                                f"({have} bytes so far, kept in {partial.name}; run again to resume, or allow "
                                "more time)")
        return left

    def restart(reason: str) -> None:
        nonlocal restarts
        partial.unlink(missing_ok=True)
        restarts += 1
        if restarts > 1:
            raise DownloadError(f"fetching {url}: {reason} (again after starting over)")

    while True:
        have = partial.stat().st_size if partial.exists() else 0
        if limit is not None and have > limit:
            partial.unlink()  # larger than the file can be: start again
            have = 0
        left = remaining(have)
        request = urllib.request.Request(url, headers={"User-Agent": "audioformers-downloader"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        total: int | None = expected_size
        before = have
        try:
            with urllib.request.urlopen(request, timeout=min(timeout, left)) as response:
                status = getattr(response, "status", 200)
                length = _content_length(response.headers.get("Content-Length"), url)
                if have and status == 206:
                    span = _content_range(response.headers.get("Content-Range"))
                    if span is None or span[0] != have:
                        restart(f"the server answered a request for bytes {have}- with Content-Range "
                                f"{response.headers.get('Content-Range')!r}")
                        continue
                    if span[2] is not None:
                        if expected_size is not None and span[2] != expected_size:
                            raise DownloadError(f"fetching {url}: the server says the file has {span[2]} "
                                                f"bytes, the registry says {expected_size}")
                        total = span[2]
                elif have:  # the server ignored the Range header: start over
                    have = 0
                if total is None and length is not None:
                    total = have + length
                if limit is not None and total is not None and total > limit:
                    partial.unlink(missing_ok=True)
                    raise DownloadError(f"fetching {url}: the server announces {total} bytes, more than "
                                        f"the {limit} the registry allows")
                if have and total is not None and have >= total:
                    break
                with partial.open("ab" if have else "wb") as out, tqdm(
                        total=total, initial=have, unit="B", unit_scale=True, desc=target.name,
                        disable=not progress, leave=False) as bar:
                    for chunk in iter(lambda: response.read1(CHUNK), b""):  # what has arrived: a trickle
                        # cannot hold one read past the deadline
                        if limit is not None and have + len(chunk) > limit:
                            out.close()
                            partial.unlink()
                            raise DownloadError(f"fetching {url}: the server sent more than the {limit} "
                                                "bytes the registry allows; nothing was kept")
                        out.write(chunk)
                        bar.update(len(chunk))
                        have += len(chunk)
                        remaining(have)
        except urllib.error.HTTPError as error:
            if error.code == 416 and have:  # range not satisfiable: already complete (or too long)
                break
            raise DownloadError(f"HTTP {error.code} fetching {url}: {error.reason}") from error
        except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as error:
            stalled = 0 if have > before else stalled + 1  # bytes arrived: resume, else count a failure
            if stalled >= max_attempts:
                raise DownloadError(f"fetching {url} failed {stalled} times: {error}") from error
            time.sleep(min(min(2.0 ** stalled, 30.0) * 0.05, max(0.0, deadline - time.monotonic())))
            continue
        if total is None or have >= total:
            break
        stalled = stalled + 1 if have == before else 0  # connection closed early: resume
        if stalled >= max_attempts:
            raise DownloadError(f"fetching {url}: stopped at {have} of {total} bytes after {stalled} attempts")
    os.replace(partial, target)
    return target


def fetch_verified(remote: RemoteFile, folder: Path, trust_unverified: bool = False, progress: bool = True,
                   retries: int = 1, deadline_s: float | None = None) -> dict[str, str]:
    """Fetch one file into ``folder`` and verify it; a bad file is deleted and fetched again ``retries`` times.

    ``deadline_s`` bounds each fetch of the file (see :func:`fetch`)."""
    target = folder / remote.filename
    last_error: ChecksumError | None = None
    for _ in range(retries + 1):
        if not target.exists():
            fetch(remote.url, target, remote.size, progress=progress, max_bytes=remote.max_bytes,
                  deadline_s=deadline_s)
        try:
            return verify_file(target, remote, trust_unverified, progress=False)
        except ChecksumError as error:
            if remote.sha256 is None and remote.md5 is None:
                raise  # nothing to refetch against: the user must decide
            last_error = error
            target.unlink()  # never used: delete and fetch again
    raise ChecksumError(f"{remote.filename}: still bad after {retries + 1} downloads ({last_error}); "
                        "the mirror may have changed or be serving a damaged file") from last_error


# --- extraction -------------------------------------------------------------------------------

def _safe_member_path(root: Path, name: str) -> Path:
    """The path a member ``name`` would be written to, or :class:`UnsafeArchiveError` if outside ``root``."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise UnsafeArchiveError(f"archive member {name!r} would be written outside the target folder")
    resolved = (root / pure).resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        raise UnsafeArchiveError(f"archive member {name!r} would be written outside the target folder")
    return resolved


class _Concatenated(io.RawIOBase):
    """Read-only, seekable view of several files one after another (the parts of a split zip)."""

    def __init__(self, paths: Iterable[Path]):
        self.paths = list(paths)
        self.sizes = [p.stat().st_size for p in self.paths]
        self.starts = [sum(self.sizes[:i]) for i in range(len(self.paths))]
        self.total = sum(self.sizes)
        self.handles = [p.open("rb") for p in self.paths]
        self.position = 0
        self.patches: dict[int, bytes] = {}  # absolute offset -> bytes shown instead of the file's


    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self.position < self.total:
            index = max(i for i, s in enumerate(self.starts) if s <= self.position)
            handle = self.handles[index]
            handle.seek(self.position - self.starts[index])
            chunk = handle.read(min(len(view) - done, self.starts[index] + self.sizes[index] - self.position))
            if not chunk:
                break
            view[done:done + len(chunk)] = chunk
            for at, data in self.patches.items():  # overlay the patched bytes that fall in this chunk
                lo, hi = max(at, self.position), min(at + len(data), self.position + len(chunk))
                if lo < hi:
                    view[done + lo - self.position:done + hi - self.position] = data[lo - at:hi - at]
            done += len(chunk)
            self.position += len(chunk)
        return done

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        super().close()


def open_zip(parts: list[Path]) -> zipfile.ZipFile:
    """Open a zip, or a split zip (``name.z01 ... name.zip`` in order), without joining it on disk.

    In a split archive each member's offset counts from the start of the part (disk) it begins on;
    the offsets are rebased onto the concatenated stream.
    """
    if len(parts) == 1:
        return zipfile.ZipFile(parts[0])
    stream = _Concatenated(parts)
    _patch_zip64_locator(stream, parts[-1])
    archive = zipfile.ZipFile(io.BufferedReader(stream, buffer_size=CHUNK))
    concat = archive.start_dir - _central_directory_offset(archive)
    for info in archive.infolist():
        if info.volume >= len(parts):
            raise DownloadError(f"{parts[-1].name}: member {info.filename!r} is on part {info.volume + 1} "
                                f"but only {len(parts)} parts were given")
        info.header_offset = info.header_offset - concat + stream.starts[info.volume]
    return archive


def _patch_zip64_locator(stream: _Concatenated, last_part: Path) -> None:
    """Show a split zip64 archive's end locator as single-disk (disk 0 of 1) to ``zipfile``.

    ``zipfile`` refuses zip64 archives that span disks; the locator's disk fields are the only
    obstacle, because the offsets are rebased by :func:`open_zip` anyway.
    """
    size = last_part.stat().st_size
    with last_part.open("rb") as handle:
        handle.seek(max(0, size - (1 << 16) - 64))
        tail = handle.read()
    at = tail.rfind(zipfile.stringEndArchive64Locator)
    if at < 0:
        return  # not zip64: nothing to patch
    absolute = stream.total - len(tail) + at
    stream.patches[absolute + 4] = (0).to_bytes(4, "little")  # disk holding the zip64 end record
    stream.patches[absolute + 16] = (1).to_bytes(4, "little")  # total number of disks


def _central_directory_offset(archive: zipfile.ZipFile) -> int:
    """The central directory's offset as written in the end record (relative to its own part)."""
    fp = archive.fp
    assert fp is not None
    endrec = zipfile._EndRecData(fp)  # noqa: SLF001 (the standard library's own end-record parser)
    if endrec is None:
        raise DownloadError("not a zip file (no end of central directory record)")
    return int(endrec[zipfile._ECD_OFFSET])  # noqa: SLF001


def _check_collisions(into: Path, members: list[tuple[str, bool]]) -> None:
    """Refuse members that would land on one another: two with one path, a file where another
    member needs a folder, or a file that is already there (written by an earlier archive)."""
    files: dict[Path, str] = {}
    folders: dict[Path, str] = {}
    for name, is_dir in members:
        path = _safe_member_path(into, name)
        if is_dir:
            folders.setdefault(path, name)
            continue
        if path in files:
            raise UnsafeArchiveError(f"archive members collide: {files[path]!r} and {name!r} are both "
                                     f"written to {path}")
        if path.exists():
            raise UnsafeArchiveError(f"archive member {name!r} would overwrite {path} "
                                     "(written by an earlier archive of this dataset?)")
        files[path] = name
        for parent in path.relative_to(into.resolve()).parents:
            folders.setdefault(into.resolve() / parent, name)
    for path, name in folders.items():
        if path in files:
            raise UnsafeArchiveError(f"archive members collide: {files[path]!r} is a file but {name!r} "
                                     "needs it to be a folder")


class _Limits:
    """How many members, and how many extracted bytes, one archive may have (checked before writing)."""

    def __init__(self, parts: list[Path], max_members: int, max_ratio: float):
        self.name = (parts[-1] if len(parts) > 1 else parts[0]).name
        self.archive_bytes = sum(p.stat().st_size for p in parts)
        self.max_members, self.max_ratio = max_members, max_ratio
        self.max_bytes = int(max_ratio * self.archive_bytes) + RATIO_SLACK
        self.members, self.total = 0, 0

    def add(self, size: int) -> None:
        """Count one more member of ``size`` bytes; :class:`UnsafeArchiveError` past a limit."""
        self.members += 1
        self.total += max(0, size)
        if self.members > self.max_members:
            raise UnsafeArchiveError(f"{self.name} has more than {self.max_members} members, the most its "
                                     "registry entry allows (Archive.max_members); refused before extracting")
        if self.total > self.max_bytes:
            raise UnsafeArchiveError(
                f"{self.name} would extract to more than {self.max_bytes} bytes, over {self.max_ratio:g} times "
                f"its own {self.archive_bytes} bytes (a decompression bomb?); refused before extracting "
                "(Archive.max_ratio)")


def _copy_member(source: BinaryIO, out: BinaryIO, declared: int, name: str) -> None:
    """Copy one member, never more bytes than its header declared (the limits were checked on those)."""
    written = 0
    for chunk in iter(lambda: source.read(CHUNK), b""):
        written += len(chunk)
        if written > declared:
            raise UnsafeArchiveError(f"archive member {name!r} holds more than the {declared} bytes its "
                                     "header declares")
        out.write(chunk)


def _extract_zip(parts: list[Path], into: Path, limits: _Limits) -> int:
    count = 0
    with open_zip(parts) as archive:
        infos = archive.infolist()
        for info in infos:
            limits.add(info.file_size)
        for info in infos:  # refuse the whole archive before writing anything
            _safe_member_path(into, info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise UnsafeArchiveError(f"archive member {info.filename!r} is a symbolic link")
        _check_collisions(into, [(i.filename, i.is_dir()) for i in infos])
        for info in infos:
            destination = _safe_member_path(into, info.filename)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, destination.open("wb") as out:
                _copy_member(source, out, info.file_size, info.filename)  # CRC-checked by zipfile
            count += 1
    return count


def _extract_tar(path: Path, into: Path, limits: _Limits) -> int:
    count = 0
    with tarfile.open(path) as archive:
        members = []
        for member in archive:  # headers one by one: a bomb is refused before it is all decompressed
            limits.add(member.size)
            members.append(member)
        for member in members:
            _safe_member_path(into, member.name)
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(f"archive member {member.name!r} is a link or special file")
        _check_collisions(into, [(m.name, m.isdir()) for m in members])
        for member in members:
            destination = _safe_member_path(into, member.name)
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            with source, destination.open("wb") as out:
                _copy_member(source, out, member.size, member.name)
            count += 1
    return count


def extract(parts: list[Path], into: Path, max_members: int = MAX_MEMBERS, max_ratio: float = MAX_RATIO) -> int:
    """Extract a zip / split zip / tar archive into ``into``; return the number of files written.

    Every member is checked first: absolute paths, ``..`` components, links and devices, members
    that collide, more than ``max_members`` members (files and folders), and members whose declared
    sizes add up to more than ``max_ratio`` times the archive's size plus 1 MiB (a decompression bomb)
    are refused (:class:`UnsafeArchiveError`) before anything is written; no member is written past its
    declared size. When the
    extraction fails part-way (a damaged member, a full disk), a folder ``into`` that this call
    created is removed again, so no half-extracted folder is left behind.
    """
    if into.exists() and not into.is_dir():
        raise DownloadError(f"cannot extract into {into}: it is a file, not a folder")
    if isinstance(max_members, bool) or not isinstance(max_members, int) or max_members < 1:
        raise ValueError(f"max_members must be a whole number >= 1, got {max_members!r}")
    if isinstance(max_ratio, bool) or not isinstance(max_ratio, (int, float)) or not 0 < max_ratio < float("inf"):
        raise ValueError(f"max_ratio must be a finite number > 0, got {max_ratio!r}")
    limits = _Limits(parts, max_members, max_ratio)
    created = not into.exists()
    into.mkdir(parents=True, exist_ok=True)
    first = parts[-1] if len(parts) > 1 else parts[0]
    try:
        if len(parts) > 1 or zipfile.is_zipfile(first):
            return _extract_zip(parts, into, limits)
        if tarfile.is_tarfile(first):
            return _extract_tar(first, into, limits)
        raise DownloadError(f"{first.name} is neither a zip nor a tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        if created:
            shutil.rmtree(into, ignore_errors=True)
        raise DownloadError(f"{first.name} is damaged: {error}") from error
    except BaseException:
        if created:
            shutil.rmtree(into, ignore_errors=True)
        raise


# --- the whole dataset ------------------------------------------------------------------------

def dataset_folder(name: str, dest: str | Path | None = None) -> Path:
    """Where dataset ``name`` is (or will be) unpacked."""
    return Path(dest) / name if dest is not None else downloads_root() / name


def is_complete(name: str, dest: str | Path | None = None) -> bool:
    return (dataset_folder(name, dest) / MARKER).exists()


def download_dataset(name: str, dest: str | Path | None = None, *, trust_unverified: bool = False,
                     progress: bool = True, registry: dict[str, PublicDataset] | None = None,
                     deadline_s: float | None = None) -> Path:
    """Download, verify and unpack ``name``; return its folder (immediately if already complete).

    ``deadline_s`` bounds the fetch of each file (default: :func:`default_deadline` of its size).

    The folder appears only when everything succeeded (it carries ``.complete.json``); archives are
    kept in ``<dest>/.downloads/<name>`` until then, so an interrupted run resumes where it stopped.
    """
    entry = get_dataset(name, registry)
    deadline_s = _check_deadline(deadline_s)
    if dest is not None and Path(dest).exists() and not Path(dest).is_dir():
        raise DownloadError(f"dest {dest} is a file, not a folder: give a folder to download into")
    folder = dataset_folder(name, dest)
    if (folder / MARKER).exists():
        return folder
    root = folder.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create the destination folder {root}: {error}") from error
    with file_lock(root / f".{name}.lock", f"the download of {name}"):
        return _download_locked(entry, folder, trust_unverified, progress, deadline_s)


def _download_locked(entry: PublicDataset, folder: Path, trust_unverified: bool, progress: bool,
                     deadline_s: float | None = None) -> Path:
    """:func:`download_dataset` once its lock is held."""
    name, root = entry.name, folder.parent
    if (folder / MARKER).exists():  # another process finished it while this one waited
        return folder
    remove_stale_partials(root, name)  # extractions of killed processes
    downloads = root / ".downloads" / name
    downloads.mkdir(parents=True, exist_ok=True)
    already = sum(p.stat().st_size for p in downloads.iterdir() if p.is_file())
    needed = entry.disk_bytes if entry.disk_bytes is not None else 2 * entry.download_bytes()
    check_disk_space(root, max(0, needed - already))
    records = {}
    for remote in entry.files:
        records[remote.filename] = fetch_verified(remote, downloads, trust_unverified, progress,
                                                  deadline_s=deadline_s)
    tmp = partial_folder(root, name)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        for archive in entry.archives:
            extract([downloads / part for part in archive.parts], tmp / archive.into, archive.max_members,
                    archive.max_ratio)
        for remote in entry.files:  # plain files (CSVs) that are not archives are copied alongside
            if not any(remote.filename in a.parts for a in entry.archives):
                shutil.copy2(downloads / remote.filename, tmp / remote.filename)
        (tmp / CHECKSUMS).write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")
        (tmp / MARKER).write_text(json.dumps({"name": name, "files": sorted(records)}, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)  # an older, incomplete unpack: never used
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    if not entry.keep_archives:
        shutil.rmtree(downloads)
    return folder


def describe(registry: dict[str, PublicDataset] | None = None) -> list[dict[str, str]]:
    """One row per dataset for ``--list``: name, size, how each file is verified, description."""
    rows = []
    for entry in (REGISTRY if registry is None else registry).values():
        kinds = {("sha256" if f.sha256 else "md5" if f.md5 else "NONE (needs --trust-unverified)")
                 for f in entry.files}
        rows.append({"name": entry.name,
                     "disk_gib": f"{(entry.disk_bytes or 0) / GiB:.0f}",
                     "files": str(len(entry.files)),
                     "checksums": ", ".join(sorted(kinds)),
                     "description": entry.description})
    return rows
