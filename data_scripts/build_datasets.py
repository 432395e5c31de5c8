"""Build the offline datasets (all of them by default, or the names given) and time each build.

    python data_scripts/build_datasets.py                   # the five offline datasets
    python data_scripts/build_datasets.py drums-mini        # just one
    python data_scripts/build_datasets.py --force instruments-mini-xl
"""
from __future__ import annotations

import argparse
import shutil
import time

from audioformers import data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"datasets (default: {' '.join(data.OFFLINE_DEFAULT)})")
    parser.add_argument("--force", action="store_true", help="rebuild even if complete")
    args = parser.parse_args(argv)
    names = args.names or list(data.OFFLINE_DEFAULT)
    for name in names:
        if name not in data.DATASET_NAMES:
            parser.error(f"unknown dataset {name!r}; valid: {', '.join(data.DATASET_NAMES)}")
    print(f"data dir: {data.data_dir()}")
    total = time.perf_counter()
    for name in names:
        if args.force and (data.data_dir() / name).exists():
            shutil.rmtree(data.data_dir() / name)
        start = time.perf_counter()
        folder = data.ensure_dataset(name)
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        counts = data.metadata(name)["split_counts"]
        print(f"{name:22s} {time.perf_counter() - start:6.1f} s  {size:7.1f} MB  {counts}")
    print(f"{'total':22s} {time.perf_counter() - total:6.1f} s")


if __name__ == "__main__":
    main()
