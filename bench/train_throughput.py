"""Training throughput with and without TopoLoss: tau 0 and tau > 0 side by side, per family.

Each family's training step is that of its loop (`train.vision`,
`train.language`): forward, loss, backward, clipping and optimizer step with
the family's recipe (SGD for the ResNets, AdamW for ViT and the LMs; fp16
autocast with a GradScaler for vision and bf16 autocast for the LMs on CUDA;
on CUDA also the loops' TF32, fused optimizers and, per `--compile`, the
compiled forward).
Only what does not run every step is left out: MixUp/CutMix, the EMA, the
data loaders (batches are random, already on the device for vision). At tau 0
the loops still evaluate TopoLoss without gradient for the log, so the ratio
is what tau > 0 costs in our loop, not the cost of a model without TopoLoss.

One model per family, one step of each tau in turn (ABBA order), so that a
change in machine load hits both; warm-up steps are not timed. Reported:
median step time and samples/s (images or tokens) per tau, the median over
back-to-back pairs of the ratio of step times tau > 0 / tau 0, the peak GPU
memory, and at `--size paper` the reference recipe's published speed per GPU
where there is one (`REFERENCES`: whole runs, data loading and validation
included, on A100s, so an upper bound on the time of a step alone).

    python bench/train_throughput.py [--size tiny|small|paper] [--families ...] [--steps 10] [--warmup 3]
                                     [--compile auto|true|false] [--device auto|cpu|cuda] [--threads N]

`--size tiny` checks the script in seconds (CI); `--size small` runs on a CPU
in minutes; `--size paper` is the paper's models at the per-GPU batch of their
recipes, for a GPU (bench/gpu_check.sh). `--compile auto` compiles what the
loops compile by default (the language models, on CUDA).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from toponets.device import select_device
from toponets.model_spec import LANGUAGE
from toponets.models import build, topographic_layers
from toponets.topoloss import TopoLoss
from toponets.train import distributed, language, vision
from toponets.train.common import (
    LossGuard,
    compile_in_place,
    cuda_settings,
    use_amp,
    use_compile,
)

TAU = 1.0  # any tau > 0 costs the same
FACTOR = 3.0
LR = 1e-4  # the step costs the same at any lr; a small one keeps random data from making the loss non-finite
GPT2_VOCAB = 50257  # token ids of the synthetic batches: those of the GPT-2 tokenizer


@dataclass(frozen=True)
class Case:
    """One family at one size: model options, per-device batch, and image side (px) or block size (tokens)."""

    family: str
    batch: int
    length: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_language(self) -> bool:
        return self.family in LANGUAGE

    @property
    def samples_per_step(self) -> int:
        """Images, or tokens, per step."""
        return self.batch * self.length if self.is_language else self.batch

    def describe(self) -> str:
        return f"{self.batch} x {self.length} tok" if self.is_language else f"{self.batch} x {self.length} px"


IMAGENET_TRAIN = 1_281_167  # images of an ImageNet-1k training epoch

# The reference recipes' published speed, per GPU: (source, samples per second). None published for
# ViT-B/32 (torchvision's reference) or GPT-Neo (no recipe).
REFERENCES: dict[str, tuple[str, float]] = {
    "resnet18": ("ffcv-imagenet README: rn18, 88 epochs in 187.3 min on 1 A100", 88 * IMAGENET_TRAIN / (187.3 * 60)),
    "resnet50": ("ffcv-imagenet README: rn50, 88 epochs in 77.2 min on 8 A100s", 88 * IMAGENET_TRAIN / (77.2 * 60) / 8),
    "nanogpt": (("nanoGPT README and config/train_gpt2.py: 600,000 steps of 491,520 tokens in about 4 days on "
                 "8 A100 40GB"), 600_000 * 491_520 / (4 * 86_400) / 8),
}

SIZES: dict[str, list[Case]] = {
    # seconds on a CPU: checks that the script runs (tests/test_gpu_check.py)
    "tiny": [
        Case("resnet18", 4, 32, {"width_multiplier": 0.25}),
        Case("resnet50", 4, 32, {"width_multiplier": 0.25}),
        Case("vit_b_32", 4, 32, {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2,
                                 "hidden_dim": 32, "mlp_dim": 64}),
        Case("gpt_neo", 2, 32, {"hidden_size": 32, "num_layers": 2, "num_heads": 2,
                                "max_position_embeddings": 32, "window_size": 16}),
        Case("nanogpt", 2, 32, {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 32}),
    ],
    # CPU-sized: a few minutes for all five on 2 cores
    "small": [
        Case("resnet18", 32, 64, {"width_multiplier": 0.25}),
        Case("resnet50", 32, 64, {"width_multiplier": 0.25}),
        Case("vit_b_32", 32, 64, {"image_size": 64, "patch_size": 16, "num_layers": 4, "num_heads": 3,
                                  "hidden_dim": 192, "mlp_dim": 768}),
        Case("gpt_neo", 4, 128, {"hidden_size": 256, "num_layers": 4, "num_heads": 4,
                                 "max_position_embeddings": 128, "window_size": 64}),
        Case("nanogpt", 4, 128, {"n_layer": 4, "n_head": 4, "n_embd": 256, "block_size": 128}),
    ],
    # The paper's models at their recipes' per-GPU batch; ResNets at min_res, the resolution of most epochs.
    "paper": [
        Case("resnet18", 1024, vision.DEFAULT_RECIPES["resnet18"]["min_res"]),  # ffcv rn18: 1024 on one GPU
        Case("resnet50", 512, vision.DEFAULT_RECIPES["resnet50"]["min_res"]),  # ffcv rn50: 4096 over 8 GPUs
        Case("vit_b_32", 64, 224),  # torchvision reference: 512 over 8 GPUs
        Case("gpt_neo", 16, 1024),  # micro-batch of 16 sequences of 1024 tokens
        Case("nanogpt", 16, 1024),
    ],
}


class RandomTokens:
    """Stand-in for `TokenShards`: random windows of GPT-2 token ids and their next tokens."""

    def batch(self, batch_size: int, block_size: int, generator: torch.Generator):
        tokens = torch.randint(GPT2_VOCAB, (batch_size, block_size + 1), generator=generator)
        return tokens[:, :-1], tokens[:, 1:]


def vision_steps(case: Case, model, topo, ctx: distributed.Context) -> dict[float, Any]:
    """For tau 0 and TAU, a function running one step of the vision loop's trainer on a fixed random batch."""
    recipe, device = vision.DEFAULT_RECIPES[case.family], ctx.device
    amp = use_amp(recipe["amp"], device)
    model.to(device, memory_format=torch.channels_last)
    optimizer = vision.make_optimizer(model, recipe, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    images = torch.randn(case.batch, 3, case.length, case.length, device=device)
    images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(1000, (case.batch,), device=device)

    def step_of(tau: float):
        trainer = vision._Trainer(model, topo, optimizer, scaler, recipe, tau, ctx, amp, LossGuard(), None)
        return lambda number: trainer.step(number, images, labels, LR)

    return {tau: step_of(tau) for tau in (0.0, TAU)}


def language_steps(case: Case, model, topo, ctx: distributed.Context) -> dict[float, Any]:
    """For tau 0 and TAU, a function running one optimizer step (one micro-batch) of the language loop's trainer."""
    recipe = {**language.DEFAULT_RECIPE, "batch_size": case.batch, "block_size": case.length, "grad_accum": 1}
    device = ctx.device
    amp = use_amp(recipe["amp"], device)
    model.to(device)
    optimizer = language.make_optimizer(model, recipe, device)

    def step_of(tau: float):
        trainer = language._Trainer(model, model, topo, optimizer, RandomTokens(), recipe, 0, tau, ctx, amp,
                                    LossGuard())
        return lambda number: trainer.step(number, LR)

    return {tau: step_of(tau) for tau in (0.0, TAU)}


def timed(step, number: int, device: torch.device) -> float:
    """Seconds of `step(number)`, the device's queued work included."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    step(number)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def measure(case: Case, steps: int, warmup: int, device: torch.device, compiled: bool) -> dict[float, list[float]]:
    """Step times (s) of each tau: `steps` pairs of one step per tau, in ABBA order, after `warmup` untimed pairs
    (the first of which compiles, when `compiled`)."""
    torch.manual_seed(0)
    model = build(case.family, **case.options)
    topo = TopoLoss(model, topographic_layers(model, case.family), FACTOR)
    model.train()
    make = language_steps if case.is_language else vision_steps
    step_of = make(case, model, topo, distributed.Context(device=device))  # one process, no DDP
    if compiled:
        compile_in_place(model)
    taus = list(step_of)
    times: dict[float, list[float]] = {tau: [] for tau in taus}
    for i in range(warmup + steps):
        for tau in taus if i % 2 == 0 else taus[::-1]:
            seconds = timed(step_of[tau], i, device)
            if i >= warmup:
                times[tau].append(seconds)
    return times


def peak_memory(device: torch.device) -> str:
    """The peak GPU memory since the last reset, in GiB; "n/a" off CUDA."""
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB" if device.type == "cuda" else "n/a"


def table_row(case: Case, size: str, device: torch.device, compiled: bool, times: dict[float, list[float]],
              memory: str) -> str:
    """Median step times and samples/s of each tau, and the median over pairs of tau > 0 / tau 0:
    the two steps of a pair ran back to back, so the pair ratio is the least touched by load drift."""
    base, topo = statistics.median(times[0.0]), statistics.median(times[TAU])
    ratio = statistics.median([t / b for b, t in zip(times[0.0], times[TAU])])
    unit = "tok/s" if case.is_language else "img/s"
    rate = case.samples_per_step
    reference = REFERENCES.get(case.family) if size == "paper" else None
    cells = [
        case.family, size, case.describe(), device.type, "yes" if compiled else "no",
        f"{1e3 * base:.1f}", f"{1e3 * topo:.1f}",
        f"{rate / base:,.0f} {unit}", f"{rate / topo:,.0f} {unit}", f"{ratio:.2f}x", memory,
        f"{reference[1]:,.0f} {unit}" if reference else "-",
    ]
    return "| " + " | ".join(cells) + " |"


def header(device: torch.device) -> str:
    """The command line, torch version and device, for pasting the output as it is."""
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return f"$ {shlex.join(['python', *sys.argv])}\ntorch {torch.__version__}, {where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--families", nargs="+", choices=[c.family for c in SIZES["small"]], default=None,
                        help="default: all")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per tau")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per tau before them")
    parser.add_argument("--compile", choices=["auto", "true", "false"], default="auto",
                        help="compile the model's forward; auto: as the training loops do by default")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    cuda_settings(device)  # as the loops do
    setting = {"auto": "auto", "true": True, "false": False}[args.compile]
    cases = [c for c in SIZES[args.size] if args.families is None or c.family in args.families]

    print(header(device))
    print(f"\n{args.steps} steps per tau after {args.warmup} warm-up, medians; tau > 0 / tau 0: median of the ratios "
          f"of back-to-back pairs; tau > 0 is {TAU:g}, factor {FACTOR:g}\n")
    columns = ["family", "size", "batch", "device", "compiled", "tau 0 ms/step", "tau > 0 ms/step", "tau 0 samples/s",
               "tau > 0 samples/s", "tau > 0 / tau 0", "peak GPU memory", "reference per GPU"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        compiled = use_compile(setting, device, auto=case.is_language)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        times = measure(case, args.steps, args.warmup, device, compiled)
        print(table_row(case, args.size, device, compiled, times, peak_memory(device)), flush=True)
    references = [f"- {family}: {source}" for family, (source, _) in REFERENCES.items()
                  if args.size == "paper" and any(c.family == family for c in cases)]
    if references:
        print("\nReference per GPU (whole runs on A100s, data loading and validation included):", *references, sep="\n")


if __name__ == "__main__":
    main()
