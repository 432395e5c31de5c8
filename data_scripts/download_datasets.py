#!/usr/bin/env python
"""Download the full public datasets for the ``paper`` profile (checksummed, resumable, safe to interrupt).

    python data_scripts/download_datasets.py --list
    python data_scripts/download_datasets.py --dataset fsd50k [--dest DIR] [--trust-unverified] [--deadline S]

Everything goes under ``$BOOK_DATA_DIR/public`` (default ``~/.cache/audioformers/public``) unless ``--dest``
is given. The registry (URLs, sizes, checksums and where each checksum comes from) is
``audioformers.data.downloads.REGISTRY``. Re-running after an interruption resumes the partial files.
"""
from __future__ import annotations

import argparse
import sys

from audioformers.data import downloads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="list the registered datasets and exit")
    parser.add_argument("--dataset", action="append", choices=downloads.DATASET_NAMES,
                        help="dataset to download (repeatable)")
    parser.add_argument("--dest", default=None, help="folder to download into (default: $BOOK_DATA_DIR/public)")
    parser.add_argument("--trust-unverified", action="store_true",
                        help="accept files that have no published checksum (their sha256 is recorded)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--deadline", type=float, default=None, metavar="SECONDS",
                        help="most seconds one file may take in all (default: an hour plus its size at 256 KiB/s); "
                             "an unfinished file is kept and resumed by the next run")
    args = parser.parse_args(argv)
    if args.deadline is not None and not 0 < args.deadline < float("inf"):
        parser.error(f"--deadline must be a finite number of seconds > 0, got {args.deadline!r}")
    if args.list or not args.dataset:
        print(f"{'name':<20} {'disk GiB':>8}  {'files':>5}  checksums / description")
        for row in downloads.describe():
            print(f"{row['name']:<20} {row['disk_gib']:>8}  {row['files']:>5}  {row['checksums']}: {row['description']}")
        if not args.list:
            print("\nchoose one with --dataset NAME")
        return 0
    for name in args.dataset:
        try:
            folder = downloads.download_dataset(name, args.dest, trust_unverified=args.trust_unverified,
                                                progress=not args.quiet, deadline_s=args.deadline)
        except (downloads.DownloadError, OSError) as error:  # one line, not a traceback
            print(f"error: {name}: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"\n{name}: interrupted; run the same command again to resume", file=sys.stderr)
            return 130
        print(f"{name}: ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
