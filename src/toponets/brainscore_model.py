"""Brain-Score for vision checkpoints (METHODS §7): a checkpoint as a Brain-Score `BrainModel`, scored on
the paper's public benchmarks (network) or on benchmarks built here from the data mirror (offline).

This module runs in the separate ``.venv-brainscore`` environment (brainscore-vision 2.4.2 pins numpy<2,
pandas<3, scikit-learn<1.6; ENVIRONMENT.md). No other toponets module imports it, and it imports
brainscore only inside functions, so the .mat parsing below also works in the main environment.

Model: ``PytorchWrapper`` over the checkpoint's module with ``load_preprocess_images`` at `image_size`,
then ``ModelCommitment`` with an explicit region-to-layer commitment and ``visual_degrees=8``. The
commitment TopoNets used is unknown (METHODS §7.3); our defaults (`default_region_layers`) are the four
ResNet stages (V1 layer1, V2 layer2, V4 layer3, IT layer4; TDANN compares VTC with layer4) and, for ViTs,
encoder blocks at 1/6, 1/3, 1/2 and 5/6 of the depth. Any region can be overridden.

Offline benchmarks (identifiers in `LOCAL_BENCHMARKS`), both scored with brainscore's own metrics:

- ``local.Allen_VISp-pls`` (region V1): the mirror's Allen Brain Observatory scenes (118 greyscale
  31x31 scenes, 212 mouse VISp neurons; `toponets.data.neural.load_allen`). The model's V1 layer is
  mapped to the responses with ``load_metric('pls')`` (cross-validated 90/10 splits over all 118
  scenes, 10 by default as in Brain-Score, unstratified; Pearson r per neuron, median over neurons). Ceiling: split-half ``internal_consistency``
  over repeats, with Brain-Score's ``explained_variance`` (r^2 / ceiling), only when the data carry
  single trials; the mirror's do not (see `toponets.data.neural`), so its ceiling is null and its
  score the raw r.
- ``local.LongYuKonkle2018_OTC-rdm`` (region IT): human occipito-temporal fMRI RDMs of the
  animacy x size stimuli (Long, Yu & Konkle 2018), from ``occipitoTemp_Multivariate11-Apr-2018.mat``:
  ``patterns`` is float32 (8 subjects, 276, 2 image types); 276 = 24*23/2 is each subject's condensed
  correlation-distance RDM over 24 conditions in MATLAB ``pdist`` order (= scipy's); image type 0 is
  the original images, 1 the texforms (brialorelle/cnn-features, Analyses/step3_computeSharedVariance.m).
  The 24 conditions are the stimulus folders ``<condition>/<class>`` in sorted order (BigAnimals,
  BigObjects, SmallAnimals, SmallObjects, each Class1-Lowest .. Class6-Highest; setUpImageModel*.m),
  5 images each. The model RDM (brainscore's ``RDM``, 1 - Pearson r) is over the IT layer's responses
  averaged over each condition's 5 images, as the source analysis does. As in brainscore's
  ``RSABenchmark``: raw = mean over subjects of ``RDMSimilarity`` (Spearman r of upper triangles),
  ceiling = ``rsa_ceiling`` (each subject vs the mean of all subjects, Nili et al. 2014), score =
  raw / ceiling. OTC spans ventral and lateral occipito-temporal cortex, hence region IT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from scipy.io import loadmat
from scipy.spatial.distance import squareform

# Before any brainscore import: no shell `pip install` of plugin requirements, no pickled activations.
os.environ["BS_INSTALL_DEPENDENCIES"] = "no"
os.environ["RESULTCACHING_DISABLE"] = "1"

REGIONS = ("V1", "V2", "V4", "IT")
VISUAL_DEGREES = 8  # the ModelCommitment default; the local stimuli are shown at the same size
TIME_BINS = [(70, 170)]  # static models: any single bin

# METHODS §7.2 (paper A.8): region -> public Brain-Score benchmark identifiers; region score = plain mean.
PAPER_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "V1": (
        "tong.Coggan2024_fMRI.V1-rdm",
        "FreemanZiemba2013public.V1-pls",
        *(f"Marques2020_Cavanaugh2002-{p}" for p in
          ("grating_summation_field", "surround_diameter", "surround_suppression_index")),
        *(f"Marques2020_DeValois1982-{p}" for p in ("pref_or", "peak_sf")),
        *(f"Marques2020_Ringach2002-{p}" for p in
          ("or_bandwidth", "or_selective", "circular_variance", "orth_pref_ratio", "cv_bandwidth_ratio",
           "opr_cv_diff", "modulation_ratio", "max_dc")),
        *(f"Marques2020_Schiller1976-{p}" for p in ("sf_bandwidth", "sf_selective")),
    ),
    "V2": ("tong.Coggan2024_fMRI.V2-rdm", "FreemanZiemba2013public.V2-pls"),
    "V4": ("MajajHong2015public.V4-pls", "tong.Coggan2024_fMRI.V4-rdm"),
    "IT": ("MajajHong2015public.IT-pls", "tong.Coggan2024_fMRI.IT-rdm"),
}
ALLEN_BENCHMARK = "local.Allen_VISp-pls"
KONKLE_BENCHMARK = "local.LongYuKonkle2018_OTC-rdm"
LOCAL_BENCHMARKS = {ALLEN_BENCHMARK: "V1", KONKLE_BENCHMARK: "IT"}  # benchmark -> commitment region

KONKLE_IMAGE_TYPES = ("originals", "texforms")  # axis 2 of `patterns`
KONKLE_CONDITIONS = 24


# ---------------------------------------------------------------- the model


def default_region_layers(family: str, model) -> dict[str, str]:
    """The default region -> layer commitment of a vision `family` (see the module docstring)."""
    if family in ("resnet18", "resnet50"):
        return dict(zip(REGIONS, ("layer1", "layer2", "layer3", "layer4")))
    if family == "tdann":  # the same stage outputs of TDANN's ResNet-18 trunk
        return {region: f"base_model.layer{k}" for k, region in enumerate(REGIONS, start=1)}
    if family == "vit_b_32":
        depth = len(model.encoder.layers)
        blocks = [min(depth - 1, int(fraction * depth)) for fraction in (1 / 6, 1 / 3, 1 / 2, 5 / 6)]
        return {region: f"encoder.layers.encoder_layer_{b}" for region, b in zip(REGIONS, blocks)}
    raise ValueError(f"no Brain-Score commitment for model family '{family}'; vision families: resnet18, "
                     "resnet50, vit_b_32, tdann")


def region_layers(family: str, model, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The family's default commitment with `overrides` applied, each layer checked against `model`."""
    overrides = overrides or {}
    unknown = set(overrides) - set(REGIONS)
    if unknown:
        raise ValueError(f"unknown region(s) {sorted(unknown)} in the region-layer map; regions are {REGIONS}")
    layers = {**default_region_layers(family, model), **overrides}
    modules = dict(model.named_modules())
    missing = {region: layer for region, layer in layers.items() if layer not in modules}
    if missing:
        raise ValueError(f"region-layer map names layers the model lacks: {missing}; layer names are "
                         "module names such as 'layer4' or 'layer4.1'")
    return layers


def brain_model(model, identifier: str, commitment: dict[str, str], image_size: int):
    """`model` (a torch module) as a Brain-Score ModelCommitment with the region -> layer `commitment`."""
    from brainscore_vision.model_helpers.activations.pytorch import PytorchWrapper, load_preprocess_images
    from brainscore_vision.model_helpers.brain_transformation import ModelCommitment

    model.eval()
    activations = PytorchWrapper(identifier=identifier, model=model,
                                 preprocessing=partial(load_preprocess_images, image_size=image_size))
    layers = list(dict.fromkeys(commitment.values()))
    return ModelCommitment(identifier=identifier, activations_model=activations, layers=layers,
                           region_layer_map=dict(commitment), visual_degrees=VISUAL_DEGREES)


def _recorded(candidate, region: str, stimulus_set):
    """(presentation x neuroid) responses of `candidate`'s `region` layer to `stimulus_set`."""
    candidate.start_recording(region, time_bins=TIME_BINS)
    responses = candidate.look_at(stimulus_set, number_of_trials=1)
    return responses.squeeze("time_bin") if "time_bin" in responses.dims else responses


def _stimulus_set(paths: dict[str, Path], identifier: str, **columns):
    """A brainscore StimulusSet of the images `paths` (stimulus_id -> file), with extra per-image `columns`."""
    from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet

    stimuli = StimulusSet({"stimulus_id": list(paths), **columns})
    stimuli.stimulus_paths = dict(paths)
    stimuli.identifier = identifier
    return stimuli


@dataclass(frozen=True)
class BenchmarkScore:
    """A benchmark's score (ceiled when `ceiling` is known, else raw) for one commitment region."""

    region: str
    score: float
    raw: float
    ceiling: float | None


# ---------------------------------------------------------------- neural predictivity (PLS)


def _neuroid_assembly(values: np.ndarray, stimulus_ids, region: str, **presentation_coords):
    """(presentation x neuroid) assembly. Give at least one of `presentation_coords`: with `stimulus_id`
    alone, brainio makes it the dimension's index and the name `stimulus_id` is lost."""
    from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly

    return NeuroidAssembly(
        values,
        coords={"stimulus_id": ("presentation", list(stimulus_ids)),
                **{k: ("presentation", list(v)) for k, v in presentation_coords.items()},
                "neuroid_id": ("neuroid", [f"n{i}" for i in range(values.shape[1])]),
                "region": ("neuroid", [region] * values.shape[1])},
        dims=["presentation", "neuroid"],
    )


def pls_ceiling(test_trials: np.ndarray, region: str):
    """Brain-Score's split-half internal consistency (Spearman-Brown corrected) of (M, repeats, units) trials."""
    from brainscore_vision import load_metric

    scenes, repeats, units = test_trials.shape
    trials = _neuroid_assembly(test_trials.reshape(scenes * repeats, units),
                               [f"test{s}" for s in np.repeat(np.arange(scenes), repeats)], region,
                               repetition=np.tile(np.arange(repeats), scenes))
    return load_metric("internal_consistency")(trials)


def pls_benchmark(candidate, data, cache_dir: str | Path, region: str = "V1", splits: int = 10) -> BenchmarkScore:
    """Score `candidate`'s `region` layer on `data` (a NeuralData, all its images) with brainscore's PLS metric.

    `splits` cross-validation splits of 90% train / 10% test images (Brain-Score's default is 10); the
    greyscale images are written as PNGs to `cache_dir`.
    """
    from PIL import Image
    from brainscore_vision import load_metric
    from brainscore_vision.benchmark_helpers.neural_common import explained_variance

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    images = np.concatenate([data.train_images, data.test_images])
    ids = [f"train{i}" for i in range(len(data.train_images))] + [f"test{i}" for i in range(len(data.test_images))]
    paths = {}
    for stimulus_id, pixels in zip(ids, images):
        paths[stimulus_id] = cache_dir / f"{data.name}-{stimulus_id}.png"
        Image.fromarray(pixels).save(paths[stimulus_id])
    stimuli = _stimulus_set(paths, f"toponets.{data.name}")
    subsets = ["train"] * len(data.train_images) + ["test"] * len(data.test_images)
    neural = _neuroid_assembly(np.concatenate([data.train_responses, data.test_responses]), ids, region,
                               subset=subsets)
    pls = load_metric("pls", crossvalidation_kwargs={"stratification_coord": None, "splits": splits})  # no object labels
    raw = pls(_recorded(candidate, region, stimuli), neural)
    if data.test_trials is None:
        return BenchmarkScore(region, float(raw), float(raw), None)
    ceiled = explained_variance(raw, pls_ceiling(data.test_trials, region))
    return BenchmarkScore(region, float(ceiled), float(raw), float(ceiled.attrs["ceiling"]))


# ---------------------------------------------------------------- RDM similarity (Long, Yu & Konkle 2018)


def konkle_rdms(path: str | Path, image_type: str = "originals") -> np.ndarray:
    """(subjects, 24, 24) correlation-distance RDMs of one image type from the occipito-temporal .mat file."""
    path = Path(path)
    if image_type not in KONKLE_IMAGE_TYPES:
        raise ValueError(f"unknown image type '{image_type}'; choose one of {KONKLE_IMAGE_TYPES}")
    patterns = loadmat(path).get("patterns")
    pairs = KONKLE_CONDITIONS * (KONKLE_CONDITIONS - 1) // 2
    if patterns is None or patterns.ndim != 3 or patterns.shape[1:] != (pairs, len(KONKLE_IMAGE_TYPES)):
        found = "no 'patterns'" if patterns is None else f"'patterns' of shape {patterns.shape}"
        raise ValueError(f"{path}: expected 'patterns' of shape (subjects, {pairs}, 2), found {found}; is this "
                         "occipitoTemp_Multivariate11-Apr-2018.mat?")
    condensed = patterns[:, :, KONKLE_IMAGE_TYPES.index(image_type)].astype(np.float64)
    return np.stack([squareform(rdm) for rdm in condensed])


def konkle_conditions(stimuli_dir: str | Path) -> dict[str, list[Path]]:
    """The 24 ``<condition>/<class>`` conditions of the animacy x size stimuli, in the RDMs' order, to their images."""
    from .data.stimuli import animacy_size_stimuli

    conditions: dict[str, list[Path]] = {}
    for stimulus in animacy_size_stimuli(stimuli_dir):
        conditions.setdefault(f"{stimulus.path.parent.parent.name}/{stimulus.path.parent.name}", []).append(
            stimulus.path)
    if len(conditions) != KONKLE_CONDITIONS:
        raise ValueError(f"{stimuli_dir}: found {len(conditions)} <condition>/<class> folders, expected "
                         f"{KONKLE_CONDITIONS}; point it at the extracted konkle-animacy-size.tar")
    return {name: conditions[name] for name in sorted(conditions)}


def _rdm_assembly(rdm: np.ndarray, conditions: list[str]):
    from brainscore_core.supported_data_standards.brainio.assemblies import DataAssembly

    coords = {"stimulus_id": ("presentation", conditions), "condition": ("presentation", conditions)}
    return DataAssembly(rdm, coords=coords, dims=["presentation", "presentation"])


def rdm_benchmark(candidate, subject_rdms: np.ndarray, conditions: dict[str, list[Path]],
                  region: str = "IT") -> BenchmarkScore:
    """Score `candidate`'s `region` layer against per-subject RDMs over `conditions` (RSABenchmark's protocol)."""
    from brainscore_vision.metrics.rdm.metric import RDM, RDMSimilarity
    from brainscore_vision.metrics.rsa_ceiling.ceiling import RSACeiling

    names = list(conditions)
    paths = {f"{name}/{p.name}": p for name in names for p in conditions[name]}
    condition_of = [key.rsplit("/", 1)[0] for key in paths]
    responses = _recorded(candidate, region, _stimulus_set(paths, "toponets.konkle-animacy-size",
                                                           condition=condition_of))
    by_condition = np.stack([responses.values[np.asarray(responses["condition"].values) == name].mean(axis=0)
                             for name in names])
    model_rdm = RDM()(_neuroid_assembly(by_condition, names, region, condition=names))
    similarity = RDMSimilarity()
    raw = float(np.mean([similarity(model_rdm, _rdm_assembly(rdm, names)) for rdm in subject_rdms]))
    # RSACeiling turns each subject's neuroids into an RDM; here each subject's block already is one.
    subjects = len(subject_rdms)
    blocks = _neuroid_assembly(np.concatenate(list(subject_rdms), axis=1), names, region, condition=names)
    blocks = blocks.assign_coords(subject=("neuroid", np.repeat(np.arange(subjects), len(names))))
    ceiling = float(RSACeiling(rdm=lambda subject_block: subject_block)(blocks))
    return BenchmarkScore(region, raw / ceiling, raw, ceiling)


# ---------------------------------------------------------------- public benchmarks (network)


def public_benchmark(candidate, identifier: str, region: str) -> BenchmarkScore:
    """Score `candidate` on a registered Brain-Score benchmark (downloads its data on first use)."""
    from brainscore_vision import load_benchmark

    score = load_benchmark(identifier)(candidate)
    raw = score.attrs.get("raw")
    ceiling = score.attrs.get("ceiling")
    value = float(np.mean(score.values))
    return BenchmarkScore(region, value,
                          float(np.mean(raw.values)) if raw is not None else value,
                          float(np.mean(ceiling.values)) if ceiling is not None else None)


def region_means(scores: dict[str, BenchmarkScore]) -> dict[str, float]:
    """Plain mean of the benchmark scores per region (METHODS §7.2), regions in V1, V2, V4, IT order."""
    return {region: float(np.mean([s.score for s in scores.values() if s.region == region]))
            for region in REGIONS if any(s.region == region for s in scores.values())}
