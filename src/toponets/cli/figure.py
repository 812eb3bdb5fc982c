"""Draw one paper figure from a tidy table.

    python -m toponets.cli.figure FIGURE --table TABLE.csv [TABLE.csv ...] [--models NAME ...] \
        [--published PRIOR_MODELS.csv] --out fig.png fig.pdf

    fig2a   METRICS.csv      ImageNet top-1 accuracy vs smoothness, Pareto front per model
    fig2b   METRICS.csv      BLiMP accuracy vs smoothness of the language models, Pareto front per model
    fig3    METRICS.csv      effective dimensionality vs top-1 accuracy and vs smoothness, Pearson r
    fig9    METRICS.csv      effective dimensionality vs perplexity and vs smoothness (language models)
    fig4a   PRUNING.csv      change in top-1 accuracy / validation loss vs fraction of weights L1-pruned
    fig4b   DOWNSAMPLING.csv change in validation loss and BLiMP accuracy vs parameters kept
    fig10   DOWNSAMPLING.csv the same as fig4b, for the NanoGPT experiments (--models nanogpt ...)
    fig6    TRAINING.csv METRICS.csv   BLiMP accuracy vs training tokens per tau (--models: NanoGPT runs)
    fig7    CURVES.csv       response correlation vs distance on the cortical sheet
    fig5a   MAPS.csv SSIM.csv  selectivity t-maps of one layer: untrained / baseline / TopoNet, SSIM annotated
    fig5b   WINDOW_UNITS.csv integration-window maps (c red, b green, yoking) of every layer of the TopoNet
    fig8    WINDOW_UNITS.csv the same for every layer of every tau
    fig11   LORA_CURVES.csv  validation loss during LoRA fine-tuning, a panel per data set and rank
    fig12   LORA_DELTAS.csv  delta = val loss before - after LoRA fine-tuning, by rank, data set and model

Several tables of the same columns are stacked into one. --models keeps the
rows whose model (experiment name) is listed, e.g. `fig4b --models gpt_neo`
and `fig10 --models nanogpt nanogpt_124m`. --published (fig2a, fig2b, fig3)
marks the prior models as published (the prior-models table).
"""

from __future__ import annotations

import argparse
import importlib

import pandas as pd

# figure -> (module, function). Each module is imported only for its figure, so that a figure job's code
# inputs (the workflow's code_of) are this CLI and that figure's module: editing one reruns only its jobs.
FIGURES = {
    "fig2a": ("toponets.figures.fig2a", "plot"),
    "fig2b": ("toponets.figures.fig2a", "plot_blimp"),
    "fig3": ("toponets.figures.fig3", "plot"),
    "fig4a": ("toponets.figures.fig4a", "plot"),
    "fig4b": ("toponets.figures.fig4b", "plot"),
    "fig5a": ("toponets.figures.fig5a", "plot"),
    "fig5b": ("toponets.figures.fig5b", "plot"),
    "fig8": ("toponets.figures.fig5b", "plot_all_layers"),
    "fig6": ("toponets.figures.fig6", "plot"),
    "fig7": ("toponets.figures.fig7", "plot"),
    "fig9": ("toponets.figures.fig3", "plot_perplexity"),
    "fig10": ("toponets.figures.fig4b", "plot"),
    "fig11": ("toponets.figures.fig11", "plot"),
    "fig12": ("toponets.figures.fig12", "plot"),
}
WITH_PUBLISHED = ("fig2a", "fig2b", "fig3")  # the figures where the paper draws prior models


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=FIGURES)
    parser.add_argument("--table", nargs="+", required=True, help="the tidy table(s) the figure reads (CSV)")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="draw only these models (experiment names)")
    parser.add_argument("--published", help="tidy table of the prior models as published (fig2a, fig2b, fig3)")
    parser.add_argument("--out", nargs="+", required=True, help="output files; the suffix sets the format")
    args = parser.parse_args(argv)
    table = pd.concat([pd.read_csv(path) for path in args.table], ignore_index=True)
    if args.models:
        kept = table[table.model.isin(args.models)]
        if kept.empty:
            parser.error(f"--models {' '.join(args.models)} match no rows of {' '.join(args.table)}, "
                         f"whose models are {', '.join(sorted(table.model.astype(str).unique()))}")
        table = kept
    if args.published and args.figure not in WITH_PUBLISHED:
        parser.error(f"--published goes with {', '.join(WITH_PUBLISHED)}, not {args.figure}")
    extra = {"published": pd.read_csv(args.published)} if args.published else {}
    module, function = FIGURES[args.figure]
    getattr(importlib.import_module(module), function)(table, args.out, **extra)


if __name__ == "__main__":
    main()
