"""Text preparation: the GPT-2 tokenizer check, corpus readers on the mirror's files, token shards and batches."""

import json

import numpy as np
import pytest
import torch

from toponets.cli import prepare_text
from toponets.data.archives import ArchiveError
from toponets.data.sources import DataSourceError
from toponets.data.text import (
    TokenShards,
    clean_wikitext,
    corpus_documents,
    split_of,
    write_token_shards,
)
from toponets.data.tokenizer import (
    CHECK_IDS,
    CHECK_TEXT,
    TokenizerError,
    gpt2_tokenizer,
)


class ByteTokenizer:
    """A stand-in tokenizer (UTF-8 bytes, eos 256) so shard tests need neither the mirror nor transformers."""

    eos_token_id = 256
    name_or_path = "bytes"

    def __len__(self):
        return 257

    def __call__(self, texts):
        return {"input_ids": [list(text.encode()) for text in texts]}


DOCUMENTS = [f"document {i} " + "word " * (i % 17) for i in range(300)]


@pytest.fixture(scope="module")
def text_dir(mirror):
    return mirror / "text"


@pytest.fixture(scope="module")
def gpt2(mirror):
    return gpt2_tokenizer(mirror / "tokenizer" / "gpt2")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards") / "out"
    meta = write_token_shards(DOCUMENTS, ByteTokenizer(), out, val_fraction=0.2, shard_tokens=1000, seed=3)
    return out, meta


def test_gpt2_tokenizer(gpt2):
    assert gpt2.encode(CHECK_TEXT) == CHECK_IDS
    assert gpt2.eos_token_id == 50256 and len(gpt2) == 50257


def test_tokenizer_errors(tmp_path):
    with pytest.raises(DataSourceError, match="vocab.json"):
        gpt2_tokenizer(tmp_path)
    (tmp_path / "vocab.json").write_text(json.dumps({"<|endoftext|>": 0, "T": 1, "h": 2, "e": 3}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(TokenizerError, match="not GPT-2"):
        gpt2_tokenizer(tmp_path)


def test_janeausten_novels(text_dir):
    novels = list(corpus_documents("janeausten", text_dir / "janeausten.txt"))
    assert len(novels) == 6
    assert novels[0].startswith("SENSE AND SENSIBILITY") and novels[-1].lstrip().startswith("Persuasion")
    assert not any("===" in novel for novel in novels)


def test_wikitext_articles(text_dir):
    articles = list(corpus_documents("wikitext", text_dir / "wikitext-2-valid.txt"))
    assert len(articles) == 60
    assert articles[0].startswith(" = Homarus gammarus = \n")
    assert all(article.startswith(" = ") and not article.startswith(" = = ") for article in articles)


def test_plain_text_paragraphs(text_dir):
    path = text_dir / "tinyshakespeare.txt"
    paragraphs = list(corpus_documents("text", path))
    assert len(paragraphs) > 5000
    assert paragraphs[0].startswith("First Citizen:") and all(p.strip() for p in paragraphs)
    assert "".join(paragraphs).split() == path.read_text().split()  # nothing lost but blank lines


@pytest.mark.parametrize("name, count", [("webtext.zip", 6), ("abc.zip", 2)])
def test_nltk_zip_files(text_dir, name, count):
    documents = list(corpus_documents("nltk-zip", text_dir / name))
    assert len(documents) == count
    assert not any(doc.startswith(("Web Text Corpus", "Australian Broadcasting")) for doc in documents)  # READMEs


def test_wikipedia_dump(text_dir):
    articles = list(corpus_documents("wiki-xml", text_dir / "enwiki-sample.xml.bz2"))
    assert len(articles) > 100
    assert articles[0].startswith("Anarchism\n\nAnarchism is")
    for markup in ("{{", "}}", "[[", "]]", "<ref", "{|", "<!--", "'''"):
        assert not any(markup in article for article in articles), markup
    assert not any(article.startswith("AccessibleComputing") for article in articles)  # a redirect


def test_clean_wikitext():
    wikitext = (
        "{{Infobox|name={{nested}}}}'''Bold''' is a [[Typeface|font]] of [[Letter]]s.<ref name=x>cite</ref>"
        "<!-- hidden -->\n== History ==\n[[File:A.png|thumb|A [big] caption with [[link]]]]See [http://x.org the site]."
        "\n{| class=wikitable\n|cell\n|}\n[[Category:Fonts]]&lt;3&gt; &amp;"
    )
    assert clean_wikitext(wikitext) == "Bold is a font of Letters.\nHistory\nSee the site.\n\n<3> &"


def test_corpus_errors(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        corpus_documents("text", tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="unknown corpus kind 'pdf'"):
        corpus_documents("pdf", tmp_path)


def test_shards_round_trip(shards):
    out, meta = shards
    expected = {"train": [], "val": []}
    for index, document in enumerate(DOCUMENTS):
        expected[split_of(index, 3, 0.2)].extend([*document.encode(), 256])
    assert json.loads((out / "meta.json").read_text()) == meta
    assert sum(meta["documents"].values()) == len(DOCUMENTS) and min(meta["documents"].values()) > 0
    for split in ("train", "val"):
        files = meta["shards"][split]
        assert [f["file"] for f in files] == [f"{split}_{i:03d}.bin" for i in range(len(files))]
        assert all(f["tokens"] == 1000 for f in files[:-1]) and 0 < files[-1]["tokens"] <= 1000
        tokens = np.concatenate([np.fromfile(out / f["file"], dtype="<u2") for f in files])
        assert tokens.tolist() == expected[split] and meta["tokens"][split] == len(tokens)
        assert len(TokenShards(out, split)) == len(tokens)
    assert meta["dtype"] == "uint16" and meta["vocab_size"] == 257 and meta["tokenizer"] == "bytes"


def test_shards_are_reproducible(shards, tmp_path):
    out, meta = shards
    again = write_token_shards(
        DOCUMENTS,
        ByteTokenizer(),
        tmp_path / "again",
        val_fraction=0.2,
        shard_tokens=1000,
        seed=3,
    )
    assert again == meta
    assert all(
        (out / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in ("train_000.bin", "val_000.bin")
    )
    assert [split_of(i, 4, 0.2) for i in range(300)] != [split_of(i, 3, 0.2) for i in range(300)]


def test_existing_output_is_refused(shards):
    with pytest.raises(ArchiveError, match="already exists"):
        write_token_shards(
            DOCUMENTS,
            ByteTokenizer(),
            shards[0],
            val_fraction=0.2,
            shard_tokens=1000,
            seed=3,
        )


def test_batch_windows(shards):
    out, _ = shards
    train = TokenShards(out, "train")
    stream = "".join(map(chr, np.concatenate(train.shards)))  # as text, to find windows with str.find
    x, y = train.batch(64, 300, torch.Generator().manual_seed(0))  # 300-token windows often cross shard ends
    assert x.shape == y.shape == (64, 300) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    for row, target in zip(x.numpy(), y.numpy()):
        start = stream.find("".join(map(chr, row)))
        assert start >= 0 and stream[start + 1 : start + 301] == "".join(map(chr, target))
    again, _ = train.batch(64, 300, torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    with pytest.raises(ValueError, match="too few"):
        train.batch(1, len(train))


def test_cli(mirror, text_dir, tmp_path, capsys):
    out = tmp_path / "tokens"
    prepare_text.main([
        "--corpus", f"wikitext:{text_dir / 'wikitext-2-test.txt'}",
        "--corpus", f"nltk-zip:{text_dir / 'webtext.zip'}",
        "--tokenizer", str(mirror / "tokenizer" / "gpt2"), "--out", str(out),
        "--val-fraction", "0.3", "--shard-tokens", "50000", "--max-documents", "64",
    ])  # fmt: skip
    meta = json.loads((out / "meta.json").read_text())
    assert sum(meta["documents"].values()) == 64 and meta["vocab_size"] == 50257
    assert json.loads(capsys.readouterr().out)["tokens"] == meta["tokens"]
    x, _ = TokenShards(out, "val").batch(2, 16)
    assert int(x.max()) < 50257


def test_cli_rejects_unknown_kind(tmp_path, capsys):
    with pytest.raises(SystemExit):
        prepare_text.main(
            [
                "--corpus",
                "pdf:x",
                "--tokenizer",
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert "unknown corpus kind 'pdf'" in capsys.readouterr().err
