"""Train a language TopoNet (GPT-Neo or NanoGPT) with the nanoGPT recipe (METHODS §11.3-11.4).

Loss = next-token cross-entropy + tau * TopoLoss on the MLP ``c_fc`` layers.
AdamW with betas (0.9, 0.95) and weight decay on parameters of dim >= 2 only,
linear warm-up then cosine decay of the lr to ``min_lr_ratio`` x peak
(build-nanogpt's ``get_lr``), gradient accumulation, gradient clipping and
bf16 autocast on CUDA. TopoLoss depends on the weights only, so it is computed
once per optimizer step, not per micro-batch. On CUDA the model's forward is
compiled (recipe ``compile``, as nanoGPT does; TopoLoss stays outside the
graph), AdamW is fused, batches are copied from pinned memory, and the losses
reach the host at log steps only (`common.sync_step`).

The data is any object with ``batch(batch_size, block_size, generator) ->
(x, y)`` (random windows and their next tokens, int64), by default
`toponets.data.text.TokenShards`. Micro-batch m of step s is drawn from a
generator seeded with (seed, s, m), so a resumed run sees the same data.

Under ``torchrun`` with W processes (one per GPU) the model trains in
DistributedDataParallel with the same global batch: the recipe's
batch_size x block_size x grad_accum tokens per step, rank r taking the
micro-batches m with m % W == r, so grad_accum must be a multiple of W.
Rank 0 alone writes the metrics log, the resumable state and the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..model_spec import LANGUAGE
from ..models import build, topographic_layers
from ..next_token import next_token_loss, step_generator
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

# build-nanogpt's GPT-2 (124M) run on FineWeb-Edu 10B, plus the knobs this workflow adds.
DEFAULT_RECIPE: dict[str, Any] = {
    "max_steps": None,  # optimizer steps; None: train_tokens // tokens per step
    "train_tokens": 10_000_000_000,  # used when max_steps is None (10B tokens -> 19,073 steps)
    "batch_size": 64,  # sequences per micro-batch
    "block_size": 1024,  # tokens per sequence
    "grad_accum": 8,  # micro-batches per optimizer step: 64 x 1024 x 8 = 524,288 tokens
    "lr": 6e-4,  # peak learning rate, reached at the end of warm-up
    "min_lr_ratio": 0.1,  # the cosine ends at min_lr = min_lr_ratio x lr, at max_steps
    "warmup_steps": 715,  # linear warm-up: step s (0-based) uses lr x (s + 1) / warmup_steps
    "betas": [0.9, 0.95],  # AdamW betas
    "weight_decay": 0.1,  # AdamW decoupled weight decay, on parameters with dim >= 2 only
    "grad_clip": 1.0,  # max global gradient norm; 0 disables clipping
    "eval_every": 250,  # validation loss every this many steps and after the last; 0: after the last only
    "eval_batches": 20,  # validation micro-batches per evaluation (the same ones each time); 0: none
    "checkpoint_every": 250,  # save the resumable state every this many steps; 0: never
    "log_every": 10,  # metrics record every this many steps (and at evaluations, state saves, the end); nanoGPT's
    "amp": "auto",  # bf16 autocast: "auto" = on CUDA only, true (CUDA required) or false
    "compile": "auto",  # torch.compile the model: "auto" = on CUDA only, true or false
}

# Recipe keys that change how a run is executed, not what it computes or logs:
# a preempted run may resume with other values of these.
RUNTIME_KEYS = ("checkpoint_every", "log_every", "compile")


def resolve_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with defaults filled in (recipe included); unknown recipe keys are errors."""
    resolved = common_resolve_spec(spec, DEFAULT_RECIPE, LANGUAGE)
    recipe = resolved["recipe"]
    for key in ("batch_size", "block_size", "grad_accum"):
        if recipe[key] < 1:
            raise ValueError(f"recipe {key} must be >= 1, got {recipe[key]}")
    if total_steps(recipe) < 1:
        raise ValueError(
            f"recipe gives no training steps: train_tokens {recipe['train_tokens']} is less than one step of "
            f"{tokens_per_step(recipe)} tokens; set max_steps or more train_tokens"
        )
    return resolved


def tokens_per_step(recipe: dict[str, Any]) -> int:
    """Tokens of one optimizer step: batch_size x block_size x grad_accum."""
    return recipe["batch_size"] * recipe["block_size"] * recipe["grad_accum"]


def total_steps(recipe: dict[str, Any]) -> int:
    """Optimizer steps of the run: max_steps, or as many whole steps as train_tokens fills."""
    if recipe["max_steps"] is not None:
        return int(recipe["max_steps"])
    return int(recipe["train_tokens"]) // tokens_per_step(recipe)


def lr_at(step: int, recipe: dict[str, Any]) -> float:
    """The learning rate of (0-based) step `step` (build-nanogpt's `get_lr`)."""
    peak, warmup, total = recipe["lr"], recipe["warmup_steps"], total_steps(recipe)
    if step < warmup:
        return peak * (step + 1) / warmup
    floor = recipe["min_lr_ratio"] * peak
    if step >= total:
        return floor
    progress = (step - warmup) / max(total - warmup, 1)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: parameters with dim < 2 (biases, norms) without weight decay, the rest with it.

    Tied parameters (NanoGPT's lm_head and wte) appear once.
    """
    params = list(model.parameters())
    return [
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
    ]


def make_optimizer(model: nn.Module, recipe: dict[str, Any], device: torch.device) -> torch.optim.Optimizer:
    """AdamW over `param_groups` (lr 0: the loop sets it every step), fused on CUDA: one kernel for all
    parameters, and a GradScaler-free bf16 step that never reads a value back to the host."""
    groups = param_groups(model, recipe["weight_decay"])
    return torch.optim.AdamW(groups, lr=0.0, betas=tuple(recipe["betas"]), fused=device.type == "cuda")


def draw(data, recipe: dict[str, Any], seed: int, *key: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The micro-batch of `key`: the same on every rank and at every call, whichever rank draws it."""
    return data.batch(recipe["batch_size"], recipe["block_size"], step_generator(seed, *key))


@torch.no_grad()
def evaluate(model: nn.Module, data, recipe: dict[str, Any], seed: int, ctx: distributed.Context, amp: bool) -> float:
    """Mean validation cross-entropy over `eval_batches` micro-batches, the same ones at every call.

    Each rank evaluates its share of the batches on the unwrapped `model`
    (no DDP collectives, so the shares may differ in size); the sums are all-reduced.
    """
    model.eval()
    losses = [
        next_token_loss(model, *draw(data, recipe, seed, 1, b), ctx.device, amp)
        for b in distributed.shard(recipe["eval_batches"], ctx)
    ]
    model.train()
    return distributed.total(sum(losses), ctx) / recipe["eval_batches"]


class _Trainer:
    """One optimizer step: this rank's micro-batches, TopoLoss once, NaN check, clip, update.

    `model` is the unwrapped model (TopoLoss, clipping); `ddp` is the same
    model in DDP when there are several ranks, used for the micro-batches.
    """

    def __init__(self, model, ddp, topo, optimizer, data, recipe, seed, tau, ctx, amp, guard):
        self.model, self.ddp, self.topo, self.optimizer, self.data = model, ddp, topo, optimizer, data
        self.recipe, self.seed, self.tau, self.ctx, self.amp, self.guard = recipe, seed, tau, ctx, amp, guard
        self.micro_batches = distributed.even_shard(recipe["grad_accum"], ctx, "recipe grad_accum")

    def step(self, index: int, lr: float) -> dict[str, torch.Tensor]:
        """Train step `index` (0-based; logged as index + 1) at learning rate `lr`; its "ce" (mean over
        the ranks), "topo" and "grad_norm", left on the device: this waits for nothing."""
        local = len(self.micro_batches)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        ce = torch.zeros((), device=self.ctx.device)
        for i, m in enumerate(self.micro_batches):
            x, y = draw(self.data, self.recipe, self.seed, 0, index, m)
            # DDP averages the gradients over the ranks, so the mean over this rank's micro-batches gives
            # the mean over all grad_accum; only the last backward all-reduces what the others accumulated.
            with distributed.no_sync(self.ddp, active=i < local - 1):
                micro = next_token_loss(self.ddp, x, y, self.ctx.device, self.amp) / local
                micro.backward()
            ce += micro.detach()
        # TopoLoss on the unwrapped model, after the all-reduce: the weights are the same on every rank, so
        # is its gradient, and adding it locally keeps the gradients identical without another all-reduce.
        with torch.set_grad_enabled(self.tau > 0):
            topo = self.topo()
        values = {**distributed.device_means({"ce": ce}, self.ctx), "topo": topo.detach()}
        self.guard.watch(index + 1, values["ce"] + self.tau * values["topo"])  # the same on every rank
        if self.tau > 0:
            (self.tau * topo).backward()
        clip = self.recipe["grad_clip"] or math.inf
        values["grad_norm"] = nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        return values

    def logged(self, step: int, values: dict[str, torch.Tensor]) -> dict[str, float]:
        """The values of (1-based) step `step` as floats with their "loss", after the NaN check:
        at log steps only, for it waits for the device."""
        floats = as_floats(values)
        floats = {"loss": floats["ce"] + self.tau * floats["topo"], **floats}
        self.guard.check(step, floats["loss"], ce=floats["ce"], topo=floats["topo"])
        return floats


def open_data(data_dir: str | Path, with_val: bool) -> dict[str, Any]:
    """The train (and, `with_val`, val) token shards under `data_dir`."""
    from ..data.text import TokenShards  # imported here: written alongside, and only real runs need it

    return {"train": TokenShards(data_dir, "train"), "val": TokenShards(data_dir, "val") if with_val else None}


def train_language(
    spec: dict[str, Any],
    data_dir: str | Path | None,
    out: str | Path,
    metrics_path: str | Path,
    state_path: str | Path,
    device: str = "auto",
    on_step: Callable[[dict[str, Any]], None] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the language model of `spec`, write checkpoint `out`, return the last metrics record.

    `data` ({"train": ..., "val": ... or None}) replaces the shards of
    `data_dir`. Resumes from `state_path` when it exists (saved every
    `recipe.checkpoint_every` steps and removed at the end); the state must
    come from the same spec, `RUNTIME_KEYS` aside. `on_step` is called with
    every step's record after any state save, on every rank.

    Under torchrun (WORLD_SIZE > 1) every rank calls this and trains its
    share of each step in DDP (see the module docstring); `device` "auto" or
    "cuda" then means each rank's own GPU.
    """
    spec = resolve_spec(spec)
    with distributed.session(device) as ctx:
        return _train(spec, data_dir, out, metrics_path, Path(state_path), ctx, on_step, data)


def _train(spec, data_dir, out, metrics_path, state_path: Path, ctx: distributed.Context, on_step, data):
    """`train_language` within a distributed session (one process: the trivial one)."""
    recipe, tau, seed, dev = spec["recipe"], float(spec["tau"]), spec["seed"], ctx.device
    amp = use_amp(recipe["amp"], dev)
    cuda_settings(dev)
    data = data if data is not None else open_data(data_dir, recipe["eval_batches"] > 0)
    seed_everything(seed)
    model = build(spec["family"], **spec["options"]).to(dev)
    layers = topographic_layers(model, spec["family"], spec["placement"])
    topo = TopoLoss(model, layers, spec["factor"])
    optimizer = make_optimizer(model, recipe, dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=False)  # bf16 needs no loss scaling; kept for the state format
    total, per_step = total_steps(recipe), tokens_per_step(recipe)

    objects, resumed_at = restore(state_path, spec, RUNTIME_KEYS, main=ctx.is_main, model=model, optimizer=optimizer,
                                  scaler=scaler)
    distributed.barrier(ctx)  # every rank has read the state before rank 0 may overwrite or delete it
    step = resumed_at or 0
    if use_compile(recipe["compile"], dev, auto=True):
        compile_in_place(model)  # before DDP wraps it, as nanoGPT does
    ddp = distributed.wrap(model, ctx)
    trainer = _Trainer(model, ddp, topo, optimizer, data["train"], recipe, seed, tau, ctx, amp, LossGuard())
    model.train()
    record: dict[str, Any] = {}
    with (
        distributed.main_only(ctx, MetricsLog, metrics_path, resume_step=resumed_at, run=logged_run(spec)) as log,
        distributed.main_only(ctx, progress_bar, total, step) as bar,
    ):
        meter = Throughput()
        while step < total:
            lr = lr_at(step, recipe)
            values = trainer.step(step, lr)
            step += 1
            meter.add(per_step)  # per_step is the global batch: all ranks' tokens
            record = {"step": step, "tokens": step * per_step, "lr": lr}
            evaluates = _evaluate_after(step, total, recipe) and data.get("val") is not None
            if evaluates or sync_step(step, total, recipe):
                record.update(trainer.logged(step, values), tok_s=meter.rate())
            if evaluates:
                record["val_loss"] = evaluate(model, data["val"], recipe, seed, ctx, amp)
            end_of_step(record, total, recipe, log, state_path, objects, on_step, keep=evaluates,
                        bar=bar, shown=("loss", "topo", "lr"), main=ctx.is_main)
            if "loss" in record:
                meter.restart()  # the next rate counts training steps only, not evaluation or saving

    if ctx.is_main:
        finish_run(out, model, spec, layers, step, state_path)
    distributed.barrier(ctx)  # no rank returns before the checkpoint exists
    return record


def _evaluate_after(step: int, total: int, recipe: dict[str, Any]) -> bool:
    """Whether validation runs after (1-based) step `step`: every `eval_every` steps and after the last."""
    if not recipe["eval_batches"]:
        return False
    return step == total or bool(recipe["eval_every"] and step % recipe["eval_every"] == 0)
