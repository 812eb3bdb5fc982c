"""Checkpoints: safetensors weights plus a JSON sidecar, and the authors' formats.

Our format is ``<name>.safetensors`` with ``<name>.json`` beside it holding the
model family and options (enough to rebuild the module), the topographic
layers, factor and tau, the training step, the resolved config and the git
commit. Loading never unpickles code. The authors' released ``.pt`` files
(METHODS §1.7) are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from .io import atomic_path
from .models import build, topographic_layers

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DistributedDataParallel, torch.compile


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def git_commit() -> str | None:
    """The commit of the checkout this code runs from, or None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    family: str,
    options: dict[str, Any],
    *,
    topographic_layers: list[str],
    factor: float | tuple[float, float],
    tau: float,
    step: int,
    config: dict[str, Any] | None = None,
) -> None:
    """Write weights to `path` (.safetensors) and the metadata sidecar, each atomically."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"checkpoint path must end in .safetensors, got {path}")
    meta = {
        "model": {"family": family, "options": options},
        "topo": {"layers": list(topographic_layers), "factor": factor, "tau": tau},
        "step": step,
        "config": config or {},
        "git_commit": git_commit(),
    }
    with atomic_path(path) as tmp:
        save_model(model, str(tmp))
    with atomic_path(sidecar_path(path)) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))


def read_meta(path: str | Path) -> dict[str, Any]:
    """The sidecar of checkpoint `path`."""
    side = sidecar_path(path)
    if not side.exists():
        raise FileNotFoundError(f"checkpoint metadata {side} is missing; it is written beside {Path(path).name}")
    return json.loads(side.read_text())


RUN_FIELDS = ("model", "tau", "seed")  # a run's identity: its experiment (the spec's name), tau and seed


def run_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """{model, tau, seed} of the run of experiment spec `spec` (experiments.spec_for; a sidecar's config):
    what every evaluation output and training log records of the run it comes from."""
    missing = [key for key in ("name", "tau", "seed") if key not in (spec or {})]
    if missing:
        raise ValueError(f"the run spec lacks {missing}; the workflow's specs (experiments.spec_for) name the "
                         "experiment, tau and seed")
    return {"model": str(spec["name"]), "tau": float(spec["tau"]), "seed": int(spec["seed"])}


def checkpoint_run(path: str | Path) -> dict[str, Any]:
    """`run_identity` of the run that checkpoint `path` comes from, read from its sidecar's config (the spec
    it was trained, or imported, for)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return run_identity(read_meta(path).get("config") or {})
    except ValueError as err:
        raise ValueError(f"checkpoint {path} names no run: {err}. Train or import it with the workflow "
                         "(its sidecar's config is the run's spec)") from None


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model described by the sidecar and load the weights of checkpoint `path`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    meta = read_meta(path)
    model = build(meta["model"]["family"], **meta["model"]["options"])
    load_model(model, str(path), strict=True, device=str(device))
    return model.to(device), meta


def _strip_wrappers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            key = key.removeprefix(prefix)
        out[key] = value
    return out


def load_refusal(err: Exception) -> str:
    """Why torch.load(weights_only=True) refused a file: the first sentence of torch's reason, without its
    advice to retry with weights_only=False or to allowlist the file's globals, either of which would run
    code the file holds."""
    advice = ("weights_only", "Weights only", "Check the documentation", "Please file an issue")
    reasons = [line.strip() for line in str(err).splitlines() if line.strip() and not any(a in line for a in advice)]
    if not reasons:
        return type(err).__name__
    reason = reasons[0].removeprefix("WeightsUnpickler error:").strip()
    return re.split(r"(?<=\.)\s", reason)[0]


def load_released(path: str | Path, missing: str) -> Any:
    """The contents of a released torch file, read with ``weights_only=True`` so that nothing in it runs;
    `missing` is the advice given when the file is not there."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; {missing}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError and friends for unsafe or corrupt files
        raise ValueError(
            f"{path} cannot be read as plain weights ({load_refusal(err)}). It holds Python objects other than "
            "tensors, or it is damaged. It is never loaded in a way that could run code from the file: use the "
            "released file (check its size and checksum against the download page), or re-save the weights "
            "alone with torch.save(model.state_dict(), path) where the file is trusted") from None


def load_authors_checkpoint(path: str | Path, family: str, **options) -> tuple[nn.Module, dict[str, Any]]:
    """A model of `family` with the weights of one of the authors' released ``.pt`` files, and the
    builder options that rebuild it.

    Formats: a bare ResNet state dict (BlurPool ``.conv`` keys); a torchvision
    reference checkpoint ``{"model": state_dict, ...}`` (ViT); a nanoGPT
    checkpoint ``{"model": state_dict, "model_args": {...}}`` whose args
    override the builder's options.
    """
    path = Path(path)
    blob = load_released(path, "download it or point the config at it")
    if not isinstance(blob, dict):
        raise ValueError(f"{path} holds a {type(blob).__name__}, expected a state dict")
    if "model_args" in blob:  # the file's own architecture wins over the config's options
        options = {**options, **blob["model_args"]}
    state = blob.get("model", blob)
    state = {k: v for k, v in _strip_wrappers(state).items() if not k.endswith((".attn.bias", ".attn.masked_bias"))}
    model = build(family, **options)
    misfit = f"{path} does not fit a '{family}' model with options {options}"
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        detail = "; ".join(line.strip() for line in str(err).splitlines()[1:4])
        raise ValueError(f"{misfit}: {detail} ...") from err
    tied = {"lm_head.weight", "transformer.wte.weight"}
    missing = [k for k in missing if k not in tied or not (tied & state.keys())]
    if missing or unexpected:
        raise ValueError(f"{misfit}: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
    return model, options


def import_authors_checkpoint(path: str | Path, out: str | Path, spec: dict[str, Any],
                              positions: str | Path | None = None) -> None:
    """Write the authors' checkpoint `path` as our checkpoint `out`, for the run `spec` (experiments.spec_for).

    The sidecar records the run's topographic layers, factor and tau like a trained run's, step 0, and the
    file it came from, so every evaluation reads it as if it had been trained here. A TDANN checkpoint
    (family "tdann") also needs its unit positions, the directory `positions` (tdann_files).
    """
    if spec["family"] == "tdann":
        from .tdann_files import load_tdann

        if positions is None:
            raise ValueError("a TDANN checkpoint needs its unit positions: give their directory (--positions)")
        model, options = load_tdann(path, positions, **spec["options"]), spec["options"]
    else:
        model, options = load_authors_checkpoint(path, spec["family"], **spec["options"])
    layers = topographic_layers(model, spec["family"], spec["placement"])
    save_checkpoint(out, model, spec["family"], options, topographic_layers=layers, factor=spec["factor"],
                    tau=float(spec["tau"]), step=0, config={**spec, "imported_from": str(path),
                                                         **({"positions_from": str(positions)} if positions else {})})
