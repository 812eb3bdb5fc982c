"""Unpack a fetched archive (stimulus sets) into a directory, atomically.

    python -m toponets.cli.extract --archive floc.tar --out results/data/stimuli/floc
"""

from __future__ import annotations

import argparse
import sys

from ..data.archives import ArchiveError, extract


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", required=True, help="a .tar(.gz/.bz2/.xz) or .zip file")
    parser.add_argument("--out", required=True, help="the directory to create")
    args = parser.parse_args(argv)
    try:
        extract(args.archive, args.out)
    except ArchiveError as err:
        sys.exit(f"extract: {err}")


if __name__ == "__main__":
    main()
