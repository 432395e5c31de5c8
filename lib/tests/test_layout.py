"""The package's floor plan (CONTRIBUTING.md): shared code by kind in sub-packages, one package per chapter, the
book's tooling on top, one registry of chapters, and no import circle — counting imports inside functions, so
that none can hide one."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from audioformers import booktools, chapters

PACKAGE = Path(__file__).resolve().parents[1] / "audioformers"
ROOT = PACKAGE.parents[1]
SHARED = ("core", "audio", "data", "models", "train", "evaluation")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """``module -> the package's modules it imports``, at any depth of the file (function-level imports too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                if base.split(".")[0] != "audioformers":
                    continue
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "audioformers"}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_even_through_function_level_imports():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_shared_code_sits_below_the_chapters_and_the_tools():
    """Shared layers never import a chapter package or the book's tooling (the registry excepted: it imports nothing)."""
    upper = {c.key for c in chapters.CHAPTERS} | {"book", "booktools", "coursework", "report", "reproduce", "notebook"}
    for module, targets in import_graph().items():
        parts = module.split(".")
        if len(parts) > 1 and parts[1] in SHARED:
            above = sorted(t for t in targets if t.split(".")[1] in upper)
            assert not above, f"{module} imports {above}, which sit above it"
    assert import_graph()["audioformers.chapters"] == set()


def test_few_modules_on_the_top_floor_and_packages_by_kind():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert len(top) <= 12, top
    assert set(SHARED) <= set(packages) and len(packages) >= 5
    for chapter in chapters.numbered():
        assert chapter.key in packages, f"chapter {chapter.key} has no package audioformers.{chapter.key}"


def test_the_toc_is_generated_from_the_registry():
    assert (ROOT / "_toc.yml").read_text() == booktools.toc_text(), "run `python -m audioformers.booktools sync-toc`"
    toc = yaml.safe_load(booktools.toc_text())
    listed = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    assert [c.notebook for c in chapters.CHAPTERS] == [f for f in listed if f.endswith(".ipynb")]
    for chapter in chapters.CHAPTERS:
        assert (ROOT / chapter.notebook).exists(), chapter.notebook


def test_registry_lookups_and_their_errors():
    assert chapters.get("ch3").stem == "03_wavenet_vs_transformer" and chapters.get("03_wavenet_vs_transformer").key == "ch3"
    assert chapters.get("ch3").number == 3 and chapters.get("report").number is None
    try:
        chapters.get("ch9")
    except KeyError as error:
        assert "registered: ch1" in str(error)
    else:
        raise AssertionError("an unknown chapter must be a KeyError")


def test_no_source_file_over_600_lines():
    """Each module small enough to read in one sitting (CONTRIBUTING.md)."""
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}, f"split these by what they hold: {long}"
