"""Start one command in a sandbox: resource limits and, when started by root, an unprivileged user id.

Run as a script by :mod:`audioformers.book.grading` (``python -I sandbox.py CONFIG -- COMMAND ...``), as root or as the
grader's own user, in the new session the grader made for it. Standard library only: the package is not imported.
It then, in order:

* when it is root and switching users: in a private mount namespace (where the kernel allows it), makes each
  folder that the sandbox user cannot search and that leads to a path the command needs (the interpreter, the
  package, the submission's copy) a small tmpfs holding only those paths (bind mounts): a Python installed under
  ``/root`` (mode 0700) becomes reachable, and nothing else in ``/root`` is visible;
* sets the limits (address space, file size, no core files; when switching users, the number of processes);
* hands the files named in ``own`` to the sandbox user, drops every group and switches to the sandbox user and group;
* changes to ``cwd`` and replaces itself with the command.

Notebook: none (``instructor_guide.md``, section "Grading a class").
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 0x00020000, 0x1000, 0x4000, 1 << 18, 2


def _may_search(st: os.stat_result, uid: int, gid: int) -> bool:
    if st.st_uid == uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid == gid:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def first_blocked(path: str, uid: int, gid: int) -> str | None:
    """The first folder on the way to ``path`` that ``uid:gid`` may not search, or None."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    current = os.sep
    for part in parts:
        if not _may_search(os.stat(current), uid, gid):
            return current
        current = os.path.join(current, part)
    return None


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = (lambda s: s.encode() if s is not None else None)
    if libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def expose(paths: list[str], uid: int, gid: int, stash_root: str) -> None:
    """In a private mount namespace, replace each folder ``uid`` cannot search on the way to ``paths`` by a tmpfs
    that holds only the needed entries (bind-mounted). Raises OSError where mount namespaces are not allowed."""
    libc = _libc()
    blocked = {path: first_blocked(path, uid, gid) for path in paths if os.path.exists(path)}
    if not any(blocked.values()):
        return
    if libc.unshare(CLONE_NEWNS) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare: {os.strerror(error)}")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    counter = 0
    for _ in range(16):  # each round opens the shallowest blocked folder of every path
        by_folder: dict[str, set[str]] = {}
        for path in paths:
            folder = first_blocked(path, uid, gid) if os.path.exists(path) else None
            if folder is not None:
                child = os.path.relpath(os.path.abspath(path), folder).split(os.sep)[0]
                by_folder.setdefault(folder, set()).add(child)
        if not by_folder:
            return
        folder = min(by_folder, key=len)
        stashed = []
        for child in sorted(by_folder[folder]):
            counter += 1
            stash = os.path.join(stash_root, f"s{counter}")
            os.mkdir(stash, 0o700)
            _mount(libc, os.path.join(folder, child), stash, None, MS_BIND | MS_REC)
            stashed.append((child, stash))
        _mount(libc, "tmpfs", folder, "tmpfs", 0, "mode=0755,size=64k")
        for child, stash in stashed:
            os.mkdir(os.path.join(folder, child), 0o755)
            _mount(libc, stash, os.path.join(folder, child), None, MS_BIND | MS_REC)
            libc.umount2(stash.encode(), MNT_DETACH)
    raise OSError("could not make the interpreter reachable for the sandbox user")


# ------------------------------------------------------------------ after a submission: its processes and files
def fresh_user() -> tuple[int, int]:
    """An unused user and group id (no account, no process): files and processes of a submission are its own."""
    import pwd
    import random

    while True:
        uid = random.randrange(1_500_000_000, 2_000_000_000)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if not _processes_of(uid):
                return uid, uid


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                status = Path("/proc", entry, "status").read_text()
            except OSError:
                continue
            ids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
            if ids and uid in (int(ids.group(1)), int(ids.group(2))):
                pids.append(int(entry))
    return pids


def kill_user_processes(uid: int) -> None:
    """SIGKILL every process of ``uid`` (a sandbox user), until none is left."""
    for _ in range(100):
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


def remove_user_files(uid: int, roots: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm")) -> None:
    """Delete what ``uid`` left in the world-writable folders under ``roots`` (the only places it could write)."""
    import shutil
    import tempfile

    todo = list(dict.fromkeys([*roots, tempfile.gettempdir()]))
    while todo:
        folder = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_uid == uid:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            elif entry.is_dir(follow_symlinks=False) and st.st_mode & 0o002:
                todo.append(entry.path)



def main(argv: list[str]) -> None:
    import resource

    config = json.loads(argv[0])
    command = argv[2:] if len(argv) > 1 and argv[1] == "--" else argv[1:]
    uid, gid = config.get("uid"), config.get("gid")
    if uid is not None and os.geteuid() == 0 and config.get("expose"):
        try:
            expose(config["expose"], uid, gid, config["stash"])
        except OSError as error:  # the probe run by the grader reports what the sandbox user then cannot reach
            print(f"sandbox: {error}", file=sys.stderr)
    for name, value in config.get("limits", {}).items():
        limit = getattr(resource, name)
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))
    if uid is not None:
        for path in config.get("own", []):
            os.chown(path, uid, gid)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid or os.getegid() != gid:
            raise SystemExit("sandbox: could not switch to the sandbox user")
    os.umask(0o077)
    os.chdir(config["cwd"])
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
