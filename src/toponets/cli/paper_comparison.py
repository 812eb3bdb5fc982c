"""The paper's numbers next to this run's, from the workflow's tidy tables.

    python -m toponets.cli.paper_comparison --tables results/tables/*.csv \
        --families '{"resnet18": "resnet18", "nanogpt_16k": "nanogpt", ...}' \
        --out results/tables/paper_vs_run.csv --out-dir results/report/paper_vs_run

--families maps each experiment name (the tables' `model` column) to its
model family. Writes one CSV per paper item into --out-dir (figure_01.csv
... figure_12.csv, table_1.csv, table_2.csv, unit_to_voxel.csv), then the
whole table to --out; columns item, id (the entry's in paper_numbers.yaml),
quantity, paper, this_run, note. The items are toponets.comparison's modules.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..comparison.compare import ITEMS, compare
from ..tables import write_csv
from . import json_mapping


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", required=True,
                        help="the tidy tables to read (CSV files), or one directory of them")
    parser.add_argument("--families", required=True, type=json_mapping("experiment -> family"), help='JSON {"experiment": "family"}')
    parser.add_argument("--out", required=True, help="the whole comparison table (CSV)")
    parser.add_argument("--out-dir", required=True, help="directory for one CSV per paper item")
    args = parser.parse_args(argv)
    tables = args.tables[0] if len(args.tables) == 1 and Path(args.tables[0]).is_dir() else args.tables
    table = compare(tables, args.families)
    for item in ITEMS:
        write_csv(table[table["item"] == item.name], f"{args.out_dir}/{item.slug}.csv")
    write_csv(table, args.out)


if __name__ == "__main__":
    main()
