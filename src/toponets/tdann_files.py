"""TDANN's released files (neuroailab/TDANN, OSF 64qv3), read without running code from them.

Weights: a VISSL checkpoint, ``model_final_checkpoint_phase199.torch``, whose
trunk is ``blob["classy_state_dict"]["base_model"]["model"]["trunk"]``; the
trunk's torchvision ResNet-18 keys start ``base_model.`` (its ``_feature_blocks.``
keys name the same modules again and are dropped, as is any ``fc.``). Read with
``torch.load(weights_only=True)``.

Positions: one file per block in a directory, ``layer1.0.npz`` ... ``layer4.1.npz``,
each with ``name``, ``dims`` (C, H, W), ``coordinates`` (C*H*W, 2: x, y in mm,
channel slowest), ``neighborhood_indices`` and ``neighborhood_width`` (the last
two serve TDANN's training loss only). Read with ``np.load(allow_pickle=False)``.
spacetorch can also save a ``.pkl`` per layer (a pickled ``LayerPositions``);
those are refused: unpickling runs code from the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .models.tdann import BLOCKS, TDANN, block_dims, buffer_name

TRUNK = ("classy_state_dict", "base_model", "model", "trunk")


def read_trunk(path: str | Path) -> dict[str, torch.Tensor]:
    """The torchvision ResNet-18 weights (keys ``base_model.*``, no fc) of TDANN checkpoint `path`."""
    from .checkpoints import load_released  # checkpoints imports models; import here to keep this module light

    node = load_released(path, "download TDANN's checkpoint (docs/other-models.md)")
    for key in TRUNK:
        if not isinstance(node, dict) or key not in node:
            raise ValueError(f"{path} is not a TDANN (VISSL) checkpoint: no {'.'.join(TRUNK)} in it")
        node = node[key]
    return {k: v for k, v in node.items() if k.startswith("base_model.") and not k.startswith("base_model.fc.")}


def read_positions(directory: str | Path, image_size: int = 224) -> dict[str, np.ndarray]:
    """{block: (units, 2) float32 coordinates in mm} from TDANN's per-layer ``.npz`` files in `directory`."""
    directory = Path(directory)
    expected = block_dims(image_size)
    positions = {}
    for block in BLOCKS:
        path = directory / f"{block}.npz"
        if not path.exists():
            pickled = " (a .pkl is there: spacetorch's pickled form, which is not read; see docs/other-models.md)" \
                if (directory / f"{block}.pkl").exists() else ""
            raise FileNotFoundError(f"TDANN positions {path} do not exist{pickled}")
        with np.load(path, allow_pickle=False) as state:
            dims = tuple(int(d) for d in state["dims"])
            coordinates = np.asarray(state["coordinates"], dtype=np.float32)
        if dims != expected[block] or coordinates.shape != (int(np.prod(dims)), 2):
            raise ValueError(f"{path}: dims {dims} and coordinates {coordinates.shape} do not fit block {block} "
                             f"of a ResNet-18 on {image_size} px images, {expected[block]}")
        positions[block] = coordinates
    return positions


def load_tdann(weights: str | Path, positions: str | Path, image_size: int = 224) -> TDANN:
    """A `TDANN` with the weights of checkpoint `weights` and the positions of directory `positions`."""
    model = TDANN(image_size)
    state = read_trunk(weights)
    for block, coordinates in read_positions(positions, image_size).items():
        state[f"unit_positions.{buffer_name(block)}"] = torch.from_numpy(coordinates)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{weights} does not fit TDANN's ResNet-18: missing keys {missing[:5]}, "
                         f"unexpected keys {unexpected[:5]}")
    return model


def write_trunk(path: str | Path, model: TDANN) -> None:
    """Save `model`'s weights as TDANN's VISSL checkpoint layout (test files; never the authors' own)."""
    trunk = {k: v for k, v in model.state_dict().items() if k.startswith("base_model.")}
    trunk.update({k.replace("base_model.", "_feature_blocks.", 1): v for k, v in trunk.items()
                  if k.startswith("base_model.layer")})  # VISSL's second name of the same modules
    torch.save({"phase_idx": 0, "classy_state_dict": {"base_model": {"model": {"trunk": trunk, "heads": {}}}}}, path)


def write_positions(directory: str | Path, positions: dict[str, np.ndarray], image_size: int = 224) -> None:
    """Save {block: coordinates} as TDANN's per-layer ``.npz`` files (one random neighbourhood each)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for block, dims in block_dims(image_size).items():
        coordinates = np.asarray(positions[block], dtype=np.float64)
        np.savez(directory / f"{block}.npz", name=block, dims=np.array(dims), coordinates=coordinates,
                 neighborhood_indices=np.arange(min(len(coordinates), 500))[None, :], neighborhood_width=1.0)


def random_positions(image_size: int = 224, seed: int = 0) -> dict[str, np.ndarray]:
    """Retinotopic test positions: unit (c, y, x) near (x, y) of its block's grid, jittered by channel."""
    rng = np.random.default_rng(seed)
    out = {}
    for block, (c, h, w) in block_dims(image_size).items():
        y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        grid = np.stack([x.ravel(), y.ravel()], axis=1).astype(np.float64)  # (h*w, 2) as x, y
        out[block] = (grid[None] + rng.uniform(0, 1, size=(c, h * w, 2))).reshape(-1, 2)
    return out
