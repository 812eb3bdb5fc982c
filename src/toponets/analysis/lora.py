"""LoRA fine-tuning of a trained language checkpoint, with its validation-loss curve (METHODS §10, A.11).

The paper fine-tunes the baseline and topographic NanoGPTs with LoRA of rank
2, 4 and 8 on the attention matrices and reports Δ = validation loss before
fine-tuning − validation loss after it. Here:

- `lora_model` wraps the model with peft (`LoraConfig` + `get_peft_model`)
  on the Linear layers named by `targets` (default NanoGPT's ``attn.c_attn``,
  the fused q/k/v projection, an `nn.Linear`); every base weight is frozen.
- `fine_tune` trains the adapter parameters alone with AdamW at a constant
  learning rate, on random windows of the train split drawn from a generator
  seeded per step (the same batches for every model, so models are compared
  on the same data), and measures the validation loss at step 0, every
  `eval_every` steps and after the last step, on fixed validation windows
  (`toponets.analysis.language`: the same windows and loss as lm_loss).
- `merged` folds the adapter into the base weights (peft `merge_and_unload`).

Choices METHODS leaves open (⚠ §10), all settings of `LoraSettings`: α
(default 2 × rank, so that the scale α / r is 2 at every rank), dropout
(default 0), learning rate (constant, no warm-up or decay), no weight decay
on the adapter, steps, batch and window length; whether ``attn.c_proj`` is
adapted too is the `targets` setting (default: no).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..data.text import TokenShards
from ..next_token import next_token_loss, step_generator
from .language import windows_loss

if TYPE_CHECKING:
    from peft import PeftModel

DEFAULT_TARGETS = ("attn.c_attn",)  # NanoGPT's attention matrix (q, k and v in one Linear)
ADAPTER_MARK = "lora_"  # peft's adapter parameters are lora_A.<adapter>.weight and lora_B.<adapter>.weight


@dataclass(frozen=True)
class LoraSettings:
    """What a LoRA fine-tuning run does; `alpha` None means 2 × rank."""

    rank: int
    lr: float
    steps: int
    batch_size: int  # training windows per step; also the evaluation batch
    length: int  # tokens of context per window, for training and evaluation
    eval_every: int  # validation loss every this many steps (and at step 0 and after the last)
    alpha: float | None = None
    dropout: float = 0.0
    targets: tuple[str, ...] = DEFAULT_TARGETS
    seed: int = 0  # adapter initialisation, dropout and the training batches

    def __post_init__(self):
        if self.alpha is None:
            object.__setattr__(self, "alpha", 2.0 * self.rank)
        object.__setattr__(self, "targets", tuple(self.targets))
        checks = {
            "rank": (self.rank, self.rank >= 1 and self.rank == int(self.rank), "an integer >= 1"),
            "alpha": (self.alpha, self.alpha > 0, "> 0"),
            "dropout": (self.dropout, 0 <= self.dropout < 1, "in [0, 1)"),
            "lr": (self.lr, self.lr > 0, "> 0"),
            "steps": (self.steps, self.steps >= 1, ">= 1"),
            "batch_size": (self.batch_size, self.batch_size >= 1, ">= 1"),
            "length": (self.length, self.length >= 1, ">= 1"),
            "eval_every": (self.eval_every, self.eval_every >= 1, ">= 1"),
            "targets": (self.targets, bool(self.targets) and all(self.targets), "a non-empty list of module names"),
        }
        for name, (value, ok, wanted) in checks.items():
            if not ok:
                raise ValueError(f"LoRA {name} must be {wanted}, got {value!r}")


@dataclass(frozen=True)
class CurvePoint:
    step: int
    val_loss: float


@dataclass(frozen=True)
class LoraResult:
    curve: list[CurvePoint]  # step 0 first, the last step last
    trainable_parameters: int
    settings: LoraSettings = field(repr=False)

    @property
    def val_loss_before(self) -> float:
        return self.curve[0].val_loss

    @property
    def val_loss_after(self) -> float:
        return self.curve[-1].val_loss

    @property
    def delta(self) -> float:
        """Validation loss before minus after fine-tuning: positive when fine-tuning helped."""
        return self.val_loss_before - self.val_loss_after


def target_modules(model: nn.Module, targets: tuple[str, ...]) -> list[str]:
    """The names of `model`'s modules that `targets` select (peft's rule: the name, or a dotted suffix of it).

    Every target must select at least one module, and only nn.Linear ones.
    """
    modules = dict(model.named_modules())
    linear = sorted({".".join(name.split(".")[-2:]) for name, m in modules.items() if isinstance(m, nn.Linear)})
    chosen = []
    for target in targets:
        names = [name for name in modules if name == target or name.endswith("." + target)]
        if not names:
            raise ValueError(f"LoRA target {target!r} matches no module of the model; "
                             f"its Linear layers are {', '.join(linear)}")
        wrong = [name for name in names if not isinstance(modules[name], nn.Linear)]
        if wrong:
            raise ValueError(f"LoRA target {target!r} selects {wrong[0]}, a {type(modules[wrong[0]]).__name__}, "
                             f"not a Linear layer; choose among {', '.join(linear)}")
        chosen += names
    return sorted(set(chosen))


def lora_model(model: nn.Module, settings: LoraSettings) -> PeftModel:
    """`model` (changed in place) wrapped with a LoRA adapter on `settings.targets`; only the adapter trains.

    The adapter's A matrices are initialised from the torch seed `settings.seed`, its B matrices at 0, so the
    wrapped model starts out computing exactly what `model` does.
    """
    from peft import LoraConfig, get_peft_model  # here, not at the top: slow to import, and tables need none of it

    modules = target_modules(model, settings.targets)
    config = LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=modules, bias="none"
    )
    torch.manual_seed(settings.seed)
    return get_peft_model(model, config)


def adapter_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters of a `lora_model`: its adapter's, and nothing else."""
    params = [p for name, p in model.named_parameters() if p.requires_grad]
    stray = [name for name, p in model.named_parameters() if p.requires_grad and ADAPTER_MARK not in name]
    if stray or not params:
        raise ValueError(f"expected only LoRA adapter parameters to train, found {stray or 'none'}")
    return params


def fine_tune(
    model: PeftModel, train: TokenShards, val_windows: torch.Tensor, settings: LoraSettings,
    device: str | torch.device,
) -> list[CurvePoint]:
    """Train the adapter of `model` for `settings.steps` AdamW steps; return the validation-loss curve.

    Step s trains on `settings.batch_size` random windows of `train` drawn from a generator seeded by
    (seed, s). The curve holds the loss on `val_windows` ((n, length + 1) tokens) at step 0, every
    `eval_every` steps and after the last step.
    """
    device = torch.device(device)
    model.to(device)
    optimizer = torch.optim.AdamW(adapter_parameters(model), lr=settings.lr, weight_decay=0.0)

    def evaluate(step: int) -> CurvePoint:
        return CurvePoint(step, windows_loss(model, val_windows, settings.batch_size, device))

    curve = [evaluate(0)]
    model.train()
    torch.manual_seed(settings.seed)  # LoRA dropout
    for step in range(1, settings.steps + 1):
        x, y = train.batch(settings.batch_size, settings.length, step_generator(settings.seed, step))
        loss = next_token_loss(model, x, y, device, amp=False)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"LoRA training loss is {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % settings.eval_every == 0 or step == settings.steps:
            curve.append(evaluate(step))
    return curve


def run_lora(
    model: nn.Module, train: TokenShards, val_windows: torch.Tensor, settings: LoraSettings,
    device: str | torch.device,
) -> tuple[PeftModel, LoraResult]:
    """Wrap `model` (changed in place) with LoRA and fine-tune it; return the wrapped model and the result."""
    if val_windows.dim() != 2 or val_windows.shape[1] != settings.length + 1:
        raise ValueError(f"validation windows must be (n, length + 1 = {settings.length + 1}) tokens, "
                         f"got shape {tuple(val_windows.shape)}")
    wrapped = lora_model(model, settings)
    trainable = sum(p.numel() for p in adapter_parameters(wrapped))
    curve = fine_tune(wrapped, train, val_windows, settings, device)
    return wrapped, LoraResult(curve, trainable, settings)


def merged(model: PeftModel) -> nn.Module:
    """The base model with the adapter folded into its weights (W + B A α / r); `model` is used up."""
    return model.merge_and_unload()
