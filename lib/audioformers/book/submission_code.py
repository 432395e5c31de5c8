"""What of a submitted notebook runs, and what in it a person should look at: a static reading with ``ast``.

* :func:`without_checks`: an exercise cell without its ``check_...(...)`` calls (the grader runs the checks);
* :func:`definitions_only`: a student's other cells reduced to imports, function and class definitions and
  constant assignments (helpers run; experiments, plots and training do not);
* :func:`flags_for`: an exercise's code (and the helpers it calls) that calls the package's reference solutions or
  its own implementation, or the library function the exercise asks the student to write (an FFT in the DFT
  exercise): the ``flags`` column of the grade table.

Notebook: ``instructor_guide.md`` (section "Grading a class"); used by :mod:`audioformers.book.grading`.
"""

from __future__ import annotations

import ast
import re

PREAMBLE = "import numpy as np\nfrom audioformers import exercises\n"


def python_source(cell_source: str) -> str:
    """A cell as plain Python (IPython's own translation of ``%magics`` and ``!commands``)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(cell_source)
    except Exception:  # noqa: BLE001 - IPython missing or the cell unreadable: the kernel reports it
        return cell_source


def without_checks(source: str) -> str:
    """The cell's code without its top-level ``...check_...(...)`` calls (the grader runs the checks)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source  # the kernel reports the syntax error
    lines = source.splitlines()
    for node in reversed(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and "check_" in ast.unparse(node.value.func):
            lines[node.lineno - 1 : node.end_lineno] = ["pass"] * (node.end_lineno - node.lineno + 1)
    return "\n".join(lines)


def _is_constant(node: ast.AST) -> bool:
    return not any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Lambda,
                                  ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)) for n in ast.walk(node))


def definitions_only(source: str) -> str:
    """The imports, function and class definitions and constant assignments of a cell (a student's helpers);
    experiments, plots and training in the same cell do not run."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept = [node for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            or (isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _is_constant(node.value))]
    return "\n\n".join(ast.get_source_segment(source, node) or "" for node in kept)


# Library functions that compute what an exercise asks the student to write (full dotted names, prefixes).
LIBRARY_ANSWERS: dict[str, tuple[str, ...]] = {
    "ch1.dft_magnitude": ("numpy.fft", "scipy.fft", "scipy.fftpack", "torch.fft", "torch.stft", "librosa"),
    "ch1.dft_amplitude": ("numpy.fft", "scipy.fft", "scipy.fftpack", "torch.fft", "torch.stft", "librosa"),
    "ch1.frame_signal": ("librosa.util.frame", "numpy.lib.stride_tricks.sliding_window_view"),
    "ch1.spectrogram": ("librosa.stft", "torch.stft", "scipy.signal.stft", "scipy.signal.spectrogram",
                        "scipy.signal.ShortTimeFFT", "torchaudio"),
    "ch1.hz_to_mel": ("librosa.hz_to_mel", "librosa.mel_frequencies", "torchaudio"),
    "ch2.mu_law_encode": ("torchaudio", "librosa.mu_compress"),
    "ch2.mu_law_decode": ("torchaudio", "librosa.mu_expand"),
    "ch3.attend_with_cache": ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.MultiheadAttention"),
    "ch4.assign_codes": ("sklearn", "scipy.cluster.vq"),
    "ch4.paired_bootstrap": ("scipy.stats.bootstrap",),
    "ch5.macro_map": ("sklearn.metrics", "torchmetrics"),
}
# Parts of the package a student may call in an exercise: the self-checks and the argument checks.
_ALLOWED_PACKAGE = re.compile(r"^audioformers(\.exercises(\.ch\d(\.check_\w+)?|\.ExerciseFailed)?|\.validation(\..*)?"
                              r"|\.audio_io\.check_\w+)?$")


def _aliases(trees: list[ast.AST]) -> dict[str, str]:
    names: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id]] + attrs[::-1])
    return None


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(python_source(source))
    except SyntaxError:
        return None


def flags_for(key: str, exercise_source: str, other_sources: list[str]) -> list[str]:
    """What a person should look at in an exercise's code (and the helpers it calls): a call of the package's
    reference solution or own implementation, or of the library function the exercise asks the student to write."""
    trees = [t for t in map(_parse, other_sources) if t is not None]
    cell = _parse(exercise_source)
    if cell is None:
        return []
    helpers = {node.name: node for tree in trees for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    seen, todo, code = set(), [cell], []
    while todo:  # the exercise's cell and, transitively, every helper it names
        node = todo.pop()
        code.append(node)
        for name in {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - seen:
            seen.add(name)
            if name in helpers:
                todo.append(helpers[name])
    aliases = {"np": "numpy", "exercises": "audioformers.exercises", **_aliases([ast.parse(PREAMBLE)] + trees + [cell])}
    for node in (n for tree in [cell, *helpers.values()] for n in ast.walk(tree)):  # the student's own names win
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            aliases.pop(node.name, None)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            aliases.pop(node.id, None)
    found: list[str] = []
    library = LIBRARY_ANSWERS.get(key, ())
    nodes = [n for tree in code for n in ast.walk(tree)]
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}  # read each dotted name once, whole
    for node in nodes:
        name = None
        if id(node) in inner:
            continue
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node, aliases)
            if isinstance(node, ast.Attribute) and (node.attr == "reference" or node.attr.startswith(("solution_", "_reference"))):
                name = name or f"….{node.attr}"
                found.append(f"calls a reference solution ({name})")
                continue
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"solution_|_reference", node.value):
            found.append(f"names a reference solution ({node.value[:60]!r})")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                full = f"{module}.{alias.name}" if module else alias.name
                if re.search(r"(^|\.)(solution_|_reference)", full):
                    found.append(f"calls a reference solution ({full})")
        if not name:
            continue
        if re.search(r"(^|\.)(solution_|_reference)", name):
            found.append(f"calls a reference solution ({name})")
        elif name.startswith("audioformers") and not _ALLOWED_PACKAGE.match(name) and name.count(".") >= 1:
            found.append(f"calls the package's own implementation ({name})")
        elif any(name == prefix or name.startswith(prefix + ".") for prefix in library):
            found.append(f"uses {name}, which computes what the exercise asks for")
    return list(dict.fromkeys(found))
