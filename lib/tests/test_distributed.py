"""Two CPU processes on gloo train like one process with the same global batch (up to float rounding)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from audioformers.train import distributed as dd
from audioformers.train.training import load_checkpoint

STEPS, GLOBAL_BATCH = 12, 8


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _batch(step: int):
    generator = torch.Generator().manual_seed(1000 + step)  # depends on the step only
    x = torch.randn(GLOBAL_BATCH, 6, generator=generator)
    return x, (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 1).long()


def _loss(model, batch):
    x, y = batch
    return torch.nn.functional.cross_entropy(model(x), y)


@contextlib.contextmanager
def _rank(rank: int, world_size: int, port: int):
    """This process as rank ``rank`` of a gloo group on 127.0.0.1 (one thread); the group is left on exit."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    info = dd.init_from_env(device="cpu")
    try:
        yield info
    finally:
        dd.cleanup()


def _worker(rank: int, world_size: int, port: int, folder: str) -> None:
    with _rank(rank, world_size, port) as info:
        out = dd.fit_data_parallel(_model(), _batch, _loss, steps=STEPS, lr=1e-2, info=info,
                                   checkpoint_path=os.path.join(folder, "ddp.pt"))
        if dd.is_main(info):
            torch.save(out["train_loss"], os.path.join(folder, "losses.pt"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process(tmp_path):
    single = dd.fit_data_parallel(_model(), _batch, _loss, steps=STEPS, lr=1e-2, checkpoint_path=tmp_path / "one.pt")
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ddp_losses = torch.load(tmp_path / "losses.pt")
    assert len(ddp_losses) == STEPS
    torch.testing.assert_close(torch.tensor(ddp_losses), torch.tensor(single["train_loss"]), rtol=1e-5, atol=1e-6)
    one, two = load_checkpoint(tmp_path / "one.pt")["model"], load_checkpoint(tmp_path / "ddp.pt")["model"]
    assert one.keys() == two.keys()  # rank 0 saved the unwrapped model (no "module." prefix)
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6)


def test_single_process_helpers_are_no_ops(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = dd.init_from_env(device="cpu")
    assert not info.enabled and dd.is_main(info) and info.backend is None
    model = _model()
    assert dd.wrap(model, info) is model
    x = torch.arange(8)
    assert torch.equal(dd.shard(x, info), x)
    assert dd.all_reduce_mean(2.5, info) == 2.5


def test_shard_splits_contiguously_and_checks_divisibility():
    info = dd.DistInfo(rank=1, world_size=2)
    x, y = torch.arange(8).reshape(4, 2), torch.arange(4)
    sx, sy = dd.shard((x, y), info)
    assert torch.equal(sx, x[2:]) and torch.equal(sy, y[2:])
    with pytest.raises(ValueError, match="not divisible by 3 processes"):
        dd.shard(torch.zeros(4), dd.DistInfo(rank=0, world_size=3))


def test_resume_gives_the_same_losses(tmp_path):
    full = dd.fit_data_parallel(_model(), _batch, _loss, steps=STEPS, lr=1e-2)
    path = tmp_path / "part.pt"
    dd.fit_data_parallel(_model(), _batch, _loss, steps=5, lr=1e-2, checkpoint_path=path)
    state = load_checkpoint(path)
    assert state["step"] == 5
    resumed = dd.fit_data_parallel(_model(), _batch, _loss, steps=STEPS, lr=1e-2, checkpoint_path=path)
    torch.testing.assert_close(torch.tensor(resumed["train_loss"]), torch.tensor(full["train_loss"]))


def _contrastive_worker(rank: int, world_size: int, port: int, folder: str) -> None:
    """One optimiser step of a batch-level loss (NT-Xent over the gathered batch) on this rank's shard."""
    with _rank(rank, world_size, port) as info:
        model = _model()
        x, _ = dd.shard(_batch(0), info)
        loss = _contrastive_loss(model, x, x.flip(1), info)
        loss.backward()
        dd.average_gradients(model, info)
        if dd.is_main(info):
            torch.save({"loss": loss.detach(), "grads": [p.grad for p in model.parameters()]},
                       os.path.join(folder, "contrastive.pt"))


def _contrastive_loss(model, a, b, info):
    from audioformers.models.contrastive import nt_xent

    z1, z2 = dd.gather_batch(model(a), info), dd.gather_batch(model(b), info)
    return dd.global_loss(nt_xent(z1, z2), info)


def test_a_loss_over_the_gathered_batch_has_the_single_process_gradient(tmp_path):
    """NT-Xent couples every example of the batch; gathered over two ranks it is the one-process loss, and
    after averaging every rank holds the one-process gradient."""
    model = _model()
    x, _ = _batch(0)
    single = _contrastive_loss(model, x, x.flip(1), dd.DistInfo())
    single.backward()
    mp.spawn(_contrastive_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    two = torch.load(tmp_path / "contrastive.pt")
    torch.testing.assert_close(two["loss"], single.detach(), rtol=1e-6, atol=1e-6)
    for got, want in zip(two["grads"], [p.grad for p in model.parameters()]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_average_gradients_and_gathering_are_no_ops_in_one_process():
    model = _model()
    _loss(model, _batch(0)).backward()
    before = [p.grad.clone() for p in model.parameters()]
    dd.average_gradients(model, dd.DistInfo())
    assert all(torch.equal(a, p.grad) for a, p in zip(before, model.parameters()))
    x = torch.randn(4, 3)
    assert dd.gather_batch(x, dd.DistInfo()) is x and dd.global_loss(x.sum(), dd.DistInfo()).item() == x.sum().item()


def _results_worker(rank: int, world_size: int, port: int, folder: str) -> None:
    from audioformers.core.results import write_results

    with _rank(rank, world_size, port) as info:
        for turn in range(world_size):  # rank 0 first, then the others: a later write would replace rank 0's
            if turn == rank:
                path = write_results("chx", "ranks", {"rank": rank}, profile="smoke", directory=Path(folder))
            dd.barrier(info)
        with open(os.path.join(folder, f"path{rank}.txt"), "w") as handle:
            handle.write(str(path))


def test_only_rank_zero_writes_results_in_a_gloo_group(tmp_path):
    """Under torchrun every rank computes the metrics; one file is written, by rank 0, and every rank is
    told its path."""
    import json

    mp.spawn(_results_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    written = tmp_path / "chx" / "ranks.smoke.json"
    assert json.loads(written.read_text())["metrics"] == {"rank": 0}
    assert {(tmp_path / f"path{r}.txt").read_text() for r in (0, 1)} == {str(written)}
    assert sorted(p.name for p in (tmp_path / "chx").iterdir()) == ["ranks.smoke.json"]  # no temporary left


@pytest.mark.parametrize("kwargs, name", [({"rank": -1}, "rank"), ({"rank": 2, "world_size": 2}, "rank"),
                                          ({"world_size": 0}, "world_size"), ({"world_size": 2.5}, "world_size"),
                                          ({"local_rank": float("nan")}, "local_rank"), ({"backend": "mpx"}, "backend")])
def test_dist_info_refuses_an_impossible_process_group(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        dd.DistInfo(**kwargs)


def test_study_parser_and_start_study(monkeypatch, capsys):
    import torch

    from audioformers.train.distributed import start_study, study_parser

    monkeypatch.setenv("BOOK_DEVICE", "cpu")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    args = study_parser("a study", seeds=True).parse_args(["--seeds", "0", "2", "--no-resume", "--device", "cpu"])
    assert (args.seeds, args.resume, args.device, args.profile) == ([0, 2], False, "cpu", None)
    assert not hasattr(study_parser("a study").parse_args([]), "seeds")
    before = torch.get_num_threads()
    try:
        assert start_study(args, threads=1).type == "cpu" and torch.get_num_threads() == 1
        assert "device: cpu" in capsys.readouterr().out
        with pytest.raises(ValueError, match="threads"):
            start_study(args, threads=0)
    finally:
        torch.set_num_threads(before)
