"""Builders of the offline datasets: each writes .npy / .csv / .json files into a folder.

Every builder is a pure function of its config (a dict) and the installed packages, so two builds
give byte-identical files: no timestamps, rows in a fixed order, JSON with sorted keys.
:func:`audioformers.data.ensure_dataset` calls them into a temporary folder and moves the result
into place once complete.

A dataset is built whole or not at all. Each builder states what it needs (its docstring says what;
:func:`need` checks it before anything is written): a source package that is missing, empty or
partial, or a split or class left empty, is an error naming the package, never a dataset with a
missing part. The PyPI-only fallback is used only where a dataset's main Debian package is absent
altogether (or the fallback is forced), and its metadata lists what it lacks.
"""
from __future__ import annotations

import csv
import json
import re
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from audioformers.data import sources as src
from audioformers.data.synth import Note, backend, render_events, soundfont_info

CLIP_RATE = 16000

_fallback_announced = False


def announce_fallback(what: str) -> None:
    """Print, once per process, that the PyPI-only sources are in use."""
    global _fallback_announced
    if not _fallback_announced:
        print(f"audioformers.data: Debian sound packages not found; building {what} from PyPI-only "
              "sources (music21 + TimGM6mb via tinysoundfont), lower quality.", file=sys.stderr)
        _fallback_announced = True


def need(ok: bool, dataset: str, what: str, sources: list) -> None:
    """Raise :class:`sources.SourceError` naming the packages in ``sources`` unless ``ok``.

    ``sources`` holds :class:`sources.DebianSource` objects and/or names of PyPI sources.
    """
    if ok:
        return
    debian = [s.package for s in sources if isinstance(s, src.DebianSource)]
    names = debian + [str(s) for s in sources if not isinstance(s, src.DebianSource)]
    hint = f"; (re)install with: {src.install_hint(debian, reinstall=True)}" if debian else ""
    raise src.SourceError(f"{dataset} would be incomplete: {what}. It is built from "
                          f"{', '.join(names)}{hint}")


def soundfont_source() -> list:
    """The soundfont package in use, for :func:`need`'s message."""
    return [src.FLUIDR3] if backend() == "fluidsynth" else ["pretty_midi's TimGM6mb soundfont (PyPI)"]


# --- writing ----------------------------------------------------------------------------------

def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(type(obj))


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row[c] for c in columns])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def stable_split(keys: list[str], salt: str, test_fraction: float) -> dict[str, str]:
    """Assign each key to "train" or "test" by a seeded shuffle (at least one of each if >= 2)."""
    keys = sorted(set(keys))
    rng = np.random.default_rng(zlib.crc32(salt.encode()))
    order = [keys[i] for i in rng.permutation(len(keys))]
    n_test = 0 if len(keys) < 2 else max(1, int(round(test_fraction * len(keys))))
    return {k: ("test" if i < n_test else "train") for i, k in enumerate(order)}


def _metadata(name: str, description: str, sample_rate: int, classes: list[str],
              split_counts: dict[str, int], sources: list[dict[str, str]], config: dict,
              **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "sample_rate": sample_rate,
            "classes": classes, "split_counts": split_counts, "sources": sources,
            "config": config, **extra}


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
    return _metadata("wave-mini", "Music and speech at 8 kHz, peak-normalised, 16-bit PCM, "
                     "split by source file (one array per file).", WAVE_RATE, [], counts, sources,
                     config, domains=sorted({r["domain"] for r in rows}),
                     missing={} if debian else {"speech": src.ASTERISK_SPEECH.package})


def write_recordings(folder: Path, dataset: str, domain: str, recordings: list[tuple[str, str, np.ndarray]],
                     unit: str, sources: list, least: int = 8) -> dict[str, int]:
    """Write ``(name, split, audio)`` recordings as one peak-normalised int16 ``audio.npy`` and ``files.csv``
    (rows named ``domain``), after checking that each split holds at least ``least`` of them (else an error
    naming ``dataset``, the ``unit`` counted and the ``sources``). Returns ``{"<domain>_<split>": count}``."""
    counts = {f"{domain}_{s}": sum(1 for _, split, _ in recordings if split == s) for s in ("train", "test")}
    for key in (f"{domain}_train", f"{domain}_test"):
        need(counts[key] >= least, dataset, f"{counts[key]} {key.rsplit('_', 1)[1]} {unit} (need {least})", sources)
    rows, chunks, offset = [], [], 0
    for name, split, audio in recordings:
        pcm = src.to_int16(src.peak_normalise(audio))
        rows.append({"domain": domain, "split": split, "file": name, "offset": offset, "length": len(pcm)})
        chunks.append(pcm)
        offset += len(pcm)
    np.save(folder / "audio.npy", np.concatenate(chunks))
    write_csv(folder / "files.csv", rows, ["domain", "split", "file", "offset", "length"])
    return counts


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
    return _metadata("orchestra-mini", "Orchestral game music at 8 kHz: one excerpt per track, peak-normalised, "
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
    return _metadata("piano-mini", "Bach chorales rendered on a General-MIDI grand piano at 16 kHz: one excerpt "
                     "per piece, peak-normalised, 16-bit PCM, split by piece.", PIANO_RATE, [], counts, sources,
                     config, domains=["piano"])


# --- instruments-mini -------------------------------------------------------------------------

# NSynth's 11 families plus synth_pad; 6 General-MIDI programs (0-based) each, and the lowest
# MIDI pitch of the family's 24-semitone range.
FAMILIES: dict[str, tuple[tuple[int, ...], int]] = {
    "bass": ((32, 33, 34, 35, 36, 38), 28),
    "brass": ((56, 57, 58, 59, 60, 61), 48),
    "flute": ((72, 73, 74, 75, 77, 78), 60),
    "guitar": ((24, 25, 26, 27, 28, 29), 40),
    "keyboard": ((0, 1, 2, 3, 4, 5), 48),
    "mallet": ((8, 9, 10, 11, 12, 13), 60),
    "organ": ((16, 17, 18, 19, 20, 21), 48),
    "reed": ((64, 65, 66, 67, 68, 71), 50),
    "string": ((40, 41, 42, 44, 45, 48), 48),
    "synth_lead": ((80, 81, 82, 83, 84, 87), 48),
    "synth_pad": ((88, 89, 90, 92, 93, 95), 48),
    "vocal": ((52, 53, 54, 85, 91, 94), 48),
}

INSTRUMENTS_CONFIG = {"pitch_offsets": list(range(0, 24, 3)), "velocities": [60, 90, 120],
                      "note_seconds": 0.75, "families": sorted(FAMILIES), "min_rms": 1e-3}
INSTRUMENTS_XL_CONFIG = {**INSTRUMENTS_CONFIG, "pitch_offsets": list(range(24)),
                         "velocities": [40, 60, 80, 100, 120]}


def program_split(family_index: int, program_index: int) -> str:
    """Per family: 4 programs train, 1 val, 1 test, rotating so that no position is always held out."""
    k = (program_index - family_index) % 6
    return "test" if k == 0 else "val" if k == 1 else "train"


def build_instruments(folder: Path, config: dict, name: str = "instruments-mini") -> dict:
    """Single notes of GM programs (1 s at 16 kHz), split by program so test programs are unseen.

    Needs: every family in every split.
    """
    if backend() != "fluidsynth":
        announce_fallback(name)
    families = list(config["families"])
    rows: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    clips: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    dropped = 0
    for f, family in enumerate(families):
        programs, low = FAMILIES[family]
        for p, program in enumerate(programs):
            split = program_split(f, p)
            for offset in config["pitch_offsets"]:
                for velocity in config["velocities"]:
                    note = Note(0.0, config["note_seconds"], low + offset, velocity, program)
                    audio = render_events([note], 1.0, CLIP_RATE)
                    if src.rms(audio) < config["min_rms"]:
                        dropped += 1
                        continue
                    clips[split].append(src.to_int16(audio))
                    rows[split].append({"label": f, "source": f"program-{program:03d}",
                                        "pitch": low + offset, "velocity": velocity,
                                        "program": program, "family": family})
    for split in rows:
        missing = sorted(set(families) - {r["family"] for r in rows[split]})
        need(not missing, name, f"no {split} notes of the famil{'ies' if len(missing) > 1 else 'y'} "
             f"{', '.join(missing)} (silent renders?)", soundfont_source())
    for split in rows:
        audio = np.stack(clips[split]) if clips[split] else np.zeros((0, CLIP_RATE), np.int16)
        np.save(folder / f"{split}_audio.npy", audio)
        write_csv(folder / f"{split}_meta.csv", rows[split],
                  ["label", "source", "pitch", "velocity", "program", "family"])
    return _metadata(name, "Single GM notes, 1 s at 16 kHz, NSynth-like families; split by program "
                     "(4 train, 1 val, 1 test per family).", CLIP_RATE, families,
                     {s: len(r) for s, r in rows.items()}, [soundfont_info()], config,
                     dropped_silent=dropped, renderer=backend())


# --- drums-mini -------------------------------------------------------------------------------

# (class, regular expression on the lower-cased instrument name), first match wins.
DRUM_RULES: list[tuple[str, str]] = [
    ("hihat_open", r"(open|op\b|semi|swish|free).*(hh|hat)|(hh|hat).*(open|\bop\b|semi|swish|free)"),
    ("hihat_closed", r"\bhh\b|hat|hi-hat|hihat"),
    ("ride", r"ride"),
    ("crash", r"crash|splash|china|cymbal"),
    ("kick", r"kick|bass ?drum|\bbd\b"),
    ("rim", r"stick|rim"),
    ("snare", r"snare"),
    ("tom", r"tom"),
    ("clap", r"clap|snap"),
    ("hand_drum", r"djembe|conga|bongo|cajon|sangban|dununba|kenkeni"),
    ("shaker", r"tambourine|maraca|shaker"),
    ("bell", r"cowbell|agogo|bell|clave|woodblock"),
]
DRUM_CLASSES = [name for name, _ in DRUM_RULES]
# What a whole build holds, per split: every class in train; hand drums and shakers occur only in
# training kits, and the single validation kit has no bell, clap or hand drum either.
DRUMS_REQUIRED = {"train": DRUM_CLASSES,
                  "val": ["crash", "hihat_closed", "hihat_open", "kick", "ride", "rim", "snare", "tom"],
                  "test": [c for c in DRUM_CLASSES if c not in ("hand_drum", "shaker")]}
DRUMS_CONFIG = {"test_kits": ["HardElectro1", "The Black Pearl 1.0", "rumpf_kit_z01_h2"],
                "val_kits": ["ColomboAcousticDrumkit"], "kits": None, "max_layers": None,
                "min_rms": 1e-3, "required_classes": DRUMS_REQUIRED}


def drum_class(instrument: str) -> str | None:
    """Map a drumkit.xml instrument name to a drum class, or None."""
    name = instrument.lower()
    for cls, pattern in DRUM_RULES:
        if re.search(pattern, name):
            return cls
    return None


def _kit_instruments(kit: Path) -> tuple[dict[str, str], list[tuple[str, str, list[str]]]]:
    """(kit info, [(instrument name, class, [sample file names])]) from a kit's drumkit.xml."""
    root = ET.parse(kit / "drumkit.xml").getroot()
    strip = lambda tag: tag.rsplit("}", 1)[-1]  # noqa: E731
    info = {strip(c.tag): (c.text or "").strip() for c in root if strip(c.tag) in
            ("name", "author", "license")}
    out = []
    for inst in root.iter():
        if strip(inst.tag) != "instrument":
            continue
        name = next(((c.text or "").strip() for c in inst if strip(c.tag) == "name"), "")
        files = [(e.text or "").strip() for e in inst.iter() if strip(e.tag) == "filename"]
        cls = drum_class(name)
        if cls and files:
            out.append((name, cls, files))
    return info, out


def build_drums(folder: Path, config: dict) -> dict:
    """Hydrogen kit one-shots mapped to drum classes, 1 s at 16 kHz, split by kit.

    Needs: every configured kit (the test and validation kits among them), and in each split the
    classes of ``config["required_classes"]``. (Sample files that a drumkit.xml names but the
    package does not ship are listed in the metadata as ``unshipped``; a partial install is caught
    by ``dpkg -L``.)
    """
    src.HYDROGEN.check("drums-mini")
    kits = sorted(p.parent for p in src.HYDROGEN.root.glob("*/drumkit.xml"))
    found = {k.name for k in kits}
    wanted = set(config["kits"] or found) | ({*config["test_kits"], *config["val_kits"]}
                                               if not config["kits"] else set())
    need(wanted <= found, "drums-mini", f"kit(s) {sorted(wanted - found)} not found in "
         f"{src.HYDROGEN.root}", [src.HYDROGEN])
    kits = [k for k in kits if k.name in wanted]
    rows: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    clips: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    seen: dict[bytes, str] = {}
    kit_info, dropped, unshipped = [], 0, []
    for kit in kits:
        split = ("test" if kit.name in config["test_kits"] else
                 "val" if kit.name in config["val_kits"] else "train")
        info, instruments = _kit_instruments(kit)
        kit_info.append({"kit": kit.name, "author": info.get("author", ""),
                         "licence": info.get("license", "") or "see package copyright (GPL-2+)",
                         "split": split})
        for name, cls, files in instruments:
            for file in sorted(set(files))[: config["max_layers"] or None]:
                path = kit / file
                if not path.is_file():  # the package itself lacks Millo_MultiLayered2/misc_Cowbell.flac
                    unshipped.append(f"{kit.name}/{file}")
                    continue
                audio = src.fit_length(src.read_mono(path, CLIP_RATE), CLIP_RATE)
                if src.rms(audio[: CLIP_RATE // 4]) < config["min_rms"]:
                    dropped += 1
                    continue
                pcm = src.to_int16(src.peak_normalise(audio))
                key = pcm.tobytes()
                if key in seen and seen[key] != split:  # same sample shipped by two kits
                    dropped += 1
                    continue
                seen.setdefault(key, split)
                clips[split].append(pcm)
                rows[split].append({"label": DRUM_CLASSES.index(cls), "source": kit.name,
                                    "instrument": name, "file": file})
    for split in rows:
        have = {DRUM_CLASSES[r["label"]] for r in rows[split]}
        missing = sorted(set(config["required_classes"][split]) - have)
        need(bool(rows[split]) and not missing, "drums-mini",
             f"the {split} split has no {', '.join(missing) or 'clips'}", [src.HYDROGEN])
    for split in rows:
        audio = np.stack(clips[split]) if clips[split] else np.zeros((0, CLIP_RATE), np.int16)
        np.save(folder / f"{split}_audio.npy", audio)
        write_csv(folder / f"{split}_meta.csv", rows[split], ["label", "source", "instrument", "file"])
    return _metadata("drums-mini", "Hydrogen drum-kit one-shots, 1 s at 16 kHz, peak-normalised, "
                     "classes from drumkit.xml instrument names; split by kit.", CLIP_RATE,
                     DRUM_CLASSES, {s: len(r) for s, r in rows.items()},
                     [src.HYDROGEN.as_dict()], config, kits=kit_info, dropped=dropped,
                     unshipped=unshipped)


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
    return _metadata("soundmix-mini", "Event bank for multi-label mixtures (generated at load time "
                     "from a seed: 1-4 events per clip). Counts are events per split.", CLIP_RATE,
                     SOUNDMIX_CLASSES, counts, [used_sources[k] for k in sorted(used_sources)], config)


# --- examples ---------------------------------------------------------------------------------

EXAMPLE_NAMES = ("speech", "music", "piano", "drums", "door", "water")
EXAMPLES_CONFIG = {"seconds": 8.0, "rate": 32000}

# the first bars of Bach's Prelude in C (BWV 846): each chord broken as 1-2-3-4-5-3-4-5, twice
_PRELUDE = [(60, 64, 67, 72, 76), (60, 62, 69, 74, 77), (59, 62, 67, 74, 77), (60, 64, 67, 72, 76),
            (60, 64, 69, 76, 81), (60, 62, 66, 69, 74), (59, 62, 67, 74, 79), (59, 60, 64, 67, 72)]


def piano_notes(step: float = 0.125) -> list[Note]:
    notes, t = [], 0.0
    for chord in _PRELUDE:
        for _ in range(2):
            for i in (0, 1, 2, 3, 4, 2, 3, 4):
                hold = 8 * step if i < 2 else step * 1.5
                notes.append(Note(t, t + hold, chord[i], 80, 0))
                t += step
    return notes


def drum_notes(bars: int = 4, step: float = 0.125) -> list[Note]:
    """A rock beat on the GM drum channel: kick 36, snare 38, closed hi-hat 42, crash 49."""
    notes = []
    for bar in range(bars):
        for s in range(16):
            t = (bar * 16 + s) * step
            notes.append(Note(t, t + step, 42, 70 if s % 2 else 95, 0, True))
            if s in (0, 7, 10):
                notes.append(Note(t, t + step, 36, 110, 0, True))
            if s in (4, 12):
                notes.append(Note(t, t + step, 38, 105, 0, True))
        if bar == 0:
            notes.append(Note(0.0, 0.5, 49, 100, 0, True))
    return notes


def build_examples(folder: Path, config: dict) -> dict:
    """A handful of named example sounds for the chapter 1 and 2 figures.

    Needs: all of ``EXAMPLE_NAMES``. Without asterisk-moh-opsound-wav (or with the fallback forced)
    the music is a music21 chorale and speech, door and water are listed as missing.
    """
    debian = src.ASTERISK_MUSIC.available()
    if debian:
        for needed in (src.ASTERISK_MUSIC, src.ASTERISK_SPEECH, src.MINETEST):
            needed.check("examples")
    seconds, rate = config["seconds"], config["rate"]
    items: dict[str, dict] = {}

    def save(name: str, audio: np.ndarray, sample_rate: int, source: dict) -> None:
        audio = src.peak_normalise(audio[: int(seconds * sample_rate)], 0.9)
        np.save(folder / f"{name}.npy", src.to_int16(audio))
        items[name] = {"sample_rate": sample_rate, "samples": len(audio), **source}

    if backend() != "fluidsynth":
        announce_fallback("examples")
    sf_info = soundfont_info()
    save("piano", render_events(piano_notes(), seconds, rate), rate,
         {**sf_info, "what": "Bach, Prelude in C BWV 846, first bars, GM grand piano"})
    save("drums", render_events(drum_notes(), seconds, rate), rate,
         {**sf_info, "what": "a rock beat on the GM drum kit"})
    if debian:
        path = src.ASTERISK_MUSIC.root / "macroform-cold_day.wav"
        audio = src.read_mono(path)
        save("music", audio[30 * 8000:], 8000, {**src.ASTERISK_MUSIC.as_dict(), "file": path.name})
        path = src.ASTERISK_SPEECH.root / "demo-congrats.wav"
        save("speech", src.read_mono(path), 8000, {**src.ASTERISK_SPEECH.as_dict(), "file": path.name})
        for name, rel in (("door", "doors/sounds/doors_door_open.ogg"),
                          ("water", "env_sounds/sounds/env_sounds_water.1.ogg")):
            path = src.MINETEST.root / rel
            save(name, src.read_mono(path), src.read_rate(path), {**src.MINETEST.as_dict(), "file": rel})
    else:
        name, audio = src.music21_chorales(1, rate)[0]
        save("music", audio, rate, {"package": "music21 (PyPI)", "licence": "public domain score",
                                    "attribution": f"Bach chorale {name}, music21 corpus", **sf_info})
    missing = {n: ("asterisk-core-sounds-en-wav" if n == "speech" else "minetest-data")
               for n in EXAMPLE_NAMES if n not in items}
    need(not (debian and missing), "examples", f"no {', '.join(missing)}",
         [src.ASTERISK_SPEECH, src.MINETEST])
    return _metadata("examples", "Short named example sounds (each at its own sample rate).", rate,
                     [], {"examples": len(items)}, [{k: v for k, v in it.items()
                                                     if k in ("package", "licence", "attribution")}
                                                    for _, it in sorted(items.items())],
                     config, examples=items, missing=missing)


# --- verification of the installed sources ----------------------------------------------------

def verify_inputs() -> list[str]:
    """What is wrong with the installed Debian sources, as far as the builders are concerned.

    Each problem names its package: a source folder that is missing, empty or partial (``dpkg -L``),
    files not owned by the package the source names (``dpkg -S``; e.g. a path through a link made
    by another package), a soundmix class pattern, drum kit or example file that finds nothing, or a
    soundfont that FluidSynth cannot use. An empty list means every builder has what it needs.
    Used by ``data_scripts/install_debian_packages.sh`` after installing.
    """
    problems: list[str] = []
    usable = []
    for source in src.SOURCES:
        try:
            files = source.check("an offline dataset")
        except src.SourceError as err:
            problems.append(str(err))
            continue
        owners = src.dpkg_owners(files)
        stray = [f for f, who in (owners or {}).items() if source.package not in who]
        if stray:
            problems.append(f"{len(stray)} files under {source.root} are not installed by the Debian "
                            f"package '{source.package}' (first: {stray[0]})")
            continue
        usable.append(source)

    def expect(source: src.DebianSource, pattern: str, what: str) -> None:
        if source in usable and not source.files(pattern):
            problems.append(f"{what}: nothing matches {source.root}/{pattern} (Debian package "
                            f"'{source.package}'; reinstall: {src.install_hint([source.package], True)})")

    for name in WAVE_CONFIG["music_test_files"]:
        expect(src.ASTERISK_MUSIC, name, "wave-mini music test file")
    for kit in [*DRUMS_CONFIG["test_kits"], *DRUMS_CONFIG["val_kits"]]:
        expect(src.HYDROGEN, f"{kit}/drumkit.xml", "drums-mini kit")
    for cls, entries in SOUNDMIX_FILES.items():  # each pattern finds files in a whole install
        for source, pattern in entries:
            expect(source, pattern, f"soundmix-mini class {cls!r}")
    expect(src.ASTERISK_MUSIC, "macroform-cold_day.wav", "example 'music'")
    expect(src.ASTERISK_SPEECH, "demo-congrats.wav", "example 'speech'")
    expect(src.MINETEST, "doors/sounds/doors_door_open.ogg", "example 'door'")
    expect(src.MINETEST, "env_sounds/sounds/env_sounds_water.1.ogg", "example 'water'")
    if src.FLUIDR3 in usable:
        try:
            renderer = backend()
        except RuntimeError as err:
            renderer = str(err)
        if renderer != "fluidsynth":
            problems.append(f"FluidSynth cannot render with {src.FLUIDR3.root / src.FLUIDR3.pattern}: "
                            f"{renderer} (Debian package 'libfluidsynth3')")
    return problems
