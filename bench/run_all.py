#!/usr/bin/env python
"""Every benchmark in one command: prints one table and writes ``results/bench.json``.

    python bench/run_all.py                      # all bench/bench_*.py, data build time, notebook wall times
    python bench/run_all.py --skip-data --only ch3
    python bench/run_all.py --time-notebooks     # also execute each notebook at the smoke profile and time it
    python bench/run_all.py --readme             # and refresh README.md's figures block from this run
    python bench/run_all.py --readme-from results/bench.json   # refresh that block from a stored run only

What it collects (all measured on this machine, in this run, except where marked "committed"):

* each ``bench/bench_*.py`` (written by the chapters: training MFU per model, cached-generation speedups,
  real-time factor...), run as a subprocess; its figures are read from ``results/bench/<name>.<profile>.json``;
* the offline data build time: every offline dataset built from scratch into a temporary ``BOOK_DATA_DIR``;
* notebook wall times: the ``book`` time from each committed notebook's provenance cell ("committed"),
  and, with ``--time-notebooks``, the ``smoke`` time of a fresh execution.

Notebook: ``chapters/R_reproduction_report.ipynb`` (section "Performance").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from audioformers.core.device import describe, get_device
from audioformers.core.profiles import get_profile
from audioformers.core.results import git_commit, package_versions, repo_root, results_dir

ROOT = repo_root() or Path(__file__).resolve().parent.parent


def bench_scripts(only: list[str] | None = None) -> list[Path]:
    """``bench/bench_*.py`` present now (optionally only the names in ``only``, e.g. ``ch3``)."""
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in only]
    return scripts


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.4g}"


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Nested metrics as ``a.b.c`` keys (numbers and short strings only), for the printed table."""
    if isinstance(value, dict) and {"median", "min", "max"} <= set(value):  # a figure over interleaved rounds
        out[prefix] = f"{_num(value['median'])} [{_num(value['min'])}, {_num(value['max'])}]"
    elif isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, sub in enumerate(value):
            label = sub.get("model") or sub.get("name") or str(i)
            _flatten(f"{prefix}.{label}", {k: v for k, v in sub.items() if k not in ("model", "name")}, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = value
    elif isinstance(value, str) and len(value) < 40:
        out[prefix] = value
    elif isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value) and len(value) <= 3:
        out[prefix] = " ".join(f"{v:g}" for v in value)  # e.g. a load average


def run_bench(script: Path, profile: str, timeout: int) -> dict[str, Any]:
    """Run one bench script; return its status, wall time and the metrics it wrote."""
    name = script.stem.removeprefix("bench_")
    env = {**os.environ, "BOOK_PROFILE": profile}
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    except subprocess.TimeoutExpired:
        status = f"timed out after {timeout} s"
    wall = time.perf_counter() - start
    path = results_dir() / "bench" / f"{name}.{profile}.json"
    metrics: dict[str, Any] = {}
    if path.exists() and path.stat().st_mtime >= time.time() - wall - 1:
        metrics = json.loads(path.read_text()).get("metrics", {})
    elif status == "ok":
        status = f"ok, but it wrote no results/bench/{name}.{profile}.json"
    return {"status": status, "wall_time_s": round(wall, 2), "metrics": metrics}


def data_build_time(timeout: int) -> dict[str, Any]:
    """Build every offline dataset from scratch in a temporary folder; seconds per dataset."""
    code = ("import json, time\nfrom audioformers import data\nout = {}\n"
            "for name in data.OFFLINE_DEFAULT:\n    t = time.perf_counter(); data.ensure_dataset(name)\n"
            "    out[name] = round(time.perf_counter() - t, 2)\nprint(json.dumps(out))\n")
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "BOOK_DATA_DIR": folder}
        try:
            proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        return {"status": f"failed: {proc.stderr.strip()[-300:]}"}
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"status": "ok", "seconds": seconds, "total_s": round(sum(seconds.values()), 2)}


def committed_notebook_time(notebook: Path) -> dict[str, Any]:
    """Profile and wall time printed by the notebook's last (provenance) cell, as committed."""
    cells = json.loads(notebook.read_text()).get("cells", [])
    code = [c for c in cells if c.get("cell_type") == "code"]
    text = "".join("".join(o.get("text", "")) for o in (code[-1].get("outputs", []) if code else []))
    wall = re.search(r"wall_time_s:\s*([0-9.]+)", text)
    profile = re.search(r"profile:\s*(\w+)", text)
    return {"profile": profile.group(1) if profile else None, "wall_time_s": float(wall.group(1)) if wall else None}


def timed_notebook_run(notebook: Path, profile: str, timeout: int) -> float | None:
    """Execute a copy of ``notebook`` at ``profile`` (the committed file is untouched); seconds, or None."""
    import shutil

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / notebook.name
        shutil.copy(notebook, copy)
        code = ("import sys\nfrom pathlib import Path\nfrom audioformers.booktools import execute_notebook\n"
                f"print(execute_notebook(Path(sys.argv[1]), timeout={timeout}))\n")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, str(copy)], cwd=notebook.parent,
                              env={**os.environ, "BOOK_PROFILE": profile}, capture_output=True, text=True,
                              timeout=timeout + 60)
        return round(time.perf_counter() - start, 1) if proc.returncode == 0 else None


def table_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The printed table (group, figure, value) of a run's report (as written to ``results/bench.json``)."""
    rows: list[tuple[str, str, str]] = []
    for name, result in report["benchmarks"].items():
        rows.append((name, "status", f"{result['status']} ({result['wall_time_s']} s)"))
        flat: dict[str, Any] = {}
        _flatten("", result["metrics"], flat)
        rows += [(name, key, f"{value:.4g}" if isinstance(value, float) else str(value)) for key, value in flat.items()]
    if report.get("data_build"):
        for key, value in (report["data_build"].get("seconds") or {}).items():
            rows.append(("data build", f"{key} (s)", str(value)))
        rows.append(("data build", "total (s)", str(report["data_build"].get("total_s", report["data_build"]["status"]))))
    for stem, entry in report["notebooks"].items():
        committed = entry["committed"]
        rows.append((stem, f"{committed['profile'] or '?'} wall (s, committed)", str(committed["wall_time_s"])))
        if "smoke_wall_time_s" in entry:
            when = entry.get("smoke_measured_at")
            label = "this run" if when in (None, report.get("written_at")) else f"measured {when}"
            rows.append((stem, f"smoke wall (s, {label})", str(entry["smoke_wall_time_s"])))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="bench names to run (e.g. ch3 ch5)")
    parser.add_argument("--skip-data", action="store_true", help="do not time the offline data build")
    parser.add_argument("--time-notebooks", action="store_true", help="execute every notebook at smoke and time it")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per benchmark")
    parser.add_argument("--output", default=None, help="where to write the JSON (default results/bench.json)")
    parser.add_argument("--readme", action="store_true", help="also refresh the figures block in README.md")
    parser.add_argument("--readme-from", default=None, metavar="JSON",
                        help="run nothing: refresh README.md's figures block from a stored run (e.g. results/bench.json)")
    args = parser.parse_args(argv)
    if args.readme_from:
        report = json.loads(Path(args.readme_from).read_text())
        update_readme(ROOT / "README.md", table_rows(report), report)
        print(f"README.md: figures block refreshed from {args.readme_from}")
        return 0
    profile = get_profile()
    from audioformers.core.benchmarking import load_average

    report: dict[str, Any] = {"profile": profile, "device": describe(get_device()), "git_commit": git_commit(),
                              "load_average_before": load_average(),
                              "command": " ".join(["python bench/run_all.py", *(sys.argv[1:] if argv is None else argv)]),
                              "versions": package_versions(),
                              "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "benchmarks": {}, "data_build": None, "notebooks": {}}
    for script in bench_scripts(args.only):
        name = script.stem.removeprefix("bench_")
        print(f"running {script.name} ...", flush=True)
        report["benchmarks"][name] = run_bench(script, profile, args.timeout)
    if not args.skip_data:
        print("timing the offline data build ...", flush=True)
        report["data_build"] = data_build_time(args.timeout)
    output = Path(args.output) if args.output else results_dir() / "bench.json"
    earlier = json.loads(output.read_text()).get("notebooks", {}) if output.exists() else {}
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        entry: dict[str, Any] = {"committed": committed_notebook_time(notebook)}
        if args.time_notebooks:
            print(f"executing {notebook.name} at smoke ...", flush=True)
            entry["smoke_wall_time_s"] = timed_notebook_run(notebook, "smoke", args.timeout)
            entry["smoke_measured_at"] = report["written_at"]
        elif "smoke_wall_time_s" in earlier.get(notebook.stem, {}):  # kept from the run that timed it (the set-up cells cite it)
            entry["smoke_wall_time_s"] = earlier[notebook.stem]["smoke_wall_time_s"]
            entry["smoke_measured_at"] = earlier[notebook.stem].get("smoke_measured_at", "an earlier run")
        report["notebooks"][notebook.stem] = entry
    report["load_average_after"] = load_average()
    rows = table_rows(report)
    width = max([len(r[0]) for r in rows] + [10]), max([len(r[1]) for r in rows] + [10])
    print(f"\nbenchmarks at profile {profile} on {report['device']} (commit {report['git_commit']}); load average "
          f"(1, 5, 15 min) before {report['load_average_before']}, after {report['load_average_after']}")
    for group, key, value in rows:
        print(f"{group:<{width[0]}}  {key:<{width[1]}}  {value}")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".partial")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, output)
    print(f"\nwritten: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output.name}")
    if args.readme:
        update_readme(ROOT / "README.md", rows, report)
        print("README.md: figures block refreshed")
    return 0


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"
_README_KEYS = re.compile(r"status|mfu|speedup|over_naive|over_reference|real_time|per_s$|per_second|matmul|total|wall|load_average")


def readme_block(rows: list[tuple[str, str, str]], report: dict[str, Any]) -> str:
    """README.md's figures block (markers included) for a run's report: text generated from the stored run only,
    so it reads the same on every machine (``lib/tests/test_generated_text.py``)."""
    lines = [README_START,
             f"Measured by `{report['command']}` on {report['device'].split(' (')[0]} (each benchmark sets its own "
             "torch threads: `machine.threads`), commit "
             f"`{report['git_commit']}`, {report['written_at']}, on a shared machine: load average (1, 5, 15 min) "
             f"{report['load_average_before']} before and {report['load_average_after']} after the run. Figures are "
             "medians over interleaved rounds with [min, max]; ratios are taken within a round; absolute rates "
             "depend on the machine and its load. `fast` = numba sampling (`audioformers.models.fast_sampling`), "
             "`cached`/`naive` = the PyTorch decoders; RTF = seconds per second of 8 kHz audio; "
             "`package_over_reference` = package speed / minimal reference speed (`bench/references.py`).",
             "", "| what | figure | value |", "|---|---|---|"]
    lines += [f"| {g} | {k} | {v} |" for g, k, v in rows if _README_KEYS.search(k)]
    lines.append(README_END)
    return "\n".join(lines)


def readme_block_in(readme: Path) -> str:
    """The figures block as it stands in ``readme`` (markers included)."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme.name} has no {README_START} ... {README_END} block to refresh")
    return README_START + text.split(README_START, 1)[1].split(README_END, 1)[0] + README_END


def update_readme(readme: Path, rows: list[tuple[str, str, str]], report: dict[str, Any]) -> None:
    """Replace the block between the bench markers in README.md with this run's headline figures."""
    text = readme.read_text()
    readme_block_in(readme)  # refuses a README without the block
    head, _, rest = text.partition(README_START)
    _, _, tail = rest.partition(README_END)
    readme.write_text(head + readme_block(rows, report) + tail)


if __name__ == "__main__":
    sys.exit(main())
