"""Neural responses to images for the unit-to-voxel analysis (METHODS §6): NSD fMRI and Allen mouse V1.

Every loader returns a `NeuralData`: images as uint8 arrays, (N, H, W) for
greyscale or (N, H, W, 3) for RGB, with responses averaged over repeats, a
held-out test set and, where the data have them, the test set's single trials
(M, repeats, voxels; NaN where an image has fewer repeats).

NSD (Allen et al. 2022) needs a data-use agreement, so nothing is downloaded:
`load_nsd` reads a local copy of the public release, laid out as on its S3
bucket (the NSD Data Manual):

- ``nsddata/experiments/nsd/nsd_expdesign.mat``: ``masterordering`` (1, 30000)
  trial -> column of ``subjectim`` (8, 10000), which holds 73k image ids;
  ``sharedix`` (1, 1000) the 73k ids every subject saw. All 1-based.
- ``nsddata/ppdata/subjAA/<space>/roi/<name>.nii.gz``: integer ROI labels.
- ``nsddata_betas/ppdata/subjAA/<space>/<betas>/betas_sessionNN.nii.gz`` (X, Y,
  Z, 750) or ``.hdf5`` (dataset ``betas``, stored MATLAB-order so h5py sees (750,
  Z, Y, X)): int16 single-trial betas x 300 (percent signal change).
- ``nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5``: ``imgBrick`` (73000, 425,
  425, 3) uint8.

Betas are divided by 300 and z-scored per voxel within each session (the usual
NSD practice against session drifts). The test set is the shared 1,000 images
(those the subject saw); training images are the subject's other images.
nibabel and h5py are imported only when NSD files are read.

Allen Brain Observatory (`load_allen`, the mirror's neural/allen/*.npy):
118 natural scenes as 31x31 greyscale pixels in 0..255, split 100 train / 18
test, 212 VISp neurons. Despite the source readme, the ``*_output`` files do
not hold 50-repeat means (their spread across scenes equals that of single
trials), and ``Allen_test_output_big.npy`` (900, 212) is not the 18 test scenes
x 50 repeats in either order: neither reshape's mean over repeats matches
``Allen_test_output`` (max error ~250), and 13 of its rows equal rows of
``Allen_train_output`` exactly. Its scene labels were in the
``Allen_test_input_big.npy`` that the mirror lacks, so `load_allen` sets
``test_trials`` to None unless a layout's means match (`repeat_layout`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import loadmat

ALLEN_SIDE = 31  # Allen scenes are 31x31 pixels, flattened row-major
ALLEN_REPEATS = 50
NSD_BETA_SCALE = 300.0
NSD_TRIALS_PER_SESSION = 750
NSD_SHARED_IMAGES = 1000

# Label values of the NSD volume ROI files that name their labels (<name>.mgz.ctab in the release).
NSD_ROI_LABELS = {
    "streams": {"early": 1, "midventral": 2, "midlateral": 3, "midparietal": 4, "ventral": 5, "lateral": 6,
                "parietal": 7},
    "prf-visualrois": {"V1v": 1, "V1d": 2, "V2v": 3, "V2d": 4, "V3v": 5, "V3d": 6, "hV4": 7},
}


@dataclass(frozen=True)
class NeuralData:
    """Images and (voxel or neuron) responses, split into train and held-out test images."""

    name: str
    train_images: np.ndarray  # (N, H, W) or (N, H, W, 3) uint8
    train_responses: np.ndarray  # (N, voxels) float, mean over repeats
    test_images: np.ndarray  # (M, H, W) or (M, H, W, 3) uint8
    test_responses: np.ndarray  # (M, voxels) float, mean over repeats
    test_trials: np.ndarray | None  # (M, repeats, voxels) float, NaN where missing; None when unknown
    test_ids: np.ndarray | None = None  # (M,) ascending ids of the test images shared across subjects (NSD 73k ids)

    def __post_init__(self):
        for split in ("train", "test"):
            images, responses = getattr(self, f"{split}_images"), getattr(self, f"{split}_responses")
            if images.dtype != np.uint8 or images.ndim not in (3, 4):
                raise ValueError(f"{self.name}: {split} images must be uint8 (N, H, W[, 3]), got "
                                 f"{images.dtype} {images.shape}")
            if responses.ndim != 2 or responses.shape[0] != images.shape[0]:
                raise ValueError(f"{self.name}: {split} responses {responses.shape} do not match "
                                 f"{images.shape[0]} images")
        if self.test_ids is not None and self.test_ids.shape != (self.test_responses.shape[0],):
            raise ValueError(f"{self.name}: {self.test_ids.shape} test ids for {self.test_responses.shape[0]} images")
        if self.train_responses.shape[1] != self.test_responses.shape[1]:
            raise ValueError(f"{self.name}: train and test responses have different voxel counts")
        if self.test_trials is not None and (
            self.test_trials.ndim != 3
            or self.test_trials.shape[0] != self.test_responses.shape[0]
            or self.test_trials.shape[2] != self.test_responses.shape[1]
        ):
            raise ValueError(f"{self.name}: test trials {self.test_trials.shape} do not match test responses "
                             f"{self.test_responses.shape}")

    @property
    def voxels(self) -> int:
        return self.train_responses.shape[1]


# ---------------------------------------------------------------- Allen Brain Observatory


def _allen_images(pixels: np.ndarray, path: Path) -> np.ndarray:
    """(N, 961) float pixels in 0..255 -> (N, 31, 31) uint8."""
    if pixels.ndim != 2 or pixels.shape[1] != ALLEN_SIDE**2:
        raise ValueError(f"{path}: expected (N, {ALLEN_SIDE**2}) flattened 31x31 scenes, got {pixels.shape}")
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{path}: pixel values span [{pixels.min()}, {pixels.max()}], expected 0..255")
    return np.rint(pixels).astype(np.uint8).reshape(-1, ALLEN_SIDE, ALLEN_SIDE)


def repeat_layout(trials: np.ndarray, means: np.ndarray, repeats: int, atol: float = 1e-6) -> np.ndarray | None:
    """(scenes, repeats, units) view of per-trial rows `trials` whose mean over repeats is `means`, or None.

    Tries scene-major (scene 0's repeats first) and repeat-major (every scene's
    first repeat first) row orders.
    """
    scenes, units = means.shape
    if trials.shape != (scenes * repeats, units):
        return None
    layouts = (trials.reshape(scenes, repeats, units), trials.reshape(repeats, scenes, units).transpose(1, 0, 2))
    for layout in layouts:
        if np.allclose(layout.mean(axis=1), means, atol=atol, rtol=1e-6):
            return layout
    return None


def load_allen(directory: str | Path) -> NeuralData:
    """The Allen VISp scenes of the mirror's neural/allen folder: 100 train, 18 test, 212 neurons.

    ``test_trials`` comes from Allen_test_output_big.npy only when its rows are
    the test scenes' repeats in a recognisable order (see the module docstring:
    in the mirror they are not, so it is None).
    """
    directory = Path(directory)
    files = ["Allen_train_input", "Allen_train_output", "Allen_test_input", "Allen_test_output"]
    missing = [name for name in files if not (directory / f"{name}.npy").is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} lacks {', '.join(f'{m}.npy' for m in missing)}; point it at the "
                                "mirror's neural/allen folder")
    arrays = {name: np.load(directory / f"{name}.npy") for name in files}
    train, test = arrays["Allen_train_output"], arrays["Allen_test_output"]
    big = directory / "Allen_test_output_big.npy"
    trials = repeat_layout(np.load(big), test, ALLEN_REPEATS) if big.is_file() else None
    return NeuralData(
        name="allen_visp",
        train_images=_allen_images(arrays["Allen_train_input"], directory / "Allen_train_input.npy"),
        train_responses=train.astype(np.float64),
        test_images=_allen_images(arrays["Allen_test_input"], directory / "Allen_test_input.npy"),
        test_responses=test.astype(np.float64),
        test_trials=trials,
    )


# ---------------------------------------------------------------- Natural Scenes Dataset: index logic


def zscore_session(betas: np.ndarray) -> np.ndarray:
    """(trials, voxels) betas of one session, z-scored per voxel; constant voxels become 0."""
    betas = np.asarray(betas, dtype=np.float32)
    std = betas.std(axis=0)
    return np.divide(betas - betas.mean(axis=0), std, out=np.zeros_like(betas), where=std > 0)


def roi_mask(labels: np.ndarray, wanted: list[int] | None) -> np.ndarray:
    """Boolean voxel mask of the `wanted` label values of an ROI volume (all positive labels when None)."""
    labels = np.rint(np.asarray(labels)).astype(np.int64)
    mask = labels > 0 if wanted is None else np.isin(labels, wanted)
    if not mask.any():
        raise ValueError(f"the ROI holds no voxel with label(s) {wanted or '> 0'}")
    return mask


def parse_roi(roi: str) -> tuple[str, list[int] | None]:
    """'streams:ventral', 'prf-visualrois:V1v+V1d', 'nsdgeneral' or 'lh.streams:5' -> (file stem, labels)."""
    name, _, spec = roi.partition(":")
    if not spec:
        return name, None
    names = NSD_ROI_LABELS.get(re.sub(r"^[lr]h\.", "", name), {})
    labels = []
    for part in spec.split("+"):
        if part.isdigit():
            labels.append(int(part))
        elif part in names:
            labels.append(names[part])
        else:
            known = sorted(names) or "integer label values"
            raise ValueError(f"unknown label '{part}' of ROI '{name}'; use one of {known} (join with +)")
    return name, labels


def split_by_image(trial_images: np.ndarray, betas: np.ndarray, test_ids: np.ndarray):
    """Average single-trial `betas` (trials, voxels) over repeats of each image id in `trial_images` (trials,).

    Returns (train_ids, train_means, test_ids, test_means, test_trials): ids
    sorted ascending, training images are those not in `test_ids`, test images
    those of `test_ids` that were shown; test_trials (M, max repeats, voxels) in
    presentation order, NaN-padded.
    """
    trial_images = np.asarray(trial_images)
    if trial_images.shape[0] != betas.shape[0]:
        raise ValueError(f"{trial_images.shape[0]} trial image ids for {betas.shape[0]} trials of betas")
    ids, inverse, counts = np.unique(trial_images, return_inverse=True, return_counts=True)
    is_test = np.isin(ids, test_ids)
    if not is_test.any() or is_test.all():
        raise ValueError("the trials need both shared (test) and other (train) images")
    order = np.argsort(inverse, kind="stable")  # trials grouped by image, presentation order within
    grouped = np.asarray(betas, dtype=np.float32)[order]
    starts = np.cumsum(counts) - counts
    means = np.add.reduceat(grouped, starts, axis=0, dtype=np.float64) / counts[:, None]
    repeat = np.arange(trial_images.size) - np.repeat(starts, counts)
    test_row = np.cumsum(is_test) - 1  # image index -> its row among the test images
    shown = is_test[inverse[order]]
    trials = np.full((is_test.sum(), counts[is_test].max(), betas.shape[1]), np.nan, dtype=np.float32)
    trials[test_row[inverse[order]][shown], repeat[shown]] = grouped[shown]
    return ids[~is_test], means[~is_test], ids[is_test], means[is_test], trials


# ---------------------------------------------------------------- Natural Scenes Dataset: files


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(f"reading NSD files needs the '{module}' package: pip install {module}") from err


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"NSD {what} not found at {path}; is the NSD root the folder holding nsddata/, "
                                "nsddata_betas/ and nsddata_stimuli/?")
    return path


def _session_files(directory: Path) -> list[Path]:
    """betas_sessionNN files of a betas folder, one per session, sessions 1..n without gaps."""
    found: dict[int, Path] = {}
    for path in sorted(_existing(directory, "betas folder").glob("betas_session*")):
        match = re.fullmatch(r"betas_session(\d+)\.(nii\.gz|hdf5)", path.name)
        if match:
            found.setdefault(int(match.group(1)), path)  # .hdf5 sorts before .nii.gz: prefer it
    if not found:
        raise FileNotFoundError(f"no betas_sessionNN.nii.gz or .hdf5 files in {directory}")
    sessions = sorted(found)
    if sessions != list(range(1, len(sessions) + 1)):
        raise ValueError(f"NSD sessions in {directory} must run 1..n without gaps, found {sessions}")
    return [found[s] for s in sessions]


def _session_betas(path: Path, mask: np.ndarray) -> np.ndarray:
    """(750, voxels) float32 betas (percent signal change) of one session file inside `mask` (X, Y, Z)."""
    if path.name.endswith(".hdf5"):
        h5py = _require("h5py")
        x, y, z = (np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3))
        box = (slice(x[0], x[-1] + 1), slice(y[0], y[-1] + 1), slice(z[0], z[-1] + 1))
        with h5py.File(path, "r") as file:
            data = file["betas"][:, box[2], box[1], box[0]]  # MATLAB order: (trials, Z, Y, X)
        volume = data.transpose(3, 2, 1, 0)
        inside = mask[box]
    else:
        nibabel = _require("nibabel")
        volume = np.asanyarray(nibabel.load(path).dataobj)
        inside = mask
    if volume.shape[:3] != inside.shape:
        raise ValueError(f"{path}: volume {volume.shape[:3]} does not match the ROI's {inside.shape}")
    return volume[inside].T.astype(np.float32) / NSD_BETA_SCALE


def load_nsd(
    root: str | Path,
    subject: int,
    roi: str,
    *,
    sessions: int | None = None,
    space: str = "func1pt8mm",
    betas: str = "betas_fithrf_GLMdenoise_RR",
    max_train_images: int | None = None,
    seed: int = 0,
) -> NeuralData:
    """One NSD subject's ROI betas: train = the subject's non-shared images, test = the shared ones it saw.

    `roi` names an ROI file of ppdata/subjAA/<space>/roi and optional labels
    (`parse_roi`): 'streams:ventral' is ventral temporal cortex. `sessions`
    keeps the first n sessions (all present when None); `max_train_images`, a
    fixed random subset of the training images (the stimuli are 0.5 MB each).
    """
    root = Path(root)
    if not 1 <= subject <= 8:
        raise ValueError(f"NSD subjects are 1..8, got {subject}")
    subj = f"subj{subject:02d}"
    design = loadmat(_existing(root / "nsddata/experiments/nsd/nsd_expdesign.mat", "experiment design"))
    roi_name, labels = parse_roi(roi)
    nibabel = _require("nibabel")
    roi_path = _existing(root / "nsddata/ppdata" / subj / space / "roi" / f"{roi_name}.nii.gz", "ROI file")
    mask = roi_mask(np.asanyarray(nibabel.load(roi_path).dataobj), labels)

    files = _session_files(root / "nsddata_betas/ppdata" / subj / space / betas)
    if sessions is not None:
        if not 1 <= sessions <= len(files):
            raise ValueError(f"{subj} has {len(files)} sessions of betas here, asked for {sessions}")
        files = files[:sessions]
    trials = len(files) * NSD_TRIALS_PER_SESSION
    order = np.asarray(design["masterordering"]).ravel()[:trials] - 1
    trial_images = np.asarray(design["subjectim"])[subject - 1, order] - 1  # 0-based 73k ids
    shared = np.asarray(design["sharedix"]).ravel() - 1
    responses = np.concatenate([zscore_session(_session_betas(path, mask)) for path in files])
    train_ids, train, test_ids, test, test_trials = split_by_image(trial_images, responses, shared)
    if max_train_images is not None and max_train_images < train_ids.size:
        keep = np.sort(np.random.default_rng(seed).choice(train_ids.size, max_train_images, replace=False))
        train_ids, train = train_ids[keep], train[keep]

    h5py = _require("h5py")
    stimuli = _existing(root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5", "stimuli")
    with h5py.File(stimuli, "r") as file:
        brick = file["imgBrick"]
        train_images, test_images = brick[train_ids], brick[test_ids]  # ids ascending, as h5py needs
    return NeuralData(
        name=f"nsd_{subj}_{roi}",
        train_images=np.asarray(train_images, dtype=np.uint8),
        train_responses=train,
        test_images=np.asarray(test_images, dtype=np.uint8),
        test_responses=test,
        test_trials=test_trials,
        test_ids=test_ids,
    )
