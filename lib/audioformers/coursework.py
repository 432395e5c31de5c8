"""Student copies of the notebooks: the same chapters with the solutions taken out.

Teachers maintain one version of each notebook; :func:`make_student_copies` derives the student one:

* a **code cell tagged** ``solution`` is replaced by a stub: the cell's ``metadata.stub`` text if it has
  one, else the stub of the exercise named in ``metadata.exercise`` (e.g. ``"ch2.mu_law_encode"``, see
  :mod:`audioformers.exercises`), else one derived from the solution itself (each function keeps its
  signature and docstring, its body becomes ``raise NotImplementedError``; imports and ``check_...(...)``
  self-check calls are kept); tags that hide the code in the book (``hide-input`` ...) are dropped;
* a **markdown cell tagged** ``solution`` is removed, and so is every MyST block titled "Solution" inside
  a markdown cell (``:::{admonition} Solution`` with ``:class: dropdown``, ```` ```{dropdown} Solution ````,
  ``{solution}`` directives);
* every output and execution count is cleared.

Run it as ``python data_scripts/make_student_copies.py`` (default output folder: ``_build/student/``).

Notebook: ``instructor_guide.md`` (section "Student copies").
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
from pathlib import Path
from typing import Iterable

import nbformat

SOLUTION_TAG = "solution"
# Tags that hide a cell's code in the book (a solution behind a toggle); a student's stub must be in plain view.
HIDING_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
DEFAULT_OUTPUT = Path("_build") / "student"
DEFAULT_STUB = "# Your solution here.\nraise NotImplementedError(\"write your solution in this cell\")"

_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<directive>[\w:-]+)\}\s*(?P<title>.*)$")
_SOLUTION_DIRECTIVES = {"solution", "solution-start"}
_TITLED_DIRECTIVES = {"admonition", "dropdown", "toggle", "note", "tip", "hint"}


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def is_solution(cell: dict) -> bool:
    """True for a cell tagged ``solution`` (``metadata.tags``)."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def _is_solution_opening(match: re.Match) -> bool:
    directive, title = match["directive"].lower(), match["title"].strip().lower()
    return directive in _SOLUTION_DIRECTIVES or (directive in _TITLED_DIRECTIVES and title.startswith("solution"))


def strip_solution_blocks(markdown: str) -> str:
    """Remove the MyST blocks titled "Solution" (and ``{solution}`` directives), nested fences included."""
    kept: list[str] = []
    depth, fence_char, fence_len = 0, "", 0
    for line in markdown.splitlines(keepends=True):
        stripped = line.strip()
        if depth == 0:
            match = _OPEN.match(line)
            if match and _is_solution_opening(match):
                depth, fence_char, fence_len = 1, match["fence"][0], len(match["fence"])
                continue
            kept.append(line)
            continue
        opening = _OPEN.match(line)
        if opening and opening["fence"][0] == fence_char:
            depth += 1  # a nested block with the same fence character
        elif re.fullmatch(re.escape(fence_char) + "{3,}", stripped):
            if depth > 1 or len(stripped) >= fence_len:
                depth -= 1
        elif fence_char == "`" and re.match(r"^`{3,}\w", stripped):
            depth += 1  # a nested code block such as ```python inside a ```` fence
    if len(kept) == len(markdown.splitlines()):
        return markdown  # nothing removed: keep the cell exactly as it was
    return re.sub(r"\n{3,}", "\n\n", "".join(kept)).rstrip()


def derive_stub(solution: str) -> str:
    """A stub from a solution cell: signatures, docstrings, imports and self-check calls; bodies raise."""
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return DEFAULT_STUB
    lines = solution.splitlines()
    parts: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            parts.append(ast.get_source_segment(solution, node) or "")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            first = node.body[0]
            has_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                and isinstance(first.value.value, str)
            end = first.end_lineno if has_doc else first.lineno - 1
            indent = " " * first.col_offset
            head = "\n".join(lines[start - 1 : end])
            parts.append(f"{head}\n{indent}raise NotImplementedError(\"write {node.name}\")")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and "check_" in ast.unparse(node.value.func):
            parts.append(ast.get_source_segment(solution, node) or "")
    if not any("NotImplementedError" in part for part in parts):
        parts.insert(0, DEFAULT_STUB)
    return "\n\n".join(part for part in parts if part).strip() + "\n"


def stub_for(cell: dict) -> str:
    """The stub that replaces a solution code cell (``metadata.stub``, then ``metadata.exercise``, then derived)."""
    metadata = cell.get("metadata", {})
    if "stub" in metadata:
        stub = metadata["stub"]
        return "".join(stub) if isinstance(stub, list) else str(stub)
    if "exercise" in metadata:
        from .exercises import get_exercise

        return get_exercise(metadata["exercise"]).student_stub
    return derive_stub(_source(cell))


def student_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with solutions replaced or removed and every output cleared."""
    student = copy.deepcopy(notebook)
    cells = []
    for cell in student.cells:
        if cell.cell_type == "code":
            if is_solution(cell):
                cell.source = stub_for(cell).rstrip("\n")
                kept = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG and t not in HIDING_TAGS]
                cell.metadata["tags"] = kept + ["exercise"]
                cell.metadata.pop("stub", None)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            if is_solution(cell):
                continue
            cell.source = strip_solution_blocks(_source(cell))
            if not cell.source.strip():
                continue
        cells.append(cell)
    student.cells = cells
    student.metadata.setdefault("audioformers", {})["student_copy"] = True
    return student


def make_student_copies(notebooks: Iterable[Path | str], output_dir: Path | str = DEFAULT_OUTPUT) -> list[Path]:
    """Write the student copy of each notebook into ``output_dir`` (same file names); return their paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, notebooks):
        if path.suffix != ".ipynb" or not path.is_file():
            raise FileNotFoundError(f"not a notebook file: {path}")
        student = student_notebook(nbformat.read(path, as_version=4))
        nbformat.validate(student)
        target = output_dir / path.name
        if target.resolve() == path.resolve():
            raise ValueError(f"the output folder {output_dir} holds the source notebook {path}: choose another folder")
        nbformat.write(student, target)
        written.append(target)
    return written


def provenance_of(path: Path | str) -> dict[str, str]:
    """The ``key: value`` lines printed by the notebook's last cell (``notebook.provenance()``), as strings."""
    notebook = nbformat.read(Path(path), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or "provenance" not in _source(code[-1]):
        return {}
    text = "".join(out.get("text", "") for out in code[-1].get("outputs", []) if out.get("output_type") == "stream")
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def training_seconds(results_dir: Path | str, chapter: int, profile: str = "book") -> float | None:
    """Sum of ``wall_time_s`` over ``results/ch<chapter>/*.<profile>.json``: the time the chapter's runs took
    from scratch (the notebook itself reloads them from the cache), or ``None`` if none recorded one."""
    import json

    times = []
    for path in sorted(Path(results_dir, f"ch{chapter}").glob(f"*.{profile}.json")):
        value = json.loads(path.read_text()).get("wall_time_s")
        if isinstance(value, (int, float)):
            times.append(float(value))
    return sum(times) if times else None


def timing_table(notebooks: Iterable[Path | str], results_dir: Path | str | None = None) -> str:
    """Each notebook's recorded profile, device and wall time (its provenance cell) and, with ``results_dir``,
    the summed wall time of the chapter's recorded runs (the cost of a run without the cache), as Markdown."""
    notebooks = [Path(p) for p in notebooks]
    header = "| notebook | profile | device | notebook wall time (min) |"
    if results_dir is None:
        rows = [header, "|---|---|---|---|"]
    else:
        rows = [header + " runs recorded in results/ (min) |", "|---|---|---|---|---|"]
    for path in notebooks:
        info = provenance_of(path)
        minutes = f"{float(info['wall_time_s']) / 60:.1f}" if "wall_time_s" in info else "not recorded"
        row = f"| {path.stem} | {info.get('profile', '?')} | {info.get('device', '?')} | {minutes} |"
        if results_dir is not None:
            chapter = path.stem.split("_", 1)[0]
            seconds = training_seconds(results_dir, int(chapter), info.get("profile", "book")) if chapter.isdigit() else None
            row += f" {seconds / 60:.1f} |" if seconds is not None else " - |"
        rows.append(row)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description="Write student copies of the notebooks (solutions removed, outputs cleared).")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: every notebook in chapters/)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"output folder (default {DEFAULT_OUTPUT})")
    parser.add_argument("--timings", action="store_true", help="print the recorded wall times (Markdown table) instead")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(Path("chapters").glob("*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given and none found in chapters/")
    if args.timings:
        print(timing_table(notebooks, Path("results") if Path("results").is_dir() else None))
        return []
    written = make_student_copies(notebooks, args.output)
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
