"""Top-1 validation accuracy of a vision checkpoint with flip test-time augmentation (METHODS §11.1).

    python -m toponets.cli.accuracy --checkpoint C.safetensors --images VAL_DIR \
        --res 64 --batch-size 256 [--max-images N] [--device auto] --out out.json

Writes ``{"metrics": {"top1": x}, "n_images": n, ...}``.
"""

from __future__ import annotations

import argparse
import json

from ..analysis.accuracy import top1_accuracy
from ..device import select_device
from ..checkpoints import load_checkpoint
from ..data.images import eval_transform, image_folder, loader
from ..io import atomic_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="model checkpoint (.safetensors with its .json sidecar)")
    parser.add_argument("--images", required=True, help="validation images in ImageFolder layout")
    parser.add_argument("--res", type=int, required=True, help="evaluation resolution (centre crop, ratio 224/256)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-images", type=int, default=None, help="evaluate a fixed random subset of this size")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--out", required=True, help="JSON file to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = select_device(args.device)
    model, _ = load_checkpoint(args.checkpoint, device=device)
    dataset = image_folder(args.images, transform=eval_transform(args.res), max_images=args.max_images)
    result = top1_accuracy(model, loader(dataset, args.batch_size, shuffle=False, num_workers=args.workers), device)
    report = {
        "metrics": {"top1": result.top1},
        "n_images": result.n_images,
        "checkpoint": str(args.checkpoint),
        "res": args.res,
        "flip_tta": True,
    }
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
