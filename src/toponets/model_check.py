"""A config's models checked before any job runs: builder options, placement and TopoLoss factor.

Each distinct (family, options, placement, factor) of the experiments is built once on PyTorch's
meta device (shapes only: no memory, no initialisation cost) and given its TopoLoss, so a misspelt
option or a factor larger than a layer's cortical sheet stops the workflow while its DAG is built,
instead of failing inside a job after Snakemake has removed that job's previous outputs.

Building imports torch (and transformers for GPT-Neo), seconds per workflow start, so the checks
that passed are remembered in a small cache file keyed by the experiment and the model code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .model_spec import DEFAULT_FACTOR, DEFAULT_PLACEMENT

PACKAGE = Path(__file__).resolve().parent
# The code whose behaviour the check covers: a change to any of it checks every model again.
CHECKED_CODE = sorted([*(PACKAGE / "models").glob("*.py"),
                       *(PACKAGE / name for name in ("model_spec.py", "topoloss.py", "sheet.py"))])


def model_key(experiment: dict[str, Any]) -> dict[str, Any]:
    """What decides whether an experiment's model builds: family, options, placement and factor."""
    return {
        "family": experiment["family"],
        "options": experiment.get("options", {}),
        "placement": experiment.get("placement", DEFAULT_PLACEMENT),
        "factor": experiment.get("factor", DEFAULT_FACTOR),
    }


def check_model(key: dict[str, Any]) -> list[str]:
    """Build one model on the meta device with its TopoLoss; ValueError naming the problem if it cannot be.
    Returns a warning about the layers whose sheet the blur collapses (`TopoLoss.collapsed`), if any."""
    import torch

    from .models import build, topographic_layers
    from .topoloss import TopoLoss

    with torch.device("meta"):
        try:
            model = build(key["family"], **key["options"])
        except TypeError as err:
            raise ValueError(str(err)) from None
    layers = topographic_layers(model, key["family"], key["placement"])
    if hasattr(model, "positioned_layers"):  # its units have given positions (TDANN): no sheet, no TopoLoss
        return []
    collapsed = TopoLoss(model, layers, key["factor"]).collapsed()
    if not collapsed:
        return []
    sizes = ", ".join(f"{name} {h}x{w} -> {h2}x{w2}" for name, ((h, w), (h2, w2)) in collapsed.items())
    return [
        f"the blur (factor {key['factor']}) shrinks the sheets of {len(collapsed)} layer(s) to one row or column "
        f"({sizes}): there it averages a whole side and TopoLoss pulls their units towards one set of weights; "
        "widen the layers or lower the factor"
    ]


def _fingerprint(key: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode())
    for path in CHECKED_CODE:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def check_models(experiments: list[dict[str, Any]], cache: str | Path | None = None) -> list[str]:
    """Check every experiment's model (`check_model`); ValueError naming the experiment on the first failure.
    Returns the warnings, each naming its experiment.

    `cache`, a JSON file, keeps the fingerprints of the models that passed with their warnings, so they
    are not built again.
    """
    cache = Path(cache) if cache else None
    passed: dict[str, list[str]] = {}
    if cache and cache.exists():
        try:
            passed = json.loads(cache.read_text())
        except ValueError:
            pass
        passed = passed if isinstance(passed, dict) else {}
    fresh = {}
    warnings = []
    for exp in experiments:
        key = model_key(exp)
        fingerprint = _fingerprint(key)
        if fingerprint not in passed and fingerprint not in fresh:
            try:
                fresh[fingerprint] = check_model(key)
            except ValueError as err:
                raise ValueError(f"experiments[{exp['name']}] ({exp['family']}): {err}") from None
        warnings += [f"experiments[{exp['name']}]: {w}" for w in {**passed, **fresh}[fingerprint]]
    if cache and fresh:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({**passed, **fresh}, sort_keys=True))
    return warnings
