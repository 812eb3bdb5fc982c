"""Train one language TopoNet: ``python -m toponets.cli.train_language --spec SPEC ...``.

SPEC is the resolved experiment as JSON text or a path to a .json file
(see `toponets.train.language.DEFAULT_RECIPE` for the recipe keys). On several
GPUs, start it with ``torchrun --standalone --nproc-per-node N -m
toponets.cli.train_language ...``: the recipe's grad_accum must then be a
multiple of N. The last metrics record is printed as JSON (by rank 0 only).
"""

from __future__ import annotations

import json

from ..train import distributed
from ..train.language import train_language
from . import training


def main(argv: list[str] | None = None) -> None:
    parser = training.parser(__doc__)
    parser.add_argument("--data", required=True, help="directory of tokenised train/val shards")
    args = training.parse(parser, argv)
    last = train_language(
        training.read_spec(args.spec), args.data, args.out, args.metrics, args.state, device=args.device
    )
    if distributed.is_main_process():
        print(json.dumps(last))


if __name__ == "__main__":
    main()
