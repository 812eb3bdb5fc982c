"""Image datasets in torchvision's ImageFolder layout, with the ffcv recipe's transforms.

Training: RandomResizedCrop + horizontal flip; evaluation: resize to
res / crop_ratio and centre-crop res (ffcv: 224/256). Normalisation uses the
ImageNet channel statistics. The resolution is a parameter so progressive
resizing can change it between epochs.
"""

from __future__ import annotations

from pathlib import Path

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
