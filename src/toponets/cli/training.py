"""What the training entry points share: the spec argument, run outputs, device and threads."""

from __future__ import annotations

import argparse

import torch

from ..config_io import json_argument


def read_spec(text: str) -> dict:
    """--spec: JSON text, or the path of a JSON file."""
    try:
        return json_argument(text, "--spec")
    except ValueError as err:
        raise SystemExit(str(err)) from None


def parser(doc: str) -> argparse.ArgumentParser:
    """--spec, --out, --metrics, --state, --device and --threads; the caller adds its data arguments."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--spec", required=True, help="experiment spec: JSON text or a .json file")
    p.add_argument("--out", required=True, help="final checkpoint (.safetensors, with a .json sidecar)")
    p.add_argument("--metrics", required=True, help="JSON-lines metrics log")
    p.add_argument("--state", required=True, help="resumable training state (not a workflow output)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=int, help="CPU threads for torch (give the rule's threads)")
    return p


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, and apply --threads."""
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args
