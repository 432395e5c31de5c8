"""Tests of the interleaved-rounds helpers in audioformers.core.benchmarking and of bench/references.py."""

import sys
from pathlib import Path

import pytest
import torch

from audioformers.core import benchmarking

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def test_interleaved_calls_every_workload_once_per_round_in_rotated_order():
    calls: list[str] = []
    workloads = {name: (lambda name=name: calls.append(name) or len(calls)) for name in "abc"}
    figures = benchmarking.interleaved(workloads, rounds=3)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert figures == {"a": [1, 6, 8], "b": [2, 4, 9], "c": [3, 5, 7]}
    with pytest.raises(ValueError, match="rounds"):
        benchmarking.interleaved(workloads, rounds=0)
    with pytest.raises(ValueError, match="empty"):
        benchmarking.interleaved({}, rounds=1)


def test_spread_and_round_by_round_ratio():
    assert benchmarking.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "rounds": 3}
    assert benchmarking.spread([4.0, 1.0, 2.0, 3.0])["median"] == 2.5
    # the ratio is taken within each round, then summarised: a slow round slows both sides alike
    got = benchmarking.ratio_spread([2.0, 4.0, 20.0], [1.0, 2.0, 10.0])
    assert got == {"median": 2.0, "min": 2.0, "max": 2.0, "rounds": 3}
    with pytest.raises(ValueError, match="one figure per round"):
        benchmarking.ratio_spread([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="no values"):
        benchmarking.spread([])


def test_load_average_reads_proc():
    load = benchmarking.load_average()
    if Path("/proc/loadavg").exists():
        assert len(load) == 3 and all(v >= 0 for v in load)
    else:
        assert load is None


def test_references_have_the_package_sizes():
    """The minimal references are timed at the package models' sizes: same parameter counts (up to biases
    the package keeps in separate 1x1 convolutions) and the same output shapes."""
    from references import MinimalWaveNet, NanoGPT

    from audioformers.ch3 import experiment as nextsample

    config = nextsample.experiment_config("smoke")
    tokens = torch.randint(0, 256, (2, config.context_length))
    package = nextsample.build_model("transformer", config)
    nano = NanoGPT(256, config.context_length, config.width, config.num_layers, config.num_heads)
    assert nano(tokens).shape == package(tokens).shape
    assert sum(p.numel() for p in nano.parameters()) == package.num_parameters()
    wavenet = nextsample.build_model("wavenet", config)
    c = config.wavenet_channels
    minimal = MinimalWaveNet(c, c, 2 * c, wavenet.config.dilations)
    assert minimal(tokens).shape == wavenet(tokens).shape
    assert sum(p.numel() for p in minimal.parameters()) == wavenet.num_parameters()


@pytest.mark.parametrize("kwargs, name", [({"device": "no-such-device"}, "device"), ({"repeats": 2.5}, "repeats"),
                                          ({"repeats": float("nan")}, "repeats"), ({"repeats": 0}, "repeats"),
                                          ({"n": -1}, "n"), ({"dtype": torch.int32}, "dtype")])
def test_matmul_rate_names_a_bad_argument(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        benchmarking.matmul_flops_per_second(**{"n": 8, "repeats": 1, **kwargs})
    assert benchmarking.matmul_flops_per_second(n=8, repeats=1) > 0


def test_time_callable_and_mfu_check_their_arguments():
    with pytest.raises(TypeError, match="repeats"):
        benchmarking.time_callable(lambda: None, repeats=1.5)
    with pytest.raises(ValueError, match="warmup"):
        benchmarking.time_callable(lambda: None, warmup=-1)
    with pytest.raises(ValueError, match="device"):
        benchmarking.time_callable(lambda: None, device="gpu!")
    with pytest.raises(ValueError, match="peak_flops_per_second"):
        benchmarking.mfu(1.0, 1.0, float("nan"))
    assert benchmarking.mfu(2.0, 3.0, 12.0) == 0.5
