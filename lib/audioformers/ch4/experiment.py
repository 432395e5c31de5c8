"""Chapter 4's experiment: codes, a next-code transformer and linear probes against baselines.

For one dataset and one seed, :func:`run_probe_study` builds the tokenizer (patches ->
autoencoder -> k-means), trains the next-code transformer, a SimCLR CNN and the same CNN with
labels, and scores a linear probe on each embedding (plus mel statistics) on held-out sources.
Expensive artefacts are cached under ``data.data_dir()/ch4`` keyed by a hash of their inputs;
the per-seed result is written to ``results/ch4/`` and reused when its config is unchanged.

Command line (multi-seed studies outside Jupyter)::

    python -m audioformers.ch4.experiment --profile book --seeds 0 1 2

Notebook: chapters/04_textless_audio_lm.ipynb
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from audioformers.models import code_lm, contrastive, tokenizer
from audioformers.evaluation import probes
from audioformers.core.device import describe, get_device
from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.core.results import (
    atomic_write,
    atomic_write_text,
    cache_notice,
    load_results,
    read_cache_json,
    write_results,
)

CHAPTER = "ch4"
SAMPLE_RATE = 16000


@dataclass
class StudyConfig:
    """Sizes of the chapter-4 study; :func:`study_config` fills them per profile."""

    dataset: str = "instruments-mini-xl"
    n_mels: int = 64
    patch_frames: int = 2                  # 2 frames x 10 ms hop = 20 ms patches
    bottleneck_dim: int = 64
    ae_hidden: int = 256
    ae_steps: int = 600
    num_codes: int = 64
    kmeans_vectors: int = 40000            # bottleneck vectors subsampled for k-means
    lm_width: int = 64
    lm_layers: int = 3
    lm_heads: int = 4
    lm_dropout: float = 0.2
    lm_weight_decay: float = 0.1
    lm_steps: int = 800
    lm_batch: int = 32
    cnn_channels: tuple[int, ...] = (8, 16, 32, 64)
    cnn_embed: int = 64
    simclr_steps: int = 200
    simclr_batch: int = 64
    supervised_steps: int = 200
    crop_frames: int = 48
    max_train_clips: int | None = None     # subsample of the training split (smoke)
    probe_c_grid: tuple[float, ...] = (0.02, 0.2)  # probe regularisation, chosen on validation sources

    def key(self) -> str:
        """Hash of everything that changes the trained models (the probe's settings excluded)."""
        fields = {k: v for k, v in asdict(self).items() if not k.startswith("probe_")}
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def study_config(dataset: str, profile: str | None = None) -> StudyConfig:
    """The study's sizes for ``dataset`` at ``profile``."""
    p = profile or get_profile()
    return StudyConfig(
        dataset=dataset,
        ae_steps=pick(smoke=30, book=400, paper=5000, profile=p),
        num_codes=pick(smoke=16, book=64, paper=256, profile=p),
        kmeans_vectors=pick(smoke=3000, book=40000, paper=400000, profile=p),
        lm_steps=pick(smoke=20, book=500, paper=20000, profile=p),
        simclr_steps=pick(smoke=4, book=150, paper=5000, profile=p),
        supervised_steps=pick(smoke=4, book=150, paper=3000, profile=p),
        max_train_clips=pick(smoke=160, book=None, paper=None, profile=p),
    )


def cache_dir() -> Path:
    from audioformers import data

    folder = data.data_dir() / "ch4"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Splits:
    """Log-mels, labels and sources of the train / val / test splits of one clip dataset."""

    log_mels: dict[str, np.ndarray] = field(default_factory=dict)  # split -> (N, M, T)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    sources: dict[str, np.ndarray] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)


def _read_npy_cache(path: Path, expected_rows: int | None = None) -> np.ndarray | None:
    """A cached array, or ``None`` when missing or corrupt (then with a one-line notice; the caller recomputes)."""
    if not path.exists():
        return None
    try:
        array = np.load(path)
        if expected_rows is not None and len(array) != expected_rows:
            raise ValueError(f"{len(array)} rows, expected {expected_rows}")
        return array
    except (ValueError, OSError, EOFError) as error:
        cache_notice(path, error)
        return None


def _read_npz_cache(path: Path) -> dict[str, np.ndarray] | None:
    """Every array of a cached ``.npz``, or ``None`` when missing or corrupt (with a one-line notice)."""
    import zipfile

    if not path.exists():
        return None
    try:
        with np.load(path) as cached:
            return {k: cached[k] for k in cached.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        cache_notice(path, error)
        return None


def _data_version(dataset: str) -> str:
    from audioformers import data

    return "public" if dataset == PUBLIC_PROBE_SET else data.build_hash(dataset)


def load_splits(dataset: str, n_mels: int = 64, max_train_clips: int | None = None) -> Splits:
    """Log-mel features of every split (cached as .npy next to the datasets); checks source-disjointness."""
    from audioformers import data

    out = Splits()
    for split in ("train", "val", "test"):
        if dataset == PUBLIC_PROBE_SET:  # paper profile: downloaded with data_scripts/download_datasets.py
            from audioformers.data.public_datasets import load_speech_commands

            clips, version = load_speech_commands(split), "public"
        else:
            clips, version = data.load_clips(dataset, split), data.build_hash(dataset)
        if clips.sample_rate != SAMPLE_RATE:
            raise ValueError(f"{dataset} is at {clips.sample_rate} Hz, chapter 4 expects {SAMPLE_RATE}")
        path = cache_dir() / f"logmel-{dataset}-{split}-{n_mels}-{version}.npy"
        log_mels = _read_npy_cache(path, expected_rows=len(clips.labels))
        if log_mels is None:
            log_mels = tokenizer.clip_log_mels(clips.audio, SAMPLE_RATE, n_mels=n_mels)
            atomic_write(path, lambda handle: np.save(handle, log_mels.astype(np.float32)))
        out.log_mels[split], out.labels[split] = log_mels, np.asarray(clips.labels)
        out.sources[split], out.classes = np.asarray(clips.sources).astype(str), list(clips.classes)
    if max_train_clips is not None and len(out.labels["train"]) > max_train_clips:
        keep = np.random.default_rng(0).choice(len(out.labels["train"]), max_train_clips, replace=False)
        keep.sort()
        for d in (out.log_mels, out.labels, out.sources):
            d["train"] = d["train"][keep]
    probes.check_source_disjoint(out.sources["train"], out.sources["test"])
    probes.check_source_disjoint(out.sources["train"], out.sources["val"])
    probes.check_source_disjoint(out.sources["val"], out.sources["test"])
    return out


def build_tokenizer(train_log_mels: np.ndarray, cfg: StudyConfig, seed: int) -> tuple[tokenizer.Tokenizer, dict]:
    """Normaliser (training data only) -> autoencoder -> k-means centres; returns the tokenizer and a log."""
    patches = tokenizer.make_patches(train_log_mels, cfg.patch_frames)  # (N, P, D)
    norm = tokenizer.PatchNormaliser.fit(patches)
    z = norm(patches)
    ae_cfg = tokenizer.AutoencoderConfig(input_dim=z.shape[-1], hidden_dim=cfg.ae_hidden, bottleneck_dim=cfg.bottleneck_dim)
    ae, losses = tokenizer.train_autoencoder(z, ae_cfg, steps=cfg.ae_steps, seed=seed)
    vectors = tokenizer.encode_patches(ae, z).reshape(-1, cfg.bottleneck_dim)  # (N*P, d)
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), min(cfg.kmeans_vectors, len(vectors)), replace=False)]
    centres = tokenizer.kmeans_sklearn(sample, cfg.num_codes, seed=seed, n_init=1)
    return tokenizer.Tokenizer(norm, ae.cpu(), centres, cfg.patch_frames), {"ae_loss": losses}  # host-side, as loaded


def tokenizer_path(cfg: StudyConfig, seed: int) -> Path:
    return cache_dir() / f"tokenizer-{cfg.key()}-{_data_version(cfg.dataset)}-seed{seed}.pt"


def stage_path(stage: str, cfg: StudyConfig, seed: int) -> Path:
    """Checkpoint of one trained stage of the study (``code_lm``, ``simclr``, ``supervised``)."""
    return cache_dir() / f"stage-{stage}-{cfg.key()}-{_data_version(cfg.dataset)}-seed{seed}.pt"


REBUILD = "delete it, or run with --no-resume (python -m audioformers.reproduce ch4 --no-resume), to retrain"


def save_tokenizer(tok: tokenizer.Tokenizer, path: Path, ae_loss: list[float] | None = None) -> None:
    from audioformers.train.training import save_checkpoint

    save_checkpoint(path, autoencoder=tok.autoencoder.state_dict(), ae_config=asdict(tok.autoencoder.config),
                    mean=torch.from_numpy(tok.normaliser.mean), std=torch.from_numpy(tok.normaliser.std),
                    centres=torch.from_numpy(tok.centres), patch_frames=tok.patch_frames,
                    **({} if ae_loss is None else {"ae_loss": [float(v) for v in ae_loss]}))


def load_tokenizer(path: Path) -> tuple[tokenizer.Tokenizer, dict]:
    """A tokenizer saved by :func:`save_tokenizer` and its training log (``ae_loss`` when saved)."""
    from audioformers.train.training import load_checkpoint

    state = load_checkpoint(path, rebuild=REBUILD)
    ae = tokenizer.PatchAutoencoder(tokenizer.AutoencoderConfig(**state["ae_config"]))
    ae.load_state_dict(state["autoencoder"])
    ae.eval()
    norm = tokenizer.PatchNormaliser(state["mean"].numpy(), state["std"].numpy())
    tok = tokenizer.Tokenizer(norm, ae, state["centres"].numpy(), int(state["patch_frames"]))
    return tok, ({"ae_loss": list(state["ae_loss"])} if "ae_loss" in state else {})


def load_or_build_tokenizer(dataset: str, seed: int = 0, profile: str | None = None) -> tuple[tokenizer.Tokenizer, Splits]:
    """The study's tokenizer for ``dataset`` and ``seed`` (checkpoint-or-train) and the dataset's splits."""
    cfg = study_config(dataset, profile)
    s = load_splits(dataset, cfg.n_mels, cfg.max_train_clips)
    path = tokenizer_path(cfg, seed)
    if not path.exists():
        tok, log = build_tokenizer(s.log_mels["train"], cfg, seed)
        save_tokenizer(tok, path, log["ae_loss"])
    return load_tokenizer(path)[0], s


def _probe_all(emb: dict[str, np.ndarray], s: Splits, grid) -> dict:
    """Choose C on the validation split, then refit on train and score on test."""
    val = {c: probes.linear_probe(emb["train"], s.labels["train"], emb["val"], s.labels["val"], c=c)["test_accuracy"]
           for c in grid}
    c = max(val, key=val.get)
    r = probes.linear_probe(emb["train"], s.labels["train"], emb["test"], s.labels["test"], c=c)
    return {**r, "val_accuracy": val[c], "c": c}


def run_probe_study(dataset: str, seed: int = 0, profile: str | None = None, progress: bool = True,
                    resume: bool = True) -> dict:
    """Train every representation on ``dataset`` for one seed and probe it; cache and write results.

    Resume is per stage: the tokenizer, the next-code LM, the SimCLR CNN and the supervised CNN are each
    saved under ``data_dir()/ch4`` as soon as they are trained, and a rerun loads the stages already
    saved (they are seeded independently, so the numbers equal an uninterrupted run's); a stage that was
    interrupted is trained again from its start. ``resume=False`` deletes the saved stages first.
    """
    profile = validate_profile(profile or get_profile())
    cfg = study_config(dataset, profile)
    threads = torch.get_num_threads()
    if get_device().type == "cpu":
        torch.set_num_threads(1)  # small models on shared cores: one thread is several times faster than two
    try:
        return _run_probe_study(dataset, seed, profile, cfg, progress, resume)
    finally:
        torch.set_num_threads(threads)


def _stage(name: str, cfg: StudyConfig, seed: int, resume: bool, train, say) -> dict:
    """Load the saved stage ``name`` or run ``train()`` (-> dict of tensors/values) and save it atomically."""
    from audioformers.train.training import load_checkpoint, save_checkpoint

    path = stage_path(name, cfg, seed)
    if resume and path.exists():
        say(f"[{cfg.dataset} seed {seed}] {name} loaded from {path.name}")
        return load_checkpoint(path, rebuild=REBUILD)
    state = train()
    save_checkpoint(path, **state)
    return state


def _run_probe_study(dataset: str, seed: int, profile: str, cfg: StudyConfig, progress: bool,
                     resume: bool = True) -> dict:
    from audioformers.core.seeding import seed_everything

    t0 = time.perf_counter()
    say = (lambda *a: print(*a, flush=True)) if progress else (lambda *a: None)
    seed_everything(seed)
    s = load_splits(dataset, cfg.n_mels, cfg.max_train_clips)
    version = _data_version(dataset)
    emb_path = cache_dir() / f"embeddings-{cfg.key()}-{version}-seed{seed}.npz"
    log_path = cache_dir() / f"log-{cfg.key()}-{version}-seed{seed}.json"
    if not resume:
        for path in (emb_path, log_path, tokenizer_path(cfg, seed),
                     *(stage_path(n, cfg, seed) for n in ("code_lm", "simclr", "supervised"))):
            path.unlink(missing_ok=True)
    cached = _read_npz_cache(emb_path)
    log = read_cache_json(log_path) if cached is not None else None
    if cached is not None and log is not None:
        embeddings = {name: {split: cached[f"{name}/{split}"] for split in ("train", "val", "test")}
                      for name in sorted({k.split("/")[0] for k in cached})}
        say(f"[{dataset} seed {seed}] embeddings loaded from cache")
    else:
        embeddings, log = {}, {}
        times: dict[str, float] = {}
        t = time.perf_counter()
        tok_log: dict = {}
        if resume and tokenizer_path(cfg, seed).exists():
            tok, tok_log = load_tokenizer(tokenizer_path(cfg, seed))
        if not tok_log:  # not saved, or saved without its training log (older cache): train it
            tok, tok_log = build_tokenizer(s.log_mels["train"], cfg, seed)
            save_tokenizer(tok, tokenizer_path(cfg, seed), tok_log["ae_loss"])
        codes = {split: tok.codes(s.log_mels[split]) for split in ("train", "val", "test")}  # (N, P)
        counts, ppl = tokenizer.code_usage(codes["train"], cfg.num_codes)
        log.update(ae_loss_first=float(np.mean(tok_log["ae_loss"][:20])), ae_loss_last=float(np.mean(tok_log["ae_loss"][-50:])),
                   code_perplexity=ppl, codes_used=int((counts > 0).sum()))
        times["tokenizer_s"] = time.perf_counter() - t
        say(f"[{dataset} seed {seed}] tokenizer {times['tokenizer_s']:.0f}s, code perplexity {ppl:.1f}")

        t = time.perf_counter()
        lm_cfg = code_lm.CodeLMConfig(num_codes=cfg.num_codes, context_length=codes["train"].shape[1], width=cfg.lm_width,
                                      num_layers=cfg.lm_layers, num_heads=cfg.lm_heads, dropout=cfg.lm_dropout)

        def train_lm() -> dict:
            model, lm_log = code_lm.train_code_lm(codes["train"], lm_cfg, steps=cfg.lm_steps, batch_size=cfg.lm_batch,
                                                  weight_decay=cfg.lm_weight_decay, seed=seed, test_codes=codes["test"],
                                                  eval_every=max(1, cfg.lm_steps // 5))
            return {"model": model.state_dict(), "log": lm_log, "seconds": time.perf_counter() - t}

        state = _stage("code_lm", cfg, seed, resume, train_lm, say)
        lm = code_lm.CodeLM(lm_cfg)
        lm.load_state_dict(state["model"])
        lm.eval()
        lm_log = {k: [float(v) for v in vs] for k, vs in state["log"].items()}
        log["lm_curve"] = lm_log
        for split in codes:  # every layer's time-averaged states from one pass (as lm.embed(codes, layer))
            for layer, emb in enumerate(code_lm.layer_embeddings(lm, codes[split])):
                embeddings.setdefault(f"code_lm_layer{layer}", {})[split] = emb
        embeddings["code_histogram"] = {split: np.stack([np.bincount(c, minlength=cfg.num_codes) / len(c) for c in codes[split]])
                                        for split in codes}
        times["code_lm_s"] = float(state["seconds"])
        say(f"[{dataset} seed {seed}] next-code LM {times['code_lm_s']:.0f}s, test CE {lm_log['test_ce'][-1]:.2f} nats")

        cnn_cfg = contrastive.CNNConfig(n_mels=cfg.n_mels, channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed,
                                        projection_dim=cfg.cnn_embed)
        t = time.perf_counter()

        def train_simclr() -> dict:
            model, loss = contrastive.train_simclr(s.log_mels["train"], cnn_cfg, steps=cfg.simclr_steps,
                                                   batch_size=cfg.simclr_batch, crop_frames=cfg.crop_frames, seed=seed)
            return {"model": model.state_dict(), "loss": [float(v) for v in loss], "seconds": time.perf_counter() - t}

        state = _stage("simclr", cfg, seed, resume, train_simclr, say)
        simclr = contrastive.CNNEncoder(cnn_cfg)
        simclr.load_state_dict(state["model"])
        embeddings["simclr"] = {split: contrastive.embed_clips(simclr, s.log_mels[split]) for split in codes}
        log["simclr_loss"] = [float(np.mean(state["loss"][:10])), float(np.mean(state["loss"][-10:]))]
        times["simclr_s"] = float(state["seconds"])
        say(f"[{dataset} seed {seed}] SimCLR {times['simclr_s']:.0f}s")

        t = time.perf_counter()
        sup_cfg = contrastive.CNNConfig(**{**asdict(cnn_cfg), "num_classes": len(s.classes)})

        def train_supervised() -> dict:
            model, loss = contrastive.train_supervised(s.log_mels["train"], s.labels["train"], sup_cfg,
                                                       steps=cfg.supervised_steps, crop_frames=cfg.crop_frames, seed=seed)
            return {"model": model.state_dict(), "loss": [float(v) for v in loss], "seconds": time.perf_counter() - t}

        state = _stage("supervised", cfg, seed, resume, train_supervised, say)
        sup = contrastive.CNNEncoder(sup_cfg)
        sup.load_state_dict(state["model"])
        embeddings["supervised_cnn"] = {split: contrastive.embed_clips(sup, s.log_mels[split]) for split in codes}
        log["supervised_loss"] = [float(np.mean(state["loss"][:10])), float(np.mean(state["loss"][-10:]))]
        times["supervised_s"] = float(state["seconds"])
        say(f"[{dataset} seed {seed}] supervised CNN {times['supervised_s']:.0f}s")

        embeddings["mel_stats"] = {split: probes.mel_statistics(s.log_mels[split]) for split in codes}
        flat = {f"{n}/{sp}": v for n, d in embeddings.items() for sp, v in d.items()}
        atomic_write(emb_path, lambda handle: np.savez(handle, **flat))
        log["times"] = times
        atomic_write_text(log_path, json.dumps(log))

    t = time.perf_counter()
    probe = {name: _probe_all(emb, s, cfg.probe_c_grid) for name, emb in embeddings.items()}
    layers = [k for k in probe if k.startswith("code_lm_layer")]
    best_layer = max(layers, key=lambda k: probe[k]["val_accuracy"])  # chosen on validation sources only
    probe["code_lm"] = {**probe[best_layer], "layer": int(best_layer.removeprefix("code_lm_layer"))}
    metrics = {"probe": probe, "num_classes": len(s.classes),
               "num_clips": {k: int(len(v)) for k, v in s.labels.items()},
               "num_sources": {k: int(len(set(v))) for k, v in s.sources.items()},
               "probe_s": time.perf_counter() - t, **log}
    write_results(CHAPTER, f"probes-{dataset}-seed{seed}", metrics, config=cfg, seed=seed, profile=profile,
                  wall_time_s=time.perf_counter() - t0, device=describe(get_device()))
    return metrics


def load_or_run(dataset: str, seed: int, profile: str | None = None, progress: bool = True,
                resume: bool = True) -> dict:
    """Results of :func:`run_probe_study` from ``results/ch4`` if written with the same config, else run it.

    ``resume=False`` always runs it, from scratch."""
    profile = validate_profile(profile or get_profile())
    cfg = study_config(dataset, profile)
    if not resume:
        return run_probe_study(dataset, seed, profile, progress, resume=False)
    try:
        record = load_results(CHAPTER, f"probes-{dataset}-seed{seed}", profile)
        if record["config"] == json.loads(json.dumps(asdict(cfg))):
            return record["metrics"]
    except FileNotFoundError:
        pass
    return run_probe_study(dataset, seed, profile, progress)


METHODS = ("mel_stats", "code_histogram", "code_lm", "simclr", "supervised_cnn")


def summarise_study(dataset: str, seeds, profile: str | None = None, write: bool = True, resume: bool = True) -> dict:
    """Mean ± std of test accuracy over seeds per method; writes ``results/ch4/probe-table-<dataset>``."""
    runs = [load_or_run(dataset, s, profile, progress=True, resume=resume) for s in seeds]
    table = probes.summarise({m: [r["probe"][m]["test_accuracy"] for r in runs] for m in METHODS})
    extra = {"chance": runs[0]["probe"]["mel_stats"]["chance"], "code_lm_layers": [r["probe"]["code_lm"]["layer"] for r in runs],
             "code_lm_test_ce": [r["lm_curve"]["test_ce"][-1] for r in runs],
             "code_lm_train_ce": [r["lm_curve"]["train_ce"][-1] for r in runs]}
    if write:
        write_results(CHAPTER, f"probe-table-{dataset}", {"table": table, **extra}, config=study_config(dataset, profile),
                      seed=list(seeds), profile=profile or get_profile(), device="cpu")
    return {"table": table, **extra, "runs": runs}


PUBLIC_PROBE_SET = "speech-commands-v2"  # the paper profile's public classification set (speakers as sources)


def book_datasets(profile: str | None = None) -> list[str]:
    """Probe datasets of a profile: offline sets at smoke/book; the paper profile adds Speech Commands v2."""
    return pick(smoke=["instruments-mini"], book=["instruments-mini-xl", "drums-mini"],
                paper=[PUBLIC_PROBE_SET, "instruments-mini-xl", "drums-mini"], profile=profile)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Chapter 4: linear probes of textless audio LM embeddings")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="reuse finished seeds and saved stages (default); --no-resume retrains everything")
    args = parser.parse_args(argv)
    profile = validate_profile(args.profile or get_profile())
    for dataset in args.datasets or book_datasets(profile):
        out = summarise_study(dataset, args.seeds, profile, resume=args.resume)
        print(dataset)
        for m, v in out["table"].items():
            print(f"  {m:16s} {v['mean']:.3f} ± {v['std']:.3f}  (n={v['n']})")


if __name__ == "__main__":
    main()


# --------------------------------------------------------------------------------------------
# The two-piano-notes example: how the number of codes changes what is kept
# --------------------------------------------------------------------------------------------

def codes_for_each_k(tok: tokenizer.Tokenizer, waveform: np.ndarray, ks, seed: int = 0) -> dict[int, np.ndarray]:
    """Code sequences ``(P,)`` of one waveform for each dictionary size in ``ks``.

    The bottleneck vectors come from the trained tokenizer; k-means with each K is fitted on the
    waveform's own vectors (as in the lecture's example), so K may not exceed the number of patches.
    """
    log_mel = tokenizer.clip_log_mels(np.asarray(waveform, dtype=np.float32)[None], SAMPLE_RATE)  # (1, M, T)
    vectors = tokenizer.encode_patches(tok.autoencoder, tok.normaliser(tokenizer.make_patches(log_mel, tok.patch_frames)))[0]  # (P, d)
    return {k: tokenizer.assign_codes(vectors, tokenizer.kmeans_sklearn(vectors, k, seed=seed, n_init=3)) for k in ks}


def patch_note_index(num_patches: int, patch_frames: int, note_seconds: float, hop_length: int = 160) -> np.ndarray:
    """Index of the note that each patch falls in (centre of the patch, notes back to back)."""
    centre_s = (np.arange(num_patches) * patch_frames + (patch_frames - 1) / 2) * hop_length / SAMPLE_RATE
    return np.floor(centre_s / note_seconds).astype(int)


def note_code_table(codes_by_k: dict[int, np.ndarray], pitch_of_patch: np.ndarray) -> list[dict]:
    """Per K: codes used, codes used by each pitch, and the fraction of patches whose code both pitches use."""
    rows = []
    pitches = np.unique(pitch_of_patch)
    for k, codes in codes_by_k.items():
        sets = [set(codes[pitch_of_patch == p]) for p in pitches]
        shared = set.intersection(*sets)
        rows.append({"K": k, "codes_used": int(len(set(codes))),
                     "codes_per_pitch": [len(s) for s in sets],
                     "shared_patch_fraction": float(np.isin(codes, list(shared)).mean())})
    return rows


def add_noise(waveform: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """``waveform`` plus white noise at ``snr_db`` below its mean power (a rendered note repeats exactly;
    a recording never does)."""
    from audioformers.audio.audio_io import check_audio
    from audioformers.core.checks import check_float, check_int

    waveform = check_audio(waveform, ndim=None).astype(np.float32)
    snr_db = check_float("snr_db", snr_db)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    noise_power = float(np.mean(waveform ** 2)) / 10 ** (snr_db / 10)
    return (waveform + rng.normal(scale=np.sqrt(noise_power), size=waveform.shape)).astype(np.float32)


LECTURE_CLAIMS = (  # (higher, lower, what the lecture says)
    ("supervised_cnn", "code_lm", "supervised about 10 points above the next-code transformer"),
    ("supervised_cnn", "simclr", "supervised above SimCLR"),
    ("code_lm", "simclr", "next-code transformer (60%) above SimCLR (55%)"),
    ("code_lm", "mel_stats", "(implied) a learned embedding above plain mel statistics"),
    ("simclr", "mel_stats", "(implied) a learned embedding above plain mel statistics"),
)


def ordering_verdicts(runs: list[dict]) -> list[str]:
    """One line per lecture claim: the paired difference of test accuracy over seeds, its interval and the
    verdict of the book's protocol (:func:`audioformers.evaluation.evidence.describe`, shared with the report).
    ``runs``: the per-seed probe results (``summarise_study(...)["runs"]``)."""
    from audioformers.evaluation import evidence

    if not runs or not all("probe" in r for r in runs):
        raise ValueError("runs must be the per-seed probe results, each with a 'probe' entry")
    lines = []
    for hi, lo, claim in LECTURE_CLAIMS:
        a = [r["probe"][hi]["test_accuracy"] for r in runs]
        b = [r["probe"][lo]["test_accuracy"] for r in runs]
        lines.append(f"{evidence.describe(a, b, names=(hi, lo))}  [{claim}]")
    return lines
