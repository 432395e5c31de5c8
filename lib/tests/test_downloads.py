"""Downloads, offline: a local HTTP server on 127.0.0.1 serves miniature archives of the real layouts."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import subprocess
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
from conftest import load_data_script

from audioformers.data import archives
from audioformers.data import downloads as dl


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (name -> bytes) with Range support; ``server.truncate`` (name -> n)
    makes the next full response announce the whole length but close after n bytes."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        name = self.path.lstrip("/").split("?")[0]
        body = self.server.files.get(name)  # type: ignore[attr-defined]
        self.server.requests.append((name, self.headers.get("Range")))  # type: ignore[attr-defined]
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            bad_range = self.server.bad_range.pop(name, None)  # type: ignore[attr-defined]
            if bad_range is None:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            elif bad_range:  # a wrong Content-Range; "" sends none at all
                self.send_header("Content-Range", bad_range)
                start = 0  # and, like a broken proxy, the whole file
        else:
            self.send_response(200)
        bad_length = self.server.bad_length.get(name)  # type: ignore[attr-defined]
        if bad_length is not None:
            self.send_header("Content-Length", bad_length)
            self.close_connection = True
        elif name not in self.server.no_length:  # type: ignore[attr-defined]
            self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        delay = self.server.drip.get(name)  # type: ignore[attr-defined]
        if delay is not None:  # one byte at a time: each read is quick, the whole never ends in time
            try:
                for i in range(start, len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(delay)
            except OSError:  # the client gave up
                pass
            self.close_connection = True
            return
        cut = self.server.truncate.pop(name, None)  # type: ignore[attr-defined]
        payload = body[start:] if cut is None else body[start:start + cut]
        self.wfile.write(payload)
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.truncate, httpd.requests = {}, {}, []  # type: ignore[attr-defined]
    httpd.bad_range, httpd.no_length = {}, set()  # type: ignore[attr-defined]
    httpd.bad_length, httpd.drip = {}, {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"  # type: ignore[attr-defined]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(server, name: str, files: dict[str, bytes], archives=(), sha=None, md5=None, sizes=True):
    server.files.update(files)
    remotes = tuple(dl.RemoteFile(f, server.url + f, size=len(b) if sizes else None,
                                  sha256=(sha or {}).get(f, _sha(b) if md5 is None else None),
                                  md5=(md5 or {}).get(f)) for f, b in files.items())
    return {name: dl.PublicDataset(name, "test", remotes, tuple(archives), disk_bytes=1 << 20)}


def test_zip_dataset_downloads_verifies_and_unpacks(server, tmp_path):
    payload = _zip_bytes({"FSD50K.ground_truth/dev.csv": b"fname,labels,mids,split\n1,Bark,/m/05tny_,train\n"})
    reg = _entry(server, "mini", {"gt.zip": payload}, [dl.Archive(("gt.zip",))])
    folder = dl.download_dataset("mini", tmp_path, registry=reg, progress=False)
    assert (folder / "FSD50K.ground_truth" / "dev.csv").read_text().startswith("fname")
    assert json.loads((folder / dl.CHECKSUMS).read_text())["gt.zip"]["sha256"] == _sha(payload)
    assert dl.is_complete("mini", tmp_path)
    assert not list(tmp_path.glob("**/*.partial")) and not (tmp_path / ".downloads" / "mini").exists()
    server.requests.clear()
    assert dl.download_dataset("mini", tmp_path, registry=reg, progress=False) == folder
    assert server.requests == []  # complete: nothing fetched again


def test_md5_only_entry_is_verified(server, tmp_path):
    payload = _zip_bytes({"a.txt": b"x"})
    reg = _entry(server, "md5", {"a.zip": payload}, [dl.Archive(("a.zip",))],
                 md5={"a.zip": hashlib.md5(payload).hexdigest()})
    folder = dl.download_dataset("md5", tmp_path, registry=reg, progress=False)
    assert json.loads((folder / dl.CHECKSUMS).read_text())["a.zip"]["verified"] == "md5"


def test_tar_dataset_unpacks_into_subfolder(server, tmp_path):
    payload = _tar_bytes({"yes/a_nohash_0.wav": b"RIFF", "testing_list.txt": b"yes/a_nohash_0.wav\n"})
    reg = _entry(server, "sc", {"sc.tar.gz": payload}, [dl.Archive(("sc.tar.gz",), into="sc")])
    folder = dl.download_dataset("sc", tmp_path, registry=reg, progress=False)
    assert (folder / "sc" / "yes" / "a_nohash_0.wav").read_bytes() == b"RIFF"


def test_truncated_transfer_is_resumed_with_range(server, tmp_path):
    payload = bytes(range(256)) * 4000  # 1 MB
    reg = _entry(server, "trunc", {"big.bin": payload})
    server.truncate["big.bin"] = 300_000  # the first response closes early
    folder = dl.download_dataset("trunc", tmp_path, registry=reg, progress=False)
    assert (folder / "big.bin").read_bytes() == payload
    ranges = [r for n, r in server.requests if n == "big.bin"]
    assert ranges[0] is None and ranges[1] == "bytes=300000-"


def test_truncated_without_known_size_is_detected_by_checksum_and_refetched(server, tmp_path):
    payload = b"0123456789" * 10_000
    reg = _entry(server, "nosize", {"f.bin": payload}, sizes=False)
    # a previous run left a complete-looking but damaged file in place: detected, deleted, refetched
    (tmp_path / ".downloads" / "nosize").mkdir(parents=True)
    (tmp_path / ".downloads" / "nosize" / "f.bin").write_bytes(payload[:500])
    folder = dl.download_dataset("nosize", tmp_path, registry=reg, progress=False)
    assert (folder / "f.bin").read_bytes() == payload


def test_interrupted_partial_file_is_resumed_not_used(server, tmp_path):
    payload = b"abcdefgh" * 50_000
    reg = _entry(server, "resume", {"r.bin": payload})
    downloads = tmp_path / ".downloads" / "resume"
    downloads.mkdir(parents=True)
    (downloads / "r.bin.partial").write_bytes(payload[:123_456])  # killed mid-transfer
    folder = dl.download_dataset("resume", tmp_path, registry=reg, progress=False)
    assert (folder / "r.bin").read_bytes() == payload
    assert server.requests == [("r.bin", "bytes=123456-")]


def test_wrong_checksum_is_refetched_once_then_fails(server, tmp_path):
    payload = _zip_bytes({"a.txt": b"hello"})
    reg = _entry(server, "bad", {"bad.zip": payload}, [dl.Archive(("bad.zip",))], sha={"bad.zip": "0" * 64})
    with pytest.raises(dl.ChecksumError, match="still bad after 2 downloads"):
        dl.download_dataset("bad", tmp_path, registry=reg, progress=False)
    assert [n for n, _ in server.requests] == ["bad.zip", "bad.zip"]
    assert not (tmp_path / "bad").exists()  # never used
    assert not (tmp_path / ".downloads" / "bad" / "bad.zip").exists()


def test_unverified_file_needs_explicit_trust_and_records_hash(server, tmp_path):
    payload = b"no checksum published"
    server.files["u.bin"] = payload
    reg = {"u": dl.PublicDataset("u", "test", (dl.RemoteFile("u.bin", server.url + "u.bin"),), disk_bytes=1 << 20)}
    with pytest.raises(dl.ChecksumError, match="--trust-unverified"):
        dl.download_dataset("u", tmp_path, registry=reg, progress=False)
    assert not (tmp_path / "u").exists()
    folder = dl.download_dataset("u", tmp_path, registry=reg, progress=False, trust_unverified=True)
    record = json.loads((folder / dl.CHECKSUMS).read_text())["u.bin"]
    assert record["sha256"] == _sha(payload) and record["verified"].startswith("unverified")


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_path_traversal_member_is_refused(server, tmp_path, kind):
    members = {"ok.txt": b"fine", "../evil.txt": b"escaped"}
    payload = _zip_bytes(members) if kind == "zip" else _tar_bytes(members)
    name = f"evil.{kind}"
    reg = _entry(server, "evil", {name: payload}, [dl.Archive((name,))])
    with pytest.raises(dl.UnsafeArchiveError, match="outside the target folder"):
        dl.download_dataset("evil", tmp_path, registry=reg, progress=False)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "evil").exists()
    assert not list(tmp_path.glob(".evil.partial*"))


def test_absolute_and_link_members_are_refused(tmp_path):
    archive = tmp_path / "abs.tar"
    with tarfile.open(archive, "w") as tar:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(dl.UnsafeArchiveError, match="link"):
        dl.extract([archive], tmp_path / "out")
    with pytest.raises(dl.UnsafeArchiveError):
        archives._safe_member_path(tmp_path, "/etc/passwd")


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs Info-ZIP's zip to make a split archive")
@pytest.mark.parametrize("zip64", [False, True], ids=["zip32", "zip64"])  # FSD50K's parts are zip64
def test_split_zip_like_fsd50k_is_read_without_joining(tmp_path, zip64):
    source = tmp_path / "FSD50K.dev_audio"
    source.mkdir()
    files = {f"{i}.wav": bytes((i * 7 + j) % 251 for j in range(40_000)) for i in range(6)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    subprocess.run(["zip", "-q", "-0", "-r", "-s", "64k"] + (["-fz"] if zip64 else []) +
                   ["FSD50K.dev_audio.zip", "FSD50K.dev_audio"],
                   cwd=tmp_path, check=True)
    parts = sorted(tmp_path.glob("FSD50K.dev_audio.z0*")) + [tmp_path / "FSD50K.dev_audio.zip"]
    assert len(parts) >= 3
    count = dl.extract(parts, tmp_path / "out")
    assert count == len(files)
    for name, data in files.items():
        assert (tmp_path / "out" / "FSD50K.dev_audio" / name).read_bytes() == data


def test_disk_space_is_checked_before_starting(server, tmp_path):
    server.files["x.bin"] = b"x"
    reg = {"huge": dl.PublicDataset("huge", "test", (dl.RemoteFile("x.bin", server.url + "x.bin", 1, _sha(b"x")),),
                                    disk_bytes=1 << 60)}
    with pytest.raises(dl.DownloadError, match="not enough disk space"):
        dl.download_dataset("huge", tmp_path, registry=reg, progress=False)
    assert server.requests == []


def test_registry_is_honest():
    assert set(dl.DATASET_NAMES) == {"fsd50k", "maestro", "speech-commands-v2"}
    for entry in dl.REGISTRY.values():
        for remote in entry.files:
            assert remote.url.startswith("http")
            assert remote.sha256 is None or len(remote.sha256) == 64
            assert remote.md5 is None or len(remote.md5) == 32
            assert remote.note  # where the checksum comes from
    fsd = dl.REGISTRY["fsd50k"]
    assert len(fsd.files) == 11 and fsd.archives[3].parts[-1] == "FSD50K.dev_audio.zip"
    with pytest.raises(ValueError, match="unknown public dataset 'nope'"):
        dl.get_dataset("nope")


def _cli():
    return load_data_script("download_datasets")


def test_cli_lists_and_rejects_unknown_names(capsys):
    cli = _cli()
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "fsd50k" in out and "maestro" in out and "speech-commands-v2" in out
    with pytest.raises(SystemExit):
        cli.main(["--dataset", "imagenet"])
    assert "invalid choice: 'imagenet'" in capsys.readouterr().err


def test_cli_reports_a_failed_download(server, tmp_path, monkeypatch, capsys):
    cli = _cli()
    server.files["x.bin"] = b"payload"
    reg = {"fsd50k": dl.PublicDataset("fsd50k", "test", (dl.RemoteFile("x.bin", server.url + "x.bin", 7, "0" * 64),),
                                      disk_bytes=1 << 20)}
    monkeypatch.setattr(dl, "REGISTRY", reg)
    assert cli.main(["--dataset", "fsd50k", "--dest", str(tmp_path), "--quiet"]) == 1
    assert "sha256" in capsys.readouterr().err


# --- answers that do not fit the request, and the byte cap -------------------------------------

@pytest.mark.parametrize("bad_range", ["bytes 0-999999/1000000", "", "bytes 5-9/10"])
def test_a_206_whose_content_range_does_not_start_at_the_partial_end_starts_over(server, tmp_path, bad_range):
    """Without a size or checksum to catch it, appending such an answer gave a corrupt file."""
    payload = bytes(range(250)) * 4000  # 1,000,000 bytes
    server.files["c.bin"] = payload
    (tmp_path / "c.bin.partial").write_bytes(payload[:400_000])
    server.bad_range["c.bin"] = bad_range
    dl.fetch(server.url + "c.bin", tmp_path / "c.bin", expected_size=None, progress=False)
    assert (tmp_path / "c.bin").read_bytes() == payload  # not the partial with the whole file appended
    assert server.requests == [("c.bin", "bytes=400000-"), ("c.bin", None)]


def test_a_206_stating_another_total_than_the_registry_is_an_error(server, tmp_path):
    payload = b"z" * 10_000
    server.files["t.bin"] = payload
    (tmp_path / "t.bin.partial").write_bytes(payload[:100])
    server.bad_range["t.bin"] = "bytes 100-9999/20000"
    with pytest.raises(dl.DownloadError, match="the server says the file has 20000 bytes, the registry says 10000"):
        dl.fetch(server.url + "t.bin", tmp_path / "t.bin", expected_size=10_000, progress=False)
    assert not (tmp_path / "t.bin").exists()


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "no-length"])
def test_bytes_written_are_capped_at_the_registry_size(server, tmp_path, announced):
    server.files["big.bin"] = b"x" * 50_000  # the registry says 10,000
    if not announced:
        server.no_length.add("big.bin")  # a close-delimited answer that just keeps sending
    with pytest.raises(dl.DownloadError, match="10000"):
        dl.fetch(server.url + "big.bin", tmp_path / "big.bin", expected_size=10_000, progress=False)
    assert not list(tmp_path.iterdir())  # nothing kept, not even a .partial


def test_an_unknown_size_is_capped_by_max_bytes(server, tmp_path):
    server.files["u.bin"] = b"y" * 50_000
    server.no_length.add("u.bin")
    remote = dl.RemoteFile("u.bin", server.url + "u.bin", sha256="0" * 64, max_bytes=20_000)
    with pytest.raises(dl.DownloadError, match="more than the 20000 bytes"):
        dl.fetch_verified(remote, tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


def test_registry_files_without_a_size_have_a_ceiling():
    for entry in dl.REGISTRY.values():
        for remote in entry.files:
            assert remote.size is not None or remote.max_bytes is not None, remote.filename


# --- extraction: half-extracted folders, stale partials, collisions ----------------------------

def _corrupt_second_member(payload: bytes, marker: bytes) -> bytes:
    at = payload.find(marker)
    assert at > 0
    return payload[:at] + bytes([payload[at] ^ 0xFF]) + payload[at + 1:]


def test_a_damaged_member_leaves_no_half_extracted_folder(tmp_path, server):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("d/first.txt", b"A" * 5000)
        archive.writestr("d/second.txt", b"B" * 5000)
    damaged = _corrupt_second_member(buffer.getvalue(), b"B" * 100)
    (tmp_path / "d.zip").write_bytes(damaged)
    with pytest.raises(dl.DownloadError, match="d.zip is damaged"):
        dl.extract([tmp_path / "d.zip"], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # first.txt was written, then everything removed
    reg = _entry(server, "dmg", {"d.zip": damaged}, [dl.Archive(("d.zip",))])
    with pytest.raises(dl.DownloadError, match="damaged"):
        dl.download_dataset("dmg", tmp_path / "dest", registry=reg, progress=False)
    assert not (tmp_path / "dest" / "dmg").exists() and not list((tmp_path / "dest").glob(".dmg.partial-*"))


def test_extraction_folders_of_killed_processes_are_removed(server, tmp_path):
    import os

    reg = _entry(server, "st", {"s.zip": _zip_bytes({"a.txt": b"a"})}, [dl.Archive(("s.zip",))])
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale, alive = tmp_path / f".st.partial-{dead.pid}", tmp_path / f".st.partial-{os.getppid()}"
    for folder in (stale, alive):
        folder.mkdir()
        (folder / "half.wav").write_bytes(b"RIFF")
    dl.download_dataset("st", tmp_path, registry=reg, progress=False)
    assert not stale.exists() and alive.exists()


@pytest.mark.parametrize("kind, members", [
    ("zip", [("a/x.txt", b"1"), ("a/x.txt", b"2")]),
    ("tar", [("a", b"file"), ("a/b.txt", b"inside a file?")]),
])
def test_colliding_members_are_refused_before_writing(tmp_path, kind, members):
    path = tmp_path / f"c.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
            for name, data in members:
                archive.writestr(name, data)
    else:
        with tarfile.open(path, "w") as archive:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    with pytest.raises(dl.UnsafeArchiveError, match="archive members collide"):
        dl.extract([path], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_mistakes_are_one_line_errors(server, tmp_path, monkeypatch, capsys):
    cli = _cli()
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    assert cli.main(["--dataset", "fsd50k", "--dest", str(a_file), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: fsd50k: dest {a_file} is a file, not a folder: give a folder to download into"
    collide = _zip_bytes({"x/a.txt": b"1"}), _zip_bytes({"x/a.txt": b"2"})
    reg = _entry(server, "fsd50k", {"one.zip": collide[0], "two.zip": collide[1]},
                 [dl.Archive(("one.zip",)), dl.Archive(("two.zip",))])
    monkeypatch.setattr(dl, "REGISTRY", reg)
    assert cli.main(["--dataset", "fsd50k", "--dest", str(tmp_path / "d"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "would overwrite" in err and "x/a.txt" in err
    assert not (tmp_path / "d" / "fsd50k").exists()


def _download_in_child(registry, dest, queue) -> None:
    queue.put(str(dl.download_dataset("two", dest, registry=registry, progress=False)))


def test_two_processes_downloading_one_dataset_fetch_it_once(server, tmp_path):
    import multiprocessing

    reg = _entry(server, "two", {"t.zip": _zip_bytes({"t/a.txt": b"a" * 100_000})}, [dl.Archive(("t.zip",))])
    context = multiprocessing.get_context("spawn")  # the server's thread runs here: no fork
    queue = context.Queue()
    children = [context.Process(target=_download_in_child, args=(reg, tmp_path, queue)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [c.exitcode for c in children] == [0, 0]
    assert {queue.get(timeout=5) for _ in children} == {str(tmp_path / "two")}
    assert [n for n, _ in server.requests] == ["t.zip"]


# --- limits: malformed headers, an overall deadline, archive bombs (issue 28) ------------------------

@pytest.mark.parametrize("length", ["abc", "-5", "1e3", ""])
def test_a_malformed_content_length_is_a_clear_error(server, tmp_path, length):
    server.files["m.bin"] = b"m" * 1000
    server.bad_length["m.bin"] = length
    with pytest.raises(dl.DownloadError, match=f"malformed Content-Length {length!r}"):
        dl.fetch(server.url + "m.bin", tmp_path / "m.bin", progress=False)
    assert not (tmp_path / "m.bin").exists()


def test_a_malformed_content_length_is_one_line_from_the_command_line(server, tmp_path, monkeypatch, capsys):
    server.bad_length["gt.zip"] = "abc"
    reg = _entry(server, "fsd50k", {"gt.zip": _zip_bytes({"a.csv": b"a"})}, [dl.Archive(("gt.zip",))])
    monkeypatch.setattr(dl, "REGISTRY", reg)
    assert _cli().main(["--dataset", "fsd50k", "--dest", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "malformed Content-Length 'abc'" in err


def test_a_trickling_server_is_stopped_by_the_overall_deadline(server, tmp_path):
    """Each byte arrives well within the per-read timeout; the whole file never would."""
    payload = b"t" * 10_000
    server.files["slow.bin"] = payload
    server.drip["slow.bin"] = 0.01
    start = time.monotonic()
    with pytest.raises(dl.DownloadError, match=r"not finished within the deadline of 1 s \(\d+ bytes so far"):
        dl.fetch(server.url + "slow.bin", tmp_path / "slow.bin", expected_size=len(payload), progress=False,
                 timeout=30.0, deadline_s=1.0)
    assert time.monotonic() - start < 5.0
    kept = (tmp_path / "slow.bin.partial").read_bytes()  # kept for a later run to resume
    assert 0 < len(kept) < len(payload) and not (tmp_path / "slow.bin").exists()
    del server.drip["slow.bin"]
    dl.fetch(server.url + "slow.bin", tmp_path / "slow.bin", expected_size=len(payload), progress=False)
    assert (tmp_path / "slow.bin").read_bytes() == payload and server.requests[-1][1] == f"bytes={len(kept)}-"


def test_the_deadline_reaches_fetch_from_the_dataset_and_the_command_line(server, tmp_path, monkeypatch, capsys):
    noise = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(1000))  # does not compress
    server.files["d.zip"] = _zip_bytes({"a.bin": noise})
    server.drip["d.zip"] = 0.01
    reg = _entry(server, "fsd50k", {"d.zip": server.files["d.zip"]}, [dl.Archive(("d.zip",))])
    with pytest.raises(dl.DownloadError, match="deadline of 1 s"):
        dl.download_dataset("fsd50k", tmp_path, registry=reg, progress=False, deadline_s=1)
    monkeypatch.setattr(dl, "REGISTRY", reg)
    assert _cli().main(["--dataset", "fsd50k", "--dest", str(tmp_path), "--quiet", "--deadline", "1"]) == 1
    assert "deadline of 1 s" in capsys.readouterr().err
    assert not (tmp_path / "fsd50k").exists()
    with pytest.raises(SystemExit):
        _cli().main(["--dataset", "fsd50k", "--deadline", "nan"])
    assert "--deadline must be a finite number" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "60", True])
def test_a_bad_deadline_is_named(tmp_path, bad):
    with pytest.raises(ValueError, match="deadline_s must be a finite number of seconds > 0"):
        dl.fetch("http://127.0.0.1:9/x", tmp_path / "x", deadline_s=bad)


def test_the_default_deadline_grows_with_the_size():
    assert dl.default_deadline(0) == 3600.0
    assert dl.default_deadline(3_221_225_472) == pytest.approx(3600 + 12_288)  # an FSD50K part: 4.4 h
    assert dl.default_deadline(None) == dl.default_deadline(dl.GiB)
    for bad in (-1, 2.5, float("nan")):
        with pytest.raises(ValueError, match="size must be a whole number of bytes"):
            dl.default_deadline(bad)


def _bomb(kind: str, path: Path, size: int = 10_000_000) -> float:
    """An archive of one member of ``size`` zero bytes; returns its compression ratio."""
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            archive.writestr("zeros.bin", bytes(size))
    else:
        with tarfile.open(path, "w:gz", compresslevel=9) as archive:
            info = tarfile.TarInfo("zeros.bin")
            info.size = size
            archive.addfile(info, io.BytesIO(bytes(size)))
    return size / path.stat().st_size


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_decompression_bomb_is_refused_before_anything_is_written(tmp_path, kind):
    path = tmp_path / f"bomb.{kind}"
    assert _bomb(kind, path) > 900  # about 1000:1
    with pytest.raises(dl.UnsafeArchiveError, match=r"over 100 times its own \d+ bytes \(a decompression bomb"):
        dl.extract([path], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert dl.extract([path], tmp_path / "allowed", max_ratio=2000) == 1  # a registry entry may allow more
    assert (tmp_path / "allowed" / "zeros.bin").stat().st_size == 10_000_000


def _many(kind: str, path: Path, count: int) -> None:
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            for i in range(count):
                archive.writestr(f"m/{i}.txt", b"")
    else:
        with tarfile.open(path, "w:gz") as archive:
            for i in range(count):
                archive.addfile(tarfile.TarInfo(f"m/{i}.txt"), io.BytesIO(b""))


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_an_archive_of_20000_members_is_refused(tmp_path, kind):
    path = tmp_path / f"many.{kind}"
    _many(kind, path, 20_000)
    with pytest.raises(dl.UnsafeArchiveError, match="many.* has more than 10000 members"):
        dl.extract([path], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_member_limit_comes_from_the_registry_entry(server, tmp_path):
    path = tmp_path / "fifty.zip"
    _many("zip", path, 50)
    reg = _entry(server, "few", {"fifty.zip": path.read_bytes()}, [dl.Archive(("fifty.zip",), max_members=40)])
    with pytest.raises(dl.UnsafeArchiveError, match="more than 40 members"):
        dl.download_dataset("few", tmp_path / "dest", registry=reg, progress=False)
    assert not (tmp_path / "dest" / "few").exists() and not list((tmp_path / "dest").glob(".few.partial-*"))
    reg = _entry(server, "few", {"fifty.zip": path.read_bytes()}, [dl.Archive(("fifty.zip",), max_members=50)])
    folder = dl.download_dataset("few", tmp_path / "dest", registry=reg, progress=False)
    assert len(list((folder / "m").iterdir())) == 50


def test_registry_archives_allow_their_published_member_counts():
    archives = {a.parts[-1]: a for entry in dl.REGISTRY.values() for a in entry.archives}
    assert archives["FSD50K.dev_audio.zip"].max_members > 40_966
    assert archives["FSD50K.eval_audio.zip"].max_members > 10_231
    assert archives["speech_commands_v0.02.tar.gz"].max_members > 105_829
    assert all(a.max_ratio >= 2 for a in archives.values())


@pytest.mark.parametrize("kwargs, message", [({"max_members": 0}, "max_members must be a whole number >= 1"),
                                             ({"max_ratio": float("nan")}, "max_ratio must be a finite number > 0")])
def test_bad_extraction_limits_are_named(tmp_path, kwargs, message):
    (tmp_path / "a.zip").write_bytes(_zip_bytes({"a.txt": b"a"}))
    with pytest.raises(ValueError, match=message):
        dl.extract([tmp_path / "a.zip"], tmp_path / "out", **kwargs)


def test_extraction_lives_in_archives_and_downloads_re_exports_it():
    """downloads fetches and verifies, archives unpacks; the names readers use stay importable from downloads."""
    assert dl.extract is archives.extract and dl.UnsafeArchiveError is archives.UnsafeArchiveError
    assert issubclass(dl.ChecksumError, dl.DownloadError) and dl.DownloadError is archives.DownloadError
    assert dl.Archive(("a.zip",)).max_members == archives.MAX_MEMBERS
