import pytest
import torch

from audioformers.core import device as dev


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


def test_a_borrowed_model_goes_back_where_it_was():
    model = torch.nn.Linear(2, 2)
    with dev.borrowed(model, "cpu:0") as lent:
        assert lent is model
    assert dev.module_device(model) == torch.device("cpu")
    with pytest.raises(RuntimeError, match="inside"):
        with dev.borrowed(model, "cpu"):
            raise RuntimeError("an error inside the block")
    assert dev.module_device(torch.nn.ReLU()) == torch.device("cpu")  # no parameters: the host


def test_batches_move_whole_and_the_loss_is_read_back_every_step_only_on_the_cpu():
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), 3)}
    moved = dev.to_device(batch, "cpu")
    assert torch.equal(moved["x"], batch["x"]) and moved["pair"][1] == 3
    assert dev.loss_log_every("cpu") == 1 and dev.loss_log_every("cuda") > 1
    assert dev.adamw_options("cpu") == {} and dev.adamw_options("cuda") == {"fused": True}
    assert dev.fits_in_memory(10**15, "cpu")
