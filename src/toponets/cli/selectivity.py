"""Category-selectivity t-maps on the cortical sheet and their structural similarity (METHODS §4, Figure 5A).

    python -m toponets.cli.selectivity --checkpoint C.safetensors --floc FLOC_DIR \
        --animacy-size KONKLE_AS_DIR [--realworld-size KONKLE_RW_DIR] [--layers NAME ...] \
        [--settings '{"selectivity": {"res": 224, "late_fraction": 0.25, "reduce": "mean", "max_per_category": N,
                      "shuffles": 20, "batch_size": 256}}'] \
        [--untrained] [--init-seed 0] [--device auto] [--workers 0] \
        --maps maps.csv --ssim ssim.csv --out selectivity.json

Settings: the config's evaluation.selectivity (toponets.settings.Selectivity;
its experiments are the workflow's): res (centre crop), max_per_category
(images per category or condition, spread over each; null = all), reduce
(of conv channels over space), late_fraction, shuffles and batch_size.
Directories are extracted stimulus archives (see `toponets.data.stimuli`).
Contrasts: faces, bodies, places, characters, objects (fLoc, each domain vs
all other non-scrambled categories), animacy and size (Konkle animacy x
size), and size_objects with --realworld-size. --untrained keeps the
checkpoint's architecture but not its weights: a fresh initialisation drawn
with --init-seed (the "untrained" column of Figure 5A). --layers defaults to
the checkpoint's topographic layers.

Writes the maps as a tidy CSV (weights, layer, contrast, row, col, t; weights
is "trained" or "untrained"); the map similarities as a tidy CSV (weights,
layer, pair, first, second, ssim, win_size, r, ssim_shuffled) for the pairs
face_body, face_place, size_animacy (and size_objects_animacy with
--realworld-size): ssim of the two maps each scaled to [0, 1]
(`toponets.analysis.selectivity`), r their Pearson correlation, and
ssim_shuffled the mean SSIM over `shuffles` random layouts of the units (the
same layout for both maps, seeded 0): the SSIM that needs no topography; and
a JSON report: ``metrics`` holds ``ssim_<pair>``, ``r_<pair>`` and
``ssim_shuffled_<pair>``, means over the late layers (the last
late_fraction of the analysed layers in module order, at least one; for
ResNet-18's 19 layers the 5 of layer4), and ``fig5a_ssim_<pair>``, the SSIM
of the last analysed layer, the one Figure 5A draws (``fig5a_layer``);
``ssim_per_layer`` every layer's SSIMs, plus the late layers, contrasts,
image counts and settings. Undefined values are null.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict

import numpy as np
import pandas as pd
import skimage
import torch

from ..analysis.selectivity import SSIM_PAIRS, MapSimilarity, layer_responses, pair_ssims, selectivity_maps
from ..checkpoints import load_checkpoint, read_meta
from ..data.images import loader
from ..data.stimuli import StimulusImages, selectivity_stimuli
from ..device import select_device
from ..model_spec import VISION
from ..models import build
from ..unit_positions import given_positions, layer_positions
from . import eval_args


MEAN_COLUMNS = ("ssim", "r", "ssim_shuffled")  # similarity columns averaged over the late layers into the metrics


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="vision checkpoint (.safetensors with its .json sidecar)")
    p.add_argument("--floc", required=True, help="extracted fLoc stimuli (<category>/<category>-<n>.jpg)")
    p.add_argument("--animacy-size", required=True, help="extracted konkle-animacy-size stimuli")
    p.add_argument("--realworld-size", help="extracted konkle-realworld-size stimuli: adds the size_objects contrast")
    p.add_argument("--layers", nargs="+", metavar="NAME", help="layers to map; default the topographic layers")
    p.add_argument("--untrained", action="store_true", help="the checkpoint's architecture, freshly initialised")
    p.add_argument("--init-seed", type=int, default=0, help="seed of the --untrained initialisation")
    eval_args.add_settings(p, "selectivity")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--maps", required=True, help="tidy CSV of t-maps to write")
    p.add_argument("--ssim", required=True, help="tidy CSV of structural similarities to write")
    p.add_argument("--out", required=True, help="JSON report to write")
    return p


def model_and_layers(args: argparse.Namespace, device: torch.device) -> tuple[torch.nn.Module, list[str]]:
    """The checkpoint's model (or, with --untrained, its architecture seeded afresh) and the layers to map."""
    if args.untrained:
        meta = read_meta(args.checkpoint)
        torch.manual_seed(args.init_seed)
        model = build(meta["model"]["family"], **meta["model"]["options"]).to(device)
    else:
        model, meta = load_checkpoint(args.checkpoint, device=device)
    family = meta["model"]["family"]
    if family not in VISION:
        raise SystemExit(f"checkpoint {args.checkpoint} is a {family} model; selectivity maps need one of {VISION}")
    layers = args.layers or meta["topo"]["layers"]
    if not layers:
        raise SystemExit(f"checkpoint {args.checkpoint} lists no topographic layers; name them with --layers")
    return model, layers


def late_layers(layers: list[str], late_fraction: float) -> list[str]:
    """The last `late_fraction` of `layers` (at least one)."""
    return layers[-max(1, math.ceil(len(layers) * late_fraction)) :]


def map_table(maps: dict[str, dict[str, np.ndarray]], weights: str) -> pd.DataFrame:
    """Tidy t-maps: one row per layer, contrast and sheet position (weights, layer, contrast, row, col, t)."""
    return pd.concat(
        [
            pd.DataFrame({"weights": weights, "layer": layer, "contrast": contrast,
                          "row": np.repeat(np.arange(t.shape[0]), t.shape[1]),
                          "col": np.tile(np.arange(t.shape[1]), t.shape[0]), "t": t.ravel()})
            for layer, layer_maps in maps.items()
            for contrast, t in layer_maps.items()
        ],
        ignore_index=True,
    )  # fmt: skip


def ssim_table(ssims: dict[str, dict[str, MapSimilarity]], weights: str) -> pd.DataFrame:
    """Tidy similarities: one row per layer and map pair (weights, layer, pair, first, second, ssim, win_size,
    r, ssim_shuffled)."""
    columns = ["weights", "layer", "pair", "first", "second", "ssim", "win_size", "r", "ssim_shuffled"]
    return pd.DataFrame(
        [
            {"weights": weights, "layer": layer, "pair": pair, "first": SSIM_PAIRS[pair][0],
             "second": SSIM_PAIRS[pair][1], **asdict(similarity)}
            for layer, pairs in ssims.items()
            for pair, similarity in pairs.items()
        ],
        columns=columns,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = build_parser()
    args = eval_args.read_settings(p, p.parse_args(argv))
    settings = args.settings["selectivity"]
    ident = eval_args.identity(args.checkpoint, "selectivity_untrained" if args.untrained else "selectivity")
    device = select_device(args.device)
    model, layers = model_and_layers(args, device)
    stimuli, contrasts = selectivity_stimuli(args.floc, args.animacy_size, args.realworld_size, settings.max_per_category)
    batches = loader(StimulusImages(stimuli, settings.res), settings.batch_size, shuffle=False, num_workers=args.workers)
    responses = layer_responses(model, layers, batches, device, settings.reduce)
    positions = {layer: layer_positions(model, layer, x.shape[1]) for layer, x in responses.items()
                 if given_positions(model, layer) is not None}  # TDANN's; TopoNets' units sit on their sheet
    maps = selectivity_maps(responses, [s.label for s in stimuli], contrasts, positions)
    ssims = {layer: pair_ssims(layer_maps, settings.shuffles) for layer, layer_maps in maps.items()}

    weights = "untrained" if args.untrained else "trained"
    map_rows, ssim_rows = map_table(maps, weights), ssim_table(ssims, weights)
    late = late_layers(layers, settings.late_fraction)
    late_means = ssim_rows[ssim_rows.layer.isin(late)].groupby("pair", sort=False)[list(MEAN_COLUMNS)].mean()
    report = {
        "metrics": {
            f"{kind}_{pair}": eval_args.number(value)
            for kind in MEAN_COLUMNS
            for pair, value in late_means[kind].items()
        }
        | {f"fig5a_ssim_{pair}": eval_args.number(similarity.ssim) for pair, similarity in ssims[layers[-1]].items()},
        "fig5a_layer": layers[-1],
        "ssim_per_layer": {
            layer: {pair: eval_args.number(similarity.ssim) for pair, similarity in pairs.items()}
            for layer, pairs in ssims.items()
        },
        "late_layers": late,
        "late_fraction": settings.late_fraction,
        "contrasts": {
            c.name: {"on": list(c.on), "off": list(c.off),
                     "n_on": sum(s.label in c.on for s in stimuli), "n_off": sum(s.label in c.off for s in stimuli)}
            for c in contrasts
        },  # fmt: skip
        "ssim": {"implementation": f"skimage.metrics.structural_similarity (scikit-image {skimage.__version__})",
                 "scaling": "each map min-max to [0, 1], data_range 1",
                 "win_size": "7, or the largest odd size <= the shorter side"},
        "n_images": len(stimuli),
        "max_per_category": settings.max_per_category,
        "res": settings.res,
        "reduce": settings.reduce,
        "shuffles": settings.shuffles,
        "weights": weights,
        "init_seed": args.init_seed if args.untrained else None,
        "checkpoint": str(args.checkpoint),
    }  # fmt: skip
    eval_args.write_csv(args.maps, map_rows, ident)
    eval_args.write_csv(args.ssim, ssim_rows, ident)
    eval_args.write_json(args.out, report, ident)


if __name__ == "__main__":
    main()
