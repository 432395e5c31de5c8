"""Book maintenance: list the notebooks in ``_toc.yml`` and re-execute them (``make reproduce``).

``python -m audioformers.booktools notebooks``       print the toc's notebooks, one per line
``python -m audioformers.booktools execute NB ...``  execute in place at the active profile
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from .results import repo_root


def _root() -> Path:
    root = repo_root()
    if root is None:
        raise RuntimeError("booktools needs a checkout of the book (no _toc.yml found above the package)")
    return root


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "file" in node:
            yield str(node["file"])
        for key in ("root",):
            if key in node:
                yield str(node[key])
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def toc_entries(root: Path | None = None) -> list[str]:
    """Every ``file:`` (and the root) named in ``_toc.yml``, without suffix, in order."""
    import yaml

    root = root or _root()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    seen: list[str] = []
    for entry in _walk(toc):
        if entry not in seen:
            seen.append(entry)
    return seen


def resolve_entry(entry: str, root: Path | None = None) -> Path | None:
    """The file a toc entry names (``.ipynb`` or ``.md``), or ``None`` if it does not exist."""
    root = root or _root()
    candidates = [root / entry] if Path(entry).suffix else [root / f"{entry}.ipynb", root / f"{entry}.md"]
    return next((p for p in candidates if p.exists()), None)


def toc_notebooks(root: Path | None = None) -> list[Path]:
    """The notebooks listed in the toc, relative to the repository root."""
    root = root or _root()
    found = []
    for entry in toc_entries(root):
        path = resolve_entry(entry, root)
        if path is not None and path.suffix == ".ipynb":
            found.append(path.relative_to(root))
    return found


_PROGRESS = re.compile(r"\d+%\|.*\|\s*\d+/\d+|it/s\]|s/it\]")


def strip_progress_bars(nb: Any) -> int:
    """Drop stderr stream outputs that are progress-bar redraws (tqdm); return how many were dropped.

    A training cell's bar redraws hundreds of times: kept, it would make the saved notebook megabytes large.
    """
    dropped = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if output.get("output_type") == "stream" and output.get("name") == "stderr" and (
                    _PROGRESS.search(text) or not text.strip()):
                dropped += 1
                continue
            kept.append(output)
        cell["outputs"] = kept
    return dropped


def execute_notebook(path: Path, timeout: int = 3600) -> float:
    """Execute a notebook in place with its own folder as working directory; return seconds.

    The notebook is written only after it ran without error, to a temporary file renamed into place.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    strip_progress_bars(nb)
    tmp = path.with_name(f".{path.name}.partial")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audioformers.booktools", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("notebooks", help="list the notebooks named in _toc.yml")
    run = sub.add_parser("execute", help="execute notebooks in place at the active profile")
    run.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "notebooks":
        for path in toc_notebooks():
            print(path)
        return 0
    from .profiles import get_profile

    for path in args.notebooks:
        print(f"executing {path} at profile {get_profile()} ...", flush=True)
        seconds = execute_notebook(path)
        print(f"  done in {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
