"""Chapter 4's fold protocol: which clips train, tune and test the probe in each fold of held-out sources.

Instruments: each family has six GM programs; fold ``f`` tests on the program at rotation position ``f`` of every
family, tunes on the next one and trains the probe on the other four (fold 0 is the dataset's own split). Drums:
the kits are dealt into folds of about equal size; fold ``f`` tests on group ``f``, tunes on group ``f + 1``. Every
source is a test source exactly once, and no source is on two sides of a fold (checked on every split).

Notebook: chapters/04_textless_audio_lm.ipynb (section 6, linear probes over folds of held-out sources)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audioformers.ch4 import features
from audioformers.ch4.config import FoldConfig
from audioformers.evaluation import probes


def instrument_folds(labels: np.ndarray, programs: np.ndarray, families: list[str]) -> np.ndarray:
    """Rotation position ``(p - f) mod 6`` of each clip's program ``p`` within its family ``f`` (the
    builder's order): fold ``k`` tests on position ``k``; position 0 is the dataset's own test split."""
    from audioformers.data.builders import FAMILIES

    out = np.empty(len(labels), dtype=np.int64)
    for i, (label, program) in enumerate(zip(labels, programs)):
        family = families[int(label)]
        order = list(FAMILIES[family][0])
        out[i] = (order.index(int(program)) - int(label)) % len(order)
    return out


def group_sources(sources: np.ndarray, num_folds: int) -> np.ndarray:
    """Deal sources into ``num_folds`` groups of about equal clip count (largest first, to the smallest
    group; ties by name): the group of each clip."""
    names, counts = np.unique(np.asarray(sources).astype(str), return_counts=True)
    if len(names) < num_folds:
        raise ValueError(f"num_folds {num_folds} exceeds the {len(names)} sources")
    totals, group = np.zeros(num_folds), {}
    for name, count in sorted(zip(names, counts), key=lambda nc: (-nc[1], nc[0])):
        g = int(np.argmin(totals))
        group[name] = g
        totals[g] += count
    return np.array([group[s] for s in np.asarray(sources).astype(str)], dtype=np.int64)


def fold_splits(fold_of_clip: np.ndarray, fold: int, num_folds: int) -> dict[str, np.ndarray]:
    """Indices of ``train`` / ``val`` / ``test`` for ``fold``: test = group ``fold``, val = the next group."""
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be in 0..{num_folds - 1}, got {fold}")
    val = (fold + 1) % num_folds
    return {"test": np.flatnonzero(fold_of_clip == fold), "val": np.flatnonzero(fold_of_clip == val),
            "train": np.flatnonzero((fold_of_clip != fold) & (fold_of_clip != val))}


@dataclass
class ProbeSet:
    """Every clip of a probe dataset (all splits merged) with its label, source and fold group."""

    name: str
    log_mels: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    groups: np.ndarray
    num_folds: int
    classes: list[str]

    def folds(self, max_folds: int | None = None) -> list[int]:
        return list(range(self.num_folds if max_folds is None else min(max_folds, self.num_folds)))

    def split(self, fold: int) -> dict[str, np.ndarray]:
        s = fold_splits(self.groups, fold, self.num_folds)
        for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
            probes.check_source_disjoint(self.sources[s[a]], self.sources[s[b]])
        return s



def load_probe_set(dataset: str, cfg: FoldConfig) -> ProbeSet:
    """Every clip of ``dataset`` (its splits merged) with its fold group; at smoke, ``cfg.max_clips_per_source``."""
    from audioformers import data

    s = features.load_splits(dataset, cfg.n_mels)
    order = ("train", "val", "test")
    log_mels = np.concatenate([s.log_mels[k] for k in order])
    labels = np.concatenate([s.labels[k] for k in order])
    sources = np.concatenate([s.sources[k] for k in order])
    if dataset.startswith("instruments"):
        programs = np.concatenate([data.load_clips(dataset, k).info["program"] for k in order])
        groups, num_folds = instrument_folds(labels, programs, s.classes), 6
    else:
        groups, num_folds = group_sources(sources, 7), 7
    if cfg.max_clips_per_source:
        rng = np.random.default_rng(0)
        keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(sources == src))[:cfg.max_clips_per_source]
                                       for src in np.unique(sources)]))
        log_mels, labels, sources, groups = log_mels[keep], labels[keep], sources[keep], groups[keep]
    return ProbeSet(dataset, log_mels, labels, sources, groups, num_folds, list(s.classes))

