"""What the training loops do for a GPU, checked on the CPU: compiled training equals eager training
and leaves plain checkpoint keys; fused optimizers, TF32, pinned non-blocking copies; and no step but
the log steps makes the host wait for the device."""

from __future__ import annotations

import functools
import traceback
from typing import ClassVar

import pytest
import torch
from safetensors.torch import load_file
from test_train_language import repetitive_data
from test_train_language import tiny_spec as language_spec
from test_train_vision import TINY_RECIPE, write_images
from torch.utils._python_dispatch import TorchDispatchMode

from toponets.data import images
from toponets.device import to_device
from toponets.models import build
from toponets.train import common, language, vision
from toponets.train.common import read_metrics

CUDA = torch.device("cuda")


def compiled_graphs() -> int:
    """Graphs Dynamo compiled since its counters were last cleared."""
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


def train_language(tmp_path, spec, name, on_step=None):
    paths = [tmp_path / f"{name}.{ext}" for ext in ("safetensors", "jsonl", "pt")]
    language.train_language(spec, None, *paths, "cpu", on_step=on_step, data=repetitive_data())
    return paths


def test_compiled_training_equals_eager_and_keeps_plain_keys(tmp_path, monkeypatch):
    """Four NanoGPT steps with TopoLoss, compiled and eager, log the same losses to 1e-5 (relative) and
    write checkpoints with the same keys. Inductor needs minutes to build C++ kernels on these CPUs, so
    the compiled run uses torch's "aot_eager" backend: the same Dynamo graph capture and AOTAutograd
    forward/backward split as on a GPU, run by eager kernels (inductor's code generation is untested here)."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    base = language_spec(max_steps=4, eval_every=0, eval_batches=0, checkpoint_every=0)
    runs = {}
    for setting in (False, True):
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        spec = {**base, "recipe": {**base["recipe"], "compile": setting}}
        runs[setting] = train_language(tmp_path, spec, f"compile_{setting}")
        assert (compiled_graphs() > 0) == setting
    eager, compiled = (read_metrics(runs[s][1]) for s in (False, True))
    assert [r["step"] for r in compiled] == [1, 2, 3, 4]
    for key in ("loss", "ce", "topo", "grad_norm"):
        assert [r[key] for r in compiled] == pytest.approx([r[key] for r in eager], rel=1e-5), key
    weights = {s: load_file(runs[s][0]) for s in runs}
    assert weights[True].keys() == weights[False].keys()
    assert not any(key.startswith("_orig_mod.") for key in weights[True])
    assert all(torch.allclose(weights[True][k], weights[False][k], atol=1e-5) for k in weights[False])


def test_compiled_vision_training_equals_eager(tmp_path, monkeypatch):
    """The same for four ResNet-18 steps (channels-last, BatchNorm; compiled after the EMA copy)."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    monkeypatch.setattr(vision, "make_loaders", lambda *args, **kwargs: (Batches(), None))
    logs = {}
    for setting in (False, True):
        recipe = {**TINY_RECIPE, "epochs": 1, "lr": 0.05, "lr_peak_epoch": 1, "checkpoint_every": 0,
                  "compile": setting}
        spec = {"family": "resnet18", "options": {"num_classes": 2, "width_multiplier": 0.25}, "tau": 1.0,
                "recipe": recipe}
        paths = [tmp_path / f"{setting}.{ext}" for ext in ("safetensors", "jsonl", "pt")]
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        vision.train_vision(spec, "unused", None, *paths, "cpu")
        assert (compiled_graphs() > 0) == setting
        logs[setting] = read_metrics(paths[1])
        assert not any(key.startswith("_orig_mod.") for key in load_file(paths[0]))
    assert [r["step"] for r in logs[True]] == [1, 2, 3, 4]
    for key in ("loss", "ce", "topo"):
        assert [r[key] for r in logs[True]] == pytest.approx([r[key] for r in logs[False]], rel=1e-5), key


def test_compile_defaults_on_for_language_on_cuda_only():
    cpu = torch.device("cpu")
    assert language.DEFAULT_RECIPE["compile"] == vision.DEFAULT_RECIPES["resnet18"]["compile"] == "auto"
    assert common.use_compile("auto", CUDA, auto=True) and not common.use_compile("auto", cpu, auto=True)
    assert not common.use_compile("auto", CUDA, auto=False)  # vision: unmeasured on a GPU, so off
    assert common.use_compile(True, cpu, auto=False) and not common.use_compile(False, CUDA, auto=True)


@pytest.mark.parametrize("family", ["resnet18", "vit_b_32", "nanogpt"])
def test_optimizers_are_fused_on_cuda_only(family):
    """Fused kernels also take the GradScaler's inf check, so its step never reads it back to the host."""
    if family == "nanogpt":
        model, recipe, make = build(family, n_layer=1, n_head=2, n_embd=16, block_size=8), language.DEFAULT_RECIPE, \
            language.make_optimizer
    else:
        model, recipe, make = build("resnet18", width_multiplier=0.25), vision.DEFAULT_RECIPES[family], \
            vision.make_optimizer
    assert make(model, recipe, CUDA).defaults["fused"] is True  # fused kernels exist for CPU tensors too
    assert make(model, recipe, CUDA)._step_supports_amp_scaling
    assert not make(model, recipe, torch.device("cpu")).defaults["fused"]


def test_cuda_settings_turn_on_tf32_and_autotuning():
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = matmul.fp32_precision, cudnn.conv.fp32_precision, cudnn.benchmark
    try:
        matmul.fp32_precision, cudnn.benchmark = "ieee", False
        common.cuda_settings(torch.device("cpu"))
        assert (matmul.fp32_precision, cudnn.benchmark) == ("ieee", False)  # the CPU is left alone
        common.cuda_settings(CUDA)
        assert (matmul.fp32_precision, cudnn.conv.fp32_precision, cudnn.benchmark) == ("tf32", "tf32", True)
    finally:
        matmul.fp32_precision, cudnn.conv.fp32_precision, cudnn.benchmark = saved


def test_copies_to_cuda_are_pinned_and_non_blocking():
    calls = []

    class Recorder:  # stands in for a CPU tensor: pinning needs a CUDA driver
        def is_pinned(self):
            return False

        def pin_memory(self):
            calls.append("pin_memory")
            return self

        def to(self, device, **kwargs):
            calls.append((device, kwargs))
            return self

    to_device(Recorder(), CUDA, memory_format=torch.channels_last)
    assert calls == ["pin_memory", (CUDA, {"non_blocking": True, "memory_format": torch.channels_last})]
    x = torch.arange(3)
    assert to_device(x, torch.device("cpu")) is x


def test_image_loader_pins_memory_on_cuda(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(images, "DataLoader", lambda *args, **kwargs: made.append(kwargs) or [])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    list(images.FolderLoader(write_images(tmp_path), 8, train=True, res=32))
    assert made and made[0]["pin_memory"] is True


class HostSyncs(TorchDispatchMode):
    """Counts what makes the host wait for a GPU: reading a value (``item``, ``float``, ``bool``,
    ``int``: aten._local_scalar_dense), ``tolist``/``cpu``/``numpy``, and ops with data-dependent
    shapes. Not counted: torch's optimizers reading their step counters, which are host tensors
    unless the optimizer is fused (on CUDA the loops' are fused, and never read them)."""

    SYNCING: ClassVar = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default,
               torch.ops.aten.masked_select.default}

    def __init__(self, monkeypatch):
        super().__init__()
        self.count = 0
        for name in ("tolist", "cpu", "numpy"):
            monkeypatch.setattr(torch.Tensor, name, self._counting(getattr(torch.Tensor, name)))

    def _counting(self, method):
        @functools.wraps(method)
        def counted(*args, **kwargs):
            self.count += 1
            return method(*args, **kwargs)

        return counted

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.SYNCING and not any("/torch/optim/" in f.filename for f in traceback.extract_stack()):
            self.count += 1
        return func(*args, **(kwargs or {}))


def syncs_per_step(monkeypatch, train) -> dict[int, int]:
    """Host syncs of each step of `train(on_step)`, from one step's end to the next's."""
    counts, detector = {}, HostSyncs(monkeypatch)

    def on_step(record):
        counts[record["step"]] = detector.count - sum(counts.values())

    with detector:
        train(on_step)
    return counts


def test_language_loop_syncs_at_log_steps_only(tmp_path, monkeypatch):
    spec = language_spec(max_steps=7, log_every=3, eval_every=0, eval_batches=0, checkpoint_every=0)
    counts = syncs_per_step(monkeypatch, lambda on_step: train_language(tmp_path, spec, "syncs", on_step))
    assert [step for step, n in counts.items() if n] == [3, 6, 7]  # the log steps and the last


class Batches:
    """A loader of 4 fixed random batches: the loop's interface without image decoding."""

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.batches = [(torch.randn(8, 3, 32, 32, generator=generator), torch.randint(2, (8,), generator=generator))
                        for _ in range(4)]

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)

    def set_epoch(self, epoch):
        pass

    def set_resolution(self, res):
        pass


def test_vision_loop_syncs_at_log_steps_only(tmp_path, monkeypatch):
    monkeypatch.setattr(vision, "make_loaders", lambda *args, **kwargs: (Batches(), None))
    recipe = {**TINY_RECIPE, "epochs": 1, "lr": 0.05, "lr_peak_epoch": 1, "checkpoint_every": 0, "log_every": 3}
    spec = {"family": "resnet18", "options": {"num_classes": 2, "width_multiplier": 0.25}, "tau": 1.0,
            "recipe": recipe}
    paths = [tmp_path / f"run.{ext}" for ext in ("safetensors", "jsonl", "pt")]
    counts = syncs_per_step(monkeypatch, lambda on_step: vision.train_vision(spec, "unused", None, *paths, "cpu",
                                                                             on_step=on_step))
    assert [step for step, n in counts.items() if n] == [3, 4]  # the log step and the last
