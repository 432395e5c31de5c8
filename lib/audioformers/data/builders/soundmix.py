"""Builder of soundmix-mini (chapter 5): an event bank of everyday sounds from six Debian packages and of
rendered instrument phrases, in 20 classes, split by *recording* into train, validation and test; the multi-label
mixtures are drawn from it at load time (:func:`audioformers.data.loaders.load_soundmix`).

A recording is one source file (a game's sound, a prompt, a piece of music) or, for the rendered instruments, one
GM program (its phrases share the program's samples, so they are one recording). No recording is in two splits;
every class has at least ``min_recordings[split]`` recordings in each split (4 in test: the test recordings are the
clusters of chapter 5's intervals). Version 2 (#32): three splits; glass, lava and explosion (3-5 files each, too
few for four test recordings) are left out; music gains the Wesnoth soundtrack; two LinCity ambiences are added
(power, residential); each instrument family has eight GM programs.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from audioformers.data import sources as src
from audioformers.data.builders.common import CLIP_RATE, dataset_metadata, need, soundfont_source, write_csv
from audioformers.data.synth import Note, render_events, soundfont_info

# --- soundmix-mini ----------------------------------------------------------------------------

# class -> [(source, glob relative to its root)]
MT, LC, FD = src.MINETEST, src.LINCITY, src.FREEDESKTOP
SOUNDMIX_FILES: dict[str, list[tuple[src.DebianSource, str]]] = {
    "footsteps": [(MT, "default/sounds/*_footstep*.ogg")],
    "water": [(MT, "env_sounds/sounds/env_sounds_water*.ogg"), (LC, "Water*.wav")],
    "fire": [(MT, "fire/sounds/fire_fire*.ogg"), (MT, "fire/sounds/fire_large.ogg"),
             (MT, "fire/sounds/fire_small.ogg"), (LC, "Fire*.wav")],
    "door": [(MT, "doors/sounds/*.ogg"), (MT, "xpanes/sounds/*door*.ogg"),
             (MT, "default/sounds/default_chest_*.ogg"), (LC, "Window*.wav")],
    "digging": [(MT, "default/sounds/default_dig_*.ogg"), (MT, "default/sounds/default_dug_*.ogg"),
                (MT, "default/sounds/default_gravel_d*.ogg"), (MT, "default/sounds/default_ice_d*.ogg")],
    "vehicle": [(LC, "Trafic*.wav"), (LC, "RailTrain*.wav"), (LC, "DirtTrack*.wav"),
                (MT, "carts/sounds/*.ogg")],
    "machinery": [(LC, "Industry*.wav"), (LC, "Mill*.wav"), (LC, "CoalMine*.wav"),
                  (LC, "OreMine*.wav"), (LC, "WindMill*.wav"), (LC, "Recycle*.wav")],
    "crowd": [(LC, "SportsCroud*.wav"), (LC, "Market*.wav"), (LC, "School*.wav"),
              (LC, "University*.wav")],
    "construction": [(LC, "Build*.wav"), (LC, "Blacksmith*.wav"), (LC, "MonumentConstruction*.wav")],
    "power": [(LC, "Substation*.wav"), (LC, "Power*.wav")],
    "residential": [(LC, "Residential*.wav"), (LC, "Shanty*.wav")],
    "alert": [(FD, n + ".oga") for n in ("alarm-clock-elapsed", "bell", "phone-incoming-call",
                                        "phone-outgoing-busy", "phone-outgoing-calling",
                                        "dialog-warning", "dialog-error", "suspend-error",
                                        "window-attention")],
    "notification": [(FD, n + ".oga") for n in ("message", "message-new-instant", "complete",
                                               "device-added", "device-removed", "service-login",
                                               "service-logout", "dialog-information",
                                               "power-plug", "power-unplug", "screen-capture",
                                               "camera-shutter", "trash-empty", "window-question")],
    "speech": [(src.ASTERISK_SPEECH, "*.wav")],
    "music": [(src.ASTERISK_MUSIC, "*.wav"), (src.WESNOTH_MUSIC, "*.ogg")],
}
SOUNDMIX_INSTRUMENTS = {"piano": tuple(range(0, 8)), "guitar": tuple(range(24, 32)),
                        "strings": (40, 41, 42, 43, 44, 45, 48, 49), "brass": tuple(range(56, 64)),
                        "flute": tuple(range(72, 80))}
SOUNDMIX_CLASSES = sorted([*SOUNDMIX_FILES, *SOUNDMIX_INSTRUMENTS])
SOUNDMIX_CONFIG = {"version": 2, "event_seconds": 3.0, "max_events_per_file": 3, "max_files_per_class": 40,
                   "test_fraction": 0.3, "validation_fraction": 0.15, "phrases_per_program": 6, "min_rms": 1e-3,
                   "music_skip_seconds": 20.0,
                   "min_events": {"train": 2, "validation": 1, "test": 4},
                   "min_recordings": {"train": 2, "validation": 1, "test": 4}}
SOUNDMIX_SPLITS = ("train", "validation", "test")


def split_recordings(keys: list[str], salt: str, config: dict) -> dict[str, str]:
    """Each recording (key) to "train", "validation" or "test" by a seeded shuffle: ``test_fraction`` of them in
    test and ``validation_fraction`` in validation (rounded), but at least ``min_recordings`` of each split where
    there are enough; the rest train. Fewer recordings than the minima ask for leave train short (the build's
    check then names the class and its package)."""
    keys = sorted(set(keys))
    rng = np.random.default_rng(zlib.crc32(salt.encode()))
    order = [keys[i] for i in rng.permutation(len(keys))]
    least = config["min_recordings"]
    n_test = min(len(order), max(least["test"], int(round(config["test_fraction"] * len(order)))))
    n_val = min(len(order) - n_test, max(least["validation"],
                                         int(round(config["validation_fraction"] * len(order)))))
    return {k: ("test" if i < n_test else "validation" if i < n_test + n_val else "train")
            for i, k in enumerate(order)}


def _phrase(program: int, index: int, family: str) -> list[Note]:
    """A short seeded random melody (2-3 s) for one GM program."""
    rng = np.random.default_rng([program, index])
    low = {"piano": 55, "guitar": 50, "strings": 55, "brass": 55, "flute": 67}[family]
    t, notes = 0.0, []
    while t < 2.0:
        dur = float(rng.choice([0.125, 0.25, 0.375, 0.5]))
        notes.append(Note(t, t + dur, int(low + rng.integers(0, 15)), int(rng.integers(60, 121)), program))
        t += dur
    return notes


SOUNDMIX_SOURCES = (MT, LC, FD, src.ASTERISK_SPEECH, src.ASTERISK_MUSIC, src.WESNOTH_MUSIC)


def build_soundmix(folder: Path, config: dict) -> dict:
    """The event bank for soundmix-mini: events (<= 3 s at 16 kHz) with their class and split.

    Needs: all five Debian sound packages, and every class with at least
    ``config["min_events"][split]`` events in each split. A file shipped under several names (the
    freedesktop theme links some sounds to others, even across our classes: window-question, a
    "notification", is dialog-warning, an "alert") is used once, under its real name, for the
    first class (in sorted order) that asks for it.
    """
    for needed in SOUNDMIX_SOURCES:
        needed.check("soundmix-mini")
    event_len = int(config["event_seconds"] * CLIP_RATE)
    rows, chunks, offset = [], [], 0
    used_sources: dict[str, dict] = {}
    used: set[Path] = set()  # files already in the bank (under any name, for any class)

    def add(cls: str, split: str, source: str, audio: np.ndarray, recording: str) -> None:
        nonlocal offset
        for k in range(config["max_events_per_file"]):
            piece = audio[k * event_len:(k + 1) * event_len]
            if len(piece) < CLIP_RATE // 10 or src.rms(piece) < config["min_rms"]:
                continue
            pcm = src.to_int16(src.peak_normalise(piece, 0.9))
            rows.append({"class": cls, "split": split, "source": source, "offset": offset,
                         "length": len(pcm), "recording": recording})
            chunks.append(pcm)
            offset += len(pcm)

    for cls in SOUNDMIX_CLASSES:
        if cls in SOUNDMIX_INSTRUMENTS:
            programs = SOUNDMIX_INSTRUMENTS[cls]
            split_of = split_recordings([str(p) for p in programs], f"soundmix {cls}", config)
            for program in programs:
                for i in range(config["phrases_per_program"]):
                    audio = render_events(_phrase(program, i, cls), 3.0, CLIP_RATE)
                    add(cls, split_of[str(program)], f"gm-program-{program:03d}-phrase-{i}", audio,
                        f"gm-program-{program:03d}")
            used_sources["soundfont"] = soundfont_info()
            continue
        files: list[tuple[src.DebianSource, Path]] = []
        for source, pattern in SOUNDMIX_FILES[cls]:
            for p in source.files(pattern):
                real = p.resolve()  # the theme links e.g. window-question.oga to dialog-warning.oga
                if real not in used:
                    used.add(real)
                    inside = source.root.resolve() in real.parents
                    files.append((source, source.root / real.relative_to(source.root.resolve()) if inside else p))
        files = files[: config["max_files_per_class"]] if cls != "speech" else files[::4][:config["max_files_per_class"]]
        names = [f"{s.package}:{p.relative_to(s.root)}" for s, p in files]
        split_of = split_recordings(names, f"soundmix {cls}", config)
        for (source, path), name in zip(files, names):
            used_sources[source.package] = source.as_dict()
            if source is src.WESNOTH_MUSIC:  # whole soundtracks: decode only an excerpt past the opening
                audio = src.read_excerpt(path, config["max_events_per_file"] * config["event_seconds"], CLIP_RATE,
                                         config["music_skip_seconds"])
            else:
                audio = src.read_mono(path, CLIP_RATE)
            add(cls, split_of[name], name, audio[: config["max_events_per_file"] * event_len], name)
    for cls in SOUNDMIX_CLASSES:
        packages = list(dict.fromkeys([s for s, _ in SOUNDMIX_FILES[cls]] if cls in SOUNDMIX_FILES
                                      else soundfont_source()))
        for split, least in config["min_events"].items():
            count = sum(1 for r in rows if r["class"] == cls and r["split"] == split)
            need(count >= least, "soundmix-mini", f"class {cls!r} has {count} {split} events "
                 f"(needs {least})", packages)
        for split, least in config["min_recordings"].items():
            count = len({r["recording"] for r in rows if r["class"] == cls and r["split"] == split})
            need(count >= least, "soundmix-mini", f"class {cls!r} has {count} {split} recordings "
                 f"(needs {least})", packages)
    np.save(folder / "bank_audio.npy", np.concatenate(chunks))
    write_csv(folder / "events.csv", rows, ["class", "split", "source", "offset", "length", "recording"])
    counts = {s: sum(r["split"] == s for r in rows) for s in SOUNDMIX_SPLITS}
    recordings = {s: len({r["recording"] for r in rows if r["split"] == s}) for s in SOUNDMIX_SPLITS}
    return dataset_metadata("soundmix-mini", "Event bank for multi-label mixtures (generated at load time "
                     "from a seed: 1-4 events per clip), split by recording. Counts are events per split.", CLIP_RATE,
                     SOUNDMIX_CLASSES, counts, [used_sources[k] for k in sorted(used_sources)], config,
                     recordings=recordings)
