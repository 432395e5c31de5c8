"""The closest test of Colab we can run here: a notebook in a fresh virtual environment that holds only
Colab's usual packages, whose first cell must install the book's package itself.

    python data_scripts/check_fresh_env.py chapters/02_raw_audio_mulaw.ipynb            # smoke profile
    python data_scripts/check_fresh_env.py --all --base pip                               # every notebook, PyPI base

Steps:

1. create a virtual environment (``--venv``, default ``_build/colab-venv``);
2. give it Colab's usual packages (``COLAB_PACKAGES``: torch, torchaudio, numpy, scipy, matplotlib, librosa,
   scikit-learn, soundfile, ipykernel, ...) but *not* the book's package nor what Colab lacks (PyWavelets,
   pyfluidsynth). ``--base link`` (default, seconds, no download) links those distributions, with their
   dependencies, from the interpreter running this script; ``--base pip`` installs them from PyPI (torch's
   CUDA wheels: several GB);
3. copy the package sources (``pyproject.toml``, ``README.md``, ``LICENSE``, ``lib/audioformers``) to a
   scratch folder and point ``AUDIOFORMERS_INSTALL_SPEC`` at it: the notebook's set-up cell must
   ``pip install`` it (a regular install, as on Colab, so that it is importable without a restart);
   every notebook's first code cell is :data:`SETUP_CELL` (a notebook whose first cell does not read that
   variable is refused with a message: the check would otherwise prove nothing);
4. execute the notebook in that environment (``BOOK_PROFILE=smoke`` unless ``--profile``), and check that the
   package was installed into the fresh environment and that torch and torchaudio were not reinstalled.

Kept out of the default test run: ``lib/tests/test_colab_setup.py`` runs it only when
``AUDIOFORMERS_FRESH_ENV_TEST=1``.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What a fresh Colab runtime already has (the subset this book touches). PyWavelets and pyfluidsynth are
# deliberately absent: the set-up cell must bring them with the package.
COLAB_PACKAGES = ["torch", "torchaudio", "numpy", "scipy", "matplotlib", "librosa", "scikit-learn", "soundfile",
                  "tqdm", "ipykernel", "ipython", "nbformat", "nbclient", "PyYAML", "requests"]
NOT_ON_COLAB = {"audioformers", "pywavelets", "pyfluidsynth"}

SETUP_CELL = '''# Set-up. On Colab this installs the Debian audio packages and the book's package (pinned to the book's
# tag), keeping Colab's own torch and torchaudio; elsewhere it only checks that the package is installed.
import importlib, importlib.util, os, subprocess, sys
INSTALL_SPEC = os.environ.get("AUDIOFORMERS_INSTALL_SPEC")  # a local checkout: how the book tests this cell
if ("google.colab" in sys.modules or INSTALL_SPEC) and importlib.util.find_spec("audioformers") is None:
    if "google.colab" in sys.modules:
        subprocess.run("apt-get -qq update > /dev/null && apt-get -qq install -y fluid-soundfont-gm libfluidsynth3 "
                       "asterisk-moh-opsound-wav asterisk-core-sounds-en-wav hydrogen-drumkits minetest-data "
                       "lincity-ng-data sound-theme-freedesktop > /dev/null", shell=True, check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", INSTALL_SPEC or "audioformers @ git+"
                    "https://github.com/transformers-for-audio/transformers-for-audio@v0.1"], check=True)
    importlib.invalidate_caches()
if importlib.util.find_spec("audioformers") is None:
    raise ModuleNotFoundError("The book's package is not installed: run `make install` in the repository "
                              "(or `pip install -e .`) and restart the kernel.")'''
PROPOSED_SETUP_CELL = SETUP_CELL  # the first round's name, kept for callers that still use it


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` and everything they require here (markers and extras evaluated)."""
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    extras_done: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [(name, "") for name in names]
    while todo:
        name, extra = todo.pop()
        key = _normalise(name)
        if key in NOT_ON_COLAB or (key, extra) in extras_done:
            continue
        extras_done.add((key, extra))
        try:
            dist = seen.get(key) or metadata.distribution(key)
        except metadata.PackageNotFoundError:
            continue  # not installed here (an optional or platform-specific dependency)
        seen[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo.append((requirement.name, ""))
                todo.extend((requirement.name, e) for e in requirement.extras)
    return list(seen.values())


def link_base(venv: Path, names: list[str]) -> list[str]:
    """Link the distributions (and dependencies) into ``venv/colab-site`` and put it on the venv's path."""
    site = venv / "colab-site"
    site.mkdir(exist_ok=True)
    linked = []
    for dist in dependency_closure(names):
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source, target = base / top, site / top
            if source.exists() and not target.exists() and top not in ("__pycache__", "bin"):
                target.symlink_to(source)
        linked.append(f"{dist.metadata['Name']}=={dist.version}")
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "colab_base.pth").write_text(str(site) + "\n")
    return sorted(linked)


def pip_base(venv: Path, names: list[str]) -> list[str]:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *names], check=True)
    return names


def package_sources(scratch: Path) -> Path:
    """A copy of what ``pip install`` needs, so that the build leaves nothing in the checkout."""
    target = scratch / "audioformers-src"
    target.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "lib" / "audioformers", target / "lib" / "audioformers",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def setup_cell_problem(notebook: dict) -> str | None:
    """``None`` if the first code cell is the book's set-up cell (it reads AUDIOFORMERS_INSTALL_SPEC), else why not."""
    first = next((cell for cell in notebook["cells"] if cell["cell_type"] == "code"), None)
    if first is None:
        return "the notebook has no code cell"
    text = "".join(first["source"]) if isinstance(first["source"], list) else first["source"]
    if "find_spec(\"audioformers\")" not in text:
        return "the first code cell is not the book's set-up cell"
    if "AUDIOFORMERS_INSTALL_SPEC" not in text:
        return "the set-up cell does not read AUDIOFORMERS_INSTALL_SPEC (an old version: replace it by SETUP_CELL)"
    return None


def prepare_notebook(source: Path, scratch: Path) -> Path:
    """Copy the notebook into ``scratch`` as it is; refuse one whose set-up cell cannot install from a checkout."""
    notebook = json.loads(source.read_text())
    problem = setup_cell_problem(notebook)
    if problem is not None:
        raise ValueError(f"{source}: {problem}")
    target = scratch / source.name
    target.write_text(json.dumps(notebook))
    return target


def pip_freeze(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True).stdout
    return {_normalise(row["name"]): row["version"] for row in json.loads(out)}


def run_notebook(notebook: Path, venv: Path, scratch: Path, env: dict[str, str], timeout: int) -> float:
    """Execute ``notebook`` in place with a kernel running the venv's Python; return the wall time (s)."""
    import nbclient
    import nbformat

    kernels = scratch / "jupyter"
    subprocess.run([str(venv / "bin" / "python"), "-m", "ipykernel", "install", "--prefix", str(kernels),
                    "--name", "colab-fresh"], check=True, capture_output=True, env=env)
    env = {**env, "JUPYTER_PATH": str(kernels / "share" / "jupyter")}
    nb = nbformat.read(notebook, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="colab-fresh", timeout=timeout, resources={"metadata": {"path": str(scratch)}})
    start = time.perf_counter()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this environment
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        nbformat.write(nb, notebook)
    return time.perf_counter() - start


def check(notebooks: list[Path], venv: Path, base: str = "link", profile: str = "smoke", timeout: int = 1200,
          keep: bool = False) -> list[dict]:
    """Run each notebook in a fresh environment; return one report per notebook (raises on failure)."""
    reports = []
    for source in notebooks:
        if venv.exists():
            shutil.rmtree(venv)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        start = time.perf_counter()
        base_packages = (link_base if base == "link" else pip_base)(venv, COLAB_PACKAGES)
        python = venv / "bin" / "python"
        before = pip_freeze(python)
        if "audioformers" in before:
            raise RuntimeError("the fresh environment already has audioformers: the test would prove nothing")
        setup_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory(prefix="colab-fresh-") as tmp:
            scratch = Path(tmp)
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
            env.update(BOOK_PROFILE=profile, AUDIOFORMERS_INSTALL_SPEC=str(package_sources(scratch)),
                       PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", PIP_DISABLE_PIP_VERSION_CHECK="1")
            notebook = prepare_notebook(source, scratch)
            wall = run_notebook(notebook, venv, scratch, env, timeout)
            if keep:
                shutil.copy2(notebook, venv / notebook.name)
        after = pip_freeze(python)
        where = subprocess.run([str(python), "-c", "import audioformers, torch; print(audioformers.__file__); print(torch.__file__)"],
                               capture_output=True, text=True, check=True, env={"PATH": os.environ.get("PATH", "")}).stdout.split()
        added = sorted(f"{n}=={v}" for n, v in after.items() if n not in before)
        changed = sorted(f"{n}: {before[n]} -> {v}" for n, v in after.items() if n in before and before[n] != v)
        report = {"notebook": source.name, "base": base, "profile": profile,
                  "environment_s": round(setup_s, 1), "notebook_s": round(wall, 1), "installed_by_first_cell": added,
                  "changed_by_first_cell": changed, "audioformers_from": where[0], "torch_from": where[1],
                  "base_distributions": len(base_packages)}
        if not str(Path(where[0]).resolve()).startswith(str(venv.resolve())):
            raise RuntimeError(f"audioformers was imported from {where[0]}, not from the fresh environment")
        if any(name.startswith(("torch:", "torchaudio:")) for name in changed) or \
                any(name.startswith(("torch", "nvidia", "cuda")) for name in added):
            raise RuntimeError(f"the first cell (re)installed torch or its CUDA libraries: {changed + added}")
        reports.append(report)
        print(json.dumps(report, indent=1))
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every chapters/*.ipynb")
    parser.add_argument("--venv", type=Path, default=ROOT / "_build" / "colab-venv")
    parser.add_argument("--base", choices=("link", "pip"), default="link")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    parser.add_argument("--keep", action="store_true", help="keep the executed notebook next to the venv")
    args = parser.parse_args(argv)
    notebooks = sorted((ROOT / "chapters").glob("*.ipynb")) if args.all else args.notebooks
    if not notebooks:
        parser.error("give notebooks or --all")
    check(notebooks, args.venv, args.base, args.profile, args.timeout, args.keep)
    print(f"fresh-environment run: {len(notebooks)} notebook(s) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
