"""What every chapter notebook does first and last.

First cell (after the Colab install cell): ``profile, device = notebook.setup()`` prints the
profile and device and sets the plotting defaults. Last cell: ``notebook.provenance()`` prints
the profile, device, package versions, commit and the notebook's wall time.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from audioformers.core import device as _device
from audioformers.audio.audio_io import check_audio, check_sample_rate, resample
from audioformers.plots import setup_matplotlib
from audioformers.core.checks import check_float
from audioformers.core.profiles import get_profile
from audioformers.core.results import git_commit, package_versions

_START: dict[str, float] = {}


def setup(seed: int | None = 0) -> tuple[str, torch.device]:
    """Print and return ``(profile, device)``; seed everything; set plotting defaults."""
    from audioformers.core.seeding import seed_everything

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


class AudioPlayer:
    """A labelled audio player: HTML ``<audio>`` with the sound embedded as FLAC (lossless, about half the
    size of WAV; far less for coarsely quantised audio), and a caption above it."""

    def __init__(self, waveform: np.ndarray, sample_rate: int, label: str = "") -> None:
        self.waveform, self.sample_rate, self.label = waveform, sample_rate, label

    def flac_bytes(self) -> bytes:
        import io

        import soundfile

        buffer = io.BytesIO()
        soundfile.write(buffer, self.waveform, self.sample_rate, format="FLAC", subtype="PCM_16")
        return buffer.getvalue()

    def _audio_tag(self) -> str:
        import base64

        data = base64.b64encode(self.flac_bytes()).decode("ascii")
        return f'<audio controls preload="none" src="data:audio/flac;base64,{data}"></audio>'

    def _repr_html_(self) -> str:
        import html

        caption = f'<div style="font-size:90%">{html.escape(self.label)}</div>' if self.label else ""
        return f'<div style="margin:0.2em 0">{caption}{self._audio_tag()}</div>'

    def __repr__(self) -> str:
        seconds = len(self.waveform) / self.sample_rate
        return f"audio player: {self.label or 'unlabelled'} ({seconds:.1f} s at {self.sample_rate} Hz)"


def _prepare(waveform: np.ndarray, sample_rate: int, max_seconds: float, player_rate: int | None,
             normalize: bool) -> tuple[np.ndarray, int]:
    waveform = check_audio(waveform)
    sample_rate = check_sample_rate(sample_rate)
    max_seconds = check_float("max_seconds", max_seconds, minimum=0.0, strict_minimum=True)
    if player_rate is not None:
        player_rate = check_sample_rate(player_rate, "player_rate")
    waveform = waveform[: int(max_seconds * sample_rate)]
    if player_rate is not None and player_rate < sample_rate:
        waveform = resample(waveform, sample_rate, player_rate)
        sample_rate = player_rate
    waveform = np.asarray(waveform, dtype=np.float64)
    peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    if normalize and peak > 0:
        waveform = waveform / peak
    elif peak > 1:
        raise ValueError(f"waveform peaks at {peak:.3g} > 1: pass normalize=True or scale it")
    return waveform.astype(np.float32), sample_rate


def audio_player(waveform: np.ndarray, sample_rate: int, max_seconds: float = 3.0, player_rate: int | None = None,
                 label: str = "", normalize: bool = True) -> AudioPlayer:
    """A short, labelled audio player (at most ``max_seconds``), embedded as lossless FLAC.

    The sound keeps its own rate unless ``player_rate`` is lower (then it is resampled: only for sounds
    with nothing above ``player_rate / 2`` that matters). ``normalize`` scales the peak to full scale, so
    that players compare noise and distortion, not loudness; ``normalize=False`` keeps the level.
    """
    waveform, sample_rate = _prepare(waveform, sample_rate, max_seconds, player_rate, normalize)
    return AudioPlayer(waveform, sample_rate, label)


class AudioTable:
    """Players laid out in a table: one row per label, one column per version."""

    def __init__(self, rows: dict[str, dict[str, AudioPlayer]], title: str = "") -> None:
        self.rows, self.title = rows, title

    def _repr_html_(self) -> str:
        import html

        columns = list(dict.fromkeys(c for row in self.rows.values() for c in row))
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            f"<tr><th>{html.escape(r)}</th>" + "".join(f"<td>{row[c]._audio_tag() if c in row else ''}</td>" for c in columns) + "</tr>"
            for r, row in self.rows.items())
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f'<table style="font-size:90%">{caption}<tr><th></th>{head}</tr>{body}</table>'

    def __repr__(self) -> str:
        return f"audio table: {self.title or 'untitled'} ({len(self.rows)} rows)"


def audio_table(rows: dict[str, dict[str, np.ndarray]], sample_rate: int, title: str = "", max_seconds: float = 2.0,
                normalize: bool = True, player_rate: int | None = None) -> AudioTable:
    """A table of players: ``rows[row_label][column_label] = waveform`` (all at ``sample_rate``; ``player_rate``
    as in :func:`audio_player`)."""
    if not rows:
        raise ValueError("rows is empty: give at least one row of waveforms")
    return AudioTable({r: {c: audio_player(w, sample_rate, max_seconds, player_rate, label=f"{r}, {c}", normalize=normalize)
                           for c, w in row.items()} for r, row in rows.items()}, title)
