"""Chapter 4's one configuration: the sizes of the tokenizer, the next-code model, SimCLR, the supervised CNN and
the probes, per profile, and where the chapter caches what it trains.

:class:`FoldConfig` is recorded in ``results/ch4/*.json`` (every field, as :func:`dataclasses.asdict` writes it),
and its :meth:`FoldConfig.key` is each seed's ``run_key``: a stored study is reused only while both are unchanged,
so a field added, renamed or given another default here re-runs the study.

Notebook: chapters/04_textless_audio_lm.ipynb (the set-up cell prints it; section 5 builds the next-code model
from it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.evaluation import probes

CHAPTER = "ch4"
SAMPLE_RATE = 16000

#: the fields that decide the tokenizer (log-mel patches -> autoencoder -> k-means)
TOKENIZER_FIELDS = ("n_mels", "patch_frames", "bottleneck_dim", "ae_hidden", "ae_steps", "num_codes", "kmeans_vectors")
#: the fields that decide the models pre-trained on the unlabelled pool (not the probe, folds or supervised CNN)
PRETRAIN_FIELDS = (*TOKENIZER_FIELDS, "lm_width", "lm_layers", "lm_heads", "lm_dropout", "lm_weight_decay",
                   "lm_batch", "lm_steps", "cnn_channels", "cnn_embed", "simclr_batch", "simclr_steps", "crop_frames",
                   "snapshots", "pool_clips_per_domain", "heldout_clips_per_domain")
#: the fields that decide only how a representation is probed (not what any model learns)
PROBE_FIELDS = ("probe_c_grid", "probe_rule", "probe_tol")


def _hash(fields: dict) -> str:
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class FoldConfig:
    """Sizes of chapter 4's study; :func:`fold_config` fills them per profile."""

    n_mels: int = 64
    patch_frames: int = 2              # 2 frames x 10 ms hop = 20 ms patches
    bottleneck_dim: int = 64
    ae_hidden: int = 256
    ae_steps: int = 400
    num_codes: int = 64
    kmeans_vectors: int = 40000        # bottleneck vectors subsampled for k-means
    lm_width: int = 64
    lm_layers: int = 3
    lm_heads: int = 4
    lm_dropout: float = 0.1
    lm_weight_decay: float = 0.1
    lm_batch: int = 32
    lm_steps: int = 1200
    cnn_channels: tuple[int, ...] = (8, 16, 32, 64)
    cnn_embed: int = 64
    simclr_batch: int = 64
    simclr_steps: int = 500
    crop_frames: int = 48
    snapshots: int = 4                 # probe the pre-trained models at steps/8, steps/4, steps/2, steps
    supervised_max_steps: int = 800
    supervised_eval_every: int = 100
    supervised_patience: int = 2
    pool_clips_per_domain: int = 1000  # music, speech, events
    max_folds: int | None = None       # smoke: only the first folds
    max_clips_per_source: int | None = None  # smoke: a subsample of each source's clips
    probe_c_grid: tuple[float, ...] = probes.C_GRID
    probe_rule: str = "one_se"         # how the probe's C is chosen on validation (probes.C_RULES)
    probe_tol: float = 1e-3            # the probe solver's stopping tolerance
    heldout_clips_per_domain: int = 200  # test-split crops (never trained on) where the next-code model's test_ce is measured

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_choice, check_fields, check_float, check_heads, check_int

        check_fields(self, positive=("n_mels", "patch_frames", "bottleneck_dim", "ae_hidden", "ae_steps", "num_codes",
                                     "kmeans_vectors", "lm_width", "lm_layers", "lm_heads", "lm_batch", "lm_steps",
                                     "cnn_embed", "simclr_batch", "simclr_steps", "crop_frames", "snapshots",
                                     "supervised_max_steps", "supervised_eval_every", "supervised_patience",
                                     "pool_clips_per_domain", "heldout_clips_per_domain"),
                     probability=("lm_dropout",))
        check_choice("FoldConfig.probe_rule", self.probe_rule, probes.C_RULES)
        check_float("FoldConfig.probe_tol", self.probe_tol, minimum=0.0, maximum=1.0, strict_minimum=True)
        check_float("FoldConfig.lm_weight_decay", self.lm_weight_decay, minimum=0.0)
        check_heads(self, width="lm_width", heads="lm_heads")
        for name in ("max_folds", "max_clips_per_source"):
            if getattr(self, name) is not None:
                check_int(f"FoldConfig.{name}", getattr(self, name), minimum=1)
        if not self.cnn_channels:
            raise ValueError("FoldConfig.cnn_channels must name at least one layer's channels")
        for i, channels in enumerate(self.cnn_channels):
            check_int(f"FoldConfig.cnn_channels[{i}]", channels, minimum=1)
        if not self.probe_c_grid:
            raise ValueError("FoldConfig.probe_c_grid must hold at least one value of C")
        for i, c in enumerate(self.probe_c_grid):
            check_float(f"FoldConfig.probe_c_grid[{i}]", c, minimum=0.0, strict_minimum=True)

    def key(self) -> str:
        """Hash of every field: a seed's ``run_key`` in ``results/ch4/probes-<dataset>-seed<seed>``."""
        return _hash(asdict(self))

    def pretrain_key(self) -> str:
        """Hash of what changes the pool-trained models (not the probe, folds or the supervised CNN)."""
        return _hash({k: v for k, v in asdict(self).items() if k in PRETRAIN_FIELDS})

    def tokenizer_key(self) -> str:
        """Hash of what changes a tokenizer trained on given log-mels (:func:`audioformers.ch4.features.build_tokenizer`)."""
        return _hash({k: v for k, v in asdict(self).items() if k in TOKENIZER_FIELDS})


def fold_config(profile: str | None = None, **overrides) -> FoldConfig:
    """The study's sizes at ``profile`` (default ``$BOOK_PROFILE``), with ``overrides`` of named fields."""
    p = validate_profile(profile or get_profile())
    sizes = dict(
        ae_steps=pick(smoke=30, book=400, paper=5000, profile=p),
        num_codes=pick(smoke=16, book=64, paper=256, profile=p),
        kmeans_vectors=pick(smoke=3000, book=40000, paper=400000, profile=p),
        lm_steps=pick(smoke=16, book=1200, paper=20000, profile=p),
        # book: equal wall-clock for the two pre-trainings on one thread. Seed 0's book run at 500 SimCLR steps
        # measured 0.41 s per next-code step (1,200 in 487 s) and 0.59 s per SimCLR step (500 in 295 s), so
        # 825 SimCLR steps take about as long as the 1,200 next-code steps; each run's seconds are recorded.
        simclr_steps=pick(smoke=4, book=825, paper=5000, profile=p),
        supervised_max_steps=pick(smoke=4, book=800, paper=5000, profile=p),
        supervised_eval_every=pick(smoke=2, book=100, paper=200, profile=p),
        pool_clips_per_domain=pick(smoke=30, book=1000, paper=10000, profile=p),
        heldout_clips_per_domain=pick(smoke=8, book=200, paper=2000, profile=p),
        max_folds=pick(smoke=2, book=None, paper=None, profile=p),
        max_clips_per_source=pick(smoke=4, book=None, paper=None, profile=p),
    )
    unknown = sorted(set(overrides) - set(FoldConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown FoldConfig field {unknown[0]!r}")
    return FoldConfig(**{**sizes, **overrides})


def fold_datasets(profile: str | None = None) -> list[str]:
    """The probe datasets of ``profile``: instruments (and drums, beyond smoke)."""
    return pick(smoke=["instruments-mini"], book=["instruments-mini-xl", "drums-mini"],
                paper=["instruments-mini-xl", "drums-mini"], profile=profile)


def cache_dir() -> Path:
    """``data_dir()/ch4/folds``, where the study caches its units (created if missing)."""
    from audioformers import data

    folder = data.data_dir() / "ch4" / "folds"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
