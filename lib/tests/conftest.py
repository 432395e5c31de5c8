"""Shared fixtures: every test gets its own data and results folders, and a fixed profile."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Tests never touch the reader's data cache or the committed results."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    yield


@pytest.fixture(scope="module")
def one_thread():
    """Small models on shared CPU cores run several times faster on one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_data_script(name: str):
    """Import ``data_scripts/<name>.py`` (the scripts are not a package) for a test."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data_scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
