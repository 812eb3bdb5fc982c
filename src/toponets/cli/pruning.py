"""Performance of a checkpoint as its topographic layers are L1-pruned (METHODS §9.1, Fig. 4A).

    python -m toponets.cli.pruning --checkpoint C.safetensors --images VAL_DIR \
        [--settings '{"pruning": {"res": 256, "flip_tta": true, "batch_size": 256, "max_images": N,
                                  "fractions": [0, 0.5, 0.9], "scope": "layer"}}'] [--device auto] --out curve.csv

    python -m toponets.cli.pruning --checkpoint C.safetensors --val-text TOKENS_DIR \
        [--settings '{"pruning": {"batch_size": 8}, "downsampling": {"factors": [1, 2, 5]},
                      "lm_loss": {"length": 1024, "n_samples": N}}'] [--device auto] --out curve.csv

Settings: the config's evaluation.pruning (toponets.settings.Pruning), and
what it borrows: downsampling.factors, the levels when fractions is null,
each pruned at fraction 1 - 1/n (section 2.4), so that each pairs with the
downsampling by the same factor; and lm_loss's n_samples and length, a
language model's windows. Writes a tidy CSV with columns fraction, factor
(1 / (1 - fraction)), metric, value and change (value - unpruned value), one
row per level in the order given. A vision model's metric is top-1 accuracy
as the accuracy CLI measures it (res and flip_tta null: as the checkpoint's
recipe validates) ("top1", higher is better); a language model's is the
mean next-token loss on the fixed windows of the val split of TOKENS_DIR
("val_loss", lower is better).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from ..analysis.accuracy import top1_accuracy
from ..analysis.pruning import factor_of_fraction, fractions_for_factors, pruning_curve
from ..settings import Settings
from . import eval_args


def fractions(settings: Settings) -> list[float]:
    """The pruning levels: the configured fractions, or 1 - 1/n of each downsampling factor n (section 2.4)."""
    configured = settings["pruning"].fractions
    return list(configured) if configured is not None else fractions_for_factors(settings["downsampling"].factors)


def performance(args: argparse.Namespace, device: torch.device) -> tuple[str, Callable[[nn.Module], float]]:
    """The metric's name and model -> value: top-1 accuracy on images, or validation loss on token windows."""
    if args.language:
        return "val_loss", eval_args.val_loss_metric(args, device)
    batches = eval_args.batches(args)
    return "top1", lambda model: top1_accuracy(model, batches, device, flip_tta=args.flip_tta).top1


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, "pruning", stimuli=("images", "val-text"))
    args = eval_args.parse(parser, argv)
    eval_args.use_stimuli(args, "pruning", count="max_images", windows="lm_loss", validation=True)
    try:
        levels = fractions(args.settings)
    except ValueError as err:
        parser.error(str(err))
    ident = eval_args.identity(args.checkpoint, "pruning")
    model, layers, device = eval_args.checkpoint(args)
    name, metric = performance(args, device)
    points = pruning_curve(model, layers, metric, levels, scope=args.settings["pruning"].scope)
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
