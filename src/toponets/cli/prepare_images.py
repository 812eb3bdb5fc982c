"""Build an ImageFolder dataset directory from a Tiny-ImageNet archive or a local ImageNet directory.

    python -m toponets.cli.prepare_images --tiny-imagenet ARCHIVE --out DIR [--classes N]
        [--train-per-class K] [--val-per-class V]
    python -m toponets.cli.prepare_images --imagenet-dir DIR --out DIR [caps as above]
"""

from __future__ import annotations

import argparse
import sys

from toponets.data import prepare_images
from toponets.data.sources import DataSourceError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--tiny-imagenet",
        metavar="ARCHIVE",
        help="Tiny-ImageNet-200: the mirror's imagenet/tiny-imagenet-200.tar or the official tiny-imagenet-200.zip",
    )
    source.add_argument("--imagenet-dir", metavar="DIR", help="ILSVRC-2012 in ImageFolder layout (train/, val/)")
    parser.add_argument("--out", required=True, help="output directory; must not exist yet")
    parser.add_argument("--classes", type=int, help="keep the first N classes (sorted wnids); default all")
    parser.add_argument("--train-per-class", type=int, help="keep the first K train images per class; default all")
    parser.add_argument("--val-per-class", type=int, help="keep the first V val images per class; default all")
    args = parser.parse_args(argv)

    caps = dict(classes=args.classes, train_per_class=args.train_per_class, val_per_class=args.val_per_class)
    try:
        if args.tiny_imagenet:
            summary = prepare_images.from_tiny_imagenet(args.tiny_imagenet, args.out, **caps)
        else:
            summary = prepare_images.from_imagenet_dir(args.imagenet_dir, args.out, **caps)
    except (DataSourceError, ValueError) as e:
        sys.exit(f"prepare_images: {e}")
    counts = summary["counts"]
    print(f"{args.out}: {len(summary['classes'])} classes, {counts['train']} train / {counts['val']} val images")


if __name__ == "__main__":
    main()
