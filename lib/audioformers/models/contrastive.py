"""SimCLR on log-mel spectrograms, and the same small CNN trained with labels.

The contrastive half of Verma & Smith (2020) and its supervised upper line: two augmented views
of each clip are pulled together and pushed away from every other clip in the batch (NT-Xent,
Chen et al. 2020). Augmentations are the kind the lecture names — masked patches and blurring —
plus random crops, gain and an additive noise floor. Time reversal is *off* by default
(``flip_prob=0``): flipping a note in time swaps its attack and its decay, the very cue that tells
an instrument family apart, so a model made invariant to it is taught to ignore the label.

:func:`pooled_embeddings` pools the last feature map over time with mean and standard deviation,
the same pooling chapter 4 gives every other representation.

Notebook: chapters/04_textless_audio_lm.ipynb, section 6 "SimCLR's loss: NT-Xent" (the loss written in cells and
checked equal to :func:`nt_xent`), section 8 "Linear probes over folds of held-out sources" (SimCLR's augmentations, the supervised CNN as the upper line) and "Pre-training: where the ordering could turn".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from audioformers.train import distributed as dd
from audioformers.core.device import adamw_options, autocast, borrowed, resolve
from audioformers.train.training import fit


# --------------------------------------------------------------------------------------------
# Augmentations of a batch of log-mel spectrograms (B, n_mels, frames), natural-log units
# --------------------------------------------------------------------------------------------

def augment(x: torch.Tensor, gen: torch.Generator, crop_frames: int | None = None,
            flip_prob: float = 0.0) -> torch.Tensor:
    """One random view of each spectrogram in ``x`` ``(B, M, T)`` -> ``(B, M, crop_frames or T)``.

    In order: a random crop of ``crop_frames``, a gain of ±1 nat (±4.3 dB), an additive noise floor (half the
    views), a blur along the mel axis (30%), a time reversal (``flip_prob``, default 0: it swaps attack and
    decay), and one masked band of mel bins and one of frames (up to a sixth each, set to the clip's mean).
    """
    if not (isinstance(flip_prob, (int, float)) and 0.0 <= flip_prob <= 1.0):
        raise ValueError(f"flip_prob must be a probability in [0, 1], got {flip_prob!r}")
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, n_mels, frames), got shape {tuple(x.shape)}")
    b, m, t = x.shape
    crop = crop_frames or t
    if crop > t:
        raise ValueError(f"crop_frames {crop} exceeds {t} frames")
    dev = x.device  # random numbers are drawn on the host from ``gen`` (the same on every device), applied on ``dev``
    starts = torch.randint(0, t - crop + 1, (b,), generator=gen).to(dev)
    idx = starts[:, None] + torch.arange(crop, device=dev)[None]  # (B, crop)
    x = torch.gather(x, 2, idx[:, None, :].expand(b, m, crop))  # (B, M, crop) random crop
    x = x + torch.empty(b, 1, 1).uniform_(-1.0, 1.0, generator=gen).to(dev)  # gain: +-1 nat ~ +-4.3 dB
    noise_level = torch.empty(b, 1, 1).uniform_(0, 1, generator=gen) * (torch.rand(b, 1, 1, generator=gen) < 0.5)
    noise = torch.randn(x.shape, generator=gen).to(dev)
    x = torch.logaddexp(x, torch.full_like(x, -8.0) + 3.0 * noise_level.to(dev) + 0.3 * noise)  # additive noise floor
    blur = torch.rand(b, generator=gen) < 0.3
    if blur.any():
        blur = blur.to(dev)
        kernel = torch.tensor([0.25, 0.5, 0.25]).view(1, 1, 3, 1).to(dev, x.dtype)
        x[blur] = F.conv2d(x[blur][:, None], kernel, padding=(1, 0))[:, 0]  # (b', M, crop) blur along mel
    flip = (torch.rand(b, generator=gen) < flip_prob).to(dev)
    x[flip] = x[flip].flip(-1)  # time reversal (off by default)
    for axis, width in ((1, m // 6), (2, crop // 6)):  # mask a band of mel bins, then of frames
        size = torch.randint(0, width + 1, (b,), generator=gen)
        start = (torch.rand(b, generator=gen) * (x.shape[axis] - size + 1)).long()
        pos = torch.arange(x.shape[axis], device=dev)[None]  # (1, L)
        size, start = size.to(dev), start.to(dev)
        mask = (pos >= start[:, None]) & (pos < (start + size)[:, None])  # (B, L)
        mask = mask[:, :, None] if axis == 1 else mask[:, None, :]
        x = torch.where(mask, x.mean(dim=(1, 2), keepdim=True), x)  # masked cells set to the clip's mean
    return x


# --------------------------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------------------------

@dataclass
class CNNConfig:
    n_mels: int = 64           # input mel bands
    channels: tuple[int, ...] = (16, 32, 64, 128)  # conv block widths (each halves time and mel)
    embed_dim: int = 128       # embedding = last channel count after global pooling
    projection_dim: int = 64   # SimCLR projection head output
    num_classes: int = 0       # >0 adds a supervised classification head
    dropout: float = 0.1

    def __post_init__(self) -> None:
        from audioformers.core.checks import check_fields, check_int

        check_fields(self, positive=("n_mels", "embed_dim", "projection_dim"), non_negative=("num_classes",),
                     probability=("dropout",))
        if len(self.channels) == 0:
            raise ValueError("CNNConfig.channels must name at least one conv block width")
        for width in self.channels:
            check_int("CNNConfig.channels", width, minimum=1)


class CNNEncoder(nn.Module):
    """VGG-style: conv-BN-ReLU blocks with 2x2 pooling, global mean+max pooling, an embedding.

    Notebook: chapters/04_textless_audio_lm.ipynb, section 8 "Linear probes over folds of held-out sources".
    """

    def __init__(self, config: CNNConfig = CNNConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        in_ch = 1
        for ch in config.channels:
            layers += [nn.Conv2d(in_ch, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(), nn.MaxPool2d(2)]
            in_ch = ch
        self.features = nn.Sequential(*layers)
        self.embed = nn.Linear(in_ch, config.embed_dim)
        self.projection = nn.Sequential(nn.ReLU(), nn.Linear(config.embed_dim, config.projection_dim))
        self.classifier = (nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.embed_dim, config.num_classes))
                           if config.num_classes > 0 else None)
        self.input_norm = nn.BatchNorm2d(1)

    def _check(self, log_mels: torch.Tensor) -> None:
        from audioformers.core.device import check_finite

        if log_mels.ndim != 3 or log_mels.shape[1] != self.config.n_mels:
            raise ValueError(f"log_mels: expected (batch, {self.config.n_mels}, frames), got {tuple(log_mels.shape)}")
        if log_mels.numel() == 0:
            raise ValueError(f"log_mels is empty (shape {tuple(log_mels.shape)})")
        check_finite(log_mels, ValueError, "log_mels holds NaN or infinite values")

    def forward(self, log_mels: torch.Tensor) -> torch.Tensor:
        """Embedding ``(B, embed_dim)`` of log-mels ``(B, n_mels, frames)`` (the probe reads this)."""
        self._check(log_mels)
        h = self.features(self.input_norm(log_mels[:, None]))  # (B, C, M', T')
        return self.embed(h.mean(dim=(2, 3)))  # (B, E)

    def feature_map(self, log_mels: torch.Tensor) -> torch.Tensor:
        """The last conv block's output averaged over mel: ``(B, n_mels, frames)`` -> ``(B, C, T')``."""
        self._check(log_mels)
        return self.features(self.input_norm(log_mels[:, None])).mean(dim=2)  # (B, C, T')


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """NT-Xent loss of two views ``(B, D)``: each view must pick its partner out of 2B-1 candidates."""
    from audioformers.core.checks import check_float

    temperature = check_float("temperature", temperature, minimum=0.0, strict_minimum=True)
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 1:
        raise ValueError(f"views z1, z2 must both be (batch, dim), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2B, D)
    sim = z @ z.T / temperature  # (2B, 2B)
    sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)  # (2B,)
    return F.cross_entropy(sim, target)


def _check_inputs(log_mels: np.ndarray, batch_size: int, name: str = "log_mels") -> tuple[np.ndarray, int]:
    """Finite ``(N, n_mels, frames)`` float32 log-mels and a batch size >= 1 (a zero or negative one would loop
    forever in :func:`_batches`)."""
    from audioformers.core.checks import check_finite_array, check_int

    batch_size = check_int("batch_size", batch_size, minimum=1)
    return check_finite_array(name, log_mels, ndim=3), batch_size


def _batches(n: int, batch_size: int, gen: torch.Generator):
    while True:
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i:i + batch_size]


def train_simclr(log_mels: np.ndarray, config: CNNConfig, *, steps: int = 500, batch_size: int = 128,
                 lr: float = 2e-3, temperature: float = 0.2, crop_frames: int | None = 80,
                 seed: int = 0, flip_prob: float = 0.0, snapshot_every: int = 0,
                 snapshots: dict | None = None,
                 device: torch.device | str | None = None) -> tuple[CNNEncoder, list[float]]:
    """Self-supervised training on log-mels ``(N, n_mels, frames)`` on ``device`` (default
    :func:`audioformers.core.device.get_device`; the views are drawn on the host, as on the CPU, and copied there);
    returns the encoder (on ``device``) and losses.

    With ``snapshot_every`` and a dict ``snapshots``, a copy of the weights is stored there every
    ``snapshot_every`` steps (key: the step count), for curves of a probe against pre-training steps.
    """
    log_mels, batch_size = _check_inputs(log_mels, batch_size)
    device = resolve(device)
    torch.manual_seed(seed)
    model = CNNEncoder(config)
    data = torch.from_numpy(np.asarray(log_mels, dtype=np.float32))  # (N, M, T)
    resident = data.to(device)  # held on the device; views are cut and augmented there
    gen = torch.Generator().manual_seed(seed)
    batches = _batches(len(data), min(batch_size, len(data)), gen)

    def next_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = resident[next(batches).to(device)]  # (B, M, T)
        return augment(x, gen, crop_frames, flip_prob), augment(x, gen, crop_frames, flip_prob)  # two views

    def loss_fn(m: CNNEncoder, views: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        info = dd.current(device)  # under torchrun: the loss is over the global batch's pairs, as in one process
        z1, z2 = (dd.gather_batch(m.projection(m(v)), info) for v in views)
        return dd.global_loss(nt_xent(z1, z2, temperature), info)

    evaluate = None
    if snapshot_every:
        if snapshots is None:
            raise ValueError("snapshot_every needs a dict `snapshots` to store the weights in")
        counter = {"step": 0}

        def evaluate(m: CNNEncoder) -> dict[str, float]:
            counter["step"] = min(steps, counter["step"] + snapshot_every)
            snapshots[counter["step"]] = {k: v.detach().clone() for k, v in m.state_dict().items()}
            return {}

    history = fit(model, next_batch, loss_fn, steps=steps, lr=lr, weight_decay=1e-4, grad_clip=None,
                  desc="SimCLR", progress=False, evaluate=evaluate, eval_every=snapshot_every, device=device)
    return model, history.train_loss


def _supervised_start(log_mels, labels, config: CNNConfig, seed: int, batch_size: int):
    """The supervised CNN's seeded start: model, data ``(N, M, T)``, labels ``(N,)``, generator, batches."""
    if config.num_classes <= 0:
        raise ValueError("config.num_classes must be positive for supervised training")
    log_mels, batch_size = _check_inputs(log_mels, batch_size)
    torch.manual_seed(seed)
    model = CNNEncoder(config)
    data = torch.from_numpy(np.asarray(log_mels, dtype=np.float32))  # (N, M, T)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))  # (N,)
    gen = torch.Generator().manual_seed(seed)
    return model, data, y, gen, _batches(len(data), min(batch_size, len(data)), gen)


def train_supervised(log_mels: np.ndarray, labels: np.ndarray, config: CNNConfig, *, steps: int = 500,
                     batch_size: int = 64, lr: float = 2e-3, crop_frames: int | None = 80,
                     seed: int = 0, augment_inputs: bool = False,
                     device: torch.device | str | None = None) -> tuple[CNNEncoder, list[float]]:
    """The same CNN trained with cross-entropy on labels (the supervised upper line), on ``device`` (default
    :func:`audioformers.core.device.get_device`)."""
    device = resolve(device)
    model, data, y, gen, batches = _supervised_start(log_mels, labels, config, seed, batch_size)

    def next_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = next(batches)
        x = data[idx].to(device)  # (B, M, T)
        if augment_inputs:
            x = augment(x, gen, crop_frames)
        elif crop_frames:
            s = int(torch.randint(0, x.shape[2] - crop_frames + 1, (1,), generator=gen))
            x = x[:, :, s:s + crop_frames]  # (B, M, crop)
        return x, y[idx].to(device)

    def loss_fn(m: CNNEncoder, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(m.classifier(m(batch[0])), batch[1])

    history = fit(model, next_batch, loss_fn, steps=steps, lr=lr, weight_decay=1e-4, grad_clip=None,
                  desc="supervised CNN", progress=False, device=device)
    return model, history.train_loss


def train_supervised_early_stopping(log_mels: np.ndarray, labels: np.ndarray, val_log_mels: np.ndarray,
                                    val_labels: np.ndarray, config: CNNConfig, *, max_steps: int = 2000,
                                    eval_every: int = 100, patience: int = 3, batch_size: int = 64,
                                    lr: float = 2e-3, crop_frames: int | None = 48,
                                    seed: int = 0, device: torch.device | str | None = None
                                    ) -> tuple[CNNEncoder, dict[str, list[float]]]:
    """The supervised upper line trained to convergence: stop when validation accuracy has not improved for
    ``patience`` evaluations (every ``eval_every`` steps, constant learning rate) and return the weights of
    the best evaluation, with a log ``{"step", "val_accuracy", "train_loss", "best_step"}``. Trains on ``device``
    (default :func:`audioformers.core.device.get_device`); the training losses are read back at each evaluation."""
    from audioformers.core.checks import check_int

    max_steps = check_int("max_steps", max_steps, minimum=1)
    eval_every = check_int("eval_every", eval_every, minimum=1)
    patience = check_int("patience", patience, minimum=1)
    device = resolve(device)
    model, data, y, gen, batches = _supervised_start(log_mels, labels, config, seed, batch_size)
    model.to(device)
    info = dd.current(device)  # under torchrun: each rank trains on its shard of every batch
    dd.prepare(model, info)
    val = torch.from_numpy(np.asarray(val_log_mels, dtype=np.float32)).to(device)
    val_y = torch.from_numpy(np.asarray(val_labels, dtype=np.int64)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4, **adamw_options(device))
    log: dict[str, list[float]] = {"step": [], "val_accuracy": [], "train_loss": []}
    best, best_state, since, losses, pending = -1.0, None, 0, [], []
    for step in range(1, max_steps + 1):
        model.train()
        idx = next(batches)
        x = data[idx]
        if crop_frames and crop_frames < x.shape[2]:
            s = int(torch.randint(0, x.shape[2] - crop_frames + 1, (1,), generator=gen))
            x = x[:, :, s:s + crop_frames]  # (B, M, crop)
        x, target = x.to(device), y[idx].to(device)
        if info.enabled:
            x, target = dd.shard((x, target), info)
        with autocast(device):
            loss = F.cross_entropy(model.classifier(model(x)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dd.average_gradients(model, info)
        opt.step()
        dd.broadcast_state(model, info, buffers_only=True)
        pending.append(dd.all_reduce_mean_tensor(loss.detach(), info))
        if step % eval_every == 0 or step == max_steps:
            losses += torch.stack(pending).float().tolist()  # read back once per evaluation, not once per step
            pending.clear()
            model.eval()
            with torch.inference_mode(), autocast(device):
                pred = torch.cat([model.classifier(model(val[i:i + 256])).argmax(1) for i in range(0, len(val), 256)])
            acc = float((pred == val_y).float().mean())
            log["step"].append(step)
            log["val_accuracy"].append(acc)
            log["train_loss"].append(float(np.mean(losses[-eval_every:])))
            if acc > best:
                best, since = acc, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                log["best_step"] = [step]
            else:
                since += 1
                if since >= patience:
                    break
    model.load_state_dict(best_state)
    model.eval()
    return model, log


@torch.inference_mode()
def pooled_embeddings(model: CNNEncoder, log_mels: np.ndarray, batch_size: int = 256,
                      device: torch.device | str | None = None) -> np.ndarray:
    """Mean and standard deviation over time of the last feature map (averaged over mel):
    ``(N, n_mels, frames)`` -> ``(N, 2C)``, in eval mode, on ``device`` (default
    :func:`audioformers.core.device.get_device`; the model is lent there and given back)."""
    log_mels, batch_size = _check_inputs(log_mels, batch_size)
    device = resolve(device)
    data = torch.from_numpy(np.asarray(log_mels, dtype=np.float32))
    out = []
    with borrowed(model.eval(), device):
        for i in range(0, len(data), batch_size):
            with autocast(device):
                h = model.feature_map(data[i:i + batch_size].to(device)).float()  # (b, C, T')
            out.append(torch.cat([h.mean(2), h.std(2, unbiased=False)], dim=1))
    return torch.cat(out).cpu().numpy()  # (N, 2C)


@torch.inference_mode()
def embed_clips(model: CNNEncoder, log_mels: np.ndarray, batch_size: int = 256,
                device: torch.device | str | None = None) -> np.ndarray:
    """Embeddings ``(N, embed_dim)`` of whole spectrograms ``(N, n_mels, frames)`` in eval mode, on ``device``
    (default :func:`audioformers.core.device.get_device`; the model is lent there and given back)."""
    log_mels, batch_size = _check_inputs(log_mels, batch_size)
    device = resolve(device)
    data = torch.from_numpy(np.asarray(log_mels, dtype=np.float32))
    out = []
    with borrowed(model.eval(), device):
        for i in range(0, len(data), batch_size):
            with autocast(device):
                out.append(model(data[i:i + batch_size].to(device)).float())
    return torch.cat(out).cpu().numpy()
