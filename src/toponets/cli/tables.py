"""Build a tidy table from evaluation outputs.

    python -m toponets.cli.tables metrics --out T.csv EVAL.json ...
    python -m toponets.cli.tables training --out T.csv METRICS.jsonl ...
    python -m toponets.cli.tables per-layer --metric smoothness --out T.csv EVAL.json ...
    python -m toponets.cli.tables curves --out T.csv CURVES.csv ...
    python -m toponets.cli.tables correlations --performance top1 [--models NAME ...] --out T.csv METRICS.csv
    python -m toponets.cli.tables lora-deltas --out T.csv LORA_CURVES.csv
    python -m toponets.cli.tables regions --out T.csv BRAINSCORE_METRICS.csv
    python -m toponets.cli.tables prior-models --out T.csv src/toponets/paper_numbers.yaml
"""

from __future__ import annotations

import argparse
import importlib

import pandas as pd

from ..analysis.statistics import dimensionality_correlations
from ..tables import (
    curves_table,
    lora_delta_table,
    metrics_table,
    per_layer_table,
    region_table,
    training_table,
    write_csv,
)
from ..tidy import wide_metrics

# prior-models's builder, imported only for that kind by a computed name: the workflow then lists the paper's
# side of the comparison as code of the prior-models job only (code_of), so editing it reruns no other table.
PRIOR_MODELS = "toponets.comparison.paper"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["metrics", "training", "per-layer", "curves", "correlations", "lora-deltas", "regions",
                                         "prior-models"])
    parser.add_argument("inputs", nargs="+", help="evaluation outputs or training logs, each naming its run"
                        " (JSON \"run\", CSV columns model, tau, seed, training records' \"run\")"
                        " (correlations, regions: one metrics table; lora-deltas: one LoRA curves table;"
                        " prior-models: paper_numbers.yaml)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metric", help="name of the per-layer value column (per-layer tables)")
    parser.add_argument("--performance", default="top1", help="performance metric (correlations)")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="the experiments pooled (correlations); all when left out")
    args = parser.parse_args(argv)
    if args.kind == "metrics":
        table = metrics_table(args.inputs)
    elif args.kind == "training":
        table = training_table(args.inputs)
    elif args.kind == "per-layer":
        if not args.metric:
            parser.error("per-layer tables need --metric")
        table = per_layer_table(args.inputs, args.metric)
    elif args.kind == "curves":
        table = curves_table(args.inputs)
    elif args.kind == "regions":
        table = region_table(pd.read_csv(args.inputs[0]))
    elif args.kind == "prior-models":
        table = importlib.import_module(PRIOR_MODELS).prior_models_table(args.inputs[0])
    elif args.kind == "lora-deltas":
        table = lora_delta_table(pd.read_csv(args.inputs[0]))
    else:
        metrics = pd.read_csv(args.inputs[0])
        if args.models:
            metrics = metrics[metrics.model.isin(args.models)]
        wide = wide_metrics(metrics, ["effective_dim", "smoothness", args.performance])
        table = dimensionality_correlations(wide, args.performance)
    write_csv(table, args.out)


if __name__ == "__main__":
    main()
