"""ImageNet-scale loading with ffcv (optional extra): .beton writing and the ffcv-imagenet pipelines.

`write_beton` turns an ImageFolder split into an ffcv .beton file the way
ffcv-imagenet's write_imagenet.py does (RGBImageField in 'proportion' mode,
IntField labels). `FfcvTrainLoader` and `FfcvValLoader` follow the pipelines
of its train_imagenet.py: random-resized crop + flip for training, centre
crop at ratio 224/256 for validation, ImageNet normalisation (done in torch,
see `_FfcvLoader`). Both yield `(images, labels)` as float32 NCHW tensors and
int64 labels, have `len()` = batches per epoch and `set_epoch`; the training
loader also has `set_resolution` for progressive resizing: the interface of
the torchvision backend.

With ``distributed=True`` (several processes, once torch.distributed is
initialised) ffcv shards the samples itself, as torch's DistributedSampler
does: `batch_size` is then each process's share of the batch.

ffcv is imported lazily, so this module imports without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from toponets.data.images import DEFAULT_CROP_RATIO, IMAGENET_MEAN, IMAGENET_STD
from toponets.io import atomic_path

# ffcv decodes to uint8 pixel values
MEAN_255 = np.array(IMAGENET_MEAN) * 255
STD_255 = np.array(IMAGENET_STD) * 255
INSTALL_HINT = (
    "ffcv is not installed. It is the optional ImageNet-scale data backend: install Debian's "
    "libturbojpeg0-dev and libopencv-dev (apt-get install -y --no-install-recommends libturbojpeg0-dev "
    "libopencv-dev), then `pip install ffcv==1.0.2` (or the project's `ffcv` extra); "
    "or use the torchvision data backend instead."
)


def _ffcv():
    try:
        import ffcv
        import ffcv.fields
        import ffcv.fields.basics
        import ffcv.fields.rgb_image
        import ffcv.loader
        import ffcv.transforms
        import ffcv.writer
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return ffcv


def write_beton(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    max_resolution: int = 500,
    compress_probability: float = 0.5,
    jpeg_quality: int = 90,
    num_workers: int = 16,
) -> Path:
    """Write the ImageFolder `folder` (one split) to the .beton file `out`, atomically.

    Images are resized so their longer side is at most `max_resolution`; a
    fraction `compress_probability` of them is stored as JPEG of quality
    `jpeg_quality`, the rest raw (ffcv-imagenet's defaults: 500, 0.5, 90).
    """
    ffcv = _ffcv()
    from torchvision.datasets import ImageFolder

    dataset = ImageFolder(str(folder))
    fields = {
        "image": ffcv.fields.RGBImageField(
            write_mode="proportion",
            max_resolution=max_resolution,
            compress_probability=compress_probability,
            jpeg_quality=jpeg_quality,
        ),
        "label": ffcv.fields.IntField(),
    }
    out = Path(out)
    with atomic_path(out) as tmp:
        ffcv.writer.DatasetWriter(str(tmp), fields, num_workers=num_workers).from_indexed_dataset(dataset)
    return out


class _FfcvLoader:
    """Common part: an ffcv Loader yielding (float NCHW images, int64 labels) on `device`.

    Images leave ffcv as uint8 and are normalised here with torch on `device`:
    ffcv's NormalizeImage needs cupy on the GPU, which the project does not
    depend on, and the arithmetic is the same.
    """

    def __init__(self, beton, decoder, augment, *, batch_size, num_workers, device, **loader_args):
        ffcv = _ffcv()
        t = ffcv.transforms
        if not Path(beton).is_file():
            raise FileNotFoundError(f"{beton} does not exist; write it first with write_beton")
        device = torch.device(device)
        image = [decoder, *augment, t.ToTensor(), t.ToDevice(device, non_blocking=True), t.ToTorchImage()]
        label = [ffcv.fields.basics.IntDecoder(), t.ToTensor(), t.Squeeze(1), t.ToDevice(device, non_blocking=True)]
        self.decoder = decoder
        self.loader = ffcv.loader.Loader(
            str(beton),
            batch_size=batch_size,
            num_workers=num_workers,
            pipelines={"image": image, "label": label},
            **loader_args,
        )
        self.mean = torch.tensor(MEAN_255, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD_255, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def __iter__(self):
        for images, labels in self.loader:
            yield (images.float() - self.mean) / self.std, labels

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use epoch `epoch`'s sample order (ffcv derives it from seed and epoch)."""
        self.loader.next_epoch = epoch


class FfcvTrainLoader(_FfcvLoader):
    """Training batches: random-resized crop at the current resolution, horizontal flip, shuffled."""

    def __init__(
        self,
        beton: str | os.PathLike,
        *,
        batch_size: int,
        resolution: int,
        num_workers: int,
        device: str | torch.device,
        seed: int = 0,
        in_memory: bool = True,
        distributed: bool = False,
    ):
        ffcv = _ffcv()
        order = ffcv.loader.OrderOption.RANDOM if distributed else ffcv.loader.OrderOption.QUASI_RANDOM
        super().__init__(
            beton,
            ffcv.fields.rgb_image.RandomResizedCropRGBImageDecoder((resolution, resolution)),
            [ffcv.transforms.RandomHorizontalFlip()],
            batch_size=batch_size,
            num_workers=num_workers,
            device=device,
            order=order,
            drop_last=True,
            seed=seed,
            os_cache=in_memory,
            distributed=distributed,
        )

    def set_resolution(self, resolution: int) -> None:
        """Crop size of the following epochs (progressive resizing); takes effect at the next iteration."""
        self.decoder.output_size = (resolution, resolution)


class FfcvValLoader(_FfcvLoader):
    """Validation batches in file order: centre crop of `resolution` from a `resolution / crop_ratio` view."""

    def __init__(
        self,
        beton: str | os.PathLike,
        *,
        batch_size: int,
        resolution: int = 224,
        num_workers: int,
        device: str | torch.device,
        crop_ratio: float = DEFAULT_CROP_RATIO,
        distributed: bool = False,
    ):
        ffcv = _ffcv()
        super().__init__(
            beton,
            ffcv.fields.rgb_image.CenterCropRGBImageDecoder((resolution, resolution), ratio=crop_ratio),
            [],
            batch_size=batch_size,
            num_workers=num_workers,
            device=device,
            order=ffcv.loader.OrderOption.SEQUENTIAL,
            drop_last=False,
            distributed=distributed,
        )
