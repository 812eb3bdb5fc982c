"""Train one vision TopoNet: ``python -m toponets.cli.train_vision --spec SPEC ...``.

SPEC is the resolved experiment as JSON text or a path to a .json file
(see `toponets.train.vision.DEFAULT_RECIPE` for the recipe keys).
"""

from __future__ import annotations

import json

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
    print(json.dumps(last))


if __name__ == "__main__":
    main()
