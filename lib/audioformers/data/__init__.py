"""Datasets of the book: a registry, builders of the offline datasets, and loaders.

Everything lives under :func:`data_dir` (``$BOOK_DATA_DIR`` or ``~/.cache/audioformers``).
Offline datasets are built from Debian / PyPI packages on first use (see ``data.md`` and
``data_scripts/build_datasets.py``); a build goes into a temporary sibling folder
(``.NAME.partial-PID``), gets a completion marker, and is then moved into place, so an interrupted
build is never used. A file lock (``.NAME.lock``) lets two processes ask for the same dataset at
once: the second waits and uses the finished folder. Partial folders left by killed processes are
removed by the next build once their process is gone.

The marker also records every file the build wrote (size and sha256, :func:`file_record`); each use
of a dataset checks its files against that record (:func:`check_dataset`), so a truncated or
overwritten file is named and rebuilt, never read as data. The record is not part of the build hash
(the cache key).

The package, by what it holds:

* :mod:`~audioformers.data.registry`: the offline datasets, their configs and their cache key (:func:`build_hash`,
  which fingerprints the builders' code, :func:`builder_code_digest`);
* :mod:`~audioformers.data.cache`: the builds on disk, their records and checks (:func:`ensure_dataset`);
* :mod:`~audioformers.data.loaders`: ``load_*`` and :func:`render_notes`;
* :mod:`~audioformers.data.builders` (one module per kind of dataset), :mod:`~audioformers.data.sources` (the
  Debian packages read), :mod:`~audioformers.data.synth` (the soundfont renderer);
* :mod:`~audioformers.data.downloads` (fetching, :mod:`~audioformers.data.archives` extracting) and
  :mod:`~audioformers.data.public_datasets`: the full public datasets of the ``paper`` profile.

Everything a notebook uses is re-exported here: ``from audioformers import data; data.load_example("piano")``.
"""
from __future__ import annotations

from audioformers.core.storage import PARTIAL_TAG, data_dir, file_lock, partial_folder, remove_stale_partials
from audioformers.data import builders, downloads, sources, synth
from audioformers.data.cache import (HASH_ON_LOAD_BYTES, MARKER, DatasetCheck, check_dataset, consistency_problems,
                                     ensure_dataset, file_record, is_complete, metadata, record_problems)
from audioformers.data.loaders import (SOUNDMIX_DEFAULT_CLIPS, ClipSet, MultiLabelSet, load_clips, load_example,
                                       load_soundmix, load_wave_mini, mix_events, render_notes)
from audioformers.data.registry import (BUILD_VERSION, CLIP_DATASETS, DATASET_NAMES, EXAMPLE_NAMES, OFFLINE_DEFAULT,
                                        REGISTRY, SOUNDMIX_CLASSES, WAVE_MINI_SAMPLE_RATE, DatasetEntry,
                                        build_hash, builder_code_digest, builder_modules, code_digest,
                                        code_fingerprint, dataset_config, inputs_state)

__all__ = [
    "BUILD_VERSION", "CLIP_DATASETS", "DATASET_NAMES", "EXAMPLE_NAMES", "HASH_ON_LOAD_BYTES", "MARKER",
    "OFFLINE_DEFAULT", "PARTIAL_TAG", "REGISTRY", "SOUNDMIX_CLASSES", "SOUNDMIX_DEFAULT_CLIPS",
    "WAVE_MINI_SAMPLE_RATE", "ClipSet", "DatasetCheck", "DatasetEntry", "MultiLabelSet", "build_hash",
    "builder_code_digest", "builder_modules", "builders", "check_dataset", "code_digest", "code_fingerprint",
    "consistency_problems", "data_dir", "dataset_config", "downloads", "ensure_dataset", "file_lock", "file_record",
    "inputs_state", "is_complete", "load_clips", "load_example", "load_soundmix", "load_wave_mini", "metadata",
    "mix_events", "partial_folder", "record_problems", "remove_stale_partials", "render_notes", "sources", "synth",
]
