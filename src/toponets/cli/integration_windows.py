"""Temporal integration windows of the c_fc units of a language checkpoint (METHODS §5; Figures 5B and 8).

    python -m toponets.cli.integration_windows --checkpoint C.safetensors --brown brown.zip \
        --tokenizer TOKENIZER_DIR [--workers 1] [--device auto] \
        [--settings '{"integration_windows": {"n_sequences": N, "length": 40, "window": 20, "seed": 0,
                      "batch_size": 4, "tap": "pre", "yoking_sequences": M, "sentence_length": 12}}'] \
        --out windows.json --units units.csv --curves curves.csv

Settings: the config's evaluation.integration_windows
(toponets.settings.IntegrationWindows; its workers is --workers, the job's
threads). n_sequences natural Brown sequences of `length` words (only those
that fit in the model's context are drawn), each with `length` same-tag word
swaps, drawn with `seed`; the c_fc output of every block (before the GELU
with tap pre, the default; after it with tap post), averaged within words,
batch_size sequences per forward pass; the window of every unit over lags
0..window and its fit c(Δ+1)^(-a) + (1-c)e^(-bΔ) (see
toponets.analysis.integration_windows). --workers processes share the fits.
With yoking_sequences M > 0, also M structure-yoking sequences (5
sentences of sentence_length single-token words) and every unit's
sentence-yoking index (Skrill & Norman-Haignere's structure yoking).

Writes ``{"metrics": {window_c_mean, window_c_median, window_a_median,
window_b_median, window_fit_failed_fraction}, "per_layer": {layer: median c},
"per_layer_fits": {layer: {a, b, c (medians over units), failed, units}}, ...}``
(undefined values as null), plus ``yoking_median`` and ``per_layer_yoking``
(medians) with yoking_sequences; the tidy per-unit table (--units: layer,
unit, row, col, a, b, c, yoking; NaN where the fit failed or yoking was not
measured) and the per-layer median window (--curves: layer, delta, theta).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from ..analysis.integration_windows import (
    CONTEXT_SENTENCES,
    encode_words,
    layer_windows,
    swap_differences,
    swap_stimuli,
    yoking_index,
    yoking_stimuli,
)
from ..analysis.language import context_length
from ..checkpoints import load_checkpoint
from ..data.brown import read_brown
from ..data.tokenizer import gpt2_tokenizer
from ..device import select_device
from ..model_spec import LANGUAGE
from ..models import topographic_layers
from ..sheet import sheet_for
from . import eval_args

PARAMETERS = ("a", "b", "c")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="language checkpoint (.safetensors with its .json sidecar)")
    p.add_argument("--brown", required=True, help="NLTK's brown.zip (the mirror's text/brown.zip)")
    p.add_argument("--tokenizer", required=True, help="directory with the GPT-2 vocab.json and merges.txt")
    eval_args.add_settings(p, "integration_windows")
    p.add_argument("--workers", type=eval_args.positive_int, help="processes for the curve fits (default: the "
                   "settings' workers)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", required=True, help="JSON report to write")
    p.add_argument("--units", required=True, help="CSV of per-unit fits to write")
    p.add_argument("--curves", required=True, help="CSV of per-layer median windows to write")
    return p


def median(values: np.ndarray) -> float:
    return float(np.nanmedian(values)) if not np.isnan(values).all() else float("nan")


def yoking_indices(settings, model, layers, corpus, lexicon, context: int, device) -> dict[str, np.ndarray]:
    """{layer: (units,) sentence-yoking index} over the settings' yoking_sequences; {} when 0."""
    if settings.yoking_sequences <= 0:
        return {}
    words = (2 * CONTEXT_SENTENCES + 1) * settings.sentence_length  # single-token words: as many tokens
    if words > context:
        raise SystemExit(f"yoking sequences of {words} words do not fit the context of "
                         f"{context} tokens; lower sentence_length")
    stimuli = yoking_stimuli(corpus, lexicon, settings.yoking_sequences, settings.sentence_length, seed=settings.seed)
    differences = swap_differences(model, layers, stimuli, lexicon, device, settings.batch_size, settings.tap)
    return {name: yoking_index(d, settings.sentence_length) for name, d in differences.items()}


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = eval_args.read_settings(p, p.parse_args(argv))
    settings = args.settings["integration_windows"]
    args.workers = args.workers or settings.workers
    if settings.length < settings.window + 3:
        p.error(f"window {settings.window} needs a length of at least {settings.window + 3} words "
                f"(lags up to the window at positions t with t - window > 1)")
    device = select_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=device)
    family = meta["model"]["family"]
    if family not in LANGUAGE:
        raise SystemExit(f"checkpoint {args.checkpoint} is a {family} model; integration windows need one of {LANGUAGE}")
    ident = eval_args.identity(args.checkpoint, "integration_windows")
    layers = topographic_layers(model, family)  # the c_fc layer of every block

    corpus = read_brown(args.brown)
    lexicon = encode_words(gpt2_tokenizer(args.tokenizer), [w for words in corpus.tag_words.values() for w in words])
    context = context_length(model)
    try:
        stimuli = swap_stimuli(corpus, lexicon, settings.n_sequences, settings.length, settings.seed, max_tokens=context)
    except ValueError as err:
        raise SystemExit(f"{err} (the context of {args.checkpoint} is {context} tokens)") from err
    differences = swap_differences(model, layers, stimuli, lexicon, device, settings.batch_size, settings.tap)
    results = layer_windows(differences, settings.window, args.workers)
    yoking = yoking_indices(settings, model, layers, corpus, lexicon, context, device)

    params = np.concatenate([res.params for res in results.values()])
    failed = sum(res.failed for res in results.values())
    report = {
        "metrics": {
            "window_c_mean": eval_args.number(float(np.nanmean(params[:, 2])) if failed < len(params) else float("nan")),
            **{f"window_{name}_median": eval_args.number(median(params[:, k])) for k, name in enumerate(PARAMETERS)},
            "window_fit_failed_fraction": failed / len(params),
            **({"yoking_median": eval_args.number(median(np.concatenate(list(yoking.values()))))} if yoking else {}),
        },
        "per_layer": {name: eval_args.number(median(res.params[:, 2])) for name, res in results.items()},
        "per_layer_fits": {
            name: {
                **{p: eval_args.number(median(res.params[:, k])) for k, p in enumerate(PARAMETERS)},
                "failed": res.failed,
                "units": len(res.params),
            }
            for name, res in results.items()
        },
        **({"per_layer_yoking": {name: eval_args.number(median(index)) for name, index in yoking.items()},
            "yoking_sequences": settings.yoking_sequences, "sentence_length": settings.sentence_length} if yoking else {}),
        "n_sequences": len(stimuli),
        "length": settings.length,
        "window": settings.window,
        "seed": settings.seed,
        "tap": settings.tap,
        "context_tokens": context,
        "checkpoint": str(args.checkpoint),
    }
    units = []
    for name, res in results.items():
        positions = sheet_for(len(res.params)).positions()
        units.append(pd.DataFrame({
            "layer": name, "unit": np.arange(len(res.params)), "row": positions[:, 0], "col": positions[:, 1],
            **{p: res.params[:, k] for k, p in enumerate(PARAMETERS)},
            "yoking": yoking[name] if yoking else np.nan,
        }))
    curves = pd.concat([
        pd.DataFrame({"layer": name, "delta": np.arange(len(res.theta)), "theta": np.nanmedian(res.theta, axis=1)})
        for name, res in results.items()
    ], ignore_index=True)
    eval_args.write_csv(args.units, pd.concat(units, ignore_index=True), ident)
    eval_args.write_csv(args.curves, curves, ident)
    eval_args.write_json(args.out, report, ident)


if __name__ == "__main__":
    main()
