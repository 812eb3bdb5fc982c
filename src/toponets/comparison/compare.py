"""The paper's numbers next to this run's: one tidy table (item, id, quantity, paper, this_run, note).

Items are the paper's figures and tables in paper order (ITEMS), one module each. The paper's side is
``paper_numbers.yaml`` (`paper`): per item, entries with stable ids. An item's module declares the ids it can
measure (IDS) and returns measurements (`Measured`) from the workflow's tidy tables, each naming the id it
answers; its row's quantity names the experiment, so two experiments of one family get two rows. Ids must
match on both sides: the YAML's (besides its `measured: false` entries) are exactly the modules' IDS, and an
item may measure only its own ids; else an error. An entry nothing answered gets a "not measured" row whose
note says which table (and which analysis or data) it needs; a measurement of an entry without a paper value
is "not reported in the paper".

Conventions (`format`): values are means over seeds; numbers have 3 significant digits (losses 4, parameter
counts 4); a per-tau series reads "resnet18 tau 0 / 1 / 5: 0.328 / 0.320 / 0.342". Choices the paper leaves
open are in each item's module: Figure 4B/10 read at downsampling factor 5, Figure 5A and Table 1 the TopoNet
nearest tau 10 (TDANN's rows, "(tdann)", are those of a run of family tdann), Figure 9 the runs with tau >= 5.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd

from . import (
    figure_01,
    figure_02,
    figure_03,
    figure_04,
    figure_05,
    figure_06,
    figure_07,
    figure_08,
    figure_09,
    figure_10,
    figure_11,
    figure_12,
    table_1,
    table_2,
    unit_to_voxel,
)
from .paper import PAPER_NUMBERS, Entry, read_paper_numbers
from .run_tables import TABLE_NEEDS, Measured, Tables

COLUMNS = ["item", "id", "quantity", "paper", "this_run", "note"]
NOT_MEASURED = "not measured"
NOT_REPORTED = "not reported in the paper"
NO_RUN = "this preset has no run for it in the tables"


@dataclass(frozen=True)
class Item:
    name: str
    slug: str  # its module's name, and the file name of its own CSV
    ids: tuple[str, ...]  # the ids it can measure
    measure: Callable[[Tables], list[Measured]]

    @classmethod
    def of(cls, module: ModuleType) -> Item:
        return cls(module.NAME, module.__name__.rpartition(".")[2], tuple(module.IDS), module.measure)


ITEMS = [
    Item.of(module)
    for module in (figure_01, figure_02, figure_03, figure_04, figure_05, figure_06, figure_07, figure_08,
                   figure_09, figure_10, figure_11, figure_12, table_1, table_2, unit_to_voxel)
]


def paper_numbers(path: str | Path = PAPER_NUMBERS) -> dict[str, list[Entry]]:
    """The paper's entries per item, checked to cover exactly ITEMS, in order, and per item exactly the ids
    its module declares (the entries marked `measured: false` aside)."""
    numbers = read_paper_numbers(path)
    names = [item.name for item in ITEMS]
    if list(numbers) != names:
        raise ValueError(f"{path} lists items {list(numbers)}; expected {names} in that order")
    for item in ITEMS:
        twice = sorted(i for i, n in Counter(item.ids).items() if n > 1)
        listed = [e.id for e in numbers[item.name] if e.measured]
        undeclared = [i for i in listed if i not in item.ids]
        unlisted = sorted(set(item.ids) - set(listed))
        problems = [
            f"toponets.comparison.{item.slug}.IDS {message}: {ids}"
            for message, ids in (
                ("declares ids twice", twice),
                (f"lacks ids that {path} lists under {item.name} (declare them, or mark them `measured: false`)",
                 undeclared),
                (f"declares ids that {path} does not list as measured under {item.name}", unlisted),
            )
            if ids
        ]
        if problems:
            raise ValueError("; ".join(problems))
    return numbers


def _row(item: str, entry: Entry, quantity: str, this_run: str, note: str) -> dict[str, str]:
    return dict(zip(COLUMNS, (item, entry.id, quantity, entry.paper or NOT_REPORTED, this_run, note)))


def _item_rows(item: Item, entries: list[Entry], measured: list[Measured], missing: list[tuple[str, str]],
               path: str | Path) -> list[dict]:
    """Rows of one item: each paper entry with the measurements answering it (or 'not measured'), then the
    measurements of entries the paper does not report, in the order measured."""
    listed = {e.id: e for e in entries if e.measured}
    by_id: dict[str, list[Measured]] = {}
    for m in measured:
        if m.id not in listed:
            raise ValueError(f"toponets.comparison.{item.slug} measured id {m.id!r} ({m.quantity}), which {path} "
                             f"does not list as measured under {item.name}")
        by_id.setdefault(m.id, []).append(m)
    rows = []
    for entry in entries:
        if entry.paper is None:
            continue
        found = by_id.pop(entry.id, [])
        rows += [_row(item.name, entry, m.quantity, m.this_run, m.note) for m in found]
        if not found:
            needs = "; ".join(TABLE_NEEDS[name] for name, serves in dict.fromkeys(missing) if serves in entry.id)
            rows.append(_row(item.name, entry, entry.quantity, NOT_MEASURED, entry.note or needs or NO_RUN))
    rows += [_row(item.name, listed[i], m.quantity, m.this_run, m.note) for i, found in by_id.items() for m in found]
    return rows


def compare(tables: str | Path | list[str | Path], families: dict[str, str],
            path: str | Path = PAPER_NUMBERS) -> pd.DataFrame:
    """The paper-vs-run table of the tidy tables (a directory's CSVs, or a list of them, so that a workflow
    passes exactly this run's tables); `families` maps experiment name to family."""
    tables = Tables(tables, families)
    numbers = paper_numbers(path)
    rows = []
    for item in ITEMS:
        tables.missing = []
        rows += _item_rows(item, numbers[item.name], item.measure(tables), tables.missing, path)
    return pd.DataFrame(rows, columns=COLUMNS)
