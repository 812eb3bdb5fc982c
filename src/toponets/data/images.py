"""Image datasets in torchvision's ImageFolder layout, with the ffcv recipe's transforms.

Training: RandomResizedCrop + horizontal flip; evaluation: resize to
res / crop_ratio and centre-crop res (ffcv: 224/256). Normalisation uses the
ImageNet channel statistics. The resolution is a parameter so progressive
resizing can change it between epochs.

`FolderLoader` is the torchvision backend of the training loops' loader
interface (iterable of (images, labels) batches, ``len``, ``set_epoch``,
``set_resolution``, and ``skip`` to resume mid-epoch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import datasets, transforms

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_CROP_RATIO = 224 / 256


def train_transform(res: int) -> transforms.Compose:
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(res),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def eval_transform(res: int, crop_ratio: float = DEFAULT_CROP_RATIO) -> transforms.Compose:
    return transforms.Compose(
        [
            transforms.Resize(round(res / crop_ratio)),
            transforms.CenterCrop(res),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def image_folder(root: str | Path, transform=None, max_images: int | None = None, seed: int = 0) -> Dataset:
    """An ImageFolder at `root`, optionally a fixed random subset of `max_images` images."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist; prepare the dataset first (rule prepare_images)")
    dataset = datasets.ImageFolder(str(root), transform=transform)
    if max_images is not None and max_images < len(dataset):
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
        dataset = Subset(dataset, sorted(order[:max_images].tolist()))
    return dataset


def loader(dataset: Dataset, batch_size: int, shuffle: bool, num_workers: int = 0, seed: int = 0) -> DataLoader:
    """A DataLoader whose shuffling order depends only on `seed`."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    )


_ORDER, _SAMPLE = 0, 1  # what a derived seed is for; keeps the two streams apart


def derived_seed(purpose: int, *keys: int) -> int:
    """A well-mixed 63-bit seed from non-negative integer keys (run seed, epoch, index...)."""
    state = np.random.SeedSequence([purpose, *keys]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


class _SeededItems(Dataset):
    """(PIL image, label) items through `transform`, its randomness seeded by (seed, epoch, index).

    Each sample's augmentation is then the same whatever the worker count,
    batch position or resume point.
    """

    def __init__(self, base: Dataset, seed: int):
        self.base = base
        self.seed = seed
        self.epoch = 0
        self.transform = None

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        image, label = self.base[index]
        with torch.random.fork_rng(devices=[]):
            # not torch.manual_seed: that also seeds CUDA, about 2 ms a call
            torch.default_generator.manual_seed(derived_seed(_SAMPLE, self.seed, self.epoch, index))
            return self.transform(image), label


class FolderLoader:
    """Batches of (images, labels) from an ImageFolder at `root`.

    Training (``train=True``) shuffles with an order drawn from (seed, epoch),
    augments with RandomResizedCrop + flip and drops the last partial batch,
    as ffcv does. Evaluation keeps the folder order and every image. Because
    order and augmentation depend only on (seed, epoch, position), ``skip(n)``
    resumes an epoch at batch n without loading the batches before it.
    """

    def __init__(
        self,
        root: str | Path,
        batch_size: int,
        *,
        train: bool,
        res: int,
        num_workers: int = 0,
        seed: int = 0,
        max_images: int | None = None,
        crop_ratio: float = DEFAULT_CROP_RATIO,
    ):
        dataset = image_folder(root, None, max_images, seed)
        self.classes: list[str] = (dataset.dataset if isinstance(dataset, Subset) else dataset).classes
        self.batch_size = batch_size
        self.train = train
        self.num_workers = num_workers
        self.seed = seed
        self.crop_ratio = crop_ratio
        self.epoch = 0
        self._start = 0
        self._items = _SeededItems(dataset, seed)
        self.set_resolution(res)

    def __len__(self) -> int:
        n = len(self._items)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._start = 0

    def set_resolution(self, res: int) -> None:
        self.res = res
        self._items.transform = train_transform(res) if self.train else eval_transform(res, self.crop_ratio)

    def skip(self, batches: int) -> None:
        """Start the next pass over this epoch at batch `batches`."""
        self._start = batches

    def order(self) -> list[int]:
        """The sample order of the current epoch."""
        if not self.train:
            return list(range(len(self._items)))
        generator = torch.Generator().manual_seed(derived_seed(_ORDER, self.seed, self.epoch))
        return torch.randperm(len(self._items), generator=generator).tolist()

    def __iter__(self):
        indices = self.order()[self._start * self.batch_size :]
        self._start = 0
        self._items.epoch = self.epoch
        batches = DataLoader(
            self._items,
            batch_size=self.batch_size,
            sampler=indices,
            drop_last=self.train,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),  # keeps the global RNG untouched
            pin_memory=torch.cuda.is_available(),
        )
        yield from batches
