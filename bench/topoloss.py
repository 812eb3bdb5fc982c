"""TopoLoss speed: this package vs the authors' topoloss==0.0.2, side by side in one run.

Cases: torchvision ResNet-18 with the loss on its 19 residual-block convs, and
GPT-2 small (our NanoGPT-124M) with the loss on its 12 mlp.c_fc layers; factor 3.
For each, forward + backward of the loss alone (median of repeats), the largest
difference of the values, and for ResNet-18 the training step (batch 32 of
64x64 images, SGD) it is added to.

    python bench/topoloss.py [--repeats 7] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

# This file's name shadows the reference package when run as a script: drop its folder from the path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from topoloss import LaplacianPyramid  # noqa: E402
from topoloss import TopoLoss as ReferenceTopoLoss  # noqa: E402

from toponets.models import build, topographic_layers  # noqa: E402
from toponets.topoloss import TopoLoss  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def loss_implementations(model, layers):
    ours = TopoLoss(model, layers, factor=3.0)
    ref = ReferenceTopoLoss([LaplacianPyramid(layer_name=n, factor_h=3.0, factor_w=3.0) for n in layers])
    return {"toponets": ours, "reference": lambda: ref.compute(model)}


def forward_backward(model, loss_fn):
    def step():
        model.zero_grad(set_to_none=True)
        loss_fn().backward()

    return step


def training_step(model, opt, images, labels, loss_fn=None):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        if loss_fn is not None:
            loss = loss + loss_fn()
        loss.backward()
        opt.step()

    return step


def bench_case(name, model, layers, repeats, train_batch=None):
    impls = loss_implementations(model, layers)
    diff = abs(impls["toponets"]().item() - impls["reference"]().item())
    times = {k: median_ms(forward_backward(model, fn), repeats) for k, fn in impls.items()}
    print(f"\n{name}: {len(layers)} layers, {sum(model.get_submodule(n).weight.numel() for n in layers):,} weights")
    print(f"  |value difference|            {diff:.2e}")
    for k, t in times.items():
        print(f"  loss fwd+bwd  {k:<10}      {t:8.1f} ms")
    print(f"  speed-up (reference / ours)   {times['reference'] / times['toponets']:8.2f}x")
    if train_batch is not None:
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        base = median_ms(training_step(model, opt, *train_batch), repeats)
        print(f"  training step, no TopoLoss    {base:8.1f} ms")
        for k, fn in impls.items():
            t = median_ms(training_step(model, opt, *train_batch, fn), repeats)
            print(f"  training step + {k:<10}    {t:8.1f} ms  ({t / base:.2f}x the step without it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")

    resnet = build("resnet18", blurpool=False)  # plain torchvision ResNet-18, as in ENVIRONMENT.md
    batch = (torch.randn(32, 3, 64, 64), torch.randint(0, 1000, (32,)))
    bench_case("ResNet-18", resnet, topographic_layers(resnet, "resnet18"), args.repeats, batch)

    gpt = build("nanogpt")
    bench_case("GPT-2 small (c_fc)", gpt, topographic_layers(gpt, "nanogpt"), args.repeats)


if __name__ == "__main__":
    main()
