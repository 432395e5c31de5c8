"""Chapter 4 as evidence: probes over folds of held-out sources, one pooling, one unlabelled pool.

The protocol (issue 13):

* **Folds over held-out sources.** Instruments: each family has six GM programs; fold ``f`` tests on the
  program at rotation position ``f`` of every family, tunes on the next one and trains the probe on the
  other four (fold 0 is the dataset's own split). Drums: the kits are dealt into folds of about equal size;
  fold ``f`` tests on group ``f``, tunes on group ``f + 1``. Every source is a test source exactly once.
* **Seeds vary inside folds**: every seed trains its own tokenizer, next-code model, SimCLR CNN and (per fold)
  supervised CNN. Verdicts rest on per-fold paired differences (each fold averaged over its seeds) with a t
  interval and a sign-test interval over folds (:func:`audioformers.evaluation.evidence.fold_interval`).
* **One pooling for every representation**: mean and standard deviation over time (mel frames, patches,
  transformer states, the CNNs' last feature map). Mean-only rows for the log-mel and the bottleneck measure
  what the pooling alone is worth.
* **One probe**: logistic regression with ``C`` chosen on the validation sources from
  :data:`audioformers.evaluation.probes.C_GRID` (1e-3 … 10); every choice is recorded, with whether it is interior.
* **Pre-training on an unlabelled pool** separate from every probe set: 1-s crops of the book's music and
  speech (wave-mini, upsampled from 8 kHz) and event audio (soundmix-mini, its rendered-instrument classes
  left out). The instruments' own clips are *not* in it: under rotation every program is a test program in
  some fold. The next-code model and SimCLR get step counts of about equal wall-clock (the seconds are
  recorded); snapshots along the way give probe accuracy against ``pretrain_steps``.
* **The supervised CNN** is trained per fold and seed on the fold's labelled training sources, with early
  stopping on its validation sources.
* **The pipeline**: log-mel → autoencoder ``bottleneck`` → k-means ``centroid`` → code ``histogram`` →
  next-code model ``lm_states``: what each stage keeps, with intervals over folds.

Everything is cached per unit (pool, per-seed pre-training, per-seed embeddings, per-fold supervised CNN,
per-seed probes) under ``data_dir()/ch4/folds``; results are rewritten after each seed, so an interrupted
run resumes where it stopped and partial results are usable.

Command line::

    nice -n 10 python -m audioformers.ch4.folds --profile book --seeds 0 1 2

Notebook: chapters/04_textless_audio_lm.ipynb
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from audioformers.models import code_lm, contrastive, tokenizer
from audioformers.evaluation import evidence, probes
from audioformers.core.device import add_device_argument, describe, get_device, module_device
from audioformers.train.distributed import use_device_argument
from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.core.results import atomic_write, atomic_write_text, read_cache_json, read_cache_npz, write_results

CHAPTER = "ch4"
SAMPLE_RATE = 16000
STAGES = ("bottleneck", "centroid", "histogram", "lm_states")
#: Instrument-like soundmix classes rendered from the same soundfont as the probe set: kept out of the pool.
POOL_EXCLUDED_EVENTS = ("brass", "flute", "guitar", "piano", "strings")
AUGMENTATIONS = ("random crop of crop_frames frames", "gain of ±1 nat (±4.3 dB)",
                 "additive noise floor in half the views", "blur along the mel axis in 30% of the views",
                 "one masked band of up to a sixth of the mel bins and one of the frames",
                 "no time reversal (it swaps attack and decay, a cue of the label)")


@dataclass
class FoldConfig:
    """Sizes of the fold study; :func:`fold_config` fills them per profile."""

    n_mels: int = 64
    patch_frames: int = 2
    bottleneck_dim: int = 64
    ae_hidden: int = 256
    ae_steps: int = 400
    num_codes: int = 64
    kmeans_vectors: int = 40000
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

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def pretrain_key(self) -> str:
        """Hash of what changes the pool-trained models (not the probe, folds or the supervised CNN)."""
        keep = ("n_mels", "patch_frames", "bottleneck_dim", "ae_hidden", "ae_steps", "num_codes", "kmeans_vectors",
                "lm_width", "lm_layers", "lm_heads", "lm_dropout", "lm_weight_decay", "lm_batch", "lm_steps",
                "cnn_channels", "cnn_embed", "simclr_batch", "simclr_steps", "crop_frames", "snapshots",
                "pool_clips_per_domain")
        fields = {k: v for k, v in asdict(self).items() if k in keep}
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def fold_config(profile: str | None = None, **overrides) -> FoldConfig:
    p = validate_profile(profile or get_profile())
    cfg = FoldConfig(
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
        max_folds=pick(smoke=2, book=None, paper=None, profile=p),
        max_clips_per_source=pick(smoke=4, book=None, paper=None, profile=p),
    )
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise ValueError(f"unknown FoldConfig field {k!r}")
        setattr(cfg, k, v)
    return cfg


def fold_datasets(profile: str | None = None) -> list[str]:
    return pick(smoke=["instruments-mini"], book=["instruments-mini-xl", "drums-mini"],
                paper=["instruments-mini-xl", "drums-mini"], profile=profile)


def cache_dir() -> Path:
    from audioformers import data

    folder = data.data_dir() / "ch4" / "folds"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- folds ------------------------------------------------------------------------------------------

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
    from audioformers import data
    from audioformers.ch4.experiment import load_splits

    s = load_splits(dataset, cfg.n_mels)
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


# --- the unlabelled pool ------------------------------------------------------------------------------

def _crops(signals: list[np.ndarray], count: int, rng: np.random.Generator, length: int = SAMPLE_RATE) -> np.ndarray:
    from audioformers.data.sources import rms

    usable = [x for x in signals if len(x) >= length]
    weights = np.array([len(x) - length + 1 for x in usable], dtype=np.float64)
    out, tries = [], 0
    while len(out) < count and tries < 50 * count:
        tries += 1
        x = usable[rng.choice(len(usable), p=weights / weights.sum())]
        start = int(rng.integers(0, len(x) - length + 1))
        crop = np.asarray(x[start:start + length], dtype=np.float32)
        if rms(crop) >= 1e-3:
            out.append(crop)
    return np.stack(out)


def unlabelled_pool(cfg: FoldConfig) -> tuple[np.ndarray, dict]:
    """Log-mels ``(N, n_mels, frames)`` of 1-s crops of music, speech and event audio (training splits only;
    no probe data, no labels) and a description of the pool."""
    from scipy.signal import resample_poly

    from audioformers import data

    path = cache_dir() / f"pool-{cfg.pretrain_key()}.npz"
    cached = read_cache_npz(path, ("log_mels", "info"))  # None when missing or damaged (then with a notice)
    if cached is not None:
        return cached["log_mels"], json.loads(str(cached["info"]))
    rng = np.random.default_rng(0)
    n = cfg.pool_clips_per_domain
    parts, info = [], {"clips": {}, "seconds_of_audio": {}}
    for domain in ("music", "speech"):
        files = [resample_poly(x, 2, 1).astype(np.float32) for x in data.load_wave_mini(domain, "train")]
        parts.append(_crops(files, n, rng))
        info["clips"][domain] = len(parts[-1])
        info["seconds_of_audio"][domain] = float(sum(len(x) for x in files) / SAMPLE_RATE)
    folder = data.ensure_dataset("soundmix-mini")
    from audioformers.data import builders

    bank = np.load(folder / "bank_audio.npy", mmap_mode="r")
    events = [e for e in builders.read_csv(folder / "events.csv")
              if e["split"] == "train" and e["class"] not in POOL_EXCLUDED_EVENTS]
    from audioformers.data.sources import from_int16

    signals = [from_int16(np.asarray(bank[int(e["offset"]):int(e["offset"]) + int(e["length"])])) for e in events]
    parts.append(_crops(signals, n, rng))
    info["clips"]["events"] = len(parts[-1])
    info["seconds_of_audio"]["events"] = float(sum(len(x) for x in signals) / SAMPLE_RATE)
    info["event_classes"] = sorted({e["class"] for e in events})
    info["excluded_event_classes"] = list(POOL_EXCLUDED_EVENTS)
    info["note"] = ("training splits of wave-mini (music and speech, 8 kHz upsampled to 16 kHz: nothing above "
                    "4 kHz) and soundmix-mini (events); none of the probe datasets' clips")
    log_mels = tokenizer.clip_log_mels(np.concatenate(parts), SAMPLE_RATE, n_mels=cfg.n_mels)
    atomic_write(path, lambda h: np.savez(h, log_mels=log_mels, info=json.dumps(info)))
    return log_mels, info


# --- pre-training on the pool (one unit per seed) ------------------------------------------------------

def _snapshot_steps(steps: int, count: int) -> list[int]:
    """``count`` snapshot steps doubling up to ``steps``: multiples of ``e = steps // 2**(count-1)``, and ``steps``."""
    e = max(1, steps // 2 ** (count - 1))
    return sorted({min(steps, e * 2 ** i) for i in range(count - 1)} | {steps})


def pretrain(cfg: FoldConfig, seed: int, say=print) -> dict:
    """Tokenizer, next-code LM and SimCLR CNN trained on the unlabelled pool for ``seed`` (cached)."""
    from audioformers.core.seeding import seed_everything
    from audioformers.ch4.experiment import load_tokenizer, save_tokenizer
    from audioformers.train.training import load_checkpoint, save_checkpoint

    path = cache_dir() / f"pretrain-{cfg.pretrain_key()}-seed{seed}.pt"
    tok_path = cache_dir() / f"tokenizer-{cfg.pretrain_key()}-seed{seed}.pt"
    if path.exists() and tok_path.exists():
        state = load_checkpoint(path)
        state["tokenizer"] = load_tokenizer(tok_path)[0]
        return state
    seed_everything(seed)
    pool, info = unlabelled_pool(cfg)
    t, c = time.perf_counter(), time.process_time()
    from audioformers.ch4.experiment import StudyConfig, build_tokenizer

    scfg = StudyConfig(n_mels=cfg.n_mels, patch_frames=cfg.patch_frames, bottleneck_dim=cfg.bottleneck_dim,
                       ae_hidden=cfg.ae_hidden, ae_steps=cfg.ae_steps, num_codes=cfg.num_codes,
                       kmeans_vectors=cfg.kmeans_vectors)
    tok, tok_log = build_tokenizer(pool, scfg, seed)
    tokenizer_s, tokenizer_cpu = time.perf_counter() - t, time.process_time() - c
    save_tokenizer(tok, tok_path, tok_log["ae_loss"])
    codes = tok.codes(pool)
    counts, ppl = tokenizer.code_usage(codes, cfg.num_codes)
    say(f"[pretrain seed {seed}] tokenizer {tokenizer_s:.0f}s on {len(pool)} pool clips, code perplexity {ppl:.1f}")

    steps_lm = _snapshot_steps(cfg.lm_steps, cfg.snapshots)
    lm_cfg = code_lm.CodeLMConfig(num_codes=cfg.num_codes, context_length=codes.shape[1], width=cfg.lm_width,
                                  num_layers=cfg.lm_layers, num_heads=cfg.lm_heads, dropout=cfg.lm_dropout)
    lm_snaps: dict = {}
    t, c = time.perf_counter(), time.process_time()
    _, lm_log = code_lm.train_code_lm(codes, lm_cfg, steps=cfg.lm_steps, batch_size=cfg.lm_batch,
                                          weight_decay=cfg.lm_weight_decay, seed=seed,
                                          eval_every=max(1, cfg.lm_steps // 8),
                                          snapshot_every=steps_lm[0], snapshots=lm_snaps)
    lm_s, lm_cpu = time.perf_counter() - t, time.process_time() - c
    say(f"[pretrain seed {seed}] next-code LM {cfg.lm_steps} steps {lm_s:.0f}s, train CE {lm_log['train_ce'][-1]:.2f}")

    cnn_cfg = contrastive.CNNConfig(n_mels=cfg.n_mels, channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed,
                                    projection_dim=cfg.cnn_embed)
    steps_cnn = _snapshot_steps(cfg.simclr_steps, cfg.snapshots)
    cnn_snaps: dict = {}
    t, c = time.perf_counter(), time.process_time()
    _, loss = contrastive.train_simclr(pool, cnn_cfg, steps=cfg.simclr_steps, batch_size=cfg.simclr_batch,
                                       crop_frames=cfg.crop_frames, seed=seed, flip_prob=0.0,
                                       snapshot_every=steps_cnn[0], snapshots=cnn_snaps)
    simclr_s, simclr_cpu = time.perf_counter() - t, time.process_time() - c
    say(f"[pretrain seed {seed}] SimCLR {cfg.simclr_steps} steps {simclr_s:.0f}s, loss "
        f"{np.mean(loss[:10]):.2f} -> {np.mean(loss[-10:]):.2f}")
    state = {"lm_snapshots": {int(k): v for k, v in lm_snaps.items() if k in steps_lm},
             "simclr_snapshots": {int(k): v for k, v in cnn_snaps.items() if k in steps_cnn},
             "lm_config": asdict(lm_cfg), "cnn_config": {**asdict(cnn_cfg), "channels": list(cnn_cfg.channels)},
             "log": {"lm_curve": {k: [float(x) for x in v] for k, v in lm_log.items()},
                     "simclr_loss": [float(x) for x in loss], "ae_loss_last": float(np.mean(tok_log["ae_loss"][-50:])),
                     "code_perplexity": float(ppl), "codes_used": int((counts > 0).sum()),
                     "seconds": {"tokenizer": tokenizer_s, "code_lm": lm_s, "simclr": simclr_s},
                     "cpu_seconds": {"tokenizer": tokenizer_cpu, "code_lm": lm_cpu, "simclr": simclr_cpu},
                     "pool": info, "pool_clips": int(len(pool))}}
    save_checkpoint(path, **state)
    state["tokenizer"] = tok
    return state


# --- embeddings ---------------------------------------------------------------------------------------

def _lm_layers(lm: code_lm.CodeLM, codes: np.ndarray) -> list[np.ndarray]:
    """Per layer, mean+std pooled states ``(N, 2W)``."""
    out: list[list[np.ndarray]] = [[] for _ in range(lm.config.num_layers + 1)]
    device = module_device(lm)
    with torch.no_grad():
        for i in range(0, len(codes), 512):
            for layer, h in enumerate(lm.hidden_states(torch.from_numpy(codes[i:i + 512]).to(device))):
                out[layer].append(torch.cat([h.mean(1), h.std(1, unbiased=False)], dim=1).cpu().numpy())
    return [np.concatenate(o) for o in out]


def pool_embeddings(ps: ProbeSet, cfg: FoldConfig, seed: int, state: dict) -> dict[str, np.ndarray]:
    """Every pool-trained representation of every clip of ``ps`` (cached per seed)."""
    path = cache_dir() / f"emb-{ps.name}-{cfg.pretrain_key()}-{cfg.max_clips_per_source}-seed{seed}.npz"
    cached = read_cache_npz(path)  # None when missing or damaged (then with a notice): recomputed
    if cached is not None:
        return cached
    tok = state["tokenizer"]
    patches = tok.normaliser(tokenizer.make_patches(ps.log_mels, tok.patch_frames))  # (N, P, D)
    z = tokenizer.encode_patches(tok.autoencoder, patches)  # (N, P, d)
    codes = tokenizer.assign_codes(z, tok.centres)  # (N, P)
    emb = {"mel_stats": probes.mel_statistics(ps.log_mels), "mel_mean": ps.log_mels.mean(2),
           "bottleneck": probes.pool_mean_std(z), "bottleneck_mean": z.mean(1),
           "centroid": probes.pool_mean_std(tok.centres[codes]),
           "histogram": np.stack([np.bincount(c, minlength=tok.num_codes) / len(c) for c in codes])}
    lm_cfg = code_lm.CodeLMConfig(**state["lm_config"])
    for step, weights in state["lm_snapshots"].items():
        lm = code_lm.CodeLM(lm_cfg).to(get_device())
        lm.load_state_dict(weights)
        lm.eval()
        for layer, e in enumerate(_lm_layers(lm, codes)):
            emb[f"lm_layer{layer}@{step}"] = e
    cnn_cfg = contrastive.CNNConfig(**{**state["cnn_config"], "channels": tuple(state["cnn_config"]["channels"])})
    for step, weights in state["simclr_snapshots"].items():
        cnn = contrastive.CNNEncoder(cnn_cfg)
        cnn.load_state_dict(weights)
        emb[f"simclr@{step}"] = contrastive.pooled_embeddings(cnn, ps.log_mels)
    emb = {k: v.astype(np.float32) for k, v in emb.items()}
    atomic_write(path, lambda h: np.savez(h, **emb))
    return emb


def supervised_embeddings(ps: ProbeSet, cfg: FoldConfig, fold: int, seed: int) -> tuple[np.ndarray, dict]:
    """The supervised CNN of ``fold`` and ``seed`` (early stopping on the fold's validation sources): its
    mean+std pooled embedding of every clip, and its training log (cached)."""
    sup_key = hashlib.sha1(json.dumps({k: v for k, v in asdict(cfg).items() if k != "probe_c_grid"},
                                      sort_keys=True).encode()).hexdigest()[:12]
    path = cache_dir() / f"sup-{ps.name}-{sup_key}-fold{fold}-seed{seed}.npz"
    cached = read_cache_npz(path, ("emb", "log"))  # None when missing or damaged (then with a notice)
    if cached is not None:
        return cached["emb"], json.loads(str(cached["log"]))
    s = ps.split(fold)
    sup_cfg = contrastive.CNNConfig(n_mels=cfg.n_mels, channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed,
                                    projection_dim=cfg.cnn_embed, num_classes=len(ps.classes))
    t, c = time.perf_counter(), time.process_time()
    model, log = contrastive.train_supervised_early_stopping(
        ps.log_mels[s["train"]], ps.labels[s["train"]], ps.log_mels[s["val"]], ps.labels[s["val"]], sup_cfg,
        max_steps=cfg.supervised_max_steps, eval_every=cfg.supervised_eval_every,
        patience=cfg.supervised_patience, crop_frames=cfg.crop_frames, seed=seed)
    log = {k: [float(x) for x in v] for k, v in log.items()}
    log["seconds"], log["cpu_seconds"] = time.perf_counter() - t, time.process_time() - c
    emb = contrastive.pooled_embeddings(model, ps.log_mels).astype(np.float32)
    atomic_write(path, lambda h: np.savez(h, emb=emb, log=json.dumps(log)))
    return emb, log


# --- probes -------------------------------------------------------------------------------------------

FINAL_METHODS = ("mel_mean", "mel_stats", "bottleneck_mean", "bottleneck", "centroid", "histogram", "lm_states",
                 "simclr", "supervised_cnn")


def recorded_seed(ps: ProbeSet, cfg: FoldConfig, seed: int, profile: str) -> dict | None:
    """One seed's finished run as recorded in ``results/ch4/probes-<dataset>-seed<seed>.<profile>.json`` (its
    ``run``), when it was written with this configuration (``run_key``); else ``None``.

    The results file, not the disk cache, is the study's durable record: a purged cache (a fresh machine)
    must not send a finished seed back to pre-training."""
    from audioformers.core.results import load_results

    try:
        record = load_results(CHAPTER, f"probes-{ps.name}-seed{seed}", profile)
    except FileNotFoundError:
        return None
    metrics = record.get("metrics", {})
    if metrics.get("run_key") != cfg.key() or not isinstance(metrics.get("run"), dict):
        return None
    return metrics["run"]


def probe_seed(ps: ProbeSet, cfg: FoldConfig, seed: int, say=print, profile: str | None = None) -> dict:
    """All probes of one seed over every fold (cached): ``{"folds": {fold: {method: probe}}, ...}``.

    With ``profile``, a seed recorded in the results (:func:`recorded_seed`) is reused when the cache has none."""
    path = cache_dir() / f"probes-{ps.name}-{cfg.key()}-seed{seed}.json"
    cached = read_cache_json(path) if path.exists() else None
    if cached is None and profile is not None:
        cached = recorded_seed(ps, cfg, seed, profile)
    if cached is not None:
        return cached
    state = pretrain(cfg, seed, say)
    emb = pool_embeddings(ps, cfg, seed, state)
    lm_steps = sorted(state["lm_snapshots"])
    cnn_steps = sorted(state["simclr_snapshots"])
    out: dict = {"folds": {}, "supervised": {}, "lm_steps": lm_steps, "simclr_steps": cnn_steps,
                 "pretrain_log": state["log"]}
    for fold in ps.folds(cfg.max_folds):
        t = time.perf_counter()
        s = ps.split(fold)

        def probe(x: np.ndarray) -> dict:
            return probes.probe_grid(x[s["train"]], ps.labels[s["train"]], x[s["val"]], ps.labels[s["val"]],
                                     x[s["test"]], ps.labels[s["test"]], cfg.probe_c_grid,
                                     test_sources=ps.sources[s["test"]])

        res = {m: probe(emb[m]) for m in ("mel_mean", "mel_stats", "bottleneck_mean", "bottleneck", "centroid",
                                          "histogram")}
        final_lm = lm_steps[-1]
        layers = {layer: probe(emb[f"lm_layer{layer}@{final_lm}"]) for layer in range(cfg.lm_layers + 1)}
        best = max(layers, key=lambda layer: (layers[layer]["val_accuracy"], -layer))  # on validation only
        res.update({f"lm_layer{layer}": r for layer, r in layers.items()})
        res["lm_states"] = {**layers[best], "layer": best}
        res["simclr"] = probe(emb[f"simclr@{cnn_steps[-1]}"])
        curve = {"code_lm": {str(lm_steps[-1]): res["lm_states"]["test_accuracy"]},
                 "simclr": {str(cnn_steps[-1]): res["simclr"]["test_accuracy"]}}
        for step in lm_steps[:-1]:
            curve["code_lm"][str(step)] = probe(emb[f"lm_layer{best}@{step}"])["test_accuracy"]
        for step in cnn_steps[:-1]:
            curve["simclr"][str(step)] = probe(emb[f"simclr@{step}"])["test_accuracy"]
        sup_emb, sup_log = supervised_embeddings(ps, cfg, fold, seed)
        res["supervised_cnn"] = probe(sup_emb)
        out["supervised"][str(fold)] = sup_log
        out["folds"][str(fold)] = {"probe": res, "curve": curve}
        say(f"[{ps.name} seed {seed} fold {fold}] {time.perf_counter() - t:.0f}s  " + "  ".join(
            f"{m} {res[m]['test_accuracy']:.3f}" for m in ("mel_stats", "bottleneck", "lm_states", "simclr",
                                                           "supervised_cnn")))
    atomic_write_text(path, json.dumps(out))
    return out


# --- tables -------------------------------------------------------------------------------------------

#: Paired comparisons of the table: (a, b, what the comparison asks).
PAIRS = (
    ("code_lm", "simclr", "lecture: next-code transformer above SimCLR"),
    ("supervised_cnn", "code_lm", "lecture: supervised above the next-code transformer"),
    ("supervised_cnn", "simclr", "lecture: supervised above SimCLR"),
    ("code_lm", "mel_stats", "a learned embedding above mel statistics"),
    ("simclr", "mel_stats", "a learned embedding above mel statistics"),
    ("supervised_cnn", "mel_stats", "the supervised CNN above mel statistics"),
    ("mel_stats", "mel_mean", "pooling: mean + std above mean (log-mel)"),
    ("bottleneck", "bottleneck_mean", "pooling: mean + std above mean (bottleneck)"),
    ("bottleneck", "mel_stats", "the autoencoder bottleneck above log-mel, same pooling"),
    ("centroid", "bottleneck", "pipeline: k-means centroids keep the bottleneck's information"),
    ("histogram", "centroid", "pipeline: the code histogram keeps the centroids' information"),
    ("lm_states", "histogram", "pipeline: the next-code model adds to the code histogram"),
    ("lm_states", "centroid", "pipeline: the next-code model adds to its input (centroids)"),
)


def _interval_record(a, b, names) -> dict:
    comp = evidence.compare(a, b, names=names, folds=True)
    sign = evidence.fold_interval(a, b, method="sign")
    iv = comp.interval
    return {"a": names[0], "b": names[1], "mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high,
            "method": iv.describe(), "verdict": comp.verdict,
            "sign_median": sign.mean, "sign_low": sign.low, "sign_high": sign.high, "sign_method": sign.describe(),
            "per_fold": [float(x) for x in np.mean(np.asarray(a) - np.asarray(b), axis=1)],
            "line": comp.line(scale=100, digits=1, unit=" pts")}


def summarise(ps: ProbeSet, cfg: FoldConfig, runs: dict[int, dict]) -> dict:
    """The fold table of ``runs`` (seed -> :func:`probe_seed` output) with paired differences over folds."""
    seeds = sorted(runs)
    folds = sorted(set.intersection(*(set(runs[s]["folds"]) for s in seeds)), key=int)
    methods = [m for m in (*FINAL_METHODS, *(f"lm_layer{i}" for i in range(cfg.lm_layers + 1)))]

    def acc(m: str, fold: str, seed: int) -> float:
        return runs[seed]["folds"][fold]["probe"][m]["test_accuracy"]

    per_fold = {m: [[acc(m, f, s) for s in seeds] for f in folds] for m in methods}
    per_fold["code_lm"] = per_fold["lm_states"]  # the report's name for the next-code model
    per_source: dict[str, dict[str, list[float]]] = {}
    for m in (*FINAL_METHODS, "code_lm"):
        src = "lm_states" if m == "code_lm" else m
        per_source[m] = {}
        for f in folds:
            for s in seeds:
                for name, v in runs[s]["folds"][f]["probe"][src]["per_source"].items():
                    per_source[m].setdefault(name, []).append(v)
    table = {m: {"mean": float(np.mean(v)), "fold_std": float(np.std(np.mean(v, axis=1), ddof=1)) if len(v) > 1 else 0.0,
                 "seed_std": float(np.mean(np.std(v, axis=1, ddof=1))) if len(seeds) > 1 else 0.0}
             for m, v in per_fold.items()}
    paired = {}
    if len(folds) >= 2:
        for a, b, what in PAIRS:
            paired[f"{a} - {b}"] = {**_interval_record(per_fold[a], per_fold[b], (a, b)), "question": what}
    choices = [runs[s]["folds"][f]["probe"][m] for s in seeds for f in folds for m in methods]
    c_record = {"grid": list(cfg.probe_c_grid),
                "chosen": {m: [[runs[s]["folds"][f]["probe"][m]["c"] for s in seeds] for f in folds] for m in methods},
                "interior_fraction": float(np.mean([c["interior"] for c in choices]))}
    layers = [[runs[s]["folds"][f]["probe"]["lm_states"]["layer"] for s in seeds] for f in folds]
    curves = {}
    for method, key in (("code_lm", "lm_steps"), ("simclr", "simclr_steps")):
        steps = runs[seeds[0]][key]
        acc_curve = [[[runs[s]["folds"][f]["curve"][method][str(st)] for s in seeds] for f in folds] for st in steps]
        cpu = all(runs[s]["pretrain_log"].get("cpu_seconds") for s in seeds)  # CPU time is fair on shared cores
        sec = [runs[s]["pretrain_log"]["cpu_seconds" if cpu else "seconds"][method] for s in seeds]
        curves[method] = {"pretrain_steps": steps, "seconds_full": float(np.mean(sec)),
                          "seconds_kind": "process CPU seconds" if cpu else "wall-clock seconds on shared cores",
                          "accuracy": acc_curve, "mean": [float(np.mean(a)) for a in acc_curve]}
    chance = float(np.mean([runs[seeds[0]]["folds"][f]["probe"]["mel_stats"]["chance"] for f in folds]))
    return {"folds": len(folds), "seeds": seeds, "fold_ids": [int(f) for f in folds], "per_fold": per_fold,
            "per_source": per_source, "table": table, "paired_difference": paired, "probe_c": c_record,
            "lm_layer_chosen": layers, "curves": curves, "chance": chance, "num_classes": len(ps.classes),
            "num_clips": int(len(ps.labels)), "num_sources": int(len(np.unique(ps.sources))),
            "pooling": "mean and standard deviation over time for every representation (the *_mean rows: mean only)",
            "supervised": {f: [runs[s]["supervised"][f] for s in seeds] for f in folds}}


def pipeline_table(summary: dict) -> dict:
    """The pipeline stages (plus the log-mel input) with their fold means and the paired steps between them."""
    rows = {"log_mel": "mel_stats", "bottleneck": "bottleneck", "centroid": "centroid", "histogram": "histogram",
            "lm_states": "lm_states"}
    stages = {stage: {"method": m, **summary["table"][m]} for stage, m in rows.items()}
    steps = {}
    order = list(rows)
    for prev, nxt in zip(order, order[1:]):
        a, b = summary["per_fold"][rows[nxt]], summary["per_fold"][rows[prev]]
        if summary["folds"] >= 2:
            steps[f"{nxt} - {prev}"] = _interval_record(a, b, (nxt, prev))
    return {"stages": stages, "steps": steps, "folds": summary["folds"], "seeds": summary["seeds"]}


def recorded_seconds(runs: dict[int, dict]) -> float:
    """The training seconds the seeds' runs recorded (tokenizer, next-code model, SimCLR, and the supervised CNN
    of every fold), summed: the tables' ``wall_time_s``, the same whether a seed ran now or was read back from
    ``results/`` (probing and embedding, a few seconds per fold, are not counted)."""
    return float(sum(sum(run["pretrain_log"]["seconds"].values())
                     + sum(f.get("seconds", 0.0) for f in run["supervised"].values()) for run in runs.values()))


def write_tables(ps: ProbeSet, cfg: FoldConfig, runs: dict[int, dict], profile: str, wall: float) -> dict:
    summary = summarise(ps, cfg, runs)
    common = dict(config={**asdict(cfg), "dataset": ps.name, "augmentations": list(AUGMENTATIONS),
                          "threads": 1, "machine": "2 shared CPU cores (timings are not benchmarks)"},
                  seed=summary["seeds"], profile=profile, device=str(get_device()), wall_time_s=wall)
    write_results(CHAPTER, f"probe-table-{ps.name}", summary, **common)
    write_results(CHAPTER, f"pipeline-{ps.name}", pipeline_table(summary), **common)
    first = runs[summary["seeds"][0]]["pretrain_log"]
    pre = {"unlabelled": {**first["pool"], "pool_clips": first["pool_clips"]},
           "curves": summary["curves"],
           "pretrain_steps": {"code_lm": summary["curves"]["code_lm"]["pretrain_steps"],
                              "simclr": summary["curves"]["simclr"]["pretrain_steps"]},
           "seconds": {s: runs[s]["pretrain_log"]["seconds"] for s in summary["seeds"]},
           "cpu_seconds": {s: runs[s]["pretrain_log"].get("cpu_seconds") for s in summary["seeds"]},
           "lm_curve": {s: runs[s]["pretrain_log"]["lm_curve"] for s in summary["seeds"]},
           "simclr_loss": {s: runs[s]["pretrain_log"]["simclr_loss"] for s in summary["seeds"]},
           "code_perplexity": {s: runs[s]["pretrain_log"]["code_perplexity"] for s in summary["seeds"]},
           "folds": summary["folds"], "per_fold": {m: summary["per_fold"][m] for m in ("code_lm", "simclr")}}
    write_results(CHAPTER, f"pretrain-{ps.name}", pre, **common)
    facts = describe_run(summary, pre, cfg)
    folds = [str(f) for f in summary["fold_ids"]]
    for seed in summary["seeds"]:  # per-seed records: what the report's figure and facts read
        per = {}
        for m in (*FINAL_METHODS, "code_lm"):
            src = "lm_states" if m == "code_lm" else m
            blocks = [runs[seed]["folds"][f]["probe"][src] for f in folds]
            per[m] = {"test_accuracy": float(np.mean([b["test_accuracy"] for b in blocks])),
                      "per_source": {k: v for b in blocks for k, v in b["per_source"].items()}}
        log = runs[seed]["pretrain_log"]
        write_results(CHAPTER, f"probes-{ps.name}-seed{seed}",
                      {"probe": per, "facts": facts, "folds": summary["folds"], "num_clips": summary["num_clips"],
                       "num_sources": summary["num_sources"], "chance": summary["chance"],
                       "times": {"code_lm_s": log["seconds"]["code_lm"], "simclr_s": log["seconds"]["simclr"],
                                 "tokenizer_s": log["seconds"]["tokenizer"],
                                 "supervised_s": float(np.mean([runs[seed]["supervised"][f]["seconds"]
                                                                for f in folds]))},
                       "run_key": cfg.key(), "run": runs[seed]},
                      **{**common, "seed": seed})
    return summary


def describe_run(summary: dict, pre: dict, cfg: FoldConfig) -> str:
    """One sentence on what the fold study ran, generated from its records (the report prints it)."""
    seconds = pre["seconds"]
    lm_s = np.mean([v["code_lm"] for v in seconds.values()])
    cnn_s = np.mean([v["simclr"] for v in seconds.values()])
    best = [run["best_step"][0] for runs in summary["supervised"].values() for run in runs if run.get("best_step")]
    pool = pre["unlabelled"]
    return (f"pre-training on an unlabelled pool of {pool['pool_clips']} one-second clips "
            f"({', '.join(f'{k} {v}' for k, v in pool['clips'].items())}; no probe data): {cfg.lm_steps} next-code "
            f"steps ({lm_s:.0f} s), {cfg.simclr_steps} SimCLR steps ({cnn_s:.0f} s); supervised CNN per fold with "
            f"early stopping on validation sources (best step median {np.median(best):.0f} of at most "
            f"{cfg.supervised_max_steps}); probes with mean + std pooling for every representation on "
            f"{summary['num_clips']} clips of {summary['num_sources']} sources, {summary['folds']} folds x "
            f"{len(summary['seeds'])} seed(s)")


def run_study(datasets: list[str] | None = None, seeds=(0, 1, 2), profile: str | None = None, say=print,
              reuse_recorded: bool = True, **overrides) -> dict[str, dict]:
    """Run (or resume) the fold study; results are rewritten after every seed.

    ``reuse_recorded=False`` ignores the seeds recorded in ``results/`` (a ``--no-resume`` run trains them
    again; their records are overwritten only when the new run of that seed has finished)."""
    profile = validate_profile(profile or get_profile())
    cfg = fold_config(profile, **overrides)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        sets = {d: load_probe_set(d, cfg) for d in (datasets or fold_datasets(profile))}
        runs: dict[str, dict[int, dict]] = {d: {} for d in sets}
        for seed in seeds:
            for name, ps in sets.items():
                runs[name][seed] = probe_seed(ps, cfg, seed, say, profile=profile if reuse_recorded else None)
                out[name] = write_tables(ps, cfg, runs[name], profile, recorded_seconds(runs[name]))
    finally:
        torch.set_num_threads(threads)
    return out


def _same_config(record: dict, cfg: FoldConfig) -> bool:
    stored = {k: v for k, v in record.get("config", {}).items() if k in asdict(cfg)}
    return stored == json.loads(json.dumps(asdict(cfg)))


def load_or_run_study(profile: str | None = None, seeds=None, datasets: list[str] | None = None,
                      say=print) -> dict[str, dict[str, dict]]:
    """The fold study's records per dataset, from ``results/ch4`` when written with this profile's config (and
    with every seed in ``seeds``, when given); otherwise run (resuming from the cached units) and load them.

    ``seeds=None`` accepts the seeds the stored study holds (the command line decides how many to run) and
    runs the profile's default seeds only where nothing is stored."""
    profile = validate_profile(profile or get_profile())
    cfg = fold_config(profile)
    wanted = seeds
    seeds = list(seeds if seeds is not None else pick(smoke=[0], book=[0, 1, 2], paper=[0, 1, 2], profile=profile))
    out, missing = {}, []
    for dataset in datasets or fold_datasets(profile):
        try:
            records = load_tables(dataset, profile)
        except FileNotFoundError:
            missing.append(dataset)
            continue
        table = records["probe-table"]
        if not _same_config(table, cfg) or (wanted is not None and not set(seeds) <= set(table["metrics"]["seeds"])):
            missing.append(dataset)
            continue
        out[dataset] = records
    if missing:
        say(f"running the fold study for {', '.join(missing)} (resuming from cached units)")
        run_study(missing, seeds, profile, say=say)
        out.update({d: load_tables(d, profile) for d in missing})
    return {d: out[d] for d in (datasets or fold_datasets(profile))}


def provenance_line(record: dict) -> str:
    """Where a result file came from: profile, seeds, commit, date, device, wall time."""
    wall = record.get("wall_time_s")
    return (f"{record.get('name')}.{record.get('profile')}: seeds {record.get('seed')}, written "
            f"{str(record.get('written_at', '?'))[:19]} at commit {str(record.get('git_commit', '?'))[:10]}, "
            f"{record.get('device')}, one thread on shared cores"
            + (f", {wall / 60:.1f} min of wall time in the run that wrote it (cached units reused)"
               if isinstance(wall, (int, float)) else ""))


LABELS = {"mel_mean": "log-mel, mean only", "mel_stats": "log-mel (mel statistics)",
          "bottleneck_mean": "bottleneck, mean only", "bottleneck": "autoencoder bottleneck",
          "centroid": "k-means centroids", "histogram": "code histogram", "lm_states": "next-code model states",
          "simclr": "SimCLR CNN", "supervised_cnn": "supervised CNN (per fold)"}


def table_lines(summary: dict) -> list[str]:
    """The probe table as text: mean over folds and seeds, the spread over folds and over seeds."""
    lines = [f"{summary['folds']} folds x {len(summary['seeds'])} seed(s); chance {summary['chance']:.2f}",
             f"  {'representation':30s} {'accuracy':>9s} {'sd folds':>9s} {'sd seeds':>9s}"]
    several = len(summary["seeds"]) > 1
    for m, label in LABELS.items():
        v = summary["table"][m]
        seed_sd = f"{v['seed_std']:9.3f}" if several else f"{'–':>9s}"
        lines.append(f"  {label:30s} {v['mean']:9.3f} {v['fold_std']:9.3f} {seed_sd}")
    folds = np.mean([summary["table"][m]["fold_std"] for m in LABELS])
    if several:
        seeds = np.mean([summary["table"][m]["seed_std"] for m in LABELS])
        lines.append(f"  mean spread over folds {folds:.3f}, over seeds {seeds:.3f}")
    else:
        lines.append(f"  mean spread over folds {folds:.3f}; one seed, so the spread over seeds is not measured here")
    return lines


def difference_lines(summary: dict) -> list[str]:
    """Each paired difference over folds: the t interval and verdict, and the sign-test interval."""
    lines = []
    for rec in summary["paired_difference"].values():
        finite = all(isinstance(rec[k], (int, float)) and np.isfinite(rec[k]) for k in ("sign_low", "sign_high"))
        sign = (f"sign test [{100 * rec['sign_low']:+.1f}, {100 * rec['sign_high']:+.1f}]" if finite
                else "sign test: too few folds for a 95% interval")
        lines.append(f"{rec['line']}; {sign}  [{rec['question']}]")
    return lines


def findings(summary: dict, pretraining: dict) -> list[str]:
    """The chapter's explanatory sentences, generated from the records (so they change with the evidence)."""
    pd = summary["paired_difference"]

    def says(key: str) -> str:
        r = pd[key]
        side = {"reproduced": "above zero", "reversed": "below zero", "inconclusive": "contains zero"}[r["verdict"]]
        return f"{100 * r['mean']:+.1f} points [{100 * r['ci_low']:+.1f}, {100 * r['ci_high']:+.1f}] ({side})"

    t = summary["table"]
    out = [f"Pooling: mean + std over mean alone is worth {says('mel_stats - mel_mean')} on the log-mel and "
           f"{says('bottleneck - bottleneck_mean')} on the bottleneck.",
           f"Same pooling, the bottleneck against the log-mel: {says('bottleneck - mel_stats')}.",
           f"The tokenizer: k-means centroids against the bottleneck {says('centroid - bottleneck')}; the code "
           f"histogram against the centroids {says('histogram - centroid')}.",
           f"What the next-code model adds: over the code histogram {says('lm_states - histogram')}; over its "
           f"input, the centroids, {says('lm_states - centroid')}.",
           f"The supervised CNN (early stopping on validation sources) against mel statistics: "
           f"{says('supervised_cnn - mel_stats')}."]
    for method in ("code_lm", "simclr"):
        c = pretraining["curves"][method]
        out.append(f"{'Next-code model' if method == 'code_lm' else 'SimCLR'}: probe accuracy "
                   + ", ".join(f"{a:.3f} at {s} steps" for s, a in zip(c["pretrain_steps"], c["mean"]))
                   + f" ({c['seconds_full']:.0f} s for all steps).")
    best = max(("lm_states", "simclr", "supervised_cnn", "mel_stats"), key=lambda m: t[m]["mean"])
    out.append(f"Highest mean: {LABELS[best]} ({t[best]['mean']:.3f}).")
    return out


def plot_pipeline(ax, summary: dict, pipeline: dict, title: str):
    """The chapter's main figure: accuracy at each stage (mean over folds and seeds, 95% t interval over folds),
    one thin line per fold, and the other representations as horizontal references."""
    from scipy import stats

    stages = [s for s in ("log_mel", *STAGES) if s in pipeline["stages"]]  # pipeline order (JSON sorts keys)
    per_fold = np.array([np.mean(summary["per_fold"][pipeline["stages"][s]["method"]], axis=1) for s in stages])
    n = per_fold.shape[1]
    half = stats.t.ppf(0.975, n - 1) * per_fold.std(1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(stages))
    x = np.arange(len(stages))
    for f in range(n):
        ax.plot(x, per_fold[:, f], color="grey", lw=0.6, alpha=0.6, label="one fold" if f == 0 else None)
    ax.errorbar(x, per_fold.mean(1), yerr=half, fmt="o-", color="k", capsize=4, label="mean, 95% t over folds")
    for m, color in (("simclr", "tab:orange"), ("supervised_cnn", "tab:green")):
        ax.axhline(summary["table"][m]["mean"], color=color, ls="--", lw=1, label=LABELS[m])
    ax.axhline(summary["chance"], color="k", ls=":", lw=0.8, label="chance")
    ax.set_xticks(x, [s.replace("_", " ") for s in stages], rotation=20)
    ax.set(title=title, ylabel="probe test accuracy", ylim=(0, 1))
    return ax


def plot_curves(ax, pretraining: dict, title: str):
    """Probe accuracy against pre-training seconds for both self-supervised models (95% t over folds)."""
    from scipy import stats

    for method, color in (("code_lm", "tab:blue"), ("simclr", "tab:orange")):
        c = pretraining["curves"][method]
        steps = np.array(c["pretrain_steps"], dtype=float)
        seconds = c["seconds_full"] * steps / steps[-1]
        acc = np.array(c["accuracy"], dtype=float).mean(axis=2)  # (checkpoints, folds)
        n = acc.shape[1]
        half = stats.t.ppf(0.975, n - 1) * acc.std(1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(steps))
        ax.errorbar(seconds, acc.mean(1), yerr=half, fmt="o-", color=color, capsize=3,
                    label=f"{'next-code model' if method == 'code_lm' else 'SimCLR'} (up to {int(steps[-1])} steps)")
    kind = pretraining["curves"]["code_lm"].get("seconds_kind", "wall-clock seconds on shared cores")
    ax.set(xscale="log", title=title, xlabel=f"pre-training: {kind.replace(' on shared cores', '')}, one thread",
           ylabel="probe test accuracy")
    ax.legend(fontsize=8)
    return ax


def load_tables(dataset: str, profile: str | None = None) -> dict[str, dict]:
    """The fold study's records for ``dataset`` (probe table, pipeline, pre-training) from ``results/ch4``."""
    from audioformers.core.results import load_results

    return {kind: load_results(CHAPTER, f"{kind}-{dataset}", profile) for kind in ("probe-table", "pipeline", "pretrain")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Chapter 4: probes over folds of held-out sources")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="reuse the cached units and the seeds recorded in results/ (default); --no-resume "
                             "deletes the fold study's cache first and trains every seed again")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    print(f"device: {describe(use_device_argument(args.device))}", flush=True)
    if not args.resume:
        for path in cache_dir().glob("*"):
            if path.is_file():
                path.unlink()
    for name, summary in run_study(args.datasets, args.seeds, args.profile, reuse_recorded=args.resume).items():
        print(f"{name}: {summary['folds']} folds, seeds {summary['seeds']}")
        for m, v in summary["table"].items():
            print(f"  {m:16s} {v['mean']:.3f}  (sd over folds {v['fold_std']:.3f})")
        for key, rec in summary["paired_difference"].items():
            print(f"  {rec['line']}  [{rec['question']}]")


if __name__ == "__main__":
    main()
