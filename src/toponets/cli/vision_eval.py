"""What the vision evaluation entry points share: arguments, checkpoint, stimuli, JSON output."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import torch
from torch import nn

from ..checkpoints import load_checkpoint
from ..data.images import eval_transform, image_folder, loader
from ..device import select_device
from ..io import atomic_path


def parser(doc: str, *, subset: str) -> argparse.ArgumentParser:
    """Arguments of a vision evaluation; `subset` is "n-images" (required count) or "max-images" (optional cap)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="model checkpoint (.safetensors with its .json sidecar)")
    p.add_argument("--images", required=True, help="validation images in ImageFolder layout")
    p.add_argument("--res", type=int, required=True, help="evaluation resolution (centre crop, ratio 224/256)")
    if subset == "n-images":
        p.add_argument("--n-images", type=int, required=True, help="number of stimuli (a fixed random subset)")
    else:
        p.add_argument("--max-images", type=int, default=None, help="evaluate a fixed random subset of this size")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--out", required=True, help="file to write")
    return p


def checkpoint(args: argparse.Namespace, *, need_layers: bool = True) -> tuple[nn.Module, list[str], torch.device]:
    """The model of `--checkpoint` on `--device`, with its topographic layers."""
    device = select_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=device)
    layers = meta["topo"]["layers"]
    if need_layers and not layers:
        raise SystemExit(f"checkpoint {args.checkpoint} lists no topographic layers (meta topo.layers is empty)")
    return model, layers, device


def batches(args: argparse.Namespace):
    """Batches of `--images` at `--res`: all, or the fixed subset of `--n-images` / `--max-images`."""
    limit = getattr(args, "n_images", None) or getattr(args, "max_images", None)
    dataset = image_folder(args.images, transform=eval_transform(args.res), max_images=limit)
    return loader(dataset, args.batch_size, shuffle=False, num_workers=args.workers)


def number(x: float) -> float | None:
    """JSON has no NaN: undefined values become null."""
    return None if math.isnan(x) else float(x)


def write_json(path: str, report: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
