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


# --- the committed notebooks, read as JSON (the chapters' lesson and findings tests) ------------------------
def notebook_cells(path) -> list[dict]:
    """The cells of a committed notebook, as stored."""
    import json
    from pathlib import Path

    return json.loads(Path(path).read_text())["cells"]


def cell_source(cell: dict) -> str:
    return "".join(cell["source"])


def cell_tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def outputs_text(cells: list[dict], visible_only: bool = False) -> str:
    """The text the code cells' outputs show (streams, Markdown, else plain text); ``visible_only`` leaves out the
    cells tagged ``hide-output`` (collapsed in the book)."""
    out = []
    for cell in cells:
        if cell["cell_type"] != "code" or (visible_only and "hide-output" in cell_tags(cell)):
            continue
        for o in cell.get("outputs", []):
            if "text" in o:
                out.append("".join(o["text"]))
            elif "data" in o:
                data = o["data"]
                out.append("".join(data.get("text/markdown", data.get("text/plain", ""))))
    return "\n".join(out)


def verdict_lines(cells: list[dict]) -> list[str]:
    """Visible output lines (not in a hide-output cell) carrying one of the protocol's verdict words."""
    import re

    from audioformers.evaluation import evidence as ev

    words = re.compile("|".join(re.escape(w) for w in ev.VERDICTS))
    return [line for line in outputs_text(cells, visible_only=True).splitlines() if words.search(line)]
