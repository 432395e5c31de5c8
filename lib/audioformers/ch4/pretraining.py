"""Chapter 4's pre-training and embedding cache: the unlabelled pool, the tokenizer, next-code model and SimCLR
CNN trained on it per seed (with snapshots along the way), every representation of a probe set's clips, and the
supervised CNN of each fold.

The pool: 1-s crops of the book's music and speech (wave-mini, upsampled from 8 kHz) and event audio
(soundmix-mini, its rendered-instrument classes left out), separate from every probe set. Each unit (the pool,
a seed's pre-training, a seed's embeddings, a fold's supervised CNN) is cached under ``data_dir()/ch4/folds``
(:func:`audioformers.ch4.config.cache_dir`); a damaged cache file is recomputed with a one-line notice.

Training runs on ``device`` (default :func:`audioformers.core.device.get_device`).

Notebook: chapters/04_textless_audio_lm.ipynb (sections 5 and 6: the next-code transformer, pre-training)
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict

import numpy as np
import torch

from audioformers.ch4 import config, features
from audioformers.ch4.config import SAMPLE_RATE, FoldConfig
from audioformers.ch4.folds import ProbeSet
from audioformers.core.device import module_device, resolve
from audioformers.core.results import atomic_write, read_cache_npz
from audioformers.evaluation import probes
from audioformers.models import code_lm, contrastive, tokenizer

#: Instrument-like soundmix classes rendered from the same soundfont as the probe set: kept out of the pool.
POOL_EXCLUDED_EVENTS = ("brass", "flute", "guitar", "piano", "strings")


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


#: the offline datasets the unlabelled pool is cut from (:func:`unlabelled_pool`)
POOL_DATASETS = ("wave-mini", "soundmix-mini")


def pool_key(cfg: FoldConfig) -> str:
    """The key of every cache the pool feeds (the pool, the pool-trained models and their embeddings):
    :meth:`FoldConfig.pretrain_key` and the build of each of :data:`POOL_DATASETS`
    (:func:`audioformers.data.build_hash`), so a dataset rebuilt from a changed package never reuses a pool, model
    or embedding cut from the old build."""
    from audioformers import data

    return config._hash({"pretrain": cfg.pretrain_key(), "data": {n: data.build_hash(n) for n in POOL_DATASETS}})


def unlabelled_pool(cfg: FoldConfig, split: str = "train") -> tuple[np.ndarray, dict]:
    """Log-mels ``(N, n_mels, frames)`` of 1-s crops of music, speech and event audio (``split``: the training
    splits, the pool the models learn from; ``"test"``: the test splits of the same datasets, never trained on,
    where the next-code model's held-out cross-entropy is measured; no probe data, no labels) and a description."""
    from scipy.signal import resample_poly

    from audioformers import data
    from audioformers.core.checks import check_choice

    check_choice("split", split, ("train", "test"))
    key = pool_key(cfg)
    path = config.cache_dir() / (f"pool-{key}.npz" if split == "train" else f"pool-{key}-{split}.npz")
    cached = read_cache_npz(path, ("log_mels", "info"))  # None when missing or damaged (then with a notice)
    if cached is not None:
        return cached["log_mels"], json.loads(str(cached["info"]))
    rng = np.random.default_rng(0 if split == "train" else 1)
    n = cfg.pool_clips_per_domain if split == "train" else cfg.heldout_clips_per_domain
    parts, info = [], {"clips": {}, "seconds_of_audio": {}, "split": split}
    for domain in ("music", "speech"):
        files = [resample_poly(x, 2, 1).astype(np.float32) for x in data.load_wave_mini(domain, split)]
        parts.append(_crops(files, n, rng))
        info["clips"][domain] = len(parts[-1])
        info["seconds_of_audio"][domain] = float(sum(len(x) for x in files) / SAMPLE_RATE)
    folder = data.ensure_dataset("soundmix-mini")
    from audioformers.data import builders

    bank = np.load(folder / "bank_audio.npy", mmap_mode="r")
    events = [e for e in builders.read_csv(folder / "events.csv")
              if e["split"] == split and e["class"] not in POOL_EXCLUDED_EVENTS]
    from audioformers.data.sources import from_int16

    signals = [from_int16(np.asarray(bank[int(e["offset"]):int(e["offset"]) + int(e["length"])])) for e in events]
    parts.append(_crops(signals, n, rng))
    info["clips"]["events"] = len(parts[-1])
    info["seconds_of_audio"]["events"] = float(sum(len(x) for x in signals) / SAMPLE_RATE)
    info["event_classes"] = sorted({e["class"] for e in events})
    info["excluded_event_classes"] = list(POOL_EXCLUDED_EVENTS)
    info["note"] = (f"{split} splits of wave-mini (music and speech, "
                    "8 kHz upsampled to 16 kHz: nothing above 4 kHz) and soundmix-mini (events); none of the probe "
                    "datasets' clips")
    log_mels = tokenizer.clip_log_mels(np.concatenate(parts), SAMPLE_RATE, n_mels=cfg.n_mels)
    atomic_write(path, lambda h: np.savez(h, log_mels=log_mels, info=json.dumps(info)))
    return log_mels, info


# --- pre-training on the pool (one unit per seed) ------------------------------------------------------

def _snapshot_steps(steps: int, count: int) -> list[int]:
    """``count`` snapshot steps doubling up to ``steps``: multiples of ``e = steps // 2**(count-1)``, and ``steps``."""
    e = max(1, steps // 2 ** (count - 1))
    return sorted({min(steps, e * 2 ** i) for i in range(count - 1)} | {steps})


def pretrain(cfg: FoldConfig, seed: int, say=print, device: torch.device | str | None = None) -> dict:
    """Tokenizer, next-code LM and SimCLR CNN trained on the unlabelled pool for ``seed`` on ``device`` (cached)."""
    from audioformers.core.seeding import seed_everything
    from audioformers.train.checkpoints import load_checkpoint, save_checkpoint

    key = pool_key(cfg)
    path = config.cache_dir() / f"pretrain-{key}-seed{seed}.pt"
    tok_path = config.cache_dir() / f"tokenizer-{key}-seed{seed}.pt"
    if path.exists() and tok_path.exists():
        state = load_checkpoint(path)
        state["tokenizer"] = features.load_tokenizer(tok_path)[0]
        return state
    seed_everything(seed)
    pool, info = unlabelled_pool(cfg)
    t, c = time.perf_counter(), time.process_time()
    device = resolve(device)
    tok, tok_log = features.build_tokenizer(pool, cfg, seed, device=device)
    tokenizer_s, tokenizer_cpu = time.perf_counter() - t, time.process_time() - c
    features.save_tokenizer(tok, tok_path, tok_log["ae_loss"])
    codes = tok.codes(pool, device=device)
    heldout = tok.codes(unlabelled_pool(cfg, "test")[0], device=device)  # held-out splits: the LM's test_ce
    counts, ppl = tokenizer.code_usage(codes, cfg.num_codes)
    say(f"[pretrain seed {seed}] tokenizer {tokenizer_s:.0f}s on {len(pool)} pool clips, code perplexity {ppl:.1f}")

    steps_lm = _snapshot_steps(cfg.lm_steps, cfg.snapshots)
    lm_cfg = code_lm.CodeLMConfig(num_codes=cfg.num_codes, context_length=codes.shape[1], width=cfg.lm_width,
                                  num_layers=cfg.lm_layers, num_heads=cfg.lm_heads, dropout=cfg.lm_dropout)
    lm_snaps: dict = {}
    t, c = time.perf_counter(), time.process_time()
    _, lm_log = code_lm.train_code_lm(codes, lm_cfg, steps=cfg.lm_steps, batch_size=cfg.lm_batch,
                                          weight_decay=cfg.lm_weight_decay, seed=seed, test_codes=heldout,
                                          eval_every=max(1, cfg.lm_steps // 8),
                                          snapshot_every=steps_lm[0], snapshots=lm_snaps, device=device)
    lm_s, lm_cpu = time.perf_counter() - t, time.process_time() - c
    say(f"[pretrain seed {seed}] next-code LM {cfg.lm_steps} steps {lm_s:.0f}s, train CE {lm_log['train_ce'][-1]:.2f}, "
        f"held-out CE {lm_log['test_ce'][-1]:.2f} on {len(heldout)} test-split clips")

    cnn_cfg = contrastive.CNNConfig(n_mels=cfg.n_mels, channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed,
                                    projection_dim=cfg.cnn_embed)
    steps_cnn = _snapshot_steps(cfg.simclr_steps, cfg.snapshots)
    cnn_snaps: dict = {}
    t, c = time.perf_counter(), time.process_time()
    _, loss = contrastive.train_simclr(pool, cnn_cfg, steps=cfg.simclr_steps, batch_size=cfg.simclr_batch,
                                       crop_frames=cfg.crop_frames, seed=seed, flip_prob=0.0,
                                       snapshot_every=steps_cnn[0], snapshots=cnn_snaps, device=device)
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
                     "pool": info, "pool_clips": int(len(pool)), "heldout_clips": int(len(heldout))}}
    save_checkpoint(path, **state)
    state["tokenizer"] = tok
    return state


# --- embeddings (one unit per seed) ---------------------------------------------------------------------------------------

def _lm_layers(lm: code_lm.CodeLM, codes: np.ndarray) -> list[np.ndarray]:
    """Per layer, mean+std pooled states ``(N, 2W)``, on the model's device."""
    out: list[list[np.ndarray]] = [[] for _ in range(lm.config.num_layers + 1)]
    device = module_device(lm)
    with torch.no_grad():
        for i in range(0, len(codes), 512):
            for layer, h in enumerate(lm.hidden_states(torch.from_numpy(codes[i:i + 512]).to(device))):
                out[layer].append(torch.cat([h.mean(1), h.std(1, unbiased=False)], dim=1).cpu().numpy())
    return [np.concatenate(o) for o in out]


def pool_embeddings(ps: ProbeSet, cfg: FoldConfig, seed: int, state: dict,
                    device: torch.device | str | None = None) -> dict[str, np.ndarray]:
    """Every pool-trained representation of every clip of ``ps``, computed on ``device`` (cached per seed)."""
    path = config.cache_dir() / f"emb-{ps.name}-{pool_key(cfg)}-{cfg.max_clips_per_source}-seed{seed}.npz"
    cached = read_cache_npz(path)  # None when missing or damaged (then with a notice): recomputed
    if cached is not None and "untrained" in cached:
        return cached
    if cached is not None:  # written before the untrained row existed: add it
        emb = {**cached, "untrained": untrained_embeddings(ps, state, seed, device)}
        atomic_write(path, lambda h: np.savez(h, **emb))
        return emb
    device = resolve(device)
    tok = state["tokenizer"]
    patches = tok.normaliser(tokenizer.make_patches(ps.log_mels, tok.patch_frames))  # (N, P, D)
    z = tokenizer.encode_patches(tok.autoencoder, patches, device=device)  # (N, P, d)
    codes = tokenizer.assign_codes(z, tok.centres)  # (N, P)
    emb = {"mel_stats": probes.mel_statistics(ps.log_mels), "mel_mean": ps.log_mels.mean(2),
           "bottleneck": probes.pool_mean_std(z), "bottleneck_mean": z.mean(1),
           "centroid": probes.pool_mean_std(tok.centres[codes]),
           "histogram": np.stack([np.bincount(c, minlength=tok.num_codes) / len(c) for c in codes])}
    lm_cfg = code_lm.CodeLMConfig(**state["lm_config"])
    for step, weights in state["lm_snapshots"].items():
        lm = code_lm.CodeLM(lm_cfg).to(device)
        lm.load_state_dict(weights)
        lm.eval()
        for layer, e in enumerate(_lm_layers(lm, codes)):
            emb[f"lm_layer{layer}@{step}"] = e
    cnn_cfg = contrastive.CNNConfig(**{**state["cnn_config"], "channels": tuple(state["cnn_config"]["channels"])})
    for step, weights in state["simclr_snapshots"].items():
        cnn = contrastive.CNNEncoder(cnn_cfg)
        cnn.load_state_dict(weights)
        emb[f"simclr@{step}"] = contrastive.pooled_embeddings(cnn, ps.log_mels, device=device)
    emb["untrained"] = untrained_embeddings(ps, state, seed, device)
    emb = {k: v.astype(np.float32) for k, v in emb.items()}
    atomic_write(path, lambda h: np.savez(h, **emb))
    return emb


def untrained_encoder(cnn_config: dict, seed: int) -> contrastive.CNNEncoder:
    """SimCLR's CNN with the random weights of ``seed`` (the trivial baseline of every learned representation:
    what the architecture and the pooling give before any training)."""
    cnn_cfg = contrastive.CNNConfig(**{**cnn_config, "channels": tuple(cnn_config["channels"])})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(10_000 + int(seed))
        return contrastive.CNNEncoder(cnn_cfg)


def untrained_embeddings(ps: ProbeSet, state: dict, seed: int, device: torch.device | str | None = None) -> np.ndarray:
    """The untrained encoder's mean+std pooled embedding of every clip of ``ps`` (as SimCLR's is pooled)."""
    return contrastive.pooled_embeddings(untrained_encoder(state["cnn_config"], seed), ps.log_mels,
                                         device=device).astype(np.float32)


def supervised_embeddings(ps: ProbeSet, cfg: FoldConfig, fold: int, seed: int,
                          device: torch.device | str | None = None) -> tuple[np.ndarray, dict]:
    """The supervised CNN of ``fold`` and ``seed`` (early stopping on the fold's validation sources), trained on
    ``device``: its mean+std pooled embedding of every clip, and its training log (cached)."""
    sup_key = hashlib.sha1(json.dumps({k: v for k, v in asdict(cfg).items() if k not in config.PROBE_FIELDS},
                                      sort_keys=True).encode()).hexdigest()[:12]
    path = config.cache_dir() / f"sup-{ps.name}-{sup_key}-fold{fold}-seed{seed}.npz"
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
        patience=cfg.supervised_patience, crop_frames=cfg.crop_frames, seed=seed, device=device)
    log = {k: [float(x) for x in v] for k, v in log.items()}
    log["seconds"], log["cpu_seconds"] = time.perf_counter() - t, time.process_time() - c
    emb = contrastive.pooled_embeddings(model, ps.log_mels, device=device).astype(np.float32)
    atomic_write(path, lambda h: np.savez(h, emb=emb, log=json.dumps(log)))
    return emb, log

