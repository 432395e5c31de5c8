"""One reference everywhere: pyproject's version, its tag, the launch buttons' branch and the set-up cells agree.

The book itself is checked (it must be releasable as it stands), and ``booktools.release`` is exercised on a
small book in a temporary git repository: it points everything at ``v<version>``, refuses what would make a
tag disagree with its tree, and creates the tag.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from audioformers import booktools
from audioformers.core.results import repo_root

ROOT = repo_root()
pytestmark = pytest.mark.skipif(ROOT is None, reason="needs a checkout of the book")


def test_the_book_points_at_its_own_tag_everywhere():
    assert booktools.release_problems(ROOT) == []
    tag = booktools.release_tag(ROOT)
    assert booktools.book_config(ROOT)["repository"]["branch"] == tag
    import audioformers

    assert f"v{audioformers.__version__}" == tag


def test_readme_documents_the_release_command():
    readme = (ROOT / "README.md").read_text()
    assert "python -m audioformers.booktools release" in readme


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def small_book(tmp_path: Path) -> Path:
    """A book with one chapter whose set-up cell is old, branch ``main``, committed in a fresh git repository."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "lib" / "audioformers").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "results" / "bench.json").write_text(json.dumps(
        {"device": "cpu (2 threads)", "notebooks": {"01_demo": {"smoke_wall_time_s": 4.2}}}))
    (root / "pyproject.toml").write_text('[project]\nname = "audioformers"\nversion = "0.3.0"\n\n[tool.x]\nversion = "9"\n')
    (root / "lib" / "audioformers" / "__init__.py").write_text('__version__ = "0.3.0"\n')
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01_demo.ipynb\n")
    (root / "intro.md").write_text("# Intro\n")
    (root / "_config.yml").write_text("title: t\nrepository:\n  url: https://example.org/org/book/\n"
                                      "  path_to_book: \"\"\n  branch: main  # launch buttons\nhtml:\n  x: 1\n")
    old = new_code_cell('import importlib.util\nif importlib.util.find_spec("audioformers") is None:\n    raise SystemExit')
    provenance = new_code_cell("notebook.provenance()")
    provenance.outputs = [nbformat.v4.new_output("stream", name="stdout", text="profile: book\ndevice: cpu\nwall_time_s: 90.0\n")]
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Demo"), old, new_code_cell("x = 1"), provenance]),
                   root / "chapters" / "01_demo.ipynb")
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "book")
    return root


def _commit(root: Path, message: str) -> None:
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-am", message)


def test_release_problems_name_every_disagreement(small_book):
    problems = "\n".join(booktools.release_problems(small_book))
    assert "repository.branch is 'main'" in problems and "'v0.3.0'" in problems
    assert "chapters/01_demo.ipynb: the set-up cell differs" in problems
    assert booktools.project_version(small_book) == "0.3.0"  # [project]'s version, not another table's
    assert booktools.install_reference(small_book) == "audioformers @ git+https://example.org/org/book@v0.3.0"
    (small_book / "lib" / "audioformers" / "__init__.py").write_text('__version__ = "0.2.0"\n')
    assert any("__version__ is '0.2.0'" in p for p in booktools.release_problems(small_book))


def test_sync_touches_only_the_setup_cell(small_book):
    path = small_book / "chapters" / "01_demo.ipynb"
    before = nbformat.read(path, as_version=4)
    assert booktools.sync_setup_cell(Path("chapters/01_demo.ipynb"), small_book) is True
    after = nbformat.read(path, as_version=4)
    assert after.cells[1].source == booktools.setup_cell("01_demo", small_book)
    assert "hide-input" in after.cells[1].metadata["tags"]
    printed = after.cells[1].outputs[0]["text"]
    assert "smoke" in printed and "4 s" in printed and "1.5 min" in printed  # measured, from results/
    assert [c.source for i, c in enumerate(after.cells) if i != 1] == [c.source for i, c in enumerate(before.cells) if i != 1]
    assert booktools.sync_setup_cell(Path("chapters/01_demo.ipynb"), small_book) is False  # idempotent


def test_costs_come_from_results_and_count_cached_training_runs(small_book):
    table = booktools.chapter_costs("01_demo", small_book)
    assert "smoke    4 s" in table and "book     1.5 min" in table  # bench.json and the provenance cell
    assert "paper    not measured" in table and "a CPU runtime (2 threads) is enough" in table
    (small_book / "results" / "ch1").mkdir()
    (small_book / "results" / "ch1" / "run.book.json").write_text(json.dumps({"wall_time_s": 4200.0}))
    (small_book / "results" / "ch1" / "run.smoke.json").write_text(json.dumps({"wall_time_s": 9999.0}))  # not book
    table = booktools.chapter_costs("01_demo", small_book)
    # the committed run (90 s) reloaded 70 min of recorded runs from results/, which travels with the book:
    # a fresh runtime reloads them too, so the cost is the notebook's own time
    words = " ".join(table.split())
    assert "book 1.5 min cpu" in words and "reloads 70.0 min of recorded runs and studies" in words
    assert "a CPU runtime (2 threads) is enough for the book profile" in words
    assert max(len(line) for line in table.splitlines()) <= booktools.COST_WIDTH


def test_costs_of_an_unknown_chapter_are_refused_with_the_valid_names(small_book, monkeypatch, capsys):
    with pytest.raises(ValueError, match="'02_nothing' is not a notebook in _toc.yml; valid: 01_demo"):
        booktools.chapter_costs("02_nothing", small_book)
    monkeypatch.setattr(booktools, "_root", lambda: small_book)
    assert booktools.main(["costs", "02_nothing"]) == 2
    assert "valid: 01_demo" in capsys.readouterr().err


def test_release_points_everything_at_the_tag_and_creates_it(small_book):
    with pytest.raises(RuntimeError, match="commit these first"):
        booktools.release(small_book)  # it rewrote _config.yml and the notebook: the tag would not hold them
    config = (small_book / "_config.yml").read_text()
    assert "  branch: v0.3.0  # launch buttons\n" in config and "html:\n  x: 1\n" in config  # one line changed
    assert booktools.release_problems(small_book) == []
    _commit(small_book, "point at v0.3.0")
    assert booktools.release(small_book) == "v0.3.0"
    assert _git(small_book, "rev-parse", "v0.3.0^{commit}") == _git(small_book, "rev-parse", "HEAD")
    assert booktools.release(small_book) == "v0.3.0"  # again at the same commit: fine
    (small_book / "intro.md").write_text("# Intro, revised\n")
    _commit(small_book, "more text")
    with pytest.raises(RuntimeError, match="already exists at .*raise the version"):
        booktools.release(small_book)


def test_release_refuses_when_the_generated_cells_are_uncommitted(small_book):
    booktools.release(small_book, tag_it=False)
    _commit(small_book, "point at the tag")
    nb_path = small_book / "chapters" / "01_demo.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("v0.3.0", "v0.2.0")
    nbformat.write(nb, nb_path)
    _commit(small_book, "a hand edit of the set-up cell")
    with pytest.raises(RuntimeError, match="commit these first"):
        booktools.release(small_book)
    assert _git(small_book, "tag") == ""


def test_the_cli_reports_problems_with_exit_status(small_book, monkeypatch, capsys):
    monkeypatch.setattr(booktools, "_root", lambda: small_book)
    assert booktools.main(["check-release"]) == 1
    assert "repository.branch is 'main'" in capsys.readouterr().out
    assert booktools.main(["sync-setup-cells"]) == 0
    assert "chapters/01_demo.ipynb: updated" in capsys.readouterr().out
    assert booktools.main(["release", "--no-tag"]) == 0
    assert booktools.main(["check-release"]) == 0
    assert "everything points at v0.3.0" in capsys.readouterr().out
