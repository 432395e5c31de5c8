"""Student copies: solutions replaced by stubs or removed, outputs cleared, everything else kept."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from audioformers import chapters, coursework, exercises

ROOT = Path(__file__).resolve().parents[2]

SOLUTION_WITH_CHECK = '''import numpy as np

def dft_magnitude(frame):
    """|X_k| for k = 0 .. N//2."""
    n = len(frame)
    return np.abs(np.fft.rfft(frame))  # SECRET-1

exercises.ch1.check_dft_magnitude(dft_magnitude)'''

EXERCISES_MD = """## Exercises

1. Implement the DFT magnitude.

:::{admonition} Solution
:class: dropdown
Use `np.fft.rfft` — SECRET-2.
```python
x = 1  # SECRET-3
```
:::

2. Explain why the spectrum is symmetric.

````{dropdown} Solution to exercise 2
Real input — SECRET-4.
```python
y = 2
```
````

3. Design an experiment.

::::{admonition} Solution
:class: dropdown
:::{note}
SECRET-5
:::
::::

Keep this line.
"""


def _notebook() -> nbformat.NotebookNode:
    stubbed = new_code_cell("def f():\n    return 42  # SECRET-6", metadata={"tags": ["solution"], "stub": "def f():\n    ...  # your code"})
    by_key = new_code_cell("def mu_law_encode(x):\n    return 0  # SECRET-7", metadata={"tags": ["solution"], "exercise": "ch2.mu_law_encode"})
    derived = new_code_cell(SOLUTION_WITH_CHECK, metadata={"tags": ["solution"]})
    plain = new_code_cell("print('hello')", execution_count=3, outputs=[new_output("stream", name="stdout", text="hello\n")])
    hidden = new_markdown_cell("The answer is SECRET-8.", metadata={"tags": ["solution"]})
    return new_notebook(cells=[new_markdown_cell("# Chapter 9"), plain, new_markdown_cell(EXERCISES_MD),
                               stubbed, by_key, derived, hidden, new_code_cell("notebook.provenance();")])


@pytest.fixture()
def student(tmp_path) -> tuple[nbformat.NotebookNode, str]:
    source = tmp_path / "09_test.ipynb"
    nbformat.write(_notebook(), source)
    [written] = coursework.make_student_copies([source], tmp_path / "student")
    assert written == tmp_path / "student" / "09_test.ipynb"
    nb = nbformat.read(written, as_version=4)
    return nb, nbformat.writes(nb)


def test_no_solution_text_survives(student):
    _, text = student
    for i in range(1, 9):
        assert f"SECRET-{i}" not in text, f"SECRET-{i}"


def test_stubs_come_from_metadata_registry_or_the_solution(student):
    nb, _ = student
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "def f():\n    ...  # your code" in code
    assert exercises.get_exercise("ch2.mu_law_encode").student_stub in code
    derived = next(c for c in code if "dft_magnitude" in c)
    assert derived.startswith("import numpy as np")
    assert '"""|X_k| for k = 0 .. N//2."""' in derived
    assert 'raise NotImplementedError("write dft_magnitude")' in derived
    assert derived.rstrip().endswith("exercises.ch1.check_dft_magnitude(dft_magnitude)")


def test_derived_stub_runs_and_the_self_check_says_not_implemented(student):
    nb, _ = student
    derived = next(c.source for c in nb.cells if "dft_magnitude" in c.source)
    with pytest.raises(exercises.ExerciseFailed, match="not implemented yet"):
        exec(derived, {"exercises": exercises})


def test_everything_else_is_kept_and_outputs_cleared(student):
    nb, _ = student
    assert nb.cells[0].source == "# Chapter 9"
    assert nb.cells[1].source == "print('hello')" and nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    exercises_md = nb.cells[2].source
    for kept in ("1. Implement the DFT magnitude.", "2. Explain why", "3. Design an experiment.", "Keep this line."):
        assert kept in exercises_md
    assert "Solution" not in exercises_md
    assert nb.cells[-1].source == "notebook.provenance();"
    assert len(nb.cells) == 7  # the markdown cell tagged "solution" is gone
    assert nb.metadata["audioformers"]["student_copy"] is True
    assert all("solution" not in c.metadata.get("tags", []) for c in nb.cells)


def test_derive_stub_without_functions_falls_back_to_a_default():
    assert coursework.derive_stub("x = 1 +") == coursework.DEFAULT_STUB  # not Python: the default stub
    assert "NotImplementedError" in coursework.derive_stub("answer = 42")


def test_refuses_to_overwrite_the_source(tmp_path):
    source = tmp_path / "a.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1")]), source)
    with pytest.raises(ValueError, match="holds the source notebook"):
        coursework.make_student_copies([source], tmp_path)
    with pytest.raises(FileNotFoundError, match="not a notebook"):
        coursework.make_student_copies([tmp_path / "missing.ipynb"], tmp_path / "out")


def test_script(tmp_path):
    source = tmp_path / "09_test.ipynb"
    nbformat.write(_notebook(), source)
    result = subprocess.run([sys.executable, str(ROOT / "data_scripts" / "make_student_copies.py"), str(source),
                             "--output", str(tmp_path / "out")], capture_output=True, text=True, check=True)
    assert "wrote" in result.stdout
    assert "SECRET-1" not in (tmp_path / "out" / "09_test.ipynb").read_text()


def test_timing_table_reads_the_provenance_cell(tmp_path):
    cell = new_code_cell("notebook.provenance();", outputs=[new_output(
        "stream", name="stdout", text="profile: book\ndevice: cpu (2 threads)\ncommit: abc\nwall_time_s: 90.0\n")])
    nbformat.write(new_notebook(cells=[new_code_cell("1"), cell]), tmp_path / "01_x.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("1")]), tmp_path / "02_y.ipynb")
    table = coursework.timing_table([tmp_path / "01_x.ipynb", tmp_path / "02_y.ipynb"])
    assert "| 01_x | book | cpu (2 threads) | 1.5 |" in table
    assert "| 02_y | ? | ? | not recorded |" in table


def test_answer_cells_of_open_exercises_are_removed():
    answer = new_code_cell("print('ANSWER-9')", metadata={"tags": ["answer", "hide-input"]})
    note = new_markdown_cell("The measured answer: ANSWER-10.", metadata={"tags": ["answer"]})
    student = coursework.student_notebook(new_notebook(cells=[new_markdown_cell("# X"), answer, note]), keep_outputs=True)
    assert [c.source for c in student.cells] == ["# X"]


def test_stubs_are_shown_even_where_the_book_hides_the_solution(tmp_path):
    cell = new_code_cell("def f():\n    return 1", metadata={"tags": ["solution", "hide-input", "keep-me"], "stub": "def f():\n    ..."})
    student = coursework.student_notebook(new_notebook(cells=[cell]))
    assert student.cells[0].metadata["tags"] == ["keep-me", "exercise"]


# ------------------------------------------------------------------ the real chapters
CHAPTERS = coursework.registered_notebooks(ROOT)  # the registry's notebooks
WITH_EXERCISE_CELLS = [p for p in CHAPTERS if any(c.metadata.get("exercise") for c in nbformat.read(p, as_version=4).cells)]


def _exercise_cells(notebook: nbformat.NotebookNode) -> tuple[str, list[nbformat.NotebookNode]]:
    """The import cell of the Exercises section (the first code cell after its heading) and the self-checked cells."""
    heading = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    code = [c for c in notebook.cells[heading:] if c.cell_type == "code"]
    return code[0].source, [c for c in code if c.metadata.get("exercise") or "solution" in c.metadata.get("tags", [])]


def test_chapters_with_self_checked_exercises_are_found():
    names = {p.stem[:2] for p in WITH_EXERCISE_CELLS}
    assert {"01", "02", "04", "05"} <= names


@pytest.mark.parametrize("path", WITH_EXERCISE_CELLS, ids=lambda p: p.stem)
def test_book_solution_cells_pass_their_self_checks(path, capsys):
    notebook = nbformat.read(path, as_version=4)
    imports, cells = _exercise_cells(notebook)
    assert "from audioformers import exercises" in imports
    assert len(cells) >= 2, "at least two self-checked coding exercises per chapter"
    namespace: dict = {}
    exec(imports, namespace)
    for cell in cells:
        assert "solution" in cell.metadata.get("tags", []) and "hide-input" in cell.metadata["tags"]
        key = cell.metadata["exercise"]
        exercises.get_exercise(key)  # registered
        assert f"exercises.{key.split('.')[0]}.check_{key.split('.')[1]}(" in cell.source
        exec(cell.source, namespace)
    printed = capsys.readouterr().out
    assert printed.count("✓") >= len(cells) and "✗" not in printed  # a check may print more than one ✓


@pytest.mark.parametrize("path", WITH_EXERCISE_CELLS, ids=lambda p: p.stem)
def test_student_copy_of_a_chapter_has_stubs_that_say_not_implemented(path, tmp_path):
    book = nbformat.read(path, as_version=4)
    _, solutions = _exercise_cells(book)
    [written] = coursework.make_student_copies([path], tmp_path)
    student = nbformat.read(written, as_version=4)
    text = nbformat.writes(student)
    for cell in solutions:  # the body of every reference solution is gone
        body = [line for line in cell.source.splitlines() if line.startswith("    ") and '"""' not in line]
        assert body and not any(line in text for line in body if len(line.strip()) > 20)
    assert ":class: dropdown" not in "".join(c.source for c in student.cells if c.cell_type == "markdown")
    imports, _ = _exercise_cells(student)
    assert all(not c.outputs for c in student.cells if c.cell_type == "code")
    stubs = [c for c in student.cells if "exercise" in c.metadata.get("tags", [])]
    assert len(stubs) == len(solutions)
    namespace: dict = {}
    exec(imports, namespace)
    for cell in stubs:
        assert "hide-input" not in cell.metadata["tags"]
        with pytest.raises(exercises.ExerciseFailed, match="not implemented yet"):
            exec(cell.source, namespace)


def test_timing_table_adds_the_recorded_run_time_per_chapter(tmp_path):
    import json

    (tmp_path / "results" / "ch1").mkdir(parents=True)
    for name, seconds in (("a", 60.0), ("b", 30.0)):
        (tmp_path / "results" / "ch1" / f"{name}.book.json").write_text(json.dumps({"wall_time_s": seconds}))
    (tmp_path / "results" / "ch1" / "c.smoke.json").write_text(json.dumps({"wall_time_s": 999.0}))  # other profile
    (tmp_path / "results" / "ch1" / "d.book.json").write_text(json.dumps({"metrics": {}}))  # no time recorded
    assert coursework.training_seconds(tmp_path / "results", 1) == 90.0
    assert coursework.training_seconds(tmp_path / "results", 2) is None
    cell = new_code_cell("notebook.provenance();", outputs=[new_output("stream", name="stdout", text="profile: book\nwall_time_s: 6\n")])
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "01_x.ipynb")
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "02_y.ipynb")
    table = coursework.timing_table([tmp_path / "01_x.ipynb", tmp_path / "02_y.ipynb"], tmp_path / "results")
    assert "| 01_x | book | ? | 0.1 | 1.5 |" in table and "| 02_y | book | ? | 0.1 | - |" in table


# ------------------------------------------------------------------ the student edition of the real chapters
def _code_lines(source: str, minimum: int = 20) -> list[str]:
    """The lines of a solution that carry its method: indented code, no docstrings, comments or check calls."""
    lines = []
    in_doc = False
    for line in source.splitlines():
        stripped = line.strip()
        quotes = stripped.count('"' * 3) + stripped.count("'" * 3)
        if quotes:
            in_doc = (quotes == 1) != in_doc
            continue
        if in_doc or not line.startswith("    ") or stripped.startswith("#"):
            continue
        code = stripped.split("  #", 1)[0].strip()
        if len(code) >= minimum:
            lines.append(code)
    return lines


def _solution_block_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """The text lines inside the book's ``:::{admonition} Solution...`` blocks that appear nowhere else in the book."""
    lines, outside = [], []
    for cell in notebook.cells:
        if "solution" in cell.metadata.get("tags", []):
            continue
        inside = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if cell.cell_type == "markdown" and stripped.startswith(":::{admonition} Solution"):
                inside = True
            elif inside and stripped == ":::":
                inside = False
            elif inside and len(stripped) > 30 and not stripped.startswith(":"):
                lines.append(stripped)
            elif not inside:
                outside.append(line)
    elsewhere = "\n".join(outside)
    return [line for line in lines if line not in elsewhere]


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, "-m", "audioformers.coursework", "student", *map(str, CHAPTERS), "--output", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out


def test_make_student_builds_into_student_dir():
    makefile = (ROOT / "Makefile").read_text()
    assert "STUDENT_DIR ?= _build/student" in makefile
    dry = subprocess.run(["make", "-n", "student", "STUDENT_DIR=/tmp/somewhere"], capture_output=True, text=True, cwd=ROOT)
    assert dry.returncode == 0, dry.stderr
    assert "audioformers.coursework student --output /tmp/somewhere" in dry.stdout


def test_student_edition_contains_no_solution_text(student_edition):
    written = sorted(student_edition.glob("*.ipynb"))
    assert [p.name for p in written] == [p.name for p in CHAPTERS]
    everything = "\n".join("\n".join(c.source for c in nbformat.read(p, as_version=4).cells) for p in written)
    searched = 0
    for exercise in exercises.EXERCISES.values():  # the reference solutions, wherever a stub appears
        for line in _code_lines(inspect.getsource(exercise.reference)):
            assert line not in everything, (exercise.key, line)
            searched += 1
    for path in CHAPTERS:  # the book's own solution cells and Solutions blocks
        book = nbformat.read(path, as_version=4)
        student = nbformat.read(student_edition / path.name, as_version=4)
        student_text = "\n".join(c.source for c in student.cells)
        hidden = [c for c in book.cells if {"solution", "answer"} & set(c.metadata.get("tags", []))]
        shown = "\n".join(c.source for c in book.cells if c not in hidden)
        for cell in hidden:
            indented = "\n".join("    " + line for line in cell.source.splitlines())  # top-level lines too
            for line in _code_lines(cell.source) + _code_lines(indented, minimum=30):
                if line not in shown and not line.startswith(("def ", "exercises.")):  # shown elsewhere, or the stub's own
                    assert line not in student_text, (path.name, line)
                    searched += 1
        for line in _solution_block_lines(book):
            assert line not in student_text, (path.name, line)
            searched += 1
        assert "reference solution, folded away" not in student_text and "the book shows a reference solution" not in student_text
        assert all(not {"solution", "answer"} & set(c.metadata.get("tags", [])) for c in student.cells)
    for giveaway in ("200/3", "200.0 / 3", "ln(6.4)", "log(6.4)", "2595", "(kernel_size - 1) * sum"):
        assert giveaway not in everything, giveaway
    assert searched > 150  # the search really looked at the solutions


def test_registry_stubs_state_the_contract_not_the_method():
    for exercise in exercises.EXERCISES.values():
        for line in _code_lines(inspect.getsource(exercise.reference), minimum=12):
            assert line not in exercise.student_stub, (exercise.key, line)
    assert "6.4" not in exercises.get_exercise("ch1.hz_to_mel").student_stub


def test_student_notebooks_link_to_themselves_on_colab_and_to_the_web_book(student_edition):
    for path in CHAPTERS:
        first = nbformat.read(student_edition / path.name, as_version=4).cells[0]
        assert coursework.BANNER_TAG in first.metadata["tags"]
        assert (f"(https://colab.research.google.com/github/transformers-for-audio/transformers-for-audio/blob/student/{path.name})"
                in first.source)
        assert f"(https://transformers-for-audio.github.io/transformers-for-audio/chapters/{path.stem}.html)" in first.source


def test_colab_links_follow_the_options(tmp_path):
    source = tmp_path / "09_test.ipynb"
    nbformat.write(_notebook(), source)
    coursework.main(["student", str(source), "--output", str(tmp_path / "out"), "--colab-repo", "school/audio",
                     "--colab-branch", "main", "--colab-folder", "week3", "--web-book", "https://example.org/book/"])
    first = nbformat.read(tmp_path / "out" / "09_test.ipynb", as_version=4).cells[0]
    assert "https://colab.research.google.com/github/school/audio/blob/main/week3/09_test.ipynb" in first.source
    assert "https://example.org/book/chapters/09_test.html" in first.source


def test_every_chapter_notebook_has_four_self_checked_exercise_cells():
    for path in CHAPTERS:
        if path.stem[:2].isdigit():
            keys = [c.metadata["exercise"] for c in nbformat.read(path, as_version=4).cells if c.metadata.get("exercise")]
            assert len(set(keys)) >= 4, (path.name, keys)


# ------------------------------------------------------------------ the web book's solutions policy
def test_solutions_policy_reads_the_environment(monkeypatch):
    monkeypatch.delenv("BOOK_SOLUTIONS", raising=False)
    assert coursework.solutions_policy(None) == "shown" and coursework.solutions_policy("omit") == "omit"
    monkeypatch.setenv("BOOK_SOLUTIONS", "OMIT")
    assert coursework.solutions_policy("shown") == "omit"
    monkeypatch.setenv("BOOK_SOLUTIONS", "hidden")
    with pytest.raises(ValueError, match="BOOK_SOLUTIONS or audioformers_solutions.*shown, omit.*'hidden'"):
        coursework.solutions_policy(None)


def test_config_enables_the_solutions_policy():
    config = (ROOT / "_config.yml").read_text()
    assert "audioformers.coursework" in config and "audioformers_solutions: shown" in config


def test_class_edition_keeps_the_other_outputs():
    student = coursework.student_notebook(_notebook(), keep_outputs=True)
    plain = next(c for c in student.cells if c.source == "print('hello')")
    assert plain.outputs and plain.execution_count == 3
    assert "SECRET-6" not in nbformat.writes(student)


def _tiny_book(root: Path) -> None:
    (root / "_config.yml").write_text(
        "title: Tiny\nauthor: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "repository:\n  url: https://github.com/o/r\n  branch: main\n"
        "launch_buttons:\n  colab_url: https://colab.research.google.com\n"
        "sphinx:\n  extra_extensions: [audioformers.coursework]\n  config:\n    audioformers_solutions: shown\n"
        "parse:\n  myst_enable_extensions: [colon_fence]\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01_x.ipynb\n")
    (root / "intro.md").write_text("# Intro\n")
    (root / "chapters").mkdir()
    solution = new_code_cell("def f():\n    return 'SOLUTION-TEXT-42'",
                             metadata={"tags": ["solution", "hide-input"], "stub": "def f():\n    raise NotImplementedError('STUB-TEXT')"})
    plain = new_code_cell("print('hello')", execution_count=1, outputs=[new_output("stream", name="stdout", text="OUTPUT-KEPT\n")])
    answers = new_markdown_cell(":::{admonition} Solutions\n:class: dropdown\n\nANSWER-TEXT-7\n:::")
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Chapter X"), plain, solution, answers],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
                   root / "chapters" / "01_x.ipynb")


@pytest.mark.parametrize("policy", ["shown", "omit"])
def test_book_build_follows_the_solutions_policy(tmp_path, policy):
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    if not jupyter_book.exists():
        pytest.skip("jupyter-book is not installed")
    _tiny_book(tmp_path)
    env = {**os.environ, "BOOK_SOLUTIONS": policy}
    for name in ("STUDENT_COLAB_REPO", "STUDENT_COLAB_BRANCH", "STUDENT_COLAB_FOLDER", "STUDENT_WEB_BOOK"):
        env.pop(name, None)
    build = subprocess.run([str(jupyter_book), "build", str(tmp_path), "--builder", "html"], capture_output=True, text=True, env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    page = (tmp_path / "_build" / "html" / "chapters" / "01_x.html").read_text()
    assert "OUTPUT-KEPT" in page
    if policy == "shown":
        assert "SOLUTION-TEXT-42" in page and "ANSWER-TEXT-7" in page
        assert "colab.research.google.com/github/o/r/blob/main" in page  # the launch button: the full notebook
    else:
        assert "SOLUTION-TEXT-42" not in page and "ANSWER-TEXT-7" not in page and "STUB-TEXT" in page
        assert "colab.research.google.com/github/o/r/blob/student/01_x.ipynb" in page  # the student copy, from the first cell
        assert "colab.research.google.com/github/o/r/blob/main" not in page  # no launch button to the full notebook


# ------------------------------------------------------------------ the instructor guide
GUIDE = ROOT / "instructor_guide.md"


def test_guide_generated_sections_match_the_code():
    numbered = coursework.registered_notebooks(ROOT, numbered=True)
    expected = coursework.generated_sections(numbered)
    found = coursework.guide_sections(GUIDE)
    for name in coursework.CHECKED_SECTIONS:
        assert found.get(name) == expected[name], (
            f"the guide's {name!r} section is out of date: run `python -m audioformers.coursework answers --write`")
    assert all(f"| {p.stem} |" in found["timings"] for p in numbered)


def test_guide_has_what_a_teacher_needs():
    guide = GUIDE.read_text()
    for heading in ("## Before the course: prerequisites and what to read first", "## How the chapters map onto the lecture",
                    "## Learning objectives and the exercises that practise them", "## Exercises: type, time and points",
                    "## Answer keys", "## The student edition", "## Solutions in the web book: a build option",
                    "## Grading a class", "## Grading rubric"):
        assert heading in guide, heading
    for chapter in chapters.numbered():
        assert f"**Chapter {chapter.number} —" in guide
    for part in ("verma2021generative", "verma2020framework", "verma2021audio"):
        assert part in guide
    assert "python -m audioformers.coursework grade submissions/ --out grades.csv" in guide
    assert "BOOK_SOLUTIONS=omit" in guide and "make student" in guide
    _check_term(guide)
    _check_colab_runtimes(guide)
    grading_section = _section(guide, "## Grading a class")
    documented = {name for line in grading_section.splitlines() if line.startswith("| `")
                  for name in re.findall(r"`(\w+)`", line.split("|")[1])}
    assert set(coursework.GRADE_FIELDS) <= documented, set(coursework.GRADE_FIELDS) - documented  # the rubric's too


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    level = heading.split(" ")[0] + " "
    ends = [i for i in (text.find("\n" + level, start + 1), text.find("\n## ", start + 1)) if i != -1]
    return text[start : min(ends) if ends else len(text)]


_EXERCISE_REF = re.compile(r"ch(\d) ex\. (\d+) \((\d+) pts\)")


def _check_term(guide: str) -> None:
    """Ten weeks, each with readings (the book and a paper), lecture, notebook, exercises whose points are the
    plan's, a quiz of 3-4 questions with answers; two milestones with a rubric of 20 points."""
    term = _section(guide, "## A ten-week term")
    plans = {p.chapter: {e.number: e.points for e in p.plan} for p in _plans()}
    assigned, papers_read = [], set()
    for week in range(1, 11):
        block = _section(term, f"### Week {week} —")
        for part in ("**Read.**", "**Lecture.**", "**Notebook.**", "**Exercises.**", "**Quiz.**"):
            assert part in block, (week, part)
        reading = block[block.index("**Read.**") : block.index("**Lecture.**")]
        assert "Book: chapter" in reading, week
        cited = set(re.findall(r"\{cite\}`(verma20\w+)`", reading))
        assert cited, f"week {week} names no section of the three papers"
        papers_read |= cited
        assert "chapters/" in block[block.index("**Notebook.**") :], week
        exercises_line = block[block.index("**Exercises.**") : block.index("**Quiz.**")]
        required = exercises_line.split("*Optional:*")[0]
        refs = [(int(c), int(n), int(p)) for c, n, p in _EXERCISE_REF.findall(exercises_line)]
        assert refs, week
        for chapter, number, points in refs:  # the points are the generated plan's
            assert plans[chapter][number] == points, (week, chapter, number, points)
        total = sum(int(p) for _, _, p in _EXERCISE_REF.findall(required))
        assert f"— {total} points" in required, (week, total)
        assigned += [(c, n) for c, n, _ in _EXERCISE_REF.findall(required)]
        quiz = block[block.index("**Quiz.**") :]
        questions = re.findall(r"^  \d+\. ", quiz, flags=re.M)
        assert 3 <= len(questions) <= 4 and quiz.count("*Answer:*") == len(questions), week
    assert papers_read == {"verma2021generative", "verma2020framework", "verma2021audio"}
    assert len(assigned) == len(set(assigned)), "an exercise is assigned twice"
    total = sum(plans[int(c)][int(n)] for c, n in assigned)
    assert f"the weekly exercises 45% ({total} points in all)" in term
    for number, chapter in ((1, 3), (2, 5)):
        block = _section(term, f"### Milestone {number} — a mini-project on chapter {chapter}")
        assert f"reproduce ch{chapter}" in block
        rows = re.findall(r"^\| ([a-z ,]+) \| (\d+) \| (.+) \|$", block, flags=re.M)
        assert len(rows) >= 4 and sum(int(points) for _, points, _ in rows) == 20, rows
        assert "| criterion | points | what earns full marks |" in block


def _plans():
    from types import SimpleNamespace

    numbered = coursework.registered_notebooks(ROOT, numbered=True)
    return [SimpleNamespace(chapter=plan[0].chapter, plan=plan) for plan in map(coursework.exercise_plan, numbered) if plan]


def _check_colab_runtimes(guide: str) -> None:
    timing = _section(guide, "## Time needed to run the notebooks")
    assert "<!-- generated:timings" in timing and "measured on 2 CPU cores" in timing
    runtimes = timing[timing.index("**Which Colab runtime to choose.**") :]
    for chapter in chapters.numbered():
        row = next(line for line in runtimes.splitlines() if line.startswith(f"| {chapter.number}. "))
        assert "CPU" in runtimes and row.count("|") == 4, row
        if chapter.number >= 3:
            assert f"reproduce ch{chapter.number}" in row, row


def test_answer_keys_come_from_the_reference_solutions():
    rows = {key: expected for key, _, expected in coursework.answer_keys()}
    assert rows["ch3.bits_per_sample"].startswith("8.000; 1.000")
    assert rows["ch1.frame_signal"] == "98; 29"
    assert rows["ch4.code_perplexity"].startswith("16.00")
    assert all(any(e.name in key for key in rows) for e in exercises.EXERCISES.values() if e.name != "dft_magnitude")


def test_exercise_plan_reads_types_and_self_checks():
    plan = coursework.exercise_plan(ROOT / "chapters" / "05_wavelet_audio_transformer.ipynb")
    by_number = {e.number: e for e in plan}
    assert by_number[2].key == "ch5.haar_multiscale" and by_number[3].key == "ch5.macro_map"
    assert by_number[6].kind == "design" and by_number[6].key is None
    assert sum(e.key is not None for e in plan) >= 4
