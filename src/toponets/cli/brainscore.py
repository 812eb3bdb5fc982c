"""Brain-Score of a vision checkpoint, per benchmark and per region (METHODS §7; paper Tables 1-2, A.8).

Runs in .venv-brainscore (see toponets.brainscore_model):

    python -m toponets.cli.brainscore --checkpoint C.safetensors \
        --allen MIRROR/neural/allen --konkle-fmri MIRROR/neural/occipitoTemp_Multivariate11-Apr-2018.mat \
        --konkle-stimuli KONKLE_DIR [--settings '{"brainscore": {"benchmarks": "local", "konkle_image_type":
        "originals", "image_size": 224, "pls_splits": 10, "region_layers": {"IT": "layer4.1"}}}'] --out scores.json

    python -m toponets.cli.brainscore --checkpoint C.safetensors --settings '{"brainscore": {"benchmarks": "paper"}}' \
        --out scores.json

Settings: the config's evaluation.brainscore (toponets.settings.Brainscore).
benchmarks (null: local): a comma-separated list of benchmark identifiers and the groups ``local`` (the two
offline benchmarks built from the mirror) and ``paper`` (the public benchmarks of METHODS §7.2; needs
Brain-Score's servers or a filled ~/.brainio cache), e.g. ``paper,local``. KONKLE_DIR is the extracted
konkle-animacy-size.tar. image_size (null) defaults to a ViT's own input size and to 224 for ResNets.
pls_splits sets the cross-validation splits of the local PLS benchmark. region_layers
overrides the default region -> layer commitment, region by region (a JSON object). Region means average
every benchmark scored for the region, so ``paper,local`` mixes them: run ``paper`` alone for the paper's
tables. Writes ``{"metrics": {region: mean score, benchmark: score}, "regions": {...},
"benchmarks": {id: {region, score, raw, ceiling}}, "region_layers": {...}, ...}``; a benchmark's score
is ceiled when its ceiling is known, else raw (ceiling null).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from .. import brainscore_model as bs
from ..checkpoints import load_checkpoint
from ..data.neural import load_allen
from ..model_spec import VISION
from . import eval_args


def benchmark_regions(spec: str) -> dict[str, str]:
    """Benchmark identifier -> commitment region for a ``benchmarks`` setting (ids, 'local' and 'paper')."""
    public = {b: region for region, ids in bs.PAPER_BENCHMARKS.items() for b in ids}
    groups = {"local": dict(bs.LOCAL_BENCHMARKS), "paper": public}
    known = {**bs.LOCAL_BENCHMARKS, **public}
    wanted = [b.strip() for b in spec.split(",") if b.strip()]
    unknown = [b for b in wanted if b not in known and b not in groups]
    if not wanted or unknown:
        raise SystemExit(f"benchmarks: unknown benchmark(s) {unknown or spec!r}; use 'local', 'paper' or some of "
                         f"{sorted(known)}")
    regions: dict[str, str] = {}
    for b in wanted:
        regions.update(groups.get(b, {b: known.get(b)}))
    return regions


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="vision checkpoint (.safetensors with its .json sidecar)")
    eval_args.add_settings(p, "brainscore")
    p.add_argument("--allen", help="the mirror's neural/allen folder (for local.Allen_VISp-pls)")
    p.add_argument("--konkle-fmri", help="occipitoTemp_Multivariate11-Apr-2018.mat (for the local RDM benchmark)")
    p.add_argument("--konkle-stimuli", help="extracted konkle-animacy-size.tar (for the local RDM benchmark)")
    p.add_argument("--out", required=True, help="JSON file to write")
    args = eval_args.read_settings(p, p.parse_args(argv))
    settings = args.settings["brainscore"]
    args.benchmarks = settings.benchmarks or "local"
    args.image_size, args.pls_splits, args.konkle_image_type = (settings.image_size, settings.pls_splits,
                                                                settings.konkle_image_type)
    args.region_layers = dict(settings.region_layers)
    args.regions = benchmark_regions(args.benchmarks)
    needs = {bs.ALLEN_BENCHMARK: ["allen"], bs.KONKLE_BENCHMARK: ["konkle_fmri", "konkle_stimuli"]}
    for benchmark, options in needs.items():
        for option in options:
            if benchmark in args.regions and not getattr(args, option):
                p.error(f"{benchmark} needs --{option.replace('_', '-')}")
    return args


def score(args: argparse.Namespace, candidate, cache_dir: Path) -> dict[str, bs.BenchmarkScore]:
    scores = {}
    for benchmark, region in args.regions.items():
        if benchmark == bs.ALLEN_BENCHMARK:
            scores[benchmark] = bs.pls_benchmark(candidate, load_allen(args.allen), cache_dir, region, args.pls_splits)
        elif benchmark == bs.KONKLE_BENCHMARK:
            rdms = bs.konkle_rdms(args.konkle_fmri, args.konkle_image_type)
            scores[benchmark] = bs.rdm_benchmark(candidate, rdms, bs.konkle_conditions(args.konkle_stimuli), region)
        else:
            scores[benchmark] = bs.public_benchmark(candidate, benchmark, region)
    return scores


def require_brainscore() -> None:
    """Stop with the fix when this Python lacks brainscore-vision (it lives in its own environment)."""
    if importlib.util.find_spec("brainscore_vision") is None:
        raise SystemExit(f"brainscore-vision is not installed for {sys.executable}; run `bash setup.sh --brainscore` "
                         "(the workflow then runs Brain-Score in .venv-brainscore) or use envs/brainscore.yaml")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    start = time.perf_counter()
    model, meta = load_checkpoint(args.checkpoint)
    family = meta["model"]["family"]
    if family not in VISION:
        raise SystemExit(f"{args.checkpoint} is a '{family}' checkpoint; Brain-Score needs one of {VISION}")
    native = meta["model"]["options"].get("image_size")  # a ViT takes only its own input size
    image_size = args.image_size or native or 224
    if native and image_size != native:
        raise SystemExit(f"image_size {image_size}: this {family} checkpoint takes {native}x{native} images only")
    ident = eval_args.identity(args.checkpoint, "brainscore")
    require_brainscore()
    commitment = bs.region_layers(family, model, args.region_layers)
    run = ident["run"]  # the model's Brain-Score identifier names the run, as the checkpoint's path did only in part
    identifier = f"toponets-{run['model']}-tau{run['tau']:g}-seed{run['seed']}"
    candidate = bs.brain_model(model, identifier, commitment, image_size)
    with tempfile.TemporaryDirectory(prefix="toponets-brainscore-") as cache_dir:
        scores = score(args, candidate, Path(cache_dir))
    regions = bs.region_means(scores)
    report = {
        "metrics": {**regions, **{b: eval_args.number(s.score) for b, s in scores.items()}},
        "regions": regions,
        "benchmarks": {b: {"region": s.region, "score": eval_args.number(s.score), "raw": eval_args.number(s.raw),
                           "ceiling": None if s.ceiling is None else eval_args.number(s.ceiling)}
                       for b, s in scores.items()},
        "region_layers": commitment,
        "image_size": image_size,
        "pls_splits": args.pls_splits,
        "konkle_image_type": args.konkle_image_type,
        "checkpoint": str(args.checkpoint),
        "seconds": round(time.perf_counter() - start, 1),
    }
    eval_args.write_json(args.out, report, ident)


if __name__ == "__main__":
    main()
