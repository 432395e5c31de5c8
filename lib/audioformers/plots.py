"""The book's figure standard: waveforms and spectrograms with titles, units and colour bars.

Every chapter calls :func:`setup_matplotlib` (through ``notebook.setup()``). The standard:

* readable at the page's width: 100 dpi, an 8-inch default width (about the width of the book's text
  column), fonts at the size of the body text (11 pt);
* axes in units: time in s (or ms), frequency in Hz; log-frequency axes (mel, constant-Q) keep their
  spacing but are labelled in Hz or note names, never in bin numbers;
* colour bars in dB with their reference written out ("dB re max"); a figure of several spectrograms on
  one scale has one shared colour bar (:func:`shared_colorbar`);
* notebook figures are saved as 256-colour palette PNGs, which keeps continuous colour maps and the
  saved notebooks small.

Notebook: ``chapters/01_fourier_spectrograms.ipynb`` (every figure); used by every chapter.
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from audioformers.audio.audio_io import check_audio
from audioformers.core.checks import check_float

FIG_DPI = 100
FONT_SIZE = 11
DB_LABEL = "level (dB re max)"
NOTE_NAMES = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")

RC_PARAMS = {
    "figure.dpi": FIG_DPI,
    "savefig.dpi": FIG_DPI,
    "figure.figsize": (8.0, 3.0),
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "legend.fontsize": FONT_SIZE - 1,
    "figure.titlesize": FONT_SIZE + 1,
    "image.cmap": "magma",
    "figure.autolayout": True,
}


def palette_png(figure: Figure, colors: int = 256) -> bytes:
    """The figure as a palette PNG (at most ``colors`` colours, tight bounding box, white background).

    A continuous colour map has 256 entries, so a 256-colour palette loses next to nothing while the file
    is several times smaller than an RGBA PNG.
    """
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIG_DPI, bbox_inches="tight", facecolor="white")
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=colors, method=Image.Quantize.MAXCOVERAGE,
                                                        dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def setup_matplotlib() -> None:
    """Book-wide defaults (:data:`RC_PARAMS`); in a notebook, figures are shown as palette PNGs."""
    matplotlib.rcParams.update(RC_PARAMS)
    try:
        from IPython import get_ipython
    except ImportError:  # plotting outside IPython: rcParams only
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        plt.close(plt.figure())  # load the inline backend now: it registers its own PNG formatter on loading
        shell.display_formatter.formatters["image/png"].for_type(Figure, palette_png)


def _axes(ax: Axes | None, figsize: tuple[float, float] = (8.0, 2.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def note_name(frequency_hz: float) -> str:
    """The nearest equal-tempered note (A4 = 440 Hz), e.g. ``"C4"`` for 261.6 Hz."""
    if not frequency_hz > 0:
        raise ValueError(f"frequency_hz must be positive, got {frequency_hz!r}")
    midi = int(round(69 + 12 * np.log2(frequency_hz / 440.0)))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


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
    from audioformers.audio.audio_io import check_sample_rate

    waveform = check_audio(waveform)
    sample_rate = check_sample_rate(sample_rate)
    start_s = check_float("start_s", start_s)
    ax = _axes(ax)
    t = start_s + np.arange(len(waveform)) / sample_rate
    ax.plot(t, waveform, linewidth=0.7, **line_kwargs)
    ax.set(title=title, xlabel="time (s)", ylabel="amplitude", xlim=(t[0], t[-1]))
    return ax


def _mel_ticks(n_bands: int, fmin: float, fmax: float) -> tuple[np.ndarray, list[str]]:
    from audioformers.audio.signals import hz_to_mel

    mel_edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_bands + 2)
    candidates = np.array([50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000], dtype=float)
    candidates = candidates[(candidates > fmin) & (candidates < fmax)]
    # Band b is centred at mel_edges[b + 1]; image row b spans [b, b + 1].
    positions = np.interp(hz_to_mel(candidates), mel_edges[1:-1], np.arange(n_bands) + 0.5)
    kept: list[int] = []
    for i in range(len(positions) - 1, -1, -1):  # from the top down, drop ticks closer than 1/12 of the axis
        if not kept or positions[kept[-1]] - positions[i] >= n_bands / 12:
            kept.append(i)
    kept.reverse()
    return positions[kept], [f"{f / 1000:g}k" if f >= 1000 else f"{f:g}" for f in candidates[kept]]


def _cqt_ticks(n_bins: int, fmin: float, bins_per_octave: int) -> tuple[np.ndarray, list[str]]:
    first_c = int(np.ceil(np.log2(fmin / 16.3516) - 1e-9))  # C0 = 16.35 Hz
    freqs = 16.3516 * 2.0 ** np.arange(first_c, first_c + 12)
    positions = bins_per_octave * np.log2(freqs / fmin) + 0.5
    keep = positions < n_bins
    return positions[keep], [f"{note_name(f)}\n{f:.0f}" for f in freqs[keep]]


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
    bins_per_octave: int = 12,
    colorbar: bool = True,
    colorbar_label: str = DB_LABEL,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str | matplotlib.colors.Colormap = "magma",
) -> Axes:
    """Show a (freq, time) spectrogram in dB with a labelled colour bar.

    ``y_axis``: ``"linear"`` (Hz, rows spaced evenly from ``fmin`` to ``fmax``, by default the Nyquist
    frequency); ``"mel"`` (mel bands between ``fmin`` and ``fmax``, labelled in Hz); ``"cqt"`` (constant-Q
    bins from ``fmin`` with ``bins_per_octave``, labelled with the C of each octave and its frequency);
    ``"bins"`` (row index, for what has no frequency axis). ``colorbar=False`` leaves the colour bar to
    :func:`shared_colorbar`.
    """
    spectrogram_db = np.asarray(spectrogram_db)
    if spectrogram_db.ndim != 2:
        raise ValueError(f"spectrogram must be 2-D (freq, time), got shape {spectrogram_db.shape}")
    if y_axis not in ("linear", "mel", "cqt", "bins"):
        raise ValueError(f"y_axis must be 'linear', 'mel', 'cqt' or 'bins', got {y_axis!r}")
    ax = _axes(ax, figsize=(8.0, 3.0))
    n_freq, n_frames = spectrogram_db.shape
    duration = n_frames * hop_length / sample_rate
    top = fmax if fmax is not None else sample_rate / 2
    if y_axis == "linear":
        extent = (0.0, duration, fmin, top)
    else:
        extent = (0.0, duration, 0, n_freq)
    image = ax.imshow(spectrogram_db, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax,
                      interpolation="nearest")
    ax.set(title=title, xlabel="time (s)")
    if y_axis == "linear":
        ax.set_ylabel("frequency (Hz)")
    elif y_axis == "mel":
        positions, labels = _mel_ticks(n_freq, fmin, top)
        ax.set_yticks(positions, labels)
        ax.set_ylabel("frequency (Hz, mel-spaced)")
    elif y_axis == "cqt":
        if not fmin > 0:
            raise ValueError(f"a constant-Q axis needs fmin > 0 (the first bin's frequency), got {fmin}")
        positions, labels = _cqt_ticks(n_freq, fmin, bins_per_octave)
        ax.set_yticks(positions, labels)
        ax.tick_params(axis="y", labelsize=FONT_SIZE - 2)
        ax.set_ylabel("pitch (note, Hz)")
    else:
        ax.set_ylabel("row")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=colorbar_label, pad=0.01)
    return ax


def shared_colorbar(axes: np.ndarray | list[Axes], label: str = DB_LABEL) -> None:
    """One colour bar for several panels drawn on the same scale (the image of the first panel)."""
    axes = list(np.ravel(axes))
    image = axes[0].images[-1]
    figure = axes[0].figure
    figure.set_layout_engine("constrained")  # the tight layout cannot place one colour bar for several axes
    figure.colorbar(image, ax=axes, label=label, pad=0.01, fraction=0.03)


def plot_mfcc(coefficients: np.ndarray, sample_rate: int, hop_length: int, *, ax: Axes | None = None,
              title: str = "MFCCs", first: int = 1, normalise: bool = True) -> Axes:
    """MFCCs ``(n_mfcc, frames)`` from coefficient ``first`` on, on a symmetric diverging scale.

    c0 (the frame's overall level) is left out by default: it would set the colour scale. With ``normalise``
    each coefficient is shown as a z-score over the clip (cepstral mean and variance normalisation, as speech
    recognisers use MFCCs), so that c1, far larger than the others, does not hide them either.
    """
    coefficients = np.asarray(coefficients, dtype=np.float64)
    if coefficients.ndim != 2 or not 0 <= first < coefficients.shape[0]:
        raise ValueError(f"need (n_mfcc, frames) coefficients and 0 <= first < n_mfcc, got {coefficients.shape}, first={first}")
    shown = coefficients[first:]
    if normalise:
        shown = (shown - shown.mean(1, keepdims=True)) / np.maximum(shown.std(1, keepdims=True), 1e-12)
    ax = _axes(ax, figsize=(8.0, 3.0))
    limit = float(np.percentile(np.abs(shown), 99))
    duration = shown.shape[1] * hop_length / sample_rate
    image = ax.imshow(shown, origin="lower", aspect="auto", cmap="coolwarm", vmin=-limit, vmax=limit,
                      extent=(0.0, duration, first - 0.5, coefficients.shape[0] - 0.5), interpolation="nearest")
    ax.set(title=title, xlabel="time (s)", ylabel="coefficient index")
    label = "z-score over the clip" if normalise else "coefficient (dB)"
    ax.figure.colorbar(image, ax=ax, label=label, pad=0.01)
    return ax
