"""Unpacking the public datasets' archives safely: zip (including a split ``.z01 ... .zip``, read as one stream
without joining it on disk) and tar.

:func:`extract` checks every member before anything is written: absolute paths, ``..`` components, links and
devices, members that collide, more members than allowed, and members whose declared sizes add up to more than
``max_ratio`` times the archive's size (a decompression bomb) are refused (:class:`UnsafeArchiveError`); no member
is written past its declared size; a failed extraction leaves no half-extracted folder behind.

Fetching and verifying the archives is :mod:`audioformers.data.downloads`' part.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable

CHUNK = 1 << 20  # bytes read per disk read
MAX_MEMBERS = 10_000  # members of one archive, unless its Archive says otherwise
MAX_RATIO = 100.0  # extracted bytes per archive byte, unless its Archive says otherwise
RATIO_SLACK = 1 << 20  # extracted bytes allowed on top of the ratio (tiny archives of text compress well)


class DownloadError(RuntimeError):
    """A download or extraction that cannot be completed safely."""


class UnsafeArchiveError(DownloadError):
    """An archive member that would be written outside the target folder (or is a link/device), or an
    archive with more members, or more extracted bytes, than its registry entry allows."""


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
