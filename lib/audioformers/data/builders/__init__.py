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

One module per kind of dataset: :mod:`~.recordings` (wave-mini, orchestra-mini, piano-mini), :mod:`~.clips`
(instruments-mini, drums-mini), :mod:`~.soundmix` (soundmix-mini), :mod:`~.examples` (the named examples); what
they share is in :mod:`~.common`, the check of the installed sources in :mod:`~.verify`. Every module of this
package enters the offline datasets' cache key (:func:`audioformers.data.registry.builder_code_digest`).
"""
from __future__ import annotations

from audioformers.data.builders.clips import (DRUM_CLASSES, DRUM_RULES, DRUMS_CONFIG, DRUMS_REQUIRED, FAMILIES,
                                              INSTRUMENTS_CONFIG, INSTRUMENTS_XL_CONFIG, build_drums,
                                              build_instruments, drum_class, program_split)
from audioformers.data.builders.common import (CLIP_RATE, announce_fallback, dataset_metadata, need, read_csv,
                                               soundfont_source, stable_split, write_csv, write_json,
                                               write_recordings)
from audioformers.data.builders.examples import EXAMPLE_NAMES, EXAMPLES_CONFIG, build_examples, drum_notes, piano_notes
from audioformers.data.builders.recordings import (ORCHESTRA_CONFIG, PIANO_CONFIG, PIANO_RATE, WAVE_CONFIG, WAVE_RATE,
                                                   build_orchestra, build_piano, build_wave_mini)
from audioformers.data.builders.soundmix import (SOUNDMIX_CLASSES, SOUNDMIX_CONFIG, SOUNDMIX_FILES,
                                                 SOUNDMIX_INSTRUMENTS, SOUNDMIX_SOURCES, build_soundmix)
from audioformers.data.builders.verify import verify_inputs

__all__ = [
    "CLIP_RATE", "DRUMS_CONFIG", "DRUMS_REQUIRED", "DRUM_CLASSES", "DRUM_RULES", "EXAMPLES_CONFIG", "EXAMPLE_NAMES",
    "FAMILIES", "INSTRUMENTS_CONFIG", "INSTRUMENTS_XL_CONFIG", "ORCHESTRA_CONFIG", "PIANO_CONFIG", "PIANO_RATE",
    "SOUNDMIX_CLASSES", "SOUNDMIX_CONFIG", "SOUNDMIX_FILES", "SOUNDMIX_INSTRUMENTS", "SOUNDMIX_SOURCES",
    "WAVE_CONFIG", "WAVE_RATE", "announce_fallback", "build_drums", "build_examples", "build_instruments",
    "build_orchestra", "build_piano", "build_soundmix", "build_wave_mini", "dataset_metadata", "drum_class",
    "drum_notes", "need", "piano_notes", "program_split", "read_csv", "soundfont_source", "stable_split",
    "verify_inputs", "write_csv", "write_json", "write_recordings",
]
