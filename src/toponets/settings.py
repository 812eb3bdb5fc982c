"""The evaluation settings: one frozen type per section of the config's ``evaluation``, which owns its defaults.

The schema (schemas/config.schema.yaml) documents and validates the same keys with the same defaults
(tests/test_settings.py checks that they agree). An evaluation entry point reads its settings from one
``--settings`` argument (`read`): JSON text or a .json file of ``{section: {key: value}}``, the sections
of ``evaluation`` that its analysis reads (`READS`); a left-out section or key takes its default, an
unknown one is an error that names it. The workflow passes each job `job_settings`: those sections of the
run's config, without the keys that only plan the jobs (which runs, which corpus: `PLAN` fields).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from .config_io import json_argument

PLAN = {"plan": True}  # field metadata: a key that plans the jobs (their runs, inputs, threads), not read by them


def _plan(default: Any = None, **kwargs) -> Any:
    return field(default=default, metadata=PLAN, **kwargs)


def _choice(default: Any, *others: Any, plan: bool = False) -> Any:
    """A key that takes one of a few values, the first its default (the schema's enum)."""
    return field(default=default, metadata={"choices": (default, *others), "plan": plan})


def _converter(hint: Any):
    """value -> the field's type for JSON values: ints as floats where a float is meant, lists as tuples."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    options = [o for o in options if o is not type(None)]
    kind = options[0] if len(options) == 1 else None
    if kind is float:
        return lambda v: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if typing.get_origin(kind) is tuple:
        item = _converter(typing.get_args(kind)[0])
        return lambda v: tuple(item(x) for x in v) if isinstance(v, list | tuple) else v
    return lambda v: v


class Section:
    """A section of ``evaluation``: `from_config` builds it from the config's mapping."""

    SECTION = ""

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None = None):
        """The settings of `values` (the config section; left-out keys take their defaults).

        Raises ValueError naming the section and any key it does not have."""
        values = dict(values or {})
        hints = typing.get_type_hints(cls)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"evaluation.{cls.SECTION}: unknown key(s) {unknown}; known: {sorted(known)}")
        for f in fields(cls):
            choices = f.metadata.get("choices")
            if choices and f.name in values and values[f.name] not in choices:
                raise ValueError(f"evaluation.{cls.SECTION}.{f.name}: {values[f.name]!r} is not one of {list(choices)}")
        return cls(**{k: _converter(hints[k])(v) for k, v in values.items()})

    def job_values(self, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The keys a job reads (all but the PLAN fields, or `keys`), as JSON values."""
        names = keys or [f.name for f in fields(self) if not f.metadata.get("plan")]
        values = asdict(self)
        return {k: list(values[k]) if isinstance(values[k], tuple) else values[k] for k in names}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every key's default, as the config (JSON/YAML) writes it."""
        out = {}
        for f in fields(cls):
            value = f.default_factory() if f.default is MISSING else f.default
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Accuracy(Section):
    """Top-1 on the val split; res and flip_tta null = the checkpoint recipe's (cli.eval_args.validation_protocol).
    A model without a classifier (TDANN) is read out linearly, at res, else its own input size, else 224."""

    SECTION = "accuracy"
    res: int | None = None
    flip_tta: bool | None = None
    batch_size: int = 256
    max_images: int | None = None


@dataclass(frozen=True)
class Smoothness(Section):
    """Smoothness (METHODS §2): images at res (n_images), or token windows (n_samples of length tokens)."""

    SECTION = "smoothness"
    res: int = 224
    n_images: int = 10000
    bins: int = 20
    min_pairs: int = 100
    shuffles: int = 10
    reduce: str = _choice("mean", "max")
    batch_size: int = 256
    corpus: str | None = _plan()
    n_samples: int = 100000
    length: int = 128


@dataclass(frozen=True)
class Dimensionality(Section):
    """Effective dimensionality (METHODS §3); reduce pools conv channels, a language unit is mean-pooled;
    layers and unit_norm choose the variants beside the default (`toponets.cli.dimensionality`)."""

    SECTION = "dimensionality"
    res: int = 224
    n_images: int = 20000
    reduce: str = _choice("max", "mean")
    layers: str = _choice("topographic", "blocks")
    unit_norm: bool = False
    batch_size: int = 256
    corpus: str | None = _plan()
    n_samples: int = 8192
    vision_pool: tuple[str, ...] | None = _plan()
    length: int = 128


@dataclass(frozen=True)
class Pruning(Section):
    """L1 pruning (METHODS §9.1): fractions null = 1 - 1/n of the downsampling factors (`fractions_of`)."""

    SECTION = "pruning"
    res: int | None = None
    flip_tta: bool | None = None
    batch_size: int = 256
    max_images: int | None = None
    fractions: tuple[float, ...] | None = None
    scope: str = _choice("layer", "global")


@dataclass(frozen=True)
class LmLoss(Section):
    """Loss and perplexity on windows of the common held-out corpus, else of each model's val split."""

    SECTION = "lm_loss"
    corpus: str | None = _plan()
    n_samples: int = 1000
    length: int = 1024
    batch_size: int = 16


@dataclass(frozen=True)
class Blimp(Section):
    SECTION = "blimp"
    max_pairs: int | None = None
    batch_size: int = 64


@dataclass(frozen=True)
class Downsampling(Section):
    SECTION = "downsampling"
    factors: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True)
class Selectivity(Section):
    SECTION = "selectivity"
    experiments: tuple[str, ...] | None = _plan()
    res: int = 224
    max_per_category: int | None = None
    reduce: str = _choice("mean", "max")
    late_fraction: float = 0.25
    shuffles: int = 20
    batch_size: int = 256


@dataclass(frozen=True)
class IntegrationWindows(Section):
    """Integration windows (METHODS §5); workers is the job's threads (the CLI's --workers)."""

    SECTION = "integration_windows"
    n_sequences: int = 500
    length: int = 40
    window: int = 20
    seed: int = 0
    batch_size: int = 8
    tap: str = _choice("pre", "post")
    workers: int = _plan(1)
    yoking_sequences: int = 250
    sentence_length: int = 12


@dataclass(frozen=True)
class Lora(Section):
    """LoRA fine-tuning (METHODS §10): which runs and corpora (planning), and the fine-tuning itself."""

    SECTION = "lora"
    experiments: tuple[str, ...] = _plan(())
    taus: tuple[float, ...] | None = _plan()
    corpora: tuple[str, ...] = _plan(())
    ranks: tuple[int, ...] = (2, 4, 8)
    alpha: float | None = None
    dropout: float = 0.0
    targets: tuple[str, ...] = ("attn.c_attn",)
    lr: float = 0.001
    steps: int = 500
    batch_size: int = 8
    length: int = 1024
    eval_every: int = 50
    n_samples: int = 24


@dataclass(frozen=True)
class Brainscore(Section):
    SECTION = "brainscore"
    benchmarks: str | None = None
    image_size: int | None = None
    pls_splits: int = 10
    konkle_image_type: str = _choice("originals", "texforms")
    region_layers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        layers = self.region_layers
        if not isinstance(layers, dict) or not all(isinstance(v, str) for v in layers.values()):
            raise ValueError(f"evaluation.brainscore.region_layers: expected a mapping region -> layer name, got {layers!r}")


@dataclass(frozen=True)
class UnitVoxel(Section):
    """Unit-to-voxel correlation (METHODS §6); neural picks the data, which the job gets as --neural paths."""

    SECTION = "unit_voxel"
    neural: str | None = _choice(None, "allen", "nsd", plan=True)
    res: int = 224
    batch_size: int = 256
    layer: str | None = None
    matching: str = _choice("hungarian", "best")
    ceiling: str = _choice("auto", "subject-to-subject", "neuron-to-neuron", "none")


SECTIONS: dict[str, type[Section]] = {
    cls.SECTION: cls
    for cls in (Accuracy, Smoothness, Dimensionality, Pruning, LmLoss, Blimp, Downsampling, Selectivity,
                IntegrationWindows, Lora, Brainscore, UnitVoxel)
}

# analysis (its entry point's name) -> {section: the keys its job reads (None: all but the PLAN keys)}
READS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "accuracy": {"accuracy": None},
    "linear_readout": {"accuracy": ("res", "batch_size")},
    "smoothness": {"smoothness": None},
    "dimensionality": {"dimensionality": None},
    # language models: the windows of the validation loss; fractions null: the downsampling factors
    "pruning": {"pruning": None, "downsampling": ("factors",), "lm_loss": ("n_samples", "length")},
    "lm_loss": {"lm_loss": None},
    "blimp": {"blimp": None},
    "downsampling": {"downsampling": None, "lm_loss": ("n_samples", "length", "batch_size"), "blimp": ("max_pairs",)},
    "selectivity": {"selectivity": None},
    "integration_windows": {"integration_windows": None},
    "lora": {"lora": None},
    "brainscore": {"brainscore": None},
    "unit_voxel": {"unit_voxel": None},
}


class Settings(dict):
    """The sections an analysis was given: ``settings["pruning"]`` is a `Pruning`, a left-out one its defaults."""

    def __missing__(self, section: str) -> Section:
        if section not in SECTIONS:
            raise KeyError(f"no evaluation section {section!r}; sections: {sorted(SECTIONS)}")
        return SECTIONS[section]()


def from_config(evaluation: Mapping[str, Mapping[str, Any]], analysis: str | None = None) -> Settings:
    """The settings of `evaluation` ({section: {key: value}}); given the `analysis`, only its sections (READS)
    may appear. Raises ValueError naming an unknown section or key."""
    if not isinstance(evaluation, Mapping) or not all(isinstance(v, Mapping) for v in evaluation.values()):
        raise ValueError("settings must be a JSON object of evaluation sections, {section: {key: value}}, "
                         f"e.g. {{\"smoothness\": {{\"n_images\": 100}}}}; got {evaluation!r}")
    allowed = READS[analysis] if analysis else SECTIONS
    unknown = sorted(set(evaluation) - set(allowed))
    if unknown:
        raise ValueError(f"unknown evaluation section(s) {unknown}" + (f" for {analysis}" if analysis else "")
                         + f"; expected some of {sorted(allowed)}")
    return Settings({name: SECTIONS[name].from_config(values) for name, values in evaluation.items()})


def read(text: str, analysis: str) -> Settings:
    """`--settings`: JSON text or the path of a JSON file, for `analysis` (see `from_config`)."""
    return from_config(json_argument(text, "--settings"), analysis)


def job_settings(evaluation: Mapping[str, Mapping[str, Any]], analysis: str) -> str:
    """The --settings JSON of an `analysis` job: of the config's `evaluation`, the keys it reads (READS)."""
    return json.dumps(
        {section: SECTIONS[section].from_config(evaluation.get(section)).job_values(keys)
         for section, keys in READS[analysis].items()},
        sort_keys=True,
    )

