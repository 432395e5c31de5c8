"""Chapter 4's features and codes: the log-mels of a probe dataset's splits, the tokenizer (patches ->
autoencoder -> k-means) trained, saved and loaded, and the two-piano-notes example of how the number of codes
changes what is kept.

Log-mels and the notebook's tokenizer are cached under ``data.data_dir()/ch4``, keyed by the dataset's build hash
and the tokenizer's fields of :class:`audioformers.ch4.config.FoldConfig`.

Notebook: chapters/04_textless_audio_lm.ipynb (sections 1-4: patches, the autoencoder, codes, two piano notes)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from audioformers.ch4.config import SAMPLE_RATE, FoldConfig, fold_config
from audioformers.core.profiles import get_profile, pick, validate_profile
from audioformers.core.results import atomic_write, read_cache_npy
from audioformers.evaluation import probes
from audioformers.models import tokenizer

PUBLIC_PROBE_SET = "speech-commands-v2"  # a public classification set (speakers as sources), downloaded by
#                                          data_scripts/download_datasets.py
SPLITS = ("train", "val", "test")
REBUILD = "delete it, or run with --no-resume (python -m audioformers.reproduce ch4 --no-resume), to retrain"


def feature_dir() -> Path:
    """``data_dir()/ch4``: the log-mel features and the notebook's tokenizer (created if missing)."""
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

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_finite_array

        for name in ("log_mels", "labels", "sources"):
            if not isinstance(getattr(self, name), dict):
                raise TypeError(f"Splits.{name} must be a dict of split -> array, got {type(getattr(self, name)).__name__}")
        for split, log_mels in self.log_mels.items():
            self.log_mels[split] = check_finite_array(f"Splits.log_mels[{split!r}]", log_mels, ndim=3, allow_empty=True)
            for name in ("labels", "sources"):
                values = getattr(self, name).get(split)
                if values is not None and len(values) != len(log_mels):
                    raise ValueError(f"Splits.{name}[{split!r}] has {len(values)} entries for {len(log_mels)} clips")


def _data_version(dataset: str) -> str:
    from audioformers import data

    return "public" if dataset == PUBLIC_PROBE_SET else data.build_hash(dataset)


def load_splits(dataset: str, n_mels: int = 64, max_train_clips: int | None = None) -> Splits:
    """Log-mel features of every split (cached as .npy next to the datasets); checks source-disjointness."""
    from audioformers import data

    logs, labels, sources, classes = {}, {}, {}, []
    for split in SPLITS:
        if dataset == PUBLIC_PROBE_SET:  # downloaded with data_scripts/download_datasets.py
            from audioformers.data.public_datasets import load_speech_commands

            clips = load_speech_commands(split)
        else:
            clips = data.load_clips(dataset, split)
        if clips.sample_rate != SAMPLE_RATE:
            raise ValueError(f"{dataset} is at {clips.sample_rate} Hz, chapter 4 expects {SAMPLE_RATE}")
        path = feature_dir() / f"logmel-{dataset}-{split}-{n_mels}-{_data_version(dataset)}.npy"
        log_mels = read_cache_npy(path)  # None when missing or damaged (then with a notice): recomputed
        if log_mels is None or len(log_mels) != len(clips.labels):
            log_mels = tokenizer.clip_log_mels(clips.audio, SAMPLE_RATE, n_mels=n_mels)
            atomic_write(path, lambda handle: np.save(handle, log_mels.astype(np.float32)))
        logs[split], labels[split] = log_mels, np.asarray(clips.labels)
        sources[split], classes = np.asarray(clips.sources).astype(str), list(clips.classes)
    if max_train_clips is not None and len(labels["train"]) > max_train_clips:
        keep = np.sort(np.random.default_rng(0).choice(len(labels["train"]), max_train_clips, replace=False))
        for d in (logs, labels, sources):
            d["train"] = d["train"][keep]
    probes.check_source_disjoint(sources["train"], sources["test"])
    probes.check_source_disjoint(sources["train"], sources["val"])
    probes.check_source_disjoint(sources["val"], sources["test"])
    return Splits(logs, labels, sources, classes)


def build_tokenizer(train_log_mels: np.ndarray, cfg: FoldConfig, seed: int,
                    device: torch.device | str | None = None) -> tuple[tokenizer.Tokenizer, dict]:
    """Normaliser (training data only) -> autoencoder (trained on ``device``) -> k-means centres (on the host);
    returns the tokenizer (on the host, as loaded) and a log ``{"ae_loss": [...]}``."""
    patches = tokenizer.make_patches(train_log_mels, cfg.patch_frames)  # (N, P, D)
    norm = tokenizer.PatchNormaliser.fit(patches)
    z = norm(patches)
    ae_cfg = tokenizer.AutoencoderConfig(input_dim=z.shape[-1], hidden_dim=cfg.ae_hidden, bottleneck_dim=cfg.bottleneck_dim)
    ae, losses = tokenizer.train_autoencoder(z, ae_cfg, steps=cfg.ae_steps, seed=seed, device=device)
    vectors = tokenizer.encode_patches(ae, z, device=device).reshape(-1, cfg.bottleneck_dim)  # (N*P, d)
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), min(cfg.kmeans_vectors, len(vectors)), replace=False)]
    centres = tokenizer.kmeans_sklearn(sample, cfg.num_codes, seed=seed, n_init=1)
    return tokenizer.Tokenizer(norm, ae.cpu(), centres, cfg.patch_frames), {"ae_loss": losses}


def save_tokenizer(tok: tokenizer.Tokenizer, path: Path, ae_loss: list[float] | None = None) -> None:
    from audioformers.train.checkpoints import save_checkpoint

    save_checkpoint(path, autoencoder=tok.autoencoder.state_dict(), ae_config=asdict(tok.autoencoder.config),
                    mean=torch.from_numpy(tok.normaliser.mean), std=torch.from_numpy(tok.normaliser.std),
                    centres=torch.from_numpy(tok.centres), patch_frames=tok.patch_frames,
                    **({} if ae_loss is None else {"ae_loss": [float(v) for v in ae_loss]}))


def load_tokenizer(path: Path) -> tuple[tokenizer.Tokenizer, dict]:
    """A tokenizer saved by :func:`save_tokenizer` and its training log (``ae_loss`` when saved)."""
    from audioformers.train.checkpoints import load_checkpoint

    state = load_checkpoint(path, rebuild=REBUILD)
    ae = tokenizer.PatchAutoencoder(tokenizer.AutoencoderConfig(**state["ae_config"]))
    ae.load_state_dict(state["autoencoder"])
    ae.eval()
    norm = tokenizer.PatchNormaliser(state["mean"].numpy(), state["std"].numpy())
    tok = tokenizer.Tokenizer(norm, ae, state["centres"].numpy(), int(state["patch_frames"]))
    return tok, ({"ae_loss": list(state["ae_loss"])} if "ae_loss" in state else {})


def load_or_build_tokenizer(dataset: str, seed: int = 0, profile: str | None = None,
                            device: torch.device | str | None = None) -> tuple[tokenizer.Tokenizer, Splits]:
    """The notebook's tokenizer, trained on ``dataset``'s training split with the tokenizer fields of
    :func:`audioformers.ch4.config.fold_config` at ``profile`` (checkpoint-or-train, on ``device``), and the
    dataset's splits. At ``smoke`` it trains on 160 clips of the training split."""
    profile = validate_profile(profile or get_profile())
    cfg = fold_config(profile)
    max_train_clips = pick(smoke=160, book=None, paper=None, profile=profile)
    s = load_splits(dataset, cfg.n_mels, max_train_clips)
    path = feature_dir() / (f"tokenizer-{cfg.tokenizer_key()}-{dataset}-{max_train_clips}-{_data_version(dataset)}"
                            f"-seed{seed}.pt")
    if not path.exists():
        tok, log = build_tokenizer(s.log_mels["train"], cfg, seed, device=device)
        save_tokenizer(tok, path, log["ae_loss"])
    return load_tokenizer(path)[0], s


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
