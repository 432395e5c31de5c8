"""A stand-in accelerator for tests on a CPU-only machine: :class:`DeviceSentinel`.

The device helper is patched to return ``cpu:0`` (the *sentinel*: a device torch accepts and computes on
with the CPU's kernels, so numbers do not change) and every tensor moved or created there is tracked
(a torch function mode sees every torch call). The rules are the ones a real GPU enforces, plus one:

* an operation that mixes tensors on the sentinel with host tensors (other than 0-dim ones) is a violation
  (on CUDA: "Expected all tensors to be on the same device");
* reading a sentinel tensor as NumPy without ``.cpu()`` is a violation (on CUDA a ``TypeError``);
* a model computation (linear, convolution, embedding, attention, normalisation) whose inputs are all on the
  host is a violation: the code trained or evaluated a model somewhere other than the helper's device;
* ``.cuda()`` or any non-CPU device is a violation (the helper never asked for it).

``tensor.device`` of a tracked tensor reads as the sentinel, as a CUDA tensor's reads ``cuda:0``.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
import weakref
from typing import Any, Iterator

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

SENTINEL = torch.device("cpu", 0)
MODEL_OPS = {"linear", "conv1d", "conv2d", "embedding", "scaled_dot_product_attention", "layer_norm", "batch_norm",
             "group_norm", "multi_head_attention_forward"}
MAY_MIX = {"copy_", "__set__", "_has_compatible_shallow_copy_type", "set_", "__getitem__", "__setitem__",
           "is_same_size", "_is_all_true", "__reduce_ex__", "__deepcopy__"}


def _is_sentinel(device: Any) -> bool:
    if device is None:
        return False
    device = torch.device(device) if not isinstance(device, torch.device) else device
    return device == SENTINEL


class DeviceSentinel(TorchFunctionMode):
    """Tracks the tensors on :data:`SENTINEL` and records :attr:`violations` (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._on: dict[int, weakref.ref] = {}
        self.violations: list[str] = []
        self.model_ops_on_device = 0

    # -- tracking -------------------------------------------------------------------------------
    def tracked(self, t: Any) -> bool:
        ref = self._on.get(id(t)) if isinstance(t, torch.Tensor) else None
        return ref is not None and ref() is t

    def _tag(self, out: Any) -> None:
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._on[id(t)] = weakref.ref(t)
        if len(self._on) > 200_000:  # drop the entries of tensors that no longer exist
            self._on = {k: r for k, r in self._on.items() if r() is not None}

    def _host(self, t: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """``t`` as a host tensor: a fresh alias when the call returned the tracked tensor itself."""
        if t is source and self.tracked(t):
            t = t.view_as(t)
        self._on.pop(id(t), None)
        return t

    def _violation(self, what: str) -> None:
        frames = [f for f in traceback.extract_stack()[:-3] if "audioformers" in f.filename]
        where = f" at {frames[-1].filename.split('/lib/')[-1]}:{frames[-1].lineno} ({frames[-1].line})" if frames else ""
        self.violations.append(what + where)

    # -- the mode ---------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: C901 (one rule per branch)
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in ("__get__", "__set__"):
            prop = getattr(getattr(func, "__self__", None), "__name__", "")
            if name == "__get__" and prop == "device" and self.tracked(args[0]):
                return SENTINEL
            out = func(*args, **kwargs)
            if name == "__set__" and prop == "data":  # param.data = t: the parameter is now where t is
                (self._tag if self.tracked(args[1]) else lambda t: self._on.pop(id(t), None))(args[0])
            elif name == "__get__" and self.tracked(args[0]) and isinstance(out, torch.Tensor):
                self._tag(out)
            return out
        leaves = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        on = [t for t in leaves if self.tracked(t)]
        if name in ("numpy", "__array__") and on:
            self._violation(f"a tensor on the device read as NumPy ({name}) without .cpu()")
        if name == "cuda" or (kwargs.get("device") is not None and torch.device(kwargs["device"]).type != "cpu"):
            self._violation(f"{name} asks for a device the helper did not give ({kwargs.get('device', 'cuda')})")
        if name in MODEL_OPS:
            if on:
                self.model_ops_on_device += 1
            elif leaves:
                self._violation(f"model computation {name} on host tensors (not on the helper's device)")
        if name not in MAY_MIX and name not in ("to", "cpu") and on:
            host = [t for t in leaves if not self.tracked(t) and t.dim() > 0]
            if host:
                self._violation(f"{name} mixes device tensors with host tensors of shapes "
                                f"{[tuple(t.shape) for t in host][:3]}")
        if name == "__getitem__" and not self.tracked(args[0]) and args[0].dim() > 0 and on:
            self._violation("a host tensor indexed with a device tensor")
        if name == "__setitem__" and len(args) > 2 and isinstance(args[2], torch.Tensor) and args[2].dim() > 0 \
                and self.tracked(args[0]) != self.tracked(args[2]):
            self._violation("__setitem__ of a value on another device")
        out = func(*args, **kwargs)
        if name == "to":
            target, other = None, next((a for a in args[1:] if isinstance(a, torch.Tensor)), kwargs.get("other"))
            if isinstance(other, torch.Tensor):
                return self._tag(out) or out if self.tracked(other) else self._host(out, args[0])
            target = torch._C._nn._parse_to(*args[1:], **kwargs)[0]
            if target is None:
                return self._tag(out) or out if self.tracked(args[0]) else out
            if target.type != "cpu":
                self._violation(f".to({target}): a device the helper did not give")
            return self._tag(out) or out if _is_sentinel(target) else self._host(out, args[0])
        if name == "cpu":
            return self._host(out, args[0])
        if "device" in kwargs and kwargs["device"] is not None:
            if _is_sentinel(kwargs["device"]):
                self._tag(out)
            return out
        if on:
            self._tag(out)
        return out


@contextlib.contextmanager
def sentinel_device(monkeypatch) -> Iterator[DeviceSentinel]:
    """Patch the device helper (``audioformers.core.device.get_device`` and every module's imported copy) to return
    :data:`SENTINEL`, and track tensors while the block runs."""
    from audioformers.core import device as helper

    original = helper.get_device
    for module in [m for n, m in sys.modules.items() if n.startswith("audioformers")]:
        if getattr(module, "get_device", None) is original:
            monkeypatch.setattr(module, "get_device", lambda prefer=None: SENTINEL)
    monkeypatch.setenv("BOOK_DEVICE", "cpu:0")  # and any process or re-import that asks the environment
    mode = DeviceSentinel()
    # a Parameter made from (or deep-copied from) a device tensor is on the device, as on CUDA; these two
    # constructors do not pass through the torch function mode, so they are followed here
    new, deepcopy = torch.nn.Parameter.__new__, torch.nn.Parameter.__deepcopy__

    def parameter_new(cls, data=None, requires_grad=True):
        out = new(cls, data, requires_grad)
        if mode.tracked(data):
            mode._tag(out)
        return out

    def parameter_deepcopy(self, memo):
        out = deepcopy(self, memo)
        if mode.tracked(self):
            mode._tag(out)
        return out

    monkeypatch.setattr(torch.nn.Parameter, "__new__", staticmethod(parameter_new))
    monkeypatch.setattr(torch.nn.Parameter, "__deepcopy__", parameter_deepcopy)
    with mode:
        yield mode


# ------------------------------------------------------------------------------------------------ tests
import os  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

OFFLINE_SETS = ("instruments-mini", "soundmix-mini")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh data folder (no cached models: everything trains), with the offline datasets linked from the
    reader's cache when they are built there."""
    from audioformers import data

    real = data.data_dir()
    for name in OFFLINE_SETS:
        if data.is_complete(name):  # built, and by the current builders (never rebuilt through the link)
            (tmp_path / name).symlink_to(real / name)
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(threads)


def _need(folder: Path, name: str) -> None:
    if not (folder / name).exists():
        pytest.skip(f"the offline dataset {name} is not built here, or was built by other builders")


def _clean(mode: DeviceSentinel) -> None:
    assert mode.model_ops_on_device > 0, "nothing ran on the helper's device"
    assert not mode.violations, "\n".join(dict.fromkeys(mode.violations))


def _recordings(n: int, length: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return [np.clip(128 + 60 * np.sin(2 * np.pi * t / (20 + 7 * i)) + rng.integers(-3, 4, length), 0, 255)
            .astype(np.int64) for i in range(n)]


def test_chapter3_smoke_experiment_stays_on_the_helpers_device(data_dir, monkeypatch):
    """Tuning, the tuned comparison (models and baselines), context use and a warm-up/stable/decay run."""
    from audioformers.ch3 import scaling, scoring, study as cs
    from audioformers.ch3 import experiment as ns

    recs = _recordings(4, 2500, 0)
    monkeypatch.setattr(scoring, "split_recordings", lambda domain: {"train": recs[1:3], "validation": recs[:1],
                                                                     "test": recs[3:]})
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(data_dir / "results"))
    with sentinel_device(monkeypatch) as mode:
        out = cs.load_or_run("smoke", 0, "music")
        context = cs.load_or_run_context("smoke")
        setup = scoring.study_setup("smoke", "music")
        windows = torch.from_numpy(scoring.held_out_windows(setup)[0])
        wsd = scaling.wsd_run("transformer", setup.config, [2, 4], setup.parts["train"], windows, 2e-3)
    _clean(mode)
    assert set(out) >= {*ns.MODEL_NAMES, "bigram", "linear"} and len(wsd["bits_per_sample"]) == 2
    assert context["bits_per_sample"]["transformer"]


def test_chapter4_smoke_experiment_stays_on_the_helpers_device(data_dir, monkeypatch):
    """The fold study at smoke on one fold: tokenizer, next-code LM, SimCLR, supervised CNN, embeddings, probes."""
    from audioformers.ch4 import experiment as ch4_experiment

    _need(data_dir, "instruments-mini")
    with sentinel_device(monkeypatch) as mode:
        out = ch4_experiment.run_study(["instruments-mini"], seeds=(0,), profile="smoke", say=lambda *a: None,
                                       kmeans_vectors=500, max_folds=1)
    _clean(mode)
    assert "instruments-mini" in out


def test_chapter5_smoke_experiment_stays_on_the_helpers_device(data_dir, monkeypatch):
    """The study's first units at smoke (the transformer and the CNN baseline): training, evaluation, scoring."""
    from audioformers.ch5 import study as ch5_study
    from audioformers.ch5 import experiment as se

    _need(data_dir, "soundmix-mini")
    with sentinel_device(monkeypatch) as mode:
        runs = [se.run_one(ch5_study.unit_config(unit, "smoke"), progress=False) for unit in ch5_study.plan("smoke")[:2]]
    _clean(mode)
    assert {r["model"] for r in runs} == {"transformer-average", "cnn-vgg"} and all(0 <= r["map"] <= 1 for r in runs)


def _tiny_training(model_device, batch_device, read_back) -> None:
    """A few steps of :func:`audioformers.train.training.fit` written with a chosen mistake."""
    from audioformers.core.device import get_device
    from audioformers.train.training import fit

    device = get_device()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).to(model_device or device)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))

    def evaluate(m):
        logits = m(x.to(batch_device or device))
        return {"accuracy": float((read_back(logits.argmax(1)) == y.numpy()).mean())}

    fit(model, lambda step: (x.to(batch_device or device), y.to(batch_device or device)),
        lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]), steps=3, evaluate=evaluate,
        device=model_device or device, progress=False)


@pytest.mark.parametrize("mistake, expected", [
    ({"model_device": "cpu", "batch_device": "cpu"}, "model computation linear on host tensors"),
    ({"batch_device": "cpu"}, "linear mixes device tensors with host tensors"),
    ({"read_back": lambda t: t.numpy()}, "read as NumPy"),
])
def test_the_sentinel_catches_code_that_ignores_the_helper(monkeypatch, mistake, expected):
    """Hard-coding the CPU for the model, leaving the batch on the host, or reading results without ``.cpu()``:
    each is reported (a real GPU fails on the last two; the first runs, silently, on the CPU)."""
    kwargs = {"model_device": None, "batch_device": None, "read_back": lambda t: t.cpu().numpy(), **mistake}
    with sentinel_device(monkeypatch) as mode:
        _tiny_training(**kwargs)
    assert any(expected in v for v in mode.violations), mode.violations
    with sentinel_device(monkeypatch) as mode:
        _tiny_training(None, None, lambda t: t.cpu().numpy())
    _clean(mode)  # and the same code written right passes
