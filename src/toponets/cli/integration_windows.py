"""Temporal integration windows of the c_fc units of a language checkpoint (METHODS §5; Figures 5B and 8).

    python -m toponets.cli.integration_windows --checkpoint C.safetensors --brown brown.zip \
        --tokenizer TOKENIZER_DIR --n-sequences N [--length 40] [--window 20] [--seed 0] \
        [--batch-size 4] [--tap pre] [--workers 1] [--device auto] \
        [--yoking-sequences M] [--sentence-length 12] \
        --out windows.json --units units.csv --curves curves.csv

N natural Brown sequences of --length words (only those that fit in the
model's context are drawn), each with --length same-tag word swaps; the
c_fc output of every block (before the GELU with --tap pre, the default;
after it with --tap post), averaged within words; the window of every unit
over lags 0..--window and its fit c(Δ+1)^(-a) + (1-c)e^(-bΔ) (see
toponets.analysis.integration_windows). --workers processes share the fits.
With --yoking-sequences M > 0, also M structure-yoking sequences (5
sentences of --sentence-length single-token words) and every unit's
sentence-yoking index (Skrill & Norman-Haignere's structure yoking).

Writes ``{"metrics": {window_c_mean, window_c_median, window_a_median,
window_b_median, window_fit_failed_fraction}, "per_layer": {layer: median c},
"per_layer_fits": {layer: {a, b, c (medians over units), failed, units}}, ...}``
(undefined values as null), plus ``yoking_median`` and ``per_layer_yoking``
(medians) with --yoking-sequences; the tidy per-unit table (--units: layer,
unit, row, col, a, b, c, yoking; NaN where the fit failed or yoking was not
measured) and the per-layer median window (--curves: layer, delta, theta).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from ..analysis.integration_windows import (
    CONTEXT_SENTENCES,
    SENTENCE_LENGTH,
    TAPS,
    WINDOW,
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
    p.add_argument("--n-sequences", type=eval_args.positive_int, required=True, help="natural sequences to swap in")
    p.add_argument("--length", type=eval_args.positive_int, default=40, help="words per sequence")
    p.add_argument("--window", type=eval_args.positive_int, default=WINDOW, help="largest lag Δ, in words")
    p.add_argument("--seed", type=int, default=0, help="seed of the sequence choice and the swaps")
    p.add_argument("--batch-size", type=eval_args.positive_int, default=4,
                   help="sequences per forward pass, each with its length + 1 variants")
    p.add_argument("--tap", choices=TAPS, default="pre", help="c_fc output before (pre) or after (post) the GELU")
    p.add_argument("--workers", type=eval_args.positive_int, default=1, help="processes for the curve fits")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--yoking-sequences", type=int, default=0,
                   help="structure-yoking sequences for the sentence-yoking index (0: not measured)")
    p.add_argument("--sentence-length", type=eval_args.positive_int, default=SENTENCE_LENGTH,
                   help="words per sentence of the yoking sequences")
    p.add_argument("--out", required=True, help="JSON report to write")
    p.add_argument("--units", required=True, help="CSV of per-unit fits to write")
    p.add_argument("--curves", required=True, help="CSV of per-layer median windows to write")
    return p


def median(values: np.ndarray) -> float:
    return float(np.nanmedian(values)) if not np.isnan(values).all() else float("nan")


def yoking_indices(args, model, layers, corpus, lexicon, context: int, device) -> dict[str, np.ndarray]:
    """{layer: (units,) sentence-yoking index} over --yoking-sequences yoking sequences; {} when 0."""
    if args.yoking_sequences <= 0:
        return {}
    words = (2 * CONTEXT_SENTENCES + 1) * args.sentence_length  # single-token words: as many tokens
    if words > context:
        raise SystemExit(f"yoking sequences of {words} words do not fit the context of "
                         f"{context} tokens; lower --sentence-length")
    stimuli = yoking_stimuli(corpus, lexicon, args.yoking_sequences, args.sentence_length, seed=args.seed)
    differences = swap_differences(model, layers, stimuli, lexicon, device, args.batch_size, args.tap)
    return {name: yoking_index(d, args.sentence_length) for name, d in differences.items()}


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    if args.length < args.window + 3:
        p.error(f"--window {args.window} needs --length of at least {args.window + 3} words "
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
        stimuli = swap_stimuli(corpus, lexicon, args.n_sequences, args.length, args.seed, max_tokens=context)
    except ValueError as err:
        raise SystemExit(f"{err} (the context of {args.checkpoint} is {context} tokens)") from err
    differences = swap_differences(model, layers, stimuli, lexicon, device, args.batch_size, args.tap)
    results = layer_windows(differences, args.window, args.workers)
    yoking = yoking_indices(args, model, layers, corpus, lexicon, context, device)

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
            "yoking_sequences": args.yoking_sequences, "sentence_length": args.sentence_length} if yoking else {}),
        "n_sequences": len(stimuli),
        "length": args.length,
        "window": args.window,
        "seed": args.seed,
        "tap": args.tap,
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
