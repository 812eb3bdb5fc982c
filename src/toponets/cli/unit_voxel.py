"""One-to-one unit-to-voxel correlation of a vision checkpoint with brain responses (paper §3.4, METHODS §6).

    python -m toponets.cli.unit_voxel --checkpoint C.safetensors \
        --neural allen:DIR | nsd:ROOT,subject=1,roi=streams:ventral[,sessions=N][,max_train_images=N] \
        [--settings '{"unit_voxel": {"res": 64, "layer": NAME, "batch_size": 256, "matching": "hungarian",
                      "ceiling": "auto"}}'] [--device auto] --out scores.json --voxels voxels.csv

Settings: the config's evaluation.unit_voxel (toponets.settings.UnitVoxel;
its neural, which data, is the workflow's: --neural names the files).
matching: hungarian (one optimal one-to-one assignment, Margalit et al.) or
best (each voxel's best unit); ceiling: auto, subject-to-subject,
neuron-to-neuron or none. Images go through the evaluation transform of the other vision analyses
(greyscale copied to 3 channels, resized and centre-cropped to res); a unit's
response is its channel output averaged over space. The layer defaults to the
checkpoint's last topographic layer. Margalit et al.'s procedure
(`toponets.analysis.unit_voxel`): one-to-one assignment on the training
images, test r divided by sqrt of the voxel's NSD noise ceiling (from the
test trials, where the data have them), normalised by the same mapping done
between subjects. Ceiling ``auto`` is subject-to-subject when several
``--neural`` data sets (the paper's 8 NSD subjects) share test image ids,
neuron-to-neuron for one recording (Allen), else none (one NSD subject: R
is then null).

Writes ``{"metrics": {"r_raw", "r_corrected", "ceiling", "r_normalised",
"n_units", "n_voxels"}, "per_dataset": {name: {...}}, ...}`` (undefined
values as null): per data set its mean raw and corrected test r and its
ceiling, the metrics their means over data sets and r_normalised = mean
r_corrected / mean ceiling; and a tidy CSV with one row per data set and
voxel: dataset, voxel, unit, row, col, r_train, r_test, noise_ceiling (unit
-1 and row/col -1 where a voxel has no match; noise_ceiling the voxel's NC,
NaN without trials).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.unit_voxel import (
    model_responses,
    neuron_to_neuron,
    one_to_one,
    sheet_positions,
    subject_to_subject,
    summary,
    voxel_noise_ceiling,
)
from ..data.neural import NeuralData, load_allen, load_nsd
from ..unit_positions import given_positions, layer_positions
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


@dataclass(frozen=True)
class Scored:
    """What the ceilings and summaries need of one scored data set, its images and training responses dropped."""

    name: str
    r_test: np.ndarray  # (voxels,) test r of each voxel's matched unit
    voxel_ceiling: np.ndarray | None  # (voxels,) NSD noise ceiling; None without trials
    test_ids: np.ndarray | None
    test_responses: np.ndarray
    own_ceiling: float  # neuron_to_neuron within the data set; NaN where that ceiling is not the one used
    n_units: int
    table: pd.DataFrame


def score(model, layer: str, data: NeuralData, args: argparse.Namespace, device) -> Scored:
    """Match the data set's voxels with the layer's units, and its per-voxel table (see the module doc)."""
    units_train, units_test = (
        model_responses(model, layer, images, args.res, args.batch_size, device)
        for images in (data.train_images, data.test_images)
    )
    match = one_to_one(units_train, data.train_responses, units_test, data.test_responses, args.matching)
    voxel_ceiling = None if data.test_trials is None else voxel_noise_ceiling(data.test_trials)
    own = math.nan
    wanted = args.ceiling == "neuron-to-neuron" or (args.ceiling == "auto" and data.test_ids is None)
    if wanted and len(args.neural) == 1:
        own = neuron_to_neuron(data.train_responses, data.test_responses, voxel_ceiling, args.matching)
    given = given_positions(model, layer) is not None  # TDANN's units have positions in mm; TopoNets' a sheet
    n_units = units_train.shape[1]
    positions = sheet_positions(match.unit, n_units, layer_positions(model, layer, n_units) if given else None)
    table = pd.DataFrame({
        "dataset": data.name,
        "voxel": range(data.voxels),
        "unit": match.unit,
        "row": positions[:, 0],
        "col": positions[:, 1],
        "r_train": match.r_train,
        "r_test": match.r_test,
        "noise_ceiling": float("nan") if voxel_ceiling is None else voxel_ceiling,
    })
    return Scored(data.name, match.r_test, voxel_ceiling, data.test_ids, data.test_responses, own,
                  int(units_train.shape[1]), table)


def ceiling_kind(requested: str, scored: list[Scored]) -> str:
    """The ceiling that ``auto`` stands for with these data sets (module doc); a requested one is checked."""
    shared = len(scored) >= 2 and all(s.test_ids is not None for s in scored)
    kind = requested
    if requested == "auto":
        one_recording = len(scored) == 1 and scored[0].test_ids is None  # Allen: one animal, no shared image ids
        kind = "subject-to-subject" if shared else "neuron-to-neuron" if one_recording else "none"
    if kind == "subject-to-subject" and not shared:
        raise SystemExit("a subject-to-subject ceiling needs several --neural subjects with shared test images")
    if kind == "neuron-to-neuron" and len(scored) != 1:
        raise SystemExit("a neuron-to-neuron ceiling is for one recording; several subjects use subject-to-subject")
    return kind


def shared_responses(target: Scored, source: Scored) -> tuple[np.ndarray, np.ndarray]:
    """The two data sets' test responses to the test images both have, in one order."""
    common = np.intersect1d(target.test_ids, source.test_ids)
    return (target.test_responses[np.searchsorted(target.test_ids, common)],
            source.test_responses[np.searchsorted(source.test_ids, common)])


def ceilings(kind: str, scored: list[Scored], matching: str) -> list[float | None]:
    """Each data set's ceiling: the mean over the other subjects of subject_to_subject, neuron_to_neuron, or None."""
    if kind == "none":
        return [None] * len(scored)
    if kind == "neuron-to-neuron":
        return [s.own_ceiling for s in scored]
    return [
        float(np.nanmean([
            subject_to_subject(*shared_responses(target, source), target.voxel_ceiling, source.voxel_ceiling,
                               matching=matching)
            for source in scored if source is not target
        ]))
        for target in scored
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="vision checkpoint (.safetensors with its .json sidecar)")
    p.add_argument("--neural", required=True, nargs="+",
                   help="allen:DIR or nsd:ROOT,subject=N,roi=NAME[:LABELS][,...]; several (e.g. NSD subjects) are averaged")
    eval_args.add_settings(p, "unit_voxel")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", required=True, help="JSON file of scores to write")
    p.add_argument("--voxels", required=True, help="CSV file of per-voxel matches to write")
    args = eval_args.read_settings(p, p.parse_args(argv))
    args.language = False
    settings = args.settings["unit_voxel"]
    args.res, args.batch_size, args.matching, args.ceiling = (settings.res, settings.batch_size, settings.matching,
                                                              settings.ceiling)
    ident = eval_args.identity(args.checkpoint, "unit_voxel")

    model, layers, device = eval_args.checkpoint(args)
    layer = settings.layer or layers[-1]
    scored = [score(model, layer, neural_data(spec), args, device) for spec in args.neural]  # one data set in memory
    kind = ceiling_kind(args.ceiling, scored)
    per_dataset = {
        s.name: {key: eval_args.number(value)
                 for key, value in {**summary(s.r_test, s.voxel_ceiling, level), "n_units": s.n_units,
                                    "n_voxels": s.r_test.size}.items()}
        for s, level in zip(scored, ceilings(kind, scored, args.matching))
    }  # fmt: skip
    means = pd.DataFrame(list(per_dataset.values())).astype(float).mean()  # NaN (null) where undefined
    means["r_normalised"] = means["r_corrected"] / means["ceiling"] if means["ceiling"] > 0 else float("nan")
    report = {
        "metrics": {key: eval_args.number(value) for key, value in means.items()},
        "per_dataset": per_dataset,
        "layer": layer,
        "matching": args.matching,
        "ceiling_method": kind,
        "reduce": "mean",
        "res": args.res,
        "checkpoint": str(args.checkpoint),
    }
    eval_args.write_csv(args.voxels, pd.concat([s.table for s in scored], ignore_index=True), ident)
    eval_args.write_json(args.out, report, ident)


if __name__ == "__main__":
    main()
