"""Performance and parameter count of a language checkpoint with its topographic layers downsampled (METHODS §9.2).

    python -m toponets.cli.downsampling --checkpoint C.safetensors --val-text TOKENS_DIR \
        [--settings '{"downsampling": {"factors": [1, 2, 5]}, "lm_loss": {"length": 1024, "n_samples": N,
                      "batch_size": 8}, "blimp": {"max_pairs": N}}'] \
        [--metrics val_loss,blimp] [--blimp BLiMP.zip --tokenizer DIR] [--device auto] --out table.csv

Settings: the config's evaluation.downsampling (toponets.settings.Downsampling),
and what it borrows: lm_loss's n_samples, length and batch_size (the windows
of the validation loss, and the batches of both metrics) and blimp.max_pairs.

A factor n stores each topographic layer's weights on a sheet with n times
fewer units (each side / √n; 5 = 80% fewer, the paper's 102.3M GPT-Neo).
Writes a tidy CSV with columns factor, parameters, parameters_kept (fraction
of the original model's parameters), metric, value and change (value - the
original model's value), one row per factor and metric. "val_loss" is the
mean next-token loss on the fixed windows of the val split of TOKENS_DIR;
"blimp" is the BLiMP accuracy (METHODS §8) on the first max_pairs pairs of
each paradigm (all 1,000 when null).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict

import pandas as pd
import torch
from torch import nn

from ..analysis.blimp import blimp_accuracy, read_blimp
from ..analysis.language import downsampling_curve
from ..data.tokenizer import gpt2_tokenizer
from . import eval_args


def blimp_metric(args: argparse.Namespace, device: torch.device) -> Callable[[nn.Module], float]:
    """model -> its BLiMP accuracy on the pairs of --blimp (read once), tokenized by --tokenizer."""
    if not (args.blimp and args.tokenizer):
        raise SystemExit("metric blimp needs --blimp BLiMP.zip and --tokenizer DIR")
    paradigms = read_blimp(args.blimp, max_pairs=args.settings["blimp"].max_pairs)
    tokenizer = gpt2_tokenizer(args.tokenizer)
    return lambda model: blimp_accuracy(model, tokenizer, paradigms, device, args.batch_size).accuracy


# Metric name -> (arguments, device) -> (model -> value).
METRICS: dict[str, Callable[[argparse.Namespace, torch.device], Callable[[nn.Module], float]]] = {
    "val_loss": eval_args.val_loss_metric,
    "blimp": blimp_metric,
}


def _metric_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in METRICS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected comma-separated metrics from {sorted(METRICS)}, got '{text}'")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, "downsampling", stimuli=("val-text",))
    parser.add_argument("--metrics", type=_metric_names, default=["val_loss"], help="comma-separated metrics")
    parser.add_argument("--blimp", help="BLiMP.zip (metric blimp)")
    parser.add_argument("--tokenizer", help="directory with the GPT-2 vocab.json and merges.txt (metric blimp)")
    args = eval_args.use_stimuli(eval_args.parse(parser, argv), "lm_loss")
    if not all(f >= 1 for f in args.settings["downsampling"].factors):
        parser.error(f"downsampling.factors: expected numbers >= 1, got {list(args.settings['downsampling'].factors)}")
    ident = eval_args.identity(args.checkpoint, "downsampling")
    model, layers, device = eval_args.checkpoint(args)
    metrics = {name: METRICS[name](args, device) for name in args.metrics}
    points = downsampling_curve(model, layers, metrics, list(args.settings["downsampling"].factors))
    eval_args.write_csv(args.out, pd.DataFrame([asdict(p) for p in points]), ident)


if __name__ == "__main__":
    main()
