"""Audio to discrete codes: thin-in-time log-mel patches, a fully connected autoencoder, k-means.

The pipeline of the generative half of Verma & Smith (2020): cut a log-mel spectrogram into
patches that are a few frames long and span every mel band, squeeze each patch through a
3-layer fully connected autoencoder, and cluster the bottleneck vectors with k-means. The
cluster index of each patch is its *code*; a clip becomes a sequence of codes.

Notebook: chapters/04_textless_audio_lm.ipynb, sections 1 "Patches: thin in time, every frequency band",
2 "The autoencoder: three layers down, three layers up", 3 "Codes: k-means on the bottleneck" and
4 "How many codes? Two alternating piano notes".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from audioformers.audio.signals import log_mel_spectrogram
from audioformers.train.training import fit


# --------------------------------------------------------------------------------------------
# Patches and normalisation
# --------------------------------------------------------------------------------------------

def clip_log_mels(audio: np.ndarray, sample_rate: int, n_mels: int = 64, hop_length: int = 160,
                  n_fft: int = 400, batch_size: int = 512) -> np.ndarray:
    """Log-mel spectrograms of a batch of equal-length clips ``(N, samples)`` -> ``(N, n_mels, frames)``."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[0] == 0 or audio.shape[1] < n_fft:
        raise ValueError(f"audio must be (clips, samples) with at least {n_fft} samples, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("audio holds NaN or infinite values")
    from audioformers.core.checks import check_int

    batch_size = check_int("batch_size", batch_size, minimum=1)
    out = []
    for start in range(0, len(audio), batch_size):
        chunk = torch.from_numpy(audio[start:start + batch_size])  # (b, samples)
        out.append(log_mel_spectrogram(chunk, sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels).numpy())
    return np.concatenate(out).astype(np.float32)  # (N, n_mels, frames)


def make_patches(log_mels: np.ndarray, patch_frames: int = 2) -> np.ndarray:
    """Cut ``(N, n_mels, frames)`` spectrograms into thin patches ``(N, P, patch_frames * n_mels)``.

    A patch is ``patch_frames`` consecutive frames and every mel band, flattened frame-major;
    trailing frames that do not fill a patch are dropped.
    """
    log_mels = np.asarray(log_mels, dtype=np.float32)
    if log_mels.ndim == 2:
        log_mels = log_mels[None]  # (1, n_mels, frames)
    if log_mels.ndim != 3:
        raise ValueError(f"log_mels must be (N, n_mels, frames), got shape {log_mels.shape}")
    from audioformers.core.checks import check_finite_array, check_int

    patch_frames = check_int("patch_frames", patch_frames, minimum=1)
    n, n_mels, frames = log_mels.shape
    num_patches = frames // patch_frames
    if num_patches == 0:
        raise ValueError(f"log_mels: {frames} frames are fewer than one patch of {patch_frames}")
    check_finite_array("log_mels", log_mels)
    x = log_mels[:, :, : num_patches * patch_frames].transpose(0, 2, 1)  # (N, frames, n_mels)
    return np.ascontiguousarray(x.reshape(n, num_patches, patch_frames * n_mels))  # (N, P, D)


@dataclass
class PatchNormaliser:
    """Per-dimension mean and std of patches, fitted on training data only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, patches: np.ndarray, eps: float = 1e-3) -> "PatchNormaliser":
        flat = np.asarray(patches, dtype=np.float64).reshape(-1, patches.shape[-1])  # (N*P, D)
        return cls(flat.mean(0).astype(np.float32), (flat.std(0) + eps).astype(np.float32))

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        if patches.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"patches have {patches.shape[-1]} dims, the normaliser was fitted on {self.mean.shape[0]}")
        return ((patches - self.mean) / self.std).astype(np.float32)

    def inverse(self, patches: np.ndarray) -> np.ndarray:
        return (patches * self.std + self.mean).astype(np.float32)


# --------------------------------------------------------------------------------------------
# The fully connected autoencoder
# --------------------------------------------------------------------------------------------

@dataclass
class AutoencoderConfig:
    input_dim: int = 128        # patch_frames * n_mels (2 frames x 64 mels)
    hidden_dim: int = 512       # width of the two outer layers on each side
    bottleneck_dim: int = 64    # the lecture's 64 (or 128) dimensional code space
    dropout: float = 0.0

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_fields

        check_fields(self, positive=("input_dim", "hidden_dim", "bottleneck_dim"), probability=("dropout",))


class PatchAutoencoder(nn.Module):
    """3 fully connected encoder layers and 3 decoder layers around a small bottleneck.

    Notebook: chapters/04_textless_audio_lm.ipynb, section 2 "The autoencoder: three layers down, three layers up".
    """

    def __init__(self, config: AutoencoderConfig = AutoencoderConfig()) -> None:
        super().__init__()
        c = config
        self.config = c
        self.encoder = nn.Sequential(
            nn.Linear(c.input_dim, c.hidden_dim), nn.GELU(), nn.Dropout(c.dropout),
            nn.Linear(c.hidden_dim, c.hidden_dim // 2), nn.GELU(),
            nn.Linear(c.hidden_dim // 2, c.bottleneck_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(c.bottleneck_dim, c.hidden_dim // 2), nn.GELU(),
            nn.Linear(c.hidden_dim // 2, c.hidden_dim), nn.GELU(),
            nn.Linear(c.hidden_dim, c.input_dim),
        )

    def encode(self, patches: torch.Tensor) -> torch.Tensor:
        if patches.shape[-1] != self.config.input_dim:
            raise ValueError(f"patches have {patches.shape[-1]} dims, the autoencoder expects {self.config.input_dim}")
        return self.encoder(patches)  # (..., bottleneck_dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(patches))  # (..., input_dim)


def train_autoencoder(patches: np.ndarray, config: AutoencoderConfig | None = None, *, steps: int = 1000,
                      batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                      progress: bool = False,
                      device: torch.device | str | None = None,
                      model: nn.Module | None = None) -> tuple[PatchAutoencoder, list[float]]:
    """Train on normalised patches ``(M, D)`` (any leading shape is flattened) with mean squared error, on
    ``device`` (default :func:`audioformers.core.device.get_device`; the patches are held there).

    ``model``: train this module (the notebook's own autoencoder, say) instead of a new
    ``PatchAutoencoder(config)``; the same loop, batches and loss.

    Returns the model (in eval mode, on ``device``) and the training loss of every step.
    """
    from audioformers.core.device import resolve

    device = resolve(device)
    flat = torch.from_numpy(np.asarray(patches, dtype=np.float32).reshape(-1, patches.shape[-1]))  # (M, D)
    config = config or AutoencoderConfig(input_dim=flat.shape[1])
    torch.manual_seed(seed)
    if model is None:
        model = PatchAutoencoder(config)
    elif not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    gen = torch.Generator().manual_seed(seed)

    resident = flat.to(device)  # (M, D) on the device, indexed there

    def next_batch(step: int) -> torch.Tensor:
        return resident[torch.randint(0, len(flat), (batch_size,), generator=gen).to(device)]  # (B, D)

    def loss_fn(m: PatchAutoencoder, batch: torch.Tensor) -> torch.Tensor:
        return torch.mean((m(batch) - batch) ** 2)

    losses = fit(model, next_batch, loss_fn, steps=steps, lr=lr, weight_decay=1e-4, grad_clip=None,
                 desc="autoencoder", progress=progress, device=device).train_loss
    model.eval()
    return model, losses


@torch.inference_mode()
def encode_patches(model: PatchAutoencoder, patches: np.ndarray, batch_size: int = 8192,
                   device: torch.device | str | None = None) -> np.ndarray:
    """Bottleneck vectors of patches ``(..., D)`` -> ``(..., bottleneck_dim)``, computed in fp32 on ``device``
    (default :func:`audioformers.core.device.get_device`; the model is lent there and given back). fp32 even on
    CUDA: k-means assigns codes by nearest centre, and bf16 rounding would move codes across boundaries."""
    from audioformers.core.device import borrowed, resolve

    from audioformers.core.checks import check_finite_array, check_int

    patches = check_finite_array("patches", patches)
    if patches.ndim < 1:
        raise ValueError(f"patches must be (..., dim), got shape {patches.shape}")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    device = resolve(device)
    shape = patches.shape[:-1]
    flat = torch.from_numpy(np.asarray(patches, dtype=np.float32).reshape(-1, patches.shape[-1]))  # (M, D)
    with borrowed(model, device):
        out = torch.cat([model.encode(flat[i:i + batch_size].to(device)) for i in range(0, len(flat), batch_size)])
    return out.cpu().numpy().reshape(*shape, -1)  # (..., bottleneck_dim)


# --------------------------------------------------------------------------------------------
# k-means codes
# --------------------------------------------------------------------------------------------

def kmeans_sklearn(vectors: np.ndarray, num_codes: int, seed: int = 0, n_init: int = 3,
                   max_iter: int = 100) -> np.ndarray:
    """Cluster centres ``(num_codes, dim)`` from scikit-learn's k-means (Lloyd, k-means++ init)."""
    from sklearn.cluster import KMeans

    vectors = _check_vectors(vectors, num_codes)
    km = KMeans(n_clusters=num_codes, n_init=n_init, max_iter=max_iter, random_state=seed).fit(vectors)
    return km.cluster_centers_.astype(np.float32)


def kmeans_torch(vectors: np.ndarray | torch.Tensor, num_codes: int, seed: int = 0, max_iter: int = 100,
                 init: np.ndarray | torch.Tensor | None = None, tol: float = 1e-4,
                 device: torch.device | str | None = None) -> np.ndarray:
    """Lloyd's k-means in torch (for the GPU at ``paper`` scale): centres ``(num_codes, dim)``, on ``device``
    (default :func:`audioformers.core.device.get_device`).

    With the same ``init`` it follows the same iterations as scikit-learn's Lloyd algorithm;
    without, it starts from greedy k-means++ seeding, as scikit-learn's ``KMeans`` (its inertia ends
    within about 1% of scikit-learn's). Empty clusters are re-seeded at the farthest point.
    """
    from audioformers.core.checks import check_float, check_int

    seed = check_int("seed", seed, minimum=0)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    tol = check_float("tol", tol, minimum=0.0)
    from audioformers.core.device import resolve

    device = resolve(device)
    if isinstance(vectors, torch.Tensor):
        vectors = vectors.detach().cpu().numpy()
    x = torch.as_tensor(_check_vectors(np.asarray(vectors), num_codes), device=device)  # (M, d)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    if init is None:
        centres = _kmeans_plus_plus(x, num_codes, gen)
    else:
        centres = torch.as_tensor(np.asarray(init, dtype=np.float32), device=device).clone()  # (K, d)
        if centres.shape != (num_codes, x.shape[1]):
            raise ValueError(f"init must be ({num_codes}, {x.shape[1]}), got {tuple(centres.shape)}")
    for _ in range(max_iter):
        dist = torch.cdist(x, centres)  # (M, K)
        labels = dist.argmin(1)  # (M,)
        counts = torch.bincount(labels, minlength=num_codes).float()  # (K,)
        sums = torch.zeros_like(centres).index_add_(0, labels, x)  # (K, d)
        new = sums / counts.clamp(min=1)[:, None]  # (K, d)
        empty = counts == 0
        if empty.any():
            far = dist.min(1).values.argsort(descending=True)[: int(empty.sum())]
            new[empty] = x[far]
        shift = ((new - centres) ** 2).sum()
        centres = new
        if shift <= tol * x.var(0).mean():
            break
    return centres.cpu().numpy().astype(np.float32)


def _kmeans_plus_plus(x: torch.Tensor, k: int, gen: torch.Generator, n_local_trials: int | None = None) -> torch.Tensor:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; scikit-learn's ``kmeans_plusplus``).

    The first centre is a uniformly random point; each next one is the best of ``2 + log(k)`` candidates
    drawn with probability proportional to the squared distance to the nearest centre so far ("best" =
    the smallest total squared distance once it is added).
    """
    trials = n_local_trials or 2 + int(np.log(k))
    first = int(torch.randint(0, len(x), (1,), generator=gen))
    centres = [x[first]]
    d2 = ((x - x[first]) ** 2).sum(1)  # (M,)
    for _ in range(1, k):
        total = float(d2.sum())
        if total > 0:
            candidates = torch.multinomial((d2 / total).double().cpu(), trials, replacement=True, generator=gen)
        else:  # every point is already a centre
            candidates = torch.zeros(1, dtype=torch.long)
        candidates = candidates.to(x.device)
        cand_d2 = torch.minimum(d2[None], torch.cdist(x[candidates], x) ** 2)  # (trials, M)
        best = int(cand_d2.sum(1).argmin())
        centres.append(x[candidates[best]])
        d2 = cand_d2[best]
    return torch.stack(centres)  # (K, d)


def _check_vectors(vectors: np.ndarray, num_codes: int) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be (count, dim), got shape {vectors.shape}")
    if num_codes < 1 or num_codes > len(vectors):
        raise ValueError(f"num_codes must be between 1 and the number of vectors ({len(vectors)}), got {num_codes}")
    if not np.isfinite(vectors).all():
        raise ValueError("vectors hold NaN or infinite values")
    return vectors


def assign_codes(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each vector ``(..., dim)`` -> ``(...)`` int64."""
    from audioformers.core.checks import check_finite_array

    vectors = check_finite_array("vectors", vectors, ndim=tuple(range(1, 8)))
    centres = check_finite_array("centres", centres, ndim=2)
    if vectors.shape[-1] != centres.shape[1]:
        raise ValueError(f"vectors have {vectors.shape[-1]} dims but centres have {centres.shape[1]}")
    shape = vectors.shape[:-1]
    x = torch.from_numpy(np.ascontiguousarray(vectors).reshape(-1, vectors.shape[-1]))  # (M, d)
    c = torch.from_numpy(np.ascontiguousarray(centres))  # (K, d)
    codes = torch.cat([torch.cdist(x[i:i + 65536], c).argmin(1) for i in range(0, len(x), 65536)])
    return codes.numpy().astype(np.int64).reshape(shape)


def code_usage(codes: np.ndarray, num_codes: int) -> tuple[np.ndarray, float]:
    """Histogram of code counts ``(num_codes,)`` and the perplexity ``exp(entropy)`` of its distribution."""
    from audioformers.core.checks import check_int, check_tokens

    num_codes = check_int("num_codes", num_codes, minimum=1)
    codes = check_tokens("codes", codes, num_codes).cpu().numpy()
    counts = np.bincount(codes.ravel(), minlength=num_codes).astype(np.float64)
    p = counts / counts.sum()
    nz = p[p > 0]
    return counts, float(np.exp(-(nz * np.log(nz)).sum()))


@dataclass
class Tokenizer:
    """Everything that turns log-mel spectrograms into codes: normaliser, autoencoder, centres."""

    normaliser: PatchNormaliser
    autoencoder: PatchAutoencoder
    centres: np.ndarray
    patch_frames: int = 2

    @property
    def num_codes(self) -> int:
        return int(self.centres.shape[0])

    def codes(self, log_mels: np.ndarray, device: torch.device | str | None = None) -> np.ndarray:
        """``(N, n_mels, frames)`` -> codes ``(N, frames // patch_frames)`` (the autoencoder runs on ``device``)."""
        patches = self.normaliser(make_patches(log_mels, self.patch_frames))  # (N, P, D)
        return assign_codes(encode_patches(self.autoencoder, patches, device=device), self.centres)  # (N, P)
