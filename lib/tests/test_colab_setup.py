"""The Colab path of the set-up cell, tested the closest way we can here.

Fast tests check the pieces of ``data_scripts/check_fresh_env.py``; the real run (a fresh virtual
environment with only Colab's usual packages, whose first cell installs the package from the local
checkout, then the whole notebook at the smoke profile) takes a minute or more per notebook and runs only
when ``AUDIOFORMERS_FRESH_ENV_TEST=1`` (optionally ``AUDIOFORMERS_FRESH_ENV_NOTEBOOKS=02_raw_audio_mulaw,...``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import load_data_script

from audioformers import booktools

ROOT = Path(__file__).resolve().parents[2]
fresh = load_data_script("check_fresh_env")


def _cells() -> list[tuple[str, str]]:
    return [(path.stem, booktools.setup_cell(booktools._chapter_of(path), ROOT)) for path in booktools.setup_notebooks(ROOT)]


@pytest.mark.parametrize("name,cell", _cells(), ids=lambda v: v if "\n" not in v else "")
def test_setup_cell_is_valid_python_and_keeps_colab_torch(name, cell):
    compile(cell, "setup-cell", "exec")
    assert "AUDIOFORMERS_INSTALL_SPEC" in cell and "importlib.invalidate_caches()" in cell
    assert cell.index('"update"') < cell.index('"install", "-y"')  # a fresh runtime has no package lists
    assert f"REPOSITORY, TAG = {booktools.repository_url(ROOT)!r}, {booktools.release_tag(ROOT)!r}" in cell  # the book's tag
    pip_line = next(line for line in cell.splitlines() if '"-m", "pip", "install"' in line)
    assert "torch" not in pip_line  # torch and torchaudio are never named for pip: Colab's own are kept


def test_each_chapter_installs_only_the_debian_packages_its_data_needs(monkeypatch):
    script = (ROOT / "data_scripts" / "install_debian_packages.sh").read_text()
    every = set(script.split("PACKAGES=(", 1)[1].split(")", 1)[0].split())
    assert set(booktools.debian_packages("")) == every  # the template (an unlisted chapter) gets all of them
    for chapter, datasets in booktools.CHAPTER_DATASETS.items():
        needed = set(booktools.debian_packages(chapter))
        assert needed <= every
        assert needed == {p for d in datasets for p in booktools.DATASET_DEBIAN_PACKAGES[d]}
        cell = booktools.setup_cell(chapter, ROOT)
        assert f"DEBIAN = {sorted(needed)!r}" in cell
    assert "hydrogen-drumkits" not in booktools.debian_packages("01_fourier_spectrograms")  # chapter 1 has no drums
    monkeypatch.setitem(booktools.CHAPTER_DATASETS, "zz", ("no-such-set",))
    with pytest.raises(ValueError, match="unknown datasets"):
        booktools.debian_packages("zz")


def test_every_dataset_a_chapter_names_is_in_its_declared_datasets():
    """A chapter that starts loading another dataset must say so, or Colab would lack its Debian packages."""
    from audioformers import data

    assert set(booktools.DATASET_DEBIAN_PACKAGES) == set(data.DATASET_NAMES)
    loaders = {"load_example(": "examples", "load_wave_mini(": "wave-mini", "load_soundmix(": "soundmix-mini"}
    for path in booktools.toc_notebooks(ROOT):
        code = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                         for c in json.loads((ROOT / path).read_text())["cells"] if c["cell_type"] == "code")
        named = {name for name in data.DATASET_NAMES if f'"{name}"' in code}
        named |= {name for call, name in loaders.items() if call in code}
        assert named <= set(booktools.CHAPTER_DATASETS[path.stem]), path.stem


def test_setup_cell_does_nothing_but_print_the_costs_when_the_package_is_installed(monkeypatch, capsys):
    monkeypatch.delenv("AUDIOFORMERS_INSTALL_SPEC", raising=False)
    cell = booktools.setup_cell("03_wavenet_vs_transformer", ROOT)
    exec(cell, {})  # audioformers is installed here: no apt, no pip, no error
    printed = capsys.readouterr().out
    assert printed == booktools.setup_cell_output("03_wavenet_vs_transformer", ROOT)
    assert "Time before you start" in printed and "On Colab:" in printed


def test_a_failing_setup_step_shows_its_output_and_says_what_to_do(monkeypatch, capsys):
    monkeypatch.delenv("AUDIOFORMERS_INSTALL_SPEC", raising=False)
    namespace: dict = {}
    exec(booktools.setup_cell(None, ROOT), namespace)
    capsys.readouterr()
    failing = [sys.executable, "-c", "import sys; print('E: Unable to locate package x'); sys.exit(100)"]
    with pytest.raises(RuntimeError, match=r"failed: apt step .*exited with 100.*What to do: run it again"):
        namespace["run_step"]("apt step", failing, "run it again")
    shown = capsys.readouterr().out
    assert "[set-up] apt step ..." in shown and "E: Unable to locate package x" in shown  # progress, as it comes
    namespace["run_step"]("fine step", [sys.executable, "-c", "print('ok')"], "nothing")
    assert "[set-up] fine step: done in" in capsys.readouterr().out


def test_base_environment_has_torch_but_not_the_book_package():
    names = {fresh._normalise(d.metadata["Name"]) for d in fresh.dependency_closure(fresh.COLAB_PACKAGES)}
    assert {"torch", "torchaudio", "numpy", "librosa", "ipykernel"} <= names
    assert not names & fresh.NOT_ON_COLAB


def _notebooks() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb")) + [ROOT / "templates" / "chapter_template.ipynb"]


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_generated_setup_cell(path):
    notebook = json.loads(path.read_text())
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    chapter = booktools._chapter_of(path.relative_to(ROOT))
    assert "".join(first["source"]) == booktools.setup_cell(chapter, ROOT), (
        f"{path.name}: run `python -m audioformers.booktools sync-setup-cells`")
    assert "hide-input" in first["metadata"].get("tags", [])  # shown collapsed in the book
    printed = "".join("".join(o.get("text", "")) for o in first.get("outputs", []))
    assert printed == booktools.setup_cell_output(chapter, ROOT)  # the cost table, as generated from results/


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


def test_package_sources_copy_the_book_as_a_clone_holds_it(tmp_path):
    src = fresh.package_sources(tmp_path)
    assert (src / "pyproject.toml").is_file() and (src / "lib" / "audioformers" / "__init__.py").is_file()
    assert (src / "results" / "ch5").is_dir()  # the stored studies travel with the book, as in a clone at the tag
    assert not list(src.rglob("__pycache__")) and not (src / ".venv").exists()


def test_setup_cell_points_results_at_the_fetched_book(tmp_path, monkeypatch, capsys):
    """On Colab the package is installed (not editable) from the clone, so ``results_dir`` finds no repository: the
    set-up cell must point ``BOOK_RESULTS_DIR`` at the clone's results/ (and leave a reader's own setting alone)."""
    from audioformers.core import results

    book = tmp_path / "book"
    (book / "results").mkdir(parents=True)
    monkeypatch.setenv("AUDIOFORMERS_INSTALL_SPEC", str(book))
    monkeypatch.delenv("BOOK_RESULTS_DIR", raising=False)
    exec(booktools.setup_cell("05_wavelet_audio_transformer", ROOT), {})  # the package is installed: no pip
    assert os.environ["BOOK_RESULTS_DIR"] == str(book / "results") and results.results_dir() == book / "results"
    assert f"[set-up] stored results: {book / 'results'}" in capsys.readouterr().out
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "mine"))
    exec(booktools.setup_cell("05_wavelet_audio_transformer", ROOT), {})
    assert os.environ["BOOK_RESULTS_DIR"] == str(tmp_path / "mine")


def test_setup_cell_fetches_the_book_at_its_tag_on_colab(tmp_path, monkeypatch):
    """What the cell runs on a fresh Colab runtime: apt, a shallow clone of the repository at the tag, then pip
    install of the clone (recorded here instead of run)."""
    import types

    monkeypatch.delenv("AUDIOFORMERS_INSTALL_SPEC", raising=False)
    monkeypatch.delenv("BOOK_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    cell = booktools.setup_cell("05_wavelet_audio_transformer", ROOT)
    cell = cell.replace('importlib.util.find_spec("audioformers") is None:\n    retry', 'True:\n    retry', 1)
    commands: list[list[str]] = []
    namespace: dict = {}
    exec(cell.split("\n\n\nif ", 1)[0], namespace)  # the definitions, then the install block with run_step recorded
    namespace["run_step"] = lambda what, command, advice: commands.append(command)
    exec("if " + cell.split("\n\n\nif ", 1)[1].split("\nif importlib.util.find_spec", 1)[0], namespace)
    clone = next(c for c in commands if c[:2] == ["git", "clone"])
    assert clone[-3:] == [booktools.release_tag(ROOT), booktools.repository_url(ROOT), str(tmp_path / booktools.clone_folder(ROOT))]
    assert "--depth" in clone
    pip = next(c for c in commands if "pip" in c)
    assert pip[-1] == str(tmp_path / booktools.clone_folder(ROOT)) and not any("torch" in part for part in pip)
    assert [c[0] for c in commands].index("git") > max(i for i, c in enumerate(commands) if c[0] == "apt-get")


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


def test_setup_cell_installs_from_the_repository_and_tag_in_config():
    """The repository URL is set once in _config.yml and the version once in pyproject.toml: the set-up cell
    installs from that repository at the tag the launch buttons open."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url = config["url"].rstrip("/")
    assert f"REPOSITORY, TAG = {url!r}, {config['branch']!r}" in fresh.SETUP_CELL


@pytest.mark.colab
def test_chapter_5_runs_as_colab_runs_it(tmp_path):
    """What Colab does, as closely as this machine can: a fresh environment with Colab's usual packages and not
    the book's, an empty working folder outside the repository, the notebook's own set-up cell installing the
    package from a copy of the book (``AUDIOFORMERS_INSTALL_SPEC``, in place of the clone at the tag), then the
    whole chapter at the book profile. It must read the stored studies (no result written again) and finish
    within 5 minutes here."""
    notebook = ROOT / "chapters" / "05_wavelet_audio_transformer.ipynb"
    (report,) = fresh.check([notebook], tmp_path / "venv", profile="book", timeout=600, max_minutes=5.0)
    assert any(name.startswith("audioformers==") for name in report["installed_by_first_cell"])
    assert report["stored_results_rewritten"] == []
    print(f"chapter 5 as Colab runs it: {report['notebook_s']:.0f} s at the book profile "
          f"(environment {report['environment_s']:.0f} s)")
