"""Tests of audioformers.data: small builds in a temporary BOOK_DATA_DIR."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from audioformers import data
from audioformers.datasets import sources, synth

SMALL = {
    "wave-mini": {"max_seconds_per_file": 2.0, "max_speech_files": 12, "fallback_chorales": 5},
    "instruments-mini": {"pitch_offsets": [0, 12], "velocities": [100]},
    "drums-mini": {"kits": ["Audiophob", "ColomboAcousticDrumkit", "HardElectro1", "rumpf_kit_z01_h2"],
                   "max_layers": 1, "required_classes": {"train": ["kick", "snare"], "val": ["kick"],
                                                         "test": ["kick", "snare"]}},
    "soundmix-mini": {"max_files_per_class": 4, "max_events_per_file": 1, "phrases_per_program": 1},
    "examples": {"seconds": 2.0, "rate": 16000},
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
    monkeypatch.setattr(data, "_CONFIG_OVERRIDES", dict(SMALL))
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
    monkeypatch.setitem(data._CONFIG_OVERRIDES, "examples", {"seconds": 1.0, "rate": 16000})
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
    monkeypatch.setattr("audioformers.datasets.builders._fallback_announced", False)
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
    from audioformers import downloads

    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    name = next(iter(downloads.REGISTRY))
    with pytest.raises(FileNotFoundError, match="download_datasets.py --dataset"):
        data.ensure_dataset(name)
    with pytest.raises(ValueError, match=name):  # the error for an unknown name lists public ones too
        data.ensure_dataset("no-such-set")


def test_a_change_to_the_builders_code_rebuilds(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    before = data.build_hash("wave-mini")
    monkeypatch.setattr(data, "builder_code_digest", lambda: "a-different-renderer")
    assert data.build_hash("wave-mini") != before
