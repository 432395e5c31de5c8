"""Builders of the single-label clip datasets of chapters 4 and 5: instruments-mini (General-MIDI notes in
12 NSynth-like families, split by program) and drums-mini (Hydrogen kit one-shots in 12 drum classes, split by
kit). Each writes ``{split}_audio.npy`` (1 s clips at 16 kHz, 16-bit PCM) and ``{split}_meta.csv``.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from audioformers.data import sources as src
from audioformers.data.builders.common import (CLIP_RATE, announce_fallback, dataset_metadata, need,
                                               soundfont_source, write_csv)
from audioformers.data.synth import Note, backend, render_events, soundfont_info

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
    return dataset_metadata(name, "Single GM notes, 1 s at 16 kHz, NSynth-like families; split by program "
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
    return dataset_metadata("drums-mini", "Hydrogen drum-kit one-shots, 1 s at 16 kHz, peak-normalised, "
                     "classes from drumkit.xml instrument names; split by kit.", CLIP_RATE,
                     DRUM_CLASSES, {s: len(r) for s, r in rows.items()},
                     [src.HYDROGEN.as_dict()], config, kits=kit_info, dropped=dropped,
                     unshipped=unshipped)
