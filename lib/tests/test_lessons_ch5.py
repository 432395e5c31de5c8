"""Chapter 5 as a lesson (#30): the model written in the notebook's cells is the package's model.

The cells tagged ``lesson-model`` in the committed notebook are extracted and executed; each class or function
they define is given the package model's weights (or the same start) and must give the same outputs. The
chapter's other promises are checked on the committed notebook too: a displayed equation above every lesson
model, the live training sized by the profile and timed, at most 10 visible output lines carrying a verdict
word, every model name of the chapter's tables defined in its text (``transformer-dft`` included), and no
development history in the reader's text.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import cell_source, cell_tags, notebook_cells, outputs_text, verdict_lines
from audioformers import data
from audioformers.ch5 import live
from audioformers.ch5.config import MODELS, RunConfig
from audioformers.ch5.models import build_model
from audioformers.models import wavelet_transformer as wt

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "05_wavelet_audio_transformer.ipynb"


def _cells() -> list[dict]:
    return notebook_cells(NOTEBOOK)


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The namespace of the notebook's ``lesson-model`` cells, executed in order with the notebook's imports."""
    namespace = {"np": np, "torch": torch, "nn": nn, "F": F, "math": math, "wt": wt}
    cells = [c for c in _cells() if c["cell_type"] == "code" and "lesson-model" in cell_tags(c)]
    assert len(cells) >= 5, "the chapter's model must be written in cells tagged lesson-model"
    for cell in cells:
        exec(compile(cell_source(cell), f"{NOTEBOOK.name}:lesson-model", "exec"), namespace)
    return namespace


def test_every_lesson_model_is_defined(lesson):
    for name in ("PatchFrontEnd", "SelfAttention", "EncoderBlock", "WaveletAudioTransformer"):
        assert issubclass(lesson[name], nn.Module), name
    for name in ("attention", "haar_window_sizes", "haar_multiscale", "dft_initialise", "build_transformer"):
        assert callable(lesson[name]), name


def test_the_notebook_front_end_is_the_package_front_end(lesson):
    torch.manual_seed(0)
    package = wt.PatchFrontEnd(40, 16, 8)
    ours = lesson["PatchFrontEnd"](40, 16, 8)
    ours.load_state_dict(package.state_dict())
    waveform = torch.randn(3, 170)  # 4 patches and a ragged tail of 10 samples
    torch.testing.assert_close(ours(waveform), package(waveform))
    assert ours(waveform).shape == (3, 4, 8)


def test_the_notebook_attention_is_scaled_dot_product_attention_without_a_mask(lesson):
    q, k, v = (torch.randn(2, 4, 7, 5, generator=torch.Generator().manual_seed(i)) for i in range(3))
    torch.testing.assert_close(lesson["attention"](q, k, v), F.scaled_dot_product_attention(q, k, v))
    # no mask: changing the last position changes the first position's output
    k2 = k.clone()
    k2[:, :, -1] += 3.0
    assert not torch.allclose(lesson["attention"](q, k2, v)[:, :, 0], lesson["attention"](q, k, v)[:, :, 0])


def test_the_notebook_block_is_torchs_pre_norm_encoder_layer(lesson):
    torch.manual_seed(0)
    package = nn.TransformerEncoderLayer(16, 4, 32, 0.1, batch_first=True, norm_first=True).eval()
    ours = lesson["EncoderBlock"](16, 4, 32, 0.1).eval()
    ours.load_state_dict(package.state_dict())  # strict: the same parameter names and shapes
    z = torch.randn(3, 9, 16)
    with torch.no_grad():
        torch.testing.assert_close(ours(z), package(z), atol=1e-5, rtol=1e-5)


def test_the_notebook_haar_pooling_is_the_package_haar_pooling(lesson):
    for shape in ((2, 40, 64), (1, 32, 6), (3, 7, 5), (2, 1, 3), (1, 13, 40)):
        z = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=torch.float64)
        torch.testing.assert_close(lesson["haar_multiscale"](z), wt.haar_multiscale(z))
    for n in (1, 2, 3, 8, 40, 41):
        assert lesson["haar_window_sizes"](n) == wt.haar_window_sizes(n)


@pytest.mark.parametrize("name", [m for m in MODELS if m.startswith("transformer-")])
def test_the_notebook_transformer_is_the_package_transformer(lesson, name):
    """Each of the chapter's transformers, built by the notebook and by the package (ch5.models.build_model, what
    the experiments train), has the same config and parameter names, and gives the same logits from the same
    weights; transformer-dft starts from the same DFT weights before any copy."""
    torch.manual_seed(0)
    package = build_model(RunConfig(model=name, front_hidden=96), 5).eval()
    ours = lesson["build_transformer"](name, 5, front_hidden=96).eval()
    assert ours.config == package.config
    if name == "transformer-dft":
        torch.testing.assert_close(ours.front_end.wide.weight, package.front_end.wide.weight)
        torch.testing.assert_close(ours.front_end.wide.bias, package.front_end.wide.bias)
    ours.load_state_dict(package.state_dict())
    waveform = torch.randn(3, 16000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(waveform), package(waveform), atol=1e-5, rtol=1e-5)
        assert ours(waveform[:, :8000]).shape == (3, 5)  # a shorter clip: fewer patches, same head


def test_the_notebook_dft_start_is_the_package_dft_start_for_odd_widths(lesson):
    for hidden in (7, 64):
        package, ours = wt.PatchFrontEnd(400, hidden, 8), lesson["PatchFrontEnd"](400, hidden, 8)
        wt.dft_initialise(package)
        lesson["dft_initialise"](ours)
        torch.testing.assert_close(ours.wide.weight, package.wide.weight)


def test_the_live_training_trains_the_notebook_model_as_the_package_trains_its_own(lesson, monkeypatch):
    """train_live(notebook model) and train_live(package model with the same start) end with the same weights:
    the lesson's model, trained by the chapter's loop, is the experiment's model (dropout 0, so no random mask).

    Both run in float64 (the task's audio and targets too). In float32 the two models' pre-activations agree only
    to about 1e-7, and on real audio one of them can sit that close to a ReLU's kink: with torch's basic CPU kernels
    it fell on opposite sides in the two models, one unit's whole gradient differed, and Adam carried it into
    every later layer. The test compares the code, not which way float32 rounding falls."""
    from audioformers.ch5 import tasks

    def in_float64(*args, **kwargs):
        task = tasks.load_task(*args, **kwargs)
        return {k: v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype == np.float32 else v
                for k, v in task.items()}
    monkeypatch.setattr(live, "load_task", in_float64)
    sizes = {**live.live_sizes("smoke"), "steps": 3, "eval_every": 3}
    classes = len(data.metadata("soundmix-mini")["classes"])  # the live task's classes
    config = wt.WaveletTransformerConfig(front_hidden=32, num_layers=2, num_classes=classes, pooling="haar",
                                         pool_layers=(0,), dropout=0.0)
    torch.manual_seed(0)
    package = wt.WaveletAudioTransformer(config).double()
    ours = lesson["WaveletAudioTransformer"](config).double()
    ours.load_state_dict(package.state_dict())
    a = live.train_live(ours, profile="smoke", device="cpu", sizes=sizes)
    b = live.train_live(package, profile="smoke", device="cpu", sizes=sizes)
    theirs = package.state_dict()
    width = config.d_model
    for name, x in ours.state_dict().items():
        y = theirs[name]
        if name.endswith("in_proj_bias"):  # the key bias: its gradient is 0 in exact arithmetic (the softmax of a
            # row ignores a constant added to every score), so Adam turns rounding noise into steps far below lr
            torch.testing.assert_close(x[width:2 * width], y[width:2 * width], atol=1e-4, rtol=0, msg=name)
            x, y = torch.cat([x[:width], x[2 * width:]]), torch.cat([y[:width], y[2 * width:]])
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4, msg=name)
    assert a["steps"] == [3] and len(a["map"]) == 1 and 0.0 <= a["map"][0] <= 1.0
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    assert a["initial_filters"].shape == a["trained_filters"].shape == (32, 400)
    assert not np.allclose(a["initial_filters"], a["trained_filters"])
    curves = live.filterbank_curves(a["initial_filters"], a["trained_filters"], np.random.default_rng(0)
                                    .standard_normal((3, 16000)))
    assert all(len(v) == 32 for v in curves.values()) and np.all(np.diff(curves["trained"]) >= 0)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        live.train_live("model", profile="smoke", device="cpu")


def test_live_sizes_come_from_the_profile():
    smoke, book = live.live_sizes("smoke"), live.live_sizes("book")
    assert smoke["steps"] < book["steps"] and smoke["front_hidden"] < book["front_hidden"]
    with pytest.raises(ValueError, match="unknown profile"):
        live.live_sizes("huge")
    with pytest.raises(ValueError, match="initial .* and trained .* must have one shape"):
        live.filterbank_curves(np.zeros((4, 10)), np.zeros((5, 10)), np.zeros((1, 2048)))


# --- the chapter as a lesson --------------------------------------------------------------------------------

def test_every_lesson_model_cell_follows_a_displayed_equation():
    cells = _cells()
    for i, cell in enumerate(cells):
        if "lesson-model" not in cell_tags(cell):
            continue
        before = [cell_source(c) for c in cells[:i] if c["cell_type"] == "markdown"][-2:]
        assert any("$$" in text for text in before), f"lesson-model cell {i} has no displayed equation above it"


def test_the_attention_equation_is_displayed_without_a_mask():
    text = " ".join(cell_source(c) for c in _cells() if c["cell_type"] == "markdown")
    assert re.search(r"\\mathrm\{softmax\}\\!\\left\(\\frac\{Q K\^\\top\}\{\\sqrt\{d_k\}\}\\right\) V", text)
    assert "no mask" in text.lower()




def test_the_live_training_is_sized_by_the_profile_and_reports_its_wall_time():
    text = "\n".join(cell_source(c) for c in _cells() if c["cell_type"] == "code")
    assert "live.live_sizes(profile)" in text and "live.train_live(live_model, profile=profile, device=device)" in text
    assert 'build_transformer("transformer-haar"' in text  # the notebook's own model, not the package's class
    match = re.search(r"live training \(.*\): (\d+) s wall time", outputs_text(_cells()))
    assert match, "the live training prints its wall time"
    assert int(match.group(1)) <= 180, f"the live training took {match.group(1)} s (limit 180 s)"


def test_at_most_ten_visible_verdict_lines():
    lines = verdict_lines(_cells())
    assert len(lines) <= 10, f"{len(lines)} visible verdict lines:\n" + "\n".join(lines)


def test_verdict_line_count_sees_visible_lines_and_skips_hidden_ones():
    cell = {"cell_type": "code", "metadata": {}, "outputs": [{"text": "a: reversed\nb\nc: not yet evidence\n"}]}
    hidden = {**cell, "metadata": {"tags": ["hide-output"]}}
    assert len(verdict_lines([cell])) == 2 and verdict_lines([hidden]) == []


def test_no_development_history_in_the_text():
    text = " ".join(cell_source(c) for c in _cells() if c["cell_type"] == "markdown")
    for phrase in ("an earlier version", "was withdrawn", "partial run", "were added after", "first planned",
                   "earlier one-seed study"):
        assert phrase not in text, phrase


def test_every_model_name_in_the_chapters_tables_is_defined_before_the_first_table():
    """#30: transformer-dft (the model behind verdict 5a) and every other model the tables name is defined, in
    bold, in the text before the first cell that prints a table of models."""
    cells = _cells()
    first = next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and "summary.items()" in cell_source(c))
    defined = " ".join(cell_source(c) for c in cells[:first] if c["cell_type"] == "markdown")
    missing = [m for m in MODELS if f"**`{m}`**" not in defined]
    assert not missing, f"not defined before the tables: {missing}"
    assert "DFT" in defined.split("**`transformer-dft`**", 1)[1][:200]


def test_what_we_found_is_generated_and_near_the_end():
    cells = _cells()
    headings = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "What we found" in cell_source(c)
                and cell_source(c).lstrip().startswith("## What we found")]
    assert headings, "a section titled 'What we found'"
    i = headings[0]
    following = "".join(cell_source(c) for c in cells[i:i + 8])
    for call in ("findings.findings_markdown(profile)", "findings.findings_table_markdown(profile)",
                 "findings.plot_findings(axes, profile)", "report.chapter_verdicts(5, profile)"):
        assert call in following, call
    assert i > len(cells) // 2
