"""Chapters 3-5's training under torchrun: two CPU processes on gloo give the metrics of one process.

Each test runs a chapter's smoke-profile training once in this process and once as two processes
(``torch.multiprocessing`` with torchrun's environment variables, gloo on 127.0.0.1), each process taking half
of every global batch (:mod:`audioformers.train.distributed`). Without dropout or BatchNorm the two runs take the
same optimiser steps up to float rounding, so losses and metrics agree to the tolerances below
(measured differences are far smaller). Dropout draws its masks per shard, so the runs compared here turn
it off; BatchNorm statistics are per shard on the CPU (SyncBatchNorm needs CUDA), so for the BatchNorm CNN
the test checks that the two ranks end with the same weights and a loss near the single process's.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

LOSS_RTOL = 1e-4  # relative, on every logged training loss
METRIC_ATOL = 1e-3  # absolute, on accuracies, bits per sample and mAP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, job: str, folder: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), BOOK_DEVICE="cpu", BOOK_DATA_DIR=os.path.join(folder, "data"))
    torch.set_num_threads(1)
    from audioformers.train import distributed as dd
    from audioformers.train.distributed import use_device_argument

    use_device_argument("cpu")  # what every chapter's command line does: joins the group under torchrun
    try:
        out = JOBS[job]()
        torch.save(out, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dd.cleanup()


def _two_processes(job: str, tmp_path: Path) -> list[dict]:
    (tmp_path / "data").mkdir(exist_ok=True)
    _link_offline_data(tmp_path / "data", REAL_DATA)
    mp.spawn(_worker, args=(2, _free_port(), job, str(tmp_path)), nprocs=2, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]


def _one_process(job: str, tmp_path: Path, monkeypatch) -> dict:
    folder = tmp_path / "single"
    folder.mkdir()
    _link_offline_data(folder, REAL_DATA)
    monkeypatch.setenv("BOOK_DATA_DIR", str(folder))
    monkeypatch.setenv("BOOK_DEVICE", "cpu")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return JOBS[job]()
    finally:
        torch.set_num_threads(threads)


def _complete_offline_sets() -> dict[str, Path]:
    """The reader's offline datasets built by the current builders (linked, never rebuilt, by these tests)."""
    from audioformers import data

    return {name: data.data_dir() / name for name in ("soundmix-mini",) if data.is_complete(name)}


REAL_DATA = _complete_offline_sets()


def _link_offline_data(folder: Path, sets: dict[str, Path]) -> None:
    for name, real in sets.items():
        if not (folder / name).exists():
            (folder / name).symlink_to(real)


def _close(a, b, rtol=0.0, atol=0.0, what=""):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=rtol, atol=atol,
                               err_msg=what)


# --------------------------------------------------------------------------------------------- jobs
def _ch3() -> dict:
    """Chapter 3's three models at the smoke profile (next_sample.train_one through training.fit) and a
    warm-up/stable/decay run of the scaling study (ch3.scaling.wsd_run, its own loop)."""
    from audioformers.ch3 import experiment as ns
    from audioformers.ch3 import scaling as ch3_scaling

    rng = np.random.default_rng(0)
    t = np.arange(3000)
    recs = [np.clip(128 + 60 * np.sin(2 * np.pi * t / (20 + 7 * i)) + rng.integers(-3, 4, 3000), 0, 255)
            .astype(np.int64) for i in range(3)]
    config = ns.experiment_config("smoke")
    windows = torch.from_numpy(ns.sample_windows(recs[:1], 8, ns.window_length(config), np.random.default_rng(1)))
    out = {}
    for name in ns.MODEL_NAMES:
        run = ns.train_one(name, config, 0, recs[1:], windows)
        out[name] = {"final": run["final"], "curve": {k: run["curve"][k] for k in ("top1", "top5", "bits_per_sample")},
                     "train_loss_last": run["train_loss_last"]}
    out["wsd"] = ch3_scaling.wsd_run("transformer", config, [2, 4], recs[1:], windows, 2e-3)["bits_per_sample"]
    return out


def _ch4() -> dict:
    """Chapter 4's pre-training at the fold study's smoke sizes: the patch autoencoder (training.fit), the
    next-code LM (its own loop; dropout off), SimCLR (global NT-Xent over gathered projections; BatchNorm CNN)."""
    from audioformers.ch4 import config as ch4_config
    from audioformers.models import code_lm, contrastive, tokenizer

    cfg = ch4_config.fold_config("smoke")
    rng = np.random.default_rng(0)
    codes = rng.integers(0, cfg.num_codes, (96, 24))
    codes[:, 1::2] = (codes[:, ::2] + 1) % cfg.num_codes  # something to learn: every other code follows its left
    lm_cfg = code_lm.CodeLMConfig(num_codes=cfg.num_codes, context_length=24, width=cfg.lm_width,
                                  num_layers=cfg.lm_layers, num_heads=cfg.lm_heads, dropout=0.0)
    lm, lm_log = code_lm.train_code_lm(codes, lm_cfg, steps=cfg.lm_steps, batch_size=cfg.lm_batch,
                                       weight_decay=cfg.lm_weight_decay, seed=0, test_codes=codes[:32],
                                       eval_every=cfg.lm_steps // 4)
    patches = rng.normal(size=(400, 2 * cfg.n_mels)).astype(np.float32)
    ae_cfg = tokenizer.AutoencoderConfig(input_dim=2 * cfg.n_mels, hidden_dim=cfg.ae_hidden,
                                         bottleneck_dim=cfg.bottleneck_dim)
    _, ae_loss = tokenizer.train_autoencoder(patches, ae_cfg, steps=cfg.ae_steps, seed=0)
    mels = rng.normal(size=(32, cfg.n_mels, 60)).astype(np.float32)
    cnn_cfg = contrastive.CNNConfig(n_mels=cfg.n_mels, channels=cfg.cnn_channels, embed_dim=cfg.cnn_embed,
                                    projection_dim=cfg.cnn_embed)
    cnn, simclr_loss = contrastive.train_simclr(mels, cnn_cfg, steps=cfg.simclr_steps, batch_size=16,
                                                crop_frames=cfg.crop_frames, seed=0)
    return {"lm_log": lm_log, "ae_loss": ae_loss, "simclr_loss": simclr_loss,
            "cnn": {k: v.detach().clone() for k, v in cnn.state_dict().items()}}


def _ch5() -> dict:
    """Chapter 5's first study unit at the smoke profile (the transformer; dropout off): ch5.runs.run_one."""
    from audioformers.ch5 import models as ch5_models
    from audioformers.ch5 import runs as ch5_runs
    from audioformers.ch5 import study as ch5_study

    ch5_models.WaveletTransformerConfig = functools.partial(ch5_models.WaveletTransformerConfig, dropout=0.0)
    unit = ch5_study.plan("smoke")[0]
    run = ch5_runs.run_one(ch5_study.unit_config(unit, "smoke"), progress=False)
    return {k: run[k] for k in ("model", "map", "train_loss", "curve")}


JOBS = {"ch3": _ch3, "ch4": _ch4, "ch5": _ch5}


# --------------------------------------------------------------------------------------------- tests
def test_chapter3_two_processes_match_one(tmp_path, monkeypatch):
    one = _one_process("ch3", tmp_path, monkeypatch)
    ranks = _two_processes("ch3", tmp_path)
    assert ranks[0] == ranks[1]  # every rank evaluates the same weights on the same windows
    _close(ranks[0].pop("wsd"), one.pop("wsd"), atol=METRIC_ATOL, what="scaling study's WSD run")
    for name, run in one.items():
        two = ranks[0][name]
        _close(two["train_loss_last"], run["train_loss_last"], rtol=LOSS_RTOL, what=name)
        for metric in ("top1", "top5", "bits_per_sample"):
            _close(two["curve"][metric], run["curve"][metric], atol=METRIC_ATOL, what=f"{name} {metric}")


def test_chapter4_two_processes_match_one(tmp_path, monkeypatch):
    one = _one_process("ch4", tmp_path, monkeypatch)
    ranks = _two_processes("ch4", tmp_path)
    two = ranks[0]
    _close(two["ae_loss"], one["ae_loss"], rtol=LOSS_RTOL, what="autoencoder loss")
    for key in ("train_ce", "test_ce"):
        _close(two["lm_log"][key], one["lm_log"][key], rtol=LOSS_RTOL, what=f"next-code LM {key}")
    assert two["lm_log"]["test_ce"][-1] < two["lm_log"]["test_ce"][0]  # it learnt something
    # SimCLR: the loss is over the global batch's pairs (gathered), so the first step, before BatchNorm's
    # per-shard statistics have changed any weight, is close to one process's; the ranks stay in step
    for key, value in two["cnn"].items():
        torch.testing.assert_close(ranks[1]["cnn"][key], value, rtol=0, atol=0, msg=key)
    _close(two["simclr_loss"][0], one["simclr_loss"][0], rtol=0.05, what="SimCLR first loss")


def test_chapter5_two_processes_match_one(tmp_path, monkeypatch):
    from audioformers.ch5 import models as ch5_models

    if "soundmix-mini" not in REAL_DATA:
        pytest.skip("the offline dataset soundmix-mini is not built here, or was built by other builders")
    monkeypatch.setattr(ch5_models, "WaveletTransformerConfig", ch5_models.WaveletTransformerConfig)  # restored after
    one = _one_process("ch5", tmp_path, monkeypatch)
    ranks = _two_processes("ch5", tmp_path)
    assert ranks[0]["map"] == ranks[1]["map"]
    two = ranks[0]
    _close(two["train_loss"], one["train_loss"], rtol=LOSS_RTOL, what="training loss")
    _close(two["curve"]["map"], one["curve"]["map"], atol=METRIC_ATOL, what="mAP curve")
    _close(two["map"], one["map"], atol=METRIC_ATOL, what="mAP")
