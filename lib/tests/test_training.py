import pytest
import torch

from audioformers.core.seeding import seed_everything
from audioformers.train.training import count_parameters, fit, load_checkpoint, save_checkpoint


def _problem(seed=0):
    seed_everything(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    gen = torch.Generator().manual_seed(seed)

    def next_batch(step):
        x = torch.randn(32, 4, generator=gen)
        return x, x @ w

    def loss_fn(m, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(m(x), y)

    x_eval = torch.randn(256, 4, generator=torch.Generator().manual_seed(99))

    def evaluate(m):
        return {"mse": float(torch.nn.functional.mse_loss(m(x_eval), x_eval @ w))}

    return model, next_batch, loss_fn, evaluate


def test_loss_falls_and_history_records():
    model, nb, loss, ev = _problem()
    with torch.no_grad():
        before = ev(model)["mse"]
    hist = fit(model, nb, loss, steps=150, lr=1e-2, evaluate=ev, eval_every=50, progress=False)
    assert hist.eval_step == [50, 100, 150]
    assert hist.metric("mse")[-1] < 0.05 * before
    assert hist.metric("mse")[-1] <= hist.metric("mse")[0]
    assert len(hist.train_loss) == 150


def test_same_seed_same_numbers():
    runs = []
    for _ in range(2):
        model, nb, loss, ev = _problem(seed=3)
        runs.append(fit(model, nb, loss, steps=20, evaluate=ev, progress=False).metric("mse"))
    assert runs[0] == runs[1]


def _pure_batches(step):
    """Batches that depend only on the step index, as a resumable data stream must."""
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(1000 + step))
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])


def test_resume_after_interruption_matches_uninterrupted(tmp_path):
    model, _, loss, ev = _problem(seed=1)
    full = fit(model, _pure_batches, loss, steps=40, evaluate=ev, progress=False)

    def crashing(step):
        if step == 25:
            raise KeyboardInterrupt("killed mid-run")
        return _pure_batches(step)

    ckpt = tmp_path / "run.pt"
    model, _, loss, ev = _problem(seed=1)
    with pytest.raises(KeyboardInterrupt):
        fit(model, crashing, loss, steps=40, evaluate=ev, progress=False, checkpoint_path=ckpt, checkpoint_every=10)
    assert load_checkpoint(ckpt)["step"] == 20
    fresh, _, _, _ = _problem(seed=7)  # different init: everything must come from the checkpoint
    resumed = fit(fresh, _pure_batches, loss, steps=40, evaluate=ev, progress=False, checkpoint_path=ckpt, checkpoint_every=10)
    assert resumed.step == list(range(40))
    assert resumed.metric("mse")[-1] == pytest.approx(full.metric("mse")[-1], rel=1e-6)
    assert resumed.train_loss == pytest.approx(full.train_loss, rel=1e-6)


class _Evil:
    """An arbitrary Python object: ``weights_only=True`` must refuse to unpickle it."""


def test_checkpoint_is_atomic_and_safe(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", model={"w": torch.ones(2)}, step=3)
    assert load_checkpoint(path)["step"] == 3
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")

    torch.save({"x": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception):
        load_checkpoint(tmp_path / "evil.pt")


def test_bad_arguments_and_divergence():
    model, nb, loss, _ = _problem()
    with pytest.raises(ValueError, match="steps"):
        fit(model, nb, loss, steps=0, progress=False)
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(model, nb, lambda m, b: m(b[0]).sum() * float("nan"), steps=2, progress=False)
    assert count_parameters(model) == 4 * 16 + 16 + 16 + 1


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_resume_restores_the_data_generator(tmp_path, kind):
    """``next_batch`` drawing from a stateful generator resumes on the same batches via ``data_rng``."""
    import numpy as np

    def run(crash_at=None, init_seed=1):
        model, _, loss, ev = _problem(seed=init_seed)
        rng = np.random.default_rng(5) if kind == "numpy" else torch.Generator().manual_seed(5)

        def next_batch(step):
            if step == crash_at:
                raise KeyboardInterrupt
            x = (torch.from_numpy(rng.standard_normal((32, 4)).astype(np.float32)) if kind == "numpy"
                 else torch.randn(32, 4, generator=rng))
            return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

        return fit(model, next_batch, loss, steps=30, evaluate=ev, progress=False, data_rng=rng,
                   checkpoint_path=tmp_path / f"{kind}.pt" if crash_at != -1 else None, checkpoint_every=10)

    full = run(crash_at=-1)
    with pytest.raises(KeyboardInterrupt):
        run(crash_at=15)
    resumed = run(init_seed=7)
    assert resumed.train_loss == full.train_loss and resumed.metric("mse") == full.metric("mse")


@pytest.mark.parametrize("damage", ["truncate", "garble", "empty"])
def test_corrupt_checkpoint_names_the_file_and_the_flag(tmp_path, damage):
    from audioformers.core.results import CorruptFileError

    model, nb, loss, _ = _problem()
    ckpt = tmp_path / "run.pt"
    fit(model, nb, loss, steps=4, progress=False, checkpoint_path=ckpt, checkpoint_every=2)
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncate": data[: len(data) // 2], "garble": b"\x80\x02garbage" + data[50:], "empty": b""}[damage])
    with pytest.raises(CorruptFileError) as error:
        load_checkpoint(ckpt)
    assert str(ckpt) in str(error.value)
    with pytest.raises(CorruptFileError, match="--no-resume"):
        fit(model, nb, loss, steps=4, progress=False, checkpoint_path=ckpt)


def test_a_checkpoint_of_another_length_is_not_resumed(tmp_path):
    model, nb, loss, _ = _problem()
    fit(model, nb, loss, steps=4, progress=False, checkpoint_path=tmp_path / "c.pt")
    with pytest.raises(ValueError, match="4-step run"):
        fit(model, nb, loss, steps=8, progress=False, checkpoint_path=tmp_path / "c.pt")


def test_a_model_compile_cannot_take_trains_uncompiled(monkeypatch):
    """If the compiled forward fails on the first step, fit warns and trains the model itself, to the same numbers."""
    from audioformers.train import training

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("backend compiler failed")

    model, next_batch, loss_fn, evaluate = _problem()
    plain = fit(model, next_batch, loss_fn, steps=5, evaluate=evaluate, progress=False, compile=False)
    monkeypatch.setattr(training, "maybe_compile", lambda model, device, enabled: Broken())
    model, next_batch, loss_fn, evaluate = _problem()
    with pytest.warns(RuntimeWarning, match="torch.compile failed"):
        history = fit(model, next_batch, loss_fn, steps=5, evaluate=evaluate, progress=False)
    assert history.train_loss == plain.train_loss and history.eval_metrics == plain.eval_metrics


def test_losses_are_read_back_in_blocks_off_the_cpu_with_the_same_history(monkeypatch):
    """Where reading a loss back costs a host synchronisation, fit reads them every few steps: the same history,
    and a non-finite loss still stops training, naming its step."""
    from audioformers.train import training

    model, next_batch, loss_fn, evaluate = _problem()
    every_step = fit(model, next_batch, loss_fn, steps=7, evaluate=evaluate, eval_every=3, progress=False)
    monkeypatch.setattr(training, "loss_log_every", lambda device: 4)
    model, next_batch, loss_fn, evaluate = _problem()
    in_blocks = fit(model, next_batch, loss_fn, steps=7, evaluate=evaluate, eval_every=3, progress=False)
    assert in_blocks.__dict__.keys() == every_step.__dict__.keys()
    for key in ("step", "train_loss", "eval_step", "eval_metrics"):
        assert getattr(in_blocks, key) == getattr(every_step, key), key
    model, next_batch, loss_fn, _ = _problem()
    calls = []

    def nan_at_step_2(m, batch):
        calls.append(1)
        loss = loss_fn(m, batch)
        return loss * float("nan") if len(calls) == 3 else loss

    with pytest.raises(FloatingPointError, match="at step 2"):
        fit(model, next_batch, nan_at_step_2, steps=6, progress=False)
