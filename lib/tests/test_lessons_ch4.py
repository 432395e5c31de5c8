"""Chapter 4 as a lesson (#30): the models written in the notebook's cells are the package's models.

The cells tagged ``lesson-model`` in the committed notebook are extracted and executed; each class or function
they define is given the package model's weights (or the same start) and must give the same outputs. The
chapter's other promises are checked on the committed notebook too: a displayed equation for every lesson model,
the live training sized by the profile, at most 10 visible output lines carrying a verdict word, and every
representation named in the chapter's tables defined in its text before the table.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from conftest import cell_source, cell_tags, notebook_cells, outputs_text, verdict_lines
from audioformers.models import code_lm, contrastive, tokenizer

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "04_textless_audio_lm.ipynb"


def _cells() -> list[dict]:
    return notebook_cells(NOTEBOOK)


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The namespace of the notebook's ``lesson-model`` cells, executed in order with the notebook's imports."""
    import math

    from audioformers.evaluation import probes

    namespace = {"np": np, "torch": torch, "nn": nn, "F": F, "math": math, "tokenizer": tokenizer,
                 "code_lm": code_lm, "contrastive": contrastive, "probes": probes}
    cells = [c for c in _cells() if c["cell_type"] == "code" and "lesson-model" in cell_tags(c)]
    assert len(cells) >= 5, "the chapter's models must be written in cells tagged lesson-model"
    for cell in cells:
        exec(compile(cell_source(cell), f"{NOTEBOOK.name}:lesson-model", "exec"), namespace)
    return namespace


def test_every_lesson_model_is_defined_and_is_a_module(lesson):
    for name in ("PatchAutoencoder", "Block", "CodeLM", "NTXent"):
        assert issubclass(lesson[name], nn.Module), name
    for name in ("nearest_code", "kmeans_update", "kmeans", "causal_attention"):
        assert callable(lesson[name]), name


def test_the_notebook_autoencoder_is_the_package_autoencoder(lesson):
    config = tokenizer.AutoencoderConfig(input_dim=24, hidden_dim=16, bottleneck_dim=5)
    torch.manual_seed(0)
    package = tokenizer.PatchAutoencoder(config).eval()
    ours = lesson["PatchAutoencoder"](config).eval()
    ours.load_state_dict(package.state_dict())  # strict: the same parameter names and shapes
    x = torch.randn(3, 7, 24)
    torch.testing.assert_close(ours(x), package(x))
    torch.testing.assert_close(ours.encode(x), package.encode(x))
    # and the study's encoder runs it: encode_patches takes our model
    z = np.random.default_rng(0).standard_normal((2, 7, 24)).astype(np.float32)
    np.testing.assert_allclose(tokenizer.encode_patches(ours, z, device="cpu"),
                               tokenizer.encode_patches(package, z, device="cpu"), rtol=1e-6, atol=1e-6)


def test_the_notebook_kmeans_is_the_package_kmeans(lesson):
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(c, 0.3, size=(60, 3)) for c in (-2.0, 0.0, 2.0, 4.0)]).astype(np.float32)
    init = vectors[rng.choice(len(vectors), 6, replace=False)]
    for iterations in (1, 3, 20):
        ours = lesson["kmeans"](torch.from_numpy(vectors), torch.from_numpy(init), iterations).numpy()
        package = tokenizer.kmeans_torch(vectors, 6, init=init, max_iter=iterations, tol=0, device="cpu")
        np.testing.assert_allclose(ours, package, rtol=1e-5, atol=1e-5)
    codes = lesson["nearest_code"](torch.from_numpy(vectors), torch.from_numpy(ours)).numpy()
    np.testing.assert_array_equal(codes, tokenizer.assign_codes(vectors, ours))


def test_the_notebook_kmeans_reseeds_an_empty_centre_as_the_package_does(lesson):
    vectors = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [9.0, 0.0]], dtype=np.float32)
    init = np.array([[0.0, 0.0], [5.0, 5.0], [100.0, 100.0]], dtype=np.float32)  # the third centre gets no vector
    ours = lesson["kmeans_update"](torch.from_numpy(vectors), torch.from_numpy(init)).numpy()
    package = tokenizer.kmeans_torch(vectors, 3, init=init, max_iter=1, tol=0, device="cpu")
    np.testing.assert_allclose(ours, package)
    np.testing.assert_allclose(ours[2], [9.0, 0.0])  # the farthest vector


def test_the_notebook_attention_is_masked_scaled_dot_product_attention(lesson):
    q, k, v = (torch.randn(2, 3, 5, 4, generator=torch.Generator().manual_seed(i)) for i in range(3))
    torch.testing.assert_close(lesson["causal_attention"](q, k, v),
                               F.scaled_dot_product_attention(q, k, v, is_causal=True))
    # causal: changing the last position changes no earlier output
    k2, v2 = k.clone(), v.clone()
    k2[:, :, -1] += 3.0
    v2[:, :, -1] -= 3.0
    torch.testing.assert_close(lesson["causal_attention"](q, k2, v2)[:, :, :-1], lesson["causal_attention"](q, k, v)[:, :, :-1])


def test_the_notebook_code_lm_is_the_package_code_lm(lesson):
    config = code_lm.CodeLMConfig(num_codes=11, context_length=9, width=16, num_layers=2, num_heads=4, dropout=0.1)
    torch.manual_seed(0)
    package = code_lm.CodeLM(config).eval()
    ours = lesson["CodeLM"](config).eval()
    ours.load_state_dict(package.state_dict())
    codes = torch.randint(0, 11, (3, 9), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours(codes), package(codes))
    for a, b in zip(ours.hidden_states(codes), package.hidden_states(codes)):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(ours.loss(codes), package.loss(codes))
    # the package's embeddings of the probe read our model the same way
    for a, b in zip(code_lm.layer_embeddings(ours, codes.numpy(), device="cpu"),
                    code_lm.layer_embeddings(package, codes.numpy(), device="cpu")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_package_training_loop_trains_the_notebook_code_lm_as_its_own(lesson):
    config = code_lm.CodeLMConfig(num_codes=7, context_length=6, width=8, num_layers=1, num_heads=2, dropout=0.0)
    codes = np.random.default_rng(0).integers(0, 7, size=(20, 6))
    torch.manual_seed(0)
    ours = lesson["CodeLM"](config)
    trained, log = code_lm.train_code_lm(codes, config, steps=5, batch_size=4, seed=0, device="cpu", model=ours,
                                         test_codes=codes[:5], eval_every=5)
    assert trained is ours and len(log["test_ce"]) == 1 and np.isfinite(log["test_ce"][0])
    torch.manual_seed(0)
    package, package_log = code_lm.train_code_lm(codes, config, steps=5, batch_size=4, seed=0, device="cpu",
                                                 test_codes=codes[:5], eval_every=5)
    # the same run: the same losses (not bit-equal weights: the key bias has an exactly zero gradient in theory,
    # and Adam turns the two attention implementations' rounding noise in it into steps of the learning rate)
    np.testing.assert_allclose(log["train_ce"], package_log["train_ce"], rtol=1e-4)
    np.testing.assert_allclose(log["test_ce"], package_log["test_ce"], rtol=1e-4)
    torch.testing.assert_close(ours.head.weight, package.head.weight, rtol=1e-3, atol=1e-4)
    with pytest.raises(TypeError, match="model must be an nn.Module with a loss"):
        code_lm.train_code_lm(codes, config, steps=1, device="cpu", model=nn.Linear(2, 2))


def test_the_notebook_nt_xent_is_the_package_nt_xent(lesson):
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    for temperature in (0.1, 0.2, 1.0):
        torch.testing.assert_close(lesson["NTXent"](temperature)(z1, z2), contrastive.nt_xent(z1, z2, temperature))


def test_train_autoencoder_trains_the_given_model():
    config = tokenizer.AutoencoderConfig(input_dim=6, hidden_dim=8, bottleneck_dim=2)
    model = tokenizer.PatchAutoencoder(config)
    trained, losses = tokenizer.train_autoencoder(np.zeros((10, 6), np.float32), config, steps=2, device="cpu",
                                                  model=model)
    assert trained is model and len(losses) == 2
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        tokenizer.train_autoencoder(np.zeros((10, 6), np.float32), config, steps=1, device="cpu", model="ae")


def test_probe_grid_returns_the_chosen_fits_predictions():
    from audioformers.evaluation import probes

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 3)), np.repeat([0, 1], 20)
    x[y == 1] += 3.0
    out = probes.probe_grid(x, y, x, y, x, y, return_predictions=True)
    assert out["test_predictions"].shape == (40,)
    assert float(np.mean(out["test_predictions"] == y)) == pytest.approx(out["test_accuracy"])
    assert "test_predictions" not in probes.probe_grid(x, y, x, y, x, y)


# --- the chapter as a lesson --------------------------------------------------------------------------------

def test_every_lesson_model_cell_follows_a_displayed_equation():
    cells = _cells()
    for i, cell in enumerate(cells):
        if "lesson-model" not in cell_tags(cell):
            continue
        before = [cell_source(c) for c in cells[:i] if c["cell_type"] == "markdown"][-3:]
        assert any("$$" in text for text in before), f"lesson-model cell {i} has no displayed equation above it"


def test_the_live_training_is_sized_by_the_profile_and_reports_its_wall_time():
    text = "\n".join(cell_source(c) for c in _cells() if c["cell_type"] == "code")
    assert re.search(r"profiles\.pick\(smoke=\d+, book=\d+, paper=\d+, profile=profile\)", text)
    assert "device=device, model=CodeLM(" in text and "model=PatchAutoencoder(" in text
    outputs = outputs_text(_cells())
    match = re.search(r"live training \(.*\): (\d+) s wall time", outputs)
    assert match, "the live training prints its wall time"
    assert int(match.group(1)) <= 300, f"the live training took {match.group(1)} s at the book profile (limit 300 s)"




def test_at_most_ten_visible_verdict_lines():
    lines = verdict_lines(_cells())
    assert len(lines) <= 10, f"{len(lines)} visible verdict lines:\n" + "\n".join(lines)


def test_verdict_line_count_sees_visible_lines_and_skips_hidden_ones():
    cell = {"cell_type": "code", "metadata": {}, "outputs": [{"text": "a: reversed\nb\nc: inconclusive\n"}]}
    hidden = {**cell, "metadata": {"tags": ["hide-output"]}}
    assert len(verdict_lines([cell])) == 2 and verdict_lines([hidden]) == []


def test_no_development_history_in_the_text():
    text = " ".join(cell_source(c) for c in _cells() if c["cell_type"] == "markdown")
    for phrase in ("an earlier version", "was withdrawn", "partial run", "now pools"):
        assert phrase not in text, phrase


def _table_cell_index(cells: list[dict], needle: str) -> int:
    return next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and needle in cell_source(c))


def test_every_name_in_the_chapters_tables_is_defined_before_the_table():
    """#32: each representation of the tables (and the pipeline's stages) is defined in the text before the first
    table or figure that shows it; ``untrained`` too, where results/ch4 holds it."""
    from audioformers.ch4 import tables

    cells = _cells()
    first = min(_table_cell_index(cells, n) for n in ("findings_table_markdown", "tables.table_lines",
                                                      "plot_pipeline"))
    defined = " ".join(cell_source(c) for c in cells[:first] if c["cell_type"] == "markdown")
    names = {*tables.LABELS, "code_lm", "untrained", *tables.STAGES, "log_mel"}
    missing = sorted(n for n in names if f"`{n}`" not in defined)
    assert not missing, f"not defined before the tables: {missing}"
    for label in tables.LABELS.values():  # the labels the printed table uses are the defined ones
        head = label.split(" (")[0].split(",")[0].lower()
        assert head in defined.lower(), label


def test_what_we_found_is_generated_and_near_the_end():
    cells = _cells()
    headings = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                and re.search(r"^#+ (\d+\. )?What we found", cell_source(c), re.M)]
    assert headings, "a section titled 'What we found'"
    i = headings[0]
    assert "findings.findings_markdown(profile)" in "".join(cell_source(c) for c in cells[i:i + 3])
    assert i > len(cells) // 2
