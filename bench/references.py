"""Minimal reference implementations that the package's models are timed against (same sizes, same run).

Written the plain way, independently of the package's code, so that "package / reference" says how much
the package's own structure (checks, layouts, extra ops) costs or saves:

* :class:`NanoGPT`: a nanoGPT-style causal transformer (Karpathy's ``model.py``: token and position
  embeddings, pre-norm blocks with one ``c_attn`` projection and ``scaled_dot_product_attention``, GELU
  MLP, final LayerNorm, untied head with bias as the package's) trained with fused AdamW and gradient
  clipping at 1.0, as nanoGPT's ``train.py`` does;
* :class:`MinimalWaveNet`: WaveNet written as matrix products in (batch, time, channel) layout: one
  ``nn.Linear`` over the two taps side by side, the gate, one ``nn.Linear`` for residual and skip;
* :class:`MinimalPatchTransformer`: chapter 5's patch transformer (two-layer patch front end, learned
  positions, pre-norm encoder blocks with ReLU MLP and dropout 0.1 where ``nn.TransformerEncoderLayer``
  has it, mean pooling, head) with the same fused-QKV blocks.

Only timed, never trained to convergence: they are yardsticks, not models of the book.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, num_heads: int, causal: bool = True, dropout: float = 0.0):
        super().__init__()
        self.c_attn = nn.Linear(width, 3 * width)
        self.c_proj = nn.Linear(width, width)
        self.num_heads, self.causal, self.dropout = num_heads, causal, dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (u.view(b, t, self.num_heads, c // self.num_heads).transpose(1, 2) for u in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class NanoBlock(nn.Module):
    def __init__(self, width: int, num_heads: int, mlp_ratio: int = 4, causal: bool = True, dropout: float = 0.0,
                 activation: str = "gelu"):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, num_heads, causal, dropout)
        self.ln_2 = nn.LayerNorm(width)
        self.c_fc = nn.Linear(width, mlp_ratio * width)
        self.c_proj = nn.Linear(mlp_ratio * width, width)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.drop(self.c_proj(self.drop(self.act(self.c_fc(self.ln_2(x))))))


class NanoGPT(nn.Module):
    """tokens (B, T) -> logits (B, T, vocab)."""

    def __init__(self, vocab: int, context: int, width: int, num_layers: int, num_heads: int):
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(context, width)
        self.h = nn.ModuleList(NanoBlock(width, num_heads) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class MinimalWaveNet(nn.Module):
    """tokens (B, T) -> logits (B, T, 256); kernel 2, dilations ``dilations``."""

    def __init__(self, residual: int, dilation_channels: int, skip: int, dilations: list[int], classes: int = 256):
        super().__init__()
        self.embed = nn.Embedding(classes, residual)
        self.dilations = dilations
        self.taps = nn.ModuleList(nn.Linear(2 * residual, 2 * dilation_channels) for _ in dilations)
        self.outs = nn.ModuleList(nn.Linear(dilation_channels, residual + skip) for _ in dilations)
        self.head1, self.head2 = nn.Linear(skip, skip), nn.Linear(skip, classes)
        self.residual = residual

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)  # (B, T, R)
        t, skip = x.shape[1], 0
        for d, taps, out in zip(self.dilations, self.taps, self.outs):
            past = F.pad(x, (0, 0, d, 0))[:, :t]  # x[t - d], zeros before the start
            f, g = taps(torch.cat([past, x], dim=2)).chunk(2, dim=2)
            o = out(torch.tanh(f) * torch.sigmoid(g))
            x = x + o[..., : self.residual]
            skip = skip + o[..., self.residual :]
        return self.head2(F.relu(self.head1(F.relu(skip))))


class MinimalPatchTransformer(nn.Module):
    """waveform (B, S) -> logits (B, classes): chapter 5's patch transformer, written minimally."""

    def __init__(self, patch: int, hidden: int, width: int, num_patches: int, num_layers: int, num_heads: int,
                 classes: int, dropout: float = 0.1):
        super().__init__()
        self.patch = patch
        self.wide, self.dense = nn.Linear(patch, hidden), nn.Linear(hidden, width)
        self.pos = nn.Parameter(torch.zeros(1, num_patches, width))
        self.h = nn.ModuleList(NanoBlock(width, num_heads, causal=False, dropout=dropout, activation="relu")
                               for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        b, s = wave.shape
        p = s // self.patch
        x = self.dense(F.relu(self.wide(wave[:, : p * self.patch].reshape(b, p, self.patch)))) + self.pos[:, :p]
        for block in self.h:
            x = block(x)
        return self.head(self.ln_f(x).mean(dim=1))


def fused_adamw(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """AdamW with the fused kernel where this PyTorch has it (CPU and CUDA since 2.4), else the default."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(model.parameters(), lr=lr)
