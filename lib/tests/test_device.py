import pytest
import torch

from audioformers import device as dev


def test_cpu_fallback_and_gates(monkeypatch):
    monkeypatch.delenv("BOOK_DEVICE", raising=False)
    d = dev.get_device()
    assert d.type in {"cpu", "cuda", "mps"}
    cpu = torch.device("cpu")
    # every CUDA-only switch is a no-op on the CPU
    with dev.autocast(cpu):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32
    model = torch.nn.Linear(2, 2)
    monkeypatch.delenv("BOOK_COMPILE", raising=False)
    assert dev.maybe_compile(model, cpu) is model  # compiling on the CPU is an opt-in
    assert dev.maybe_compile(model, cpu, enabled=False) is model
    assert dev.loader_kwargs(cpu) == {"num_workers": 0, "pin_memory": False}
    dev.setup_backends(cpu)
    with dev.peak_memory(cpu) as stats:
        pass
    assert stats["peak_mib"] != stats["peak_mib"]  # NaN on the CPU


def test_forced_cuda_without_gpu_is_clear(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("BOOK_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        dev.get_device()


def test_describe_cpu():
    assert dev.describe("cpu").startswith("cpu (")
