"""Effective dimensionality of every topographic layer of a vision checkpoint over validation images (METHODS §3).

    python -m toponets.cli.dimensionality --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --n-images N --batch-size 256 [--reduce max] [--device auto] --out out.json

Writes ``{"metrics": {"effective_dim": mean over layers}, "per_layer": {layer:
ED}, "n_images": n, ...}`` (undefined values as null). Conv channels are
reduced over space by max-pooling by default, as TDANN does.
"""

from __future__ import annotations

from ..analysis.activations import REDUCTIONS
from ..analysis.dimensionality import mean_effective_dim, model_effective_dim
from . import vision_eval


def main(argv: list[str] | None = None) -> None:
    parser = vision_eval.parser(__doc__, subset="n-images")
    parser.add_argument("--reduce", choices=REDUCTIONS, default="max", help="spatial reduction of conv channels")
    args = parser.parse_args(argv)
    model, layers, device = vision_eval.checkpoint(args)
    per_layer, n = model_effective_dim(model, layers, vision_eval.batches(args), device=device, reduce=args.reduce)
    vision_eval.write_json(
        args.out,
        {
            "metrics": {"effective_dim": vision_eval.number(mean_effective_dim(per_layer))},
            "per_layer": {name: vision_eval.number(value) for name, value in per_layer.items()},
            "n_images": n,
            "reduce": args.reduce,
            "res": args.res,
            "checkpoint": str(args.checkpoint),
        },
    )


if __name__ == "__main__":
    main()
