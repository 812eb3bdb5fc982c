"""Train a vision TopoNet with the ffcv ImageNet recipe (METHODS §11.1).

Loss = label-smoothed cross-entropy + tau * TopoLoss. SGD with momentum, no
weight decay on batch-norm parameters, the "cyclic" learning rate (linear
from 1e-4 * lr to lr at `lr_peak_epoch`, then linear to 0 at `epochs`, values
at epoch boundaries interpolated linearly per iteration), progressive resizing
per epoch, channels_last and AMP on CUDA. The peak lr is used as given: like
ffcv, it is not rescaled with the batch size.

The loop is backend-agnostic: a loader is an iterable of (images, labels)
with ``len``, ``set_epoch`` and ``set_resolution``; a ``skip(n)`` method, when
present, resumes an epoch at batch n without loading the batches before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.images import FolderLoader
from ..device import select_device
from ..models import build, topographic_layers
from ..topoloss import TopoLoss
from .common import (
    LossGuard,
    MetricsLog,
    end_of_step,
    finish_run,
    progress_bar,
    restore,
    seed_everything,
    use_amp,
)
from .common import resolve_spec as common_resolve_spec

FAMILIES = ("resnet18", "resnet50")  # the ffcv ResNet recipe; ViT's recipe is a different loop

# ffcv-imagenet rn18_configs/rn18_88_epochs.yaml, plus the knobs this workflow adds.
DEFAULT_RECIPE: dict[str, Any] = {
    "epochs": 88,
    "batch_size": 1024,
    "lr": 0.5,
    "lr_peak_epoch": 2,
    "momentum": 0.9,
    "weight_decay": 5e-5,
    "label_smoothing": 0.1,
    "min_res": 160,
    "max_res": 192,
    "start_ramp": 65,
    "end_ramp": 76,
    "val_res": 256,
    "val_batch_size": 512,
    "val_flip": True,
    "val_every": 0,
    "max_train_images": None,
    "checkpoint_every": 1000,
    "log_every": 1,
    "num_workers": 8,
    "amp": "auto",
    "backend": "torchvision",
}

# Recipe keys that change how a run is executed, not what it computes: a
# preempted run may resume with other values of these.
RUNTIME_KEYS = ("checkpoint_every", "log_every", "num_workers", "val_batch_size")


def resolve_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with defaults filled in (recipe included); unknown recipe keys are errors."""
    resolved = common_resolve_spec(spec, DEFAULT_RECIPE, FAMILIES)
    recipe = resolved["recipe"]
    if recipe["min_res"] > recipe["max_res"]:
        raise ValueError(f"recipe min_res {recipe['min_res']} is larger than max_res {recipe['max_res']}")
    if recipe["backend"] not in ("torchvision", "ffcv"):
        raise ValueError(f"recipe backend must be 'torchvision' or 'ffcv', got {recipe['backend']!r}")
    return resolved


def lr_at(step: int, steps_per_epoch: int, recipe: dict[str, Any]) -> float:
    """The learning rate of (0-based) iteration `step`.

    ffcv's cyclic schedule gives a value per epoch boundary; within an epoch
    the lr goes linearly from the epoch's value towards the next one's.
    """
    epoch, index = divmod(step, steps_per_epoch)
    knots = [0, recipe["lr_peak_epoch"], recipe["epochs"]]
    values = [1e-4 * recipe["lr"], recipe["lr"], 0.0]
    start, end = np.interp([epoch, epoch + 1], knots, values)
    return float(start + (end - start) * index / steps_per_epoch)


def resolution_at(epoch: int, recipe: dict[str, Any]) -> int:
    """Training resolution of `epoch`: min_res up to start_ramp, max_res from end_ramp,
    in between linear and rounded to a multiple of 32 (ffcv), kept within [min_res, max_res]."""
    low, high = recipe["min_res"], recipe["max_res"]
    if epoch <= recipe["start_ramp"]:
        return low
    if epoch >= recipe["end_ramp"]:
        return high
    res = np.interp(epoch, [recipe["start_ramp"], recipe["end_ramp"]], [low, high])
    return int(min(max(round(res / 32) * 32, low), high))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two SGD groups: batch-norm parameters without weight decay, all others with it."""
    norm = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()}
    params = list(model.parameters())
    return [
        {"params": [p for p in params if id(p) in norm], "weight_decay": 0.0},
        {"params": [p for p in params if id(p) not in norm], "weight_decay": weight_decay},
    ]


def make_loaders(recipe: dict[str, Any], train_dir, val_dir, seed: int, device: torch.device, num_classes: int):
    """Train and (when `val_dir` is given) validation loaders of the recipe's backend."""
    batch, workers, first_res = recipe["batch_size"], recipe["num_workers"], resolution_at(0, recipe)
    if recipe["backend"] == "ffcv":
        from ..data import ffcv_data  # optional dependency: ffcv needs system libraries

        if recipe["max_train_images"] is not None:
            raise ValueError("recipe max_train_images works with the torchvision backend only; write a smaller .beton")
        train = ffcv_data.FfcvTrainLoader(
            train_dir, batch_size=batch, resolution=first_res, num_workers=workers, device=device, seed=seed
        )
        if val_dir is None:
            return train, None
        val_batch, val_res = recipe["val_batch_size"], recipe["val_res"]
        val = ffcv_data.FfcvValLoader(
            val_dir, batch_size=val_batch, resolution=val_res, num_workers=workers, device=device
        )
        return train, val
    limit = recipe["max_train_images"]
    train = FolderLoader(train_dir, batch, train=True, res=first_res, num_workers=workers, seed=seed, max_images=limit)
    if len(train.classes) != num_classes:
        raise ValueError(
            f"{train_dir} has {len(train.classes)} classes but the model has {num_classes} outputs; "
            f"set the model option num_classes to {len(train.classes)}"
        )
    if val_dir is None:
        return train, None
    val = FolderLoader(val_dir, recipe["val_batch_size"], train=False, res=recipe["val_res"], num_workers=workers)
    if val.classes != train.classes:
        raise ValueError(f"{val_dir} and {train_dir} hold different classes; both need the same class folders")
    return train, val


def _validate_after(epoch: int, recipe: dict[str, Any]) -> bool:
    """Whether validation runs at the end of (0-based) `epoch`: every `val_every` epochs and after the last."""
    last = epoch + 1 == recipe["epochs"]
    return last or bool(recipe["val_every"] and (epoch + 1) % recipe["val_every"] == 0)


def _epoch_batches(loader, epoch: int, start: int):
    """The batches of `epoch` from batch `start` on."""
    loader.set_epoch(epoch)
    if start and hasattr(loader, "skip"):
        loader.skip(start)
        return iter(loader)
    return islice(loader, start, None)


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, amp: bool, flip: bool) -> dict[str, float]:
    """Top-1/top-5 accuracy and cross-entropy; with `flip`, logits of the image and its mirror are summed (ffcv)."""
    model.eval()
    correct1 = correct5 = loss = count = 0.0
    for images, labels in loader:
        images = images.to(device, non_blocking=True, memory_format=torch.channels_last)
        labels = labels.to(device, non_blocking=True)
        with torch.autocast(device.type, enabled=amp):
            logits = model(images)
            if flip:
                logits = logits + model(torch.flip(images, dims=[3]))
        logits = logits.float()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        correct1 += (top[:, 0] == labels).sum().item()
        correct5 += (top == labels[:, None]).any(dim=1).sum().item()
        loss += F.cross_entropy(logits, labels, reduction="sum").item()
        count += len(labels)
    model.train()
    return {"val_acc": correct1 / count, "val_top5": correct5 / count, "val_loss": loss / count}


class _Trainer:
    """One optimisation step: forward, loss, NaN check, backward, update."""

    def __init__(self, model, topo, optimizer, scaler, recipe, tau, device, amp, guard):
        self.model, self.topo, self.optimizer, self.scaler = model, topo, optimizer, scaler
        self.tau, self.device, self.amp, self.guard = tau, device, amp, guard
        self.smoothing = recipe["label_smoothing"]

    def step(self, number: int, images, labels, lr: float) -> dict[str, float]:
        """Train on one batch; `number` is this step's 1-based number, as logged."""
        images = images.to(self.device, non_blocking=True, memory_format=torch.channels_last)
        labels = labels.to(self.device, non_blocking=True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, enabled=self.amp):
            logits = self.model(images)
            ce = F.cross_entropy(logits, labels, label_smoothing=self.smoothing)
        if self.tau > 0:
            topo = self.topo()
            loss = ce + self.tau * topo
        else:
            with torch.no_grad():
                topo = self.topo()
            loss = ce
        values = {"loss": loss.item(), "ce": ce.item(), "topo": topo.item()}
        self.guard.check(number, **values)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        values["acc"] = (logits.argmax(dim=1) == labels).float().mean().item()
        return values


def train_vision(
    spec: dict[str, Any],
    train_dir: str | Path,
    val_dir: str | Path | None,
    out: str | Path,
    metrics_path: str | Path,
    state_path: str | Path,
    device: str = "auto",
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train the model of `spec`, write checkpoint `out`, return the last metrics record.

    Resumes from `state_path` when it exists (saved every
    `recipe.checkpoint_every` steps and removed at the end); the state must
    come from the same spec, `RUNTIME_KEYS` aside. `on_step` is called with
    every step's record after any state save.
    """
    spec = resolve_spec(spec)
    recipe, tau = spec["recipe"], float(spec["tau"])
    dev = select_device(device)
    amp = use_amp(recipe["amp"], dev)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    seed_everything(spec["seed"])
    model = build(spec["family"], **spec["options"]).to(dev, memory_format=torch.channels_last)
    layers = topographic_layers(model, spec["family"], spec["placement"])
    topo = TopoLoss(model, layers, spec["factor"])
    optimizer = torch.optim.SGD(param_groups(model, recipe["weight_decay"]), lr=0.0, momentum=recipe["momentum"])
    scaler = torch.amp.GradScaler(dev.type, enabled=amp)
    num_classes = spec["options"].get("num_classes", 1000)
    train, val = make_loaders(recipe, train_dir, val_dir, spec["seed"], dev, num_classes)
    steps_per_epoch = len(train)
    if steps_per_epoch == 0:
        raise ValueError(f"{train_dir} has fewer images than one batch of {recipe['batch_size']}; lower batch_size")
    total = recipe["epochs"] * steps_per_epoch

    state_path = Path(state_path)
    objects, resumed_at = restore(state_path, spec, RUNTIME_KEYS, model=model, optimizer=optimizer, scaler=scaler)
    step = resumed_at or 0
    trainer = _Trainer(model, topo, optimizer, scaler, recipe, tau, dev, amp, LossGuard())
    model.train()
    record: dict[str, Any] = {}
    with MetricsLog(metrics_path, resume_step=resumed_at) as log, progress_bar(total, step) as bar:
        for epoch in range(step // steps_per_epoch, recipe["epochs"]):
            res = resolution_at(epoch, recipe)
            train.set_resolution(res)
            tick = time.perf_counter()
            for images, labels in _epoch_batches(train, epoch, step - epoch * steps_per_epoch):
                lr = lr_at(step, steps_per_epoch, recipe)
                values = trainer.step(step + 1, images, labels, lr)
                step += 1
                speed = len(labels) / (time.perf_counter() - tick)
                record = {"step": step, "epoch": epoch, **values, "lr": lr, "img_s": speed, "res": res}
                if val is not None and step % steps_per_epoch == 0 and _validate_after(epoch, recipe):
                    record.update(evaluate(model, val, dev, amp, recipe["val_flip"]))
                bar.update(1)
                bar.set_postfix(loss=f"{values['loss']:.3f}", acc=f"{values['acc']:.2f}", lr=f"{lr:.3g}")
                end_of_step(record, total, recipe, log, state_path, objects, on_step, keep="val_acc" in record)
                tick = time.perf_counter()

    model.to(memory_format=torch.contiguous_format)
    finish_run(out, model, spec, layers, step, state_path)
    return record
