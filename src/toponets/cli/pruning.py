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
from ..checkpoints import load_checkpoint
from ..data.images import eval_transform, image_folder, loader
from ..device import select_device
from ..io import atomic_path


def _fractions(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from err
    bad = [v for v in values if not 0.0 <= v <= 1.0]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"fractions must be a non-empty list of numbers in [0, 1], got '{text}'")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="model checkpoint (.safetensors with its .json sidecar)")
    parser.add_argument("--images", required=True, help="validation images in ImageFolder layout")
    parser.add_argument("--res", type=int, required=True, help="evaluation resolution (centre crop, ratio 224/256)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-images", type=int, default=None, help="evaluate a fixed random subset of this size")
    parser.add_argument(
        "--fractions",
        type=_fractions,
        default=list(DEFAULT_FRACTIONS),
        help="comma-separated fractions of each layer's weights to zero",
    )
    parser.add_argument("--scope", choices=SCOPES, default="layer", help="prune each layer alike, or all pooled")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--out", required=True, help="CSV file to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = select_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=device)
    layers = meta["topo"]["layers"]
    if not layers:
        raise SystemExit(f"checkpoint {args.checkpoint} lists no topographic layers (meta topo.layers is empty)")
    dataset = image_folder(args.images, transform=eval_transform(args.res), max_images=args.max_images)
    batches = loader(dataset, args.batch_size, shuffle=False, num_workers=args.workers)
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
