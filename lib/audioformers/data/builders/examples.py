"""Builder of the named example sounds of chapters 1 and 2 (speech, music, piano, drums, door, water), and the
note lists of the rendered piano and drum examples.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from audioformers.core.checks import check_float, check_int
from audioformers.data import sources as src
from audioformers.data.builders.common import announce_fallback, dataset_metadata, need
from audioformers.data.synth import Note, backend, render_events, soundfont_info

# --- examples ---------------------------------------------------------------------------------

EXAMPLE_NAMES = ("speech", "music", "piano", "drums", "door", "water")
EXAMPLES_CONFIG = {"seconds": 8.0, "rate": 32000}

# the first bars of Bach's Prelude in C (BWV 846): each chord broken as 1-2-3-4-5-3-4-5, twice
_PRELUDE = [(60, 64, 67, 72, 76), (60, 62, 69, 74, 77), (59, 62, 67, 74, 77), (60, 64, 67, 72, 76),
            (60, 64, 69, 76, 81), (60, 62, 66, 69, 74), (59, 62, 67, 74, 79), (59, 60, 64, 67, 72)]


def piano_notes(step: float = 0.125) -> list[Note]:
    """The first bars of Bach's Prelude in C on the GM grand piano, one note every ``step`` seconds (> 0)."""
    step = check_float("step", step, minimum=0.0, strict_minimum=True)
    notes, t = [], 0.0
    for chord in _PRELUDE:
        for _ in range(2):
            for i in (0, 1, 2, 3, 4, 2, 3, 4):
                hold = 8 * step if i < 2 else step * 1.5
                notes.append(Note(t, t + hold, chord[i], 80, 0))
                t += step
    return notes


def drum_notes(bars: int = 4, step: float = 0.125) -> list[Note]:
    """``bars`` (>= 1) bars of a rock beat on the GM drum channel, a sixteenth every ``step`` seconds (> 0): kick 36,
    snare 38, closed hi-hat 42, crash 49."""
    bars = check_int("bars", bars, minimum=1)
    step = check_float("step", step, minimum=0.0, strict_minimum=True)
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
    return dataset_metadata("examples", "Short named example sounds (each at its own sample rate).", rate,
                     [], {"examples": len(items)}, [{k: v for k, v in it.items()
                                                     if k in ("package", "licence", "attribution")}
                                                    for _, it in sorted(items.items())],
                     config, examples=items, missing=missing)
