"""Text generated into committed files reads the same on every machine.

The instructor guide's generated sections (exercise plan, answer keys, the mistakes each check knows), every
notebook's set-up cell with its cost table, and README.md's figures block are written by code and compared
by tests with what is committed. A fresh machine once failed ``make test`` because an answer key printed a
float32 rounding error one digit differently. Here each is generated again in fresh processes with one and
two threads and with the basic CPU kernels (``ATEN_CPU_CAPABILITY=default`` for torch, NumPy's dispatched
SIMD targets disabled), and must equal the committed text in every variant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audioformers import booktools

ROOT = Path(__file__).resolve().parents[2]

_GENERATE = r"""
import importlib.util, json, sys
from pathlib import Path
root = Path(sys.argv[1])
from audioformers import booktools, coursework
chapters = sorted((root / "chapters").glob("0*.ipynb"))
sections = coursework.generated_sections(chapters)
out = {"guide:" + name: sections[name] for name in coursework.CHECKED_SECTIONS}
for path in booktools.setup_notebooks(root):
    chapter = booktools._chapter_of(path)
    out["setup:" + path.as_posix()] = booktools.setup_cell(chapter, root) + "\n---\n" + booktools.setup_cell_output(chapter, root)
spec = importlib.util.spec_from_file_location("run_all", root / "bench" / "run_all.py")
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)
report = json.loads((root / "results" / "bench.json").read_text())
out["readme"] = run_all.readme_block(run_all.table_rows(report), report)
import torch, numpy
out["_threads"] = str(torch.get_num_threads())
print(json.dumps(out))
"""


def _basic_numpy_kernels() -> str:
    """NumPy's dispatched SIMD targets that this CPU supports (disabling them leaves the baseline kernels)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return " ".join(name for name in __cpu_dispatch__ if __cpu_features__.get(name))


VARIANTS = {
    "1 thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "2 threads": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
    "basic kernels": {"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "default",
                      "NPY_DISABLE_CPU_FEATURES": _basic_numpy_kernels()},
    "basic kernels, 1 thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default",
                                "NPY_DISABLE_CPU_FEATURES": _basic_numpy_kernels()},
}
#: Settings the parent process may carry that would change a variant's threads or kernels: cleared first.
_INHERITED = ("OMP_", "MKL_", "OPENBLAS_", "ATEN_", "NPY_DISABLE", "KMP_", "GOMP_", "TORCH_NUM", "BOOK_RESULTS_DIR")


def _generate(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    env.update(extra)
    done = subprocess.run([sys.executable, "-c", _GENERATE, str(ROOT)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _committed() -> dict[str, str]:
    import importlib.util

    import nbformat

    from audioformers import coursework

    found = coursework.guide_sections(ROOT / "instructor_guide.md")
    out = {"guide:" + name: found.get(name) for name in coursework.CHECKED_SECTIONS}
    for path in booktools.setup_notebooks(ROOT):
        nb = nbformat.read(ROOT / path, as_version=4)
        cell = next(c for c in nb.cells if c.cell_type == "code")
        printed = "".join(o.get("text", "") for o in cell.get("outputs", []))
        out["setup:" + path.as_posix()] = cell.source + "\n---\n" + printed
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)  # type: ignore[union-attr]
    out["readme"] = run_all.readme_block_in(ROOT / "README.md")
    return out


@pytest.fixture(scope="module")
def committed() -> dict[str, str]:
    return _committed()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_generated_text_is_the_same_on_every_machine(variant, committed):
    generated = _generate(VARIANTS[variant])
    threads = generated.pop("_threads")
    assert threads == VARIANTS[variant]["OMP_NUM_THREADS"]
    assert set(generated) == set(committed)
    stale = [name for name in committed if generated[name] != committed[name]]
    assert not stale, (f"with {variant}, these generated texts differ from the committed ones: {stale} "
                       "(regenerate them: `python -m audioformers.coursework answers --write`, "
                       "`python -m audioformers.booktools sync-setup-cells`, `python bench/run_all.py --readme-from "
                       "results/bench.json`; if only one variant differs, print fewer digits or a bound)")


def test_stable_refuses_a_digit_another_machine_could_flip():
    assert booktools.stable(0.1234, ".3f") == "0.123"
    assert booktools.stable(1.25e-7, ".0e") == "1e-07"
    with pytest.raises(ValueError, match="another machine could print"):
        booktools.stable(0.12350000001, ".3f")  # on the boundary between 0.123 and 0.124
    with pytest.raises(ValueError, match="another machine could print"):
        booktools.stable(1.2499999e-7, ".1e")  # the answer key that printed 1.2e-07 here and 1.3e-07 there
    with pytest.raises(ValueError, match="finite"):
        booktools.stable(float("nan"), ".3f")
    with pytest.raises(ValueError, match="spec"):
        booktools.stable(1.0, "")
