"""A chapter is registered in one place (audioformers.chapters.CHAPTERS) and every tool finds it: the command line
(``python -m audioformers.reproduce --help``, and the run itself), the reproduction report's rows, and the student
edition. The test registers a sixth chapter whose experiment and claims are small modules written to a temporary
folder, and touches nothing else."""

from __future__ import annotations

import importlib
import json
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from audioformers import booktools, chapters, coursework, report, reproduce

ROOT = Path(__file__).resolve().parents[2]

EXPERIMENT = '''
"""The sixth chapter's experiment: counts to ten and writes results/ch6/tiny.<profile>.json."""
import argparse

from audioformers.core.results import write_results


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    args = parser.parse_args(argv)
    write_results("ch6", "tiny", {"ahead": [0.11, 0.12, 0.13]}, config={"steps": 10}, seed=args.seeds,
                  device="cpu", wall_time_s=0.5, profile=args.profile)
'''

CLAIMS = '''
"""The sixth chapter's claims for the report."""
import numpy as np

from audioformers.evaluation import evidence as ev
from audioformers.evaluation.claims import Claim, Measured, Published, load, missing

PUBLISHED = (Published("6a", "ahead", "paper", "Someone 2030", None, "a tiny paper's tiny setting"),)


def _ahead(profile, directory):
    record = load(directory, "ch6", "tiny", profile)
    if record is None:
        return missing(profile, "chapter 6's counting")
    ahead = np.asarray(record["metrics"]["ahead"])
    comp = ev.compare(ahead, np.zeros_like(ahead), names=("counted", "not counted"))
    return Measured(comp.line(), comp.verdict, f"{record['config']['steps']} steps", "–", record["device"],
                    record["wall_time_s"], (comp,))


CLAIMS = (Claim("6a", "ch6", ev.EMPIRICAL, "Counting to ten puts a model ahead", "paper", ({published}),
                _ahead),)
'''


def _notebook(path: Path) -> None:
    cells = [new_markdown_cell("# Chapter 6: counting\n\n## Exercises"),
             new_code_cell("def count(n):\n    \"\"\"Count to n.\"\"\"\n    return list(range(1, n + 1))",
                           metadata={"tags": ["solution"]}),
             new_code_cell("count(3)", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "[1, 2, 3]"},
                                                                        execution_count=1)], execution_count=1)]
    nbformat.write(new_notebook(cells=cells), path)


@pytest.fixture
def sixth_chapter(tmp_path, monkeypatch):
    """A copy of the book's folder (links to its notebooks) with a sixth chapter registered: its notebook, its
    experiment and its claims module (in a temporary folder on sys.path), and ch2's exercises."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    for chapter in chapters.CHAPTERS:
        (book / chapter.notebook).symlink_to(ROOT / chapter.notebook)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    _notebook(book / "chapters" / "06_counting.ipynb")
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "ch6_tiny_experiment.py").write_text(textwrap.dedent(EXPERIMENT))
    (modules / "ch6_tiny_claims.py").write_text(textwrap.dedent(CLAIMS).replace("{published}", '"6a",'))
    (modules / "ch6_bad_claims.py").write_text(textwrap.dedent(CLAIMS).replace("{published}", '"6z",'))
    monkeypatch.syspath_prepend(str(modules))
    sixth = chapters.Chapter("ch6", "chapters/06_counting.ipynb", "Counting", "Transformers on audio",
                             experiment="ch6_tiny_experiment:main", experiment_title="counting to ten (tiny)",
                             aliases=("6", "06"), claims="ch6_tiny_claims", exercises="audioformers.ch2.exercises")
    monkeypatch.setattr(chapters, "CHAPTERS", chapters.CHAPTERS[:-1] + (sixth,) + chapters.CHAPTERS[-1:])
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("BOOK_PROFILE", "smoke")  # reproduce.main sets it: restored afterwards
    importlib.reload(reproduce)  # its dispatch table is read from the registry when the module is imported
    yield book, sixth
    monkeypatch.undo()
    importlib.reload(reproduce)


def test_a_chapter_registered_once_is_found_by_every_tool(sixth_chapter, capsys):
    book, sixth = sixth_chapter
    # the command line: listed in --help and --list, and it runs, writing results/ch6/
    with pytest.raises(SystemExit) as exit_:
        reproduce.main(["--help"])
    assert exit_.value.code == 0
    assert "ch6" in capsys.readouterr().out
    assert reproduce.main(["--list"]) == 0
    assert "ch6    counting to ten (tiny)" in capsys.readouterr().out
    assert reproduce.resolve_chapter("06") == "ch6"
    results = book.parent / "results"
    assert not (results / "ch6").exists()
    assert reproduce.main(["ch6", "--profile", "smoke", "--seed", "0"]) == 0
    assert json.loads((results / "ch6" / "tiny.smoke.json").read_text())["metrics"]["ahead"] == [0.11, 0.12, 0.13]

    # the report: its row (measured from what the run wrote), its published number, its verdict lines
    rows = {r["claim"]: r for r in report.build_report("smoke", results)}
    assert list(rows)[-1] == "6a" and rows["6a"]["chapter"] == "ch6"
    assert rows["6a"]["verdict"] == "reproduced" and rows["6a"]["published"] == "ahead [paper: Someone 2030]"
    assert rows["6a"]["why"] == "10 steps" and "counted − not counted" in rows["6a"]["ours (smoke)"]
    assert [c.key for c in report.CLAIMS][-1] == "6a" and report.PUBLISHED_BY_KEY["6a"].reference == "Someone 2030"
    assert report.published_table()[-1]["key"] == "6a"
    assert report.chapter_verdicts(6, "smoke", results) == [
        f"6a (empirical claim) Counting to ten puts a model ahead: reproduced — {rows['6a']['ours (smoke)']}"]
    assert "1 reproduced (6a)" in report.headline(list(rows.values()))

    # the student edition: the registry's notebooks, the sixth among them, solutions taken out
    listed = coursework.registered_notebooks(book)
    assert book / sixth.notebook in listed and len(listed) == len(chapters.CHAPTERS)
    assert book / sixth.notebook in coursework.registered_notebooks(book, numbered=True)
    written = coursework.make_student_copies([book / sixth.notebook], book / "student")
    student = nbformat.read(written[0], as_version=4)
    assert "NotImplementedError" in student.cells[-2].source and "range(1, n + 1)" not in student.cells[-2].source

    # and the table of contents
    assert "chapters/06_counting" in booktools.toc_text()


def test_the_student_command_lists_the_registry_not_the_folder(sixth_chapter, monkeypatch, capsys):
    """``python -m audioformers.coursework student`` with no notebooks named writes one copy per registered
    notebook: a notebook in chapters/ that is not registered is left out, a registered one that is missing is an error."""
    book, sixth = sixth_chapter
    _notebook(book / "chapters" / "07_unregistered.ipynb")
    monkeypatch.chdir(book)
    written = coursework.main(["student", "--output", str(book / "student")])
    assert [p.name for p in written] == [Path(c.notebook).name for c in chapters.CHAPTERS]
    assert "06_counting.ipynb" in capsys.readouterr().out
    (book / sixth.notebook).unlink()
    with pytest.raises(SystemExit):
        coursework.main(["student", "--output", str(book / "student")])
    assert "notebooks not found: chapters/06_counting.ipynb" in capsys.readouterr().err


def test_a_claim_naming_an_unpublished_number_is_refused(sixth_chapter, monkeypatch):
    bad = chapters.Chapter("ch6", "chapters/06_counting.ipynb", "Counting", "Transformers on audio",
                           claims="ch6_bad_claims")
    monkeypatch.setattr(chapters, "CHAPTERS", tuple(c for c in chapters.CHAPTERS if c.key != "ch6") + (bad,))
    with pytest.raises(ValueError, match=r"claim 6a \(ch6\): published names unknown keys \['6z'\]"):
        report.build_report("smoke", sixth_chapter[0].parent / "results")
    stranger = chapters.Chapter("ch7", "chapters/07_x.ipynb", "X", "Transformers on audio", claims="ch6_tiny_claims")
    monkeypatch.setattr(chapters, "CHAPTERS", chapters.CHAPTERS[:-1] + (stranger,))
    with pytest.raises(ValueError, match=r"claims \['6a'\] name another chapter than 'ch7'"):
        report.build_report("smoke", sixth_chapter[0].parent / "results")


def test_the_report_names_come_from_the_chapters_claims_modules():
    """Notebooks written before the split keep calling ``report.ch3_series`` and friends."""
    from audioformers.ch3 import claims as ch3
    from audioformers.ch5 import claims as ch5

    assert report.ch3_series is ch3.ch3_series and report.plot_ch5_study is ch5.plot_ch5_study
    assert report.figure_published("ch5")["cnn-vgg"] == 0.434
    with pytest.raises(AttributeError, match="no_such_name"):
        report.no_such_name  # noqa: B018
