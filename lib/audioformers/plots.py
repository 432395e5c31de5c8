"""Plotting helpers: waveforms and spectrograms with titles, units and colour bars.

Figures are kept small (modest DPI, PNG) so that committed notebooks stay light.
"""

from __future__ import annotations

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .audio_io import check_audio

FIG_DPI = 80


def setup_matplotlib() -> None:
    """Book-wide defaults: small PNG figures, readable fonts, grid off."""
    matplotlib.rcParams.update(
        {
            "figure.dpi": FIG_DPI,
            "savefig.dpi": FIG_DPI,
            "figure.figsize": (8.0, 3.0),
            "font.size": 10,
            "axes.titlesize": 11,
            "figure.autolayout": True,
        }
    )


def _axes(ax: Axes | None, figsize: tuple[float, float] = (8.0, 2.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_waveform(
    waveform: np.ndarray,
    sample_rate: int,
    *,
    ax: Axes | None = None,
    title: str = "Waveform",
    start_s: float = 0.0,
    **line_kwargs,
) -> Axes:
    """Amplitude against time in seconds."""
    waveform = check_audio(waveform)
    ax = _axes(ax)
    t = start_s + np.arange(len(waveform)) / sample_rate
    ax.plot(t, waveform, linewidth=0.7, **line_kwargs)
    ax.set(title=title, xlabel="time (s)", ylabel="amplitude", xlim=(t[0], t[-1]))
    return ax


def plot_spectrogram(
    spectrogram_db: np.ndarray,
    sample_rate: int,
    hop_length: int,
    *,
    ax: Axes | None = None,
    title: str = "Spectrogram",
    y_axis: str = "linear",
    fmin: float = 0.0,
    fmax: float | None = None,
    colorbar_label: str = "level (dB)",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "magma",
) -> Axes:
    """Show a (freq, time) spectrogram in dB with a labelled colour bar.

    ``y_axis``: ``"linear"`` (Hz, bins spaced up to ``fmax`` = Nyquist), ``"mel"`` or ``"log"``/``"cqt"``
    (bin index labelled as such, since those bins are not linear in Hz), or ``"bins"``.
    """
    spectrogram_db = np.asarray(spectrogram_db)
    if spectrogram_db.ndim != 2:
        raise ValueError(f"spectrogram must be 2-D (freq, time), got shape {spectrogram_db.shape}")
    ax = _axes(ax, figsize=(8.0, 3.0))
    n_freq, n_frames = spectrogram_db.shape
    duration = n_frames * hop_length / sample_rate
    if y_axis == "linear":
        top = fmax if fmax is not None else sample_rate / 2
        extent = (0.0, duration, fmin, top)
        ylabel = "frequency (Hz)"
    elif y_axis in ("mel", "log", "cqt", "bins"):
        extent = (0.0, duration, 0, n_freq)
        ylabel = {"mel": "mel band", "log": "log-frequency bin", "cqt": "constant-Q bin", "bins": "bin"}[y_axis]
    else:
        raise ValueError(f"y_axis must be 'linear', 'mel', 'log', 'cqt' or 'bins', got {y_axis!r}")
    image = ax.imshow(spectrogram_db, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set(title=title, xlabel="time (s)", ylabel=ylabel)
    ax.figure.colorbar(image, ax=ax, label=colorbar_label, pad=0.01)
    return ax
