"""Student copies of the notebooks: the same chapters with the solutions taken out.

Teachers maintain one version of each notebook; :func:`make_student_copies` derives the student one:

* a **code cell tagged** ``solution`` is replaced by a stub: the cell's ``metadata.stub`` text if it has
  one, else the stub of the exercise named in ``metadata.exercise`` (e.g. ``"ch2.mu_law_encode"``, see
  :mod:`audioformers.exercises`), else one derived from the solution itself (each function keeps its
  signature and docstring, its body becomes ``raise NotImplementedError``; imports and ``check_...(...)``
  self-check calls are kept); tags that hide the code in the book (``hide-input`` ...) are dropped;
* a cell tagged ``answer`` (the book's worked answer to an open exercise) is removed;
* a **markdown cell tagged** ``solution`` is removed, and so is every MyST block titled "Solution" inside
  a markdown cell (``:::{admonition} Solution`` with ``:class: dropdown``, ```` ```{dropdown} Solution ````,
  ``{solution}`` directives);
* every output and execution count is cleared.

The student edition is one command, ``make student`` (``python -m audioformers.coursework student``, into
``STUDENT_DIR``, default ``_build/student/``); each copy starts with links to itself on Colab and to its chapter in
the web book. The same module also

* answers the web book's **solutions policy** (a Sphinx extension, ``audioformers_solutions: shown | omit`` in
  ``_config.yml`` or ``BOOK_SOLUTIONS=omit``: for a class, the book shows the student stubs instead of solutions);
* writes the **instructor guide's generated sections** (``python -m audioformers.coursework answers --write``):
  the exercise plan (type, time, points), the answer keys computed by the reference solutions, and the mistakes
  each self-check recognises;
* **grades** a folder of submitted notebooks (``python -m audioformers.coursework grade SUBMISSIONS --out
  grades.csv``): every self-check on every exercise cell, one CSV row per student and exercise, each notebook in
  a sandbox, the checks outside the student's kernel (:mod:`audioformers.book.grading`).

Notebook: ``instructor_guide.md`` (sections "Student edition", "Grading").
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import nbformat

from audioformers import chapters as registry

SOLUTION_TAG = "solution"
# Cells that answer an open exercise (a worked measurement, a model answer): removed from the student edition.
ANSWER_TAGS = {"answer", "answers"}
# Tags that hide a cell's code in the book (a solution behind a toggle); a student's stub must be in plain view.
HIDING_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
DEFAULT_OUTPUT = Path("_build") / "student"
DEFAULT_STUB = "# Your solution here.\nraise NotImplementedError(\"write your solution in this cell\")"

_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<directive>[\w:-]+)\}\s*(?P<title>.*)$")
_SOLUTION_DIRECTIVES = {"solution", "solution-start"}
_TITLED_DIRECTIVES = {"admonition", "dropdown", "toggle", "note", "tip", "hint"}


def is_solution(cell: dict) -> bool:
    """True for a cell tagged ``solution`` (``metadata.tags``)."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def is_answer(cell: dict) -> bool:
    """True for a cell tagged ``answer``: the book's answer to an open exercise, which has no stub."""
    return bool(ANSWER_TAGS & set(cell.get("metadata", {}).get("tags", [])))


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
        from audioformers.exercises import get_exercise

        return get_exercise(metadata["exercise"]).student_stub
    return derive_stub(_source(cell))


# Sentences of the book's exercise sections that describe the book's own hidden solutions.
_BOOK_ONLY = re.compile(r" ?(In the book each of these cells holds a reference solution[^.]*stub instead\."
                        r"|\(the book shows a reference solution, hidden\))")
BANNER_TAG = "student-links"


def student_banner(name: str, links: "StudentLinks") -> nbformat.NotebookNode:
    """The first cell of a student copy: where to open it on Colab and where its chapter is in the web book."""
    text = (f"**Student edition** — [open this notebook in Colab]({links.colab(name)}) · "
            f"[the chapter in the web book]({links.web(name)}). Write your code in the cells tagged *exercise*; "
            "the last line of each runs its self-check. Save and hand in this notebook.")
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": [BANNER_TAG]})


def student_notebook(notebook: nbformat.NotebookNode, *, keep_outputs: bool = False,
                     links: "StudentLinks | None" = None, name: str | None = None) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with solutions replaced or removed and every output cleared.

    ``keep_outputs`` keeps the outputs of the cells that are not exercises (the web book's class edition);
    ``links`` (with the notebook's file ``name``) puts a first cell with its Colab and web-book links.
    """
    student = copy.deepcopy(notebook)
    cells = []
    for cell in student.cells:
        if is_answer(cell) and not is_solution(cell):
            continue
        if cell.cell_type == "code":
            if is_solution(cell):
                cell.source = stub_for(cell).rstrip("\n")
                kept = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG and t not in HIDING_TAGS]
                cell.metadata["tags"] = kept + ["exercise"]
                cell.metadata.pop("stub", None)
                cell.outputs = []
                cell.execution_count = None
            elif not keep_outputs:
                cell.outputs = []
                cell.execution_count = None
        elif cell.cell_type == "markdown":
            if is_solution(cell):
                continue
            cell.source = _BOOK_ONLY.sub("", strip_solution_blocks(_source(cell)))
            if not cell.source.strip():
                continue
        cells.append(cell)
    if links is not None and name is not None and not any(BANNER_TAG in c.metadata.get("tags", []) for c in cells):
        cells.insert(0, student_banner(name, links))
    student.cells = cells
    student.metadata.setdefault("audioformers", {})["student_copy"] = True
    return student


@dataclass
class StudentLinks:
    """Where the student edition lives: a GitHub repository (``owner/name``), branch and folder for Colab, and the
    web book's address. Defaults: the book's repository (``_config.yml``), branch ``student``, the branch's root."""

    repository: str = ""
    branch: str = "student"
    folder: str = ""
    web_book: str = ""

    @classmethod
    def from_config(cls, root: Path | str = ".", **overrides: str | None) -> "StudentLinks":
        url = ""
        config = Path(root) / "_config.yml"
        if config.is_file():
            match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", config.read_text(), re.M)
            url = match.group(1) if match else ""
        repository = re.sub(r"^https?://github\.com/|\.git$|/$", "", url)
        links = cls(repository=repository)
        if "/" in repository:
            owner, name = repository.split("/", 1)
            links.web_book = f"https://{owner}.github.io/{name}"
        for key, value in overrides.items():
            if value is not None:
                setattr(links, key, value)
        return links

    def colab(self, name: str) -> str:
        path = "/".join(part.strip("/") for part in (self.folder, name) if part.strip("/"))
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/{path}"

    def web(self, name: str) -> str:
        return f"{self.web_book.rstrip('/')}/chapters/{Path(name).stem}.html"


def registered_notebooks(root: Path | str = ".", *, numbered: bool = False) -> list[Path]:
    """The notebooks of the chapter registry (:mod:`audioformers.chapters`), in its order, under ``root`` (the
    book's folder); ``numbered``: the numbered chapters only (not the reproduction report)."""
    listed = registry.numbered() if numbered else registry.CHAPTERS
    return [Path(root) / chapter.notebook for chapter in listed]


def make_student_copies(notebooks: Iterable[Path | str], output_dir: Path | str = DEFAULT_OUTPUT,
                        links: StudentLinks | None = None) -> list[Path]:
    """Write the student copy of each notebook into ``output_dir`` (same file names); return their paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, notebooks):
        if path.suffix != ".ipynb" or not path.is_file():
            raise FileNotFoundError(f"not a notebook file: {path}")
        student = student_notebook(nbformat.read(path, as_version=4), links=links, name=path.name)
        nbformat.validate(student)
        target = output_dir / path.name
        if target.resolve() == path.resolve():
            raise ValueError(f"the output folder {output_dir} holds the source notebook {path}: choose another folder")
        nbformat.write(student, target)
        written.append(target)
    return written


# ================================================================== the web book's solutions policy (Sphinx)
SOLUTIONS_POLICIES = ("shown", "omit")


def solutions_policy(configured: str | None = None) -> str:
    """``shown`` (self-learners: solutions folded away in the book) or ``omit`` (a class: the book shows the stubs).

    ``BOOK_SOLUTIONS`` in the environment wins over ``configured`` (``audioformers_solutions`` in ``_config.yml``).
    """
    import os

    policy = (os.environ.get("BOOK_SOLUTIONS") or configured or "shown").strip().lower()
    if policy not in SOLUTIONS_POLICIES:
        raise ValueError(f"the solutions policy (BOOK_SOLUTIONS or audioformers_solutions) must be one of "
                         f"{', '.join(SOLUTIONS_POLICIES)}, got {policy!r}")
    return policy


def _omit_solutions(app, docname: str, source: list[str]) -> None:
    """Sphinx ``source-read``: with the ``omit`` policy a chapter notebook is read as its student edition
    (stubs for solutions, no "Solutions" blocks, outputs of the other cells kept, links to the student notebooks)."""
    if solutions_policy(app.config.audioformers_solutions) != "omit" or not source or not source[0].lstrip().startswith("{"):
        return
    try:
        notebook = nbformat.reads(source[0], as_version=4)
    except Exception:  # noqa: BLE001 - not a notebook: leave it to its parser
        return
    links = StudentLinks.from_config(app.srcdir, **_link_overrides(None, None, None, None))
    name = Path(str(app.env.doc2path(docname))).name
    source[0] = nbformat.writes(student_notebook(notebook, keep_outputs=True, links=links, name=name))


def _class_build_options(app, config) -> None:
    """With the ``omit`` policy the launch button would open the notebook *with* solutions: drop it (each chapter's
    first cell links to its student copy instead)."""
    if solutions_policy(config.audioformers_solutions) == "omit":
        options = dict(config.html_theme_options or {})
        launch = dict(options.get("launch_buttons") or {})
        launch.update({"colab_url": "", "binderhub_url": "", "jupyterhub_url": "", "thebe": False})
        options["launch_buttons"] = launch
        config.html_theme_options = options


def setup(app) -> dict:
    """The Sphinx extension (``sphinx: extra_extensions: [audioformers.coursework]`` in ``_config.yml``)."""
    app.add_config_value("audioformers_solutions", "shown", "env")
    app.connect("config-inited", _class_build_options, priority=900)
    app.connect("source-read", _omit_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _link_overrides(repository, branch, folder, web_book) -> dict[str, str | None]:
    import os

    return {"repository": repository or os.environ.get("STUDENT_COLAB_REPO") or None,
            "branch": branch or os.environ.get("STUDENT_COLAB_BRANCH") or None,
            "folder": folder if folder is not None else (os.environ.get("STUDENT_COLAB_FOLDER") or None),
            "web_book": web_book or os.environ.get("STUDENT_WEB_BOOK") or None}


# ================================================================== provenance, the guide's sections, grading
# Kept importable from here (the command line and the tests use these names): they live in audioformers.book.
from audioformers.book.guide import (  # noqa: E402,F401
    CHECKED_SECTIONS, GENERATED, HARDER, TYPE_PLAN, PlannedExercise, answer_keys, answers_markdown, exercise_plan,
    generated_sections, guide_sections, mistakes_markdown, plan_markdown, teacher_timing_table, update_guide,
)
from audioformers.book.notebooks import cell_source as _source, provenance_of, timing_table, training_seconds  # noqa: E402,F401

# ================================================================== grading a folder of submissions
# The grader lives in :mod:`audioformers.book.grading` (a sandbox per submission, checks run outside the student's kernel).
from audioformers.book.grading import GRADE_FIELDS, grade_folder, grade_notebook  # noqa: E402,F401 - the public names stay here


# ================================================================== command line
COMMANDS = ("student", "answers", "grade", "timings")


def _positive_number(name: str, unit: str):
    """An argparse type: a finite number above zero (``nan``, ``inf``, 0 and negative values are refused)."""
    import math

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number of {unit}, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive, finite number of {unit}, got {text!r}")
        return value

    parse.__name__ = name
    return parse


def main(argv: list[str] | None = None) -> list[Path] | None:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):  # the old form: notebooks and --output, or --timings
        argv = (["timings"] + [a for a in argv if a != "--timings"]) if "--timings" in argv else ["student"] + argv
    parser = argparse.ArgumentParser(prog="python -m audioformers.coursework",
                                     description="Coursework: the student edition, answer keys and grading.")
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="write the student edition (stubs, checks, no solutions, links)")
    student.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: every registered chapter's notebook)")
    student.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"output folder (default {DEFAULT_OUTPUT})")
    student.add_argument("--colab-repo", help="GitHub owner/name holding the student edition (default: the book's repository, "
                                              "or $STUDENT_COLAB_REPO)")
    student.add_argument("--colab-branch", help="its branch (default: student, or $STUDENT_COLAB_BRANCH)")
    student.add_argument("--colab-folder", help="its folder in that branch (default: the root, or $STUDENT_COLAB_FOLDER)")
    student.add_argument("--web-book", help="the web book's address (default: the repository's GitHub Pages, or $STUDENT_WEB_BOOK)")
    answers = commands.add_parser("answers", help="print the guide's generated sections (plan, answer keys, mistakes)")
    answers.add_argument("--write", type=Path, nargs="?", const=Path("instructor_guide.md"),
                         help="rewrite those sections of the guide in place (default instructor_guide.md)")
    grade = commands.add_parser("grade", help="run every self-check over a folder of submitted notebooks; write a CSV")
    grade.add_argument("submissions", type=Path, help="folder of notebooks: STUDENT/notebook.ipynb or notebook.ipynb")
    grade.add_argument("--out", type=Path, default=Path("grades.csv"), help="the grade table (default grades.csv)")
    grade.add_argument("--timeout", type=_positive_number("--timeout", "seconds"), default=300.0,
                       help="seconds per notebook, from its first cell to its last check (default 300)")
    grade.add_argument("--memory", type=_positive_number("--memory", "GiB"), default=4.0,
                       help="address-space limit of each notebook's kernel, in GiB (default 4)")
    timings = commands.add_parser("timings", help="print the recorded wall times (Markdown table)")
    timings.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)

    notebooks = getattr(args, "notebooks", None) or registered_notebooks(".")
    if args.command == "student":
        missing = [str(p) for p in notebooks if not p.is_file()]
        if missing:
            parser.error(f"notebooks not found: {', '.join(missing)} (run from the book's folder, or name them)")
        links = StudentLinks.from_config(".", **_link_overrides(args.colab_repo, args.colab_branch, args.colab_folder, args.web_book))
        written = make_student_copies(notebooks, args.output, links)
        for path in written:
            print(f"wrote {path}")
        return written
    if args.command == "timings":
        print(timing_table(notebooks, Path("results") if Path("results").is_dir() else None))
        return []
    if args.command == "answers":
        numbered = registered_notebooks(".", numbered=True)
        if args.write:
            changed = update_guide(args.write, numbered)
            print(f"{args.write}: " + (f"updated {', '.join(changed)}" if changed else "already up to date"))
        else:
            for name, body in generated_sections(numbered).items():
                print(f"## {name}\n\n{body}")
        return None
    rows = grade_folder(args.submissions, args.out, args.timeout, args.memory)
    totals: dict[str, list[int]] = {}
    for row in rows:
        got, best = totals.setdefault(str(row["student"]), [0, 0])
        totals[str(row["student"])] = [got + int(row["points"]), best + int(row["max_points"])]
    for name, (got, best) in sorted(totals.items()):
        print(f"{name}: {got} / {best} points")
    print(f"wrote {args.out} ({len(rows)} rows)")
    return None


if __name__ == "__main__":
    main()
