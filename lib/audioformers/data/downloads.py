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
  into place (an interrupted extraction is never used). The extraction and its checks are
  :mod:`audioformers.data.archives`' part (:func:`extract`, re-exported here).

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
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from audioformers.core.progress import tqdm

from audioformers.core.storage import data_dir, file_lock, partial_folder, remove_stale_partials
from audioformers.data.archives import (MAX_MEMBERS, MAX_RATIO, RATIO_SLACK, DownloadError,  # noqa: F401 (API)
                                        UnsafeArchiveError, extract, open_zip)

MARKER = ".complete.json"
CHECKSUMS = "checksums.json"
CHUNK = 1 << 20  # bytes read per network / disk read
GiB = 1 << 30
DEADLINE_BASE_S = 3600.0  # a file's overall deadline: this, plus its size at DEADLINE_RATE
DEADLINE_RATE = 256 << 10  # bytes per second


class ChecksumError(DownloadError):
    """A file whose checksum does not match the registry, or that has no checksum to check."""


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
