"""Builders of the recordings datasets of chapter 3: wave-mini (music and speech at 8 kHz), orchestra-mini
(orchestral tracks at 8 kHz) and piano-mini (Bach chorales on a rendered grand piano at 16 kHz). Each writes one
``audio.npy`` of 16-bit PCM and a ``files.csv`` of (domain, split, file, offset, length), split by recording.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from audioformers.data import sources as src
from audioformers.data.builders.common import (announce_fallback, dataset_metadata, need, stable_split, write_csv,
                                               write_recordings)
from audioformers.data.synth import soundfont_info

# --- wave-mini --------------------------------------------------------------------------------

WAVE_RATE = 8000

WAVE_CONFIG = {"music_test_files": ["reno_project-system.wav"], "speech_test_fraction": 0.2,
               "max_seconds_per_file": None, "max_speech_files": None, "fallback_chorales": 20}


def build_wave_mini(folder: Path, config: dict) -> dict:
    """asterisk music + speech at 8 kHz, peak-normalised, int16, split by file.

    Needs: music and speech, each in both splits (the configured music test files among them).
    Without asterisk-moh-opsound-wav (or with the fallback forced) the music is rendered music21
    chorales and there is no speech (``load_wave_mini("speech")`` then names the package).
    """
    rows, chunks, offset = [], [], 0
    sources = []

    def add(domain: str, split: str, name: str, audio: np.ndarray) -> None:
        nonlocal offset
        if config["max_seconds_per_file"]:
            audio = audio[: int(config["max_seconds_per_file"] * WAVE_RATE)]
        pcm = src.to_int16(src.peak_normalise(audio))
        rows.append({"domain": domain, "split": split, "file": name, "offset": offset,
                     "length": len(pcm)})
        chunks.append(pcm)
        offset += len(pcm)

    debian = src.ASTERISK_MUSIC.available()
    if debian:
        music = src.ASTERISK_MUSIC.check("wave-mini music")
        speech = src.ASTERISK_SPEECH.check("wave-mini speech")  # required with the Debian music
        names = {p.name for p in music}
        need(set(config["music_test_files"]) <= names, "wave-mini",
             f"music test file(s) {sorted(set(config['music_test_files']) - names)} not found in "
             f"{src.ASTERISK_MUSIC.root}", [src.ASTERISK_MUSIC])
        for path in music:
            split = "test" if path.name in config["music_test_files"] else "train"
            add("music", split, path.name, src.read_mono(path, WAVE_RATE))
        sources.append(src.ASTERISK_MUSIC.as_dict())
    else:
        announce_fallback("wave-mini music")
        rendered = src.music21_chorales(config["fallback_chorales"], WAVE_RATE)
        for i, (name, audio) in enumerate(rendered):
            add("music", "test" if i % 5 == 4 else "train", name, audio)
        sources.append({"package": "music21 (PyPI)", "licence": "BSD-3 (corpus: public domain)",
                        "attribution": "Bach chorales from the music21 corpus"})
        sources.append(soundfont_info())
    if debian:
        files = [p for p in speech if p.suffix == ".wav"]
        if config["max_speech_files"]:
            files = files[: config["max_speech_files"]]
        names = [str(p.relative_to(src.ASTERISK_SPEECH.root)) for p in files]
        split_of = stable_split(names, "wave-mini speech", config["speech_test_fraction"])
        for path, name in zip(files, names):
            add("speech", split_of[name], name, src.read_mono(path, WAVE_RATE))
        sources.append(src.ASTERISK_SPEECH.as_dict())
    counts = {f"{d}_{s}": sum(1 for r in rows if (r["domain"], r["split"]) == (d, s))
              for d in ("music", "speech") for s in ("train", "test")}
    for key in ("music_train", "music_test") + (("speech_train", "speech_test") if debian else ()):
        need(counts[key] > 0, "wave-mini", f"no {key.replace('_', ' ')} files",
             [src.ASTERISK_SPEECH] if key.startswith("speech") else [src.ASTERISK_MUSIC] if debian
             else ["music21's Bach chorales (PyPI); fallback_chorales >= 5 gives both splits"])
    np.save(folder / "audio.npy", np.concatenate(chunks))
    write_csv(folder / "files.csv", rows, ["domain", "split", "file", "offset", "length"])
    return dataset_metadata("wave-mini", "Music and speech at 8 kHz, peak-normalised, 16-bit PCM, "
                     "split by source file (one array per file).", WAVE_RATE, [], counts, sources,
                     config, domains=sorted({r["domain"] for r in rows}),
                     missing={} if debian else {"speech": src.ASTERISK_SPEECH.package})


# --- orchestra-mini ---------------------------------------------------------------------------

ORCHESTRA_CONFIG = {"seconds_per_track": 60.0, "skip_seconds": 5.0, "test_fraction": 0.25, "min_rms": 1e-3,
                    "fallback_chorales": 40}


def build_orchestra(folder: Path, config: dict) -> dict:
    """wesnoth-1.16-music: an excerpt of every orchestral track at 8 kHz (the rate of wave-mini, so that
    chapter 3's tuned models apply unchanged), peak-normalised, int16, split by track.

    Needs: at least 8 test and 8 training tracks (a verdict over test recordings needs several); an
    excerpt quieter than ``min_rms`` (the package's ``silence.ogg``) is dropped and listed.
    """
    dropped = []
    if src.WESNOTH_MUSIC.available():
        files = src.WESNOTH_MUSIC.check("orchestra-mini")
        tracks = [(p.name, lambda p=p: src.read_excerpt(p, config["seconds_per_track"], WAVE_RATE,
                                                        config["skip_seconds"])) for p in files]
        sources = [src.WESNOTH_MUSIC.as_dict()]
    else:  # PyPI only: 40 Bach chorales rendered with the fallback soundfont, one per "track"
        announce_fallback("orchestra-mini")
        rendered = src.music21_chorales(config["fallback_chorales"], WAVE_RATE)
        tracks = [(name, lambda a=a: a[: int(config["seconds_per_track"] * WAVE_RATE)]) for name, a in rendered]
        sources = [{"package": "music21 (PyPI)", "licence": "BSD-3 (corpus: public domain)",
                    "attribution": "Bach chorales from the music21 corpus"}, soundfont_info()]
    split_of = stable_split([name for name, _ in tracks], "orchestra-mini", config["test_fraction"])
    kept = []
    for name, read in tracks:
        audio = read()
        if len(audio) < WAVE_RATE or src.rms(audio) < config["min_rms"]:
            dropped.append(name)
        else:
            kept.append((name, split_of[name], audio))
    counts = write_recordings(folder, "orchestra-mini", "orchestra", kept, "tracks", [src.WESNOTH_MUSIC])
    return dataset_metadata("orchestra-mini", "Orchestral game music at 8 kHz: one excerpt per track, peak-normalised, "
                     "16-bit PCM, split by track.", WAVE_RATE, [], counts, sources, config,
                     domains=["orchestra"], dropped=dropped)


# --- piano-mini -------------------------------------------------------------------------------

PIANO_RATE = 16000
PIANO_CONFIG = {"pieces": 48, "seconds_per_piece": 30.0, "test_fraction": 0.25, "seconds_per_quarter": 0.6,
                "program": 0}


def build_piano(folder: Path, config: dict) -> dict:
    """Bach chorales from music21's corpus rendered on a grand piano (General-MIDI program 0) at 16 kHz, the
    rate and instrument of the paper's piano data (MAESTRO), peak-normalised, int16, split by piece.

    Needs: at least 8 test and 8 training pieces. The soundfont is FluidR3 (fluid-soundfont-gm) through
    fluidsynth where installed, else TimGM6mb through tinysoundfont (lower quality, listed in the sources).
    Each piece is its own recording: the test pieces are never heard in training.
    """
    rendered = src.music21_chorales(config["pieces"], PIANO_RATE, config["seconds_per_quarter"],
                                    programs=(config["program"],), max_seconds=config["seconds_per_piece"])
    split_of = stable_split([name for name, _ in rendered], "piano-mini", config["test_fraction"])
    pieces = [(name, split_of[name], audio[: int(config["seconds_per_piece"] * PIANO_RATE)])
              for name, audio in rendered]
    counts = write_recordings(folder, "piano-mini", "piano", pieces, "pieces",
                              ["music21's Bach chorales (PyPI): raise pieces"])
    sources = [{"package": "music21 (PyPI)", "licence": "BSD-3 (corpus: public domain)",
                "attribution": "Bach chorales from the music21 corpus"}, soundfont_info()]
    return dataset_metadata("piano-mini", "Bach chorales rendered on a General-MIDI grand piano at 16 kHz: one excerpt "
                     "per piece, peak-normalised, 16-bit PCM, split by piece.", PIANO_RATE, [], counts, sources,
                     config, domains=["piano"])
