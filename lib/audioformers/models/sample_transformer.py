"""A GPT-style causal transformer over raw-audio samples, and its CNN-conditioned variant.

Tokens are 8-bit mu-law codes (256 classes). Each sample is embedded, a learned position is added,
and pre-norm blocks of causal self-attention and a feed-forward layer follow; a 256-way head predicts the
next sample. Attention is computed one of two ways (``SampleTransformerConfig.attention``), the same numbers
on the same weights:

* ``"fused"`` (default): ``F.scaled_dot_product_attention``, flash or memory-efficient attention where the
  hardware has it, which never holds the (T, T) score matrix;
* ``"explicit"``: :func:`explicit_attention`, softmax(Q K^T / sqrt(d)) V written out, which holds the (T, T)
  matrix per head: the n^2 memory and time whose cost the chapter measures
  (:func:`audioformers.ch3.experiment.cost_vs_context`).

:class:`ConditionedSampleTransformer` adds a small CNN that reads a longer past (the samples *before*
the attention window, several times its length) and summarises it into one latent vector that is
added to every position: a wider view of the past at the cost of one convolution stack, not an
n^2 attention matrix (Verma & Chafe, 2021). The latent's projection to the model width starts at zero
(``ConditionEncoderConfig.zero_init``), so the conditioned model starts as the plain transformer and
any difference between them is learned, not an accident of initialisation.

Generation uses a key/value cache: each new sample attends to cached keys and values instead of
re-running the whole window. When the window is full, the cache is rebuilt from the last half of
the window (the learned positions only cover ``context_length``).

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "The causal transformer, built here" (the
conditioned variant: "The comparison, at three seeds and four domains"; the cost of explicit attention: section
"Cost: the n² wall"; generation: section "Training both, live").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from audioformers.core.checks import check_tokens
from audioformers.train.training import count_parameters


@dataclass
class SampleTransformerConfig:
    num_classes: int = 256  # 8-bit mu-law
    context_length: int = 256  # samples the attention window holds (and positions learned)
    width: int = 64  # model dimension
    num_layers: int = 4  # transformer blocks
    num_heads: int = 4  # attention heads (width must divide by it)
    mlp_ratio: int = 4  # feed-forward hidden = mlp_ratio * width
    dropout: float = 0.0  # no dropout: our runs are far from over-fitting
    attention: str = "fused"  # "fused" (scaled_dot_product_attention) or "explicit" (the (T, T) matrix held)

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_choice, check_fields, check_heads

        check_fields(self, positive=("num_classes", "context_length", "width", "num_layers", "num_heads",
                                     "mlp_ratio"), probability=("dropout",))
        check_heads(self)
        check_choice("attention", self.attention, ATTENTION)


ATTENTION = ("fused", "explicit")


def causal_mask(queries: int, keys: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (T, S): query i (the last T of S positions) may attend to key j when j <= i + S - T."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril(keys - queries)


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                       dropout_p: float = 0.0) -> torch.Tensor:
    """softmax(q k^T / sqrt(hs)) v with the score matrix written out: q (B, nh, T, hs), k and v (B, nh, S, hs),
    ``mask`` (T, S) True where a query may attend -> (B, nh, T, hs).

    The (B, nh, T, S) scores and their softmax are held in memory (and kept for the backward pass): the n^2
    cost of attention that fused kernels avoid. The same numbers as ``F.scaled_dot_product_attention``.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, nh, T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = F.dropout(scores.softmax(dim=-1), dropout_p) if dropout_p > 0 else scores.softmax(dim=-1)
    return weights @ v  # (B, nh, T, hs)


class Block(nn.Module):
    """Pre-norm block: x + attn(ln(x)); x + mlp(ln(x))."""

    def __init__(self, config: SampleTransformerConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.ln1 = nn.LayerNorm(config.width)
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.proj = nn.Linear(config.width, config.width)
        self.ln2 = nn.LayerNorm(config.width)
        self.mlp = nn.Sequential(
            nn.Linear(config.width, config.mlp_ratio * config.width), nn.GELU(),
            nn.Linear(config.mlp_ratio * config.width, config.width),
        )
        self.dropout = config.dropout
        self.attention = config.attention

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)  # (B, T, C) each
        # strided views, no copy: attention reads them as they are (a copy into contiguous heads measured 2%
        # slower per training step than these views, in wall-clock and in CPU time: bench/bench_ch3.py's setting)
        return tuple(u.view(b, t, self.num_heads, c // self.num_heads).transpose(1, 2) for u in (q, k, v))  # (B, nh, T, hs)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Causal attention of T queries (B, nh, T, hs) over S >= T keys and values, the queries being the last T
        of the S positions (S > T when earlier ones are cached) -> (B, nh, T, hs)."""
        t, s = q.shape[2], k.shape[2]
        dropout = self.dropout if self.training else 0.0
        if self.attention == "explicit":
            return explicit_attention(q, k, v, causal_mask(t, s, q.device), dropout)
        if t == s:  # the whole window: causal among its own positions
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        if t == 1:  # one new query sees every cached key
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(t, s, q.device), dropout_p=dropout)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """x (B, T, C). With ``cache`` (a dict), keys/values are appended to it and attention sees all of them."""
        b, t, c = x.shape
        q, k, v = self._heads(x)  # (B, nh, T, hs)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)  # (B, nh, T_past + T, hs)
                v = torch.cat([cache["v"], v], dim=2)  # (B, nh, T_past + T, hs)
            cache["k"], cache["v"] = k, v
        y = self.attend(q, k, v).transpose(1, 2).reshape(b, t, c)  # (B, T, C)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class SampleTransformer(nn.Module):
    """Causal transformer: tokens (B, T <= context_length) -> logits (B, T, 256) for the next sample.

    Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``.
    """

    def __init__(self, config: SampleTransformerConfig | None = None):
        super().__init__()
        self.config = config = config or SampleTransformerConfig()
        if config.width % config.num_heads:
            raise ValueError(f"width {config.width} must be divisible by num_heads {config.num_heads}")
        self.embed = nn.Embedding(config.num_classes, config.width)
        self.position = nn.Embedding(config.context_length, config.width)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.ln_f = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.num_classes)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    @property
    def context_length(self) -> int:
        return self.config.context_length

    def num_parameters(self, non_embedding: bool = False) -> int:
        total = count_parameters(self)
        if non_embedding:
            total -= self.embed.weight.numel() + self.position.weight.numel()
        return total

    def _check(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        tokens = check_tokens("tokens", tokens, self.config.num_classes, ndim=2, host_sync=False)
        if start + tokens.shape[1] > self.config.context_length:
            raise ValueError(
                f"context of {start + tokens.shape[1]} samples is longer than the position table "
                f"(context_length={self.config.context_length})"
            )
        return tokens

    def forward(self, tokens: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """tokens (B, T); optional ``condition`` (B, C) added to every position."""
        tokens = self._check(tokens)
        return self._run(tokens, 0, condition, None)

    def _run(self, tokens: torch.Tensor, start: int, condition: torch.Tensor | None, caches: list | None) -> torch.Tensor:
        t = tokens.shape[1]
        pos = torch.arange(start, start + t, device=tokens.device)  # (T,)
        x = self.embed(tokens) + self.position(pos)  # (B, T, C)
        if condition is not None:
            x = x + condition[:, None, :]  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))  # (B, T, num_classes)

    # ---- cached generation -----------------------------------------------------------------
    def init_cache(self) -> dict:
        return {"caches": [dict() for _ in self.blocks], "position": 0, "condition": None}

    @torch.no_grad()
    def prefill(self, tokens: torch.Tensor, cache: dict, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Fill a fresh ``cache`` with a prompt (B, T); return logits (B, T, 256)."""
        tokens = self._check(tokens)
        cache.update(self.init_cache())
        cache["condition"] = condition
        logits = self._run(tokens, 0, condition, cache["caches"])
        cache["position"] = tokens.shape[1]
        return logits

    @torch.no_grad()
    def step(self, token: torch.Tensor, cache: dict) -> torch.Tensor:
        """One new token per batch item, (B,) -> logits (B, 256); appends to ``cache``."""
        from audioformers.core.checks import check_step_token

        token = check_step_token(token, self.config.num_classes)  # range checked on the CPU only
        if cache["position"] + 1 > self.config.context_length:
            raise ValueError(f"context of {cache['position'] + 1} samples is longer than the position table "
                             f"(context_length={self.config.context_length})")
        logits = self._run(token.long()[:, None], cache["position"], cache["condition"], cache["caches"])  # (B, 1, C)
        cache["position"] += 1
        return logits[:, 0]


@dataclass
class ConditionEncoderConfig:
    past_length: int = 1024  # samples of past summarised (several times the attention context)
    channels: int = 32  # CNN channels
    num_layers: int = 4  # strided conv layers, each dividing time by `stride`
    stride: int = 4  # down-sampling per layer
    latent_dim: int = 64  # size of the latent code
    zero_init: bool = True  # the projection to the width starts at zero: the model starts as the plain transformer

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_fields

        check_fields(self, positive=("past_length", "channels", "num_layers", "stride", "latent_dim"))


class ConditionEncoder(nn.Module):
    """A strided 1-D CNN: past tokens (B, P) -> latent (B, latent_dim) -> (B, width)."""

    def __init__(self, config: ConditionEncoderConfig, num_classes: int, width: int):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(num_classes, config.channels)
        layers: list[nn.Module] = []
        for _ in range(config.num_layers):
            layers += [nn.Conv1d(config.channels, config.channels, 2 * config.stride, stride=config.stride, padding=config.stride // 2), nn.GELU()]
        self.convs = nn.Sequential(*layers)
        self.to_latent = nn.Linear(config.channels, config.latent_dim)
        self.to_width = nn.Linear(config.latent_dim, width)
        if config.zero_init:  # initialisation parity: the added path contributes nothing until it is trained
            nn.init.zeros_(self.to_width.weight)
            nn.init.zeros_(self.to_width.bias)

    def forward(self, past: torch.Tensor) -> torch.Tensor:
        x = self.embed(past).transpose(1, 2)  # (B, ch, P)
        x = self.convs(x)  # (B, ch, P / stride**L)
        latent = torch.tanh(self.to_latent(x.mean(dim=2)))  # (B, latent_dim)
        return self.to_width(latent)  # (B, width)


class ConditionedSampleTransformer(nn.Module):
    """The sample transformer conditioned on a CNN latent of the ``past_length`` samples before its window.

    Input tokens (B, past_length + T): the first ``past_length`` feed the CNN only; logits (B, T, 256)
    are returned for the last T positions. Every logit depends only on tokens at or before it.
    Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``.
    """

    def __init__(self, config: SampleTransformerConfig | None = None, condition: ConditionEncoderConfig | None = None):
        super().__init__()
        self.transformer = SampleTransformer(config)
        self.config = self.transformer.config
        self.condition_config = condition or ConditionEncoderConfig()
        self.encoder = ConditionEncoder(self.condition_config, self.config.num_classes, self.config.width)

    @property
    def past_length(self) -> int:
        return self.condition_config.past_length

    @property
    def context_length(self) -> int:
        return self.config.context_length

    def num_parameters(self, non_embedding: bool = False) -> int:
        total = count_parameters(self)
        if non_embedding:
            total -= self.encoder.embed.weight.numel()
            total -= self.transformer.embed.weight.numel() + self.transformer.position.weight.numel()
        return total

    def split(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = check_tokens("tokens", tokens, self.config.num_classes, ndim=2, host_sync=False)
        p = self.past_length
        if tokens.shape[1] <= p:
            raise ValueError(f"need more than past_length={p} tokens (past + window), got {tokens.shape[1]}")
        return tokens[:, :p], tokens[:, p:]  # (B, P), (B, T)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        past, window = self.split(tokens)
        return self.transformer(window, condition=self.encoder(past))  # (B, T, C)

    def init_cache(self) -> dict:
        return self.transformer.init_cache()

    @torch.no_grad()
    def prefill(self, tokens: torch.Tensor, cache: dict) -> torch.Tensor:
        past, window = self.split(tokens)
        return self.transformer.prefill(window, cache, condition=self.encoder(past))

    @torch.no_grad()
    def step(self, token: torch.Tensor, cache: dict) -> torch.Tensor:
        return self.transformer.step(token, cache)


def attention_flops_per_token(config: SampleTransformerConfig, training: bool = True) -> float:
    """Causal attention FLOPs per token (scores + weighted sum, half the matrix), x3 for training."""
    per_layer = 2 * 2 * config.context_length * config.width / 2  # QK^T and AV, causal half
    return (3 if training else 1) * config.num_layers * per_layer
