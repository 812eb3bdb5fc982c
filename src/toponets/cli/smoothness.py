"""Smoothness of every topographic layer of a vision or language checkpoint (METHODS §2).

    python -m toponets.cli.smoothness --checkpoint C.safetensors --images VAL_DIR \
        [--settings '{"smoothness": {"res": 64, "n_images": N, "bins": 20, "batch_size": 256}}'] \
        [--device auto] --out scores.json --curves curves.csv

    python -m toponets.cli.smoothness --checkpoint C.safetensors --text TOKENS_DIR \
        [--settings '{"smoothness": {"length": 256, "n_samples": N, "batch_size": 64}}'] \
        [--device auto] --out scores.json --curves curves.csv

Settings: the config's evaluation.smoothness (toponets.settings.Smoothness:
res, n_images, bins, min_pairs, shuffles, reduce, batch_size, n_samples,
length). Language stimuli are n_samples fixed windows of the train split of
TOKENS_DIR (a prepare_text output); a c_fc unit's response to a window is
its output reduced over the window's tokens (by reduce), as a conv channel's
is reduced over space. Far distance bins with fewer than min_pairs unit pairs
are joined (analysis/smoothness.py). Writes ``{"metrics": {"smoothness": mean
over layers, "smoothness_floor": mean over layers}, "per_layer": {layer:
score}, "per_layer_floor": {layer: floor}, "collapsed_layers": [layers whose
units all correlate alike, scored null], ...}`` (undefined scores as null;
n_images and res, or n_samples, length and split), the floor being the score
of the same responses with the units at `shuffles` random places, and the
binned correlation-vs-distance curves as a tidy CSV with columns layer,
distance, r, pairs (Figure 7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.smoothness import model_smoothness
from . import eval_args


def mean_of(values: list[float]) -> float:
    """Mean over layers, ignoring undefined (NaN) ones; NaN when none is defined."""
    values = np.array(values, dtype=float)
    return float(np.nanmean(values)) if not np.isnan(values).all() else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, "smoothness", stimuli=("images", "text"))
    parser.add_argument("--curves", required=True, help="CSV file of curves to write")
    args = eval_args.use_stimuli(eval_args.parse(parser, argv), "smoothness", count="n_images")
    settings = args.settings["smoothness"]
    ident = eval_args.identity(args.checkpoint, "smoothness")
    model, layers, device = eval_args.checkpoint(args)
    results, n = model_smoothness(
        model, layers, eval_args.batches(args), device=device, bins=settings.bins, reduce=settings.reduce,
        min_pairs=settings.min_pairs, shuffles=settings.shuffles,
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
        "bins": settings.bins,
        "min_pairs": settings.min_pairs,
        "shuffles": settings.shuffles,
        "reduce": settings.reduce,
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
