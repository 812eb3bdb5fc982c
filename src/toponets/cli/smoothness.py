"""Smoothness of every topographic layer of a vision or language checkpoint (METHODS §2).

    python -m toponets.cli.smoothness --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --n-images N --bins 20 --batch-size 256 [--reduce mean] \
        [--device auto] --out scores.json --curves curves.csv

    python -m toponets.cli.smoothness --checkpoint C.safetensors --text TOKENS_DIR \
        --length 256 --n-samples N --bins 20 --batch-size 64 [--reduce mean] \
        [--device auto] --out scores.json --curves curves.csv

Language stimuli are N fixed windows of the train split of TOKENS_DIR (a
prepare_text output); a c_fc unit's response to a window is its output
reduced over the window's tokens (mean by default), as a conv channel's is
reduced over space. Writes ``{"metrics": {"smoothness": mean over layers},
"per_layer": {layer: score}, ...}`` (undefined scores as null; n_images and
res, or n_samples, length and split) and the binned correlation-vs-distance
curves as a tidy CSV with columns layer, distance, r, pairs (Figure 7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.activations import REDUCTIONS
from ..analysis.smoothness import model_smoothness
from . import eval_args


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, stimuli=("images", "text"), count="required")
    parser.add_argument("--bins", type=int, default=20, help="equal-width distance bins over [0, max distance]")
    parser.add_argument(
        "--reduce", choices=REDUCTIONS, default="mean", help="reduction of conv channels over space, of units over tokens"
    )
    parser.add_argument("--curves", required=True, help="CSV file of curves to write")
    args = eval_args.parse(parser, argv)
    model, layers, device = eval_args.checkpoint(args)
    results, n = model_smoothness(
        model, layers, eval_args.batches(args), device=device, bins=args.bins, reduce=args.reduce
    )

    scores = np.array([res.score for res in results.values()])
    mean = float(np.nanmean(scores)) if not np.isnan(scores).all() else float("nan")
    report = {
        "metrics": {"smoothness": eval_args.number(mean)},
        "per_layer": {name: eval_args.number(res.score) for name, res in results.items()},
        **eval_args.stimulus_report(args, n),
        "bins": args.bins,
        "reduce": args.reduce,
        "checkpoint": str(args.checkpoint),
    }
    curves = pd.concat(
        [
            pd.DataFrame({"layer": name, "distance": res.distance, "r": res.r, "pairs": res.pairs})
            for name, res in results.items()
        ],
        ignore_index=True,
    )
    eval_args.write_csv(args.curves, curves)
    eval_args.write_json(args.out, report)


if __name__ == "__main__":
    main()
