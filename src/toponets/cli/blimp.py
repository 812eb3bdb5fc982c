"""BLiMP accuracy of a language-model checkpoint (METHODS §8).

    python -m toponets.cli.blimp --checkpoint C.safetensors --blimp BLiMP.zip --tokenizer DIR \
        [--settings '{"blimp": {"max_pairs": N, "batch_size": 64}}'] [--device auto] \
        --out blimp.json --paradigms-out blimp_paradigms.csv

Settings: the config's evaluation.blimp (toponets.settings.Blimp): max_pairs
(the first N pairs of each paradigm; null = all) and batch_size (sentences
per forward pass).

Writes ``{"metrics": {"blimp": x}, "n_pairs": n, "checkpoint": ...}`` (x: the
fraction of pairs whose good sentence has the higher summed log-probability;
ties count as wrong) and a tidy CSV with one row per paradigm: paradigm,
field, linguistics_term, pairs, correct, ties, accuracy.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

import pandas as pd
from tqdm import tqdm

from ..analysis.blimp import blimp_accuracy, read_blimp
from ..checkpoints import load_checkpoint
from ..data.tokenizer import gpt2_tokenizer
from ..device import select_device
from . import eval_args


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="language-model checkpoint (.safetensors + .json sidecar)")
    p.add_argument("--blimp", required=True, help="BLiMP.zip (67 data/<paradigm>.jsonl files)")
    p.add_argument("--tokenizer", required=True, help="directory with the GPT-2 vocab.json and merges.txt")
    eval_args.add_settings(p, "blimp")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", required=True, help="JSON file of the overall accuracy")
    p.add_argument("--paradigms-out", required=True, help="CSV file of the per-paradigm counts")
    return p


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = eval_args.read_settings(p, p.parse_args(argv))
    settings = args.settings["blimp"]
    ident = eval_args.identity(args.checkpoint, "blimp")
    paradigms = read_blimp(args.blimp, max_pairs=settings.max_pairs)
    tokenizer = gpt2_tokenizer(args.tokenizer)
    device = select_device(args.device)
    model, _ = load_checkpoint(args.checkpoint, device=device)
    progress = tqdm(paradigms, desc="BLiMP paradigms", file=sys.stderr, mininterval=2.0, dynamic_ncols=True)
    result = blimp_accuracy(model, tokenizer, progress, device, settings.batch_size)
    table = pd.DataFrame(
        [{**asdict(score), "accuracy": score.accuracy} for score in result.paradigms],
        columns=["paradigm", "field", "linguistics_term", "pairs", "correct", "ties", "accuracy"],
    )
    report = {
        "metrics": {"blimp": result.accuracy},
        "n_pairs": result.n_pairs,
        "n_paradigms": len(result.paradigms),
        "max_pairs": settings.max_pairs,
        "ties": result.ties,
        "checkpoint": str(args.checkpoint),
    }
    eval_args.write_csv(args.paradigms_out, table, ident)
    eval_args.write_json(args.out, report, ident)


if __name__ == "__main__":
    main()
