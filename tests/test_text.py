"""Text preparation: the GPT-2 tokenizer check, corpus readers on the mirror's files and on streamed Hugging Face
datasets, token shards (parallel, resumable) and batches."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from toponets.cli import prepare_text
from toponets.data import token_stream
from toponets.data.sources import DataSourceError
from toponets.data.text import (
    TokenShards,
    clean_wikitext,
    corpus_documents,
    parse_hf_source,
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


class CountingTokenizer(ByteTokenizer):
    """A ByteTokenizer that counts the documents it tokenizes."""

    def __init__(self):
        self.documents = 0

    def __call__(self, texts):
        self.documents += len(texts)
        return super().__call__(texts)


class Interrupted(Exception):
    """Stands in for a kill in the middle of a preparation."""


def interrupted(documents, after):
    """Yield the first `after` documents, then raise Interrupted."""
    yield from documents[:after]
    raise Interrupted


DOCUMENTS = [f"document {i} " + "word " * (i % 17) for i in range(300)]
SHARD_OPTIONS = {"val_fraction": 0.2, "shard_tokens": 1000, "seed": 3}


@pytest.fixture(scope="module")
def text_dir(mirror):
    return mirror / "text"


@pytest.fixture(scope="module")
def gpt2(mirror):
    return gpt2_tokenizer(mirror / "tokenizer" / "gpt2")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards") / "out"
    meta = write_token_shards(DOCUMENTS, ByteTokenizer(), out, **SHARD_OPTIONS)
    return out, meta


def same_shards(a, b, meta):
    """Whether directories `a` and `b` hold byte-identical shard files, those listed in `meta`."""
    files = [shard["file"] for split in ("train", "val") for shard in meta["shards"][split]]
    return sorted(files) == sorted(p.name for p in b.glob("*.bin")) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files
    )


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


def test_janeausten_chapters(text_dir):
    chapters = list(corpus_documents("janeausten", text_dir / "janeausten.txt"))
    assert len(chapters) == 6 + 269  # each novel's title page, and its chapters
    assert chapters[0].startswith("SENSE AND SENSIBILITY") and chapters[1].startswith("CHAPTER 1\n")
    assert chapters[-1].startswith("Chapter 24\n") and not any("===" in chapter for chapter in chapters)
    text = (text_dir / "janeausten.txt").read_text()
    assert "".join(chapters).split() == [w for line in text.splitlines() if not line.startswith("===") for w in line.split()]


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


@pytest.mark.parametrize("name, count", [("webtext.zip", 3247), ("abc.zip", 3189)])
def test_nltk_zip_paragraphs(text_dir, name, count):
    documents = list(corpus_documents("nltk-zip", text_dir / name))
    assert len(documents) == count
    assert not any(doc.startswith(("Web Text Corpus", "Australian Broadcasting")) for doc in documents)  # READMEs
    assert all(doc.strip() and "\r" not in doc for doc in documents)


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


def test_parse_hf_source():
    assert parse_hf_source("HuggingFaceFW/fineweb-edu@sample-10BT") == {
        "path": "HuggingFaceFW/fineweb-edu",
        "name": "sample-10BT",
        "split": "train",
        "text": "text",
        "where": None,
        "data_files": None,
        "data_dir": None,
    }
    assert parse_hf_source("json,data_files=/data/*.jsonl,split=validation,text=body") == {
        "path": "json",
        "name": None,
        "split": "validation",
        "text": "body",
        "where": None,
        "data_files": "/data/*.jsonl",
        "data_dir": None,
    }
    assert parse_hf_source("nampdn-ai/tiny-codes,where=programming_language:Python")["where"] == "programming_language:Python"
    for bad, message in [("@cfg", "names no dataset"), ("json,split", "bad option 'split'"), ("json,a=b", "KEY one"),
                         ("json,where=Python", "expected where=FIELD:VALUE")]:
        with pytest.raises(ValueError, match=message):
            parse_hf_source(bad)


def test_hf_streams_local_files(tmp_path):
    import pyarrow as pa  # a dependency of datasets
    import pyarrow.parquet as pq

    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(["one", " ", "two"])))
    assert list(corpus_documents("hf", f"json,data_files={jsonl}")) == ["one", "two"]  # blank ones skipped
    pq.write_table(pa.table({"body": ["three", "four"]}), tmp_path / "docs.parquet")
    assert list(corpus_documents("hf", f"parquet,data_files={tmp_path}/*.parquet,text=body")) == ["three", "four"]
    with pytest.raises(DataSourceError, match="no field 'text' \\(it has body\\); add ,text=FIELD"):
        list(corpus_documents("hf", f"parquet,data_files={tmp_path}/*.parquet"))
    with pytest.raises(DataSourceError, match="cannot load hf source .*local files"):
        corpus_documents("hf", f"json,data_files={tmp_path / 'missing.jsonl'}")


def test_lora_code_corpus_keeps_only_python(tmp_path):
    """A.11: LoRA fine-tuning on "1M tokens of Python code" from tiny-codes, whose rows hold code in many
    languages (field programming_language): where=programming_language:Python keeps the Python rows."""
    rows = [("def f(): pass", "Python"), ("fn main() {}", "Rust"), ("print(1)", "Python"), ("int x;", "C++")]
    jsonl = tmp_path / "codes.jsonl"
    jsonl.write_text("".join(json.dumps({"response": r, "programming_language": lang}) + "\n" for r, lang in rows))
    source = f"json,data_files={jsonl},text=response,where=programming_language:Python"
    assert list(corpus_documents("hf", source)) == ["def f(): pass", "print(1)"]
    with pytest.raises(DataSourceError, match="no field 'language' .*add ,where=FIELD:VALUE"):
        list(corpus_documents("hf", f"json,data_files={jsonl},text=response,where=language:Python"))


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
    again = write_token_shards(DOCUMENTS, ByteTokenizer(), tmp_path / "again", **SHARD_OPTIONS)
    assert again == meta and same_shards(out, tmp_path / "again", meta)
    assert [split_of(i, 4, 0.2) for i in range(300)] != [split_of(i, 3, 0.2) for i in range(300)]


def test_workers_do_not_change_shards(shards, tmp_path):
    out, meta = shards
    again = write_token_shards(DOCUMENTS, ByteTokenizer(), tmp_path / "again", workers=2, **SHARD_OPTIONS)
    assert again == meta and same_shards(out, tmp_path / "again", meta)


KILLED_PARENT = """
import itertools, multiprocessing, os, signal
from toponets.data.token_stream import token_arrays

class Ones:
    eos_token_id = 0

    def __call__(self, texts):
        return {"input_ids": [[1] for _ in texts]}

tokens = token_arrays(itertools.repeat("x"), Ones(), workers=2)
next(tokens)  # the pool is running
print(*(p.pid for p in multiprocessing.active_children()), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def running(pid):
    """Whether process `pid` exists and is not a zombie (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_workers_exit_with_a_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT], stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in parent.stdout.readline().split()]  # not read to the end: workers hold the pipe
    assert parent.wait(timeout=60) == -signal.SIGKILL and len(workers) == 2
    deadline = time.monotonic() + 10
    try:
        while any(map(running, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(running, workers))
    finally:
        for pid in filter(running, workers):  # left behind: end them, not the test run
            os.kill(pid, signal.SIGKILL)
        parent.stdout.close()


def test_resume_after_interruption(shards, tmp_path, monkeypatch):
    out, meta = shards
    target, partial = tmp_path / "out", tmp_path / "out.partial"
    options = {**SHARD_OPTIONS, "checkpoint_documents": 50}
    monkeypatch.setattr(token_stream, "BATCH_DOCUMENTS", 20)
    first = CountingTokenizer()
    with pytest.raises(Interrupted):  # at document 130: checkpoints at 50 and 100, then 20 more written
        write_token_shards(interrupted(DOCUMENTS, 130), first, target, **options)
    assert first.documents == 120 and not target.exists()
    progress = json.loads((partial / "progress.json").read_text())
    assert sum(progress["documents"].values()) == 100
    recorded = {shard["file"] for split in progress["shards"].values() for shard in split}
    assert recorded < {path.name for path in partial.glob("*.bin")}  # shards begun after the checkpoint
    with pytest.raises(DataSourceError, match=f"another seed.*delete {partial}"):
        write_token_shards(DOCUMENTS, ByteTokenizer(), target, **{**options, "seed": 4})
    second = CountingTokenizer()
    again = write_token_shards(DOCUMENTS, second, target, **options)
    assert second.documents == 200  # the 100 checkpointed documents are not tokenized again
    assert again == meta and same_shards(out, target, meta) and not partial.exists()


def test_existing_output_is_refused(shards):
    with pytest.raises(DataSourceError, match="already exists"):
        write_token_shards(DOCUMENTS, ByteTokenizer(), shards[0], **SHARD_OPTIONS)


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


def test_cli_hf_source_with_workers(mirror, text_dir, gpt2, tmp_path, capsys):
    paragraphs = list(corpus_documents("text", text_dir / "tinyshakespeare.txt"))
    jsonl = tmp_path / "shakespeare.jsonl"
    jsonl.write_text("".join(json.dumps({"text": p}) + "\n" for p in paragraphs))
    out = tmp_path / "tokens"
    prepare_text.main([
        "--corpus", f"hf:json,data_files={jsonl}", "--tokenizer", str(mirror / "tokenizer" / "gpt2"),
        "--out", str(out), "--workers", "2", "--shard-tokens", "100000",
    ])  # fmt: skip
    meta = json.loads((out / "meta.json").read_text())
    assert meta["sources"] == [f"hf:json,data_files={jsonl}"] and sum(meta["documents"].values()) == len(paragraphs)
    assert json.loads(capsys.readouterr().out)["tokens"] == meta["tokens"]
    in_process = write_token_shards(paragraphs, gpt2, tmp_path / "in-process", shard_tokens=100_000)
    assert in_process["tokens"] == meta["tokens"] and same_shards(out, tmp_path / "in-process", meta)


@pytest.mark.parametrize(
    "corpus, message", [("pdf:x", "unknown corpus kind 'pdf'"), ("hf:json,colour=red", "bad option 'colour=red'")]
)
def test_cli_rejects_bad_corpus(tmp_path, capsys, corpus, message):
    with pytest.raises(SystemExit):
        prepare_text.main(["--corpus", corpus, "--tokenizer", str(tmp_path), "--out", str(tmp_path / "o")])
    assert message in capsys.readouterr().err


def test_text_tar_members_are_documents_in_name_order(tmp_path):
    import io
    import tarfile

    members = {"b/two.py": b"def two():\r\n    return 2\r\n", "a.py": b"x = 1\n", "c.bin": b"\xff\xfe\x00binary",
               "empty/__init__.py": b"\n"}
    with tarfile.open(tmp_path / "code.tar", "w") as tar:
        tar.addfile(tarfile.TarInfo("b"), None)  # a directory entry: not a document
        tar.getmember("b").type = tarfile.DIRTYPE
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    documents = list(corpus_documents("text-tar", tmp_path / "code.tar"))
    assert documents == ["x = 1\n", "def two():\n    return 2\n"]  # c.bin is not UTF-8; empty files are no documents
    (tmp_path / "not.tar").write_text("plain text")
    with pytest.raises(DataSourceError, match="not a tar archive"):
        list(corpus_documents("text-tar", tmp_path / "not.tar"))


def test_text_tar_reads_the_mirrors_python_code(mirror):
    documents = corpus_documents("text-tar", mirror / "code" / "python-snippets.tar")
    assert next(documents).startswith("## MIT License")  # LICENSE.md: capitals sort before the lower-case folders
    assert 1 + sum(1 for _ in documents) == 1147  # 1,360 files, of which 213 are empty __init__.py
