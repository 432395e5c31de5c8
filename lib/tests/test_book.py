"""Checks of the book as a whole: toc, environment files, committed notebooks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from audioformers.booktools import _PROGRESS, resolve_entry, strip_progress_bars, toc_entries, toc_notebooks
from audioformers.core.results import repo_root

ROOT = repo_root()
pytestmark = pytest.mark.skipif(ROOT is None, reason="needs a checkout of the book")
MACHINE_PATH = re.compile(r"/(work|tmp|root|home)/[A-Za-z0-9_.-]+/")


def _committed_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_every_toc_entry_exists():
    missing = [e for e in toc_entries(ROOT) if resolve_entry(e, ROOT) is None]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc():
    listed = {p.resolve() for p in (ROOT / n for n in toc_notebooks(ROOT))}
    orphans = [str(p.relative_to(ROOT)) for p in _committed_notebooks() if p.resolve() not in listed]
    assert not orphans, f"notebooks not in _toc.yml (readers would never see them): {orphans}"


def _names(requirements: list[str]) -> set[str]:
    names = set()
    for req in requirements:
        req = req.strip()
        if not req or req.startswith("-"):
            continue
        names.add(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_environment_yml_and_pyproject_name_the_same_packages():
    import tomllib

    import yaml

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        declared |= _names(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert _names(pip_section) == declared


def test_constraints_pin_everything_declared():
    import tomllib

    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= _names(extra)
    assert declared - pins.keys() == set(), "constraints.txt must pin every declared package"
    assert "torch" in pins and not any("torch" in d and "==" in d for d in project["dependencies"]), "never pin torch in pyproject"


@pytest.mark.parametrize("nb_path", _committed_notebooks() if ROOT else [], ids=lambda p: p.name)
def test_committed_notebook_is_clean_and_ends_with_book_provenance(nb_path):
    nb = json.loads(nb_path.read_text())
    cells = nb["cells"]
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"{nb_path.name} cell {index} has an error output"
            if output.get("name") == "stderr":
                assert not _PROGRESS.search("".join(output.get("text", ""))), (
                    f"{nb_path.name} cell {index} saved progress-bar redraws: execute with booktools (it strips them)")
    text = nb_path.read_text()
    match = MACHINE_PATH.search(text)
    assert match is None, f"{nb_path.name} holds a machine-local path: {match.group(0) if match else ''}"
    assert nb_path.stat().st_size < 2_000_000, f"{nb_path.name} is {nb_path.stat().st_size / 1e6:.1f} MB: shrink figures/audio"
    code_cells = [c for c in cells if c["cell_type"] == "code"]
    assert code_cells, "a chapter notebook needs code"
    assert "google.colab" in "".join(code_cells[0]["source"]), "first code cell must be the set-up (Colab) cell"
    last = code_cells[-1]
    assert "provenance()" in "".join(last["source"]), "the last code cell must be notebook.provenance()"
    printed = "".join("".join(o.get("text", "")) for o in last.get("outputs", []))
    assert "profile: book" in printed, f"{nb_path.name}: committed outputs must come from the book profile"
    headings = [c for c in cells if c["cell_type"] == "markdown"]
    joined = "\n".join("".join(c["source"]) for c in headings)
    assert "## Summary" in joined and "## Exercises" in joined, f"{nb_path.name} must end with Summary and Exercises"


def test_the_book_never_points_at_the_planning_notes():
    """Readers have the repository only: no page or module may send them to files outside it."""
    outside = re.compile(r"\.\./shared|\b(PAPERS|DESIGN|STYLE|DATA)\.md\b")
    offenders = []
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in {".md", ".ipynb", ".py", ".yml", ".toml"} or path.name == "test_book.py":
            continue
        if any(part in {".venv", "_build", ".git", "node_modules"} or part.startswith(".") for part in path.relative_to(ROOT).parts[:-1]):
            continue
        if outside.search(path.read_text(errors="ignore")):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"these files point outside the repository: {offenders}"


def test_progress_bars_are_stripped_but_other_stderr_kept():
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cell = new_code_cell("train()")
    cell.outputs = [new_output("stream", name="stderr", text="wavenet:  33%|###  | 100/300 [00:06<00:21,  9.49it/s]"),
                    new_output("stream", name="stderr", text="UserWarning: something a reader should see\n"),
                    new_output("stream", name="stdout", text="final top-5 0.24\n")]
    nb = new_notebook(cells=[cell])
    assert strip_progress_bars(nb) == 1
    assert [o["text"] for o in nb.cells[0].outputs] == ["UserWarning: something a reader should see\n", "final top-5 0.24\n"]


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w]*)[\w.]*[ \t]+import|import[ \t]+([A-Za-z_][\w]*))", re.M)


def imported_modules(texts: list[str]) -> set[str]:
    """The top-level modules that ``import x`` / ``from x... import`` lines in ``texts`` name."""
    return {m.group(1) or m.group(2) for text in texts for m in _IMPORT.finditer(text)}


def unused_dependencies(requirements: list[str], modules: set[str]) -> list[str]:
    """The requirements none of whose installed top-level modules is in ``modules``."""
    import importlib.metadata as metadata

    provided: dict[str, set[str]] = {}
    for module, dists in metadata.packages_distributions().items():
        for dist in dists:
            provided.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    unused = []
    for name in sorted(_names(requirements)):
        tops = provided.get(name)
        assert tops, f"{name} is declared but not installed here: cannot tell what it provides"
        if not tops & modules:
            unused.append(name)
    return unused


def _package_and_chapter_code() -> list[str]:
    texts = [p.read_text() for p in sorted((ROOT / "lib" / "audioformers").rglob("*.py"))]
    for path in _committed_notebooks():
        cells = json.loads(path.read_text())["cells"]
        texts += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return texts


def test_unused_dependencies_are_found():
    modules = imported_modules(["import numpy as np\nfrom scipy.signal import stft\n  import torch.nn\nx = 'import sklearn'"])
    assert modules == {"numpy", "scipy", "torch"}
    assert unused_dependencies(["numpy>=1", "scipy", "torch>=2"], modules) == []
    assert unused_dependencies(["numpy>=1", "scikit-learn>=1.3,<2", "PyWavelets>=1.4"], modules) == ["pywavelets", "scikit-learn"]


def test_every_runtime_dependency_is_imported_by_the_package_or_a_chapter():
    """A runtime dependency must earn its place: something the reader runs imports it (tests do not count)."""
    import tomllib

    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    unused = unused_dependencies(requirements, imported_modules(_package_and_chapter_code()))
    assert not unused, f"declared in pyproject.toml but imported by neither lib/audioformers nor a chapter: {unused}"
