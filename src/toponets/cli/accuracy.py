"""Top-1 validation accuracy of a vision checkpoint, validated as its training recipe validates (METHODS §11.1).

    python -m toponets.cli.accuracy --checkpoint C.safetensors --images VAL_DIR \
        [--settings '{"accuracy": {"res": 256, "flip_tta": true, "batch_size": 256, "max_images": N}}'] \
        [--device auto] --out out.json

Settings: the config's evaluation.accuracy (toponets.settings.Accuracy).
With res and flip_tta null (the default), the recipe's: ffcv's ResNets at
256 px (centre crop 224/256) with flip test-time augmentation, as ffcv
reports its numbers; torchvision's ViT at 224 px without.

Writes ``{"metrics": {"top1": x}, "n_images": n, ...}``.
"""

from __future__ import annotations

from ..analysis.accuracy import top1_accuracy
from . import eval_args


def main(argv: list[str] | None = None) -> None:
    args = eval_args.parse(eval_args.parser(__doc__, "accuracy", stimuli=("images",)), argv)
    eval_args.use_stimuli(args, "accuracy", count="max_images", validation=True)
    ident = eval_args.identity(args.checkpoint, "accuracy")
    model, _, device = eval_args.checkpoint(args, need_layers=False)
    result = top1_accuracy(model, eval_args.batches(args), device, flip_tta=args.flip_tta)
    eval_args.write_json(
        args.out,
        {"metrics": {"top1": result.top1}, "n_images": result.n_images, "checkpoint": str(args.checkpoint),
         "res": args.res, "flip_tta": args.flip_tta},
        ident,
    )


if __name__ == "__main__":
    main()
