"""Train a vision TopoNet: ResNets with the ffcv ImageNet recipe (METHODS §11.1),
ViT-B/32 with torchvision's classification reference recipe (§11.2).

One loop serves both; the recipe's keys switch the parts on and off, and
`DEFAULT_RECIPES` holds each family's defaults (all with the same keys).
Loss = label-smoothed cross-entropy (against MixUp/CutMix soft targets when
those are on) + tau * TopoLoss. SGD with momentum or AdamW, no weight decay
on batch-norm parameters, the "cyclic" (ffcv) or "cosine" (torchvision)
learning rate, progressive resizing per epoch, AutoAugment and repeated
augmentation in the loader, gradient clipping, a model EMA, channels_last and
AMP on CUDA. On CUDA the optimizers are fused (so the GradScaler's inf check
stays on the GPU too), and the losses reach the host at log steps only
(`common.sync_step`); recipe ``compile`` compiles the model's forward (off by
default until the GPU check, bench/gpu_check.sh, measures it faster). The
peak lr is used as given: like both references, it is not rescaled with the
batch size.

The loop is backend-agnostic: a loader is an iterable of (images, labels)
with ``len``, ``set_epoch`` and ``set_resolution``; a ``skip(n)`` method, when
present, resumes an epoch at batch n without loading the batches before it.

Under ``torchrun`` with W processes (one per GPU) the model trains in
DistributedDataParallel with the same global batch: the recipe's batch_size
(a multiple of W), each rank loading batch_size / W images of it (see
`make_loaders` for how each backend shards the data). TopoLoss is computed on
the unwrapped model, identically on every rank, so its gradient passes
through DDP's average unchanged. Rank 0 alone writes the metrics log, the
resumable state and the checkpoints. Where W processes differ from one:

- BatchNorm is per rank, as in ffcv's ImageNet example (plain DDP, no
  SyncBatchNorm): each rank normalises its share of the batch with that
  share's statistics. After every step the ranks take rank 0's running
  statistics (`distributed.sync_buffers`, what DDP would do before the next
  forward), so EMA updates, validation and saved states see one model.
- MixUp and CutMix draw from the global RNG, which every rank seeds and
  restores alike and otherwise uses only to build the model: a step's draw (which mixer, its
  lambda and box) is the same on every rank, and each rank mixes its own
  share, pairing an image with its neighbour within the share.

Without those (a ViT without mixing, torchvision backend), W processes train like one
up to float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.transforms import AutoAugmentPolicy, v2

from ..checkpoints import save_checkpoint
from ..data.images import FolderLoader
from ..device import to_device
from ..model_spec import VISION
from ..models import build, topographic_layers
from ..topoloss import TopoLoss
from . import distributed
from .common import (
    LossGuard,
    MetricsLog,
    Throughput,
    as_floats,
    compile_in_place,
    cuda_settings,
    end_of_step,
    finish_run,
    logged_run,
    progress_bar,
    restore,
    seed_everything,
    sync_step,
    use_amp,
    use_compile,
)
from .common import resolve_spec as common_resolve_spec

# ffcv-imagenet rn18_configs/rn18_88_epochs.yaml, plus the knobs this workflow adds (all off).
_RESNET18: dict[str, Any] = {
    "epochs": 88,
    "batch_size": 1024,  # the global batch: with W processes each loads batch_size / W images a step
    "optimizer": "sgd",
    "lr": 0.5,
    "schedule": "cyclic",
    "lr_peak_epoch": 2,
    "warmup_epochs": 2,  # the cosine schedule's; the same warm-up if a run switches schedule
    "warmup_decay": 1e-4,
    "momentum": 0.9,
    "weight_decay": 5e-5,
    "label_smoothing": 0.1,
    "mixup_alpha": 0.0,
    "cutmix_alpha": 0.0,
    "auto_augment": None,
    "ra_reps": 1,
    "grad_clip": 0.0,
    "ema_decay": None,
    "ema_steps": 32,
    "min_res": 160,
    "max_res": 192,
    "start_ramp": 65,
    "end_ramp": 76,
    "val_res": 256,
    "val_batch_size": 512,  # per process: only the memory use depends on it
    "val_flip": True,
    "val_every": 0,
    "max_train_images": None,
    "checkpoint_every": 1000,
    "log_every": 10,  # only log steps wait for the GPU (see common.sync_step)
    "num_workers": 8,
    "amp": "auto",
    "compile": "auto",  # torch.compile the model: "auto" = off (unmeasured on a GPU), true or false
    "backend": "torchvision",
}

DEFAULT_RECIPES: dict[str, dict[str, Any]] = {
    "resnet18": _RESNET18,
    # rn50_configs/rn50_88_epochs.yaml: 512 images per GPU on 8 GPUs, i.e. a global batch of 4096
    "resnet50": {**_RESNET18, "batch_size": 4096, "lr": 1.7, "weight_decay": 1e-4},
    # torchvision references/classification README, vit_b_32 (METHODS §11.2): `torchrun --nproc_per_node=8
    # train.py --batch-size 512`, per GPU, so a global batch of 4096 (the released weights: 16 GPUs x 256);
    # --model-ema's defaults (--model-ema-steps 32, --model-ema-decay 0.99998), adjusted for that batch
    # by ema_decay; 224 px, val resize 256 / crop 224
    "vit_b_32": {
        **_RESNET18,
        "epochs": 300,
        "batch_size": 4096,
        "optimizer": "adamw",
        "lr": 0.003,
        "schedule": "cosine",
        "lr_peak_epoch": 30,  # the cyclic schedule's; the same warm-up if a run switches schedule
        "warmup_epochs": 30,
        "warmup_decay": 0.033,
        "weight_decay": 0.3,
        "label_smoothing": 0.11,
        "mixup_alpha": 0.2,
        "cutmix_alpha": 1.0,
        "auto_augment": "imagenet",
        "ra_reps": 3,
        "grad_clip": 1.0,
        "ema_decay": 0.99998,
        "min_res": 224,
        "max_res": 224,
        "start_ramp": 0,
        "end_ramp": 0,
        "val_res": 224,
        "val_flip": False,
    },
}

_CHOICES = {
    "optimizer": ("sgd", "adamw"),
    "schedule": ("cyclic", "cosine"),
    "backend": ("torchvision", "ffcv"),
    "auto_augment": (None, *(policy.value for policy in AutoAugmentPolicy)),
}

# The warm-up length of each schedule, under its reference's name (ffcv; torchvision's --lr-warmup-epochs).
_WARMUP_KEY = {"cyclic": "lr_peak_epoch", "cosine": "warmup_epochs"}

# Recipe keys that change how a run is executed, not what it computes: a
# preempted run may resume with other values of these.
RUNTIME_KEYS = ("checkpoint_every", "log_every", "num_workers", "val_batch_size", "compile")


def resolve_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with its family's default recipe filled in; unknown or inconsistent recipe values are errors."""
    # an unknown or missing family gets no defaults: common_resolve_spec rejects it first
    resolved = common_resolve_spec(spec, DEFAULT_RECIPES.get(spec.get("family"), {}), VISION)
    recipe = resolved["recipe"]
    for key, allowed in _CHOICES.items():
        if recipe[key] not in allowed:
            raise ValueError(f"recipe {key} must be one of {list(allowed)}, got {recipe[key]!r}")
    if recipe["min_res"] > recipe["max_res"]:
        raise ValueError(f"recipe min_res {recipe['min_res']} is larger than max_res {recipe['max_res']}")
    key = _WARMUP_KEY[recipe["schedule"]]
    if recipe[key] > recipe["epochs"]:
        raise ValueError(
            f"recipe {key} {recipe[key]} (end of the {recipe['schedule']} schedule's warm-up) is beyond "
            f"epochs {recipe['epochs']}; lower {key}"
        )
    if resolved["family"] == "vit_b_32":
        _check_vit_resolution(recipe, resolved["options"].get("image_size", 224))
    return resolved


def _check_vit_resolution(recipe: dict[str, Any], image_size: int) -> None:
    """A ViT takes images of its `image_size` only: training and validation must use that size."""
    sizes = {key: recipe[key] for key in ("min_res", "max_res", "val_res")}
    if set(sizes.values()) != {image_size}:
        raise ValueError(
            f"vit_b_32 takes {image_size} px images (model option image_size) but the recipe has {sizes}; "
            f"set min_res, max_res and val_res to {image_size}"
        )


def lr_at(step: int, steps_per_epoch: int, recipe: dict[str, Any]) -> float:
    """The learning rate of (0-based) iteration `step` under the recipe's schedule."""
    return _SCHEDULES[recipe["schedule"]](step, steps_per_epoch, recipe)


def warmup_epochs(recipe: dict[str, Any]) -> float:
    """Epochs of the linear lr warm-up of the recipe's schedule."""
    return recipe[_WARMUP_KEY[recipe["schedule"]]]


def _cyclic_lr(step: int, steps_per_epoch: int, recipe: dict[str, Any]) -> float:
    """ffcv's cyclic schedule: linear from warmup_decay * lr to lr at `lr_peak_epoch`, then to 0 at
    `epochs`. ffcv gives a value per epoch boundary; within an epoch the lr goes linearly from
    the epoch's value towards the next one's."""
    epoch, index = divmod(step, steps_per_epoch)
    knots = [0, warmup_epochs(recipe), recipe["epochs"]]
    values = [recipe["warmup_decay"] * recipe["lr"], recipe["lr"], 0.0]
    start, end = np.interp([epoch, epoch + 1], knots, values)
    return float(start + (end - start) * index / steps_per_epoch)


def _cosine_lr(step: int, steps_per_epoch: int, recipe: dict[str, Any]) -> float:
    """torchvision's reference schedule (LinearLR warm-up, then CosineAnnealingLR, stepped per
    epoch): constant within an epoch, going linearly from warmup_decay * lr at epoch 0 to lr at
    `warmup_epochs`, then along a half cosine towards 0 at `epochs`."""
    epoch = step // steps_per_epoch
    lr, warmup = recipe["lr"], warmup_epochs(recipe)
    if epoch < warmup:
        start = recipe["warmup_decay"]
        return lr * (start + (1.0 - start) * epoch / warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / (recipe["epochs"] - warmup)))


_SCHEDULES = {"cyclic": _cyclic_lr, "cosine": _cosine_lr}


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
    """Two optimizer groups: batch-norm parameters without weight decay, all others with it
    (a ViT has no batch norm: all its parameters are decayed, as in torchvision's reference)."""
    norm = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()}
    params = list(model.parameters())
    return [
        {"params": [p for p in params if id(p) in norm], "weight_decay": 0.0},
        {"params": [p for p in params if id(p) not in norm], "weight_decay": weight_decay},
    ]


def make_optimizer(model: nn.Module, recipe: dict[str, Any], device: torch.device) -> torch.optim.Optimizer:
    """The recipe's optimizer (lr 0: the loop sets it every step), fused on CUDA; `momentum` is SGD's
    momentum or AdamW's beta1 (AdamW's second beta is torch's default, 0.999, as in torchvision)."""
    groups = param_groups(model, recipe["weight_decay"])
    fused = device.type == "cuda"
    if recipe["optimizer"] == "adamw":
        return torch.optim.AdamW(groups, lr=0.0, betas=(recipe["momentum"], 0.999), fused=fused)
    return torch.optim.SGD(groups, lr=0.0, momentum=recipe["momentum"], fused=fused)


def batch_mixer(recipe: dict[str, Any], num_classes: int) -> Callable | None:
    """MixUp and/or CutMix of a batch, one of them picked at random per batch as in torchvision's
    reference: (images, labels) -> (mixed images, soft targets); None when both alphas are 0."""
    mixers = []
    if recipe["mixup_alpha"] > 0:
        mixers.append(v2.MixUp(alpha=recipe["mixup_alpha"], num_classes=num_classes))
    if recipe["cutmix_alpha"] > 0:
        mixers.append(v2.CutMix(alpha=recipe["cutmix_alpha"], num_classes=num_classes))
    return v2.RandomChoice(mixers) if mixers else None


def ema_decay(recipe: dict[str, Any]) -> float:
    """The EMA decay per update, adjusted as torchvision's reference does so that the average
    spans a similar share of training whatever the batch size, update interval and epochs:
    alpha = (1 - ema_decay) * batch_size * ema_steps / epochs, at most 1; decay = 1 - alpha."""
    alpha = (1.0 - recipe["ema_decay"]) * recipe["batch_size"] * recipe["ema_steps"] / recipe["epochs"]
    return 1.0 - min(1.0, alpha)


def make_ema(model: nn.Module, recipe: dict[str, Any]) -> AveragedModel | None:
    """An exponential moving average of `model`'s parameters and buffers, or None when
    `ema_decay` is null or 0 (EMA off)."""
    if not recipe["ema_decay"]:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay(recipe)), use_buffers=True)


def update_ema(ema: AveragedModel, model: nn.Module, index: int, epoch: int, recipe: dict[str, Any]) -> None:
    """After the optimizer step of batch `index` (0-based within `epoch`): every `ema_steps`
    batches of an epoch, from its first, fold `model` into `ema`; during the warm-up epochs the
    average restarts each time, so the EMA is a copy of the model (torchvision's reference)."""
    if index % recipe["ema_steps"]:
        return
    ema.update_parameters(model)
    if epoch < warmup_epochs(recipe):
        ema.n_averaged.fill_(0)


def make_loaders(recipe: dict[str, Any], train_dir, val_dir, seed: int, device: torch.device, num_classes: int,
                 ctx: distributed.Context = distributed.SINGLE):
    """Train and (when `val_dir` is given) validation loaders of the recipe's backend, for rank
    `ctx.rank` of `ctx.world_size`, each loading batch_size / world_size images a step.

    torchvision backend: `FolderLoader` shards exactly, the ranks' batches of a
    step together being the one-process batch. ffcv backend: ffcv's Loader with
    ``distributed=True`` shards by itself, reading rank and world size from
    torch.distributed as torch's DistributedSampler does: each rank takes every
    W-th sample of the epoch's order, padded by repeating samples to a multiple
    of W. That order is a shuffle by seed + epoch in training (one process uses
    ffcv's QUASI_RANDOM order instead, so its batches differ from W processes')
    and the file order in validation, where the padding counts up to W - 1
    images twice unless W divides the validation set.
    """
    batch = distributed.per_rank(recipe["batch_size"], ctx, "recipe batch_size")
    workers, first_res = recipe["num_workers"], resolution_at(0, recipe)
    if recipe["backend"] == "ffcv":
        from ..data import ffcv_data  # optional dependency: ffcv needs system libraries

        if recipe["max_train_images"] is not None:
            raise ValueError("recipe max_train_images works with the torchvision backend only; write a smaller .beton")
        if recipe["auto_augment"] is not None or recipe["ra_reps"] != 1:
            raise ValueError(
                "recipe auto_augment and ra_reps (AutoAugment, repeated augmentation) work with backend "
                "torchvision only; set backend: torchvision, or auto_augment: null and ra_reps: 1"
            )
        spread = ctx.world_size > 1
        train = ffcv_data.FfcvTrainLoader(
            train_dir, batch_size=batch, resolution=first_res, num_workers=workers, device=device, seed=seed,
            distributed=spread,
        )
        if val_dir is None:
            return train, None
        val_batch, val_res = recipe["val_batch_size"], recipe["val_res"]
        val = ffcv_data.FfcvValLoader(
            val_dir, batch_size=val_batch, resolution=val_res, num_workers=workers, device=device, distributed=spread
        )
        return train, val
    shard = {"rank": ctx.rank, "world_size": ctx.world_size}
    train = FolderLoader(
        train_dir, batch, train=True, res=first_res, num_workers=workers, seed=seed,
        max_images=recipe["max_train_images"], auto_augment=recipe["auto_augment"], repeats=recipe["ra_reps"], **shard,
    )
    if len(train.classes) != num_classes:
        raise ValueError(
            f"{train_dir} has {len(train.classes)} classes but the model has {num_classes} outputs; "
            f"set the model option num_classes to {len(train.classes)}"
        )
    if val_dir is None:
        return train, None
    val = FolderLoader(
        val_dir, recipe["val_batch_size"], train=False, res=recipe["val_res"], num_workers=workers, **shard
    )
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
def evaluate(model: nn.Module, loader, device: torch.device, amp: bool, flip: bool,
             ctx: distributed.Context = distributed.SINGLE) -> dict[str, float]:
    """Top-1/top-5 accuracy and cross-entropy; with `flip`, logits of the image and its mirror are summed (ffcv).

    Under data parallelism each rank evaluates its shard of the images (its
    `loader`) on the unwrapped `model` (no DDP collectives, so the shards may
    differ in size) and the sums are all-reduced.
    """
    model.eval()
    correct1 = correct5 = loss = count = 0.0
    for images, labels in loader:
        images = to_device(images, device, memory_format=torch.channels_last)
        labels = to_device(labels, device)
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
    sums = distributed.totals({"correct1": correct1, "correct5": correct5, "loss": loss, "count": count}, ctx)
    count = sums["count"]
    return {"val_acc": sums["correct1"] / count, "val_top5": sums["correct5"] / count, "val_loss": sums["loss"] / count}


def validate(model: nn.Module, ema: AveragedModel | None, loader, amp: bool, flip: bool,
             ctx: distributed.Context) -> dict[str, float]:
    """`evaluate` of the (unwrapped) model and, when there is one, of its EMA (keys with the suffix "_ema")."""
    stats = evaluate(model, loader, ctx.device, amp, flip, ctx)
    if ema is not None:
        averaged = evaluate(ema.module, loader, ctx.device, amp, flip, ctx)
        stats.update({f"{key}_ema": value for key, value in averaged.items()})
    return stats


class _Trainer:
    """One optimisation step: mixing, forward, loss, NaN check, backward, clipping, update.

    `model` is the model in DDP when there are several ranks (`topo` reads
    the same parameters unwrapped); the logged values are means over the ranks.
    """

    def __init__(self, model, topo, optimizer, scaler, recipe, tau, ctx, amp, guard, mixer):
        self.model, self.topo, self.optimizer, self.scaler = model, topo, optimizer, scaler
        self.tau, self.ctx, self.amp, self.guard, self.mixer = tau, ctx, amp, guard, mixer
        self.smoothing, self.grad_clip = recipe["label_smoothing"], recipe["grad_clip"]

    def step(self, number: int, images, labels, lr: float) -> dict[str, torch.Tensor]:
        """Train on this rank's share of a batch; `number` is this step's 1-based number, as logged.
        Returns its "loss", "ce", "topo" and "acc" (that of the (mixed) batch against its original
        labels), means over the ranks left on the device: this waits for nothing."""
        images = to_device(images, self.ctx.device, memory_format=torch.channels_last)
        labels = to_device(labels, self.ctx.device)
        images, targets = (images, labels) if self.mixer is None else self.mixer(images, labels)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.ctx.device.type, enabled=self.amp):
            logits = self.model(images)
            ce = F.cross_entropy(logits, targets, label_smoothing=self.smoothing)
        if self.tau > 0:
            topo = self.topo()
            loss = ce + self.tau * topo
        else:
            with torch.no_grad():
                topo = self.topo()
            loss = ce
        acc = (logits.argmax(dim=1) == labels).float().mean()
        # one all-reduce on the device; every rank then holds the same values, and stops together at a NaN
        values = distributed.device_means({"loss": loss, "ce": ce, "topo": topo, "acc": acc}, self.ctx)
        self.guard.watch(number, values["loss"])
        self.scaler.scale(loss).backward()  # DDP averages the gradients over the ranks
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the loss-scaled ones
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        distributed.sync_buffers(self.model, self.ctx)
        return values

    def logged(self, number: int, values: dict[str, torch.Tensor]) -> dict[str, float]:
        """The values of step `number` as floats, after the NaN check: at log steps only, for it waits
        for the device."""
        floats = as_floats(values)
        self.guard.check(number, **floats)
        return floats


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

    `out` holds the trained model's own weights; with EMA on, the EMA's
    weights go to ``<out stem>.ema.safetensors`` beside it (which of the two
    the paper's released ViT is, is open: METHODS §11.2), and validation
    records both (``val_acc``, ``val_acc_ema``...). Resumes from `state_path`
    when it exists (saved every `recipe.checkpoint_every` steps and removed at
    the end); the state must come from the same spec, `RUNTIME_KEYS` aside.
    `on_step` is called with every step's record after any state save, on every rank.

    Under torchrun (WORLD_SIZE > 1) every rank calls this and trains its
    share of each batch in DDP (see the module docstring); `device` "auto" or
    "cuda" then means each rank's own GPU.
    """
    spec = resolve_spec(spec)
    with distributed.session(device) as ctx:
        return _train(spec, train_dir, val_dir, out, metrics_path, Path(state_path), ctx, on_step)


def _train(spec, train_dir, val_dir, out, metrics_path, state_path: Path, ctx: distributed.Context, on_step):
    """`train_vision` within a distributed session (one process: the trivial one)."""
    recipe, tau, dev = spec["recipe"], float(spec["tau"]), ctx.device
    amp = use_amp(recipe["amp"], dev)
    cuda_settings(dev)
    seed_everything(spec["seed"])  # the same on every rank: model init, and the mixing draws (module docstring)
    model = build(spec["family"], **spec["options"]).to(dev, memory_format=torch.channels_last)
    layers = topographic_layers(model, spec["family"], spec["placement"])
    topo = TopoLoss(model, layers, spec["factor"])
    optimizer = make_optimizer(model, recipe, dev)
    ema = make_ema(model, recipe)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp)
    num_classes = spec["options"].get("num_classes", 1000)
    train, val = make_loaders(recipe, train_dir, val_dir, spec["seed"], dev, num_classes, ctx)
    steps_per_epoch = len(train)
    if steps_per_epoch == 0:
        raise ValueError(f"{train_dir} has fewer images than one batch of {recipe['batch_size']}; lower batch_size")
    total = recipe["epochs"] * steps_per_epoch

    objects, resumed_at = restore(
        state_path, spec, RUNTIME_KEYS, main=ctx.is_main, model=model, optimizer=optimizer, scaler=scaler, ema=ema
    )
    distributed.barrier(ctx)  # every rank has read the state before rank 0 may overwrite or delete it
    step = resumed_at or 0
    if use_compile(recipe["compile"], dev, auto=False):
        compile_in_place(model)  # after make_ema copied it, before DDP wraps it
    ddp = distributed.wrap(model, ctx, forward_sync_buffers=False)  # the trainer syncs them after each step instead
    mixer = batch_mixer(recipe, num_classes)
    trainer = _Trainer(ddp, topo, optimizer, scaler, recipe, tau, ctx, amp, LossGuard(), mixer)
    model.train()
    record: dict[str, Any] = {}
    with (
        distributed.main_only(ctx, MetricsLog, metrics_path, resume_step=resumed_at, run=logged_run(spec)) as log,
        distributed.main_only(ctx, progress_bar, total, step) as bar,
    ):
        meter = Throughput()
        for epoch in range(step // steps_per_epoch, recipe["epochs"]):
            res = resolution_at(epoch, recipe)
            train.set_resolution(res)
            start = step - epoch * steps_per_epoch
            for index, (images, labels) in enumerate(_epoch_batches(train, epoch, start), start):
                lr = lr_at(step, steps_per_epoch, recipe)
                values = trainer.step(step + 1, images, labels, lr)
                if ema is not None:
                    update_ema(ema, model, index, epoch, recipe)
                step += 1
                meter.add(len(labels) * ctx.world_size)  # all ranks' images
                record = {"step": step, "epoch": epoch, "lr": lr, "res": res}
                validates = val is not None and step % steps_per_epoch == 0 and _validate_after(epoch, recipe)
                if validates or sync_step(step, total, recipe):
                    record.update(trainer.logged(step, values), img_s=meter.rate())
                if validates:
                    record.update(validate(model, ema, val, amp, recipe["val_flip"], ctx))
                end_of_step(record, total, recipe, log, state_path, objects, on_step, keep=validates,
                            bar=bar, shown=("loss", "acc", "lr"), main=ctx.is_main)
                if "loss" in record:
                    meter.restart()  # the next rate counts training steps only, not validation or saving

    if ctx.is_main:
        _write_checkpoints(out, model, ema, spec, layers, step, state_path)
    distributed.barrier(ctx)  # no rank returns before the checkpoints exist
    return record


def _write_checkpoints(out, model: nn.Module, ema: AveragedModel | None, spec: dict[str, Any], layers: list[str],
                       step: int, state_path: Path) -> None:
    """The final checkpoint `out` and, with EMA on, the EMA's beside it (first: `finish_run` then drops
    the state it could be redone from)."""
    model.to(memory_format=torch.contiguous_format)
    if ema is not None:
        ema.module.to(memory_format=torch.contiguous_format)
        save_checkpoint(
            ema_path(out), ema.module, spec["family"], spec["options"], topographic_layers=layers,
            factor=spec["factor"], tau=float(spec["tau"]), step=step, config=spec,
        )
    finish_run(out, model, spec, layers, step, state_path)


def ema_path(out: str | Path) -> Path:
    """Where the EMA weights of the run whose checkpoint is `out` go: ``<out stem>.ema.safetensors``."""
    return Path(out).with_suffix(".ema.safetensors")
