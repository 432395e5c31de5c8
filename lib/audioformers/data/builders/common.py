"""What every offline builder shares: the rule that a dataset is built whole or not at all (:func:`need`), the
one-line notice of the PyPI-only fallback, deterministic writers (JSON with sorted keys, CSV in a fixed order),
the seeded train/test split, and the metadata every builder returns.
"""
from __future__ import annotations

import csv
import json
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from audioformers.data import sources as src
from audioformers.data.synth import backend

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


def dataset_metadata(name: str, description: str, sample_rate: int, classes: list[str],
              split_counts: dict[str, int], sources: list[dict[str, str]], config: dict,
              **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "sample_rate": sample_rate,
            "classes": classes, "split_counts": split_counts, "sources": sources,
            "config": config, **extra}


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
