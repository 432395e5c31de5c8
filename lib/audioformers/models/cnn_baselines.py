"""CNN baselines on log-mel spectrograms: a VGG-like stack and a small ResNet.

Both take raw 16 kHz audio (B, samples), compute a 64-band log-mel spectrogram (25 ms windows,
10 ms hop) inside ``forward`` and return one logit per class, so that they can be trained with the
same loop and loss as the raw-waveform transformer.

Notebook: chapters/05_wavelet_audio_transformer.ipynb, section "The model" (``#the-model`` in the web book), where
the baselines are introduced beside the transformer and their parameters counted; section "Transformers against
CNNs" compares them. The chapter's experiments build them through :mod:`audioformers.ch5.models`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from audioformers.audio.audio_io import AudioError
from audioformers.audio.signals import log_mel_spectrogram
from audioformers.core.checks import check_choice, check_fields, check_int
from audioformers.core.device import check_finite

KINDS = ("vgg", "resnet")


@dataclass
class CNNConfig:
    kind: str = "vgg"               # "vgg" (conv-BN-ReLU-pool blocks) | "resnet" (basic residual blocks)
    sample_rate: int = 16000        # Hz
    n_mels: int = 64                # mel bands of the input
    n_fft: int = 400                # 25 ms window
    hop_length: int = 160           # 10 ms hop
    channels: tuple[int, ...] = field(default_factory=lambda: (32, 64, 128, 256))  # per stage
    num_classes: int = 20           # output logits

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_fields(self, positive=("sample_rate", "n_mels", "n_fft", "hop_length", "num_classes"))
        if not self.channels:
            raise ValueError("channels must name at least one stage")
        for width in self.channels:
            check_int("channels", width, minimum=1)


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection (a 1x1 projection when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(c_in, c_out, stride), nn.ReLU(), _conv_bn(c_out, c_out))
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))  # (B, c_out, F', T')


class LogMelCNN(nn.Module):
    """Raw audio (B, samples) -> log-mel (B, 1, n_mels, frames) -> CNN -> global pool -> logits."""

    def __init__(self, config: CNNConfig):
        super().__init__()
        self.config = config
        c = config
        stages: list[nn.Module] = []
        c_in = 1
        for i, c_out in enumerate(c.channels):
            if c.kind == "vgg":
                stages += [_conv_bn(c_in, c_out), nn.ReLU(), nn.MaxPool2d(2)]
            else:
                stages.append(BasicBlock(c_in, c_out, stride=2))  # halve time and frequency per stage
            c_in = c_out
        self.features = nn.Sequential(*stages)
        self.input_norm = nn.BatchNorm2d(1)
        self.head = nn.Linear(c_in, c.num_classes)

    def check_input(self, waveform: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        if sample_rate is not None and sample_rate != self.config.sample_rate:
            raise AudioError(f"the model expects {self.config.sample_rate} Hz audio, got {sample_rate} Hz")
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)  # (1, samples)
        if waveform.ndim != 2 or waveform.shape[1] < self.config.n_fft:
            raise AudioError(f"waveform must be (batch, >= {self.config.n_fft} samples), got {tuple(waveform.shape)}")
        check_finite(waveform, AudioError, "waveform contains non-finite values (NaN or inf)")
        return waveform

    def forward(self, waveform: torch.Tensor, mask: torch.Tensor | None = None, sample_rate: int | None = None) -> torch.Tensor:
        waveform = self.check_input(waveform, sample_rate)
        c = self.config
        spec = log_mel_spectrogram(waveform, c.sample_rate, c.n_fft, c.hop_length, c.n_mels)  # (B, n_mels, frames)
        x = self.input_norm(spec.unsqueeze(1))  # (B, 1, n_mels, frames)
        x = self.features(x)  # (B, C, F', T')
        x = x.amax(dim=2).mean(dim=2)  # (B, C): max over frequency, mean over time
        return self.head(x)  # (B, num_classes)
