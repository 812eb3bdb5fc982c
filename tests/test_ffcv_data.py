"""ffcv backend: write a .beton from real Tiny-ImageNet images and read it back on the CPU.

Most of this file's time is numba compiling ffcv's pipelines on first use.
"""

import sys

import numpy as np
import pytest
import torch

from conftest import mirror_file
from toponets.data import ffcv_data
from toponets.data.prepare_images import from_tiny_imagenet


def test_missing_ffcv_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ffcv", None)  # makes `import ffcv` fail
    with pytest.raises(ImportError, match=r"pip install ffcv==1\.0\.2"):
        ffcv_data.write_beton(tmp_path, tmp_path / "x.beton")


@pytest.fixture(scope="module")
def beton(tmp_path_factory):
    """A .beton of 2 classes x 3 real 64x64 images, labels 0,0,0,1,1,1 in file order."""
    pytest.importorskip("ffcv", reason="ffcv is an optional extra (see ENVIRONMENT.md)")
    tar = mirror_file("imagenet/tiny-imagenet-200.tar")
    root = tmp_path_factory.mktemp("ffcv")
    from_tiny_imagenet(tar, root / "images", classes=2, train_per_class=3, val_per_class=1)
    return ffcv_data.write_beton(root / "images" / "train", root / "train.beton", max_resolution=64, num_workers=1)


def test_train_loader(beton):
    loader = ffcv_data.FfcvTrainLoader(beton, batch_size=4, resolution=32, num_workers=1, device="cpu")
    assert len(loader) == 1  # 6 images, incomplete batches dropped
    (images, labels), = list(loader)
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and set(labels.tolist()) <= {0, 1}
    loader.set_resolution(40)
    loader.set_epoch(3)
    (images, _), = list(loader)
    assert images.shape == (4, 3, 40, 40)


def test_val_loader(beton):
    loader = ffcv_data.FfcvValLoader(beton, batch_size=4, resolution=32, num_workers=1, device="cpu")
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert torch.cat([labels for _, labels in batches]).tolist() == [0, 0, 0, 1, 1, 1]
    images = torch.cat([images for images, _ in batches])
    assert images.shape == (6, 3, 32, 32)
    # normalised uint8 pixels: undoing the ImageNet normalisation gives integers in 0..255
    mean = torch.tensor(ffcv_data.MEAN_255, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(ffcv_data.STD_255, dtype=torch.float32).view(1, 3, 1, 1)
    pixels = (images * std + mean).numpy()
    assert np.allclose(pixels, np.round(pixels), atol=1e-3) and pixels.min() >= -1e-3 and pixels.max() <= 255.001
    assert pixels.std() > 10  # real image content, not a constant
