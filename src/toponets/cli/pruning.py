"""Performance of a checkpoint as its topographic layers are L1-pruned (METHODS §9.1, Fig. 4A).

    python -m toponets.cli.pruning --checkpoint C.safetensors --images VAL_DIR \
        [--res 256] [--[no-]flip-tta] --batch-size 256 [--max-images N] [--factors 1,2,3,5,10 | --fractions 0,0.5,...] \
        [--scope layer|global] [--device auto] --out curve.csv

    python -m toponets.cli.pruning --checkpoint C.safetensors --val-text TOKENS_DIR \
        --length 1024 --batch-size 8 [--n-samples N] [--factors ... | --fractions ...] \
        [--scope layer|global] [--device auto] --out curve.csv

Writes a tidy CSV with columns fraction, factor, metric, value and change
(value - unpruned value), one row per level in the order given. --factors
gives the levels as weight reductions n, pruned at fraction 1 - 1/n (section
2.4), so that each pairs with the downsampling by the same factor; factor is
1 / (1 - fraction) either way. A vision model's
metric is top-1 accuracy as the accuracy CLI measures it (by default as the
checkpoint's recipe validates) ("top1", higher is better); a language model's is the mean
next-token loss on N fixed windows of the val split of TOKENS_DIR
("val_loss", lower is better; all windows when N is left out).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from ..analysis.accuracy import top1_accuracy
from ..analysis.pruning import DEFAULT_FRACTIONS, SCOPES, factor_of_fraction, fractions_for_factors, pruning_curve
from . import eval_args


def performance(args: argparse.Namespace, device: torch.device) -> tuple[str, Callable[[nn.Module], float]]:
    """The metric's name and model -> value: top-1 accuracy on images, or validation loss on token windows."""
    if args.language:
        return "val_loss", eval_args.val_loss_metric(args, device)
    batches = eval_args.batches(args)
    return "top1", lambda model: top1_accuracy(model, batches, device, flip_tta=args.flip_tta).top1


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, stimuli=("images", "val-text"), count="optional", validation=True)
    levels = parser.add_mutually_exclusive_group()
    levels.add_argument(
        "--fractions", type=eval_args.number_list(0.0, 1.0), default=list(DEFAULT_FRACTIONS),
        help="comma-separated fractions of each layer's weights to zero",
    )
    levels.add_argument(
        "--factors", type=eval_args.number_list(1.0),
        help="comma-separated weight reductions n (pruned at 1 - 1/n), e.g. the downsampling factors",
    )
    parser.add_argument("--scope", choices=SCOPES, default="layer", help="prune each layer alike, or all pooled")
    args = eval_args.parse(parser, argv)
    ident = eval_args.identity(args.checkpoint, "pruning")
    model, layers, device = eval_args.checkpoint(args)
    name, metric = performance(args, device)
    fractions = fractions_for_factors(args.factors) if args.factors else args.fractions
    points = pruning_curve(model, layers, metric, fractions, scope=args.scope)
    table = pd.DataFrame(
        {
            "fraction": [p.fraction for p in points],
            "factor": [factor_of_fraction(p.fraction) for p in points],
            "metric": name,
            "value": [p.value for p in points],
            "change": [p.change for p in points],
        }
    )
    eval_args.write_csv(args.out, table, ident)


if __name__ == "__main__":
    main()
