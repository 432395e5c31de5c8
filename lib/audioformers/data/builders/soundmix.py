"""Builder of soundmix-mini (chapter 5): an event bank of everyday sounds from five Debian packages and of
rendered instrument phrases, in 21 classes, split by source file; the multi-label mixtures are drawn from it at
load time (:func:`audioformers.data.loaders.load_soundmix`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from audioformers.data import sources as src
from audioformers.data.builders.common import (CLIP_RATE, dataset_metadata, need, soundfont_source, stable_split,
                                               write_csv)
from audioformers.data.synth import Note, render_events, soundfont_info

# --- soundmix-mini ----------------------------------------------------------------------------

# class -> [(source, glob relative to its root)]
MT, LC, FD = src.MINETEST, src.LINCITY, src.FREEDESKTOP
SOUNDMIX_FILES: dict[str, list[tuple[src.DebianSource, str]]] = {
    "footsteps": [(MT, "default/sounds/*_footstep*.ogg")],
    "water": [(MT, "env_sounds/sounds/env_sounds_water*.ogg"), (LC, "Water*.wav")],
    "fire": [(MT, "fire/sounds/fire_fire*.ogg"), (MT, "fire/sounds/fire_large.ogg"),
             (MT, "fire/sounds/fire_small.ogg"), (LC, "Fire*.wav")],
    "lava": [(MT, "env_sounds/sounds/env_sounds_lava*.ogg"), (MT, "default/sounds/default_cool_lava*.ogg")],
    "door": [(MT, "doors/sounds/*.ogg"), (MT, "xpanes/sounds/*door*.ogg"),
             (MT, "default/sounds/default_chest_*.ogg"), (LC, "Window*.wav")],
    "explosion": [(MT, "tnt/sounds/tnt_explode.ogg"), (LC, "RocketExplosion*.wav"),
                  (LC, "Raze*.wav")],
    "glass": [(MT, "default/sounds/default_break_glass*.ogg")],
    "digging": [(MT, "default/sounds/default_dig_*.ogg"), (MT, "default/sounds/default_dug_*.ogg"),
                (MT, "default/sounds/default_gravel_d*.ogg"), (MT, "default/sounds/default_ice_d*.ogg")],
    "vehicle": [(LC, "Trafic*.wav"), (LC, "RailTrain*.wav"), (LC, "DirtTrack*.wav"),
                (MT, "carts/sounds/*.ogg")],
    "machinery": [(LC, "Industry*.wav"), (LC, "Mill*.wav"), (LC, "CoalMine*.wav"),
                  (LC, "OreMine*.wav"), (LC, "WindMill*.wav"), (LC, "Recycle*.wav")],
    "crowd": [(LC, "SportsCroud*.wav"), (LC, "Market*.wav"), (LC, "School*.wav"),
              (LC, "University*.wav")],
    "construction": [(LC, "Build*.wav"), (LC, "Blacksmith*.wav"), (LC, "MonumentConstruction*.wav")],
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
    "music": [(src.ASTERISK_MUSIC, "*.wav")],
}
SOUNDMIX_INSTRUMENTS = {"piano": (0, 1, 2, 4), "guitar": (24, 25, 26, 27), "strings": (40, 42, 48, 49),
                        "brass": (56, 57, 60, 61), "flute": (72, 73, 74, 75)}
SOUNDMIX_CLASSES = sorted([*SOUNDMIX_FILES, *SOUNDMIX_INSTRUMENTS])
SOUNDMIX_CONFIG = {"event_seconds": 3.0, "max_events_per_file": 3, "max_files_per_class": 40,
                   "test_fraction": 0.25, "phrases_per_program": 6, "min_rms": 1e-3,
                   "min_events": {"train": 2, "test": 1}}


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


SOUNDMIX_SOURCES = (MT, LC, FD, src.ASTERISK_SPEECH, src.ASTERISK_MUSIC)


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

    def add(cls: str, split: str, source: str, audio: np.ndarray) -> None:
        nonlocal offset
        for k in range(config["max_events_per_file"]):
            piece = audio[k * event_len:(k + 1) * event_len]
            if len(piece) < CLIP_RATE // 10 or src.rms(piece) < config["min_rms"]:
                continue
            pcm = src.to_int16(src.peak_normalise(piece, 0.9))
            rows.append({"class": cls, "split": split, "source": source, "offset": offset,
                         "length": len(pcm)})
            chunks.append(pcm)
            offset += len(pcm)

    for cls in SOUNDMIX_CLASSES:
        if cls in SOUNDMIX_INSTRUMENTS:
            programs = SOUNDMIX_INSTRUMENTS[cls]
            split_of = stable_split([str(p) for p in programs], f"soundmix {cls}", config["test_fraction"])
            for program in programs:
                for i in range(config["phrases_per_program"]):
                    audio = render_events(_phrase(program, i, cls), 3.0, CLIP_RATE)
                    add(cls, split_of[str(program)], f"gm-program-{program:03d}-phrase-{i}", audio)
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
        split_of = stable_split(names, f"soundmix {cls}", config["test_fraction"])
        for (source, path), name in zip(files, names):
            used_sources[source.package] = source.as_dict()
            add(cls, split_of[name], name, src.read_mono(path, CLIP_RATE))
    for cls in SOUNDMIX_CLASSES:
        for split, least in config["min_events"].items():
            count = sum(1 for r in rows if r["class"] == cls and r["split"] == split)
            packages = ([s for s, _ in SOUNDMIX_FILES[cls]] if cls in SOUNDMIX_FILES
                        else soundfont_source())
            need(count >= least, "soundmix-mini", f"class {cls!r} has {count} {split} events "
                 f"(needs {least})", list(dict.fromkeys(packages)))
    np.save(folder / "bank_audio.npy", np.concatenate(chunks))
    write_csv(folder / "events.csv", rows, ["class", "split", "source", "offset", "length"])
    counts = {s: sum(r["split"] == s for r in rows) for s in ("train", "test")}
    return dataset_metadata("soundmix-mini", "Event bank for multi-label mixtures (generated at load time "
                     "from a seed: 1-4 events per clip). Counts are events per split.", CLIP_RATE,
                     SOUNDMIX_CLASSES, counts, [used_sources[k] for k in sorted(used_sources)], config)
