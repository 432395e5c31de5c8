"""WaveNet: causal dilated convolutions over 8-bit mu-law samples, and its cached one-sample step.

Each layer is a causal convolution of kernel 2 and dilation 1, 2, 4, ... feeding a gated unit
``tanh(f) * sigmoid(g)``; a 1x1 convolution adds the result back to the layer's input (residual) and
another sends it to the output (skip). Stacks repeat the dilation pattern. The receptive field is

    receptive_field = (kernel_size - 1) * num_stacks * (2**layers_per_stack - 1) + 1

samples, including the current one (van den Oord et al., 2016).

The parameters are those of the convolutions (``conv``, ``residual``, ``skip``, ``head``: the layout of
every trained checkpoint), but the forward pass computes each layer as matrix products in
(batch, time, channel) layout, as the minimal WaveNet of ``bench/references.py`` does (the same speed there,
``bench/bench_ch3.py``; channels-first convolutions measured slower).

Fast generation (Paine et al., 2016, "fast WaveNet"): a layer with dilation ``d`` needs its input
from ``d`` steps ago, so each layer keeps a queue of its last ``d`` inputs; one new sample costs one
matrix-vector product per layer instead of a full convolution over the receptive field.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "One WaveNet layer, built here"
(generation: section "Training both, live"; the compiled sampler is :mod:`audioformers.models.fast_sampling`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from audioformers.core.checks import check_tokens
from audioformers.train.training import count_parameters


@dataclass
class WaveNetConfig:
    num_classes: int = 256  # 8-bit mu-law
    residual_channels: int = 48  # width of the residual stream
    dilation_channels: int = 48  # channels of each gate half (tanh and sigmoid)
    skip_channels: int = 96  # width of the skip sum feeding the output head
    layers_per_stack: int = 8  # dilations 1, 2, ..., 2**(layers_per_stack-1)
    num_stacks: int = 2  # repeats of the dilation pattern
    kernel_size: int = 2  # the classic WaveNet kernel

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_fields

        check_fields(self, positive=("num_classes", "residual_channels", "dilation_channels", "skip_channels",
                                     "layers_per_stack", "num_stacks", "kernel_size"))

    @property
    def dilations(self) -> list[int]:
        return [2**i for i in range(self.layers_per_stack)] * self.num_stacks

    @property
    def receptive_field(self) -> int:
        """Samples (including the current one) that can influence one output."""
        return (self.kernel_size - 1) * sum(self.dilations) + 1


class WaveNetLayer(nn.Module):
    """One gated, dilated, causal layer with residual and skip outputs."""

    def __init__(self, config: WaveNetConfig, dilation: int):
        super().__init__()
        self.dilation = dilation
        self.kernel_size = config.kernel_size
        self.conv = nn.Conv1d(config.residual_channels, 2 * config.dilation_channels, config.kernel_size, dilation=dilation)
        self.residual = nn.Conv1d(config.dilation_channels, config.residual_channels, 1)
        self.skip = nn.Conv1d(config.dilation_channels, config.skip_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, R) -> (x + residual (B, T, R), skip (B, T, S)).

        The causal dilated conv is one matrix product in (batch, time, channel) layout: the K delayed copies of
        the input side by side, oldest first (zeros before the start), times the conv's K taps side by side.
        """
        t, d, k = x.shape[1], self.dilation, self.kernel_size
        padded = F.pad(x, (0, 0, (k - 1) * d, 0))  # (B, T + (K-1)d, R): zeros before the start (causal)
        taps = torch.cat([padded[:, j * d : j * d + t] for j in range(k)], dim=2)  # (B, T, K*R); tap j: (K-1-j)d ago
        weight = self.conv.weight.transpose(1, 2).flatten(1)  # (2D, R, K) -> (2D, K*R), tap blocks side by side
        f, g = F.linear(taps, weight, self.conv.bias).chunk(2, dim=2)  # (B, T, D) each
        z = torch.tanh(f) * torch.sigmoid(g)  # (B, T, D): the gated activation
        residual = F.linear(z, self.residual.weight[:, :, 0], self.residual.bias)  # (B, T, R)
        skip = F.linear(z, self.skip.weight[:, :, 0], self.skip.bias)  # (B, T, S)
        return x + residual, skip

    def fused_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Weights for one-sample steps: conv taps stacked (K*R, 2D), oldest first; bias; residual|skip (D, R+S); bias."""
        w = self.conv.weight  # (2D, R, K); tap K-1 is the current sample
        taps = torch.cat([w[:, :, j].T for j in range(self.kernel_size)], dim=0)  # (K*R, 2D), oldest tap first
        out_w = torch.cat([self.residual.weight[:, :, 0], self.skip.weight[:, :, 0]], dim=0).T  # (D, R+S)
        out_b = torch.cat([self.residual.bias, self.skip.bias])  # (R+S,)
        return taps.contiguous(), self.conv.bias, out_w.contiguous(), out_b

    def step(self, x: torch.Tensor, past: list[torch.Tensor], fused: tuple | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step. x (B, R); ``past[k]`` is this layer's input (k+1)*dilation steps ago."""
        taps, bias, out_w, out_b = fused or self.fused_weights()
        inputs = torch.cat([*reversed(past), x], dim=1)  # (B, K*R), oldest first
        f, g = torch.addmm(bias, inputs, taps).chunk(2, dim=1)  # (B, D) each
        z = torch.tanh(f) * torch.sigmoid(g)  # (B, D)
        out = torch.addmm(out_b, z, out_w)  # (B, R+S)
        r = x.shape[1]
        return x + out[:, :r], out[:, r:]  # (B, R), (B, S)


@dataclass
class WaveNetState:
    """Per-layer queues of past layer inputs for cached generation (ring buffers)."""

    queues: list[torch.Tensor]  # layer i: (B, (K-1)*d_i, R)
    position: int = 0  # samples processed so far
    extras: dict = field(default_factory=dict)


class WaveNet(nn.Module):
    """Next-sample WaveNet: tokens (B, T) in 0..255 -> logits (B, T, 256) for the *next* sample.

    The output at position t depends on tokens t - receptive_field + 1 .. t only.
    Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``.
    """

    def __init__(self, config: WaveNetConfig | None = None):
        super().__init__()
        self.config = config = config or WaveNetConfig()
        if config.kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2, got {config.kernel_size}")
        self.embed = nn.Embedding(config.num_classes, config.residual_channels)  # = 1x1 conv on one-hot
        self.layers = nn.ModuleList(WaveNetLayer(config, d) for d in config.dilations)
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv1d(config.skip_channels, config.skip_channels, 1),
            nn.ReLU(), nn.Conv1d(config.skip_channels, config.num_classes, 1),
        )

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    def num_parameters(self, non_embedding: bool = False) -> int:
        total = count_parameters(self)
        return total - self.embed.weight.numel() if non_embedding else total

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) -> logits (B, T, 256)."""
        tokens = check_tokens("tokens", tokens, self.config.num_classes, ndim=2, host_sync=False)
        return self.forward_embedded(self.embed(tokens))

    def forward_embedded(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded samples (B, T, R) -> logits (B, T, 256): the layers, their skips summed, the head."""
        skip_sum = 0
        for layer in self.layers:
            x, skip = layer(x)  # (B, T, R), (B, T, S)
            skip_sum = skip_sum + skip
        return self.apply_head(skip_sum)

    def apply_head(self, skip_sum: torch.Tensor) -> torch.Tensor:
        """The output head (ReLU, 1x1 conv, ReLU, 1x1 conv) on (..., S) -> (..., 256), as matrix products."""
        first, last = self.head[1], self.head[3]
        hidden = F.linear(F.relu(skip_sum), first.weight.squeeze(2), first.bias)  # (..., S)
        return F.linear(F.relu(hidden), last.weight.squeeze(2), last.bias)  # (..., C)

    # ---- fast generation -------------------------------------------------------------------
    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> WaveNetState:
        """Empty queues (zeros = the causal padding the forward pass uses)."""
        device = device or self.embed.weight.device
        r, k = self.config.residual_channels, self.config.kernel_size
        queues = [torch.zeros(batch_size, (k - 1) * layer.dilation, r, device=device) for layer in self.layers]
        with torch.no_grad():
            fused = [layer.fused_weights() for layer in self.layers]
        return WaveNetState(queues=queues, extras={"fused": fused})

    @torch.no_grad()
    def prefill(self, tokens: torch.Tensor, state: WaveNetState) -> torch.Tensor:
        """Run a prompt (B, P) through the parallel forward pass and fill the queues; logits (B, 256) after it."""
        tokens = check_tokens("tokens", tokens, self.config.num_classes, ndim=2, host_sync=False)
        if state.position != 0:
            raise ValueError("prefill needs a fresh state from init_state()")
        x = self.embed(tokens)  # (B, P, R)
        p = tokens.shape[1]
        skip_sum = 0
        for layer, queue in zip(self.layers, state.queues):
            span = queue.shape[1]
            for t in range(max(0, p - span), p):  # the last `span` inputs, at their ring-buffer slots
                queue[:, t % span] = x[:, t]
            x, skip = layer(x)  # (B, P, R), (B, P, S)
            skip_sum = skip_sum + skip
        state.position = p
        return self.apply_head(skip_sum[:, -1])  # (B, C)

    @torch.no_grad()
    def step(self, token: torch.Tensor, state: WaveNetState) -> torch.Tensor:
        """Feed one token per batch item, (B,) -> logits (B, 256) for the next sample; updates ``state``."""
        from audioformers.core.checks import check_step_token

        token = check_step_token(token, self.config.num_classes)  # range checked on the CPU only
        x = self.embed(token)  # (B, R)
        skip_sum = 0
        t = state.position
        for i, (layer, queue) in enumerate(zip(self.layers, state.queues)):
            d = layer.dilation
            span = queue.shape[1]  # (K-1) * d slots; slot (t mod span) holds the input from `span` steps ago
            # input (k+1)*d steps ago sits at slot (t - (k+1)*d) mod span
            past = [queue[:, (t - (k + 1) * d) % span] for k in range(self.config.kernel_size - 1)]
            new_x, skip = layer.step(x, past, state.extras["fused"][i])  # (B, R), (B, S)
            queue[:, t % span] = x  # store this layer's input for later steps
            x = new_x
            skip_sum = skip_sum + skip
        state.position += 1
        return self.apply_head(skip_sum)  # (B, C)


def dilation_diagram_edges(config: WaveNetConfig, output_time: int | None = None) -> list[list[tuple[int, int]]]:
    """For drawing the dilation diagram: per layer, the (from_time, to_time) edges reaching one output.

    Times are relative to the output sample at ``output_time`` (default: receptive_field - 1).
    """
    t_out = config.receptive_field - 1 if output_time is None else output_time
    needed = {t_out}
    edges_per_layer: list[list[tuple[int, int]]] = []
    for d in reversed(config.dilations):
        edges = []
        below = set()
        for t in needed:
            for k in range(config.kernel_size):
                src = t - k * d
                if src >= 0:
                    edges.append((src, t))
                    below.add(src)
        edges_per_layer.append(edges)
        needed = below
    return list(reversed(edges_per_layer))
