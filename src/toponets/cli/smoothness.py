"""Smoothness of every topographic layer of a vision checkpoint over validation images (METHODS §2).

    python -m toponets.cli.smoothness --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --n-images N --bins 20 --batch-size 256 [--reduce mean] \
        [--device auto] --out scores.json --curves curves.csv

Writes ``{"metrics": {"smoothness": mean over layers}, "per_layer": {layer:
score}, ...}`` (undefined scores as null) and the binned correlation-vs-distance
curves as a tidy CSV with columns layer, distance, r, pairs (Figure 7).
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd

from ..analysis.activations import REDUCTIONS
from ..device import select_device
from ..analysis.smoothness import model_smoothness
from ..checkpoints import load_checkpoint
from ..data.images import eval_transform, image_folder, loader
from ..io import atomic_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="model checkpoint (.safetensors with its .json sidecar)")
    parser.add_argument("--images", required=True, help="stimulus images in ImageFolder layout (the validation set)")
    parser.add_argument("--res", type=int, required=True, help="evaluation resolution (centre crop, ratio 224/256)")
    parser.add_argument("--n-images", type=int, required=True, help="number of stimuli (a fixed random subset)")
    parser.add_argument("--bins", type=int, default=20, help="equal-width distance bins over [0, max distance]")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--reduce", choices=REDUCTIONS, default="mean", help="spatial reduction of conv channels")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--out", required=True, help="JSON file of scores to write")
    parser.add_argument("--curves", required=True, help="CSV file of curves to write")
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
    results, n = model_smoothness(model, layers, batches, device=device, bins=args.bins, reduce=args.reduce)

    scores = np.array([res.score for res in results.values()])
    mean = float(np.nanmean(scores)) if not np.isnan(scores).all() else float("nan")
    report = {
        "metrics": {"smoothness": _number(mean)},
        "per_layer": {name: _number(res.score) for name, res in results.items()},
        "n_images": n,
        "bins": args.bins,
        "reduce": args.reduce,
        "res": args.res,
        "checkpoint": str(args.checkpoint),
    }
    curves = pd.concat(
        [
            pd.DataFrame({"layer": name, "distance": res.distance, "r": res.r, "pairs": res.pairs})
            for name, res in results.items()
        ],
        ignore_index=True,
    )
    with atomic_path(args.curves) as tmp:
        curves.to_csv(tmp, index=False)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
