"""Generation with PyTorch: one decoder per model family, cached or naive, and the sampling loop.

``Decoder(model, cached=True)`` feeds a model one token at a time using its own cache -- WaveNet's queues of
past layer inputs (:meth:`audioformers.models.wavenet.WaveNet.step`) or the transformer's key/value cache
(:meth:`audioformers.models.sample_transformer.SampleTransformer.step`); ``cached=False`` recomputes the model
over exactly the tokens the cache would hold. Both give the same logits (tested), the naive one at the cost of
the whole receptive field or window per sample. :func:`generate` draws with ``torch.multinomial``; the compiled
sampler :mod:`audioformers.models.fast_sampling` runs the same cached arithmetic much faster.

Notebook: ``chapters/03_wavenet_vs_transformer.ipynb``, section "Training both, live".
"""

from __future__ import annotations

import torch
from torch import nn

from audioformers.models.sample_transformer import ConditionedSampleTransformer
from audioformers.models.wavenet import WaveNet


class Decoder:
    """Feeds a model one token at a time and returns the logits for the next one.

    ``cached=True`` uses WaveNet's queues or the transformer's KV cache; ``cached=False`` recomputes the
    model over exactly the tokens the cache would hold (WaveNet: its receptive field; transformers:
    the current window, which restarts from its last half when full, plus the CNN's past).
    """

    def __init__(self, model: nn.Module, cached: bool = True):
        self.model, self.cached = model.eval(), cached
        self.is_wavenet = isinstance(model, WaveNet)
        self.past = model.past_length if isinstance(model, ConditionedSampleTransformer) else 0

    def reset(self, prompt: torch.Tensor) -> torch.Tensor:
        """prompt (B, P) -> logits (B, 256) for the sample after it."""
        if prompt.ndim != 2:
            raise ValueError(f"prompt must have shape (batch, time), got {tuple(prompt.shape)}")
        if prompt.shape[1] <= self.past:
            raise ValueError(f"the prompt must be longer than the conditioning past ({self.past} samples)")
        if prompt.is_floating_point() or prompt.is_complex() or prompt.dtype == torch.bool:
            raise TypeError(f"prompt must hold integer codes, got dtype {prompt.dtype}")
        prompt = prompt.long()  # uint8 mu-law codes too
        self.seq = prompt
        if self.is_wavenet:
            if self.cached:
                self.state = self.model.init_state(prompt.shape[0], prompt.device)
                return self.model.prefill(prompt, self.state)
            return self._naive()
        self.window_start = max(self.past, prompt.shape[1] - self.model.context_length)
        return self._refill()

    def _refill(self) -> torch.Tensor:
        tokens = self.seq[:, self.window_start - self.past :]
        if self.cached:
            self.cache = self.model.init_cache()
            return self.model.prefill(tokens, self.cache)[:, -1]
        return self._naive()

    @torch.no_grad()
    def _naive(self) -> torch.Tensor:
        if self.is_wavenet:
            return self.model(self.seq[:, -self.model.receptive_field :])[:, -1]
        return self.model(self.seq[:, self.window_start - self.past :])[:, -1]

    @torch.no_grad()
    def push(self, token: torch.Tensor) -> torch.Tensor:
        """Append one token per batch item (B,) and return logits (B, 256) for the next."""
        self.seq = torch.cat([self.seq, token[:, None]], dim=1)  # (B, T + 1)
        if self.is_wavenet:
            return self.model.step(token, self.state) if self.cached else self._naive()
        if self.seq.shape[1] - self.window_start > self.model.context_length:
            self.window_start = self.seq.shape[1] - self.model.context_length // 2
            return self._refill()
        return self.model.step(token, self.cache) if self.cached else self._naive()


def sample_logits(logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token per row from softmax(logits / temperature); temperature 0 = argmax."""
    from audioformers.core.checks import check_float

    temperature = check_float("temperature", temperature, minimum=0.0)
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)  # (B, C)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]  # (B,)


@torch.no_grad()
def generate(model: nn.Module, prompt: torch.Tensor, num_samples: int, temperature: float = 1.0,
             seed: int = 0, cached: bool = True, progress: bool = False) -> torch.Tensor:
    """Continue ``prompt`` (B, P) by ``num_samples`` tokens; returns (B, num_samples).

    ``prompt`` may hold any integer dtype (uint8 mu-law codes too); ``num_samples`` and ``seed`` may be
    NumPy integers.
    """
    from audioformers.core.progress import tqdm

    from audioformers.core.checks import check_float, check_int

    num_samples = check_int("num_samples", num_samples, minimum=1)
    temperature = check_float("temperature", temperature, minimum=0.0)
    seed = check_int("seed", seed, minimum=0)
    if not isinstance(prompt, torch.Tensor):
        raise TypeError(f"prompt must be a torch.Tensor of codes, got {type(prompt).__name__}")
    generator = torch.Generator(device=prompt.device).manual_seed(seed)
    decoder = Decoder(model, cached=cached)
    logits = decoder.reset(prompt)
    out = []
    for _ in tqdm(range(num_samples), desc="generating", disable=not progress, leave=False):
        token = sample_logits(logits, temperature, generator)
        out.append(token)
        logits = decoder.push(token)
    return torch.stack(out, dim=1)  # (B, num_samples)
