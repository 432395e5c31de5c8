"""A causal transformer that predicts the next audio code; its time-averaged states embed a clip.

The generative half of Verma & Smith (2020), and the "unit language model" of GSLM: the
input is a sequence of k-means codes (see :mod:`audioformers.models.tokenizer`), the target the same
sequence shifted by one. After training, the hidden states of a chosen layer, averaged over
time, are the clip's embedding for a linear probe.

Notebook: chapters/04_textless_audio_lm.ipynb, section 5 "The next-code transformer" (the model written in cells
and checked equal to this one), section 7 "Train it yourself: a tokenizer, a next-code model and a probe" (trained
live) and section 8 "Linear probes over folds of held-out sources" (its states probed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from audioformers.core.device import adamw_options, autocast, borrowed, module_device, resolve


@dataclass
class CodeLMConfig:
    num_codes: int = 64         # vocabulary: the k-means dictionary size
    context_length: int = 50    # longest code sequence (1 s of 20 ms patches)
    width: int = 96             # model width (d_model)
    num_layers: int = 3         # transformer blocks
    num_heads: int = 4          # attention heads (width must divide by it)
    dropout: float = 0.1        # on attention, MLP output and embeddings
    mlp_ratio: int = 4          # MLP hidden width = mlp_ratio * width

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_fields, check_heads

        check_fields(self, positive=("num_codes", "context_length", "width", "num_layers", "num_heads",
                                     "mlp_ratio"), probability=("dropout",))
        check_heads(self)


class Block(nn.Module):
    """Pre-norm transformer block with causal self-attention."""

    def __init__(self, c: CodeLMConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(c.width)
        self.qkv = nn.Linear(c.width, 3 * c.width)
        self.proj = nn.Linear(c.width, c.width)
        self.ln2 = nn.LayerNorm(c.width)
        self.mlp = nn.Sequential(nn.Linear(c.width, c.mlp_ratio * c.width), nn.GELU(),
                                 nn.Linear(c.mlp_ratio * c.width, c.width), nn.Dropout(c.dropout))
        self.num_heads, self.dropout = c.num_heads, c.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape  # (B, T, W)
        q, k, v = self.qkv(self.ln1(x)).split(w, dim=2)  # 3 x (B, T, W)
        q, k, v = (z.view(b, t, self.num_heads, w // self.num_heads).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                             dropout_p=self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        x = x + F.dropout(self.proj(att.transpose(1, 2).reshape(b, t, w)), self.dropout, self.training)  # (B, T, W)
        return x + self.mlp(self.ln2(x))  # (B, T, W)


class CodeLM(nn.Module):
    """GPT-style next-code model.

    Notebook: chapters/04_textless_audio_lm.ipynb, section 5 "The next-code transformer".
    """

    def __init__(self, config: CodeLMConfig = CodeLMConfig()) -> None:
        super().__init__()
        if config.width % config.num_heads:
            raise ValueError(f"width {config.width} is not divisible by num_heads {config.num_heads}")
        self.config = config
        self.token = nn.Embedding(config.num_codes, config.width)
        self.position = nn.Embedding(config.context_length, config.width)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.ln_f = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.num_codes, bias=False)

    def hidden_states(self, codes: torch.Tensor) -> list[torch.Tensor]:
        """Input embedding and the output of every block: ``num_layers + 1`` tensors ``(B, T, W)``."""
        if not isinstance(codes, torch.Tensor):
            raise TypeError(f"codes must be a torch.Tensor, got {type(codes).__name__}")
        if codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
            raise TypeError(f"codes must be integer codes, got dtype {codes.dtype}")
        if codes.ndim != 2 or codes.shape[1] == 0:
            raise ValueError(f"codes must be (batch, time) with time >= 1, got shape {tuple(codes.shape)}")
        codes = codes.long()  # uint8 / int16 / int32 codes too
        b, t = codes.shape
        if t > self.config.context_length:
            raise ValueError(f"sequence of {t} codes is longer than context_length {self.config.context_length}")
        if codes.device.type == "cpu":
            if codes.min() < 0 or codes.max() >= self.config.num_codes:
                raise ValueError(f"codes must lie in [0, {self.config.num_codes}), got [{int(codes.min())}, {int(codes.max())}]")
        else:  # checked on the device, without waiting for it (no host synchronisation per forward)
            torch._assert_async((codes.min() >= 0) & (codes.max() < self.config.num_codes),
                                f"codes must lie in [0, {self.config.num_codes})")
        pos = torch.arange(t, device=codes.device)
        x = self.drop(self.token(codes) + self.position(pos))  # (B, T, W)
        states = [x]
        for block in self.blocks:
            x = block(x)  # (B, T, W)
            states.append(x)
        return states

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Logits for the next code at every position ``(B, T, num_codes)``."""
        return self.head(self.ln_f(self.hidden_states(codes)[-1]))  # (B, T, K)

    def loss(self, codes: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (nats) of predicting ``codes[:, 1:]`` from ``codes[:, :-1]``."""
        if isinstance(codes, torch.Tensor) and codes.ndim == 2 and codes.shape[1] < 2:
            raise ValueError(f"codes need at least 2 steps to predict a next one, got shape {tuple(codes.shape)}")
        logits = self(codes[:, :-1])  # (B, T-1, K)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes[:, 1:].long().reshape(-1))

    @torch.inference_mode()
    def embed(self, codes: torch.Tensor, layer: int = -1, batch_size: int = 512) -> torch.Tensor:
        """Time-averaged hidden state of ``layer`` (0 = input embedding): ``(B, T)`` -> ``(B, W)``, on the model's device."""
        was = self.training
        self.eval()
        out = [self.hidden_states(codes[i:i + batch_size].to(module_device(self)))[layer].mean(1)
               for i in range(0, len(codes), batch_size)]
        self.train(was)
        return torch.cat(out)  # (B, W)


@torch.inference_mode()
def layer_embeddings(model: CodeLM, codes: np.ndarray, batch_size: int = 512,
                     device: torch.device | str | None = None) -> list[np.ndarray]:
    """Every layer's time-averaged states ``(N, W)`` (layer 0 = input embedding) from one pass over ``codes``
    ``(N, T)``, computed on ``device`` (default :func:`audioformers.core.device.get_device`; the model is lent there and
    given back)."""
    device = resolve(device)
    data = torch.as_tensor(np.asarray(codes))
    layers: list[list[torch.Tensor]] = [[] for _ in range(model.config.num_layers + 1)]
    with borrowed(model.eval(), device):
        for i in range(0, len(data), batch_size):
            with autocast(device):
                states = model.hidden_states(data[i:i + batch_size].to(device))
            for layer, h in enumerate(states):
                layers[layer].append(h.float().mean(1))
    return [torch.cat(chunks).cpu().numpy() for chunks in layers]  # (N, W) per layer


def train_code_lm(train_codes: np.ndarray, config: CodeLMConfig, *, steps: int = 1000, batch_size: int = 64,
                  lr: float = 2e-3, weight_decay: float = 0.1, seed: int = 0,
                  test_codes: np.ndarray | None = None, eval_every: int = 0, snapshot_every: int = 0,
                  snapshots: dict | None = None,
                  device: torch.device | str | None = None,
                  model: nn.Module | None = None) -> tuple[CodeLM, dict[str, list[float]]]:
    """Train on code sequences ``(N, T)`` on ``device`` (default :func:`audioformers.core.device.get_device`; the codes
    are checked once, then held there); return the model (on ``device``) and a log of train / test cross-entropy.

    With ``snapshot_every`` and a dict ``snapshots``, a copy of the weights is stored there every
    ``snapshot_every`` steps and at the end (key: the step count). ``model``: train this module (the notebook's
    own next-code model, with ``loss(codes)``) instead of a new ``CodeLM(config)``; the same loop.
    """
    if model is not None and not (isinstance(model, nn.Module) and callable(getattr(model, "loss", None))):
        raise TypeError(f"model must be an nn.Module with a loss(codes) method, got {type(model).__name__}")
    if snapshot_every and snapshots is None:
        raise ValueError("snapshot_every needs a dict `snapshots` to store the weights in")
    from audioformers.train import distributed as dd

    device = resolve(device)
    torch.manual_seed(seed)
    model = (CodeLM(config) if model is None else model).to(device)
    info = dd.current(device)  # under torchrun: each rank trains on its shard of every batch
    dd.prepare(model, info)
    for name, given in (("train_codes", train_codes), ("test_codes", test_codes)):
        if given is not None:
            _check_codes(name, np.asarray(given), config.num_codes)  # once, on the host, not in every forward
    data = torch.from_numpy(np.asarray(train_codes, dtype=np.int64)).to(device)  # (N, T), resident on the device
    test = torch.from_numpy(np.asarray(test_codes, dtype=np.int64)) if test_codes is not None else None
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98),
                            **adamw_options(device))
    gen = torch.Generator().manual_seed(seed)
    log: dict[str, list[float]] = {"step": [], "train_ce": [], "test_ce": []}
    warmup = max(1, steps // 20)
    train_eval = data[torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:512]]  # fixed random subset
    test_eval = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:512]] if test is not None else None
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * min((step + 1) / warmup, 0.5 * (1 + np.cos(np.pi * step / steps)))
        model.train()
        batch = data[torch.randint(0, len(data), (batch_size,), generator=gen).to(device)]
        with autocast(device):
            loss = model.loss(dd.shard(batch, info) if info.enabled else batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dd.average_gradients(model, info)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if eval_every and ((step + 1) % eval_every == 0 or step + 1 == steps):
            log["step"].append(step + 1)
            log["train_ce"].append(evaluate_ce(model, train_eval))
            log["test_ce"].append(evaluate_ce(model, test_eval) if test_eval is not None else float("nan"))
        if snapshot_every and ((step + 1) % snapshot_every == 0 or step + 1 == steps):
            snapshots[step + 1] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.eval()
    return model, log


def _check_codes(name: str, codes: np.ndarray, num_codes: int) -> None:
    if codes.ndim != 2 or codes.shape[0] == 0:
        raise ValueError(f"{name} must be (clips, time) with at least one clip, got shape {codes.shape}")
    if np.issubdtype(codes.dtype, np.floating) or codes.dtype == bool:
        raise TypeError(f"{name} must hold integer codes, got dtype {codes.dtype}")
    if codes.min() < 0 or codes.max() >= num_codes:
        raise ValueError(f"{name} must lie in [0, {num_codes}), got [{int(codes.min())}, {int(codes.max())}]")


@torch.inference_mode()
def evaluate_ce(model: CodeLM, codes: torch.Tensor | np.ndarray) -> float:
    """Mean next-code cross-entropy (nats) in eval mode, on the model's device (one read-back at the end)."""
    device = module_device(model)
    array = np.asarray(codes.cpu() if isinstance(codes, torch.Tensor) else codes)
    _check_codes("codes", array, model.config.num_codes)  # float codes would be truncated silently
    codes = torch.as_tensor(array, dtype=torch.long)
    was = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for i in range(0, len(codes), 512):
        chunk = codes[i:i + 512].to(device)
        with autocast(device):
            total += model.loss(chunk).double() * len(chunk)
    model.train(was)
    return float(total) / len(codes)
