"""A transformer on raw-waveform patches with average or Haar multi-scale pooling (Verma & Berger 2021).

One second of 16 kHz audio is cut into 25 ms patches (400 samples). A learned front end (one wide
layer of 2,048 units, then a 64-d dense layer) embeds each patch; a stack of transformer layers of
width 64 mixes them; a pooling step turns the sequence into one vector; a linear head gives one
logit per class (sigmoid + binary cross-entropy for multi-label tagging).

Pooling variants (none adds a parameter):

* ``"average"``: time average of the last layer's embeddings.
* ``"intermediate"``: time average of the embeddings of several layers, averaged over those layers.
* ``"haar"``: after each chosen layer, the embedding dimensions are split into groups; the first group
  keeps full time resolution, the next ones are replaced by averages over 2, 4, 8, ... positions
  (Haar approximation coefficients, held constant over their block), the last one by the global
  average. The next layer sees every time scale at once. Then the last layer is time-averaged.

Notebook: chapters/05_wavelet_audio_transformer.ipynb, section "The model" (``#the-model`` in the web book), where
each piece is written in cells under its equation (the front end, attention and the encoder block, "Haar
multi-scale pooling", checked against PyWavelets, and the whole model) and tested equal to this module's; the
chapter's experiments build it through :mod:`audioformers.ch5.models`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from audioformers.audio.audio_io import AudioError
from audioformers.core.checks import check_choice, check_fields, check_heads, check_int
from audioformers.core.device import check_finite

POOLINGS = ("average", "intermediate", "haar")


@dataclass
class WaveletTransformerConfig:
    sample_rate: int = 16000        # Hz; the model refuses audio at another rate
    clip_samples: int = 16000       # 1 s clips (the longest input the position table covers)
    patch_samples: int = 400        # 25 ms patches at 16 kHz
    front_hidden: int = 2048        # the wide front-end layer (the learned "filterbank")
    d_model: int = 64               # front-end output and transformer width
    num_layers: int = 3             # transformer layers
    num_heads: int = 4              # attention heads (d_model must divide by it)
    ff_mult: int = 4                # feed-forward width = ff_mult * d_model
    dropout: float = 0.1            # inside the transformer layers
    num_classes: int = 20           # output logits
    pooling: str = "average"        # "average" | "intermediate" | "haar"
    pool_layers: tuple[int, ...] = field(default_factory=lambda: (1, 2))  # 0-based layers for intermediate/haar

    def __post_init__(self) -> None:
        check_fields(self, positive=("sample_rate", "clip_samples", "patch_samples", "front_hidden", "d_model",
                                     "num_layers", "num_heads", "ff_mult", "num_classes"), probability=("dropout",))
        check_choice("pooling", self.pooling, POOLINGS)
        for i in self.pool_layers:
            check_int("pool_layers", i, minimum=0)
        if self.clip_samples < self.patch_samples:
            raise ValueError(f"patch_samples ({self.patch_samples}) must be <= clip_samples ({self.clip_samples})")
        check_heads(self, width="d_model")
        bad = [i for i in self.pool_layers if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f"pool_layers {bad} are outside 0..{self.num_layers - 1}")

    @property
    def num_patches(self) -> int:
        return self.clip_samples // self.patch_samples


# ----------------------------------------------------------------------------------------- Haar pooling
def haar_window_sizes(num_positions: int) -> list[int]:
    """Window sizes 1, 2, 4, ... below ``num_positions``, then ``num_positions`` (one global average)."""
    num_positions = check_int("num_positions", num_positions, minimum=1)
    sizes, w = [], 1
    while w < num_positions:
        sizes.append(w)
        w *= 2
    sizes.append(num_positions)
    return sizes


def block_average(x: torch.Tensor, window: int) -> torch.Tensor:
    """Means over non-overlapping blocks of ``window`` positions along dim 1: (B, T, C) -> (B, ceil(T/w), C).

    A ragged last block is averaged over the positions it has. For ``T`` a multiple of ``window = 2**k``
    this is PyWavelets' Haar approximation at level ``k`` divided by ``2**(k/2)``.
    """
    if x.ndim != 3:
        raise ValueError(f"expected (batch, time, channels), got shape {tuple(x.shape)}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    B, T, C = x.shape
    blocks = -(-T // window)
    pad = blocks * window - T
    padded = nn.functional.pad(x, (0, 0, 0, pad))  # (B, blocks*window, C)
    sums = padded.reshape(B, blocks, window, C).sum(2)  # (B, blocks, C)
    counts = torch.full((blocks,), float(window), device=x.device, dtype=x.dtype)
    counts[-1] = window - pad
    return sums / counts[None, :, None]  # (B, blocks, C)


def haar_multiscale(x: torch.Tensor, window_sizes: list[int] | None = None,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Parameter-free multi-scale view of a sequence: (B, T, C) -> (B, T, C).

    Channels are split into ``len(window_sizes)`` nearly equal groups; group ``g`` is replaced by its
    block averages over ``window_sizes[g]`` positions, repeated back to length ``T``. With ``mask``
    (B, T; True = a valid position) each block average is taken over the block's valid positions only,
    so what padding holds never reaches a valid position (a block with none is 0).
    """
    if x.ndim != 3:
        raise ValueError(f"expected (batch, time, channels), got shape {tuple(x.shape)}")
    B, T, C = x.shape
    sizes = window_sizes or haar_window_sizes(T)
    if len(sizes) > C:
        raise ValueError(f"{len(sizes)} time scales need at least as many channels, got {C}")
    if mask is not None and mask.shape != (B, T):
        raise ValueError(f"mask must have shape {(B, T)}, got {tuple(mask.shape)}")
    weights = None if mask is None else mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
    groups = torch.tensor_split(x, len(sizes), dim=2)  # each (B, T, C_g)
    out = []
    for group, window in zip(groups, sizes):
        if window == 1:
            out.append(group)
            continue
        if weights is None:
            means = block_average(group, window)  # (B, ceil(T/w), C_g)
        else:  # sum over valid positions / their count
            means = block_average(group * weights, window) / block_average(weights, window).clamp_min(1e-12)
        out.append(means.repeat_interleave(window, dim=1)[:, :T])  # (B, T, C_g)
    return torch.cat(out, dim=2)  # (B, T, C)


def masked_time_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over time of (B, T, C) using only positions where ``mask`` (B, T) is True -> (B, C)."""
    if mask is None:
        return x.mean(1)
    weights = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


# ------------------------------------------------------------------------------------------------ model
class PatchFrontEnd(nn.Module):
    """Raw patches -> embeddings: Linear(patch, 2048) -> ReLU -> Linear(2048, 64)."""

    def __init__(self, patch_samples: int, hidden: int, d_model: int):
        super().__init__()
        self.patch_samples = patch_samples
        self.wide = nn.Linear(patch_samples, hidden)  # its rows are the learned "filters"
        self.dense = nn.Linear(hidden, d_model)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        B, S = waveform.shape
        P = S // self.patch_samples
        patches = waveform[:, : P * self.patch_samples].reshape(B, P, self.patch_samples)  # (B, P, patch)
        return self.dense(torch.relu(self.wide(patches)))  # (B, P, d_model)


class WaveletAudioTransformer(nn.Module):
    """Raw waveform (B, samples) -> logits (B, num_classes). See the module docstring."""

    def __init__(self, config: WaveletTransformerConfig):
        super().__init__()
        self.config = config
        c = config
        self.front_end = PatchFrontEnd(c.patch_samples, c.front_hidden, c.d_model)
        self.position = nn.Parameter(torch.zeros(1, c.num_patches, c.d_model))
        nn.init.normal_(self.position, std=0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                c.d_model, c.num_heads, c.ff_mult * c.d_model, c.dropout, batch_first=True, norm_first=True
            )
            for _ in range(c.num_layers)
        )
        self.norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.num_classes)

    def check_input(self, waveform: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """Validate a (B, samples) batch; raise :class:`AudioError` naming the problem."""
        c = self.config
        if sample_rate is not None and sample_rate != c.sample_rate:
            raise AudioError(f"the model expects {c.sample_rate} Hz audio, got {sample_rate} Hz; resample it first")
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)  # (1, samples)
        if waveform.ndim != 2:
            raise AudioError(f"waveform must be (batch, samples), got shape {tuple(waveform.shape)}")
        if waveform.shape[1] < c.patch_samples:
            raise AudioError(
                f"clip of {waveform.shape[1]} samples is shorter than one patch ({c.patch_samples} samples)"
            )
        if waveform.shape[1] > c.clip_samples:
            raise AudioError(f"clip of {waveform.shape[1]} samples is longer than {c.clip_samples}; cut it into crops")
        check_finite(waveform, AudioError, "waveform contains non-finite values (NaN or inf)")
        return waveform

    def embed(
        self, waveform: torch.Tensor, mask: torch.Tensor | None = None, sample_rate: int | None = None
    ) -> torch.Tensor:
        """Pooled clip embeddings (B, d_model). ``mask`` (B, P) marks valid patches (True = keep).

        Masked patches change nothing: attention ignores them, Haar block averages and the final time
        average are taken over valid patches only.
        """
        waveform = self.check_input(waveform, sample_rate)
        x = self.front_end(waveform)  # (B, P, d_model)
        P = x.shape[1]
        if mask is not None:
            if not isinstance(mask, torch.Tensor):
                mask = torch.as_tensor(np.asarray(mask))
            if mask.shape != (x.shape[0], P):
                raise ValueError(f"mask must have shape {(x.shape[0], P)}, got {tuple(mask.shape)}")
            if mask.is_floating_point() and not ((mask == 0) | (mask == 1)).all():
                raise ValueError("mask must be boolean (True = a valid patch) or 0/1")
            mask = mask.bool().to(x.device)
            if not mask.any(1).all():
                raise ValueError("mask marks no valid patch in some batch item; every clip needs at least one")
        x = x + self.position[:, :P]  # (B, P, d_model)
        padding = None if mask is None else ~mask.bool()  # (B, P) True = ignore
        pooled = []
        for i, layer in enumerate(self.layers):
            x = layer(x, src_key_padding_mask=padding)  # (B, P, d_model)
            if i in self.config.pool_layers:
                if self.config.pooling == "haar" and i < len(self.layers) - 1:
                    x = haar_multiscale(x, mask=mask)  # (B, P, d_model), no parameters; padding ignored
                elif self.config.pooling == "intermediate":
                    pooled.append(masked_time_mean(self.norm(x), mask))  # (B, d_model)
        x = self.norm(x)
        if self.config.pooling == "intermediate":
            if len(self.layers) - 1 not in self.config.pool_layers:
                pooled.append(masked_time_mean(x, mask))
            return torch.stack(pooled, 0).mean(0)  # (B, d_model)
        return masked_time_mean(x, mask)  # (B, d_model)

    def forward(
        self, waveform: torch.Tensor, mask: torch.Tensor | None = None, sample_rate: int | None = None
    ) -> torch.Tensor:
        return self.head(self.embed(waveform, mask, sample_rate))  # (B, num_classes)

    def filters(self) -> np.ndarray:
        """The wide layer's weights as (front_hidden, patch_samples) numpy: one row per front-end neuron."""
        return self.front_end.wide.weight.detach().cpu().numpy().copy()


def dft_initialise(front_end: PatchFrontEnd, sample_rate: int = 16000) -> None:
    """Initialise the wide layer with Hann-windowed cosines/sines at linearly spaced frequencies.

    An experiment of the chapter's study: does starting from a DFT-like filterbank help at small scale?
    """
    hidden, patch = front_end.wide.weight.shape
    n = torch.arange(patch, dtype=torch.float32)
    window = torch.hann_window(patch, periodic=False)
    freqs = torch.linspace(0.0, sample_rate / 2, hidden // 2 + 1)[: hidden - hidden // 2]
    cos = torch.cos(2 * torch.pi * freqs[:, None] * n[None] / sample_rate) * window  # (hidden/2, patch)
    sin = torch.sin(2 * torch.pi * freqs[: hidden // 2, None] * n[None] / sample_rate) * window  # (hidden/2, patch)
    weights = torch.cat([cos, sin], 0)[:hidden]  # (hidden, patch)
    weights = weights / weights.norm(dim=1, keepdim=True).clamp_min(1e-6)
    with torch.no_grad():
        front_end.wide.weight.copy_(weights)
        front_end.wide.bias.zero_()
