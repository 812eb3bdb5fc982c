"""Top-1 validation accuracy of a vision checkpoint with flip test-time augmentation (METHODS §11.1).

    python -m toponets.cli.accuracy --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --batch-size 256 [--max-images N] [--device auto] --out out.json

Writes ``{"metrics": {"top1": x}, "n_images": n, ...}``.
"""

from __future__ import annotations

from ..analysis.accuracy import top1_accuracy
from . import vision_eval


def main(argv: list[str] | None = None) -> None:
    args = vision_eval.parser(__doc__, subset="max-images").parse_args(argv)
    model, _, device = vision_eval.checkpoint(args, need_layers=False)
    result = top1_accuracy(model, vision_eval.batches(args), device)
    vision_eval.write_json(
        args.out,
        {"metrics": {"top1": result.top1}, "n_images": result.n_images, "checkpoint": str(args.checkpoint),
         "res": args.res, "flip_tta": True},
    )


if __name__ == "__main__":
    main()
