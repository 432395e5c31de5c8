"""Tests of audioformers.models.wavenet: causality, receptive field, cached == naive, clear errors."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from audioformers.models.wavenet import WaveNet, WaveNetConfig, dilation_diagram_edges

torch.set_num_threads(1)
SMALL = WaveNetConfig(residual_channels=8, dilation_channels=8, skip_channels=16, layers_per_stack=4, num_stacks=2)


def test_receptive_field_formula_and_shape():
    model = WaveNet(SMALL)
    assert model.receptive_field == (2 - 1) * 2 * (2**4 - 1) + 1 == 31
    tokens = torch.randint(0, 256, (2, 50))
    assert model(tokens).shape == (2, 50, 256)
    assert model.num_parameters() > model.num_parameters(non_embedding=True) > 0


@pytest.mark.parametrize("config", [SMALL, WaveNetConfig(residual_channels=8, dilation_channels=8, skip_channels=16, layers_per_stack=3, num_stacks=1, kernel_size=3)])
def test_receptive_field_measured_by_gradient(config):
    """The output at t depends on exactly the last `receptive_field` inputs (measured, not assumed)."""
    torch.manual_seed(0)
    model = WaveNet(config)
    t_len = config.receptive_field + 20
    tokens = torch.randint(0, 256, (1, t_len))
    emb = model.embed(tokens).detach().requires_grad_(True)  # (1, T, R)
    model.forward_embedded(emb)[0, -1].sum().backward()
    influenced = (emb.grad[0].abs().sum(dim=1) > 0).nonzero().flatten()
    assert influenced.min().item() == t_len - config.receptive_field
    assert influenced.max().item() == t_len - 1


def test_causal_future_changes_leave_past_logits():
    torch.manual_seed(0)
    model = WaveNet(SMALL).eval()
    tokens = torch.randint(0, 256, (2, 60))
    changed = tokens.clone()
    changed[:, 40:] = torch.randint(0, 256, (2, 20))
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :40], b[:, :40])
    assert not torch.allclose(a[:, 40:], b[:, 40:])


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_cached_step_equals_forward(kernel_size):
    torch.manual_seed(0)
    config = WaveNetConfig(residual_channels=8, dilation_channels=8, skip_channels=16, layers_per_stack=3, num_stacks=2, kernel_size=kernel_size)
    model = WaveNet(config).eval()
    tokens = torch.randint(0, 256, (3, 45))
    with torch.no_grad():
        full = model(tokens)
    state = model.init_state(3)
    steps = torch.stack([model.step(tokens[:, t], state) for t in range(tokens.shape[1])], dim=1)
    torch.testing.assert_close(steps, full, rtol=1e-4, atol=1e-5)


def test_dilation_diagram_reaches_receptive_field():
    edges = dilation_diagram_edges(SMALL)
    assert len(edges) == len(SMALL.dilations)
    inputs = {src for src, _ in edges[0]}
    assert min(inputs) == 0 and max(inputs) == SMALL.receptive_field - 1


def test_bad_input_errors():
    model = WaveNet(SMALL)
    with pytest.raises(ValueError, match="0..255"):
        model(torch.tensor([[0, 256]]))
    with pytest.raises(ValueError, match="0..255"):
        model(torch.tensor([[-1, 3]]))
    with pytest.raises(ValueError, match="rank"):
        model(torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="shape"):
        model.step(torch.zeros(2, 1, dtype=torch.long), model.init_state(2))


def test_prefill_then_steps_equal_forward():
    torch.manual_seed(0)
    model = WaveNet(SMALL).eval()
    tokens = torch.randint(0, 256, (2, 70))
    with torch.no_grad():
        full = model(tokens)
    state = model.init_state(2)
    first = model.prefill(tokens[:, :40], state)
    torch.testing.assert_close(first, full[:, 39], rtol=1e-4, atol=1e-5)
    for t in range(40, 70):
        torch.testing.assert_close(model.step(tokens[:, t], state), full[:, t], rtol=1e-4, atol=1e-5)


class OldLayer(nn.Module):
    """The layer as first written (channels-first Conv1d forward): the layout of already-trained checkpoints."""

    def __init__(self, config, dilation):
        super().__init__()
        self.dilation, self.kernel_size = dilation, config.kernel_size
        self.conv = nn.Conv1d(config.residual_channels, 2 * config.dilation_channels, config.kernel_size, dilation=dilation)
        self.residual = nn.Conv1d(config.dilation_channels, config.residual_channels, 1)
        self.skip = nn.Conv1d(config.dilation_channels, config.skip_channels, 1)

    def forward(self, x):
        f, g = self.conv(F.pad(x, ((self.kernel_size - 1) * self.dilation, 0))).chunk(2, dim=1)
        z = torch.tanh(f) * torch.sigmoid(g)
        return x + self.residual(z), self.skip(z)


class OldWaveNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(config.num_classes, config.residual_channels)
        self.layers = nn.ModuleList(OldLayer(config, d) for d in config.dilations)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(config.skip_channels, config.skip_channels, 1),
                                  nn.ReLU(), nn.Conv1d(config.skip_channels, config.num_classes, 1))

    def forward(self, tokens):
        x, skip_sum = self.embed(tokens).transpose(1, 2), 0
        for layer in self.layers:
            x, skip = layer(x)
            skip_sum = skip_sum + skip
        return self.head(skip_sum).transpose(1, 2)


@pytest.mark.parametrize("kernel_size", [2, 3, 4])
def test_old_layout_state_dict_loads_and_gives_the_same_logits(kernel_size):
    """The (batch, time, channel) matrix-product forward keeps every parameter name and shape of the
    channels-first convolutions, so checkpoints trained before it load (strictly) and predict the same."""
    config = WaveNetConfig(residual_channels=8, dilation_channels=6, skip_channels=10, layers_per_stack=3,
                           num_stacks=2, kernel_size=kernel_size)
    torch.manual_seed(0)
    old = OldWaveNet(config).eval()
    new = WaveNet(config).eval()
    assert {k: v.shape for k, v in old.state_dict().items()} == {k: v.shape for k, v in new.state_dict().items()}
    new.load_state_dict(old.state_dict(), strict=True)
    tokens = torch.randint(0, 256, (3, 70))
    with torch.no_grad():
        torch.testing.assert_close(new(tokens), old(tokens), rtol=0, atol=1e-5)
    old.train()
    new.train()
    loss_old = F.cross_entropy(old(tokens).reshape(-1, 256), tokens.roll(-1, 1).reshape(-1))
    loss_new = F.cross_entropy(new(tokens).reshape(-1, 256), tokens.roll(-1, 1).reshape(-1))
    loss_old.backward()
    loss_new.backward()
    for (name, p_old), p_new in zip(old.named_parameters(), new.parameters()):
        want, got = (torch.zeros_like(p) if p.grad is None else p.grad for p in (p_old, p_new))  # None: feeds nothing
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("module", ["wavenet", "sample_transformer", "decoding", "fast_sampling", "sampling_kernels"])
def test_each_model_links_its_notebook_section_and_the_notebook_links_back(module):
    """Chapter 3's model modules name the notebook sections that explain them (each a heading of the notebook), and
    the notebook names each module where its model is introduced."""
    import importlib
    import json
    import re
    from pathlib import Path

    notebook = Path(__file__).resolve().parents[2] / "chapters" / "03_wavenet_vs_transformer.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    headings = {line.lstrip("#").strip() for c in cells if c["cell_type"] == "markdown"
                for line in "".join(c["source"]).splitlines() if line.startswith("#")}
    doc = importlib.import_module(f"audioformers.models.{module}").__doc__
    assert "chapters/03_wavenet_vs_transformer.ipynb" in doc
    lists = re.findall(r'sections? ((?:"[^"]+"(?:, | and )?)+)', " ".join(doc.split()))  # section "A", "B" and "C"
    named = [title for found in lists for title in re.findall(r'"([^"]+)"', found)]
    assert named and all(title in headings for title in named), (named, headings)
    markdown = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert f"`audioformers.models.{module}`" in markdown or f"`audioformers.models.{module}." in markdown
