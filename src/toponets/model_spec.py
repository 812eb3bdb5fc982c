"""The model part of a run's spec, in one place and torch-free (the workflow reads it as it builds its DAG).

`FAMILIES` is the one list of model families: each family's kind (vision or language: which trainer,
default recipe and analyses it gets) and its builder in `toponets.models`, imported on first use so that
a language job never imports torchvision (whose import pulls in torch._dynamo: seconds per job). The
config schema cannot import Python and repeats the names; tests/test_model_spec.py keeps the two equal.
"""

from __future__ import annotations

from typing import NamedTuple


class Family(NamedTuple):
    """A model family: its kind and the function of `toponets.models` that builds it."""

    kind: str  # "vision" or "language"
    module: str  # the builder's module in toponets.models
    builder: str  # the builder function
    args: tuple = ()  # leading arguments, before the experiment's options


FAMILIES: dict[str, Family] = {
    "resnet18": Family("vision", "resnet", "build_resnet", (18,)),
    "resnet50": Family("vision", "resnet", "build_resnet", (50,)),
    "vit_b_32": Family("vision", "vit", "build_vit"),
    "gpt_neo": Family("language", "gpt_neo", "build_gpt_neo"),
    "nanogpt": Family("language", "nanogpt", "build_nanogpt"),
    "tdann": Family("vision", "tdann", "build_tdann"),  # Margalit et al. 2024, from its authors' files only
}

IMPORTED_ONLY = ("tdann",)  # families never trained here: their runs are their authors' checkpoints
NO_CLASSIFIER = ("tdann",)  # self-supervised families: their top-1 is a linear readout's (cli/linear_readout.py)

KIND = {name: family.kind for name, family in FAMILIES.items()}  # family -> "vision" or "language"
VISION = tuple(name for name, kind in KIND.items() if kind == "vision")
LANGUAGE = tuple(name for name, kind in KIND.items() if kind == "language")

DEFAULT_PLACEMENT = "paper"  # which layers get TopoLoss when an experiment does not say (models._PATTERNS)
DEFAULT_FACTOR = 3.0  # TopoLoss's blur factor when an experiment does not say (the paper's)
