import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from audioformers import notebook, plots


def test_waveform_axes_have_units():
    ax = plots.plot_waveform(np.sin(np.linspace(0, 10, 800)), 8000, title="t")
    assert ax.get_xlabel() == "time (s)" and ax.get_title() == "t"
    assert ax.get_xlim()[1] == pytest.approx(799 / 8000)


def test_spectrogram_has_colorbar_with_its_reference_and_extent():
    ax = plots.plot_spectrogram(np.random.default_rng(0).normal(size=(65, 20)), 16000, hop_length=160)
    assert ax.get_ylabel() == "frequency (Hz)"
    assert ax.get_ylim() == (0.0, 8000.0)
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.figure.axes[1].get_ylabel() == "level (dB re max)"
    with pytest.raises(ValueError, match="2-D"):
        plots.plot_spectrogram(np.zeros(5), 16000, 160)
    with pytest.raises(ValueError, match="y_axis"):
        plots.plot_spectrogram(np.zeros((2, 2)), 16000, 160, y_axis="bark")
    plt.close("all")


def test_mel_axis_is_labelled_in_hz_at_the_right_bands():
    from audioformers.audio.signals import hz_to_mel, mel_to_hz

    ax = plots.plot_spectrogram(np.zeros((64, 10)), 16000, 160, y_axis="mel")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "1k" in labels and "Hz" in ax.get_ylabel()
    assert np.all(np.diff(ax.get_yticks()) >= 64 / 12)  # no crowded ticks at the bottom
    position = ax.get_yticks()[labels.index("1k")]
    centres = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(8000), 66))[1:-1]
    assert centres[int(position)] == pytest.approx(1000, rel=0.05)  # row int(position) is the band near 1 kHz
    plt.close("all")


def test_cqt_axis_is_labelled_with_notes():
    ax = plots.plot_spectrogram(np.zeros((84, 10)), 16000, 256, y_axis="cqt", fmin=32.70)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("C1") and labels[3].startswith("C4") and "262" in labels[3]
    assert ax.get_yticks()[3] == pytest.approx(36.5, abs=0.01)  # C4 is bin 36 (three octaves of 12 bins above C1)
    with pytest.raises(ValueError, match="fmin"):
        plots.plot_spectrogram(np.zeros((84, 10)), 16000, 256, y_axis="cqt")
    plt.close("all")


def test_note_names():
    assert plots.note_name(440.0) == "A4" and plots.note_name(261.63) == "C4" and plots.note_name(32.70) == "C1"
    with pytest.raises(ValueError, match="positive"):
        plots.note_name(0)


def test_shared_colorbar_is_one_for_all_panels():
    fig, axes = plt.subplots(1, 3)
    for ax in axes:
        plots.plot_spectrogram(np.zeros((10, 10)), 16000, 160, ax=ax, colorbar=False, vmin=-80, vmax=0)
    plots.shared_colorbar(axes)
    assert len(fig.axes) == 4 and fig.axes[-1].get_ylabel() == plots.DB_LABEL
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not compatible with tight_layout" warning when drawn
        fig.canvas.draw()
    plt.close("all")


def test_mfcc_plot_drops_c0_and_is_symmetric():
    coefficients = np.vstack([np.full((1, 50), -400.0), np.random.default_rng(0).normal(size=(12, 50))])
    coefficients[1] = 150 + coefficients[1]  # c1 far from the others
    ax = plots.plot_mfcc(coefficients, 16000, 160, normalise=False)
    low, high = ax.images[0].get_clim()
    assert low == -high and 100 < high < 200  # c0 (-400) does not set the scale
    assert ax.get_ylim() == (0.5, 12.5)
    shown = plots.plot_mfcc(coefficients, 16000, 160).images[0].get_array()
    assert np.allclose(shown.mean(1), 0) and np.allclose(shown.std(1), 1)  # each coefficient as a z-score
    plt.close("all")


def test_setup_sets_readable_figures_and_palette_png_is_small():
    plots.setup_matplotlib()
    assert matplotlib.rcParams["figure.dpi"] >= 100 and matplotlib.rcParams["font.size"] >= 10
    fig, ax = plt.subplots()
    ax.imshow(np.random.default_rng(0).normal(size=(100, 200)), cmap="magma")
    png = plots.palette_png(fig)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P" and image.size[0] >= 500
    rgba = io.BytesIO()
    fig.savefig(rgba, format="png", bbox_inches="tight")
    assert len(png) < len(rgba.getvalue())
    plt.close("all")


def test_audio_player_is_labelled_flac_at_the_original_rate():
    import base64

    import soundfile

    tone = 0.1 * np.sin(2 * np.pi * 6000 * np.arange(16000) / 16000)
    player = notebook.audio_player(tone, 16000, max_seconds=0.5, label="6 kHz <tone>")
    html = player._repr_html_()
    assert "6 kHz &lt;tone&gt;" in html and "audio/flac" in html
    data = base64.b64decode(html.split("base64,")[1].split('"')[0])
    decoded, rate = soundfile.read(io.BytesIO(data))
    assert rate == 16000 and len(decoded) == 8000  # original rate kept, cut to max_seconds
    assert np.abs(decoded).max() == pytest.approx(1.0, abs=1e-3)  # normalised
    assert "6 kHz" in repr(player)
    assert notebook.audio_player(tone, 16000, player_rate=8000).sample_rate == 8000
    with pytest.raises(ValueError, match="normalize"):
        notebook.audio_player(2 * tone / tone.max(), 16000, normalize=False)


@pytest.mark.parametrize("kwargs, name", [({"max_seconds": float("inf")}, "max_seconds"), ({"max_seconds": 0}, "max_seconds"),
                                          ({"player_rate": -1}, "player_rate"), ({"player_rate": 2.5}, "player_rate")])
def test_audio_player_names_a_bad_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        notebook.audio_player(np.zeros(800, np.float32), 8000, **kwargs)


@pytest.mark.parametrize("start_s", [float("nan"), float("inf")])
def test_waveform_start_must_be_finite(start_s):
    with pytest.raises(ValueError, match="start_s"):
        plots.plot_waveform(np.zeros(80, np.float32), 8000, start_s=start_s)
    plt.close("all")


def test_audio_table_has_a_player_per_cell():
    tone = np.sin(np.arange(800) / 5)
    table = notebook.audio_table({"2 bits": {"uniform": tone, "mu-law": tone}, "8 bits": {"uniform": tone}}, 8000, title="ladder")
    html = table._repr_html_()
    assert html.count("<audio") == 3 and "ladder" in html and "mu-law" in html
    with pytest.raises(ValueError, match="empty"):
        notebook.audio_table({}, 8000)
