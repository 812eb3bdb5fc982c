"""The vision training loop on a tiny image folder: learning, the ffcv schedule,
optimizer groups, exact resume, the NaN guard and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from toponets.checkpoints import load_checkpoint, read_meta
from toponets.cli.train_vision import main as cli_main
from toponets.data.images import FolderLoader
from toponets.models import build
from toponets.train import vision
from toponets.train.common import NonFiniteLossError, read_metrics
from toponets.train.vision import evaluate, lr_at, param_groups, resolution_at, resolve_spec, train_vision

CLASSES = ("a_red", "b_blue")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An ImageFolder of 2 classes x 16 noisy 40 px JPEGs: reddish vs bluish."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASSES):
        (root / name).mkdir()
        for k in range(16):
            pixels = rng.integers(0, 120, size=(40, 40, 3))
            pixels[..., 0 if label == 0 else 2] += 120
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{k}.jpg", quality=90)
    return root


def tiny_spec(**recipe) -> dict:
    base = {
        "epochs": 2,
        "batch_size": 8,
        "lr": 0.05,
        "lr_peak_epoch": 1,
        "min_res": 32,
        "max_res": 32,
        "val_res": 32,
        "val_batch_size": 16,
        "num_workers": 0,
        "checkpoint_every": 3,
    }
    options = {"num_classes": 2, "width_multiplier": 0.25}
    return {"family": "resnet18", "options": options, "tau": 1.0, "seed": 0, "recipe": {**base, **recipe}}


def run(tmp_path, folder, spec, name="run", val=True, **kwargs):
    paths = {k: tmp_path / f"{name}.{k}" for k in ("safetensors", "jsonl", "pt")}
    last = train_vision(
        spec, folder, folder if val else None, paths["safetensors"], paths["jsonl"], paths["pt"], "cpu", **kwargs
    )
    return last, paths


def test_loss_falls_and_outputs_are_written(tmp_path, folder):
    last, paths = run(tmp_path, folder, tiny_spec(epochs=6, lr=0.1, val_every=3))
    records = read_metrics(paths["jsonl"])
    ce = [r["ce"] for r in records]
    assert np.mean(ce[-4:]) < np.mean(ce[:4]) - 0.1
    assert [r["step"] for r in records] == list(range(1, 25))
    assert {"step", "epoch", "loss", "ce", "topo", "acc", "lr", "img_s", "res"} <= records[0].keys()
    assert [r["step"] for r in records if "val_acc" in r] == [12, 24]
    assert 0 <= last["val_acc"] <= last["val_top5"] == 1.0  # 2 classes: top-5 is all
    assert not paths["pt"].exists()
    model, meta = load_checkpoint(paths["safetensors"])
    assert meta["step"] == 24 and meta["topo"]["tau"] == 1.0 and len(meta["topo"]["layers"]) == 19
    assert meta["config"]["recipe"]["momentum"] == 0.9  # the resolved spec, defaults included


def test_tau_zero_still_logs_topo(tmp_path, folder):
    _, paths = run(tmp_path, folder, {**tiny_spec(epochs=1), "tau": 0.0}, val=False)
    records = read_metrics(paths["jsonl"])
    assert all(0 < r["topo"] < 2 and r["loss"] == r["ce"] for r in records)


def test_resume_equals_uninterrupted(tmp_path, folder):
    spec = tiny_spec()  # 4 steps per epoch, 8 in all, state saved at steps 3 and 6
    run(tmp_path, folder, spec, name="whole", val=False)

    def kill_at_5(record):
        if record["step"] == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, folder, spec, name="parts", val=False, on_step=kill_at_5)
    assert (tmp_path / "parts.pt").exists()
    assert [r["step"] for r in read_metrics(tmp_path / "parts.jsonl")] == [1, 2, 3, 4, 5]
    rerun = {**spec, "recipe": {**spec["recipe"], "checkpoint_every": 5}}  # runtime keys may change
    run(tmp_path, folder, rerun, name="parts", val=False)  # resumes at step 3, mid-epoch 0

    whole, parts = load_file(tmp_path / "whole.safetensors"), load_file(tmp_path / "parts.safetensors")
    assert whole.keys() == parts.keys()
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    logged = [read_metrics(tmp_path / f"{name}.jsonl") for name in ("whole", "parts")]
    assert [r["step"] for r in logged[1]] == list(range(1, 9))
    drop_time = [[{k: v for k, v in r.items() if k != "img_s"} for r in log] for log in logged]
    assert drop_time[0] == drop_time[1]


def test_state_from_another_config_is_refused(tmp_path, folder):
    def kill_at_3(record):
        if record["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, folder, tiny_spec(), val=False, on_step=kill_at_3)
    with pytest.raises(RuntimeError, match="different config"):
        run(tmp_path, folder, tiny_spec(lr=0.01), val=False)


def test_nan_guard_names_the_step(tmp_path, folder, monkeypatch):
    class Poisoned(FolderLoader):
        def __iter__(self):
            for index, (images, labels) in enumerate(super().__iter__()):
                yield (images * float("nan") if index == 2 else images), labels

    monkeypatch.setattr(vision, "FolderLoader", Poisoned)
    with pytest.raises(NonFiniteLossError, match=r"at step 3 .*step 2: \d"):
        run(tmp_path, folder, tiny_spec(), val=False)


def test_lr_schedule_matches_ffcv_cyclic():
    recipe = resolve_spec({"family": "resnet18", "tau": 0})["recipe"]  # 88 epochs, peak 0.5 at epoch 2
    spe = 100
    assert lr_at(0, spe, recipe) == pytest.approx(5e-5)
    assert lr_at(200, spe, recipe) == pytest.approx(0.5)
    at_epoch_1 = 5e-5 + (0.5 - 5e-5) / 2
    assert lr_at(100, spe, recipe) == pytest.approx(at_epoch_1)
    assert lr_at(50, spe, recipe) == pytest.approx((5e-5 + at_epoch_1) / 2)
    assert lr_at(88 * spe - 1, spe, recipe) == pytest.approx(0.5 / 86 * 0.01)
    assert lr_at(300, spe, recipe) == pytest.approx(0.5 * 85 / 86)


def test_progressive_resizing_rounds_to_multiples_of_32():
    recipe = resolve_spec({"family": "resnet18", "tau": 0})["recipe"]  # 160 -> 192 over epochs 65-76
    epochs = (0, 65, 66, 70, 71, 75, 76, 87)
    assert [resolution_at(e, recipe) for e in epochs] == [160, 160, 160, 160, 192, 192, 192, 192]


def test_batchnorm_parameters_get_no_weight_decay():
    model = build("resnet18", width_multiplier=0.25)
    no_decay, decay = param_groups(model, 5e-5)
    names = {id(p): n for n, p in model.named_parameters()}
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 5e-5
    bn_names = {names[id(p)] for p in no_decay["params"]}
    assert "layer2.0.downsample.1.weight" in bn_names and "bn1.bias" in bn_names
    assert all(".bn" in n or n.startswith("bn") or "downsample.1" in n for n in bn_names)
    assert len(bn_names) + len(decay["params"]) == len(names)
    assert "fc.weight" not in bn_names and "layer2.0.conv1.conv.weight" not in bn_names


def test_unknown_recipe_key_is_an_error():
    with pytest.raises(ValueError, match="did you mean 'lr_peak_epoch'"):
        resolve_spec({"family": "resnet18", "tau": 0, "recipe": {"lr_peak_epochs": 2}})


def test_class_count_must_match_model(tmp_path, folder):
    spec = tiny_spec()
    spec["options"]["num_classes"] = 10
    with pytest.raises(ValueError, match="num_classes to 2"):
        run(tmp_path, folder, spec)


def test_loader_skip_and_seeded_augmentation(folder):
    def batches(loader, epoch, skip=0):
        loader.set_epoch(epoch)
        loader.skip(skip)
        return [images for images, _ in loader]

    loader = FolderLoader(folder, 8, train=True, res=24, seed=1)
    full = batches(loader, 3)
    assert len(full) == len(loader) == 4 and full[0].shape == (8, 3, 24, 24)
    assert all(torch.equal(a, b) for a, b in zip(full[2:], batches(loader, 3, skip=2), strict=True))
    assert not torch.equal(full[0], batches(loader, 4)[0])
    val = FolderLoader(folder, 10, train=False, res=24)
    assert [len(labels) for _, labels in val] == [10, 10, 10, 2]


class RedVsBlue(nn.Module):
    """Classifies the test images by colour: logits (mean red, mean blue)."""

    def forward(self, images):
        return images.mean(dim=(2, 3))[:, [0, 2]]


class Negate(nn.Module):
    def forward(self, x):
        return -x


def test_evaluate_scores_a_known_classifier(folder):
    val = FolderLoader(folder, 10, train=False, res=24)
    stats = evaluate(RedVsBlue(), val, torch.device("cpu"), amp=False, flip=True)
    assert stats["val_acc"] == 1.0
    swapped = evaluate(nn.Sequential(RedVsBlue(), Negate()), val, torch.device("cpu"), False, False)
    assert swapped["val_acc"] == 0.0


def test_cli_with_spec_file(tmp_path, folder):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(tiny_spec(epochs=1)))
    out = tmp_path / "ckpt.safetensors"
    args = ["--spec", str(spec_file), "--train-dir", str(folder), "--out", str(out)]
    cli_main([*args, "--metrics", str(tmp_path / "m.jsonl"), "--state", str(tmp_path / "s.pt"), "--device", "cpu"])
    assert read_meta(out)["step"] == 4
