"""The Colab path of the set-up cell, tested the closest way we can here.

Fast tests check the pieces of ``data_scripts/check_fresh_env.py``; the real run (a fresh virtual
environment with only Colab's usual packages, whose first cell installs the package from the local
checkout, then the whole notebook at the smoke profile) takes a minute or more per notebook and runs only
when ``AUDIOFORMERS_FRESH_ENV_TEST=1`` (optionally ``AUDIOFORMERS_FRESH_ENV_NOTEBOOKS=02_raw_audio_mulaw,...``).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_fresh_env", ROOT / "data_scripts" / "check_fresh_env.py")
fresh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fresh)


def test_setup_cell_is_valid_python_and_keeps_colab_torch():
    compile(fresh.SETUP_CELL, "setup-cell", "exec")
    cell = fresh.SETUP_CELL
    assert "AUDIOFORMERS_INSTALL_SPEC" in cell and "importlib.invalidate_caches()" in cell
    assert cell.index("apt-get -qq update") < cell.index("apt-get -qq install")  # a fresh runtime has no package lists
    assert "@v0.1" in cell  # pinned to the book's tag
    assert "torch" not in cell.split("pip")[1].split("]")[0]  # torch and torchaudio are never named for pip


def test_setup_cell_does_nothing_when_the_package_is_installed(monkeypatch):
    monkeypatch.delenv("AUDIOFORMERS_INSTALL_SPEC", raising=False)
    exec(fresh.SETUP_CELL, {})  # audioformers is installed here: no pip, no error


def test_base_environment_has_torch_but_not_the_book_package():
    names = {fresh._normalise(d.metadata["Name"]) for d in fresh.dependency_closure(fresh.COLAB_PACKAGES)}
    assert {"torch", "torchaudio", "numpy", "librosa", "ipykernel"} <= names
    assert not names & fresh.NOT_ON_COLAB


def _notebooks() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb")) + [ROOT / "templates" / "chapter_template.ipynb"]


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_setup_cell(path):
    notebook = json.loads(path.read_text())
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    assert "".join(first["source"]) == fresh.SETUP_CELL
    assert "hide-input" in first["metadata"].get("tags", [])  # shown collapsed in the book


def test_prepare_notebook_copies_a_notebook_unchanged(tmp_path):
    template = json.loads((ROOT / "templates" / "chapter_template.ipynb").read_text())
    source = tmp_path / "src" / "nb.ipynb"
    source.parent.mkdir()
    source.write_text(json.dumps(template))
    target = fresh.prepare_notebook(source, tmp_path)
    assert json.loads(target.read_text()) == template


def test_prepare_notebook_refuses_an_old_setup_cell(tmp_path):
    notebook = json.loads((ROOT / "templates" / "chapter_template.ipynb").read_text())
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    first["source"] = 'import importlib.util\nif importlib.util.find_spec("audioformers") is None:\n    raise ModuleNotFoundError("x")'
    source = tmp_path / "old.ipynb"
    source.write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="does not read AUDIOFORMERS_INSTALL_SPEC"):
        fresh.prepare_notebook(source, tmp_path / "out")
    first["source"] = "print('hello')"
    source.write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="not the book's set-up cell"):
        fresh.prepare_notebook(source, tmp_path / "out")


def test_package_sources_copy_what_pip_needs(tmp_path):
    src = fresh.package_sources(tmp_path)
    assert (src / "pyproject.toml").is_file() and (src / "lib" / "audioformers" / "__init__.py").is_file()
    assert not list(src.rglob("__pycache__"))


@pytest.mark.skipif(os.environ.get("AUDIOFORMERS_FRESH_ENV_TEST") != "1",
                    reason="slow (a fresh virtual environment per notebook): set AUDIOFORMERS_FRESH_ENV_TEST=1")
def test_notebooks_run_in_a_fresh_colab_like_environment(tmp_path):
    wanted = [n for n in os.environ.get("AUDIOFORMERS_FRESH_ENV_NOTEBOOKS", "").split(",") if n]
    notebooks = sorted((ROOT / "chapters").glob("*.ipynb"))
    if wanted:
        notebooks = [p for p in notebooks if p.stem in wanted]
    assert notebooks, "no notebooks to run"
    reports = fresh.check(notebooks, tmp_path / "venv")
    for report in reports:
        assert any(name.startswith("audioformers==") for name in report["installed_by_first_cell"])
        assert not any(name.startswith(("torch", "nvidia")) for name in report["installed_by_first_cell"])


def test_setup_cell_installs_from_the_repository_in_config():
    """The repository URL is set once in _config.yml; the set-up cell must install from that same repository."""
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    assert f"git+{url}@" in fresh.SETUP_CELL.replace('"\n                    "', "").replace('" "', "")
