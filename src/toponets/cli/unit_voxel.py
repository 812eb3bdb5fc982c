"""One-to-one unit-to-voxel correlation of a vision checkpoint with brain responses (paper §3.4, METHODS §6).

    python -m toponets.cli.unit_voxel --checkpoint C.safetensors \
        --neural allen:DIR | nsd:ROOT,subject=1,roi=streams:ventral[,sessions=N][,max_train_images=N] \
        --res 64 [--layer NAME] [--batch-size 256] [--device auto] [--matching best|hungarian] \
        [--ceiling auto|split-half|neuron-to-neuron|none] --out scores.json --voxels voxels.csv

Images go through the evaluation transform of the other vision analyses
(greyscale copied to 3 channels, resized and centre-cropped to --res); a unit's
response is its channel output averaged over space. The layer defaults to the
checkpoint's last topographic layer. ``--ceiling auto`` is split-half when the
data have single test trials (NSD), else neuron-to-neuron (Allen); see
`toponets.analysis.unit_voxel`.

Several ``--neural`` data sets (the paper's 8 NSD subjects) are scored one by
one and their scores averaged. Writes ``{"metrics": {"r_raw", "ceiling",
"r_normalised", "n_units", "n_voxels"}, "per_dataset": {name: {...}}, ...}``
(undefined values as null) and a tidy CSV with one row per data set and voxel:
dataset, voxel, unit, row, col, r_train, r_test, ceiling (unit -1 and row/col
-1 where a voxel has no match).
"""

from __future__ import annotations

import argparse

import pandas as pd

from ..analysis.unit_voxel import (
    CEILINGS,
    MATCHINGS,
    model_responses,
    one_to_one,
    sheet_positions,
    summary,
    unit_ceiling,
)
from ..data.neural import NeuralData, load_allen, load_nsd
from . import eval_args

NSD_INTEGER_KEYS = ("subject", "sessions", "max_train_images")


def neural_data(spec: str) -> NeuralData:
    """Load the data that ``allen:DIR`` or ``nsd:ROOT,subject=S,roi=R[,sessions=N][,max_train_images=N]`` names."""
    kind, _, rest = spec.partition(":")
    if kind == "allen" and rest:
        return load_allen(rest)
    if kind == "nsd" and rest:
        root, *pairs = rest.split(",")
        options = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or key not in ("roi", *NSD_INTEGER_KEYS):
                raise SystemExit(f"bad NSD option '{pair}'; expected key=value with key one of roi, "
                                 f"{', '.join(NSD_INTEGER_KEYS)}")
            options[key] = int(value) if key in NSD_INTEGER_KEYS else value
        if "subject" not in options or "roi" not in options:
            raise SystemExit("--neural nsd:ROOT needs subject=N and roi=NAME[:LABELS], e.g. "
                             "nsd:/data/nsd,subject=1,roi=streams:ventral")
        return load_nsd(root, **options)
    raise SystemExit(f"--neural must be allen:DIR or nsd:ROOT,subject=N,roi=NAME, got '{spec}'")


def score(model, layer: str, data: NeuralData, args: argparse.Namespace, device) -> tuple[dict, str, pd.DataFrame]:
    """The summary scores, ceiling method and per-voxel table of one data set."""
    ceiling_kind = args.ceiling
    if ceiling_kind == "auto":
        ceiling_kind = "split-half" if data.test_trials is not None else "neuron-to-neuron"
    units_train, units_test = (
        model_responses(model, layer, images, args.res, args.batch_size, device)
        for images in (data.train_images, data.test_images)
    )
    match = one_to_one(units_train, data.train_responses, units_test, data.test_responses, args.matching)
    ceiling = unit_ceiling(ceiling_kind, data.train_responses, data.test_responses, data.test_trials, args.matching)
    positions = sheet_positions(match.unit, units_train.shape[1])
    table = pd.DataFrame({
        "dataset": data.name,
        "voxel": range(data.voxels),
        "unit": match.unit,
        "row": positions[:, 0],
        "col": positions[:, 1],
        "r_train": match.r_train,
        "r_test": match.r_test,
        "ceiling": float("nan") if ceiling is None else ceiling,
    })
    scores = {**summary(match.r_test, ceiling), "n_units": int(units_train.shape[1]), "n_voxels": int(data.voxels)}
    return scores, ceiling_kind, table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="vision checkpoint (.safetensors with its .json sidecar)")
    p.add_argument("--neural", required=True, nargs="+",
                   help="allen:DIR or nsd:ROOT,subject=N,roi=NAME[:LABELS][,...]; several (e.g. NSD subjects) are averaged")
    p.add_argument("--layer", help="layer whose channels are the units (default: the last topographic layer)")
    p.add_argument("--res", type=eval_args.positive_int, required=True, help="model input resolution")
    p.add_argument("--batch-size", type=eval_args.positive_int, default=256)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--matching", choices=MATCHINGS, default="best", help="best: reuse allowed; hungarian: one-to-one")
    p.add_argument("--ceiling", choices=("auto", *CEILINGS), default="auto")
    p.add_argument("--out", required=True, help="JSON file of scores to write")
    p.add_argument("--voxels", required=True, help="CSV file of per-voxel matches to write")
    args = p.parse_args(argv)
    args.language = False

    model, layers, device = eval_args.checkpoint(args)
    layer = args.layer or layers[-1]
    per_dataset, tables = {}, []
    for spec in args.neural:
        data = neural_data(spec)
        scores, ceiling_kind, table = score(model, layer, data, args, device)
        per_dataset[data.name] = {**{k: eval_args.number(v) for k, v in scores.items()}, "ceiling_method": ceiling_kind}
        tables.append(table)
    means = pd.DataFrame(list(per_dataset.values()))[list(scores)].astype(float).mean()  # NaN (null) where undefined
    report = {
        "metrics": {key: eval_args.number(value) for key, value in means.items()},
        "per_dataset": per_dataset,
        "layer": layer,
        "matching": args.matching,
        "reduce": "mean",
        "res": args.res,
        "checkpoint": str(args.checkpoint),
    }
    eval_args.write_csv(args.voxels, pd.concat(tables, ignore_index=True))
    eval_args.write_json(args.out, report)


if __name__ == "__main__":
    main()
