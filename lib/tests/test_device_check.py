"""bench/device_check.py at the smoke profile on the CPU: every chapter's training step, timed, with its MFU."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "device_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_device_check_runs_every_chapter_at_smoke_and_writes_a_device_profile(monkeypatch):
    monkeypatch.setenv("BOOK_DEVICE", "cpu")
    threads = torch.get_num_threads()
    try:
        metrics = _load().main(["--profile", "smoke", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    record = json.loads((Path(os.environ["BOOK_RESULTS_DIR"]) / "bench" / "device_check.smoke.json").read_text())
    assert set(record["metrics"]["workloads"]) == set(metrics["workloads"]) and record["device"].startswith("cpu")
    rows = record["metrics"]["workloads"]
    assert {name.split("/")[0] for name in rows} == {"ch3", "ch4", "ch5"}
    assert {"ch3/wavenet", "ch3/transformer", "ch3/conditioned", "ch4/code_lm", "ch5/cnn-vgg"} <= set(rows)
    assert record["metrics"]["matmul_peak"]["dtype"] == "float32" and record["metrics"]["autocast"].startswith("none")
    for name, row in rows.items():
        per_second = row[f"{row['unit']}_per_second"]
        assert row["step_seconds"] > 0 and row["train_gflops_per_step"] > 0, name
        assert per_second == pytest.approx(row["items_per_step"] / row["step_seconds"]), name
        # MFU is the step's counted FLOPs per second over the peak measured in the same run
        assert row["mfu"] == pytest.approx(row["train_gflops_per_step"] * 1e9 / row["step_seconds"]
                                           / record["metrics"]["matmul_peak"]["flops_per_s"])
        assert 0 < row["mfu"] < 3, (name, row["mfu"])  # a busy shared CPU can time the peak low, never 3x
        assert row["loss"] == row["loss"] and not row["compiled"]
    assert rows["ch5/transformer-average"]["batch_shape"][1] == 16000  # 1 s crops at 16 kHz


def test_device_check_refuses_an_unknown_profile():
    with pytest.raises(ValueError, match="profile"):
        _load().main(["--profile", "huge"])
