"""Write a TDANN checkpoint and unit positions in its authors' formats, from random weights (test files).

    python -m toponets.cli.tdann_test_files --image-size 32 --seed 0 --weights W.torch --positions DIR

The smoke preset imports these instead of the released TDANN, so that its
evaluations of a TDANN run go through the same importer and rules.
"""

from __future__ import annotations

import argparse

import torch

from toponets.models import build
from toponets.tdann_files import random_positions, write_positions, write_trunk


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=224, help="input size the positions are made for")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and positions")
    parser.add_argument("--weights", required=True, help="the VISSL-layout checkpoint to write (.torch)")
    parser.add_argument("--positions", required=True, help="the directory of per-layer .npz positions to write")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    write_trunk(args.weights, build("tdann", image_size=args.image_size))
    write_positions(args.positions, random_positions(args.image_size, args.seed), args.image_size)
    print(args.weights)


if __name__ == "__main__":
    main()
