"""Book maintenance: the toc's notebooks, their execution, their set-up cell and the book's release.

``python -m audioformers.booktools notebooks``         print the toc's notebooks, one per line
``python -m audioformers.booktools execute NB ...``    execute in place at the active profile
``python -m audioformers.booktools sync-setup-cells``  re-generate every notebook's set-up (first code) cell
``python -m audioformers.booktools sync-toc``          write ``_toc.yml`` from the chapter registry
``python -m audioformers.booktools check-release``     list what does not point at the tag ``v<version>``
``python -m audioformers.booktools release``           point everything at ``v<version>``, check, create the tag
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from audioformers import chapters
from audioformers.book.notebooks import provenance_of, training_seconds
from audioformers.book.text import STABLE_MARGIN, stable  # noqa: F401 - re-exported: tools and tests use booktools.stable
from audioformers.core.results import repo_root


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


#: The pages after the chapters in the table of contents (not chapters: they are not in the registry).
TOC_PAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("For teachers and readers", ("instructor_guide.md", "notation.md", "glossary.md")),
    ("About this book", ("data.md", "references.md")),
)


def toc_text() -> str:
    """``_toc.yml`` as the chapter registry (:mod:`audioformers.chapters`) and :data:`TOC_PAGES` make it
    (``python -m audioformers.booktools sync-toc`` writes it; a test compares)."""
    lines = ["# Table of contents: generated from the chapter registry (lib/audioformers/chapters.py) by",
             "# `python -m audioformers.booktools sync-toc`; edit the registry, not this file.",
             "format: jb-book", "root: intro", "parts:"]
    parts: dict[str, list[str]] = {}
    for chapter in chapters.CHAPTERS:
        parts.setdefault(chapter.part, []).append(chapter.notebook)
    for caption, files in (*parts.items(), *TOC_PAGES):
        lines += [f"  - caption: {caption}", "    chapters:", *(f"      - file: {f}" for f in files)]
    return "\n".join(lines) + "\n"


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


# --- one reference: the book's version, its tag and its repository ------------------------------------------
#
# pyproject.toml's version is the book's version; its tag is ``v<version>``. _config.yml's repository url is
# where the package and the notebooks live, and its ``repository.branch`` (what the launch buttons open) must be
# that tag; every notebook's set-up cell installs ``audioformers @ git+<url>@<tag>``. ``release_problems`` lists
# every disagreement; ``release`` writes the tag into _config.yml, re-generates the set-up cells, checks, and
# creates the git tag.

_VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"\s*$', re.M)
_INIT_VERSION = re.compile(r'^__version__\s*=\s*"([^"]+)"', re.M)
_BRANCH_LINE = re.compile(r"^(  branch:[ \t]*)(\S+)(.*)$", re.M)


def project_version(root: Path | None = None) -> str:
    """The ``version`` in ``pyproject.toml``'s ``[project]`` table: the book's version."""
    root = root or _root()
    text = (root / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[-1].split("\n[", 1)[0]
    match = _VERSION_LINE.search(project)
    if match is None:
        raise ValueError(f"{root / 'pyproject.toml'}: no version = \"...\" line in [project]")
    return match.group(1)


def release_tag(root: Path | None = None) -> str:
    """The git tag of this version of the book: ``v<version>``."""
    return f"v{project_version(root)}"


def book_config(root: Path | None = None) -> dict:
    import yaml

    root = root or _root()
    return yaml.safe_load((root / "_config.yml").read_text())


def repository_url(root: Path | None = None) -> str:
    """``repository.url`` in ``_config.yml``, without a trailing slash."""
    url = (book_config(root).get("repository") or {}).get("url", "")
    if not url:
        raise ValueError("_config.yml has no repository.url: the launch buttons and the set-up cell need it")
    return str(url).rstrip("/")


def clone_folder(root: Path | None = None) -> str:
    """The folder the set-up cell fetches the book into on Colab (beside the notebook): the repository's name."""
    return repository_url(root).rsplit("/", 1)[-1].removesuffix(".git") or "book"


def install_reference(root: Path | None = None) -> str:
    """What the set-up cell asks pip for on Colab: the package at this version's tag."""
    return f"audioformers @ git+{repository_url(root)}@{release_tag(root)}"


# --- the set-up cell: which Debian packages each chapter's data needs ---------------------------------------

SOUNDFONT_PACKAGES = ("fluid-soundfont-gm", "libfluidsynth3")
ASTERISK_PACKAGES = ("asterisk-moh-opsound-wav", "asterisk-core-sounds-en-wav")
# The Debian packages each offline dataset is built from (see audioformers.data.builders).
DATASET_DEBIAN_PACKAGES: dict[str, tuple[str, ...]] = {
    "examples": SOUNDFONT_PACKAGES + ASTERISK_PACKAGES + ("minetest-data",),
    "wave-mini": ASTERISK_PACKAGES,
    "orchestra-mini": ("wesnoth-1.16-music",),
    "piano-mini": SOUNDFONT_PACKAGES,
    "instruments-mini": SOUNDFONT_PACKAGES,
    "instruments-mini-xl": SOUNDFONT_PACKAGES,
    "drums-mini": ("hydrogen-drumkits",),
    "soundmix-mini": SOUNDFONT_PACKAGES + ASTERISK_PACKAGES + ("minetest-data", "lincity-ng-data",
                                                                "sound-theme-freedesktop", "wesnoth-1.16-music"),
}
# The offline datasets each chapter loads at its profiles (recorded by running every chapter at the smoke profile
# with ``data.ensure_dataset`` wrapped, and read from the code for the book profile: chapter 4's probe tables use
# instruments-mini-xl and drums-mini; the paper profile's public datasets are downloads, not Debian packages).
CHAPTER_DATASETS: dict[str, tuple[str, ...]] = {c.stem: c.datasets for c in chapters.CHAPTERS}  # from the registry
TEMPLATE = Path("templates") / "chapter_template.ipynb"


def debian_packages(chapter: str) -> list[str]:
    """The Debian packages ``chapter``'s data needs, sorted; every package for a chapter not listed (the template)."""
    datasets = CHAPTER_DATASETS.get(chapter, tuple(DATASET_DEBIAN_PACKAGES))
    unknown = [d for d in datasets if d not in DATASET_DEBIAN_PACKAGES]
    if unknown:
        raise ValueError(f"CHAPTER_DATASETS[{chapter!r}] names unknown datasets {unknown}; "
                         f"known: {', '.join(DATASET_DEBIAN_PACKAGES)}")
    return sorted({p for d in datasets for p in DATASET_DEBIAN_PACKAGES[d]})


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def chapter_costs(chapter: str, root: Path | None = None) -> str:
    """What running ``chapter`` costs at each profile, from what ``results/`` recorded, and what to pick on Colab.

    smoke: ``results/bench.json``'s timed smoke run. book: the wall time of the run that made the committed
    outputs (the notebook's provenance cell); when that run reloaded its training runs from the cache in
    ``results/`` (its time is shorter than theirs), a fresh Colab runtime reloads them too (``results/`` is part of
    the book), so the cost is the notebook's own time and a note says what it reloads. paper: measured once a run
    at that profile is committed.
    Lines are at most :data:`COST_WIDTH` characters, so that the book shows them without scrolling.
    """
    import json
    import textwrap

    root = root or _root()
    notebooks = toc_notebooks(root)
    notebook = next((p for p in notebooks if p.stem == chapter), None)
    if notebook is None:
        raise ValueError(f"chapter {chapter!r} is not a notebook in _toc.yml; valid: {', '.join(p.stem for p in notebooks)}")
    rows: list[tuple[str, str, str]] = []
    notes: list[str] = []
    bench_path = root / "results" / "bench.json"
    bench = json.loads(bench_path.read_text()) if bench_path.exists() else {}
    smoke = bench.get("notebooks", {}).get(chapter, {}).get("smoke_wall_time_s")
    if isinstance(smoke, (int, float)):
        rows.append(("smoke", _minutes(float(smoke)), str(bench.get("device", "?"))))
    cold_text, cold_minutes = None, 0.0
    info = provenance_of(root / notebook)
    if info.get("profile") and "wall_time_s" in info:
        own = float(info["wall_time_s"])
        runs = training_seconds(root / "results", int(chapter[:2]), info["profile"]) if chapter[:2].isdigit() else None
        cold = own  # the committed run started from an empty model cache; results/ travels with the book
        if runs and own < runs:  # the notebook reloads the recorded runs and studies from results/
            notes.append(f"{info['profile']}: the notebook reloads {_minutes(runs)} of recorded runs and studies "
                         f"from results/ rather than repeating them (python -m audioformers.reproduce reruns them).")
        elif runs and runs >= 1:
            notes.append(f"{info['profile']}: {_minutes(runs)} of it training runs, recorded in results/.")
        rows.append((info["profile"], _minutes(cold), info.get("device", "?")))
        if info["profile"] == "book":
            cold_text = f"{_minutes(cold)} measured on {info.get('device', '?')}"
            cold_minutes = cold / 60
    for profile, note in (("book", None), ("paper", "paper: needs a GPU and the public datasets "
                                                     "(data_scripts/download_datasets.py).")):
        if profile not in {r[0] for r in rows}:
            rows.append((profile, "not measured", ""))
            if note:
                notes.append(note)
    order = {"smoke": 0, "book": 1, "paper": 2}
    rows.sort(key=lambda r: order.get(r[0], 3))
    header = ("profile", "wall time", "measured on")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = ["Time before you start (measured; generated from results/):"]
    lines += ["  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)).rstrip() for r in [header, *rows]]
    if cold_text is None:
        advice = "On Colab: not measured yet. The book profile is sized for 2 CPU threads; the paper profile needs a GPU."
    elif cold_minutes <= 60:
        advice = (f"On Colab: a CPU runtime (2 threads) is enough for the book profile ({cold_text}); "
                  "choose a GPU runtime only for the paper profile.")
    else:
        advice = f"On Colab: choose a GPU runtime (the book profile took {cold_text}); the paper profile needs one too."
    colab_path = root / "results" / "colab.json"
    colab = (json.loads(colab_path.read_text()) if colab_path.exists() else {}).get(chapter, {}).get("book")
    if colab:
        advice += (f" Measured as Colab runs it (a fresh environment whose set-up cell installs the package and reads "
                   f"the stored results; data_scripts/check_fresh_env.py): {_minutes(float(colab['notebook_s']))} at "
                   f"the book profile on {colab['device']} with the offline data already built, {colab['measured_at']}.")
    for paragraph in notes + [advice]:
        lines += textwrap.wrap(paragraph, COST_WIDTH, subsequent_indent="  ")
    return "\n".join(lines)


COST_WIDTH = 76


_SETUP_TEMPLATE = '''# Set-up (generated: `python -m audioformers.booktools sync-setup-cells`; edit booktools.setup_cell, not here).
# On Colab it installs the Debian packages this chapter's data needs, fetches the book at its tag (the package and
# results/, the stored runs and studies the chapter reads instead of repeating them) and installs the package,
# keeping Colab's own torch and torchaudio; elsewhere it only checks that the package is installed.
import importlib, importlib.util, os, subprocess, sys, time
from pathlib import Path
INSTALL_SPEC = os.environ.get("AUDIOFORMERS_INSTALL_SPEC")  # a local checkout of the book: how the book tests this cell
REPOSITORY, TAG = {repository!r}, {tag!r}
BOOK = Path(INSTALL_SPEC) if INSTALL_SPEC else Path.cwd() / {folder!r}
DEBIAN = {debian!r}


def run_step(what, command, advice):
    """Run ``command`` showing its output as it comes; on failure say what failed and what to do."""
    print(f"[set-up] {{what}} ...", flush=True)
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        print("    " + line.rstrip(), flush=True)
    if process.wait() != 0:
        raise RuntimeError(f"[set-up] failed: {{what}} (`{{' '.join(command)}}` exited with {{process.returncode}}; "
                           f"its output is above). What to do: {{advice}}")
    print(f"[set-up] {{what}}: done in {{time.time() - start:.0f}} s", flush=True)


if ("google.colab" in sys.modules or INSTALL_SPEC) and importlib.util.find_spec("audioformers") is None:
    retry = ("run this cell again (a mirror that is briefly unreachable is the usual cause); if it fails twice, "
             "Runtime > Disconnect and delete runtime, then run the notebook from the top")
    if "google.colab" in sys.modules and DEBIAN:
        run_step("apt-get update", ["apt-get", "-q", "update"], retry)
        run_step("installing the Debian packages this chapter's data needs: " + " ".join(DEBIAN),
                 ["apt-get", "-q", "install", "-y", "--no-install-recommends", *DEBIAN], retry)
    if not (BOOK / "pyproject.toml").exists():
        run_step(f"fetching the book at {{TAG}} into {{BOOK}}",
                 ["git", "clone", "--quiet", "--depth", "1", "--branch", TAG, REPOSITORY, str(BOOK)], retry)
    run_step(f"installing the book's package from {{BOOK}}",
             [sys.executable, "-m", "pip", "install", "--progress-bar", "off", str(BOOK)],
             "check the network, then run this cell again; if pip names a version conflict, "
             "Runtime > Disconnect and delete runtime, then run the notebook from the top")
    importlib.invalidate_caches()
if importlib.util.find_spec("audioformers") is None:
    raise ModuleNotFoundError("The book's package is not installed: run `make install` in the repository "
                              "(or `pip install -e .`) and restart the kernel.")
if (BOOK / "results").is_dir() and not os.environ.get("BOOK_RESULTS_DIR"):
    os.environ["BOOK_RESULTS_DIR"] = str(BOOK / "results")  # the book's stored runs and studies, read, not re-run
    print(f"[set-up] stored results: {{BOOK / 'results'}}")
print("""{costs}""")'''


def setup_cell_output(chapter: str | None, root: Path | None = None) -> str:
    """What the set-up cell prints where the package is installed (the book, nbval, ``make reproduce``)."""
    if chapter is None:
        return ("What this chapter costs: not measured yet (run `make reproduce`, then "
                "`python -m audioformers.booktools sync-setup-cells`).\n")
    return chapter_costs(chapter, root) + "\n"


def setup_cell(chapter: str | None, root: Path | None = None) -> str:
    """The first code cell of ``chapter`` (a notebook's stem; ``None`` for the template): the one place it is written."""
    root = root or _root()
    costs = setup_cell_output(chapter, root).rstrip("\n")
    if '"""' in costs or "\\" in costs:
        raise ValueError(f"the cost table of {chapter} cannot be quoted in the set-up cell: {costs!r}")
    return _SETUP_TEMPLATE.format(repository=repository_url(root), tag=release_tag(root), folder=clone_folder(root),
                                  debian=debian_packages(chapter or ""), costs=costs)


def setup_notebooks(root: Path | None = None) -> list[Path]:
    """Every notebook whose first code cell is the set-up cell: the toc's notebooks and the template."""
    root = root or _root()
    found = list(toc_notebooks(root))
    if (root / TEMPLATE).exists():
        found.append(TEMPLATE)
    return found


def _chapter_of(path: Path) -> str | None:
    return None if Path(path).as_posix().endswith(TEMPLATE.as_posix()) else Path(path).stem


def sync_setup_cell(path: Path, root: Path | None = None, write: bool = True) -> bool:
    """Make ``path``'s first code cell the generated set-up cell (source, tag and output); True if it changed.

    A quick load-modify-save that touches that one cell only, so that it can run while others edit other cells.
    """
    import nbformat
    from nbformat.v4 import new_output

    root = root or _root()
    path = root / path
    chapter = _chapter_of(path)
    source = setup_cell(chapter, root)
    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "code"), None)
    if cell is None:
        raise ValueError(f"{path}: no code cell to hold the set-up cell")
    if "find_spec(\"audioformers\")" not in cell.source:
        raise ValueError(f"{path}: the first code cell is not the set-up cell (it must come before any other code)")
    outputs = [new_output("stream", name="stdout", text=setup_cell_output(chapter, root))]
    tags = list(cell.metadata.get("tags", []))
    if "hide-input" not in tags:
        tags.append("hide-input")
    if cell.source == source and cell.get("outputs") == outputs and cell.metadata.get("tags") == tags:
        return False
    if write:
        cell.source = source
        cell.outputs = outputs
        cell.metadata["tags"] = tags
        tmp = path.with_name(f".{path.name}.partial")
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    return True


def setup_cell_problems(root: Path | None = None) -> list[str]:
    """One line per notebook whose set-up cell differs from the generated one."""
    root = root or _root()
    return [f"{path}: the set-up cell differs from the generated one (run `python -m audioformers.booktools "
            "sync-setup-cells`)" for path in setup_notebooks(root) if sync_setup_cell(path, root, write=False)]


def release_problems(root: Path | None = None) -> list[str]:
    """Every place that does not point at this version's tag (empty when the book is ready to tag)."""
    root = root or _root()
    problems = []
    tag, version = release_tag(root), project_version(root)
    branch = str((book_config(root).get("repository") or {}).get("branch", ""))
    if branch != tag:
        problems.append(f"_config.yml: repository.branch is {branch!r}; the launch buttons must open the tag {tag!r}")
    init = root / "lib" / "audioformers" / "__init__.py"
    match = _INIT_VERSION.search(init.read_text()) if init.exists() else None
    if match is None or match.group(1) != version:
        problems.append(f"{init.relative_to(root)}: __version__ is {match.group(1) if match else 'missing'!r}, "
                        f"pyproject.toml says {version!r}")
    return problems + setup_cell_problems(root)


def _git(root: Path, *args: str, check: bool = True) -> str:
    import subprocess

    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def set_config_branch(tag: str, root: Path | None = None) -> bool:
    """Write ``tag`` as ``repository.branch`` in ``_config.yml`` (one line changed); True if it changed."""
    root = root or _root()
    path = root / "_config.yml"
    text = path.read_text()
    repo_block = re.search(r"^repository:\n((?:[ \t]+.*\n?)+)", text, re.M)
    if repo_block is None or not _BRANCH_LINE.search(repo_block.group(1)):
        raise ValueError(f"{path}: no `  branch:` line under `repository:` to set to {tag}")
    start = repo_block.start(1)
    block = _BRANCH_LINE.sub(lambda m: m.group(1) + tag + m.group(3), repo_block.group(1), count=1)
    new = text[:start] + block + text[repo_block.end(1):]
    if new != text:
        path.write_text(new)
    return new != text


def release(root: Path | None = None, tag_it: bool = True) -> str:
    """Point everything at ``v<version>``, check it, and create the annotated git tag; return the tag.

    Refuses when the files that name the tag have uncommitted changes (the tag would not hold them), when the
    tag exists at another commit, or when anything disagrees; after tagging, re-checks the tagged tree itself.
    """
    root = root or _root()
    tag = release_tag(root)
    set_config_branch(tag, root)
    for path in setup_notebooks(root):
        sync_setup_cell(path, root)
    problems = release_problems(root)
    if problems:
        raise RuntimeError("not ready to release:\n  " + "\n  ".join(problems))
    if not tag_it:
        return tag
    named = ["_config.yml", "pyproject.toml", "lib/audioformers/__init__.py",
             *(p.as_posix() for p in setup_notebooks(root))]
    dirty = _git(root, "status", "--porcelain", "--", *named)
    if dirty:
        raise RuntimeError(f"commit these first (the tag {tag} must hold them):\n{dirty}")
    head = _git(root, "rev-parse", "HEAD")
    existing = _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", check=False)
    if existing and existing != head:
        raise RuntimeError(f"the tag {tag} already exists at {existing[:12]}, not at HEAD {head[:12]}: "
                           "raise the version in pyproject.toml (and __version__) for a new release")
    if not existing:
        _git(root, "tag", "-a", tag, "-m", f"Transformers for Audio {tag}")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:  # check what the tag holds, not the work tree
        archive = Path(tmp) / "tree.tar"
        _git(root, "archive", "--format=tar", "-o", str(archive), tag, "--", *named, "_toc.yml", "results")
        import tarfile

        with tarfile.open(archive) as tar:
            tar.extractall(tmp)
        archive.unlink()
        tagged = release_problems(Path(tmp))
    if tagged:
        raise RuntimeError(f"the tag {tag} was created but its tree disagrees:\n  " + "\n  ".join(tagged))
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audioformers.booktools", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("notebooks", help="list the notebooks named in _toc.yml")
    run = sub.add_parser("execute", help="execute notebooks in place at the active profile")
    run.add_argument("notebooks", nargs="+", type=Path)
    sub.add_parser("sync-setup-cells", help="re-generate the set-up cell of every notebook and the template")
    sub.add_parser("sync-toc", help="write _toc.yml from the chapter registry (audioformers.chapters)")
    sub.add_parser("check-release", help="list what does not point at the tag v<version> (exit 1 if anything)")
    rel = sub.add_parser("release", help="point everything at v<version>, check it and create the git tag")
    rel.add_argument("--no-tag", action="store_true", help="update and check only; create no tag")
    costs = sub.add_parser("costs", help="print what a chapter costs to run (from results/)")
    costs.add_argument("chapter", help="a notebook's stem, e.g. 03_wavenet_vs_transformer")
    args = parser.parse_args(argv)
    if args.command == "notebooks":
        for path in toc_notebooks():
            print(path)
        return 0
    if args.command == "sync-setup-cells":
        for path in setup_notebooks():
            print(f"{path}: {'updated' if sync_setup_cell(path) else 'unchanged'}")
        return 0
    if args.command == "sync-toc":
        path = _root() / "_toc.yml"
        changed = path.read_text() != toc_text()
        path.write_text(toc_text())
        print(f"{path.name}: {'updated' if changed else 'unchanged'}")
        return 0
    if args.command == "check-release":
        problems = release_problems()
        for line in problems or [f"everything points at {release_tag()} ({install_reference()})"]:
            print(line)
        return 1 if problems else 0
    if args.command == "release":
        try:
            tag = release(tag_it=not args.no_tag)
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"{tag}: launch buttons, set-up cells and version agree" +
              ("" if args.no_tag else f"; tagged. Publish with: git push origin {tag}"))
        return 0
    if args.command == "costs":
        try:
            print(chapter_costs(args.chapter))
        except ValueError as error:
            print(f"costs: {error}", file=sys.stderr)
            return 2
        return 0
    from audioformers.core.profiles import get_profile

    for path in args.notebooks:
        print(f"executing {path} at profile {get_profile()} ...", flush=True)
        seconds = execute_notebook(path)
        print(f"  done in {seconds:.0f} s", flush=True)
        if path.resolve() in {(_root() / p).resolve() for p in setup_notebooks()}:
            sync_setup_cell(path.resolve())  # its cost table reads the provenance this run just wrote
    return 0


if __name__ == "__main__":
    sys.exit(main())
