"""Smoothness of every topographic layer of a vision checkpoint over validation images (METHODS §2).

    python -m toponets.cli.smoothness --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --n-images N --bins 20 --batch-size 256 [--reduce mean] \
        [--device auto] --out scores.json --curves curves.csv

Writes ``{"metrics": {"smoothness": mean over layers}, "per_layer": {layer:
score}, ...}`` (undefined scores as null) and the binned correlation-vs-distance
curves as a tidy CSV with columns layer, distance, r, pairs (Figure 7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.activations import REDUCTIONS
from ..analysis.smoothness import model_smoothness
from ..io import atomic_path
from . import vision_eval


def main(argv: list[str] | None = None) -> None:
    parser = vision_eval.parser(__doc__, subset="n-images")
    parser.add_argument("--bins", type=int, default=20, help="equal-width distance bins over [0, max distance]")
    parser.add_argument("--reduce", choices=REDUCTIONS, default="mean", help="spatial reduction of conv channels")
    parser.add_argument("--curves", required=True, help="CSV file of curves to write")
    args = parser.parse_args(argv)
    model, layers, device = vision_eval.checkpoint(args)
    results, n = model_smoothness(
        model, layers, vision_eval.batches(args), device=device, bins=args.bins, reduce=args.reduce
    )

    scores = np.array([res.score for res in results.values()])
    mean = float(np.nanmean(scores)) if not np.isnan(scores).all() else float("nan")
    report = {
        "metrics": {"smoothness": vision_eval.number(mean)},
        "per_layer": {name: vision_eval.number(res.score) for name, res in results.items()},
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
    vision_eval.write_json(args.out, report)


if __name__ == "__main__":
    main()
