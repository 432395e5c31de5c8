"""A sweep of bad inputs over every public function of the package, found by discovery.

Every module of ``audioformers`` is imported and each public function (defined in that module, name
without a leading underscore) is inspected. For each parameter whose *name* says what it holds
(``sample_rate``, ``waveform``, ``tokens``, ``n_fft``, ``steps``, ``seed``, ``temperature``...), the
function is called with the other arguments valid and that one bad (-8000 Hz, NaN audio, a token out
of range, zero steps...). The call must raise ``ValueError`` or ``TypeError`` whose message names the
parameter: anything else is *cryptic* (another exception, or one that does not say which argument is
wrong) or *silent* (the call returned). A function is swept only when every required argument can be
made from its name and a valid call succeeds, so a new public function is covered automatically as
soon as its arguments are named as the rest of the package names them.

Reasonable inputs are accepted too: the valid calls pass seeds and sizes as NumPy integers.

Run it as a script (``python lib/tests/test_bad_inputs.py``) to print the counts and every failure.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import sys
import warnings
from typing import Any, Callable

import numpy as np
import pytest
import torch

import audioformers

SR = 16000


def _tone(samples: int = 4000) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(samples) / SR)).astype(np.float32)


def _with_nan() -> np.ndarray:
    x = _tone()
    x[100] = np.nan
    return x


#: name -> (a valid value, [bad values]). Sizes and seeds are valid as NumPy integers (what readers pass).
_SIZE_BAD = [0, -1, 2.5]
RULES: dict[str, tuple[Callable[[], Any], list[Any]]] = {
    "sample_rate": (lambda: np.int64(SR), [-8000, 8000.5, 0]),
    "waveform": (_tone, [_with_nan(), np.zeros(0, np.float32)]),
    "audio": (lambda: _tone()[None].repeat(2, 0), [_with_nan()[None], np.zeros((2, 0), np.float32)]),
    "tokens": (lambda: np.arange(32) % 8, [np.array([0, 1, 100_000]), np.array([0, -1, 2]), np.array([0.5, 1.0])]),
    "codes": (lambda: np.arange(32) % 8, [np.array([0, 1, 100_000]), np.array([0, -1, 2]), np.array([0.5, 1.0])]),
    "quantization_channels": (lambda: np.int64(256), [1, 0, 2.5]),
    "num_levels": (lambda: np.int64(256), [1, 0, 2.5]),
    "n_fft": (lambda: np.int64(512), _SIZE_BAD),
    "hop_length": (lambda: np.int64(128), _SIZE_BAD),
    "n_mels": (lambda: np.int64(32), _SIZE_BAD),
    "n_bins": (lambda: np.int64(24), _SIZE_BAD),
    "bins_per_octave": (lambda: np.int64(12), _SIZE_BAD),
    "num_samples": (lambda: np.int64(3), _SIZE_BAD),
    "num_codes": (lambda: np.int64(8), _SIZE_BAD),
    "num_peaks": (lambda: np.int64(2), _SIZE_BAD),
    "num_harmonics": (lambda: np.int64(3), _SIZE_BAD),
    "num_windows": (lambda: np.int64(2), _SIZE_BAD),
    "num_neurons": (lambda: np.int64(16), _SIZE_BAD),
    "num_positions": (lambda: np.int64(8), _SIZE_BAD),
    "factor": (lambda: np.int64(2), _SIZE_BAD),
    "frame_length": (lambda: np.int64(256), _SIZE_BAD),
    "steps": (lambda: np.int64(2), _SIZE_BAD),
    "n_iter": (lambda: np.int64(2), _SIZE_BAD),
    "max_iter": (lambda: np.int64(5), _SIZE_BAD),
    "patch_frames": (lambda: np.int64(2), _SIZE_BAD),
    "patch_samples": (lambda: np.int64(400), _SIZE_BAD),
    "n_mfcc": (lambda: np.int64(13), _SIZE_BAD),
    "temperature": (lambda: 1.0, [-1.0, math.nan]),
    "seed": (lambda: np.int64(3), [-1, 2.5, "3"]),
    "seconds": (lambda: 0.25, [0, -1.0, math.nan]),
    "snr_db": (lambda: 10.0, [math.nan]),
    "profile": (lambda: "smoke", ["huge"]),
}

#: Functions a bad value cannot reach, with the reason. Everything else that can be swept is.
SKIP = {
    # the argument has the name but not the meaning
    "audioformers.validation.check_int": "checks a value given by name; swept through its callers",
    "audioformers.validation.check_float": "checks a value given by name; swept through its callers",
    "audioformers.validation.check_tokens": "checks a value given by name; swept through its callers",
    "audioformers.validation.check_finite_array": "checks a value given by name; swept through its callers",
    "audioformers.wavenet.check_tokens": "checks a value given by name; swept through its callers",
    # the recipe's 1-D waveform is not what this one takes
    "audioformers.exercises.ch5.solution_patchify": "takes a (batch, samples) batch, not one 1-D waveform",
}

#: Functions that run a whole experiment, build or download data, or execute notebooks: a valid call
#: takes minutes or needs the network. Their arguments are checked by the functions they call (swept
#: here) and by their own tests (test_reproduce, test_data, test_downloads...).
EXPERIMENT = ("main", "run_", "load_or_", "summarise_study", "train_family_model", "train_model",
              "build_tokenizer", "load_splits", "load_tokens", "load_speech", "load_maestro", "load_fsd",
              "download", "execute", "build_", "ensure_", "front_end_record",
              "context_use", "scaling_study", "tune")  # ch3_study: a valid call trains a study's models


def public_functions() -> list[tuple[str, Callable]]:
    """``(qualified name, function)`` of every public function defined in a module of the package."""
    found = []
    for info in pkgutil.walk_packages(audioformers.__path__, "audioformers."):
        module = importlib.import_module(info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and function.__module__ == module.__name__:
                found.append((f"{module.__name__}.{name}", function))
    return sorted(found)


def _valid_call(function: Callable) -> dict[str, Any] | None:
    """Keyword arguments that make a valid call, or ``None`` if a required one has no recipe."""
    kwargs = {}
    for p in inspect.signature(function).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in RULES:
            kwargs[p.name] = RULES[p.name][0]()
        elif p.default is p.empty:
            return None
    return kwargs


def _quietly(function: Callable, kwargs: dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(**kwargs)


def sweep() -> dict[str, Any]:
    """Call every sweepable function with each bad value; classify each outcome."""
    outcome = {"functions": 0, "calls": 0, "clear": 0, "cryptic": [], "silent": [], "not_swept": []}
    for qualified, function in public_functions():
        short = qualified.rsplit(".", 1)[1]
        if qualified in SKIP or short.startswith(EXPERIMENT) or short == "main":
            continue
        kwargs = _valid_call(function)
        if kwargs is None or not any(name in RULES for name in kwargs):
            continue
        try:
            _quietly(function, kwargs)
        except Exception as error:  # the recipes do not fit this function: say so, do not sweep it
            outcome["not_swept"].append(f"{qualified}: valid call failed ({type(error).__name__}: {error})"[:200])
            continue
        outcome["functions"] += 1
        for name in [n for n in kwargs if n in RULES]:
            for bad in RULES[name][1]:
                outcome["calls"] += 1
                label = f"{qualified}({name}={bad!r})".replace("\n", " ")
                try:
                    _quietly(function, {**kwargs, name: bad})
                except (ValueError, TypeError) as error:
                    if name in str(error):
                        outcome["clear"] += 1
                    else:
                        outcome["cryptic"].append(f"{label}: {type(error).__name__}: {error}"[:240])
                except Exception as error:
                    outcome["cryptic"].append(f"{label}: {type(error).__name__}: {error}"[:240])
                else:
                    outcome["silent"].append(label[:240])
    return outcome


@pytest.fixture(scope="module")
def swept(one_thread):
    return sweep()


def test_the_sweep_reaches_the_package(swept):
    """Discovery works: most of the package's array functions are swept (a broken recipe would show here)."""
    assert swept["functions"] >= 45, swept
    assert swept["calls"] >= 150, swept
    assert not swept["not_swept"], "\n".join(swept["not_swept"])


def test_no_silent_results(swept):
    assert not swept["silent"], f"{len(swept['silent'])} bad inputs returned a result:\n" + "\n".join(swept["silent"])


def test_no_cryptic_errors(swept):
    assert not swept["cryptic"], (f"{len(swept['cryptic'])} bad inputs raised an error that does not name the "
                                  "argument:\n" + "\n".join(swept["cryptic"]))


# --- reasonable inputs are accepted, and the issue's examples ----------------------------------------

@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32, torch.int64])
def test_models_take_tokens_of_any_integer_dtype_and_refuse_out_of_range(dtype, one_thread):
    from audioformers.code_lm import CodeLM, CodeLMConfig
    from audioformers.sample_transformer import SampleTransformer, SampleTransformerConfig
    from audioformers.wavenet import WaveNet, WaveNetConfig

    torch.manual_seed(0)
    models = [(SampleTransformer(SampleTransformerConfig(context_length=16, width=16, num_layers=1, num_heads=2)), 256),
              (WaveNet(WaveNetConfig(residual_channels=8, dilation_channels=8, skip_channels=8, layers_per_stack=2,
                                     num_stacks=1)), 256),
              (CodeLM(CodeLMConfig(num_codes=16, context_length=16, width=16, num_layers=1, num_heads=2)), 16)]
    for model, classes in models:
        model.eval()
        tokens = torch.arange(12).reshape(2, 6) % classes
        with torch.no_grad():
            expected = model(tokens.long())
            torch.testing.assert_close(model(tokens.to(dtype)), expected)
            with pytest.raises(ValueError, match=r"tokens|codes"):
                model(torch.full((1, 4), classes))
            with pytest.raises(TypeError, match=r"tokens|codes"):
                model(tokens.float())


def test_generate_refuses_zero_samples_and_accepts_uint8_prompts(one_thread):
    from audioformers.nextsample import generate
    from audioformers.sample_transformer import SampleTransformer, SampleTransformerConfig

    torch.manual_seed(0)
    model = SampleTransformer(SampleTransformerConfig(context_length=16, width=16, num_layers=1, num_heads=2))
    prompt = torch.arange(8, dtype=torch.uint8)[None]
    with pytest.raises(ValueError, match="num_samples"):
        generate(model, prompt, 0)
    assert generate(model, prompt, np.int64(3), seed=np.int64(1)).shape == (1, 3)


def test_issue_examples():
    from audioformers.contrastive import nt_xent
    from audioformers.mulaw import bigram_next_code_accuracy
    from audioformers.seeding import seed_everything
    from audioformers.tokenizer import assign_codes

    seed_everything(np.int64(3))
    z = torch.randn(4, 8)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z, z, temperature=0)
    with pytest.raises(ValueError, match="test"):
        bigram_next_code_accuracy([np.arange(10) % 4], [np.array([0, 1, -1, 2])], 4)
    with pytest.raises(ValueError, match="vectors"):
        assign_codes(np.array([[np.nan, 0.0]]), np.zeros((2, 2)))


if __name__ == "__main__":
    torch.set_num_threads(1)
    result = sweep()
    for kind in ("not_swept", "cryptic", "silent"):
        print(f"--- {kind} ({len(result[kind])})")
        print("\n".join(result[kind]))
    print(f"functions swept {result['functions']}, bad calls {result['calls']}, clear errors {result['clear']}, "
          f"cryptic {len(result['cryptic'])}, silent {len(result['silent'])}")
    sys.exit(0)
