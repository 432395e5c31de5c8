import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from audioformers.plots import plot_spectrogram, plot_waveform


def test_waveform_axes_have_units():
    ax = plot_waveform(np.sin(np.linspace(0, 10, 800)), 8000, title="t")
    assert ax.get_xlabel() == "time (s)" and ax.get_title() == "t"
    assert ax.get_xlim()[1] == pytest.approx(799 / 8000)


def test_spectrogram_has_colorbar_and_extent():
    ax = plot_spectrogram(np.random.default_rng(0).normal(size=(65, 20)), 16000, hop_length=160)
    assert ax.get_ylabel() == "frequency (Hz)"
    assert ax.get_ylim() == (0.0, 8000.0)
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.figure.axes[1].get_ylabel() == "level (dB)"
    with pytest.raises(ValueError, match="2-D"):
        plot_spectrogram(np.zeros(5), 16000, 160)
    with pytest.raises(ValueError, match="y_axis"):
        plot_spectrogram(np.zeros((2, 2)), 16000, 160, y_axis="bark")
