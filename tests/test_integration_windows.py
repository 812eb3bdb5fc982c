"""Temporal integration windows (METHODS §5): Brown reading, swap stimuli, word responses,
windows, fits, the CLI on a tiny NanoGPT, and Figures 5B/8 from hand-made tables."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_checkpoint
from toponets.analysis.integration_windows import (
    FIT_LOWER,
    FIT_UPPER,
    LayerWindows,
    SwapSet,
    encode_words,
    fit_window,
    fit_windows,
    integration_windows,
    swap_differences,
    swap_stimuli,
    window_model,
    word_batch,
    yoking_index,
    yoking_stimuli,
)
from toponets.checkpoints import save_checkpoint
from toponets.cli import integration_windows as cli
from toponets.data.brown import OTHER, BrownCorpus, is_proper_noun, pool_tags, read_brown, token_words
from toponets.data.tokenizer import gpt2_tokenizer
from toponets.figures import fig5b
from toponets.models import build, topographic_layers

GPT2_DIR = "/work/shared/data/tokenizer/gpt2"
DELTA = np.arange(21.0)


# ---------------------------------------------------------------- Brown corpus


def test_token_words_and_proper_noun_tags():
    assert token_words("Term-end") == ("term", "end")
    assert token_words("``") == () and token_words(".") == ()
    assert token_words("don't") == ("dont",)
    assert token_words("1961") == ("1961",)  # kept as a word, so that its sentence is dropped
    for tag in ("NP", "NP-TL", "NP$", "NPS", "NPS$-TL", "FW-NP", "NP+BEZ", "NNP"):
        assert is_proper_noun(tag), tag
    for tag in ("NN", "NN-TL", "NNS", "PPS", "IN", "PP$", "VBD"):
        assert not is_proper_noun(tag), tag


def test_pool_tags_moves_tags_of_few_words_to_other():
    pooled = pool_tags({"NN": {"a", "b", "c", "d", "e"}, "UH": {"oh", "ah"}, "RP": {"up"}}, minimum=5)
    assert pooled == {"NN": ("a", "b", "c", "d", "e"), OTHER: ("ah", "oh", "up")}


def write_brown(path, files: dict[str, str]):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("brown/README", "not a text file")
        for name, text in files.items():
            archive.writestr(f"brown/{name}", text)
    return path


def test_read_brown_keeps_clean_sentences_in_runs(tmp_path):
    five_nouns = " ".join(f"{w}/nn" for w in ("cat", "dog", "cow", "hen", "pig"))
    zip_path = write_brown(tmp_path / "brown.zip", {
        "ca01": (
            "\n\n\tThe/at cat/nn sat/vbd ./.\n\n"              # kept
            "\tA/at dog/nn ran/vbd ,/, fast/rb ./.\n\n"        # kept: punctuation removed
            "\tFulton/np-tl voted/vbd ./.\n\n"                 # dropped: proper noun
            "\tHe/pps saw/vbd 3/cd cows/nns ./.\n\n"           # dropped: not alphabetic
            "\tThe/at well-known/jj hen/nn ``/`` oh/uh ''/'' ./.\n"  # kept: hyphen splits, quotes removed
        ),
        "cb01": f"\tA/at pig/nn sat/vbd ./.\n\t{five_nouns} ./.\n",
    })
    corpus = read_brown(zip_path)
    assert (corpus.sentences, corpus.kept) == (7, 5)
    words = [[w for w, _ in run] for run in corpus.runs]
    assert words == [
        ["the", "cat", "sat", "a", "dog", "ran", "fast"],
        ["the", "well", "known", "hen", "oh"],
        ["a", "pig", "sat", "cat", "dog", "cow", "hen", "pig"],
    ]
    assert corpus.runs[0][1] == ("cat", "NN") and corpus.runs[1][4] == ("oh", OTHER)  # UH has 1 word: pooled
    assert set(corpus.tag_words) == {"NN", OTHER} and "fulton" not in corpus.tag_words[OTHER]
    assert corpus.natural_sequences(3) == [corpus.runs[0][0:3], corpus.runs[0][3:6], corpus.runs[1][0:3],
                                           corpus.runs[2][0:3], corpus.runs[2][3:6]]


def test_read_brown_on_the_mirror(mirror):
    corpus = read_brown(mirror / "text" / "brown.zip", ["brown/ca01", "brown/ca02"])
    assert (corpus.sentences, corpus.kept) == (196, 54)
    for run in corpus.runs:
        for word, tag in run:
            assert word.isalpha() and word.islower() and word in corpus.tag_words[tag]
    # ca01's first 3 sentences name Fulton County and Atlanta; its 4th starts the text ("was/bedz": BEDZ has
    # only 1 word in these 2 files, so it is pooled into OTHER)
    assert corpus.runs[0][:9] == [("only", "RB"), ("a", "AT"), ("relative", "JJ"), ("handful", "NN"), ("of", "IN"),
                                  ("such", "JJ"), ("reports", "NNS"), ("was", OTHER), ("received", "VBN")]


def test_read_brown_names_a_missing_file(tmp_path):
    with pytest.raises(Exception, match="brown.zip"):
        read_brown(tmp_path / "brown.zip")


# ---------------------------------------------------------------- swap stimuli

TAG_WORDS = {
    "AT": ("a", "an", "the", "this", "that"),
    "NN": ("cat", "dog", "cow", "hen", "elephant", "hippopotamus"),
    "VBD": ("sat", "ran", "ate", "saw", "flew"),
    OTHER: ("oh",),
}
LEXICON = {word: (i,) for i, word in enumerate(w for words in TAG_WORDS.values() for w in words)}
LEXICON["hippopotamus"] = (90, 91, 92)  # the only multi-token word
SENTENCE = [("the", "AT"), ("hippopotamus", "NN"), ("ate", "VBD"), ("oh", OTHER)]
CORPUS = BrownCorpus(runs=[SENTENCE * 5], tag_words=TAG_WORDS, sentences=5, kept=5)


def test_swaps_are_single_token_words_of_the_same_tag_that_differ():
    stimuli = swap_stimuli(CORPUS, LEXICON, n=3, length=4, seed=0)
    assert len(stimuli) == 3
    for swap_set in stimuli:
        assert swap_set.words == ("the", "hippopotamus", "ate", "oh")
        for (word, tag), new in zip(SENTENCE, swap_set.swaps):
            assert new != word and len(LEXICON[new]) == 1
            if tag != OTHER:  # OTHER has no word but "oh": any single-token word
                assert new in TAG_WORDS[tag]
        variants = swap_set.variants()
        assert variants[0] == swap_set.words and variants[2] == ("the", swap_set.swaps[1], "ate", "oh")


def test_swap_stimuli_are_seeded():
    draw = lambda seed: swap_stimuli(CORPUS, LEXICON, n=5, length=4, seed=seed)  # noqa: E731
    assert draw(3) == draw(3)
    assert any(draw(3) != draw(seed) for seed in range(4, 8))


def test_swap_stimuli_skip_sequences_longer_than_the_context():
    runs = [[("the", "AT"), ("cat", "NN")], [("the", "AT"), ("hippopotamus", "NN")]]
    corpus = BrownCorpus(runs=runs, tag_words=TAG_WORDS, sentences=2, kept=2)
    assert [s.words for s in swap_stimuli(corpus, LEXICON, n=1, length=2, max_tokens=3)] == [("the", "cat")]
    with pytest.raises(ValueError, match="at most 3 tokens"):
        swap_stimuli(corpus, LEXICON, n=2, length=2, max_tokens=3)


# ---------------------------------------------------------------- responses

VOCAB = 40
WORD_IDS = {f"w{i}": tuple(range(3 * i, 3 * i + 1 + i % 3)) for i in range(12)}  # 1 to 3 tokens per word
TINY = {
    "nanogpt": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 64, "vocab_size": VOCAB},
    "gpt_neo": {"vocab_size": VOCAB, "max_position_embeddings": 64, "hidden_size": 16, "num_layers": 2,
                "num_heads": 2, "window_size": 8},
}


GELU = {"nanogpt": "none", "gpt_neo": "tanh"}  # nn.GELU() and GPT-Neo's gelu_new


def direct_word_responses(model, layer, words, gelu: str | None) -> torch.Tensor:
    """(L, units): one sequence alone, c_fc token outputs (then `gelu`) averaged over each word's tokens by hand."""
    ids = [i for word in words for i in WORD_IDS[word]]
    seen = {}
    handle = model.get_submodule(layer).register_forward_hook(lambda m, a, out: seen.update(out=out[0]))
    with torch.no_grad():
        model(torch.tensor([ids]))
    handle.remove()
    out = seen["out"]
    if gelu is not None:
        out = F.gelu(out, approximate=gelu)
    means, start = [], 0
    for word in words:
        means.append(out[start : start + len(WORD_IDS[word])].mean(dim=0))
        start += len(WORD_IDS[word])
    return torch.stack(means)


@pytest.mark.parametrize("family", ["nanogpt", "gpt_neo"])
@pytest.mark.parametrize("tap", ["pre", "post"])
def test_swap_differences_equal_one_sequence_at_a_time(family, tap):
    torch.manual_seed(0)
    model = build(family, **TINY[family]).eval()
    layers = topographic_layers(model, family)
    rng = np.random.default_rng(0)
    stimuli = [
        SwapSet(tuple(f"w{i}" for i in rng.integers(0, 12, 6)), tuple(f"w{i}" for i in rng.integers(0, 12, 6)))
        for _ in range(3)
    ]
    got = swap_differences(model, layers, stimuli, WORD_IDS, batch_size=2, tap=tap)
    for layer in layers:
        expected = np.zeros((6, 6, 64))
        for swap_set in stimuli:
            original, *swapped = [direct_word_responses(model, layer, v, GELU[family] if tap == "post" else None) for v in swap_set.variants()]
            expected += np.stack([(s - original).abs().numpy() for s in swapped])
        np.testing.assert_allclose(got[layer], expected / 3, atol=1e-5)
        assert np.allclose(np.tril(got[layer][:, :, 0], k=-1), 0)  # causal: a later swap changes nothing before it


def test_word_batch_pads_right_and_averages_within_words():
    tokens, average = word_batch([("w0", "w2"), ("w1", "w0")], WORD_IDS)
    assert tokens.tolist() == [[0, 6, 7, 8], [3, 4, 0, 0]]
    np.testing.assert_allclose(average[0], [[1, 0, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(average[1], [[0.5, 0.5, 0, 0], [0, 0, 1, 0]])


# ---------------------------------------------------------------- windows and fits


def test_window_of_a_separable_difference_matrix():
    """D[s, t] = f(t - s)·g(t) below the diagonal: θ[Δ] = f(Δ) / f(0), whatever g."""
    length, units = 30, 4
    rng = np.random.default_rng(0)
    f = np.exp(-np.arange(length)[:, None] * rng.uniform(0.1, 1.0, units)) + 0.1  # (lag, units)
    g = rng.uniform(0.5, 2.0, (length, units))
    s, t = np.meshgrid(np.arange(length), np.arange(length), indexing="ij")
    lag = np.clip(t - s, 0, None)
    d = np.where((s <= t)[..., None], f[lag] * g[t], 0.0)
    np.testing.assert_allclose(integration_windows(d, window=20), f[:21] / f[:1], rtol=1e-12)


def reference_window(d: np.ndarray, window: int) -> np.ndarray:
    """METHODS §5.3 steps 1-4 literally, one unit: normalise by the median diagonal, columns, divide, median."""
    d = d / np.median(np.diag(d))
    columns = [d[t - np.arange(window + 1), t] for t in range(d.shape[1]) if t - window > 1]
    return np.median([c / c[0] for c in columns], axis=0)


def test_window_matches_the_literal_steps():
    d = np.random.default_rng(1).uniform(0.1, 1.0, (26, 26, 5))
    theta = integration_windows(d, window=20)
    assert theta.shape == (21, 5)
    for u in range(5):
        np.testing.assert_allclose(theta[:, u], reference_window(d[:, :, u], 20), rtol=1e-12)


def test_window_is_undefined_without_response_and_needs_long_sequences():
    d = np.ones((25, 25, 2))
    d[:, :, 1] = 0.0
    theta = integration_windows(d, window=20)
    assert np.allclose(theta[:, 0], 1.0) and np.isnan(theta[:, 1]).all()
    with pytest.raises(ValueError, match="at least 23 words"):
        integration_windows(np.ones((22, 22)), window=20)


@pytest.mark.parametrize("params", [(0.5, 2.0, 0.3), (1.5, 0.3, 0.7), (2.0, 5.0, 0.5), (0.8, 0.5, 0.5), (3.0, 1.0, 0.2)])
def test_fit_recovers_noiseless_windows(params):
    assert window_model(DELTA, *params)[0] == pytest.approx(1.0)
    np.testing.assert_allclose(fit_window(window_model(DELTA, *params)), params, atol=1e-4)


@pytest.mark.parametrize("params", [(0.5, 2.0, 0.3), (1.5, 0.3, 0.7), (0.8, 0.5, 0.5)])
def test_fit_recovers_mildly_noisy_windows(params):
    noisy = window_model(DELTA, *params) + np.random.default_rng(0).normal(0, 0.005, DELTA.size)
    np.testing.assert_allclose(fit_window(noisy), params, rtol=0.25)


def test_fits_stay_in_bounds_and_failures_are_nan():
    steep = window_model(DELTA, 0.5, 25.0, 0.3)  # b beyond its bound of 10
    noise = np.random.default_rng(2).normal(0, 1, (21, 6))
    thetas = np.column_stack([steep, noise, np.full(21, np.nan)])
    params = fit_windows(thetas)
    assert params.shape == (8, 3)
    assert np.isnan(params[-1]).all() and np.isfinite(params[:-1]).all()
    assert (params[:-1] >= FIT_LOWER).all() and (params[:-1] <= FIT_UPPER).all()
    assert params[0, 1] == pytest.approx(10.0, abs=1e-3) and params[0, 2] == pytest.approx(0.3, abs=1e-3)
    assert LayerWindows(theta=thetas, params=params).failed == 1


def test_fits_in_worker_processes_equal_serial_fits():
    thetas = np.column_stack([window_model(DELTA, a, 1.0, 0.4) for a in np.linspace(0.2, 3.0, 8)])
    np.testing.assert_array_equal(fit_windows(thetas, workers=2), fit_windows(thetas))


# ---------------------------------------------------------------- structure yoking


def reference_yoking(d: np.ndarray, sentence_length: int, sentences: int) -> np.ndarray:
    """The yoking index written out loop by loop from the description of [TI] plots.yoking_plots: per unit,
    first differences along the swap position averaged over sentence_length - 1 lags, over the diagonal's
    median, read at each sentence's first word after the first sentence and averaged."""
    length, units = d.shape[0], d.shape[2]
    lags = sentence_length - 1
    fdiff = np.full((length, units), np.nan)
    for u in range(units):
        scale = np.median(np.diag(d[:, :, u]))
        for j in range(length - lags - 1):
            fdiff[j + 1, u] = np.mean(d[j + 1, j + 1 : j + 1 + lags, u] - d[j, j : j + lags, u]) / scale
    onsets = [q * sentence_length for q in range(1, sentences)]
    return np.nanmean(fdiff[onsets], axis=0)


def test_figure_5b_yoking_index_of_position_and_structure_yoked_windows():
    """Figure 5B's "sentence-yoked coefficients" (paper §3.4, A.7; Skrill & Norman-Haignere 2024): 0 for a
    window that depends on the lag alone; 8/11 when a swap moves only the words of its own sentence (D = 1
    there, 0.2 across a boundary): at a sentence onset, lags 1..10 gain 0.8, lag 0 nothing."""
    length, sl = 60, 12
    s, t = np.meshgrid(np.arange(length), np.arange(length), indexing="ij")
    position = np.where(t >= s, np.exp(-(t - s) / 4.0), 0.0)[:, :, None]
    np.testing.assert_allclose(yoking_index(position, sl), [0.0], atol=1e-12)
    same_sentence = (s // sl) == (t // sl)
    structure = np.where(t >= s, np.where(same_sentence, 1.0, 0.2), 0.0)[:, :, None]
    np.testing.assert_allclose(yoking_index(structure, sl), [8 / 11])
    d = np.random.default_rng(0).random((length, length, 5))
    np.testing.assert_allclose(yoking_index(d, sl), reference_yoking(d, sl, 5))
    with pytest.raises(ValueError, match="sentences of 12 words"):
        yoking_index(d[:50, :50], sl)


def test_figure_5b_yoking_sentences_are_the_reference_demos(mirror):
    """[TI] demo.ipynb lists the first 12-word sentences of its preprocessed Brown corpus; ours are the same."""
    corpus = read_brown(mirror / "text" / "brown.zip", files=[f"brown/ca0{i}" for i in range(1, 7)])
    first = [" ".join(w for w, _ in s) for s in corpus.sentences_of_length(12)[:2]]
    assert first == ["under committee rules it went automatically to a subcommittee for one week",
                     "nothing has been done yet to take advantage of the enabling legislation"]


def test_figure_5b_yoking_stimuli_are_five_whole_single_token_sentences(mirror):
    corpus = read_brown(mirror / "text" / "brown.zip", files=["brown/ca01", "brown/ca02", "brown/cb01"])
    lexicon = encode_words(gpt2_tokenizer(GPT2_DIR), [w for words in corpus.tag_words.values() for w in words])
    sentences = {tuple(w for w, _ in s) for s in corpus.sentences_of_length(6)}
    stimuli = yoking_stimuli(corpus, lexicon, 3, sentence_length=6, seed=1)
    assert len(stimuli) == 3
    for swap_set in stimuli:
        assert len(swap_set.words) == 30 and all(len(lexicon[w]) == 1 for w in swap_set.words)
        assert all(swap_set.words[i : i + 6] in sentences for i in range(0, 30, 6))
        assert all(new != old for new, old in zip(swap_set.swaps, swap_set.words))
    assert stimuli == yoking_stimuli(corpus, lexicon, 3, sentence_length=6, seed=1)  # seeded
    with pytest.raises(ValueError, match="no sentence of 99"):
        yoking_stimuli(corpus, lexicon, 1, sentence_length=99)


# ---------------------------------------------------------------- CLI


def settings(**values) -> str:
    """--settings of the integration windows."""
    return json.dumps({"integration_windows": values})


def test_cli_on_a_tiny_nanogpt(mirror, tmp_path):
    options = {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 32, "vocab_size": 50257}
    torch.manual_seed(0)
    model = build("nanogpt", **options)
    layers = topographic_layers(model, "nanogpt")
    checkpoint = tmp_path / "lm.safetensors"
    save_checkpoint(checkpoint, model, "nanogpt", options, topographic_layers=layers, factor=3.0, tau=1.0, step=0,
                    config={"name": "tiny", "tau": 1.0, "seed": 0})
    out, units, curves = tmp_path / "w.json", tmp_path / "units.csv", tmp_path / "curves.csv"
    cli.main([
        "--checkpoint", str(checkpoint), "--brown", str(mirror / "text" / "brown.zip"), "--tokenizer", GPT2_DIR,
        "--settings", settings(n_sequences=3, length=23, batch_size=2, yoking_sequences=0), "--device", "cpu",
        "--out", str(out), "--units", str(units), "--curves", str(curves),
    ])
    report = json.loads(out.read_text())
    assert set(report["metrics"]) == {"window_c_mean", "window_a_median", "window_b_median", "window_c_median",
                                      "window_fit_failed_fraction"}
    assert list(report["per_layer"]) == layers and report["n_sequences"] == 3 and report["context_tokens"] == 32
    table = pd.read_csv(units)
    assert list(table.columns) == ["model", "tau", "seed", "layer", "unit", "row", "col", "a", "b", "c", "yoking"] and len(table) == 2 * 64
    assert table.yoking.isna().all()  # not measured without --yoking-sequences
    first = table[table.layer == layers[0]]
    assert (first.row == first.unit // 8).all() and (first.col == first.unit % 8).all()  # 64 units: 8 x 8 sheet
    assert table[["a", "b", "c"]].dropna().apply(lambda col: col.between(0, 10)).all().all()
    assert report["per_layer_fits"][layers[0]]["c"] == pytest.approx(first.c.median(), nan_ok=True)
    windows = pd.read_csv(curves)
    assert list(windows.columns) == ["model", "tau", "seed", "layer", "delta", "theta"] and len(windows) == 2 * 21

    cli.main([
        "--checkpoint", str(checkpoint), "--brown", str(mirror / "text" / "brown.zip"), "--tokenizer", GPT2_DIR,
        "--settings", settings(n_sequences=2, length=23, batch_size=2, yoking_sequences=2, sentence_length=6),
        "--device", "cpu",
        "--out", str(out), "--units", str(units), "--curves", str(curves),
    ])
    report, table = json.loads(out.read_text()), pd.read_csv(units)
    assert table.yoking.notna().all() and list(report["per_layer_yoking"]) == layers
    assert report["metrics"]["yoking_median"] == pytest.approx(table.yoking.median())
    with pytest.raises(SystemExit, match="do not fit the context of 32"):
        cli.main(["--checkpoint", str(checkpoint), "--brown", str(mirror / "text" / "brown.zip"), "--tokenizer",
                  GPT2_DIR, "--settings", settings(n_sequences=2, length=23, yoking_sequences=1), "--device", "cpu",
                  "--out", str(out), "--units", str(units), "--curves", str(curves)])
    assert (windows[windows.delta == 0].theta == 1.0).all()


def test_cli_rejects_short_sequences_and_vision_checkpoints(tmp_path):
    common = ["--brown", "b.zip", "--tokenizer", "t", "--out", "o", "--units", "u", "--curves", "c"]
    with pytest.raises(SystemExit):
        cli.main(["--checkpoint", "x.safetensors", "--settings", settings(n_sequences=2, length=22), *common])
    with pytest.raises(SystemExit):  # a key the section does not have
        cli.main(["--checkpoint", "x.safetensors", "--settings", settings(n_sequence=2), *common])
    tiny_checkpoint(tmp_path / "r.safetensors")
    with pytest.raises(SystemExit, match="resnet18"):
        cli.main(["--checkpoint", str(tmp_path / "r.safetensors"), "--device", "cpu", *common])


# ---------------------------------------------------------------- figures


def units_table() -> pd.DataFrame:
    """Two runs of a 3-layer model with 12 units (a 3 x 4 sheet) per layer; c rises along the sheet."""
    rows = []
    for tau in (0.0, 5.0):
        for layer in ("transformer.h.0.mlp.c_fc", "transformer.h.1.mlp.c_fc", "transformer.h.10.mlp.c_fc"):
            for unit in range(12):
                rows.append({"model": "gpt_neo", "tau": tau, "seed": 0, "layer": layer, "unit": unit,
                             "row": unit // 4, "col": unit % 4, "a": 1.0, "b": unit / 4, "c": unit / 11})
    table = pd.DataFrame(rows)
    table.loc[3, ["a", "b", "c"]] = np.nan  # a failed fit
    return table


def test_sheet_map_places_units_and_layers_sort_by_block():
    table = units_table()
    grid = fig5b.sheet_map(table[(table.tau == 5) & (table.layer == "transformer.h.0.mlp.c_fc")], "c")
    np.testing.assert_allclose(grid, np.arange(12).reshape(3, 4) / 11)
    names = ["transformer.h.10.mlp.c_fc", "transformer.h.2.mlp.c_fc"]
    assert sorted(names, key=fig5b.block_order) == names[::-1]


def test_figure_5b_draws_power_law_exponential_and_yoked_maps_for_every_layer():
    """Figure 5B (paper §3.4): "power-law (red), exponential (green), and sentence-yoked coefficients across
    layers (from left to right)": one column per layer of the TopoNet, one row per quantity."""
    table = units_table()
    figure = fig5b.draw_layers(table)
    maps = [ax for ax in figure.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(maps) == 3 * 2  # 3 layers x (c, b): no yoking measured
    assert [ax.get_title() for ax in maps[:3]] == ["block 0", "block 1", "block 10"]
    assert "gpt_neo τ=5" in maps[0].get_ylabel()  # the largest tau; the baseline is in Figure 8
    table["yoking"] = table.unit / 11 - 0.5
    figure = fig5b.draw_layers(table)
    maps = [ax for ax in figure.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(maps) == 3 * 3 and maps[6].get_ylabel().endswith("yoking")
    assert fig5b.colour_ranges(table)["yoking"] == pytest.approx((-0.5, 0.5), abs=0.01)
    figure8 = fig5b.draw_all_layers(table)  # A.7: Figure 8 shows the power-law and exponential estimates only
    assert len([ax for ax in figure8.axes if ax.images and ax.get_label() != "<colorbar>"]) == 2 * 2 * 3


def test_figures_render_from_a_units_table(tmp_path):
    table = units_table()
    fig5b.plot(table, [tmp_path / "fig5b.png"])
    fig5b.plot_all_layers(table, [tmp_path / "fig8.png", tmp_path / "fig8.pdf"])
    for name in ("fig5b.png", "fig8.png", "fig8.pdf"):
        assert (tmp_path / name).stat().st_size > 0
