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
  a sandbox, the checks outside the student's kernel (:mod:`audioformers.grading`).

Notebook: ``instructor_guide.md`` (sections "Student edition", "Grading").
"""

from __future__ import annotations

import argparse
import ast
import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import nbformat

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


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


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
        from .exercises import get_exercise

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


def provenance_of(path: Path | str) -> dict[str, str]:
    """The ``key: value`` lines printed by the notebook's last cell (``notebook.provenance()``), as strings."""
    notebook = nbformat.read(Path(path), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or "provenance" not in _source(code[-1]):
        return {}
    text = "".join(out.get("text", "") for out in code[-1].get("outputs", []) if out.get("output_type") == "stream")
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def training_seconds(results_dir: Path | str, chapter: int, profile: str = "book") -> float | None:
    """Sum of ``wall_time_s`` over ``results/ch<chapter>/*.<profile>.json``: the time the chapter's recorded runs
    and command-line studies took (the notebook reloads them from ``results/``), or ``None`` if none recorded one.
    A run that writes several files records the same wall time in each: equal values are counted once."""
    import json

    times = set()
    for path in sorted(Path(results_dir, f"ch{chapter}").glob(f"*.{profile}.json")):
        value = json.loads(path.read_text()).get("wall_time_s")
        if isinstance(value, (int, float)):
            times.add(float(value))
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


# ================================================================== the exercise plan: type, time, points
# Per exercise type: minutes a prepared student needs (reading the section included) and points.
TYPE_PLAN: dict[str, tuple[str, int, int]] = {
    "implement": ("implement (self-checked)", 20, 2),
    "predict": ("predict, then measure", 30, 3),
    "measure": ("measure", 45, 3),
    "explain": ("explain", 20, 2),
    "derive": ("derive", 30, 2),
    "modify": ("modify and rerun", 45, 3),
    "analyse": ("analyse", 45, 3),
    "explore": ("explore", 45, 3),
    "extend": ("extend", 60, 4),
    "implement and compare": ("implement and compare", 45, 3),
    "design": ("design an experiment (written plan)", 45, 4),
    "experiment": ("experiment (run it)", 120, 6),
}
# Self-checked exercises that take longer than the default 20 minutes / 2 points.
HARDER = {"ch3.attend_with_cache": (40, 3), "ch4.nt_xent": (40, 3), "ch5.haar_multiscale": (40, 3),
          "ch4.paired_bootstrap": (30, 3), "ch1.dft_amplitude": (30, 2)}


@dataclass
class PlannedExercise:
    chapter: int
    number: int
    kind: str
    minutes: int
    points: int
    text: str
    key: str | None = None  # the self-check, for self-checked exercises

    @property
    def check(self) -> str:
        return f"`exercises.{self.key.split('.')[0]}.check_{self.key.split('.')[1]}`" if self.key else "rubric"


_ITEM = re.compile(r"^(\d+)\.\s+(?P<label>\*\*[^*]+\*\*|\*[^*]+\*)\s*(?P<text>.*)$")


def _kind(label: str) -> str:
    words = re.sub(r"[*()]", "", label).lower().replace("self-checked", "").replace(",", " ").split()
    phrase = " ".join(words)
    if phrase.startswith("implement and compare"):
        return "implement and compare"
    if phrase.startswith("design"):
        return "design"
    for kind in TYPE_PLAN:
        if phrase.startswith(kind):
            return kind
    return "explore"


def exercise_plan(notebook_path: Path | str) -> list[PlannedExercise]:
    """The numbered exercises of a chapter's Exercises section, with type, time, points and self-check."""
    notebook = nbformat.read(Path(notebook_path), as_version=4)
    chapter = int(Path(notebook_path).stem[:2])
    heading = next((c for c in notebook.cells if c.cell_type == "markdown" and _source(c).startswith("## Exercises")), None)
    if heading is None:
        return []
    keys = [c.metadata["exercise"] for c in notebook.cells if c.cell_type == "code" and c.metadata.get("exercise")]
    plan = []
    lines = _source(heading).splitlines()
    for i, line in enumerate(lines):
        match = _ITEM.match(line)
        if not match:
            continue
        text = match["text"]
        item = " ".join([line] + list(itertools.takewhile(lambda l: l.startswith("   "), lines[i + 1 :])))
        kind = _kind(match["label"])
        if kind == "experiment" and text.lower().startswith("design"):
            kind = "design"
        names = re.findall(r"`(\w+)[`(]", item)
        key = next((k for k in keys if k.split(".")[1] in names), None) if kind.startswith("implement") else None
        if key is not None:
            kind = "implement"
        _, minutes, points = TYPE_PLAN[kind]
        minutes, points = HARDER.get(key, (minutes, points)) if key else (minutes, points)
        first = re.split(r"(?<=[.?!:])\s", text, maxsplit=1)[0]
        plan.append(PlannedExercise(chapter, int(match.group(1)), kind, minutes, points, first, key))
    return plan


def plan_markdown(notebooks: Iterable[Path | str]) -> str:
    """One Markdown table per chapter: number, type, time, points, self-check."""
    out = []
    for path in notebooks:
        plan = exercise_plan(path)
        if not plan:
            continue
        total_min, total_pts = sum(e.minutes for e in plan), sum(e.points for e in plan)
        checked = [e for e in plan if e.key]
        out.append(f"**Chapter {plan[0].chapter}** — {len(plan)} exercises, {len(checked)} self-checked; "
                   f"about {total_min / 60:.1f} h for all of them, {total_pts} points.\n")
        out.append("| # | type | time (min) | points | graded by |")
        out.append("|---|---|---|---|---|")
        for e in plan:
            label = TYPE_PLAN[e.kind][0] if e.key or e.kind != "implement" else "implement"
            out.append(f"| {e.number} | {label} | {e.minutes} | {e.points} | {e.check} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ================================================================== answer keys, computed by the reference solutions
def _s(value, spec: str) -> str:
    """``format(value, spec)``, refusing a value so close to a rounding boundary that another machine's float
    kernels or thread count could print another last digit (see :func:`audioformers.booktools.stable`)."""
    from .booktools import stable

    return stable(float(value), spec)


def _fmt(values, digits: int = 4) -> str:
    import numpy as np

    array = np.atleast_1d(np.asarray(values, dtype=float))
    return ", ".join(_s(v, f".{digits}g") for v in array)


def answer_keys() -> list[tuple[str, str, str]]:
    """``(exercise, worked example, expected)`` rows: each number computed here by the reference solutions."""
    import numpy as np
    import torch

    from . import signals, wavelet_transformer
    from .exercises import ch1, ch2, ch3, ch4, ch5
    from .wavenet import WaveNetConfig

    rows: list[tuple[str, str, str]] = []
    sr = 16000
    t = np.arange(sr) / sr
    three = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1000 * t) + 0.25 * np.sin(2 * np.pi * 2500 * t)
    freqs, amplitude = ch1.solution_dft_amplitude(three[:4000], sr)
    peaks = np.sort(np.argsort(amplitude)[-3:])
    rows.append(("ch1.dft_amplitude", "sin 440 Hz + 0.5 sin 1000 Hz + 0.25 sin 2500 Hz, 4000 samples at 16 kHz: the three peaks",
                 f"{_fmt(freqs[peaks])} Hz, heights {_fmt(amplitude[peaks], 3)}"))
    one = np.random.default_rng(0).uniform(-1, 1, sr)
    rows.append(("ch1.spectrogram", "1 s at 16 kHz, n_fft = 400, hop_length = 160: shape (no centring; librosa's default centred)",
                 f"{ch1.solution_spectrogram(one, 400, 160).shape} ({tuple(signals.stft_magnitude(one, 400, 160).shape)} centred)"))
    mel = ch1.solution_hz_to_mel(np.array([500.0, 1000.0, 4000.0, 8000.0]))
    rows.append(("ch1.hz_to_mel", "500, 1000, 4000, 8000 Hz (Slaney)", f"{_fmt(mel)} mel (HTK would give "
                 f"{_fmt(signals.hz_to_mel(np.array([500.0, 1000.0, 4000.0, 8000.0]), htk=True))})"))
    rows.append(("ch1.frame_signal", "frames of 400 every 160 in 16000 samples; of 256 every 64 in 2048 samples",
                 f"{len(ch1.solution_frame_signal(one, 400, 160))}; {len(ch1.solution_frame_signal(one[:2048], 256, 64))}"))
    off_bin = np.sin(2 * np.pi * 440.5 * t)
    rect = 2 * np.abs(np.fft.rfft(off_bin)).max() / sr
    hann = np.hanning(sr + 1)[:-1]
    windowed = 2 * np.abs(np.fft.rfft(off_bin * hann)).max() / hann.sum()
    rows.append(("ch1 exercise 4 (open)", "peak of a 440.5 Hz sinusoid (half-way between 1 Hz bins), 1 s at 16 kHz",
                 f"rectangular {_s(rect, '.3f')} ({_s(20 * np.log10(rect), '.1f')} dB), Hann {_s(windowed, '.3f')} ({_s(20 * np.log10(windowed), '.1f')} dB)"))
    f48, f49 = 440 * 2 ** ((48 - 69) / 12), 440 * 2 ** ((49 - 69) / 12)
    n_fft = next(2**k for k in range(8, 18) if 2 * sr / 2**k < f49 - f48)
    rows.append(("ch1 exercise 5 (open)", "MIDI 48 and 49 resolved by a Hann window (main lobe 2 sr / n_fft narrower than their distance)",
                 f"{_s(f48, '.1f')} and {_s(f49, '.1f')} Hz, {_s(f49 - f48, '.2f')} Hz apart: n_fft = {n_fft} ({_s(n_fft / sr, '.2f')} s) at 16 kHz"))

    edges = np.array([-1.0, -0.5, -0.001, 0.0, 0.001, 0.5, 1.0])
    rows.append(("ch2.mu_law_encode", "x = -1, -0.5, -0.001, 0, 0.001, 0.5, 1",
                 ", ".join(str(int(c)) for c in ch2.solution_mu_law_encode(edges))))
    decoded = ch2.solution_mu_law_decode(np.arange(256))
    rows.append(("ch2.mu_law_decode", "step between neighbouring codes near 0 (codes 127, 128) and near 1 (254, 255)",
                 f"{_s(decoded[128] - decoded[127], '.3g')} and {_s(decoded[255] - decoded[254], '.3g')}"))
    uniform = np.random.default_rng(0).uniform(-1, 1, 200000)
    snrs = [ch2.solution_snr_db(uniform, ch2.solution_quantize_uniform(uniform, 2**bits)) for bits in (2, 4, 8)]
    rows.append(("ch2.quantize_uniform + snr_db (exercise 5)", "SNR of 200,000 samples uniform in [-1, 1] at 2, 4, 8 bits",
                 f"{_fmt(snrs)} dB (6.02 B: 12.04, 24.08, 48.16)"))

    wavenet = WaveNetConfig()
    rows.append(("ch3.receptive_field", f"kernel 2, dilations 1 .. 512 (10 layers); the chapter's WaveNetConfig() ({wavenet.num_stacks} x {wavenet.layers_per_stack} layers)",
                 f"{ch3.solution_receptive_field(2, [2**i for i in range(10)])}; {ch3.solution_receptive_field(wavenet.kernel_size, wavenet.dilations)} samples"))
    rows.append(("ch3.causal_mask", "T = 4: entries that may attend", f"{int(ch3.solution_causal_mask(4).sum())} of 16 (the lower triangle with its diagonal)"))
    gen = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 256, (1000,), generator=gen)
    rows.append(("ch3.bits_per_sample", "uniform logits over 256 codes; logits giving the target probability 0.5",
                 f"{_s(ch3.solution_bits_per_sample(torch.zeros(1000, 256), targets), '.3f')}; "
                 f"{_s(ch3.solution_bits_per_sample(torch.zeros(1000, 256).scatter(1, targets[:, None], float(np.log(255))), targets), '.3f')} bits"))
    from .sample_transformer import SampleTransformer, SampleTransformerConfig

    torch.manual_seed(0)
    model = SampleTransformer(SampleTransformerConfig(context_length=32, width=32, num_layers=2, num_heads=4)).eval()
    tokens = torch.randint(0, 256, (2, 32), generator=gen)
    with torch.no_grad():
        gap = float((ch3.cached_logits(model, tokens, ch3.solution_attend_with_cache) - model(tokens)).abs().max())
    rows.append(("ch3.attend_with_cache", "2-layer SampleTransformer, 32 tokens one at a time: largest |cached - whole-window| logit",
                 f"{'below 1e-5' if gap < 1e-5 else _s(gap, '.1e')} (float32 rounding, which differs between machines; "
                 "a real mistake gives differences of order 0.1 or more)"))

    rows.append(("ch4.code_perplexity", "1,000,000 codes uniform over 16; half code 0, the rest uniform over 15",
                 f"{_s(ch4.solution_code_perplexity(np.arange(16).repeat(62500), 16), '.2f')}; "
                 f"{_s(ch4.solution_code_perplexity(np.r_[np.zeros(15, int), np.arange(1, 16)], 16), '.2f')}"))
    z = torch.eye(4)
    rows.append(("ch4.nt_xent", "B = 4, the two views identical one-hot vectors, temperature 0.2 and 1.0",
                 f"{_s(float(ch4.solution_nt_xent(z, z, 0.2)), '.4f')}; {_s(float(ch4.solution_nt_xent(z, z, 1.0)), '.4f')}"))
    rows.append(("ch4.assign_codes", "vectors (0, 0), (0.9, 1), (3, 3) with centres (0, 0), (1, 1), (3, 2.5)",
                 ", ".join(str(int(c)) for c in ch4.solution_assign_codes(np.array([[0, 0], [0.9, 1], [3, 3]], float),
                                                                          np.array([[0, 0], [1, 1], [3, 2.5]], float)))))
    (correct_a, correct_b, _, _), _ = ch4._bootstrap_cases(44)[0]
    low, high = ch4.solution_paired_bootstrap(correct_a, correct_b, 2000, 0)
    unpaired = ch4.BOOTSTRAP_MISTAKES[0].fn(correct_a, correct_b, 2000, 0)
    rows.append(("ch4.paired_bootstrap", f"the check's first case: 200 clips, accuracies {_s(correct_a.mean(), '.3f')} and {_s(correct_b.mean(), '.3f')}, 2000 resamples, seed 0",
                 f"[{_s(low, '.3f')}, {_s(high, '.3f')}] (unpaired: [{_s(unpaired[0], '.3f')}, {_s(unpaired[1], '.3f')}], wider)"))

    clip = torch.randn(2, sr, generator=gen)
    rows.append(("ch5.patchify", "1 s at 16 kHz, 400-sample patches", f"shape {tuple(ch5.solution_patchify(clip, 400).shape)}"))
    windows = wavelet_transformer.haar_window_sizes(40)
    groups = [g.shape[2] for g in torch.tensor_split(torch.zeros(1, 40, 64), len(windows), dim=2)]
    rows.append(("ch5.haar_multiscale", "T = 40 patches, C = 64 channels: windows and channels per group",
                 f"windows {windows}; channels {groups}"))
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], float)
    s = np.array([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.9]])
    rows.append(("ch5.macro_map", "4 clips, 2 classes: targets [[1,0],[0,1],[1,0],[0,0]], scores [[.9,.1],[.8,.7],[.3,.2],[.1,.9]]",
                 f"{_s(ch5.solution_macro_map(y, s), '.4f')} (class APs 1.0 and 0.5)"))
    x = torch.arange(12, dtype=torch.float32).reshape(2, 3, 2)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    rows.append(("ch5.masked_time_mean", "x = arange(12).reshape(2, 3, 2), mask [[T, T, F], [F, F, F]]",
                 f"{ch5.solution_masked_time_mean(x, mask).tolist()}"))
    rng = np.random.default_rng(0)
    peaks = np.sort(np.abs(np.fft.rfft(rng.standard_normal((64, 400)), axis=1)).argmax(axis=1) * sr / 400)
    r = np.corrcoef(peaks, np.arange(64))[0, 1]
    rows.append(("ch5 exercise 5 (open)", "64 random Gaussian 400-tap filters: peak frequencies, sorted, against a straight line",
                 f"correlation {_s(r, '.3f')}; lowest {_s(peaks[0], '.0f')} Hz, highest {_s(peaks[-1], '.0f')} Hz"))
    return rows


def answers_markdown() -> str:
    rows = ["| exercise | worked example | expected (reference solution) |", "|---|---|---|"]
    rows += [f"| {key} | {example} | {expected} |" for key, example, expected in answer_keys()]
    return "\n".join(rows) + "\n"


def mistakes_markdown() -> str:
    """Every known mistake each self-check recognises, with what it tells the student (from the registry)."""
    from .exercises import EXERCISES

    out = []
    for key, exercise in EXERCISES.items():
        if not exercise.mistakes:
            continue
        messages = list(dict.fromkeys(m.message for m in exercise.mistakes))
        out.append(f"- **`{key}`** — " + " · ".join(f"“{m}”" for m in messages))
    return "\n".join(out) + "\n"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def teacher_timing_table(notebooks: Iterable[Path | str], results_dir: Path | str = "results") -> str:
    """Per chapter, in minutes: the committed run of the notebook and the runs and studies recorded in
    ``results_dir``, which the notebook reloads rather than repeats (what a fresh runtime needs is the
    notebook's own time: the committed runs were made with an empty model cache where it matters)."""
    rows = ["| chapter | profile, device | notebook as committed (min) | recorded runs and studies, reloaded (min) |",
            "|---|---|---|---|"]
    for path in map(Path, notebooks):
        info = provenance_of(path)
        if "wall_time_s" not in info:
            rows.append(f"| {path.stem} | not recorded | - | - |")
            continue
        own = float(info["wall_time_s"])
        chapter = path.stem.split("_", 1)[0]
        runs = training_seconds(results_dir, int(chapter), info.get("profile", "book")) if chapter.isdigit() else None
        rows.append(f"| {path.stem} | {info.get('profile', '?')}, {info.get('device', '?')} | {_minutes(own)} | "
                    f"{_minutes(runs) if runs else 'none'} |")
    return "\n".join(rows) + "\n"


GENERATED = {"plan": plan_markdown, "timings": teacher_timing_table,
             "answers": lambda _: answers_markdown(), "mistakes": lambda _: mistakes_markdown()}
# Sections a test keeps in step with the code; the timings change with every re-execution of the notebooks.
CHECKED_SECTIONS = ("plan", "answers", "mistakes")


def _markers(name: str) -> tuple[str, str]:
    return (f"<!-- generated:{name} (python -m audioformers.coursework answers --write) -->", f"<!-- end:{name} -->")


def generated_sections(notebooks: Iterable[Path | str]) -> dict[str, str]:
    notebooks = list(notebooks)
    return {name: make(notebooks) for name, make in GENERATED.items()}


def update_guide(guide: Path | str, notebooks: Iterable[Path | str]) -> list[str]:
    """Rewrite the generated sections of ``guide`` in place; return the names of those that changed."""
    guide = Path(guide)
    text = guide.read_text()
    changed = []
    for name, body in generated_sections(notebooks).items():
        start, end = _markers(name)
        if start not in text or end not in text:
            raise ValueError(f"{guide} has no {start} ... {end} block")
        before, rest = text.split(start, 1)
        old, after = rest.split(end, 1)
        new = f"\n{body}"
        if old != new:
            changed.append(name)
        text = before + start + new + end + after
    guide.write_text(text)
    return changed


def guide_sections(guide: Path | str) -> dict[str, str]:
    """The generated sections as they stand in ``guide``."""
    text = Path(guide).read_text()
    found = {}
    for name in GENERATED:
        start, end = _markers(name)
        if start in text and end in text:
            found[name] = text.split(start, 1)[1].split(end, 1)[0].lstrip("\n")
    return found


# ================================================================== grading a folder of submissions
# The grader lives in :mod:`audioformers.grading` (a sandbox per submission, checks run outside the student's kernel).
from .grading import GRADE_FIELDS, grade_folder, grade_notebook  # noqa: E402,F401 - the public names stay here


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
    student.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: every notebook in chapters/)")
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

    notebooks = getattr(args, "notebooks", None) or sorted(Path("chapters").glob("*.ipynb"))
    if args.command == "student":
        if not notebooks:
            parser.error("no notebooks given and none found in chapters/")
        links = StudentLinks.from_config(".", **_link_overrides(args.colab_repo, args.colab_branch, args.colab_folder, args.web_book))
        written = make_student_copies(notebooks, args.output, links)
        for path in written:
            print(f"wrote {path}")
        return written
    if args.command == "timings":
        print(timing_table(notebooks, Path("results") if Path("results").is_dir() else None))
        return []
    if args.command == "answers":
        chapters = [p for p in sorted(Path("chapters").glob("0*.ipynb"))]
        if args.write:
            changed = update_guide(args.write, chapters)
            print(f"{args.write}: " + (f"updated {', '.join(changed)}" if changed else "already up to date"))
        else:
            for name, body in generated_sections(chapters).items():
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
