"""Effective dimensionality of every topographic layer of a vision or language checkpoint (METHODS §3).

    python -m toponets.cli.dimensionality --checkpoint C.safetensors --images VAL_DIR \
        [--settings '{"dimensionality": {"res": 64, "n_images": N, "batch_size": 256, "reduce": "max"}}'] \
        [--device auto] --out out.json

    python -m toponets.cli.dimensionality --checkpoint C.safetensors --text TOKENS_DIR \
        [--settings '{"dimensionality": {"length": 256, "n_samples": N, "batch_size": 64}}'] \
        [--device auto] --out out.json

Settings: the config's evaluation.dimensionality (toponets.settings.Dimensionality).
Writes ``{"metrics": {"effective_dim": mean over layers}, "per_layer": {layer:
ED}, ...}`` (undefined values as null; n_images and res, or n_samples, length
and split). Conv channels are pooled over space by the settings' reduce (by
default max, as TDANN does); c_fc units are mean-pooled over a window's
tokens (METHODS §3). The settings' variants: ``layers: blocks`` measures a
ResNet's residual-block outputs (Margalit et al.'s layers) instead of its
topographic convs; ``unit_norm`` scales each stimulus's responses to unit length.
"""

from __future__ import annotations

from ..analysis.dimensionality import mean_effective_dim, model_effective_dim
from ..models import residual_blocks
from . import eval_args


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, "dimensionality", stimuli=("images", "text"))
    args = eval_args.use_stimuli(eval_args.parse(parser, argv), "dimensionality", count="n_images")
    ident = eval_args.identity(args.checkpoint, "dimensionality")
    settings = args.settings["dimensionality"]
    reduce = "mean" if args.language else settings.reduce
    model, layers, device = eval_args.checkpoint(args)
    if settings.layers == "blocks":
        layers = residual_blocks(model) or layers  # only ResNets (and TDANN, whose units are its blocks) have them
    per_layer, n = model_effective_dim(
        model, layers, eval_args.batches(args), device=device, reduce=reduce, unit_norm=settings.unit_norm
    )
    eval_args.write_json(
        args.out,
        {
            "metrics": {"effective_dim": eval_args.number(mean_effective_dim(per_layer))},
            "per_layer": {name: eval_args.number(value) for name, value in per_layer.items()},
            **eval_args.stimulus_report(args, n),
            "reduce": reduce,
            "unit_norm": settings.unit_norm,
            "checkpoint": str(args.checkpoint),
        },
        ident,
    )


if __name__ == "__main__":
    main()
