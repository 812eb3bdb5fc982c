"""One-to-one unit-to-voxel correlation (paper §3.4, METHODS §6; Margalit et al. 2024).

Each voxel (or neuron) is matched with a single model unit on the training
images and the match is scored by Pearson r on held-out test images. METHODS
leaves the matching rule open; two are offered:

- ``best`` (default): each voxel takes the unit whose train-image responses
  correlate best with its own; a unit may serve many voxels.
- ``hungarian``: a strict assignment maximising the summed train r
  (`scipy.optimize.linear_sum_assignment`). When voxels outnumber units, each
  unit is offered ceil(voxels / units) times, so units are shared as evenly as
  possible.

A unit's response to an image is its channel's output averaged over space
(`activations.stream_activations` with reduce="mean"). Correlations come from
column-standardised matrices: r = z_a' z_b / n. Units or voxels that do not
vary have no r and are left unmatched.

Noise ceiling (METHODS §6 infers: model r / subject-to-subject r):

- ``split-half`` (when single test trials exist, e.g. NSD's 3 repeats): per
  voxel, the test repeats are split at random into halves (per image, 100
  splits), the halves' means correlated across images, the mean r
  Spearman-Brown corrected, 2r / (1 + r): the reliability of the trial-averaged
  responses. With an odd repeat count the halves differ by one repeat and the
  correction is approximate.
- ``neuron-to-neuron`` (a single animal without test trials, e.g. the Allen
  mirror): the one-to-one rule run brain to brain, each neuron matched to
  another neuron of the same recording (never itself) on the training images
  and scored on the test images: the one-population analogue of the paper's
  subject-to-subject correlation.

Summary: r_raw = median test r over matched voxels, ceiling = median ceiling,
r_normalised = r_raw / ceiling (a ratio of medians, like the paper's ratio of
population values; per-voxel ratios explode where a ceiling is near zero).
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

MATCHINGS = ("best", "hungarian")
CEILINGS = ("split-half", "neuron-to-neuron", "none")
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


def match_units(r_train: np.ndarray, matching: str = "best", exclude: np.ndarray | None = None) -> np.ndarray:
    """The unit matched to each voxel from (units, voxels) train correlations; -1 where none can be.

    `exclude` (units, voxels) marks forbidden pairs (a neuron and itself, for
    the neuron-to-neuron ceiling).
    """
    if matching not in MATCHINGS:
        raise ValueError(f"unknown matching '{matching}'; choose one of {MATCHINGS}")
    units, voxels = r_train.shape
    allowed = ~np.isnan(r_train) if exclude is None else ~np.isnan(r_train) & ~exclude
    score = np.where(allowed, r_train, -np.inf)
    matched = np.full(voxels, _NO_MATCH)
    open_voxels = np.flatnonzero(allowed.any(axis=0))
    if open_voxels.size == 0:
        return matched
    if matching == "best":
        matched[open_voxels] = score[:, open_voxels].argmax(axis=0)
        return matched
    copies = math.ceil(open_voxels.size / units)
    # a forbidden pair costs more than any allowed one (cost <= 1), so it is chosen only when forced
    cost = np.tile(np.where(allowed, -r_train, 3.0)[:, open_voxels], (copies, 1))
    rows, cols = linear_sum_assignment(cost)
    unit = rows % units
    ok = allowed[unit, open_voxels[cols]]
    matched[open_voxels[cols[ok]]] = unit[ok]
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
    matching: str = "best",
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


def split_half_reliability(trials: np.ndarray, splits: int = 100, seed: int = 0) -> np.ndarray:
    """(voxels,) Spearman-Brown corrected split-half reliability of (images, repeats, voxels) single trials.

    Only images with every repeat present are used; each split permutes each
    image's repeats independently. NaN where a voxel has no defined r.
    """
    trials = np.asarray(trials, dtype=np.float64)
    if trials.ndim != 3:
        raise ValueError(f"expected (images, repeats, voxels) trials, got shape {trials.shape}")
    trials = trials[~np.isnan(trials).any(axis=(1, 2))]
    images, repeats, _ = trials.shape
    if repeats < 2 or images < 3:
        raise ValueError(f"split-half reliability needs >= 2 repeats of >= 3 images, got {repeats} of {images}")
    rng = np.random.default_rng(seed)
    half = repeats // 2
    r = np.zeros(trials.shape[2])
    for _ in range(splits):
        order = np.argsort(rng.random((images, repeats)), axis=1)[:, :, None]
        shuffled = np.take_along_axis(trials, order, axis=1)
        r += paired_correlation(shuffled[:, :half].mean(axis=1), shuffled[:, half:].mean(axis=1))
    r /= splits
    return 2 * r / (1 + r)


def neuron_to_neuron(train: np.ndarray, test: np.ndarray, matching: str = "best") -> np.ndarray:
    """(neurons,) test r of each neuron with the other neuron matched to it on the train images."""
    return one_to_one(train, train, test, test, matching, exclude=np.eye(train.shape[1], dtype=bool)).r_test


def summary(r_test: np.ndarray, ceiling: np.ndarray | None) -> dict[str, float]:
    """Median test r, median ceiling and their ratio (NaN when undefined)."""
    r_raw = float(np.nanmedian(r_test)) if not np.isnan(r_test).all() else math.nan
    if ceiling is None or np.isnan(ceiling).all():
        return {"r_raw": r_raw, "ceiling": math.nan, "r_normalised": math.nan}
    level = float(np.nanmedian(ceiling))
    return {"r_raw": r_raw, "ceiling": level, "r_normalised": r_raw / level if level > 0 else math.nan}


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
    """(images, units) float64 spatially averaged responses of `layer` to `images` at resolution `res`."""
    dataset = _ArrayImages(images, eval_transform(res))
    batches = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    chunks = [out[layer].cpu().double().numpy() for out in stream_activations(model, [layer], batches, device)]
    return np.concatenate(chunks)


def unit_ceiling(kind: str, train: np.ndarray, test: np.ndarray, trials: np.ndarray | None,
                 matching: str = "best") -> np.ndarray | None:
    """Per-voxel noise ceiling of `kind` (see the module docstring); None for "none"."""
    if kind not in CEILINGS:
        raise ValueError(f"unknown ceiling '{kind}'; choose one of {CEILINGS}")
    if kind == "split-half":
        if trials is None:
            raise ValueError("a split-half ceiling needs single test trials; these data have none "
                             "(use the neuron-to-neuron ceiling)")
        return split_half_reliability(trials)
    if kind == "neuron-to-neuron":
        return neuron_to_neuron(train, test, matching)
    return None


def sheet_positions(units: Sequence[int], n_units: int) -> np.ndarray:
    """(len(units), 2) sheet (row, col) of each unit index; (-1, -1) for unmatched (-1)."""
    units = np.asarray(units)
    positions = np.full((units.size, 2), -1)
    matched = units != _NO_MATCH
    positions[matched] = sheet_for(n_units).positions()[units[matched]]
    return positions
