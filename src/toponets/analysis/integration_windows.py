"""Temporal integration windows of language-model units by word swaps (Skrill & Norman-Haignere 2024; METHODS §5).

Stimuli: natural sequences of L words from the Brown corpus, and for each
position s a copy whose word s is replaced by a random word of the same
(pooled) part-of-speech tag that is a single GPT-2 token (with its leading
space) and differs from the original. The replacement is drawn uniformly
from the tag's single-token words other than the original, which is what the
reference's retry loop samples when it succeeds; only a tag without such a
word falls back to any single-token word. Sequences whose tokens exceed the
model's context are not drawn. Everything is seeded.

Responses: every sequence (original or swapped) is its own sequence of one
forward pass, words encoded with a leading space each (``add_prefix_space``)
and no special tokens. Several are batched with right padding, which a causal
model never attends to, so each row equals a pass of that sequence alone. A
unit's response to a word is its output averaged over the word's tokens;
`tap` "pre" (default) reads the c_fc output itself (the forward-hook output,
before the GELU; METHODS leaves pre/post open), "post" applies the MLP's GELU.

D[s, t, unit] = |response of the copy swapped at s, at word t - response of
the original at word t|, averaged over sequences; only the running sum is
kept. The window of a unit (METHODS §5.3): for t with t - window > 1, the
values D[t - Δ, t] for Δ = 0..window, divided by D[t, t], and their median
over t. (Step 1, dividing D by the median of its diagonal, cancels exactly
in this division and is therefore not carried out.) The fit of
c·(Δ+1)^(-a) + (1-c)·e^(-bΔ) uses `scipy.optimize.curve_fit` with bounds
a, b in [0, 10], c in [0, 1], start (1, 1, 0.5) and the model's analytic
Jacobian; a unit whose window is undefined or whose fit fails gets NaN.
Fits are independent, so `workers` processes share the units of a layer.

Structure yoking (the "sentence-yoked" coefficient of the paper's Figure 5B;
[TI] ``word_swap.create_yoking_sequences`` and ``plots.yoking_plots``):
sequences of 5 sentences of one length (12 words, every word a single
token), a randomly drawn sentence flanked by 2 random sentences on each side
(drawn with replacement), swapped word by word with the same-tag sampler (as
the reference's demo swaps them). With D of these stimuli and n = sentence
length - 1, a unit's first-order difference at swap position j + 1 is the
mean over lags k = 0..n-1 of D[j + 1, j + 1 + k] - D[j, j + k], divided by
the median of D's diagonal; the yoking index is its mean at the sentence
onsets 1..4 (positions 12, 24, 36, 48): how much more a swap at a sentence's
first word moves the following words than a swap one word earlier, at the
previous sentence's end. A window tied to the structure (reset at sentence
boundaries) scores above 0; one tied to position (D depending on the lag
alone) scores 0.
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import OptimizeWarning, curve_fit
from torch import nn

from ..data.brown import BrownCorpus, TaggedWord
from ..layers import layers_by_name

WINDOW = 20  # largest lag Δ, in words (the reference's 21-point window)
SENTENCE_LENGTH = 12  # words per sentence of the structure-yoking stimuli
CONTEXT_SENTENCES = 2  # random sentences on each side of the central one
FIT_LOWER = (0.0, 0.0, 0.0)  # a, b, c
FIT_UPPER = (10.0, 10.0, 1.0)
FIT_START = (1.0, 1.0, 0.5)
TAPS = ("pre", "post")
ACTIVATIONS = ("gelu", "act")  # the MLP's activation module: NanoGPT's `gelu`, GPT-Neo's `act`


# ---------------------------------------------------------------- stimuli


def encode_words(tokenizer, words: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """word -> its GPT-2 token ids with a leading space (as ``add_prefix_space=True``), no special tokens."""
    words = list(dict.fromkeys(words))
    ids = tokenizer([" " + word for word in words], add_special_tokens=False)["input_ids"]
    return {word: tuple(i) for word, i in zip(words, ids)}


@dataclass(frozen=True)
class SwapSet:
    """A natural sequence and its word swaps: copy s has `swaps[s]` in place of `words[s]`."""

    words: tuple[str, ...]
    swaps: tuple[str, ...]

    def variants(self) -> list[tuple[str, ...]]:
        """The original, then the L swapped copies in swap-position order."""
        return [self.words] + [self.words[:s] + (new,) + self.words[s + 1 :] for s, new in enumerate(self.swaps)]


class SwapSampler:
    """Same-tag replacement words that are one token and differ from the word they replace."""

    def __init__(self, tag_words: Mapping[str, Sequence[str]], lexicon: Mapping[str, tuple[int, ...]]):
        single = {word for word, ids in lexicon.items() if len(ids) == 1}
        self.by_tag = {tag: tuple(w for w in words if w in single) for tag, words in tag_words.items()}
        self.any = tuple(sorted(single))
        if len(self.any) < 2:
            raise ValueError("fewer than 2 single-token words to swap in; is the tokenizer GPT-2's?")

    def replacement(self, word: str, tag: str, rng: np.random.Generator) -> str:
        """A uniform draw among the tag's single-token words other than `word`, else among all of them."""
        pool = self.by_tag.get(tag, ())
        if len(pool) - (word in pool) < 1:
            pool = self.any
        while (pick := pool[rng.integers(len(pool))]) == word:
            pass
        return pick

    def swap_set(self, sequence: Sequence[TaggedWord], rng: np.random.Generator) -> SwapSet:
        words = tuple(word for word, _ in sequence)
        return SwapSet(words, tuple(self.replacement(word, tag, rng) for word, tag in sequence))


def swap_stimuli(
    corpus: BrownCorpus,
    lexicon: Mapping[str, tuple[int, ...]],
    n: int,
    length: int,
    seed: int = 0,
    max_tokens: int | None = None,
) -> list[SwapSet]:
    """`n` seeded-random natural sequences of `length` words (corpus order) and their swaps.

    `lexicon` (from `encode_words`) must cover the corpus vocabulary. Only
    sequences of at most `max_tokens` tokens are drawn; a swap puts one token
    in place of one or more, so the copies are never longer.
    """
    sequences = corpus.natural_sequences(length)
    if max_tokens is not None:
        sequences = [seq for seq in sequences if sum(len(lexicon[word]) for word, _ in seq) <= max_tokens]
    if not 1 <= n <= len(sequences):
        fit = f" of at most {max_tokens} tokens" if max_tokens is not None else ""
        raise ValueError(
            f"asked for {n} natural sequences of {length} words{fit}, but the corpus has {len(sequences)}; "
            "ask for fewer sequences, or fewer words per sequence"
        )
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(sequences), size=n, replace=False))
    sampler = SwapSampler(corpus.tag_words, lexicon)
    return [sampler.swap_set(sequences[i], rng) for i in chosen]


def yoking_stimuli(
    corpus: BrownCorpus,
    lexicon: Mapping[str, tuple[int, ...]],
    n: int,
    sentence_length: int = SENTENCE_LENGTH,
    context: int = CONTEXT_SENTENCES,
    seed: int = 0,
) -> list[SwapSet]:
    """`n` structure-yoking sequences: a sentence of `sentence_length` single-token words with `context` such
    sentences before and after (all drawn with replacement), and their same-tag swaps."""
    sentences = [s for s in corpus.sentences_of_length(sentence_length) if all(len(lexicon[w]) == 1 for w, _ in s)]
    if not sentences:
        raise ValueError(f"the corpus has no sentence of {sentence_length} single-token words")
    rng = np.random.default_rng(seed)
    sampler = SwapSampler(corpus.tag_words, lexicon)
    stimuli = []
    for _ in range(n):
        drawn = rng.integers(len(sentences), size=2 * context + 1)  # before..., the centre, after...
        stimuli.append(sampler.swap_set([word for i in drawn for word in sentences[i]], rng))
    return stimuli


# ---------------------------------------------------------------- responses


def word_batch(variants: Sequence[Sequence[str]], lexicon: Mapping[str, tuple[int, ...]]):
    """(ids (B, T) right-padded with 0, averaging (B, L, T)): row b's token responses -> its L word means."""
    words = [lexicon[word] for row in variants for word in row]
    counts = np.array([len(ids) for ids in words]).reshape(len(variants), -1)  # (B, L) tokens per word
    ends = counts.cumsum(axis=1)
    position = np.arange(ends[:, -1].max())
    tokens = np.zeros((len(variants), len(position)), dtype=np.int64)
    tokens[position < ends[:, -1:]] = [i for ids in words for i in ids]  # row-major: each row's ids in order
    in_word = (position >= (ends - counts)[:, :, None]) & (position < ends[:, :, None])
    return torch.from_numpy(tokens), torch.from_numpy(in_word / counts[:, :, None]).float()


class _Done(Exception):
    """Raised by the hook of the last layer read: the rest of the forward pass is not needed."""


def _activation(model: nn.Module, layer: str) -> nn.Module:
    """The activation module of the MLP that holds `layer` (its GELU)."""
    parent = model.get_submodule(layer.rpartition(".")[0])
    for name in ACTIVATIONS:
        if isinstance(getattr(parent, name, None), nn.Module):
            return getattr(parent, name)
    raise ValueError(f"the module holding '{layer}' has no activation module {ACTIVATIONS}; use tap 'pre'")


@contextmanager
def word_recording(model: nn.Module, layers: Sequence[str], tap: str = "pre"):
    """Hook `layers`; yields (responses, set_average): after a pass, responses[layer] is (B, L, units).

    `set_average(average)` sets the (B, L, T) token-to-word averaging of the
    next pass. The pass stops after the last of `layers` (`_Done`); use `run`.
    """
    if tap not in TAPS:
        raise ValueError(f"unknown tap '{tap}'; choose one of {TAPS}")
    modules = layers_by_name(model, layers, "recording word responses")
    activations = {name: _activation(model, name) for name in layers} if tap == "post" else {}
    responses: dict[str, torch.Tensor] = {}
    state: dict[str, torch.Tensor] = {}
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    last = max(layers, key=order.__getitem__)

    def hook_for(name: str):
        def hook(module, args, output):
            if name in activations:
                output = activations[name](output)
            responses[name] = torch.bmm(state["average"], output.float())
            if name == last:
                raise _Done

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in zip(layers, modules)]
    try:
        yield responses, lambda average: state.update(average=average)
    finally:
        for handle in handles:
            handle.remove()


def run(model: nn.Module, tokens: torch.Tensor) -> None:
    """One forward pass of `tokens` under `word_recording`, ending at its last layer."""
    try:
        model(tokens)
    except _Done:
        return
    raise RuntimeError("the recorded layers produced no output in the forward pass")


def swap_differences(
    model: nn.Module,
    layers: Sequence[str],
    stimuli: Sequence[SwapSet],
    lexicon: Mapping[str, tuple[int, ...]],
    device: str | torch.device = "cpu",
    batch_size: int = 1,
    tap: str = "pre",
) -> dict[str, np.ndarray]:
    """{layer: D (L, L, units)}: |swapped at s - original| at word t, averaged over the sequences.

    `batch_size` sequences (each with its L + 1 variants) share a forward
    pass; only the float64 running sum of D stays in memory.
    """
    if not stimuli:
        raise ValueError("no stimuli: give at least one natural sequence")
    device = torch.device(device)
    layers = list(layers)
    length = len(stimuli[0].words)
    sums: dict[str, torch.Tensor] = {}
    was_training = model.training
    model.to(device).eval()
    try:
        with word_recording(model, layers, tap) as (responses, set_average), torch.no_grad():
            for first in range(0, len(stimuli), batch_size):
                group = stimuli[first : first + batch_size]
                tokens, average = word_batch([v for swap_set in group for v in swap_set.variants()], lexicon)
                set_average(average.to(device))
                run(model, tokens.to(device))
                for name in layers:
                    variants = responses[name].view(len(group), length + 1, length, -1)
                    diff = (variants[:, 1:] - variants[:, :1]).abs().sum(dim=0).double()
                    sums[name] = diff if name not in sums else sums[name] + diff
    finally:
        model.train(was_training)
    return {name: (total / len(stimuli)).cpu().numpy() for name, total in sums.items()}


# ---------------------------------------------------------------- windows and fits


def integration_windows(differences: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """(window + 1, ...) normalised windows θ[Δ] of D (swap position, word position, ...units).

    Columns t with t - window > 1 give D[t - Δ, t] / D[t, t]; θ is their
    median over t (NaN where a column is undefined, e.g. D[t, t] = 0).
    """
    d = np.asarray(differences, dtype=np.float64)
    length = d.shape[0]
    if d.ndim < 2 or d.shape[1] != length:
        raise ValueError(f"expected D of shape (L, L, ...), got {d.shape}")
    if length < window + 3:
        raise ValueError(f"a window of {window} words needs sequences of at least {window + 3} words, got {length}")
    t = np.arange(window + 2, length)
    lags = np.arange(window + 1)
    band = d[t[None, :] - lags[:, None], t[None, :]]  # (window + 1, columns, ...)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.median(band / band[:1], axis=1)


def yoking_index(differences: np.ndarray, sentence_length: int = SENTENCE_LENGTH) -> np.ndarray:
    """(...units) structure-yoking index of D (swap position, word position, ...units) of yoking stimuli.

    See the module doc: the lag-averaged first-order difference of D along the
    swap position, over the median of D's diagonal, averaged over the sentence
    onsets after the first sentence. NaN where the diagonal's median is 0.
    """
    d = np.asarray(differences, dtype=np.float64)
    length, lags = d.shape[0], sentence_length - 1
    if d.ndim < 2 or d.shape[1] != length:
        raise ValueError(f"expected D of shape (L, L, ...), got {d.shape}")
    if length % sentence_length or length < 2 * sentence_length or lags < 1:
        raise ValueError(f"D of {length} words is not 2 or more sentences of {sentence_length} words")
    onsets = np.arange(sentence_length, length - sentence_length + 1, sentence_length)  # 12, 24, 36, 48
    k = np.arange(lags)
    at, before = onsets[:, None], onsets[:, None] - 1
    jump = d[at, at + k] - d[before, before + k]  # (onsets, lags, ...)
    scale = np.median(d[np.arange(length), np.arange(length)], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, jump.mean(axis=(0, 1)) / scale, np.nan)


def window_model(delta: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """c·(Δ+1)^(-a) + (1-c)·e^(-bΔ): power law weighted by c, exponential by 1 - c; 1 at Δ = 0."""
    return c * (delta + 1.0) ** (-a) + (1.0 - c) * np.exp(-b * delta)


def _window_jacobian(delta: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    power, decay = (delta + 1.0) ** (-a), np.exp(-b * delta)
    return np.stack([-c * np.log(delta + 1.0) * power, -(1.0 - c) * delta * decay, power - decay], axis=1)


def fit_window(theta: np.ndarray) -> np.ndarray:
    """(a, b, c) of one window θ[0..window]; NaNs when θ is not finite or the fit fails."""
    theta = np.asarray(theta, dtype=np.float64)
    if not np.isfinite(theta).all():
        return np.full(3, np.nan)
    delta = np.arange(len(theta), dtype=np.float64)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # covariance not estimable: irrelevant here
            params, _ = curve_fit(
                window_model, delta, theta, p0=FIT_START, bounds=(FIT_LOWER, FIT_UPPER), jac=_window_jacobian
            )
    except (RuntimeError, ValueError):  # no convergence within max_nfev, or a non-finite step
        return np.full(3, np.nan)
    return params


def _fit_columns(thetas: np.ndarray) -> np.ndarray:
    return np.stack([fit_window(thetas[:, k]) for k in range(thetas.shape[1])]) if thetas.shape[1] else np.empty((0, 3))


def fit_windows(thetas: np.ndarray, workers: int = 1) -> np.ndarray:
    """(units, 3) a, b, c of each column of `thetas` (window + 1, units); NaN rows where the fit failed."""
    thetas = np.asarray(thetas, dtype=np.float64)
    if thetas.ndim != 2:
        raise ValueError(f"expected windows of shape (window + 1, units), got {thetas.shape}")
    if workers <= 1 or thetas.shape[1] < 2 * workers:
        return _fit_columns(thetas)
    chunks = np.array_split(thetas, 4 * workers, axis=1)
    context = multiprocessing.get_context("forkserver")  # no fork of a process that may hold CUDA or OpenMP state
    context.set_forkserver_preload([__name__])  # workers fork from a server that imported this module once
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return np.concatenate(list(pool.map(_fit_columns, chunks)))


@dataclass(frozen=True)
class LayerWindows:
    """One layer's normalised windows and fitted parameters."""

    theta: np.ndarray  # (window + 1, units)
    params: np.ndarray  # (units, 3): a, b, c; NaN where the fit failed

    @property
    def failed(self) -> int:
        return int(np.isnan(self.params).any(axis=1).sum())


def layer_windows(differences: Mapping[str, np.ndarray], window: int = WINDOW, workers: int = 1) -> dict[str, LayerWindows]:
    """Windows and fits of every layer's D."""
    results = {}
    for name, d in differences.items():
        theta = integration_windows(d, window)
        results[name] = LayerWindows(theta=theta, params=fit_windows(theta, workers))
    return results
