"""One-to-one unit-to-voxel correlation (paper §3.4, METHODS §6), as Margalit et al. 2024 (TDANN) compute it.

TDANN's unit-to-voxel numbers come from Dawn Finzi's code
(dawnfinzi/spacestream, `scripts/fitting_one_to_one_unit2voxel.py`,
`fitting_one_to_one_voxel2voxel.py`, `notebooks/F03_C_processing.ipynb`;
neuroailab/TDANN `notebooks/F05_Objectives.md` "One-to-one corrs" loads its
results). That procedure, followed here:

- Mapping (``hungarian``, default): Pearson r of every unit with every voxel
  on the training images, then one optimal assignment minimising the summed
  1 - r (`scipy.optimize.linear_sum_assignment`): every unit takes at most
  one voxel and every voxel at most one unit, so min(units, voxels) pairs
  (Finzi's "checkpoint0", the mapping the 2024 papers report). Each pair is
  scored by Pearson r on the held-out test images (NSD's shared images).
  ``best`` (each voxel its best unit, units reused) is kept as a variant.
- Voxel noise ceiling: a pair's test r is divided by sqrt(NC) of its voxel,
  NC the NSD noise ceiling of the trial-averaged response (``nc_3trials``:
  ncsnr² / (ncsnr² + 1/n), ncsnr = signal sd / noise sd, n the trials
  averaged; NSD Data Manual). `voxel_noise_ceiling` computes it from the test
  trials: noise variance the mean over images of the variance across repeats
  (ddof 1), signal variance the trials' total variance minus it (NSD's
  z-scored betas make the total 1). Data without trials (Allen) are not
  corrected.
- The model's score is the mean corrected r over matched voxels (Finzi's
  ``nanmean``; unmatched and undefined pairs are left out).
- Ceiling: the same one-to-one mapping between subjects (`subject_to_subject`):
  target and source subject's responses to the shared images both saw, split
  80/20 at random (5 seeds), voxels assigned on 80 % and scored on 20 %, each
  pair's r divided by sqrt(NC_target NC_source) (both sides are noisy; Finzi's
  correction of this ratio is not public, see README), the mean over pairs,
  seeds and source subjects. TDANN's line is this value averaged over
  subjects (about 0.39). Data from one animal (Allen) use the one-population
  analogue `neuron_to_neuron`: each neuron assigned to another neuron of the
  recording (never itself) on the training images, scored on the test images.
- r_normalised = mean corrected model r / the ceiling, "normalized to the
  noise ceiling across 8 subjects" (paper §3.4; METHODS §6 infers this
  ratio, and it puts TDANN's 0.54 inside Margalit's [0, 0.5] axis under the
  0.39 line).

A unit's response to an image is its channel's output averaged over space
(`activations.stream_activations` with reduce="mean"); TDANN used every
(channel, position) of layer4.1, TopoNets' sheet has one unit per channel.
A layer with given unit positions (our TDANN checkpoints) gives those
per-unit responses, its fixed subset of at most 4,096 (`unit_positions`).
Correlations come from column-standardised matrices: r = z_a' z_b / n. Units
or voxels that do not vary have no r and are left unmatched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy.optimize import linear_sum_assignment
from torch import nn

from ..data.images import eval_transform
from ..sheet import sheet_for
from .activations import stream_activations

MATCHINGS = ("hungarian", "best")
CEILINGS = ("subject-to-subject", "neuron-to-neuron", "none")
SUBJECT_SPLITS = 5  # Finzi's seeds 0-4 of the between-subject split
SUBJECT_TRAIN_FRACTION = 0.8
_NO_MATCH = -1


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns of (samples, k) `x` z-scored (ddof 0), and which columns vary; constant columns become 0."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"expected a (samples >= 2, columns) array, got shape {x.shape}")
    std = x.std(axis=0)
    varies = std > 1e-12 * np.maximum(np.abs(x).max(axis=0), 1.0)
    z = np.divide(x - x.mean(axis=0), std, out=np.zeros_like(x), where=varies)
    return z, varies


def correlation_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(ka, kb) Pearson r between the columns of (n, ka) `a` and (n, kb) `b`; NaN where a column is constant."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{a.shape[0]} and {b.shape[0]} samples: the two response sets must share their images")
    (za, va), (zb, vb) = standardise(a), standardise(b)
    r = np.clip(za.T @ zb / a.shape[0], -1.0, 1.0)
    r[~va, :] = np.nan
    r[:, ~vb] = np.nan
    return r


def paired_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(k,) Pearson r between column j of `a` and column j of `b` (both (n, k)); NaN where either is constant."""
    if a.shape != b.shape:
        raise ValueError(f"paired columns need equal shapes, got {a.shape} and {b.shape}")
    (za, va), (zb, vb) = standardise(a), standardise(b)
    r = np.clip((za * zb).mean(axis=0), -1.0, 1.0)
    r[~(va & vb)] = np.nan
    return r


def match_units(r_train: np.ndarray, matching: str = "hungarian", exclude: np.ndarray | None = None) -> np.ndarray:
    """The unit matched to each voxel from (units, voxels) train correlations; -1 where none is.

    ``hungarian``: one optimal assignment of min(units, voxels) unit-voxel
    pairs minimising the summed 1 - r; ``best``: each voxel its best unit.
    `exclude` (units, voxels) marks forbidden pairs (a neuron and itself, for
    the neuron-to-neuron ceiling).
    """
    if matching not in MATCHINGS:
        raise ValueError(f"unknown matching '{matching}'; choose one of {MATCHINGS}")
    allowed = ~np.isnan(r_train) if exclude is None else ~np.isnan(r_train) & ~exclude
    matched = np.full(r_train.shape[1], _NO_MATCH)
    open_voxels = np.flatnonzero(allowed.any(axis=0))
    if open_voxels.size == 0:
        return matched
    if matching == "best":
        matched[open_voxels] = np.where(allowed, r_train, -np.inf)[:, open_voxels].argmax(axis=0)
        return matched
    # a forbidden pair costs more than any allowed one (1 - r <= 2), so it is chosen only when forced, then dropped
    rows, cols = linear_sum_assignment(np.where(allowed, 1.0 - r_train, 3.0)[:, open_voxels])
    ok = allowed[rows, open_voxels[cols]]
    matched[open_voxels[cols[ok]]] = rows[ok]
    return matched


@dataclass(frozen=True)
class OneToOne:
    """Each voxel's matched unit (-1: none) and the pair's Pearson r on train and on test images."""

    unit: np.ndarray  # (voxels,) int
    r_train: np.ndarray  # (voxels,) NaN where unmatched
    r_test: np.ndarray  # (voxels,) NaN where unmatched or undefined


def one_to_one(
    unit_train: np.ndarray,
    voxel_train: np.ndarray,
    unit_test: np.ndarray,
    voxel_test: np.ndarray,
    matching: str = "hungarian",
    exclude: np.ndarray | None = None,
) -> OneToOne:
    """Match voxels to units on the (images, units) / (images, voxels) train responses; score on test images."""
    if unit_train.shape[1] != unit_test.shape[1] or voxel_train.shape[1] != voxel_test.shape[1]:
        raise ValueError("train and test responses must have the same units and voxels")
    r_train = correlation_matrix(unit_train, voxel_train)
    unit = match_units(r_train, matching, exclude)
    matched = unit != _NO_MATCH
    voxels = np.arange(unit.size)
    train = np.full(unit.size, np.nan)
    test = np.full(unit.size, np.nan)
    train[matched] = r_train[unit[matched], voxels[matched]]
    test[matched] = paired_correlation(np.asarray(unit_test)[:, unit[matched]], np.asarray(voxel_test)[:, matched])
    return OneToOne(unit=unit, r_train=train, r_test=test)


def voxel_noise_ceiling(trials: np.ndarray) -> np.ndarray:
    """(voxels,) NSD noise ceiling (fraction of variance) of the trial mean, from (images, repeats, voxels) trials.

    ncsnr² = signal variance / noise variance; NC = ncsnr² / (ncsnr² + 1/n),
    n the mean number of trials per image (NaN trials are missing repeats).
    Noise variance: mean over images with >= 2 trials of the variance across
    their trials (ddof 1); signal variance: total variance of all trials minus
    it, floored at 0. NaN where a voxel has no noise estimate.
    """
    trials = np.asarray(trials, dtype=np.float64)
    if trials.ndim != 3:
        raise ValueError(f"expected (images, repeats, voxels) trials, got shape {trials.shape}")
    counts = (~np.isnan(trials)).sum(axis=1)  # (images, voxels)
    repeated = counts >= 2
    if not repeated.any():
        raise ValueError("a noise ceiling needs images with at least 2 trials")
    with np.errstate(invalid="ignore", divide="ignore"):
        noise = np.nanmean(np.where(repeated, np.nanvar(trials, axis=1, ddof=1), np.nan), axis=0)
        signal = np.maximum(np.nanvar(trials.reshape(-1, trials.shape[2]), axis=0) - noise, 0.0)
        snr2 = signal / noise
        n = np.nanmean(np.where(counts > 0, counts, np.nan), axis=0)
        return np.where(noise > 0, snr2 / (snr2 + 1.0 / n), np.nan)


def corrected(r: np.ndarray, ceiling: np.ndarray | None) -> np.ndarray:
    """r divided by sqrt(ceiling) element-wise; NaN where the ceiling is 0 or undefined; r itself without one."""
    if ceiling is None:
        return np.asarray(r, dtype=np.float64)
    root = np.sqrt(np.asarray(ceiling, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(root > 0, r / root, np.nan)


def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan


def _pair_ceilings(match: OneToOne, target_ceiling: np.ndarray | None,
                   source_ceiling: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The matched pairs' test r and the product of their two noise ceilings (None without either)."""
    paired = match.unit != _NO_MATCH
    scale = None
    if target_ceiling is not None:
        scale = np.asarray(target_ceiling, dtype=np.float64)[paired]
    if source_ceiling is not None:
        source = np.asarray(source_ceiling, dtype=np.float64)[match.unit[paired]]
        scale = source if scale is None else scale * source
    return match.r_test[paired], scale


def neuron_to_neuron(train: np.ndarray, test: np.ndarray, ceiling: np.ndarray | None = None,
                     matching: str = "hungarian") -> float:
    """Mean corrected test r of each neuron with the other neuron assigned to it on the train images."""
    match = one_to_one(train, train, test, test, matching, exclude=np.eye(train.shape[1], dtype=bool))
    return _mean(corrected(*_pair_ceilings(match, ceiling, ceiling)))


def subject_to_subject(
    target: np.ndarray,
    source: np.ndarray,
    target_ceiling: np.ndarray | None,
    source_ceiling: np.ndarray | None,
    splits: int = SUBJECT_SPLITS,
    train_fraction: float = SUBJECT_TRAIN_FRACTION,
    seed: int = 0,
    matching: str = "hungarian",
) -> float:
    """Mean corrected test r of the one-to-one mapping of `source` voxels onto `target` voxels.

    `target` (images, voxels_t) and `source` (images, voxels_s) hold the two
    subjects' responses to the same images in the same order. Each split
    (seeded `seed`, `seed` + 1, ...) assigns on a random `train_fraction` of
    the images and scores on the rest; a pair's r is divided by
    sqrt(NC_target NC_source). The mean over pairs, then over splits.
    """
    if target.shape[0] != source.shape[0]:
        raise ValueError(f"the subjects' responses cover {target.shape[0]} and {source.shape[0]} images")
    images = target.shape[0]
    cut = int(train_fraction * images)
    if cut < 3 or images - cut < 3:
        raise ValueError(f"{images} shared images are too few for a {train_fraction:.0%} split")
    means = []
    for split in range(splits):
        order = np.random.default_rng(seed + split).permutation(images)
        train, test = order[:cut], order[cut:]
        # rows: source voxels (in the units' place), columns: target voxels
        match = one_to_one(source[train], target[train], source[test], target[test], matching)
        means.append(_mean(corrected(*_pair_ceilings(match, target_ceiling, source_ceiling))))
    return _mean(np.array(means))


def summary(r_test: np.ndarray, voxel_ceiling: np.ndarray | None, ceiling: float | None) -> dict[str, float]:
    """Mean raw test r, mean r corrected by the voxels' noise ceilings, the ceiling, and their ratio (NaN if
    undefined)."""
    r_raw, r_corrected = _mean(r_test), _mean(corrected(r_test, voxel_ceiling))
    level = math.nan if ceiling is None else float(ceiling)
    normalised = r_corrected / level if level > 0 else math.nan
    return {"r_raw": r_raw, "r_corrected": r_corrected, "ceiling": level, "r_normalised": normalised}


class _ArrayImages(torch.utils.data.Dataset):
    """uint8 (N, H, W[, 3]) images as RGB tensors through `transform` (greyscale copied to 3 channels)."""

    def __init__(self, images: np.ndarray, transform):
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(Image.fromarray(self.images[index]).convert("RGB"))


def model_responses(
    model: nn.Module,
    layer: str,
    images: np.ndarray,
    res: int,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """(images, units) float64 spatially averaged responses of `layer` to `images` at resolution `res` (per
    unit where the model gives the layer's unit positions)."""
    dataset = _ArrayImages(images, eval_transform(res))
    batches = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    chunks = [out[layer].cpu().double().numpy()
              for out in stream_activations(model, [layer], batches, device, per_unit=True)]
    return np.concatenate(chunks)


def sheet_positions(units: Sequence[int], n_units: int, places: np.ndarray | None = None) -> np.ndarray:
    """(len(units), 2) position of each unit index, (-1, -1) for unmatched (-1): the sheet (row, col) of
    `n_units` units, or the rows of `places` ((n_units, 2) given positions)."""
    units = np.asarray(units)
    places = sheet_for(n_units).positions() if places is None else np.asarray(places)
    positions = np.full((units.size, 2), -1, dtype=places.dtype)
    matched = units != _NO_MATCH
    positions[matched] = places[units[matched]]
    return positions
