"""Every chapter opens with its learning objectives, each naming exercises that exist, as the instructor guide does.

The objectives cell comes right after the title cell ("## What you will learn", then "## Before you start");
its bullets name the exercises that practise each objective ("ex. 3", "ex. 3 SC"). The instructor guide lists
the same objectives per chapter; the two must name the same exercises for the same objectives, in order.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from audioformers import coursework

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("0[1-9]_*.ipynb"))
HEADING = "## What you will learn"
_EXERCISE = re.compile(r"\bex\.\s*(\d+)")


def _bullets(lines: list[str]) -> list[str]:
    """Markdown bullets ("- ...", continuation lines indented) up to the first line that is neither."""
    items: list[str] = []
    for line in lines:
        if line.startswith("- "):
            items.append(line[2:])
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
        elif items or line.strip():  # the list has ended, or something other than a list came first
            break
    return items


def objectives_cell(notebook) -> str | None:
    """The objectives cell's source if it is the cell right after the title cell, else None."""
    cells = notebook.cells
    if len(cells) < 2 or not cells[0].source.startswith("# "):
        return None
    second = cells[1]
    return second.source if second.cell_type == "markdown" and second.source.startswith(HEADING) else None


def chapter_objectives(source: str) -> list[list[int]]:
    """Exercise numbers named by each objective bullet of an objectives cell."""
    lines = source.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("After this chapter you can")), None)
    if start is None:
        return []
    return [[int(n) for n in _EXERCISE.findall(item)] for item in _bullets(lines[start + 1 :])]


def guide_objectives(guide: str, chapter: int) -> list[list[int]]:
    """Exercise numbers named by each objective bullet of the guide's paragraph for ``chapter``."""
    lines = guide.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"**Chapter {chapter} —")), None)
    if start is None:
        return []
    return [[int(n) for n in _EXERCISE.findall(item)] for item in _bullets(lines[start + 1 :])]


def objective_problems(path: Path, guide: str) -> list[str]:
    """What is wrong with a chapter's objectives cell, in words (empty when nothing is)."""
    notebook = nbformat.read(path, as_version=4)
    source = objectives_cell(notebook)
    if source is None:
        return [f"{path.name}: the cell after the title is not a '{HEADING}' cell"]
    problems = []
    if "## Before you start" not in source:
        problems.append(f"{path.name}: the objectives cell has no '## Before you start' part")
    objectives = chapter_objectives(source)
    if not 3 <= len(objectives) <= 5:
        problems.append(f"{path.name}: {len(objectives)} objectives, expected 3 to 5")
    exercises = {item.number for item in coursework.exercise_plan(path)}
    for i, numbers in enumerate(objectives, 1):
        if not numbers:
            problems.append(f"{path.name}: objective {i} names no exercise")
        missing = sorted(set(numbers) - exercises)
        if missing:
            problems.append(f"{path.name}: objective {i} names exercise(s) {missing}, not in the Exercises list "
                            f"{sorted(exercises)}")
    chapter = int(path.stem[:2])
    expected = guide_objectives(guide, chapter)
    if objectives != expected:
        problems.append(f"{path.name}: objectives name exercises {objectives}, the instructor guide {expected}")
    return problems


def test_the_book_has_five_chapters_to_check():
    assert [p.stem[:2] for p in CHAPTERS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_objectives_that_name_its_exercises(path):
    guide = (ROOT / "instructor_guide.md").read_text()
    assert objective_problems(path, guide) == []


# The checker itself, on small notebooks with the mistakes it must catch.

GUIDE = """**Chapter 9 — Test.** A student can
- do one thing (ex. 1 SC, ex. 2);
- do another
  thing (ex. 3);
- do a third (ex. 2).

**Chapter 10 — Other.** A student can
- nothing here (ex. 7).
"""

EXERCISES = """## Exercises

1. *(implement, self-checked)* Write `f`.
2. *(explore)* Try it.
3. *(analyse)* Say why.
"""


def _write(tmp_path: Path, objectives: str | None, before: bool = True) -> Path:
    cells = [new_markdown_cell("# Chapter 9 — Test")]
    if objectives is not None:
        text = f"{HEADING}\n\nAfter this chapter you can\n{objectives}\n\nNotes.\n"
        cells.append(new_markdown_cell(text + ("\n## Before you start\n\nChapter 8." if before else "")))
    cells += [new_markdown_cell("## 1. Body"), new_markdown_cell(EXERCISES)]
    path = tmp_path / "09_test.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    return path


GOOD = "- do one thing (ex. 1 SC, ex. 2);\n- do another\n  thing (ex. 3);\n- do a third (ex. 2)."


def test_checker_accepts_objectives_that_match_the_exercises_and_the_guide(tmp_path):
    assert objective_problems(_write(tmp_path, GOOD), GUIDE) == []
    assert guide_objectives(GUIDE, 9) == [[1, 2], [3], [2]]  # the continuation line belongs to its bullet
    assert guide_objectives(GUIDE, 10) == [[7]]


def test_checker_names_an_exercise_that_does_not_exist(tmp_path):
    problems = objective_problems(_write(tmp_path, GOOD.replace("(ex. 3)", "(ex. 4)")), GUIDE)
    assert any("objective 2 names exercise(s) [4], not in the Exercises list [1, 2, 3]" in p for p in problems)


def test_checker_catches_disagreement_with_the_guide(tmp_path):
    swapped = GOOD.replace("(ex. 1 SC, ex. 2)", "(ex. 1 SC)")
    problems = objective_problems(_write(tmp_path, swapped), GUIDE)
    assert problems == ["09_test.ipynb: objectives name exercises [[1], [3], [2]], the instructor guide [[1, 2], [3], [2]]"]


def test_checker_catches_a_missing_or_misplaced_cell_and_a_missing_prerequisites_part(tmp_path):
    assert "is not a '## What you will learn' cell" in objective_problems(_write(tmp_path, None), GUIDE)[0]
    assert any("no '## Before you start'" in p for p in objective_problems(_write(tmp_path, GOOD, before=False), GUIDE))
    two = "- do one thing (ex. 1 SC, ex. 2);\n- do another (ex. 3)."
    assert any("2 objectives, expected 3 to 5" in p for p in objective_problems(_write(tmp_path, two), GUIDE))
    unnamed = GOOD.replace(" (ex. 2).", ".")
    assert any("objective 3 names no exercise" in p for p in objective_problems(_write(tmp_path, unnamed), GUIDE))
