"""BLiMP scoring (METHODS §8): sentence log-probabilities, batching, pair counting, the zip and the CLI."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from toponets.analysis.blimp import (
    PARADIGMS,
    BlimpError,
    Paradigm,
    blimp_accuracy,
    read_blimp,
    score_paradigm,
    sentence_logprobs,
    sequence_logprobs,
)
from toponets.checkpoints import save_checkpoint
from toponets.cli import blimp as cli
from toponets.data.tokenizer import gpt2_tokenizer
from toponets.models import build, topographic_layers

EOT = 50256
GPT_NEO = {"vocab_size": 50257, "hidden_size": 32, "num_layers": 2, "num_heads": 2,
           "max_position_embeddings": 64, "window_size": 16}
NANOGPT = {"block_size": 64, "vocab_size": 50304, "n_layer": 2, "n_head": 2, "n_embd": 32}
LENGTHS = [5, 1, 12, 30, 3, 12, 40, 7]  # sentence tokens, mixed, some beyond GPT-Neo's local window of 16


def seeded(family: str, options: dict) -> nn.Module:
    torch.manual_seed(0)
    return build(family, **options)


@pytest.fixture(scope="module")
def gpt_neo():
    return seeded("gpt_neo", GPT_NEO)


@pytest.fixture(scope="module")
def nanogpt():
    return seeded("nanogpt", NANOGPT)


def random_sequences(lengths=LENGTHS, seed=1) -> list[list[int]]:
    """End-of-text followed by `n` random GPT-2 ids, for each n."""
    g = torch.Generator().manual_seed(seed)
    return [[EOT, *torch.randint(0, EOT + 1, (n,), generator=g).tolist()] for n in lengths]


def explicit_logprob(model: nn.Module, seq: list[int]) -> float:
    """log P(seq[1:] | seq[0]) from one unpadded forward pass and a float64 log-softmax."""
    x = torch.tensor([seq])
    with torch.no_grad():
        logp = torch.log_softmax(model(x)[0, :-1].double(), dim=-1)
    return logp[torch.arange(len(seq) - 1), x[0, 1:]].sum().item()


def test_gpt_neo_scores_match_the_transformers_loss(gpt_neo):
    sequences = random_sequences()
    scores = sequence_logprobs(gpt_neo, sequences, batch_size=4)
    for seq, score in zip(sequences, scores):
        ids = torch.tensor([seq])
        with torch.no_grad():
            loss = gpt_neo(input_ids=ids, labels=ids).loss.item()  # mean over the len(seq) - 1 predicted tokens
        assert score == pytest.approx(-loss * (len(seq) - 1), abs=1e-4)


def test_nanogpt_scores_match_an_explicit_log_softmax(nanogpt):
    sequences = random_sequences()
    scores = sequence_logprobs(nanogpt, sequences, batch_size=4)
    np.testing.assert_allclose(scores, [explicit_logprob(nanogpt, seq) for seq in sequences], rtol=0, atol=1e-4)


@pytest.mark.parametrize("family", ["gpt_neo", "nanogpt"])
def test_padding_and_batching_never_change_a_score(family, request):
    model = request.getfixturevalue(family).train()
    sequences = random_sequences(seed=2)
    together = sequence_logprobs(model, sequences, batch_size=len(sequences))
    alone = sequence_logprobs(model, sequences, batch_size=1)
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)
    assert model.training  # scored in eval mode, flag restored


def test_too_long_sentence_is_a_clear_error(nanogpt):
    with pytest.raises(ValueError, match="65 tokens does not fit the model's context of 64"):
        sequence_logprobs(nanogpt, random_sequences([65]))


WORDS = ["a", "b", "c", "d"]
PROBS = [0.5, 0.25, 0.125, 0.125]


class Unigram(nn.Module):
    """A 'language model' ignoring context: word t has probability PROBS[t] at every position."""

    def __init__(self):
        super().__init__()
        self.register_buffer("logits", torch.tensor(PROBS).log())

    def forward(self, idx):
        return self.logits.expand(*idx.shape, -1)


class WordTokenizer:
    """Word i of WORDS -> id i; remembers the texts it encoded."""

    def __init__(self):
        self.seen = []

    def __call__(self, texts):
        self.seen += texts
        return {"input_ids": [[WORDS.index(w) for w in text.split()] for text in texts]}


def test_sentence_logprobs_sum_token_logprobs_after_end_of_text(gpt_neo):
    expected = [math.log(0.5) + math.log(0.25), math.log(0.125)]
    assert sentence_logprobs(Unigram(), WordTokenizer(), ["a b", "d"]) == pytest.approx(expected)
    words_as_ids = sequence_logprobs(gpt_neo, [[EOT, 0, 1, 2]])
    assert sentence_logprobs(gpt_neo, WordTokenizer(), ["a b c"]) == pytest.approx(words_as_ids, abs=1e-6)


def test_pairs_are_correct_iff_good_is_more_probable_and_ties_are_wrong():
    p1 = Paradigm("p1", "syntax", "island_effects", [("a a", "b b"), ("b", "a"), ("a b", "b a")])  # right, wrong, tie
    p2 = Paradigm("p2", "morphology", "", [("a", "a a"), ("d c", "a")])  # right (shorter), wrong
    tokenizer = WordTokenizer()
    result = blimp_accuracy(Unigram(), tokenizer, [p1, p2], batch_size=2)
    counts = [(s.paradigm, s.field, s.pairs, s.correct, s.ties) for s in result.paradigms]
    assert counts == [("p1", "syntax", 3, 1, 1), ("p2", "morphology", 2, 1, 0)]
    assert result.paradigms[0].accuracy == pytest.approx(1 / 3)
    assert (result.n_pairs, result.correct, result.ties, result.accuracy) == (5, 2, 1, pytest.approx(0.4))
    assert " a a" in tokenizer.seen and all(text.startswith(" ") for text in tokenizer.seen)  # lm-eval's delimiter
    assert tokenizer.seen[6:] == [" a", " a a", " d c"]  # p2's " a" is in two pairs, scored once
    with pytest.raises(ValueError, match="no BLiMP paradigms"):
        blimp_accuracy(Unigram(), tokenizer, [])


def fake_blimp(path, names=PARADIGMS, pairs=2, corrupt=()):
    """A BLiMP-shaped zip with the macOS junk of the real one; paradigms in `corrupt` lack sentence_bad."""
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            if name in corrupt:
                archive.writestr(f"data/{name}.jsonl", '{"sentence_good": "x"}\n')
                continue
            lines = [json.dumps({"sentence_good": f"{name} good {i}", "sentence_bad": f"{name} bad {i}",
                                 "field": "syntax", "linguistics_term": "t"}) for i in range(pairs)]
            archive.writestr(f"data/{name}.jsonl", "\n".join(lines) + "\n\n")
        archive.writestr("data/.DS_Store", b"\x00\x00\x00\x01Bud1")
        archive.writestr("__MACOSX/data/._adjunct_island.jsonl", b"\x00\x05\x16\x07 not json")
    return path


def test_read_blimp_ignores_junk_and_caps_pairs(tmp_path):
    paradigms = read_blimp(fake_blimp(tmp_path / "b.zip"))
    assert [p.name for p in paradigms] == list(PARADIGMS)
    assert paradigms[0].pairs == [("adjunct_island good 0", "adjunct_island bad 0"),
                                  ("adjunct_island good 1", "adjunct_island bad 1")]
    few = read_blimp(tmp_path / "b.zip", paradigms=["wh_island", "causative"], max_pairs=1)
    assert [(p.name, len(p.pairs), p.field, p.linguistics_term) for p in few] == [
        ("causative", 1, "syntax", "t"), ("wh_island", 1, "syntax", "t")]


def test_read_blimp_errors_say_what_is_wrong(tmp_path):
    missing = r"lacks 66 of the 67 BLiMP paradigms \(anaphor_gender_agreement, .* and 56 more"
    with pytest.raises(BlimpError, match=missing):
        read_blimp(fake_blimp(tmp_path / "one.zip", names=["adjunct_island"]))
    with pytest.raises(ValueError, match=r"unknown BLiMP paradigms \['nope'\]"):
        read_blimp(tmp_path / "one.zip", paradigms=["adjunct_island", "nope"])
    with pytest.raises(ValueError, match="max_pairs must be >= 1"):
        read_blimp(tmp_path / "one.zip", max_pairs=0)
    bad = fake_blimp(tmp_path / "bad.zip", corrupt=["wh_island"])
    with pytest.raises(BlimpError, match="wh_island.jsonl line 1 is not a BLiMP pair"):
        read_blimp(bad, paradigms=["wh_island"])


def test_mirror_blimp_has_67_paradigms_of_1000_pairs(mirror):
    paradigms = read_blimp(mirror / "blimp" / "BLiMP.zip")
    assert [p.name for p in paradigms] == list(PARADIGMS)
    assert {len(p.pairs) for p in paradigms} == {1000}
    # "syntax/semantics" is principle_A_case_2's spelling of "syntax_semantics" in BLiMP itself
    fields = {"morphology", "semantics", "syntax", "syntax_semantics", "syntax/semantics"}
    assert {p.field for p in paradigms} == fields
    assert len({p.linguistics_term for p in paradigms}) == 13
    assert paradigms[0].pairs[0] == (
        "Who should Derek hug after shocking Richard?", "Who should Derek hug Richard after shocking?")


def test_cli_writes_overall_accuracy_and_paradigm_table(mirror, tmp_path):
    model = seeded("gpt_neo", GPT_NEO)
    checkpoint = tmp_path / "lm.safetensors"
    layers = topographic_layers(model, "gpt_neo")
    save_checkpoint(checkpoint, model, "gpt_neo", GPT_NEO, topographic_layers=layers, factor=3.0, tau=0.0, step=0,
                    config={"name": "neo", "tau": 0.0, "seed": 0})
    zip_path, tokenizer_dir = mirror / "blimp" / "BLiMP.zip", mirror / "tokenizer" / "gpt2"
    out, table_path = tmp_path / "eval" / "blimp.json", tmp_path / "eval" / "blimp_paradigms.csv"
    cli.main([
        "--checkpoint", str(checkpoint), "--blimp", str(zip_path), "--tokenizer", str(tokenizer_dir),
        "--settings", json.dumps({"blimp": {"max_pairs": 3}}), "--device", "cpu", "--out", str(out), "--paradigms-out", str(table_path),
    ])
    report = json.loads(out.read_text())
    table = pd.read_csv(table_path, keep_default_na=False)
    assert list(table.columns) == ["model", "tau", "seed", "paradigm", "field", "linguistics_term", "pairs", "correct", "ties", "accuracy"]
    assert list(table.paradigm) == list(PARADIGMS) and (table.pairs == 3).all()
    assert np.allclose(table.accuracy, table.correct / 3)
    assert report["n_pairs"] == 201 and report["checkpoint"] == str(checkpoint)
    assert report["metrics"]["blimp"] == pytest.approx(table.correct.sum() / 201)
    first = read_blimp(zip_path, paradigms=["adjunct_island"], max_pairs=3)[0]
    direct = score_paradigm(model, gpt2_tokenizer(tokenizer_dir), first)
    assert (direct.correct, direct.field, direct.linguistics_term) == (
        table.correct[0], table.field[0], table.linguistics_term[0])
