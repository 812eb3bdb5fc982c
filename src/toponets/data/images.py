"""Image datasets in torchvision's ImageFolder layout, with the training recipes' transforms.

Training: RandomResizedCrop + horizontal flip, optionally followed by
AutoAugment (torchvision's ViT recipe); evaluation: resize to res / crop_ratio
and centre-crop res (ffcv and torchvision: 224/256). Normalisation uses the
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
from torchvision.transforms import AutoAugment, AutoAugmentPolicy, InterpolationMode

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_CROP_RATIO = 224 / 256


def train_transform(res: int, auto_augment: str | None = None) -> transforms.Compose:
    """RandomResizedCrop + flip, then AutoAugment with policy `auto_augment` (an AutoAugmentPolicy
    value such as "imagenet", bilinear as in torchvision's reference) unless it is None."""
    augment = [] if auto_augment is None else [AutoAugment(AutoAugmentPolicy(auto_augment), InterpolationMode.BILINEAR)]
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(res),
            transforms.RandomHorizontalFlip(),
            *augment,
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
    """(image, label) items through `transform`, keyed by (index, copy), the randomness seeded
    by (seed, epoch, index, copy).

    Each sample's augmentation is then the same whatever the worker count,
    batch position or resume point, and repeated copies of an image in one
    epoch (repeated augmentation) are augmented differently. Copy 0 leaves
    `copy` out of the seed, so runs without repeats keep their augmentations.
    """

    def __init__(self, base: Dataset, seed: int):
        self.base = base
        self.seed = seed
        self.epoch = 0
        self.transform = None

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int]):
        index, copy = key
        image, label = self.base[index]
        with torch.random.fork_rng(devices=[]):
            # not torch.manual_seed: that also seeds CUDA, about 2 ms a call
            keys = (self.seed, self.epoch, index, *([copy] if copy else []))
            torch.default_generator.manual_seed(derived_seed(_SAMPLE, *keys))
            return self.transform(image), label


class FolderLoader:
    """Batches of (images, labels) from an ImageFolder at `root`.

    Training (``train=True``) shuffles with an order drawn from (seed, epoch),
    augments with RandomResizedCrop + flip (+ AutoAugment policy
    `auto_augment`) and drops the last partial batch, as ffcv does. With
    `repeats` > 1 the order is that of repeated augmentation (torchvision's
    RASampler for one process): each image of the shuffled order `repeats`
    times in a row, cut to the dataset's length (RASampler then also rounds
    down to a multiple of 256; here the last partial batch is dropped
    instead). Evaluation keeps the folder order and every image.
    Because order and augmentation depend only on (seed, epoch, position),
    ``skip(n)`` resumes an epoch at batch n without loading the batches before it.

    Under data parallelism each of `world_size` processes has its own loader
    with its `rank`, and `batch_size` is that process's share of a batch:
    training cuts the epoch's order into global batches of batch_size x
    world_size and yields slice `rank` of each, so the processes' batches of
    a step together are the one-process batch of that step (augmented alike);
    evaluation yields every world_size-th image from `rank` on.
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
        auto_augment: str | None = None,
        repeats: int = 1,
        rank: int = 0,
        world_size: int = 1,
    ):
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1 (1 = no repeated augmentation), got {repeats}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of the {world_size} processes (0 to world_size - 1)")
        dataset = image_folder(root, None, max_images, seed)
        self.classes: list[str] = (dataset.dataset if isinstance(dataset, Subset) else dataset).classes
        self.batch_size = batch_size
        self.train = train
        self.num_workers = num_workers
        self.seed = seed
        self.crop_ratio = crop_ratio
        self.auto_augment = auto_augment
        self.repeats = repeats
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self._start = 0
        self._items = _SeededItems(dataset, seed)
        self.set_resolution(res)

    def __len__(self) -> int:
        if self.train:
            return len(self._items) // (self.batch_size * self.world_size)
        images = len(range(self.rank, len(self._items), self.world_size))
        return (images + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._start = 0

    def set_resolution(self, res: int) -> None:
        self.res = res
        if self.train:
            self._items.transform = train_transform(res, self.auto_augment)
        else:
            self._items.transform = eval_transform(res, self.crop_ratio)

    def skip(self, batches: int) -> None:
        """Start the next pass over this epoch at batch `batches`."""
        self._start = batches

    def order(self) -> list[tuple[int, int]]:
        """The samples of the current epoch in order, as (image index, copy number) pairs."""
        count = len(self._items)
        if not self.train:
            return [(index, 0) for index in range(count)]
        generator = torch.Generator().manual_seed(derived_seed(_ORDER, self.seed, self.epoch))
        shuffled = torch.randperm(count, generator=generator).tolist()
        return [(index, copy) for index in shuffled for copy in range(self.repeats)][:count]

    def shard(self) -> list[tuple[int, int]]:
        """This process's samples of `order`, in order: in training its slice of each whole global batch,
        in evaluation every world_size-th sample from its rank on."""
        order = self.order()
        if not self.train:
            return order[self.rank :: self.world_size]
        size, stride = self.batch_size, self.batch_size * self.world_size
        first = self.rank * size
        whole = len(order) // stride * stride
        return [key for start in range(first, whole, stride) for key in order[start : start + size]]

    def __iter__(self):
        indices = self.shard()[self._start * self.batch_size :]
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
