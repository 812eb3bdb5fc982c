"""Draw one paper figure from tidy tables.

    python -m toponets.cli.figure fig2a --table METRICS.csv --out fig.png fig.pdf
    python -m toponets.cli.figure fig3 --table METRICS.csv --out fig.png fig.pdf
    python -m toponets.cli.figure fig4a --table PRUNING.csv --out fig.png fig.pdf
    python -m toponets.cli.figure fig7 --table CURVES.csv --out fig.png fig.pdf
"""

from __future__ import annotations

import argparse

import pandas as pd

from ..figures import fig2a, fig3, fig4a, fig7

FIGURES = {"fig2a": fig2a.plot, "fig3": fig3.plot, "fig4a": fig4a.plot, "fig7": fig7.plot}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=sorted(FIGURES))
    parser.add_argument("--table", required=True, help="the tidy table the figure reads (CSV)")
    parser.add_argument("--out", nargs="+", required=True, help="output files; the suffix sets the format")
    args = parser.parse_args(argv)
    FIGURES[args.figure](pd.read_csv(args.table), args.out)


if __name__ == "__main__":
    main()
