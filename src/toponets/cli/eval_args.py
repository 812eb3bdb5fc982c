"""What the evaluation entry points share: arguments, settings, checkpoint, stimuli, JSON and CSV output.

Every evaluation takes its settings as one argument, ``--settings``: JSON
text or a .json file of the config's ``evaluation`` sections it reads
(`toponets.settings.READS`), e.g. ``'{"smoothness": {"n_images": 100}}'``;
left-out sections and keys take their defaults (the schema's). The command
line names only the job's own files and device. Stimuli are validation
images for vision checkpoints (``--images DIR``, at the settings' res) or
fixed token windows for language checkpoints (a prepare_text directory:
``--text DIR`` reads its train split, for the response analyses;
``--val-text DIR`` its val split, for validation loss). `use_stimuli` sets
``args.res``, ``args.n`` (a fixed random subset of that many stimuli, or
all of them for None), ``args.length`` and ``args.batch_size`` from the
settings. Every output records its run (`identity`): JSON reports in
``"analysis"`` and ``"run"``, CSV tables in columns model, tau and seed.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch
from torch import nn

from .. import settings as settings_types
from ..analysis.language import context_length, loss_metric, text_batches, token_windows
from ..checkpoints import RUN_FIELDS, checkpoint_run, load_checkpoint
from ..data.text import TokenShards
from ..device import select_device
from ..io import atomic_path
from ..model_spec import LANGUAGE

STIMULI = ("images", "text", "val-text")
TEXT_SPLITS = {"text": "train", "val_text": "val"}  # stimulus argument -> split of the token shards it reads


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got '{text}'") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got '{text}'")
    return value


def add_settings(p: argparse.ArgumentParser, analysis: str) -> argparse.ArgumentParser:
    """--settings of `analysis`: its sections of the config's ``evaluation`` (toponets.settings.READS)."""
    sections = ", ".join(settings_types.READS[analysis])
    p.add_argument("--settings", default="{}", help=f"JSON text or a .json file of evaluation sections ({sections}): "
                   '{"section": {"key": value}}; left-out keys take their defaults')
    p.set_defaults(analysis=analysis)
    return p


def read_settings(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Replace ``args.settings`` (the --settings text) by the settings it gives (toponets.settings.Settings)."""
    try:
        args.settings = settings_types.read(args.settings, args.analysis)
    except ValueError as err:
        p.error(str(err))
    return args


def parser(doc: str, analysis: str, *, stimuli: tuple[str, ...] = ("images",)) -> argparse.ArgumentParser:
    """Arguments of the evaluation `analysis` on `stimuli` (some of `STIMULI`, exactly one given per run)."""
    unknown = set(stimuli) - set(STIMULI)
    if not stimuli or unknown:
        raise ValueError(f"stimuli must be some of {STIMULI}, got {stimuli}")
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="model checkpoint (.safetensors with its .json sidecar)")
    add_settings(p, analysis)
    source = p.add_mutually_exclusive_group(required=True)
    if "images" in stimuli:
        source.add_argument("--images", help="validation images in ImageFolder layout (vision checkpoints)")
    if "text" in stimuli:
        source.add_argument("--text", help="token shards of prepare_text (language checkpoints): train-split windows")
    if "val-text" in stimuli:
        source.add_argument("--val-text", help="token shards of prepare_text (language checkpoints): val-split windows")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    if "images" in stimuli:
        p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--out", required=True, help="file to write")
    return p


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse `argv` and its --settings, and set ``args.language`` (token windows given)."""
    args = read_settings(p, p.parse_args(argv))
    args.language = any(getattr(args, name, None) for name in TEXT_SPLITS)
    return args


def use_stimuli(
    args: argparse.Namespace, section: str, *, count: str | None = None, windows: str | None = None,
    validation: bool = False,
) -> argparse.Namespace:
    """Set the stimulus settings of `args` from its settings' `section`: ``batch_size``; for images ``res``
    and ``n`` (the section's `count` key; None: all), with `validation` (top-1 accuracy) also ``flip_tta``,
    both null = the checkpoint recipe's (`validation_protocol`); for token windows ``n`` and ``length``,
    the section `windows`' n_samples and length (default `section`'s)."""
    own = args.settings[section]
    args.batch_size, args.validation = own.batch_size, validation and not args.language
    if args.language:
        window = args.settings[windows or section]
        args.n, args.length = window.n_samples, window.length
    else:
        args.res, args.n = own.res, getattr(own, count) if count else None
        args.flip_tta = own.flip_tta if validation else None
    return args


def validation_protocol(meta: dict[str, Any]) -> tuple[int, bool]:
    """(resolution, flip test-time augmentation) with which the recipe of the checkpoint of sidecar `meta`
    validates: ffcv's ResNets 256 px with flips (rn18/rn50 configs, `validation: resolution: 256,
    lr_tta: true`), torchvision's ViT 224 px without."""
    from ..train.vision import DEFAULT_RECIPES  # torchvision: imported by vision jobs only

    family = meta["model"]["family"]
    if family not in DEFAULT_RECIPES:
        raise SystemExit(f"a {family} checkpoint has no training recipe to validate as: give settings res and flip_tta")
    recipe = {**DEFAULT_RECIPES[family], **(meta.get("config") or {}).get("recipe", {})}
    return recipe["val_res"], recipe["val_flip"]


def checkpoint(args: argparse.Namespace, *, need_layers: bool = True) -> tuple[nn.Module, list[str], torch.device]:
    """The model of `--checkpoint` on `--device`, with its topographic layers; the stimuli must suit it."""
    device = select_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=device)
    family, layers = meta["model"]["family"], meta["topo"]["layers"]
    if need_layers and not layers:
        raise SystemExit(f"checkpoint {args.checkpoint} lists no topographic layers (meta topo.layers is empty)")
    if (family in LANGUAGE) != args.language:
        wanted = "token windows (--text/--val-text DIR)" if family in LANGUAGE else "--images DIR"
        raise SystemExit(f"checkpoint {args.checkpoint} is a {family} model: give it {wanted}")
    if getattr(args, "validation", False):
        res, flip = validation_protocol(meta)
        args.res = res if args.res is None else args.res
        args.flip_tta = flip if args.flip_tta is None else args.flip_tta
    context = context_length(model) if args.language else None
    if context is not None and args.length > context:
        raise SystemExit(f"settings length {args.length} exceeds the {context}-token context of {args.checkpoint}; "
                         f"use a length of {context} or less")
    return model, layers, device


def _text_source(args: argparse.Namespace) -> tuple[str, str]:
    """The token shards directory and split that `--text` (train) or `--val-text` (val) names."""
    name = next(name for name in TEXT_SPLITS if getattr(args, name, None))
    return getattr(args, name), TEXT_SPLITS[name]


def shards(args: argparse.Namespace) -> TokenShards:
    """The split of the token shards that `--text` (train) or `--val-text` (val) names."""
    return TokenShards(*_text_source(args))


def batches(args: argparse.Namespace):
    """Stimulus batches: `--images` at `--res` or token windows of `--length`, all or the fixed subset of `args.n`."""
    if args.language:
        return text_batches(token_windows(shards(args), args.n, args.length), args.batch_size)
    from ..data.images import eval_transform, image_folder, loader  # torchvision: imported by vision jobs only

    dataset = image_folder(args.images, transform=eval_transform(args.res), max_images=args.n)
    return loader(dataset, args.batch_size, shuffle=False, num_workers=args.workers)


def val_loss_metric(args: argparse.Namespace, device: torch.device) -> Callable[[nn.Module], float]:
    """model -> its mean next-token loss on the fixed windows of the arguments (read once)."""
    return loss_metric(shards(args), args.n, args.length, args.batch_size, device)


def stimulus_report(args: argparse.Namespace, n: int) -> dict[str, Any]:
    """The report fields naming the stimuli: image count and resolution, or window count, length and split."""
    if args.language:
        return {"n_samples": n, "length": args.length, "split": _text_source(args)[1]}
    return {"n_images": n, "res": args.res}


def number(x: float) -> float | None:
    """JSON has no NaN: undefined values become null."""
    return None if math.isnan(x) else float(x)


def identity(checkpoint: str, analysis: str) -> dict[str, Any]:
    """What an output records of where it comes from: the `analysis` that wrote it (the entry point's name,
    or what it was told to compute: selectivity_untrained, lora-<corpus>) and the run of `checkpoint`
    (model, tau, seed, from its sidecar). Tidy tables read the run from here, never from file names."""
    try:
        return {"analysis": analysis, "run": checkpoint_run(checkpoint)}
    except ValueError as err:
        raise SystemExit(str(err)) from None


def write_json(path: str, report: dict[str, Any], ident: dict[str, Any]) -> None:
    """`report` with the `identity` `ident` in front: ``{"analysis": ..., "run": {model, tau, seed}, ...}``."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({**ident, **report}, indent=2) + "\n")


def write_csv(path: str, table: pd.DataFrame, ident: dict[str, Any]) -> None:
    """`table` with the run of the `identity` `ident` as columns model, tau and seed in front."""
    clash = [c for c in RUN_FIELDS if c in table.columns]
    if clash:
        raise ValueError(f"table columns {clash} would hide the run's identity columns {RUN_FIELDS}")
    run = ident["run"]
    table = table.assign(**run)[[*RUN_FIELDS, *table.columns]]
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
