"""Evaluations of language checkpoints: token windows, validation loss, and the smoothness,
dimensionality, pruning, downsampling and loss CLIs on tiny NanoGPT and GPT-Neo checkpoints."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_checkpoint, tiny_image_folder
from test_text import DOCUMENTS, SHARD_OPTIONS, ByteTokenizer
from toponets.analysis.dimensionality import model_effective_dim
from toponets.analysis.downsampling import downsample_model, parameter_count
from toponets.analysis.language import (
    lm_loss,
    loss_metric,
    text_batches,
    token_windows,
    window_starts,
)
from toponets.analysis.smoothness import model_smoothness
from toponets.checkpoints import load_checkpoint, save_checkpoint
from toponets.cli import dimensionality, downsampling, lm_loss as lm_loss_cli, pruning, smoothness
from toponets.data.text import TokenShards, write_token_shards
from toponets.models import build, topographic_layers
from toponets.tables import metrics_table

VOCAB = 257  # ByteTokenizer: 256 bytes and eos
OPTIONS = {
    "nanogpt": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 32, "vocab_size": VOCAB},
    "gpt_neo": {
        "vocab_size": VOCAB,
        "max_position_embeddings": 32,
        "hidden_size": 16,
        "num_layers": 2,
        "num_heads": 2,
        "window_size": 8,
    },
}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    """Byte-token shards of about 13k train and 3k val tokens, in shards of 1,000 (windows cross them)."""
    out = tmp_path_factory.mktemp("text") / "tokens"
    write_token_shards(DOCUMENTS, ByteTokenizer(), out, **SHARD_OPTIONS)
    return out


def lm_checkpoint(path, family: str = "nanogpt"):
    """Save an untrained tiny `family` model at `path`; return it and its topographic layers."""
    torch.manual_seed(0)
    model = build(family, **OPTIONS[family])
    layers = topographic_layers(model, family)
    save_checkpoint(path, model, family, OPTIONS[family], topographic_layers=layers, factor=3.0, tau=1.0, step=0,
                    config={"name": "tiny", "tau": 1.0, "seed": 0})
    return model.eval(), layers


def common(checkpoint, data_flag, data, out) -> list[str]:
    return ["--checkpoint", str(checkpoint), data_flag, str(data), "--device", "cpu", "--out", str(out)]


def settings(**sections) -> list[str]:
    """--settings of these sections, their windows 16 tokens long unless told."""
    windows = ("smoothness", "dimensionality", "lm_loss")
    return ["--settings", json.dumps({name: {**({"length": 16} if name in windows else {}), **values}
                                      for name, values in sections.items()})]


def test_window_starts_are_seeded_disjoint_and_in_bounds():
    starts = window_starts(1000, 7, 30, seed=0)
    assert (starts % 30 == 0).all() and (np.diff(starts) > 0).all() and starts.max() + 30 <= 1000
    np.testing.assert_array_equal(starts, window_starts(1000, 7, 30, seed=0))
    assert not np.array_equal(starts, window_starts(1000, 7, 30, seed=1))
    np.testing.assert_array_equal(window_starts(100, None, 30), [0, 30, 60])
    with pytest.raises(ValueError, match="room for 3"):
        window_starts(100, 4, 30)


def test_token_windows_read_the_split_and_batch_in_order(tokens):
    shards = TokenShards(tokens, "train")
    windows = token_windows(shards, 10, 50)
    assert windows.dtype == torch.int64 and windows.shape == (10, 50)
    assert 0 <= windows.min() and windows.max() < VOCAB
    for row, start in zip(windows, window_starts(len(shards), 10, 50)):
        np.testing.assert_array_equal(row.numpy(), shards.window(int(start), 50))
    assert torch.equal(windows, token_windows(TokenShards(tokens, "train"), 10, 50))
    batches = text_batches(windows, 4)
    assert [len(b) for b in batches] == [4, 4, 2] and torch.equal(torch.cat(list(batches)), windows)


@pytest.mark.parametrize("family", ["nanogpt", "gpt_neo"])
def test_zeroed_head_predicts_uniformly(tokens, family):
    model = build(family, **OPTIONS[family])
    with torch.no_grad():
        model.lm_head.weight.zero_()  # all logits 0: every token has probability 1 / vocab
    result = lm_loss(model, TokenShards(tokens, "val"), 5, 16, 2, "cpu")
    assert result.val_loss == pytest.approx(math.log(VOCAB), rel=1e-6)
    assert result.perplexity == pytest.approx(VOCAB, rel=1e-5)
    assert (result.n_windows, result.length) == (5, 16)


def test_loss_is_the_cross_entropy_of_each_windows_next_tokens(tokens):
    model = build("nanogpt", **OPTIONS["nanogpt"]).train()
    val = TokenShards(tokens, "val")
    windows = token_windows(val, 6, 17)
    with torch.no_grad():
        model.eval()
        expected = F.cross_entropy(model(windows[:, :-1]).flatten(0, 1), windows[:, 1:].flatten()).item()
        model.train()
    assert lm_loss(model, val, 6, 16, 4, "cpu").val_loss == pytest.approx(expected, rel=1e-5)
    assert loss_metric(val, 6, 16, 4, "cpu")(model) == pytest.approx(expected, rel=1e-5)
    assert model.training  # the training flag is restored


@pytest.mark.parametrize("family", ["nanogpt", "gpt_neo"])
def test_smoothness_cli_on_token_windows(tmp_path, tokens, family):
    model, layers = lm_checkpoint(tmp_path / "lm.safetensors", family)
    out, curves = tmp_path / "out" / "scores.json", tmp_path / "out" / "curves.csv"
    args = common(tmp_path / "lm.safetensors", "--text", tokens, out)
    smoothness.main([*args, *settings(smoothness={"n_samples": 24, "bins": 5, "batch_size": 8}), "--curves", str(curves)])
    report = json.loads(out.read_text())
    assert list(report["per_layer"]) == layers
    assert (report["n_samples"], report["length"], report["split"], report["reduce"]) == (24, 16, "train", "mean")
    batches = text_batches(token_windows(TokenShards(tokens, "train"), 24, 16), 8)
    direct, n = model_smoothness(model, layers, batches, bins=5)
    assert n == 24
    for name in layers:
        assert report["per_layer"][name] == pytest.approx(direct[name].score, abs=1e-9)
    assert report["metrics"]["smoothness"] == pytest.approx(np.mean(list(report["per_layer"].values())))
    table = pd.read_csv(curves)
    assert list(table.columns) == ["model", "tau", "seed", "layer", "distance", "r", "pairs"]
    assert len(table) == sum(len(direct[name].r) for name in layers)
    assert report["per_layer_floor"] == pytest.approx({name: direct[name].floor for name in layers}, abs=1e-9)


def test_dimensionality_cli_mean_pools_tokens_by_default(tmp_path, tokens):
    model, layers = lm_checkpoint(tmp_path / "lm.safetensors")
    out = tmp_path / "ed.json"
    dimensionality.main([*common(tmp_path / "lm.safetensors", "--text", tokens, out),
                         *settings(dimensionality={"n_samples": 20})])
    report = json.loads(out.read_text())
    assert (report["n_samples"], report["reduce"]) == (20, "mean") and list(report["per_layer"]) == layers
    direct, _ = model_effective_dim(model, layers, text_batches(token_windows(TokenShards(tokens, "train"), 20, 16), 7),
                                    reduce="mean")
    for name in layers:
        assert report["per_layer"][name] == pytest.approx(direct[name], rel=1e-5)


def test_pruning_cli_tracks_validation_loss(tmp_path, tokens):
    model, _ = lm_checkpoint(tmp_path / "lm.safetensors")
    out = tmp_path / "curve.csv"
    args = common(tmp_path / "lm.safetensors", "--val-text", tokens, out)
    pruning.main([*args, *settings(pruning={"batch_size": 4, "fractions": [0, 0.9]}, lm_loss={"n_samples": 6})])
    table = pd.read_csv(out)
    assert list(table.columns) == ["model", "tau", "seed", "fraction", "factor", "metric", "value", "change"]
    assert table["fraction"].tolist() == [0.0, 0.9] and set(table["metric"]) == {"val_loss"}
    assert table["change"][0] == 0.0 and table["change"][1] != 0.0
    original = lm_loss(model, TokenShards(tokens, "val"), 6, 16, 4, "cpu").val_loss
    assert table["value"][0] == pytest.approx(original, rel=1e-6)


def test_downsampling_cli_shrinks_parameters(tmp_path, tokens):
    model, layers = lm_checkpoint(tmp_path / "lm.safetensors")
    out = tmp_path / "table.csv"
    args = common(tmp_path / "lm.safetensors", "--val-text", tokens, out)
    downsampling.main([*args, *settings(downsampling={"factors": [1, 2, 4]}, lm_loss={"n_samples": 6, "batch_size": 4})])
    table = pd.read_csv(out)
    assert list(table.columns) == ["model", "tau", "seed", "factor", "parameters", "parameters_kept", "metric", "value", "change"]
    assert table["factor"].tolist() == [1.0, 2.0, 4.0] and set(table["metric"]) == {"val_loss"}
    original = parameter_count(model)
    assert table["parameters"][0] == original and table["parameters_kept"][0] == 1.0
    assert (np.diff(table["parameters"]) < 0).all()
    np.testing.assert_allclose(table["parameters_kept"], table["parameters"] / original)
    metric = loss_metric(TokenShards(tokens, "val"), 6, 16, 4, "cpu")
    assert table["value"][0] == pytest.approx(metric(model), rel=1e-6) and table["change"][0] == 0.0
    assert metric(downsample_model(model, layers, 1.0)) == pytest.approx(metric(model), rel=1e-5)
    assert table["value"][2] == pytest.approx(metric(downsample_model(model, layers, 4.0)), rel=1e-6)


def test_lm_loss_cli_writes_a_metrics_json(tmp_path, tokens):
    lm_checkpoint(tmp_path / "lm.safetensors", "gpt_neo")
    out = tmp_path / "eval" / "lm_loss" / "tiny" / "tau1.0" / "seed0.json"
    lm_loss_cli.main([*common(tmp_path / "lm.safetensors", "--val-text", tokens, out), *settings(lm_loss={"n_samples": 5})])
    report = json.loads(out.read_text())
    assert (report["n_samples"], report["length"], report["split"]) == (5, 16, "val")
    loss = report["metrics"]["val_loss"]
    assert report["metrics"]["perplexity"] == pytest.approx(math.exp(loss))
    model, _ = load_checkpoint(tmp_path / "lm.safetensors")
    assert loss == pytest.approx(lm_loss(model, TokenShards(tokens, "val"), 5, 16, 256, "cpu").val_loss, rel=1e-6)
    table = metrics_table([out])
    assert table["metric"].tolist() == ["val_loss", "perplexity"] and table["model"].unique().tolist() == ["tiny"]


def test_section_3_2_statistics_perplexity_on_a_common_held_out_corpus(tmp_path, tokens):
    """A.9: the language models' perplexity is measured "on the OpenWebText dataset", one corpus for all of
    them (section 3.2 correlates it with ED). --text reads the train split of a corpus no model trained on."""
    lm_checkpoint(tmp_path / "lm.safetensors", "gpt_neo")
    out = tmp_path / "eval" / "lm_loss" / "tiny" / "tau1.0" / "seed0.json"
    lm_loss_cli.main([*common(tmp_path / "lm.safetensors", "--text", tokens, out), *settings(lm_loss={"n_samples": 5})])
    report = json.loads(out.read_text())
    assert report["split"] == "train"
    model, _ = load_checkpoint(tmp_path / "lm.safetensors")
    expected = lm_loss(model, TokenShards(tokens, "train"), 5, 16, 256, "cpu").val_loss
    assert report["metrics"]["val_loss"] == pytest.approx(expected, rel=1e-6)


def test_clear_errors(tmp_path, tokens, capsys):
    lm_checkpoint(tmp_path / "lm.safetensors")
    tiny_checkpoint(tmp_path / "resnet.safetensors")
    images = tiny_image_folder(tmp_path / "val", classes=2, per_class=2)
    lm = ["--checkpoint", str(tmp_path / "lm.safetensors"), "--device", "cpu", "--out", str(tmp_path / "o.json")]
    with pytest.raises(SystemExit):
        dimensionality.main([*lm, "--text", str(tokens), *settings(dimensionality={"n_sample": 4})])
    assert "evaluation.dimensionality: unknown key(s) ['n_sample']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        dimensionality.main([*lm, "--text", str(tokens), "--images", str(images), *settings(dimensionality={})])
    with pytest.raises(SystemExit, match="32-token context"):
        dimensionality.main([*lm, "--text", str(tokens), *settings(dimensionality={"length": 64, "n_samples": 4})])
    with pytest.raises(SystemExit, match="give it token windows"):
        dimensionality.main([*lm, "--images", str(images), *settings(dimensionality={"res": 16, "n_images": 4})])
    resnet = ["--checkpoint", str(tmp_path / "resnet.safetensors"), "--device", "cpu", "--out", str(tmp_path / "o.csv")]
    with pytest.raises(SystemExit, match="resnet18 model: give it --images"):
        pruning.main([*resnet, "--val-text", str(tokens), *settings(lm_loss={"length": 8})])
    with pytest.raises(SystemExit):
        downsampling.main([*lm, "--val-text", str(tokens), *settings(downsampling={"factors": [0.5]})])
    assert "numbers >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        downsampling.main([*lm, "--val-text", str(tokens), *settings(lm_loss={"length": 8}), "--metrics", "bogus"])
    assert "val_loss" in capsys.readouterr().err
    with pytest.raises(ValueError, match="room for"):
        lm_loss(build("nanogpt", **OPTIONS["nanogpt"]), TokenShards(tokens, "val"), 10**6, 16, 4, "cpu")
