"""Build the offline datasets (all of them by default, or the names given) and time each build.

    python data_scripts/build_datasets.py                   # the offline datasets the chapters read
    python data_scripts/build_datasets.py drums-mini        # just one
    python data_scripts/build_datasets.py --force instruments-mini-xl
    python data_scripts/build_datasets.py --verify-sources  # check the Debian packages, build nothing

A dataset is built whole or not at all: a Debian package that is missing, empty or partial stops
the build with one line naming the package and the command that (re)installs it (exit status 1).
Each line says what was done: ``up to date`` (every file as its build recorded it), ``built``,
``rebuilt (out of date)``, ``rebuilt (damaged file)`` (the file is named on stderr) or ``checked, file
record added`` (a dataset built before builds recorded their files, found consistent).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time

from audioformers import data
from audioformers.data import builders, sources


#: What the build did, by what :func:`audioformers.data.check_dataset` found before it.
STATUS = {"ok": "up to date", "missing": "built", "outdated": "rebuilt (out of date)",
          "damaged": "rebuilt (damaged file)", "unrecorded": "checked, file record added"}


def verify() -> int:
    """Print what the builders would lack from the installed Debian packages; 0 when nothing."""
    problems = builders.verify_inputs()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"All {len(sources.SOURCES)} Debian sources hold what the builders need: "
              + ", ".join(f"{s.package} ({len(s.files())} files)" for s in sources.SOURCES))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"datasets (default: {' '.join(data.OFFLINE_DEFAULT)})")
    parser.add_argument("--force", action="store_true", help="rebuild even if complete")
    parser.add_argument("--verify-sources", action="store_true",
                        help="check that every Debian source holds the files the builders need; build nothing")
    args = parser.parse_args(argv)
    if args.verify_sources:
        return verify()
    names = args.names or list(data.OFFLINE_DEFAULT)
    for name in names:
        if name not in data.REGISTRY:
            parser.error(f"unknown dataset {name!r}; valid: {', '.join(data.DATASET_NAMES)}")
    print(f"data dir: {data.data_dir()}")
    total = time.perf_counter()
    for name in names:
        start = time.perf_counter()
        try:
            if args.force:
                with data.file_lock(data.data_dir() / f".{name}.lock", f"the build of {name}"):
                    if (data.data_dir() / name).exists():
                        shutil.rmtree(data.data_dir() / name)
            before = data.check_dataset(name)  # a damaged file is named (stderr) and rebuilt by ensure_dataset
            folder = data.ensure_dataset(name)
        except (sources.SourceError, RuntimeError) as error:
            print(f"error: {name}: {error}", file=sys.stderr)
            return 1
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        counts = data.metadata(name)["split_counts"]
        print(f"{name:22s} {STATUS[before.state]:26s} {time.perf_counter() - start:6.1f} s  {size:7.1f} MB  "
              f"{counts}", flush=True)
    print(f"{'total':22s} {time.perf_counter() - total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
