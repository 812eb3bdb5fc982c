"""Effective dimensionality of every topographic layer of a vision checkpoint over validation images (METHODS §3).

    python -m toponets.cli.dimensionality --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --n-images N --batch-size 256 [--reduce max] [--device auto] --out out.json

Writes ``{"metrics": {"effective_dim": mean over layers}, "per_layer": {layer:
ED}, "n_images": n, ...}`` (undefined values as null). Conv channels are
reduced over space by max-pooling by default, as TDANN does.
"""

from __future__ import annotations

import argparse
import json
import math

from ..analysis.activations import REDUCTIONS
from ..analysis.dimensionality import mean_effective_dim, model_effective_dim
from ..checkpoints import load_checkpoint
from ..data.images import eval_transform, image_folder, loader
from ..device import select_device
from ..io import atomic_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="model checkpoint (.safetensors with its .json sidecar)")
    parser.add_argument("--images", required=True, help="stimulus images in ImageFolder layout (the validation set)")
    parser.add_argument("--res", type=int, required=True, help="evaluation resolution (centre crop, ratio 224/256)")
    parser.add_argument("--n-images", type=int, required=True, help="number of stimuli (a fixed random subset)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--reduce", choices=REDUCTIONS, default="max", help="spatial reduction of conv channels")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--out", required=True, help="JSON file to write")
    return parser.parse_args(argv)


def _number(x: float) -> float | None:
    """JSON has no NaN: undefined values become null."""
    return None if math.isnan(x) else float(x)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = select_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=device)
    layers = meta["topo"]["layers"]
    if not layers:
        raise SystemExit(f"checkpoint {args.checkpoint} lists no topographic layers (meta topo.layers is empty)")
    dataset = image_folder(args.images, transform=eval_transform(args.res), max_images=args.n_images)
    batches = loader(dataset, args.batch_size, shuffle=False, num_workers=args.workers)
    per_layer, n = model_effective_dim(model, layers, batches, device=device, reduce=args.reduce)
    report = {
        "metrics": {"effective_dim": _number(mean_effective_dim(per_layer))},
        "per_layer": {name: _number(value) for name, value in per_layer.items()},
        "n_images": n,
        "reduce": args.reduce,
        "res": args.res,
        "checkpoint": str(args.checkpoint),
    }
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
