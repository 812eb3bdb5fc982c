"""Take one of the authors' released checkpoints as a run's checkpoint, instead of training it.

    python -m toponets.cli.import_checkpoint --weights all_topo_tau_10.0.pt --spec SPEC.json --out model.safetensors
    python -m toponets.cli.import_checkpoint --weights model_final_checkpoint_phase199.torch \
        --positions POSITIONS_DIR --spec SPEC.json --out model.safetensors      (TDANN)
"""

from __future__ import annotations

import argparse
import sys

from toponets.checkpoints import import_authors_checkpoint
from toponets.cli.training import read_spec


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="the authors' .pt file (METHODS §1.7 formats)")
    parser.add_argument("--spec", required=True, help="the run's spec, JSON text or file (family, options, placement, factor, tau)")
    parser.add_argument("--positions", help="TDANN only: the directory of its per-layer unit positions (.npz)")
    parser.add_argument("--out", required=True, help="our checkpoint, .safetensors (the .json sidecar is written beside it)")
    args = parser.parse_args(argv)
    try:
        import_authors_checkpoint(args.weights, args.out, read_spec(args.spec), positions=args.positions)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"import_checkpoint: {err}")
    print(args.out)


if __name__ == "__main__":
    main()
