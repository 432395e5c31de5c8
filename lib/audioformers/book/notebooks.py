"""What the book's tools read from a notebook and from results/: a cell's source, the provenance its last cell
printed, and the time a chapter's recorded runs took.

Used by :mod:`audioformers.booktools` (the set-up cells' cost tables), :mod:`audioformers.book.guide` (the
instructor guide's timings) and :mod:`audioformers.book.grading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import nbformat

from audioformers.core.results import read_results_file


def cell_source(cell: dict) -> str:
    """A notebook cell's source as one string (nbformat stores a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source



def provenance_of(path: Path | str) -> dict[str, str]:
    """The ``key: value`` lines printed by the notebook's last cell (``notebook.provenance()``), as strings."""
    notebook = nbformat.read(Path(path), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or "provenance" not in cell_source(code[-1]):
        return {}
    text = "".join(out.get("text", "") for out in code[-1].get("outputs", []) if out.get("output_type") == "stream")
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def training_seconds(results_dir: Path | str, chapter: int, profile: str = "book") -> float | None:
    """Sum of ``wall_time_s`` over ``results/ch<chapter>/*.<profile>.json``: the time the chapter's recorded runs
    and command-line studies took (the notebook reloads them from ``results/``), or ``None`` if none recorded one.
    A run that writes several files records the same wall time in each: equal values are counted once."""
    times = set()
    for path in sorted(Path(results_dir, f"ch{chapter}").glob(f"*.{profile}.json")):
        value = read_results_file(path, fields=()).get("wall_time_s")
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
