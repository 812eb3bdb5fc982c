"""Effective dimensionality of every topographic layer of a vision or language checkpoint (METHODS §3).

    python -m toponets.cli.dimensionality --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --n-images N --batch-size 256 [--reduce max] [--device auto] --out out.json

    python -m toponets.cli.dimensionality --checkpoint C.safetensors --text TOKENS_DIR \
        --length 256 --n-samples N --batch-size 64 [--reduce mean] [--device auto] --out out.json

Writes ``{"metrics": {"effective_dim": mean over layers}, "per_layer": {layer:
ED}, ...}`` (undefined values as null; n_images and res, or n_samples, length
and split). Conv channels are max-pooled over space by default, as TDANN does;
c_fc units are mean-pooled over a window's tokens by default (METHODS §3).
"""

from __future__ import annotations

from ..analysis.activations import REDUCTIONS
from ..analysis.dimensionality import mean_effective_dim, model_effective_dim
from . import eval_args


def main(argv: list[str] | None = None) -> None:
    parser = eval_args.parser(__doc__, stimuli=("images", "text"), count="required")
    parser.add_argument(
        "--reduce", choices=REDUCTIONS, default=None,
        help="reduction of conv channels over space (default max), of units over tokens (default mean)",
    )
    args = eval_args.parse(parser, argv)
    ident = eval_args.identity(args.checkpoint, "dimensionality")
    reduce = args.reduce or ("mean" if args.language else "max")
    model, layers, device = eval_args.checkpoint(args)
    per_layer, n = model_effective_dim(model, layers, eval_args.batches(args), device=device, reduce=reduce)
    eval_args.write_json(
        args.out,
        {
            "metrics": {"effective_dim": eval_args.number(mean_effective_dim(per_layer))},
            "per_layer": {name: eval_args.number(value) for name, value in per_layer.items()},
            **eval_args.stimulus_report(args, n),
            "reduce": reduce,
            "checkpoint": str(args.checkpoint),
        },
        ident,
    )


if __name__ == "__main__":
    main()
