"""Tests of audioformers.data: small builds in a temporary BOOK_DATA_DIR."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import load_data_script
import soundfile as sf

from audioformers import data
from audioformers.data import builders, cache, registry, sources, synth

SMALL = {
    "wave-mini": {"max_seconds_per_file": 2.0, "max_speech_files": 12, "fallback_chorales": 5},
    "instruments-mini": {"pitch_offsets": [0, 12], "velocities": [100]},
    "drums-mini": {"kits": ["Audiophob", "ColomboAcousticDrumkit", "HardElectro1", "rumpf_kit_z01_h2"],
                   "max_layers": 1, "required_classes": {"train": ["kick", "snare"], "val": ["kick"],
                                                         "test": ["kick", "snare"]}},
    "soundmix-mini": {"max_files_per_class": 4, "max_events_per_file": 1, "phrases_per_program": 1,
                      "min_events": {"train": 1, "validation": 1, "test": 1},
                      "min_recordings": {"train": 1, "validation": 1, "test": 1}},
    "examples": {"seconds": 2.0, "rate": 16000},
    "orchestra-mini": {"seconds_per_track": 2.0, "fallback_chorales": 16},
    "piano-mini": {"pieces": 32, "seconds_per_piece": 1.0},
}
HAS_DEBIAN = all(s.available() for s in (sources.ASTERISK_MUSIC, sources.ASTERISK_SPEECH,
                                         sources.HYDROGEN, sources.MINETEST, sources.LINCITY,
                                         sources.FREEDESKTOP)) and synth.fluidsynth_available()
needs_debian = pytest.mark.skipif(not HAS_DEBIAN, reason="Debian data packages not installed "
                                  "(data_scripts/install_debian_packages.sh)")


@pytest.fixture(autouse=True)
def small_data(tmp_path, monkeypatch):
    """A fresh BOOK_DATA_DIR and reduced builder configs for every test."""
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(synth.FORCE_FALLBACK_ENV, raising=False)
    monkeypatch.setattr(registry, "_CONFIG_OVERRIDES", dict(SMALL))
    return tmp_path / "data"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_data_dir_and_names(small_data):
    assert data.data_dir() == small_data and small_data.is_dir()
    for name in ("wave-mini", "instruments-mini", "drums-mini", "soundmix-mini", "examples"):
        assert name in data.DATASET_NAMES and data.REGISTRY[name].kind == "offline"
    assert data.WAVE_MINI_SAMPLE_RATE == 8000


def test_unknown_names_raise_listing_valid_values():
    with pytest.raises(ValueError, match="wave-mini"):
        data.ensure_dataset("nope")
    with pytest.raises(ValueError, match="speech"):
        data.load_wave_mini(domain="noise")
    with pytest.raises(ValueError, match="train"):
        data.load_wave_mini(split="dev")
    with pytest.raises(ValueError, match="drums-mini"):
        data.load_clips("wave-mini", "train")
    with pytest.raises(ValueError, match="val"):
        data.load_clips("instruments-mini", "eval")
    with pytest.raises(ValueError, match="test"):
        data.load_soundmix("eval")
    with pytest.raises(ValueError, match="piano"):
        data.load_example("cat")
    with pytest.raises(ValueError):
        data.render_notes([200])


def test_missing_debian_package_names_it(monkeypatch):
    monkeypatch.setattr(sources, "HYDROGEN", sources.DebianSource(
        "hydrogen-drumkits", Path("/nonexistent"), "x", "y"))
    with pytest.raises(FileNotFoundError, match="hydrogen-drumkits.*apt-get install hydrogen-drumkits"):
        data.ensure_dataset("drums-mini")
    assert not list(data.data_dir().glob(".drums-mini.partial*")) and not (data.data_dir() / "drums-mini").exists()


@needs_debian
@pytest.mark.parametrize("name", ["instruments-mini", "drums-mini", "wave-mini", "examples"])
def test_builds_are_byte_identical(name, tmp_path, monkeypatch):
    first = _files(data.ensure_dataset(name))
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "again"))
    second = _files(data.ensure_dataset(name))
    assert first.keys() == second.keys() and "metadata.json" in first
    assert all(first[k] == second[k] for k in first)


@needs_debian
def test_half_built_folder_is_rebuilt():
    folder = data.ensure_dataset("examples")
    reference = _files(folder)
    (folder / data.MARKER).unlink()  # as if the build was interrupted
    (folder / "piano.npy").write_bytes(b"truncated")
    assert not data.is_complete("examples")
    assert _files(data.ensure_dataset("examples")) == reference
    marker = json.loads((folder / data.MARKER).read_text())
    assert marker["build_hash"] == data.build_hash("examples")


@needs_debian
def test_changed_config_rebuilds(monkeypatch):
    data.ensure_dataset("examples")
    monkeypatch.setitem(registry._CONFIG_OVERRIDES, "examples", {"seconds": 1.0, "rate": 16000})
    assert not data.is_complete("examples")
    assert len(data.load_example("piano", 16000)) == 16000


@needs_debian
@pytest.mark.parametrize("name", ["instruments-mini", "drums-mini"])
def test_clips_shapes_and_source_disjoint_splits(name):
    sets = {s: data.load_clips(name, s) for s in ("train", "val", "test")}
    for clips in sets.values():
        assert clips.audio.dtype == np.float32 and clips.audio.shape == (len(clips), 16000)
        assert clips.labels.dtype == np.int64 and clips.sources.shape == (len(clips),)
        assert np.abs(clips.audio).max() <= 1.0 and clips.sample_rate == 16000
        assert clips.labels.min() >= 0 and clips.labels.max() < len(clips.classes)
        assert all(len(v) == len(clips) for v in clips.info.values())
    assert len(sets["train"]) and len(sets["test"])
    seen = [set(c.sources) for c in sets.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    if name == "instruments-mini":
        assert {"pitch", "velocity", "program", "family"} <= set(sets["train"].info)
        meta = data.metadata(name)
        assert meta["split_counts"]["train"] == len(sets["train"]) and meta["builder_version"] >= 1


@needs_debian
def test_wave_mini_file_split():
    music = data.load_wave_mini("music", "train") + data.load_wave_mini("music", "test")
    speech_test = data.load_wave_mini("speech", "test")
    assert len(data.load_wave_mini("music", "test")) == 1 and speech_test
    for x in music + speech_test:
        assert x.dtype == np.float32 and x.ndim == 1 and 0.95 < np.abs(x).max() <= 1.0
    rows = (data.ensure_dataset("wave-mini") / "files.csv").read_text().splitlines()[1:]
    files = {}
    for row in rows:
        domain, split, file = row.split(",")[:3]
        files.setdefault(file, set()).add(split)
    assert all(len(splits) == 1 for splits in files.values())


@needs_debian
def test_soundmix_is_deterministic_under_a_seed():
    a = data.load_soundmix("train", num_clips=20, seed=3, clip_seconds=1.0)
    b = data.load_soundmix("train", num_clips=20, seed=3, clip_seconds=1.0)
    c = data.load_soundmix("train", num_clips=20, seed=4, clip_seconds=1.0)
    assert np.array_equal(a.audio, b.audio) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.audio, c.audio)
    assert a.audio.shape == (20, 16000) and a.audio.dtype == np.float32
    assert a.targets.shape == (20, len(a.classes)) and a.targets.dtype == np.float32
    assert set(np.unique(a.targets)) <= {0.0, 1.0}
    assert (a.targets.sum(1) >= 1).all() and (a.targets.sum(1) <= 4).all()
    assert np.abs(a.audio).max() <= 1.0 and len(a.classes) >= 20 and a.sample_rate == 16000
    rows = (data.ensure_dataset("soundmix-mini") / "events.csv").read_text().splitlines()[1:]
    split_of = {}
    for row in rows:
        _, split, source = row.split(",")[:3]
        split_of.setdefault(source, set()).add(split)
    assert all(len(s) == 1 for s in split_of.values())


@needs_debian
def test_examples_and_render_notes():
    for name in data.EXAMPLE_NAMES:
        x = data.load_example(name, sample_rate=8000, seconds=0.5)
        assert x.dtype == np.float32 and x.ndim == 1 and len(x) <= 4000 and np.abs(x).max() <= 1.0
    notes = data.render_notes([60, 67], note_seconds=0.25)
    assert notes.shape == (8000,) and notes.dtype == np.float32 and np.abs(notes).max() > 0.01
    assert np.array_equal(notes, data.render_notes([60, 67], note_seconds=0.25))


@pytest.mark.skipif(not (importlib.util.find_spec("tinysoundfont") and synth.timgm_path()
                         and importlib.util.find_spec("music21")),
                    reason="PyPI fallback needs: pip install music21 pretty_midi && "
                           "pip install --no-deps tinysoundfont")
def test_pypi_fallback(monkeypatch, capsys):
    monkeypatch.setenv(synth.FORCE_FALLBACK_ENV, "1")
    monkeypatch.setattr("audioformers.data.builders.common._fallback_announced", False)
    assert synth.backend() == "tinysoundfont"
    clips = data.load_clips("instruments-mini", "test")
    assert len(clips) and clips.audio.shape[1] == 16000
    music = data.load_wave_mini("music", "train")
    assert music and all(x.dtype == np.float32 for x in music)
    with pytest.raises(FileNotFoundError, match="asterisk-core-sounds-en-wav"):
        data.load_wave_mini("speech", "train")
    assert data.load_example("piano").ndim == 1
    with pytest.raises(FileNotFoundError, match="minetest-data"):
        data.load_example("door")
    with pytest.raises(FileNotFoundError, match="hydrogen-drumkits"):
        data.ensure_dataset("drums-mini")
    err = capsys.readouterr().err
    assert err.count("PyPI-only") == 1


def test_public_dataset_is_never_fetched_implicitly(monkeypatch, tmp_path):
    from audioformers.data import downloads

    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    name = next(iter(downloads.REGISTRY))
    with pytest.raises(FileNotFoundError, match="download_datasets.py --dataset"):
        data.ensure_dataset(name)
    with pytest.raises(ValueError, match=name):  # the error for an unknown name lists public ones too
        data.ensure_dataset("no-such-set")


def test_a_change_to_the_builders_code_rebuilds(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    before = data.build_hash("wave-mini")
    monkeypatch.setattr(registry, "builder_code_digest", lambda: "a-different-renderer")
    assert data.build_hash("wave-mini") != before


# --- sources: only what their own package installs -----------------------------------------------

HAS_DPKG = shutil.which("dpkg") is not None


@pytest.mark.skipif(not HAS_DPKG, reason="needs dpkg (Debian / Ubuntu)")
@pytest.mark.parametrize("source", sources.SOURCES, ids=lambda s: s.package)
def test_each_source_reads_only_files_its_package_installs(source):
    """``dpkg -S`` matches paths as written: a file reached through a link that another package (or
    update-alternatives) made, like /usr/share/asterisk/sounds/en, is owned by none."""
    if not source.available():
        pytest.skip(f"{source.package} is not installed")
    files = source.files()
    assert files, f"{source.root} holds no files of {source.package}"
    owners = sources.dpkg_owners(files)
    stray = [f for f, who in owners.items() if source.package not in who]
    assert not stray, f"{len(stray)} files under {source.root} are not {source.package}'s: {stray[:3]}"


def test_a_source_through_another_packages_link_is_refused(tmp_path, monkeypatch):
    """The bug of issue 11: asterisk speech read through the alternatives link made by another
    package. Here a link in a temporary folder stands in for it."""
    real = sources.ASTERISK_SPEECH
    if not (HAS_DPKG and real.available()):
        pytest.skip("needs dpkg and asterisk-core-sounds-en-wav")
    (tmp_path / "en").symlink_to(real.root)
    linked = sources.DebianSource(real.package, tmp_path / "en", real.licence, real.attribution)
    monkeypatch.setattr(sources, "ASTERISK_SPEECH", linked)
    monkeypatch.setattr(sources, "SOURCES", tuple(linked if s is real else s for s in sources.SOURCES))
    problems = builders.verify_inputs()
    assert any("not installed by the Debian package 'asterisk-core-sounds-en-wav'" in p for p in problems)


def _fake_source(folder: Path, package: str, files: dict[str, float]) -> sources.DebianSource:
    """A DebianSource in ``folder`` holding 0.2-s tones named after ``files`` (name -> frequency)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, freq in files.items():
        t = np.arange(1600) / 8000
        sf.write(folder / name, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 8000)
    return sources.DebianSource(package, folder, "test", "test")


def test_empty_or_partial_source_is_an_error_naming_the_package(tmp_path, monkeypatch):
    empty = sources.DebianSource("hydrogen-drumkits", tmp_path / "kits", "x", "y")
    empty.root.mkdir()
    monkeypatch.setattr(sources, "HYDROGEN", empty)
    with pytest.raises(sources.SourceError, match="'hydrogen-drumkits' is installed but .*holds no"):
        data.ensure_dataset("drums-mini")
    assert not (data.data_dir() / "drums-mini").exists()
    music = _fake_source(tmp_path / "moh", "asterisk-moh-opsound-wav", {"a.wav": 440.0})
    listed = (str(music.root / "a.wav"), str(music.root / "gone.wav"))  # dpkg lists a deleted file
    monkeypatch.setattr(sources, "_dpkg_list", lambda package: listed)
    with pytest.raises(sources.SourceError, match=r"'asterisk-moh-opsound-wav' is partial: 1 of its 2 "
                                                  r"files are missing \(first: .*gone\.wav\).*--reinstall"):
        music.check("wave-mini")


def test_wave_mini_with_debian_music_needs_the_speech_package(tmp_path, monkeypatch):
    """Issue 11: wave-mini was built with 0 speech files and no word when speech was not found."""
    music = _fake_source(tmp_path / "moh", "asterisk-moh-opsound-wav",
                         {"reno_project-system.wav": 440.0, "other.wav": 330.0})
    monkeypatch.setattr(sources, "ASTERISK_MUSIC", music)
    monkeypatch.setattr(sources, "ASTERISK_SPEECH", sources.DebianSource(
        "asterisk-core-sounds-en-wav", tmp_path / "no-such-folder", "x", "y"))
    with pytest.raises(sources.SourceError, match="wave-mini speech needs the Debian package "
                                                  "'asterisk-core-sounds-en-wav'"):
        data.ensure_dataset("wave-mini")
    assert not (data.data_dir() / "wave-mini").exists()
    # with a speech folder holding a single file, one split would be empty: still refused
    monkeypatch.setattr(sources, "ASTERISK_SPEECH", _fake_source(
        tmp_path / "speech", "asterisk-core-sounds-en-wav", {"one.wav": 200.0}))
    with pytest.raises(sources.SourceError, match="no speech (train|test) files.*asterisk-core-sounds-en-wav"):
        data.ensure_dataset("wave-mini")
    monkeypatch.setattr(sources, "ASTERISK_SPEECH", _fake_source(
        tmp_path / "speech5", "asterisk-core-sounds-en-wav", {f"{i}.wav": 200.0 + i for i in range(5)}))
    counts = data.metadata("wave-mini")["split_counts"]
    assert counts == {"music_train": 1, "music_test": 1, "speech_train": 4, "speech_test": 1}


@needs_debian
def test_soundmix_class_without_enough_events_names_its_package(monkeypatch):
    monkeypatch.setitem(registry._CONFIG_OVERRIDES, "soundmix-mini",
                        {**SMALL["soundmix-mini"], "min_events": {"train": 1, "test": 50}})
    with pytest.raises(sources.SourceError, match=r"class 'alert' has \d test events \(needs 50\).*"
                                                  "sound-theme-freedesktop"):
        data.ensure_dataset("soundmix-mini")


@needs_debian
def test_installed_sources_hold_what_the_builders_need():
    assert builders.verify_inputs() == []


def test_build_hash_covers_the_names_and_sizes_of_the_files_read(tmp_path, monkeypatch):
    source = _fake_source(tmp_path / "kits", "hydrogen-drumkits", {"a.wav": 440.0, "b.wav": 550.0})
    entry = dataclasses.replace(data.REGISTRY["drums-mini"], sources=(source,))
    monkeypatch.setitem(data.REGISTRY, "drums-mini", entry)
    hashes = [data.build_hash("drums-mini")]
    sf.write(source.root / "c.wav", np.zeros(100, np.float32), 8000)  # a package update adds a file
    hashes.append(data.build_hash("drums-mini"))
    sf.write(source.root / "c.wav", np.zeros(200, np.float32), 8000)  # ... changes one
    hashes.append(data.build_hash("drums-mini"))
    (source.root / "c.wav").rename(source.root / "d.wav")  # ... renames one
    hashes.append(data.build_hash("drums-mini"))
    assert len(set(hashes)) == 4
    assert hashes[-1] == data.build_hash("drums-mini")  # and is stable otherwise


# --- two processes at once, and what killed ones leave behind ----------------------------------

def _slow_builder(folder: Path, config: dict) -> dict:
    with open(config["log"], "a") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(1.0)
    (folder / "payload.txt").write_text("built\n")
    return {"split_counts": {}}


@pytest.fixture()
def slow_dataset(monkeypatch, tmp_path):
    entry = data.DatasetEntry("slow-mini", "offline", "test", _slow_builder, {"log": str(tmp_path / "log")})
    monkeypatch.setitem(data.REGISTRY, "slow-mini", entry)
    return tmp_path / "log"


def _ensure_in_child(queue) -> None:
    queue.put(str(data.ensure_dataset("slow-mini")))


def test_two_processes_wanting_one_dataset_both_get_it_built_once(slow_dataset):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_ensure_in_child, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [c.exitcode for c in children] == [0, 0]
    folders = {queue.get(timeout=5) for _ in children}
    assert folders == {str(data.data_dir() / "slow-mini")}
    assert len(slow_dataset.read_text().split()) == 1  # the second waited and used the first's build
    assert (data.data_dir() / "slow-mini" / "payload.txt").read_text() == "built\n"
    assert not list(data.data_dir().glob(".slow-mini.partial-*"))


def test_partial_folders_of_dead_processes_are_removed(slow_dataset):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = data.partial_folder(data.data_dir(), "slow-mini", dead.pid)
    alive = data.partial_folder(data.data_dir(), "slow-mini", os.getppid())  # pytest's parent: running
    for folder in (stale, alive):
        folder.mkdir()
        (folder / "half.npy").write_bytes(b"half")
    data.ensure_dataset("slow-mini")
    assert not stale.exists() and alive.exists()
    assert data.remove_stale_partials(data.data_dir(), "slow-mini") == []


# --- bad arguments of the loaders -------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: data.load_example("piano", sample_rate=-8000), "sample_rate must be a positive whole number"),
    (lambda: data.load_example("piano", sample_rate=8000.5), "sample_rate must be a positive whole number"),
    (lambda: data.load_example("piano", seconds=float("nan")), "seconds must be a finite number > 0"),
    (lambda: data.render_notes([60], sample_rate=8000.5), "sample_rate must be a positive whole number"),
    (lambda: data.render_notes([60.5]), "pitches must be a whole number"),
    (lambda: data.render_notes([]), "pitches must be a non-empty list"),
    (lambda: data.render_notes([60], program=128), r"program must be in 0..127"),
    (lambda: data.render_notes([60], note_seconds=0), "note_seconds must be a finite number > 0"),
    (lambda: data.load_soundmix("train", num_clips=2.5), "num_clips must be a whole number"),
    (lambda: data.load_soundmix("train", num_clips=-1), "num_clips must be >= 0"),
    (lambda: data.load_soundmix("train", clip_seconds=float("inf")), "clip_seconds must be a finite"),
    (lambda: data.load_soundmix("train", seed="0"), "seed must be a whole number"),
])
def test_bad_loader_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
    assert not any(p.is_dir() and not p.name.startswith(".") for p in data.data_dir().iterdir())


def _build_script():
    return load_data_script("build_datasets")


def test_verify_sources_exits_non_zero_naming_the_package(tmp_path, monkeypatch, capsys):
    empty = sources.DebianSource("lincity-ng-data", tmp_path / "sounds", "x", "y")
    empty.root.mkdir()
    monkeypatch.setattr(sources, "SOURCES", (empty,))
    assert _build_script().main(["--verify-sources"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'lincity-ng-data' is installed but" in err and "--reinstall" in err


def test_build_script_reports_a_missing_package_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sources, "HYDROGEN", sources.DebianSource("hydrogen-drumkits", tmp_path / "none", "x", "y"))
    assert _build_script().main(["drums-mini"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: drums-mini: ") and "apt-get install hydrogen-drumkits" in err


@needs_debian
@pytest.mark.skipif(not HAS_DPKG, reason="needs dpkg")
def test_install_script_verifies_installed_packages():
    """With every package installed the script installs nothing; it checks them and says so."""
    script = Path(__file__).resolve().parents[2] / "data_scripts" / "install_debian_packages.sh"
    listed = script.read_text().split("PACKAGES=(", 1)[1].split(")", 1)[0].split()
    state = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}\n", *listed], capture_output=True, text=True)
    if state.stdout.split() != ["installed"] * len(listed):
        pytest.skip("not every package of the script is installed (the script would install them)")
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr
    assert "Debian sources hold what the builders need" in result.stdout


def test_every_package_a_dataset_reads_is_installed_for_the_chapters_that_use_it():
    """The Colab set-up cells install booktools.DATASET_DEBIAN_PACKAGES[d] for dataset d; a package
    a builder reads but the cell leaves out would stop that build."""
    from audioformers import booktools

    for name, entry in data.REGISTRY.items():
        read = {s.package for s in entry.sources}
        assert read <= set(booktools.DATASET_DEBIAN_PACKAGES[name]), name


def _fake_bin(folder: Path, missing_file_of: str = "") -> Path:
    """Stand-ins for id, apt-get, dpkg-query and dpkg that log their calls: no package is installed
    until ``apt-get install`` ran; ``dpkg --verify`` then reports a missing file of ``missing_file_of``."""
    folder.mkdir()
    log, state = folder / "calls.log", folder / "installed"
    scripts = {
        "id": 'echo 0',
        "apt-get": f'echo "apt-get $*" >> {log}; [ "$1" = install ] && touch {state}; exit 0',
        "dpkg-query": f'for p in "${{@:3}}"; do [ -e {state} ] && printf installed || printf not-installed; done',
        "dpkg": (f'[ "$1" = --verify ] && [ "$2" = "{missing_file_of}" ] && '
                 'echo "missing     /usr/share/asterisk/moh/gone.wav"; exit 0'),
    }
    for name, body in scripts.items():
        (folder / name).write_text(f"#!/bin/bash\n{body}\n")
        (folder / name).chmod(0o755)
    return log


@pytest.mark.parametrize("broken", ["", "asterisk-moh-opsound-wav"])
def test_install_script_on_a_bare_machine_updates_installs_and_verifies(tmp_path, broken):
    script = Path(__file__).resolve().parents[2] / "data_scripts" / "install_debian_packages.sh"
    listed = script.read_text().split("PACKAGES=(", 1)[1].split(")", 1)[0].split()
    log = _fake_bin(tmp_path / "bin", broken)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "PYTHON": "/bin/false"}
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60)
    calls = log.read_text().splitlines()
    assert calls == ["apt-get update", "apt-get install -y --no-install-recommends " + " ".join(listed)]
    if broken:
        assert result.returncode == 1
        assert f"the Debian package '{broken}' is partial: 1 of its files are missing" in result.stderr
        assert f"apt-get install --reinstall {broken}" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert f"All {len(listed)} Debian data packages are installed and complete" in result.stdout


def test_piano_mini_is_rendered_piano_at_16khz_split_by_piece():
    meta = json.loads((data.ensure_dataset("piano-mini") / "metadata.json").read_text())
    assert meta["sample_rate"] == 16000 and meta["config"]["program"] == 0
    assert meta["split_counts"] == {"piano_test": 8, "piano_train": 24}
    rows = builders.read_csv(data.ensure_dataset("piano-mini") / "files.csv")
    test = {r["file"] for r in rows if r["split"] == "test"}
    assert test and not test & {r["file"] for r in rows if r["split"] == "train"}  # no piece in both splits
    waves = data.load_wave_mini("piano-mini", "test")
    assert len(waves) == 8 and all(len(w) == 16000 for w in waves)  # one second each, at 16 kHz
    assert all(0.5 < np.abs(w).max() <= 1.0 for w in waves)  # peak-normalised, not silent
    from audioformers.ch3 import experiment as nextsample

    tokens = nextsample.load_tokens("piano-mini", "train")
    assert len(tokens) == 24 and nextsample.DOMAIN_SAMPLE_RATES["piano-mini"] == 16000


def test_piano_mini_with_too_few_pieces_names_the_problem_and_leaves_nothing(monkeypatch, small_data):
    monkeypatch.setitem(registry._CONFIG_OVERRIDES, "piano-mini", {"pieces": 12, "seconds_per_piece": 1.0})
    with pytest.raises(sources.SourceError, match=r"piano-mini would be incomplete: 3 test pieces \(need 8\)"):
        data.ensure_dataset("piano-mini")
    assert not (small_data / "piano-mini").exists()


# --- the build record: a damaged file is named and rebuilt, never read as data (issue 28) -------

def _clip_builder(folder: Path, config: dict) -> dict:
    """A small clip dataset in the layout of drums-mini: ``test_audio.npy`` and one CSV row per clip."""
    with open(config["log"], "a") as log:
        log.write("built\n")
    audio = (np.arange(40 * 160, dtype=np.int16) % 97).reshape(40, 160)
    np.save(folder / "test_audio.npy", audio)
    builders.write_csv(folder / "test_meta.csv", [{"label": i % 3, "source": f"kit{i // 10}"} for i in range(40)],
                       ["label", "source"])
    return {"split_counts": {"test": 40}, "classes": ["a", "b", "c"], "sample_rate": 16000}


@pytest.fixture()
def clip_dataset(monkeypatch, tmp_path):
    entry = data.DatasetEntry("clip-mini", "offline", "test", _clip_builder, {"log": str(tmp_path / "log")})
    monkeypatch.setitem(data.REGISTRY, "clip-mini", entry)
    monkeypatch.setattr(cache, "_VERIFIED", {})
    return tmp_path / "log"


def _builds(log: Path) -> int:
    return len(log.read_text().split()) if log.exists() else 0


def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_the_build_records_every_file_it_wrote(clip_dataset):
    folder = data.ensure_dataset("clip-mini")
    marker = json.loads((folder / data.MARKER).read_text())
    assert sorted(marker["files"]) == ["metadata.json", "test_audio.npy", "test_meta.csv"]
    for name, record in marker["files"].items():
        assert record == {"size": (folder / name).stat().st_size,
                          "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}
    assert marker["build_hash"] == data.build_hash("clip-mini")  # the record is not part of the cache key
    assert data.check_dataset("clip-mini") == data.DatasetCheck("clip-mini", "ok")


@pytest.mark.parametrize("damage, message", [
    (lambda f: _truncate(f / "test_meta.csv", 100), r"test_meta.csv has 100 bytes, the build wrote \d+"),
    (lambda f: (f / "test_meta.csv").write_text((f / "test_meta.csv").read_text().replace("kit1", "kit9")),
     "test_meta.csv differs from what the build wrote"),
    (lambda f: (f / "metadata.json").write_text("{}" + " " * ((f / "metadata.json").stat().st_size - 2)),
     "metadata.json differs from what the build wrote"),
    (lambda f: (f / "test_audio.npy").unlink(), "test_audio.npy is missing"),
    (lambda f: _truncate(f / "test_audio.npy", 2000), "test_audio.npy has 2000 bytes"),
], ids=["truncated-csv", "same-size-csv", "same-size-json", "deleted-npy", "truncated-npy"])
def test_a_damaged_file_is_named_and_rebuilt_on_load(clip_dataset, capsys, damage, message):
    folder = data.ensure_dataset("clip-mini")
    reference = _files(folder)
    damage(folder)
    found = data.check_dataset("clip-mini")
    assert found.state == "damaged" and len(found.problems) == 1 and re.search(message, found.problems[0])
    assert str(folder) in found.problems[0] and not data.is_complete("clip-mini")
    data.ensure_dataset("clip-mini")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dataset 'clip-mini' is damaged" in err and re.search(message, err)
    assert "rebuilding it" in err
    assert _builds(clip_dataset) == 2 and _files(folder) == reference


def test_large_arrays_are_checked_by_size_small_ones_and_tables_by_hash(clip_dataset, monkeypatch):
    folder = data.ensure_dataset("clip-mini")
    monkeypatch.setattr(cache, "HASH_ON_LOAD_BYTES", 1000)  # test_audio.npy (12,928 bytes) is now "large"
    monkeypatch.setattr(cache, "_VERIFIED", {})
    audio = bytearray((folder / "test_audio.npy").read_bytes())
    audio[-1] ^= 0xFF  # same size, other bytes: not hashed on load
    (folder / "test_audio.npy").write_bytes(bytes(audio))
    assert data.check_dataset("clip-mini").state == "ok"
    monkeypatch.setattr(cache, "HASH_ON_LOAD_BYTES", 1 << 20)
    monkeypatch.setattr(cache, "_VERIFIED", {})
    assert "test_audio.npy differs" in data.check_dataset("clip-mini").problems[0]


def test_a_verified_folder_is_not_hashed_again_until_a_file_changes(clip_dataset, monkeypatch):
    folder = data.ensure_dataset("clip-mini")
    assert data.is_complete("clip-mini")
    hashed = []
    monkeypatch.setattr(cache, "_sha256", lambda path: hashed.append(path.name) or "x")
    assert data.is_complete("clip-mini") and hashed == []  # same sizes and times: no hashing
    _truncate(folder / "test_meta.csv", 100)
    assert not data.is_complete("clip-mini")


def test_a_dataset_built_without_a_file_record_is_checked_and_recorded_not_rebuilt(clip_dataset, capsys):
    folder = data.ensure_dataset("clip-mini")
    recorded = (folder / data.MARKER).read_text()
    marker = json.loads(recorded)
    del marker["files"]
    builders.write_json(folder / data.MARKER, marker)  # as an older version wrote it
    assert data.check_dataset("clip-mini").state == "unrecorded" and not data.is_complete("clip-mini")
    assert data.ensure_dataset("clip-mini") == folder
    assert _builds(clip_dataset) == 1 and capsys.readouterr().err == ""  # no rebuild, no notice
    assert (folder / data.MARKER).read_text() == recorded  # the record a build would have written
    assert data.is_complete("clip-mini") and not list(folder.glob(".*.tmp"))


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "test_meta.csv").write_text("\n".join((f / "test_meta.csv").read_text().split("\n")[:30]) + "\n"),
     "test_meta.csv has 29 rows for 40 clips"),
    (lambda f: _truncate(f / "test_meta.csv", (f / "test_meta.csv").read_text().index("\n", 50) + 2),
     "does not have the header's columns"),
    (lambda f: _truncate(f / "test_audio.npy", 3000), "test_audio.npy has 3000 bytes, its header says 12928"),
    (lambda f: (f / "metadata.json").write_text('{"classes": ['), "metadata.json is not readable"),
], ids=["csv-cut-at-a-row", "csv-cut-mid-row", "npy", "json"])
def test_a_damaged_dataset_without_a_file_record_is_rebuilt(clip_dataset, capsys, damage, message):
    folder = data.ensure_dataset("clip-mini")
    reference = _files(folder)
    marker = json.loads((folder / data.MARKER).read_text())
    del marker["files"]
    builders.write_json(folder / data.MARKER, marker)
    damage(folder)
    found = data.check_dataset("clip-mini")
    assert found.state == "damaged" and any(message in p for p in found.problems), found
    data.ensure_dataset("clip-mini")
    assert message in capsys.readouterr().err
    assert _builds(clip_dataset) == 2 and _files(folder) == reference


def test_consistency_checks_cover_every_layout_of_the_builders(tmp_path):
    """files.csv / events.csv against their array, examples against metadata.json."""
    folder = tmp_path / "w"
    folder.mkdir()
    np.save(folder / "audio.npy", np.zeros(100, np.int16))
    builders.write_csv(folder / "files.csv", [{"offset": 0, "length": 60}, {"offset": 60, "length": 40}],
                       ["offset", "length"])
    np.save(folder / "piano.npy", np.zeros(30, np.int16))
    builders.write_json(folder / "metadata.json", {"examples": {"piano": {"samples": 30}}})
    assert data.consistency_problems(folder) == []
    builders.write_csv(folder / "files.csv", [{"offset": 0, "length": 60}], ["offset", "length"])
    builders.write_json(folder / "metadata.json", {"examples": {"piano": {"samples": 31}}})
    problems = data.consistency_problems(folder)
    assert len(problems) == 2 and "files.csv ends at sample 60, audio.npy at 100" in problems[0]
    assert "piano.npy does not hold the 31 samples" in problems[1]


def test_the_build_script_says_what_it_did_and_rebuilds_a_damaged_file(clip_dataset, capsys):
    script = _build_script()
    assert script.main(["clip-mini"]) == 0
    assert "clip-mini" in (out := capsys.readouterr().out) and " built " in out
    assert script.main(["clip-mini"]) == 0
    assert " up to date " in capsys.readouterr().out and _builds(clip_dataset) == 1
    _truncate(data.data_dir() / "clip-mini" / "test_meta.csv", 200)
    assert script.main(["clip-mini"]) == 0
    captured = capsys.readouterr()
    assert " rebuilt (damaged file) " in captured.out and "test_meta.csv has 200 bytes" in captured.err
    assert _builds(clip_dataset) == 2 and data.is_complete("clip-mini")


@needs_debian
def test_a_truncated_drums_mini_table_is_never_read_as_data(capsys):
    """Issue 28: a truncated test_meta.csv loaded as 137 clips with 69 labels, and the build script said success."""
    reference = data.load_clips("drums-mini", "test")
    folder = data.data_dir() / "drums-mini"
    table = folder / "test_meta.csv"
    _truncate(table, table.stat().st_size // 2)
    clips = data.load_clips("drums-mini", "test")
    assert "test_meta.csv has" in capsys.readouterr().err
    assert len(clips) == len(reference) == len(clips.audio) and np.array_equal(clips.labels, reference.labels)
    _truncate(table, table.stat().st_size // 3)
    assert _build_script().main(["drums-mini"]) == 0
    captured = capsys.readouterr()
    assert "rebuilt (damaged file)" in captured.out and str(table) in captured.err
    assert data.is_complete("drums-mini")


def test_builder_fingerprint_follows_the_code_not_the_file():
    """The offline datasets' cache key hashes what the builders do: moving a module (its imports rewritten) or
    editing a docstring keeps it; changing a statement or a constant changes it."""
    source = '''"""Doc."""
from .synth import render
import numpy as np


def make(x):
    """Make it."""
    return np.clip(render(x), -1, 1) * 0.5
'''
    moved = source.replace("from .synth import render", "from audioformers.data.synth import render").replace("Make it.", "Make a clip.")
    assert data.code_fingerprint(moved) == data.code_fingerprint(source)
    assert data.code_fingerprint(source.replace("0.5", "0.25")) != data.code_fingerprint(source)
    assert data.code_fingerprint(source.replace("-1, 1", "-1, 0.9")) != data.code_fingerprint(source)
    assert len(data.builder_code_digest()) == 16


def test_builder_digest_does_not_see_which_module_holds_a_function():
    """Splitting a builder module, or moving a function or a constant between the builder modules, keeps the cache
    key; changing one statement changes it. Every module of the builders package is part of it."""
    one = '''"""All in one."""
import numpy as np
RATE = 16000


def make(x):
    return np.clip(x, -1, 1) * 0.5


def other(y):
    return y + RATE
'''
    first = '''"""Split: first part."""
import numpy as np


def make(x):
    return np.clip(x, -1, 1) * 0.5
'''
    second = '''"""Split: second part."""
from .first import make
__all__ = ["other"]
RATE = 16000


def other(y):
    return y + RATE
'''
    assert data.code_digest([one]) == data.code_digest([first, second]) == data.code_digest([second, first])
    assert data.code_digest([first, second.replace("16000", "8000")]) != data.code_digest([one])
    files = {p.name for p in data.builder_modules()}
    package = Path(builders.__file__).parent
    assert {p.name for p in package.glob("*.py")} | {"sources.py", "synth.py"} == files
    assert data.builder_code_digest() == data.code_digest(p.read_text() for p in data.builder_modules())


@pytest.mark.parametrize("call, name", [(lambda: builders.drum_notes(bars=2.5), "bars"),
                                        (lambda: builders.drum_notes(bars=0), "bars"),
                                        (lambda: builders.drum_notes(step=float("nan")), "step"),
                                        (lambda: builders.piano_notes(step=-0.1), "step"),
                                        (lambda: builders.piano_notes(step=float("inf")), "step")])
def test_example_note_lists_check_their_arguments(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()
    assert len(builders.drum_notes(bars=np.int64(1))) == 16 + 3 + 2 + 1
