"""Smoothness of every topographic layer of a vision or language checkpoint (METHODS §2).

    python -m toponets.cli.smoothness --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --n-images N --bins 20 [--min-pairs 100] [--shuffles 10] --batch-size 256 \
        [--reduce mean] [--device auto] --out scores.json --curves curves.csv

    python -m toponets.cli.smoothness --checkpoint C.safetensors --text TOKENS_DIR \
        --length 256 --n-samples N --bins 20 [--min-pairs 100] [--shuffles 10] --batch-size 64 \
        [--reduce mean] [--device auto] --out scores.json --curves curves.csv

Language stimuli are N fixed windows of the train split of TOKENS_DIR (a
prepare_text output); a c_fc unit's response to a window is its output
reduced over the window's tokens (mean by default), as a conv channel's is
reduced over space. Far distance bins with fewer than --min-pairs unit pairs
are joined (analysis/smoothness.py). Writes ``{"metrics": {"smoothness": mean
over layers, "smoothness_floor": mean over layers}, "per_layer": {layer:
score}, "per_layer_floor": {layer: floor}, "collapsed_layers": [layers whose
units all correlate alike, scored null], ...}`` (undefined scores as null;
n_images and res, or n_samples, length and split), the floor being the score
of the same responses with the units at --shuffles random places, and the
binned correlation-vs-distance curves as a tidy CSV with columns layer,
distance, r, pairs (Figure 7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.activations import REDUCTIONS
from ..analysis.smoothness import MIN_PAIRS, SHUFFLES, model_smoothness
from . import eval_args


def mean_of(values: list[float]) -> float:
    """Mean over layers, ignoring undefined (NaN) ones; NaN when none is defined."""
    values = np.array(values, dtype=float)
    return float(np.nanmean(values)) if not np.isnan(values).all() else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, stimuli=("images", "text"), count="required")
    parser.add_argument("--bins", type=int, default=20, help="equal-width distance bins over [0, max distance]")
    parser.add_argument("--min-pairs", type=int, default=MIN_PAIRS, help="far bins are joined until each has this many pairs")
    parser.add_argument("--shuffles", type=int, default=SHUFFLES, help="random unit placements of the floor (0: none)")
    parser.add_argument(
        "--reduce", choices=REDUCTIONS, default="mean", help="reduction of conv channels over space, of units over tokens"
    )
    parser.add_argument("--curves", required=True, help="CSV file of curves to write")
    args = eval_args.parse(parser, argv)
    ident = eval_args.identity(args.checkpoint, "smoothness")
    model, layers, device = eval_args.checkpoint(args)
    results, n = model_smoothness(
        model, layers, eval_args.batches(args), device=device, bins=args.bins, reduce=args.reduce,
        min_pairs=args.min_pairs, shuffles=args.shuffles,
    )
    report = {
        "metrics": {
            "smoothness": eval_args.number(mean_of([res.score for res in results.values()])),
            "smoothness_floor": eval_args.number(mean_of([res.floor for res in results.values()])),
        },
        "per_layer": {name: eval_args.number(res.score) for name, res in results.items()},
        "per_layer_floor": {name: eval_args.number(res.floor) for name, res in results.items()},
        "collapsed_layers": [name for name, res in results.items() if res.collapsed],
        **eval_args.stimulus_report(args, n),
        "bins": args.bins,
        "min_pairs": args.min_pairs,
        "shuffles": args.shuffles,
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
    eval_args.write_csv(args.curves, curves, ident)
    eval_args.write_json(args.out, report, ident)


if __name__ == "__main__":
    main()
