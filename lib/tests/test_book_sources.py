"""The book's build reads only the book: every virtual environment the Makefile creates in the repository is
excluded from it (a site-packages tree holds .rst files whose cross-references break the warnings-as-errors build:
``make test-latest`` before ``make test`` once failed it)."""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _excluded(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(f"{name}/x.rst", p) for p in patterns)


def test_every_virtual_environment_the_makefile_creates_is_excluded_from_the_build():
    patterns = yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"]
    make = (ROOT / "Makefile").read_text()
    venvs = re.findall(r"^\w*VENV\s*:?=\s*(\S+)\s*$", make, flags=re.M)
    assert ".venv" in venvs and ".venv-latest" in venvs, venvs  # the test reads the Makefile it guards
    missing = [v for v in venvs if not _excluded(v, patterns)]
    assert not missing, f"_config.yml's exclude_patterns lack {missing}"
    assert not _excluded("chapters", patterns) and not _excluded("intro.md", patterns)
