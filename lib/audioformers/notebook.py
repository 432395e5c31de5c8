"""What every chapter notebook does first and last.

First cell (after the Colab install cell): ``profile, device = notebook.setup()`` prints the
profile and device and sets the plotting defaults. Last cell: ``notebook.provenance()`` prints
the profile, device, package versions, commit and the notebook's wall time.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import device as _device
from .audio_io import check_audio, check_sample_rate, resample
from .plots import setup_matplotlib
from .profiles import get_profile
from .results import git_commit, package_versions

_START: dict[str, float] = {}


def setup(seed: int | None = 0) -> tuple[str, torch.device]:
    """Print and return ``(profile, device)``; seed everything; set plotting defaults."""
    from .seeding import seed_everything

    _START["t"] = time.perf_counter()
    profile = get_profile()
    device = _device.get_device()
    _device.setup_backends(device)
    setup_matplotlib()
    if seed is not None:
        seed_everything(seed)
    print(f"profile: {profile}   device: {_device.describe(device)}   torch {torch.__version__}")
    return profile, device


def provenance() -> dict[str, object]:
    """Print (and return) what produced this notebook's outputs."""
    elapsed = time.perf_counter() - _START["t"] if "t" in _START else float("nan")
    device = _device.get_device()
    info: dict[str, object] = {
        "profile": get_profile(),
        "device": _device.describe(device),
        "commit": git_commit(),
        "wall_time_s": round(elapsed, 1),
        **package_versions(),
    }
    for key, value in info.items():
        print(f"{key}: {value}")
    return info


def audio_player(waveform: np.ndarray, sample_rate: int, max_seconds: float = 3.0, player_rate: int | None = 8000):
    """A short, small ``IPython.display.Audio`` player (at most ``max_seconds``; resampled to keep notebooks light).

    ``player_rate=None`` keeps the original rate (use it where high frequencies are the point).
    """
    from IPython.display import Audio

    waveform = check_audio(waveform)
    sample_rate = check_sample_rate(sample_rate)
    waveform = waveform[: int(max_seconds * sample_rate)]
    if player_rate is not None and player_rate < sample_rate:
        waveform = resample(waveform, sample_rate, player_rate)
        sample_rate = player_rate
    return Audio(np.asarray(waveform, dtype=np.float32), rate=sample_rate, normalize=True)
