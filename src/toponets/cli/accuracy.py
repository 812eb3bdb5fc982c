"""Top-1 validation accuracy of a vision checkpoint with flip test-time augmentation (METHODS §11.1).

    python -m toponets.cli.accuracy --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --batch-size 256 [--max-images N] [--device auto] --out out.json

Writes ``{"metrics": {"top1": x}, "n_images": n, ...}``.
"""

from __future__ import annotations

from ..analysis.accuracy import top1_accuracy
from . import eval_args


def main(argv: list[str] | None = None) -> None:
    args = eval_args.parse(eval_args.parser(__doc__, stimuli=("images",), count="optional"), argv)
    model, _, device = eval_args.checkpoint(args, need_layers=False)
    result = top1_accuracy(model, eval_args.batches(args), device)
    eval_args.write_json(
        args.out,
        {"metrics": {"top1": result.top1}, "n_images": result.n_images, "checkpoint": str(args.checkpoint),
         "res": args.res, "flip_tta": True},
    )


if __name__ == "__main__":
    main()
