"""Draw one paper figure from tidy tables.

    python -m toponets.cli.figure fig2a --table METRICS.csv --out fig.png fig.pdf
"""

from __future__ import annotations

import argparse

import pandas as pd

from ..figures import fig2a

FIGURES = {"fig2a": fig2a.plot}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=sorted(FIGURES))
    parser.add_argument("--table", required=True, help="tidy metrics table (CSV)")
    parser.add_argument("--out", nargs="+", required=True, help="output files; the suffix sets the format")
    args = parser.parse_args(argv)
    FIGURES[args.figure](pd.read_csv(args.table), args.out)


if __name__ == "__main__":
    main()
