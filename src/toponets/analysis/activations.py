"""Per-unit responses of named layers, streamed batch by batch through forward hooks.

Every analysis (smoothness, effective dimensionality, selectivity, ...) reads
responses through `stream_activations`, so the definition of "a unit's
response to a stimulus" lives in one place:

- Conv2d output (B, C, H, W): one value per channel, reduced over space
  ("mean" by default, or "max"; METHODS §2.2 and §3 leave this open); so is
  the (B, C, H, W) output of a block of convolutions (TDANN's layers).
- With ``per_unit``, a layer whose units have given positions (TDANN; see
  `unit_positions`) yields every (channel, row, col) of its output instead,
  the fixed subset `unit_positions.unit_subset` of them: the analyses that
  place units in space read those, the others (dimensionality) the channels.
- Linear output (B, T, C) with a token axis: reduced over tokens, ignoring
  padded tokens when the batch carries an ``attention_mask``; (B, C) is kept.

Only one batch of responses is alive at a time, so analyses scale to any
number of stimuli by accumulating statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from ..layers import layers_by_name
from ..unit_positions import given_positions, unit_subset

REDUCTIONS = ("mean", "max")


def _conv_block(module: nn.Module) -> bool:
    """Whether `module` is a block of convolutions (a ResNet BasicBlock: TDANN's layers)."""
    return not isinstance(module, nn.Linear) and any(isinstance(m, nn.Conv2d) for m in module.modules())


def reduce_units(
    output: torch.Tensor, module: nn.Module, reduce: str = "mean", mask: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, units) float32 responses of `module`'s `output`, reduced over space or tokens.

    `mask` (B, T), nonzero for real tokens, restricts a Linear layer's token
    reduction to those tokens.
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduction '{reduce}'; choose one of {REDUCTIONS}")
    output = output.float()
    if isinstance(module, nn.Conv2d) or (output.dim() == 4 and _conv_block(module)):
        if output.dim() != 4:
            raise ValueError(f"expected a (B, C, H, W) Conv2d output, got shape {tuple(output.shape)}")
        return output.mean(dim=(2, 3)) if reduce == "mean" else output.amax(dim=(2, 3))
    if isinstance(module, nn.Linear):
        if output.dim() == 2:
            return output
        if output.dim() != 3:
            raise ValueError(f"expected a (B, C) or (B, T, C) Linear output, got shape {tuple(output.shape)}")
        if mask is None:
            return output.mean(dim=1) if reduce == "mean" else output.amax(dim=1)
        keep = mask.to(device=output.device, dtype=torch.bool).unsqueeze(-1)
        if keep.shape[:2] != output.shape[:2]:
            raise ValueError(f"attention mask {tuple(mask.shape)} does not match tokens {tuple(output.shape[:2])}")
        if reduce == "mean":
            return (output * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)
        return output.masked_fill(~keep, float("-inf")).amax(dim=1)
    raise TypeError(f"cannot read unit responses from a {type(module).__name__}; expected Conv2d or Linear")


def _unit_reader(model: nn.Module, name: str, module: nn.Module, reduce: str, per_unit: bool, state: dict):
    """The function of (output) giving one layer's (B, units) responses (see the module doc)."""
    given = given_positions(model, name) if per_unit else None
    if given is None:
        return lambda output: reduce_units(output, module, reduce, state["mask"])
    index = torch.as_tensor(unit_subset(len(given)))

    def per_unit_responses(output: torch.Tensor) -> torch.Tensor:
        flat = output.float().flatten(1)
        if flat.shape[1] != len(given):
            raise ValueError(f"{name} gives {len(given)} unit positions but outputs {flat.shape[1]} units per "
                             "stimulus: give it images of the size its positions were made for")
        return flat[:, index.to(flat.device)]

    return per_unit_responses


@contextmanager
def recording(model: nn.Module, layers: Iterable[str], reduce: str = "mean", per_unit: bool = False):
    """Hook `layers` of `model`; yields (responses, set_mask).

    After each forward pass `responses[name]` holds that layer's (B, units)
    float32 responses; `set_mask(mask)` sets the token mask used by the next
    pass. The hooks are removed on exit, also after an error.
    """
    layers = list(layers)
    modules = dict(zip(layers, layers_by_name(model, layers, "recording responses")))
    responses: dict[str, torch.Tensor] = {}
    state: dict[str, torch.Tensor | None] = {"mask": None}

    def hook_for(name: str):
        read = _unit_reader(model, name, modules[name], reduce, per_unit, state)

        def hook(module, args, output):
            responses[name] = read(output)

        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in layers]
    try:
        yield responses, lambda mask: state.update(mask=mask)
    finally:
        for handle in handles:
            handle.remove()


def _run(model: nn.Module, batch, device: torch.device):
    """Forward one batch: a tensor, an (inputs, labels, ...) sequence, or a mapping of keyword inputs."""
    if isinstance(batch, Mapping):
        return model(**{k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()})
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    return model(batch.to(device))


def stream_activations(
    model: nn.Module,
    layers: Iterable[str],
    batches: Iterable,
    device: str | torch.device = "cpu",
    reduce: str = "mean",
    per_unit: bool = False,
) -> Iterator[dict[str, torch.Tensor]]:
    """Yield {layer: (B, units) float32 tensor on `device`} for each batch of stimuli.

    `batches` yields tensors, (inputs, labels) pairs as from a DataLoader, or
    mappings of model keyword inputs (an ``attention_mask`` entry there also
    masks the token reduction). `model` is moved to `device` and run in eval
    mode without gradients; its training flag is restored afterwards. `per_unit`: see the module doc.
    """
    device = torch.device(device)
    layers = list(layers)
    was_training = model.training
    model.to(device).eval()
    try:
        with recording(model, layers, reduce, per_unit) as (responses, set_mask), torch.no_grad():
            for batch in batches:
                set_mask(batch.get("attention_mask") if isinstance(batch, Mapping) else None)
                responses.clear()
                _run(model, batch, device)
                silent = [name for name in layers if name not in responses]
                if silent:
                    raise RuntimeError(f"layer(s) {silent} produced no output in the forward pass")
                yield dict(responses)
    finally:
        model.train(was_training)
