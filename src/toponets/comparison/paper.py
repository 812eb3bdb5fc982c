"""The paper's side of the comparison: ``paper_numbers.yaml`` read and checked (fields, id form, ids unique),
and the prior models' values as published in it (the prior-models table, drawn in Figures 2A, 2B and 3A)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd
import yaml

PAPER_NUMBERS = Path(__file__).resolve().parents[1] / "paper_numbers.yaml"
ID_FORM = re.compile(r"[a-z0-9][a-z0-9_.-]*")  # the YAML header's convention: fig2a-top1-resnet18


@dataclass(frozen=True)
class Entry:
    """One quantity of the paper (the fields are documented in the YAML's header)."""

    id: str
    quantity: str
    paper: str | None
    note: str = ""
    measured: bool = True
    published: tuple[dict, ...] = ()


REQUIRED = ("id", "quantity", "paper")
FIELDS = tuple(f.name for f in fields(Entry))


def read_paper_numbers(path: str | Path = PAPER_NUMBERS) -> dict[str, list[Entry]]:
    """The entries per item, in the file's order; an error names the file and the entry."""
    numbers: dict[str, list[Entry]] = {}
    where: dict[str, str] = {}  # id -> its item
    for item, entries in yaml.safe_load(Path(path).read_text(encoding="utf-8")).items():
        numbers[item] = []
        for raw in entries:
            name = f"{path}: {item}, entry {raw.get('id')!r}"
            lacking = [f for f in REQUIRED if f not in raw]
            unknown = sorted(set(raw) - set(FIELDS))
            if lacking or unknown:
                raise ValueError(f"{name} lacks {lacking} or has unknown fields {unknown}; fields: {list(FIELDS)}")
            entry = Entry(**{**raw, "published": tuple(raw.get("published", ()))})
            if not isinstance(entry.id, str) or not ID_FORM.fullmatch(entry.id):
                raise ValueError(f"{name}: an id is lower case letters, digits, '-', '_' and '.'")
            if entry.id in where:
                raise ValueError(f"{path}: id {entry.id!r} appears twice (under {where[entry.id]} and {item})")
            where[entry.id] = item
            numbers[item].append(entry)
    return numbers


PRIOR_COLUMNS = ["figure", "model", "metric", "value", "baseline", "source"]


def prior_models_table(path: str | Path = PAPER_NUMBERS) -> pd.DataFrame:
    """Tidy table of the prior models' values as published (an entry's `published` list in paper_numbers.yaml):
    one row per figure, model and metric; value NaN where the paper prints none."""
    rows = [
        {column: marker.get(column) for column in PRIOR_COLUMNS}
        for entries in read_paper_numbers(path).values()
        for entry in entries
        for marker in entry.published
    ]
    return pd.DataFrame(rows, columns=PRIOR_COLUMNS).astype({"value": float})
