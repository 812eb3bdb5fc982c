"""Pieces every training loop shares: device settings, compilation, seeds,
resumable state, a NaN guard, the JSON-lines metrics log and the progress bar.

The loops never wait for the GPU between log steps: a step's losses stay on
the device (`LossGuard.watch` notes there whether they are finite), and only
the steps that write something (`sync_step`) bring them to the host, all at
once (`as_floats`), as nanoGPT and ffcv-imagenet do.

The training state is a separate file from the final checkpoint (Snakemake
deletes declared outputs before a rerun), written atomically, and holds only
tensors and plain Python values so it loads with ``weights_only=True``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..checkpoints import load_refusal, run_identity, save_checkpoint
from ..io import atomic_path
from ..model_spec import DEFAULT_FACTOR, DEFAULT_PLACEMENT


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global generators' states as tensors and plain values (weights-only safe)."""
    numpy_state = np.random.get_state(legacy=False)
    key = torch.from_numpy(numpy_state["state"]["key"])
    return {
        "python": random.getstate(),
        "numpy": {**numpy_state, "state": {**numpy_state["state"], "key": key}},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of `rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state({**numpy_state, "state": {**numpy_state["state"], "key": numpy_state["state"]["key"].numpy()}})
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    step: int,
    config: dict[str, Any],
    ema: nn.Module | None = None,
) -> None:
    """Atomically write everything needed to continue training after `step` optimizer steps
    (with `ema`, a model's moving average, that too)."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "step": step,
        "rng": rng_state(),
        "config": json.dumps(config, sort_keys=True),
    }
    if ema is not None:
        state["ema"] = ema.state_dict()
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    config: dict[str, Any],
    ema: nn.Module | None = None,
) -> int:
    """Restore a state written by `save_state` into the given objects (`ema` too, when given);
    return its step.

    The state must come from the same resolved config: resuming a different
    experiment from it would silently mix two runs (`restore` moves such a state aside).
    """
    return apply_state(_read_state(path), path, model=model, optimizer=optimizer, scaler=scaler, config=config, ema=ema)


def apply_state(state: dict[str, Any], path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                scaler: torch.amp.GradScaler, config: dict[str, Any], ema: nn.Module | None = None) -> int:
    """`load_state` for a state already read from `path`; StateMismatchError if its config is another."""
    if state["config"] != json.dumps(config, sort_keys=True):
        raise StateMismatchError(
            f"training state {path} was written by a run with a different config; "
            "delete it to start afresh, or restore the config it was made with"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scaler.load_state_dict(state["scaler"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    set_rng_state(state["rng"])
    return state["step"]


class StateMismatchError(RuntimeError):
    """A training state was written by a run with another config."""


def _read_state(path: str | Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        raise RuntimeError(f"training state {path} cannot be read ({load_refusal(err)}); "
                           "delete it to start this run afresh") from None


def set_aside_path(state_path: Path, config_json: str) -> Path:
    """Where the state of a run with another config is kept: named by that config's hash, beside `state_path`."""
    digest = hashlib.sha256(config_json.encode()).hexdigest()[:12]
    return state_path.with_name(f"{state_path.stem}.config-{digest}{state_path.suffix}")


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class LossGuard:
    """Stops training at the first non-finite loss, naming its step and the last finite logged losses.

    `watch` runs every step and keeps on the loss's device the first step whose
    loss was not finite, so it costs no host sync; `check` runs at the steps
    that bring the losses to the host and raises if any step so far, or the
    one checked, had a non-finite loss. Between two checks the optimizer keeps
    stepping, but no state is saved from such weights: states are written at
    checked steps only.
    """

    def __init__(self, keep: int = 5):
        self.recent: deque[tuple[int, float]] = deque(maxlen=keep)
        self._first_bad: torch.Tensor | None = None  # 0 while every watched loss was finite

    def watch(self, step: int, loss: torch.Tensor) -> None:
        bad = torch.where(torch.isfinite(loss.detach()), 0, step)
        self._first_bad = bad if self._first_bad is None else torch.where(self._first_bad > 0, self._first_bad, bad)

    def check(self, step: int, loss: float, **parts: float) -> None:
        first = 0 if self._first_bad is None else int(self._first_bad)
        if math.isfinite(loss) and not first:
            self.recent.append((step, loss))
            return
        detail = ", ".join(f"{name}={value:.4g}" for name, value in parts.items())
        history = ", ".join(f"step {s}: {v:.4g}" for s, v in self.recent) or "none yet"
        what = f"{loss} at step {step} ({detail})"
        if first and first != step:
            what = f"non-finite at step {first} (at step {step}, the next check: loss {loss}, {detail})"
        raise NonFiniteLossError(
            f"loss became {what}; last finite losses: {history}. "
            "Lower the learning rate or tau, or check the input data."
        )


def as_floats(values: dict[str, Any]) -> dict[str, float]:
    """Scalar tensors (or numbers) as Python floats, in one device-to-host copy: one sync for all."""
    tensors = [torch.as_tensor(v).detach().to(torch.float64).reshape(()) for v in values.values()]
    return dict(zip(values, torch.stack(tensors).tolist(), strict=True)) if tensors else {}


def sync_step(step: int, total: int, recipe: dict[str, Any]) -> bool:
    """Whether (1-based) step `step` brings its losses to the host: a log step (every `log_every`), a
    state-saving step (every `checkpoint_every`) or the last. The other steps never wait for the device."""
    saves = bool(recipe["checkpoint_every"]) and step % recipe["checkpoint_every"] == 0
    return step % recipe["log_every"] == 0 or saves or step == total


class Throughput:
    """Samples per second over the steps since the last `rate` (or `restart`), timed between two syncs
    so that the device's queued work is counted."""

    def __init__(self):
        self.restart()

    def restart(self) -> None:
        self.start, self.samples = time.perf_counter(), 0

    def add(self, samples: int) -> None:
        self.samples += samples

    def rate(self) -> float:
        return self.samples / max(time.perf_counter() - self.start, 1e-9)


class MetricsLog:
    """A JSON-lines log of dicts, each with a "step".

    Starting fresh (``resume_step=None``) empties the file. Resuming from step
    ``s`` keeps the records with step <= s and drops the rest (written after
    the state was saved, they will be written again), so the log never holds
    a step twice. Given the `run` ({model, tau, seed}: `logged_run`), each record carries it as ``"run"``,
    so the log names its run wherever it is copied (the training table reads it from there).
    """

    def __init__(self, path: str | Path, resume_step: int | None = None, run: dict[str, Any] | None = None):
        self.path = Path(path)
        self.run = run
        kept = [] if resume_step is None else [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._file = self.path.open("a")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record if self.run is None else {**record, "run": self.run}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def logged_run(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The run identity a training log records (`checkpoints.run_identity`): None for a spec that names no
    experiment (an ad-hoc run outside the workflow, whose log no table reads)."""
    return run_identity(spec) if "name" in spec else None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics log; a torn last line (a killed writer) is dropped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def progress_bar(total: int, initial: int = 0, desc: str | None = None) -> tqdm:
    """A tqdm bar on stderr that redraws at most every 2 s, so job logs stay short."""
    return tqdm(total=total, initial=initial, desc=desc, file=sys.stderr, mininterval=2.0, dynamic_ncols=True)


SPEC_DEFAULTS: dict[str, Any] = {
    "options": {}, "placement": DEFAULT_PLACEMENT, "factor": DEFAULT_FACTOR, "seed": 0, "recipe": {},
}


def resolve_spec(spec: dict[str, Any], default_recipe: dict[str, Any], families: Iterable[str]) -> dict[str, Any]:
    """`spec` with the defaults filled in, recipe included; a missing family or tau, a family the loop
    does not train, a negative tau and unknown recipe keys (with spelling hints) are errors."""
    missing = [key for key in ("family", "tau") if key not in spec]
    if missing:
        raise ValueError(f"training spec lacks {missing}; it needs at least 'family' and 'tau'")
    if spec["family"] not in families:
        raise ValueError(f"this training loop trains {sorted(families)}, not family '{spec['family']}'")
    resolved = {**SPEC_DEFAULTS, **spec}
    unknown = sorted(set(resolved["recipe"]) - set(default_recipe))
    if unknown:
        hints = {key: difflib.get_close_matches(key, default_recipe, n=1) for key in unknown}
        said = ", ".join(f"'{k}'" + (f" (did you mean '{h[0]}'?)" if h else "") for k, h in hints.items())
        raise ValueError(f"unknown recipe keys {said}; known: {sorted(default_recipe)}")
    resolved["recipe"] = {**default_recipe, **resolved["recipe"]}
    if resolved["tau"] < 0:
        raise ValueError(f"tau must be >= 0, got {resolved['tau']}")
    return resolved


def use_compile(setting: bool | str, device: torch.device, auto: bool) -> bool:
    """Resolve the recipe's `compile`: "auto" = `auto` (the family's default) on CUDA, off elsewhere."""
    if setting == "auto":
        return auto and device.type == "cuda"
    return bool(setting)


def compile_in_place(model: nn.Module) -> None:
    """torch.compile `model`'s forward in place (`nn.Module.compile`), one static-shape graph per input
    shape (e.g. per training resolution). Its state_dict keeps its keys: no ``_orig_mod.`` prefix, so
    states and checkpoints are the same whether or not it was compiled. TopoLoss reads the weights
    directly, not through the forward, so it stays outside the compiled graph."""
    model.compile(dynamic=False)


def cuda_settings(device: torch.device) -> None:
    """On CUDA: TF32 for the fp32 matmuls and convolutions (what autocast leaves in fp32) and cuDNN's
    autotuner, as nanoGPT and ffcv-imagenet set them. The CPU is left as it is."""
    if device.type != "cuda":
        return
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    torch.backends.cudnn.benchmark = True


def use_amp(setting: bool | str, device: torch.device) -> bool:
    """Resolve the recipe's `amp` ("auto" = on for CUDA only)."""
    if setting == "auto":
        return device.type == "cuda"
    if setting and device.type != "cuda":
        raise ValueError(f"recipe amp=true needs a CUDA device, but training runs on {device}; use amp 'auto' or false")
    return bool(setting)


def restore(state_path: Path, spec: dict[str, Any], runtime_keys: Iterable[str], main: bool = True,
            **parts) -> tuple[dict, int | None]:
    """The objects a state file holds (`parts` plus the spec's fingerprint) and the step to resume from:
    that of `state_path` if it exists, else None. Recipe keys in `runtime_keys` may differ on resume.

    A state written with another config (after a NaN loss, say, the user lowered the learning rate) is
    never mixed into this run: the `main` process moves it aside, kept under a name made from its config's
    hash (`set_aside_path`), and the run starts afresh, saying so in the log.
    """
    fingerprint = {**spec, "recipe": {k: v for k, v in spec["recipe"].items() if k not in runtime_keys}}
    objects = {**parts, "config": fingerprint}
    try:
        state = _read_state(state_path)
    except FileNotFoundError:  # no state, or (another rank) one the main process has just moved aside
        return objects, None
    try:
        step = apply_state(state, state_path, **objects)
    except StateMismatchError:
        if main:
            kept = set_aside_path(state_path, state["config"])
            state_path.replace(kept)
            print(f"training state {state_path} was written with another config; moved it aside to {kept} "
                  "(delete it when no longer needed) and started this run afresh", file=sys.stderr)
        return objects, None
    print(f"resuming from {state_path} after step {step}", file=sys.stderr)
    return objects, step


def end_of_step(record: dict[str, Any], total: int, recipe: dict[str, Any], log, state_path: Path, objects: dict,
                on_step: Callable[[dict[str, Any]], None] | None, *, keep: bool = False, bar: tqdm | None = None,
                shown: Iterable[str] = (), main: bool = True) -> None:
    """The bookkeeping after an optimizer step: the progress bar (showing the record's `shown` values when
    it has them), the metrics line (at `sync_step`s, or when `keep`), the resumable state (every
    `checkpoint_every` steps) and the caller's hook. Off the `main` process only the hook runs."""
    step = record["step"]
    if main:
        if bar is not None:
            bar.update(1)
            if all(key in record for key in shown):
                bar.set_postfix({key: f"{record[key]:.4g}" for key in shown}, refresh=False)
        if sync_step(step, total, recipe) or keep:
            log.write(record)
        if recipe["checkpoint_every"] and step % recipe["checkpoint_every"] == 0 and step < total:
            save_state(state_path, step=step, **objects)
    if on_step is not None:
        on_step(record)


def finish_run(out: str | Path, model: nn.Module, spec: dict[str, Any], layers: list[str], step: int,
               state_path: Path) -> None:
    """Write the final checkpoint (sidecar config = the resolved spec), then drop the resumable state."""
    meta = {"topographic_layers": layers, "factor": spec["factor"], "tau": float(spec["tau"]), "step": step}
    save_checkpoint(out, model, spec["family"], spec["options"], **meta, config=spec)
    state_path.unlink(missing_ok=True)
