"""Data-parallel training under ``torchrun``: one process per GPU, DistributedDataParallel.

A plain ``python -m ...`` run is one process and none of this does anything.
Under ``torchrun --nproc-per-node N`` every process reads its rank from the
environment (RANK, WORLD_SIZE, LOCAL_RANK), joins a process group (NCCL on
CUDA, gloo on the CPU) and computes on its own GPU, ``cuda:LOCAL_RANK``. The
loops keep the unwrapped model for TopoLoss, state and checkpoints, and use
the DDP wrapper only for the forward/backward passes of the data.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..device import select_device


@dataclass(frozen=True)
class Context:
    """Where this process stands in its run: rank of world_size, and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes logs, states and checkpoints."""
        return self.rank == 0


SINGLE = Context()  # a process on its own: the default of functions that also serve single-process callers


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def is_main_process() -> bool:
    """Whether this process is rank 0 of its torchrun launch, or runs alone; readable before `init`."""
    return _env_int("RANK", 0) == 0


def init(device_request: str = "auto") -> Context:
    """Join torchrun's process group when WORLD_SIZE > 1 and pick this rank's device; else the single-process context.

    `device_request` is the usual --device: under torchrun, "auto" and "cuda" mean each rank's own GPU
    (cuda:LOCAL_RANK), "cpu" means the CPU with the gloo backend.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size == 1:
        return Context(device=select_device(device_request))
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    device = _rank_device(device_request, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)  # device_id: NCCL binds to this rank's GPU now
    else:
        dist.init_process_group("gloo")
    return Context(rank, world_size, local_rank, device)


def _rank_device(device_request: str, local_rank: int) -> torch.device:
    """The device of a rank: the GPU numbered LOCAL_RANK for CUDA, or the CPU."""
    device = select_device(device_request)
    if device.type != "cuda":
        return device
    if device.index is not None:
        raise ValueError(
            f"--device {device_request} names one GPU, but torchrun starts a process per GPU and each uses "
            "cuda:LOCAL_RANK; give --device auto or cuda (and CUDA_VISIBLE_DEVICES to choose the GPUs)"
        )
    if local_rank >= torch.cuda.device_count():
        raise RuntimeError(
            f"local rank {local_rank} has no GPU: only {torch.cuda.device_count()} are visible; "
            "start torchrun with --nproc-per-node at most the GPU count"
        )
    return torch.device("cuda", local_rank)


def close(ctx: Context) -> None:
    """Leave the process group (every rank, also after an error), so the process exits cleanly."""
    if ctx.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device_request: str = "auto") -> Iterator[Context]:
    """`init`, then `close` however the block ends."""
    ctx = init(device_request)
    try:
        yield ctx
    finally:
        close(ctx)


def wrap(model: nn.Module, ctx: Context, forward_sync_buffers: bool = True) -> nn.Module:
    """`model` in DistributedDataParallel when there are several ranks, else `model` itself.

    The wrapper shares the model's parameters: gradients of its backward
    passes are averaged over the ranks; anything computed on `model` directly
    stays local to the rank. DDP copies rank 0's buffers to the other ranks
    when it wraps and, with `forward_sync_buffers`, before every forward pass
    (without, see `sync_buffers`).
    """
    if ctx.world_size == 1:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, forward_sync_buffers=forward_sync_buffers)


def sync_buffers(model: nn.Module, ctx: Context) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) into every rank's `model`, one broadcast per
    dtype; a no-op on one rank. Each rank's training forward passes update them from its own images only."""
    buffers = list(model.buffers())
    if ctx.world_size == 1 or not buffers:
        return
    for dtype in dict.fromkeys(b.dtype for b in buffers):  # ordered: every rank broadcasts alike
        group = [b for b in buffers if b.dtype == dtype]
        flat = torch.cat([b.detach().flatten() for b in group])
        dist.broadcast(flat, src=0)
        for buffer, value in zip(group, flat.split([b.numel() for b in group]), strict=True):
            buffer.copy_(value.view_as(buffer))


def no_sync(model: nn.Module, active: bool = True) -> contextlib.AbstractContextManager:
    """Skip DDP's gradient all-reduce in this forward/backward when `active` (all micro-batches of a
    step but the last, whose backward then averages the accumulated gradients); a no-op without DDP."""
    if active and isinstance(model, DistributedDataParallel):
        return model.no_sync()
    return contextlib.nullcontext()


def shard(count: int, ctx: Context) -> range:
    """The indices of `count` work items this rank takes: every world_size-th from its rank, so that the
    ranks together take each item once, in the order one process would."""
    return range(ctx.rank, count, ctx.world_size)


def even_shard(count: int, ctx: Context, name: str) -> range:
    """`shard` for work every rank must do equally often (each item ends in a collective); `name` is the
    setting that gives `count`, for the error when it does not split evenly."""
    per_rank(count, ctx, name)
    return shard(count, ctx)


def per_rank(count: int, ctx: Context, name: str) -> int:
    """Each rank's equal share of `count` (e.g. the images of a global batch); `name` is the setting
    that gives `count`, for the error when it does not split evenly."""
    if count % ctx.world_size:
        raise ValueError(
            f"{name} {count} does not split evenly over the {ctx.world_size} processes (one per GPU) of this run; "
            f"pick {name} as a multiple of the GPU count"
        )
    return count // ctx.world_size


def main_only(ctx: Context, make: Callable[..., Any], *args, **kwargs) -> contextlib.AbstractContextManager:
    """`make(*args, **kwargs)` on rank 0, a context yielding None elsewhere: for the logs, bars and files
    only rank 0 keeps."""
    return make(*args, **kwargs) if ctx.is_main else contextlib.nullcontext()


def total(value: Any, ctx: Context) -> float:
    """The sum over the ranks of a float (or one-element tensor); `value` itself on one rank."""
    return totals({"value": value}, ctx)["value"]


def totals(values: dict[str, Any], ctx: Context) -> dict[str, float]:
    """`total` of each of several values, in one all-reduce (one sync, however many values)."""
    if ctx.world_size == 1:
        return {key: float(value.detach() if torch.is_tensor(value) else value) for key, value in values.items()}
    return dict(zip(values, _all_reduced(values, ctx).tolist(), strict=True))


def device_means(values: dict[str, torch.Tensor], ctx: Context) -> dict[str, torch.Tensor]:
    """The means over the ranks of scalar tensors, left on the device: one all-reduce and no host sync
    (the loops bring them to the host at log steps only). On one rank, the tensors themselves, detached."""
    if ctx.world_size == 1:
        return {key: value.detach() for key, value in values.items()}
    return dict(zip(values, (_all_reduced(values, ctx) / ctx.world_size).unbind(), strict=True))


def _all_reduced(values: dict[str, Any], ctx: Context) -> torch.Tensor:
    """The values (floats or one-element tensors) stacked in float64 on this rank's device and summed
    over the ranks."""
    parts = [torch.as_tensor(v, dtype=torch.float64, device=ctx.device).detach().reshape(()) for v in values.values()]
    tensor = torch.stack(parts)
    dist.all_reduce(tensor)
    return tensor


def barrier(ctx: Context) -> None:
    """Wait until every rank gets here, e.g. before reading a file rank 0 writes; a no-op on one rank."""
    if ctx.world_size > 1:
        dist.barrier()
