"""Student copies: solutions replaced by stubs or removed, outputs cleared, everything else kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from audioformers import coursework, exercises

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


def test_stubs_are_shown_even_where_the_book_hides_the_solution(tmp_path):
    cell = new_code_cell("def f():\n    return 1", metadata={"tags": ["solution", "hide-input", "keep-me"], "stub": "def f():\n    ..."})
    student = coursework.student_notebook(new_notebook(cells=[cell]))
    assert student.cells[0].metadata["tags"] == ["keep-me", "exercise"]


# ------------------------------------------------------------------ the real chapters
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
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
