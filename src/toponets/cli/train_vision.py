"""Train one vision TopoNet: ``python -m toponets.cli.train_vision --spec SPEC ...``.

SPEC is the resolved experiment as JSON text or a path to a .json file
(see `toponets.train.vision.DEFAULT_RECIPES` for the recipe keys and their per-family defaults).
On several GPUs, start it with ``torchrun --standalone --nproc-per-node N -m
toponets.cli.train_vision ...``: the recipe's batch_size (global) must then be
a multiple of N. The last metrics record is printed as JSON (by rank 0 only).
"""

from __future__ import annotations

import json

from ..train import distributed
from ..train.vision import train_vision
from . import training


def main(argv: list[str] | None = None) -> None:
    parser = training.parser(__doc__)
    parser.add_argument("--train-dir", required=True, help="training images (ImageFolder) or .beton file")
    parser.add_argument("--val-dir", help="validation images (ImageFolder) or .beton file; omit to skip validation")
    args = training.parse(parser, argv)
    last = train_vision(
        training.read_spec(args.spec), args.train_dir, args.val_dir, args.out, args.metrics, args.state,
        device=args.device,
    )
    if distributed.is_main_process():
        print(json.dumps(last))


if __name__ == "__main__":
    main()
