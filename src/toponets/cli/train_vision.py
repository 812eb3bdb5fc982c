"""Train one vision TopoNet: ``python -m toponets.cli.train_vision --spec SPEC ...``.

SPEC is the resolved experiment as JSON text or a path to a .json file
(see `toponets.train.vision.DEFAULT_RECIPE` for the recipe keys).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..train.vision import train_vision


def read_spec(text: str) -> dict:
    """JSON text, or the path of a JSON file."""
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise SystemExit(f"--spec: {text!r} is neither JSON text nor an existing .json file")
        text = path.read_text()
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        raise SystemExit(f"--spec is not valid JSON: {err}") from err
    if not isinstance(spec, dict):
        raise SystemExit("--spec must be a JSON object")
    return spec


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="experiment spec: JSON text or a .json file")
    parser.add_argument("--train-dir", required=True, help="training images (ImageFolder) or .beton file")
    parser.add_argument("--val-dir", help="validation images (ImageFolder) or .beton file; omit to skip validation")
    parser.add_argument("--out", required=True, help="final checkpoint (.safetensors, with a .json sidecar)")
    parser.add_argument("--metrics", required=True, help="JSON-lines metrics log")
    parser.add_argument("--state", required=True, help="resumable training state (not a workflow output)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (give the rule's threads)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    last = train_vision(
        read_spec(args.spec), args.train_dir, args.val_dir, args.out, args.metrics, args.state, device=args.device
    )
    print(json.dumps(last))


if __name__ == "__main__":
    main()
