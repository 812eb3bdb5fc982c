"""Top-1 accuracy with flip test-time augmentation (METHODS §11.1) and its CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from conftest import tiny_checkpoint, tiny_image_folder
from toponets.analysis.accuracy import top1_accuracy
from toponets.cli import accuracy as cli
from toponets.cli import eval_args
from toponets.data.images import eval_transform, image_folder, loader


class ColumnMeans(nn.Module):
    """Logit c = mean of pixel column c: a classifier whose answer changes under a flip."""

    def forward(self, x):
        return x.mean(dim=(1, 2))


def test_flip_tta_sums_logits_of_image_and_mirror():
    # columns (3, 2, 0): plain logits (3, 2, 0) -> class 0; plus the mirror (0, 2, 3) -> (3, 4, 3) -> class 1
    image = torch.tensor([3.0, 2.0, 0.0]).expand(1, 1, 4, 3)
    batches = [(image, torch.tensor([1]))]
    assert top1_accuracy(ColumnMeans(), batches).top1 == 1.0
    assert top1_accuracy(ColumnMeans(), batches, flip_tta=False).top1 == 0.0


def test_accuracy_counts_correct_argmax_over_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5)).train()
    images, labels = torch.randn(37, 3, 4, 4), torch.randint(0, 5, (37,))
    batches = [(images[i : i + 10], labels[i : i + 10]) for i in range(0, 37, 10)]
    with torch.no_grad():
        expected = (model(images) + model(images.flip(-1))).argmax(1).eq(labels).float().mean().item()
    result = top1_accuracy(model, batches)
    assert result.n_images == 37 and result.top1 == pytest.approx(expected)
    assert model.training


def test_clear_errors():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 2))
    with pytest.raises(ValueError, match="out of range for a 2-class model"):
        top1_accuracy(model, [(torch.randn(2, 3), torch.tensor([0, 2]))])
    with pytest.raises(ValueError, match="no images"):
        top1_accuracy(model, [])


def test_cli_writes_top1(tmp_path):
    model = tiny_checkpoint(tmp_path / "m.safetensors")
    tiny_image_folder(tmp_path / "val")
    out = tmp_path / "eval" / "accuracy.json"
    args = ["--checkpoint", str(tmp_path / "m.safetensors"), "--images", str(tmp_path / "val")]
    settings = json.dumps({"accuracy": {"res": 16, "batch_size": 4, "max_images": 7}})
    cli.main([*args, "--settings", settings, "--device", "cpu", "--out", str(out)])
    report = json.loads(out.read_text())
    subset = image_folder(tmp_path / "val", transform=eval_transform(16), max_images=7)
    expected = top1_accuracy(model, loader(subset, batch_size=7, shuffle=False))
    assert report["n_images"] == 7 and report["metrics"]["top1"] == pytest.approx(expected.top1)


def test_resnets_validate_as_the_ffcv_recipe_reports_and_the_vit_as_torchvision():
    """Section 3.1 / Figure 2A: ImageNet top-1 of models trained with ffcv-imagenet's recipes (ResNets,
    A.3) and torchvision's (ViT, section 2.2). ffcv's rn18/rn50 configs report top-1 with `validation:
    resolution: 256, lr_tta: true` (centre crop 224/256, logits of image plus mirror); torchvision's
    reference validates ViT-B/32 at 224 px without flips."""
    meta = {"model": {"family": "resnet18"}, "config": {}}
    assert eval_args.validation_protocol(meta) == (256, True)
    assert eval_args.validation_protocol({**meta, "model": {"family": "resnet50"}}) == (256, True)
    assert eval_args.validation_protocol({**meta, "model": {"family": "vit_b_32"}}) == (224, False)
    small = {**meta, "config": {"recipe": {"val_res": 64, "val_flip": False}}}  # a preset's own recipe
    assert eval_args.validation_protocol(small) == (64, False)
    with pytest.raises(SystemExit, match="give settings res and flip_tta"):
        eval_args.validation_protocol({**meta, "model": {"family": "tdann"}})


def test_cli_validates_as_the_checkpoints_recipe_unless_told(tmp_path):
    model = tiny_checkpoint(tmp_path / "m.safetensors")  # resnet18, default recipe: 256 px with flips
    tiny_image_folder(tmp_path / "val")
    common = ["--checkpoint", str(tmp_path / "m.safetensors"), "--images", str(tmp_path / "val"), "--device", "cpu"]
    cli.main([*common, "--out", str(tmp_path / "recipe.json")])
    report = json.loads((tmp_path / "recipe.json").read_text())
    assert (report["res"], report["flip_tta"]) == (256, True)
    expected = top1_accuracy(model, loader(image_folder(tmp_path / "val", transform=eval_transform(256)), batch_size=9, shuffle=False))
    assert report["metrics"]["top1"] == pytest.approx(expected.top1)
    settings = tmp_path / "settings.json"  # a file, as by hand
    settings.write_text(json.dumps({"accuracy": {"res": 16, "flip_tta": False}}))
    cli.main([*common, "--settings", str(settings), "--out", str(tmp_path / "told.json")])
    report = json.loads((tmp_path / "told.json").read_text())
    assert (report["res"], report["flip_tta"]) == (16, False)
