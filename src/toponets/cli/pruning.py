"""Top-1 accuracy of a vision checkpoint as its topographic layers are L1-pruned (METHODS §9.1, Fig. 4A).

    python -m toponets.cli.pruning --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --batch-size 256 [--max-images N] [--fractions 0,0.5,0.8,0.9,0.95,0.98] \
        [--scope layer|global] [--device auto] --out curve.csv

Writes a tidy CSV with columns fraction, metric ("top1"), value and change
(value - unpruned value), one row per fraction in the order given. Accuracy
uses flip test-time augmentation, as the accuracy CLI does.
"""

from __future__ import annotations

import argparse

import pandas as pd

from ..analysis.accuracy import top1_accuracy
from ..analysis.pruning import DEFAULT_FRACTIONS, SCOPES, pruning_curve
from ..io import atomic_path
from . import vision_eval


def _fractions(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from err
    bad = [v for v in values if not 0.0 <= v <= 1.0]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"fractions must be a non-empty list of numbers in [0, 1], got '{text}'")
    return values


def main(argv: list[str] | None = None) -> None:
    parser = vision_eval.parser(__doc__, subset="max-images")
    parser.add_argument(
        "--fractions", type=_fractions, default=list(DEFAULT_FRACTIONS),
        help="comma-separated fractions of each layer's weights to zero",
    )
    parser.add_argument("--scope", choices=SCOPES, default="layer", help="prune each layer alike, or all pooled")
    args = parser.parse_args(argv)
    model, layers, device = vision_eval.checkpoint(args)
    batches = vision_eval.batches(args)
    points = pruning_curve(
        model, layers, lambda m: top1_accuracy(m, batches, device).top1, args.fractions, scope=args.scope
    )
    table = pd.DataFrame(
        {
            "fraction": [p.fraction for p in points],
            "metric": "top1",
            "value": [p.value for p in points],
            "change": [p.change for p in points],
        }
    )
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)


if __name__ == "__main__":
    main()
