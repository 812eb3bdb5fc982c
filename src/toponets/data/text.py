"""Text corpora for the language models: document iterators, token shards and a batch reader.

Every corpus reader streams its file and yields one document's text at a
time, so a corpus of any size passes through in constant memory:

- ``text``: a plain text file; paragraphs (blocks between blank lines) are
  the documents, so even a single-file corpus such as tinyshakespeare can be
  split into train and val by document.
- ``janeausten``: the mirror's janeausten.txt; each ``=== <title> ===`` header
  starts a novel (the header line itself is dropped, it is mirror markup).
- ``wikitext``: WikiText; each `` = Title = `` heading starts an article (the
  heading is kept, it is part of the WikiText text).
- ``nltk-zip``: an NLTK corpus zip (webtext, abc, ...); each text file is a
  document, the README is skipped.
- ``wiki-xml``: a Wikipedia ``pages-articles`` dump (.xml or .xml.bz2);
  articles of namespace 0, redirects skipped, wikitext cleaned by
  `clean_wikitext`.

`write_token_shards` tokenizes documents into uint16 ``.bin`` shards that
`TokenShards` reads back through np.memmap, the nanoGPT way.
"""

from __future__ import annotations

import bz2
import hashlib
import html
import itertools
import json
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import numpy as np
import torch

from toponets.data.archives import atomic_dir
from toponets.data.sources import DataSourceError

DTYPE = np.dtype("<u2")  # GPT-2's 50257 ids fit in uint16, little-endian on disk
SPLITS = ("train", "val")
TOKENIZE_BATCH = 64  # documents handed to the tokenizer at once: fast, yet bounded memory


# --- document iterators -------------------------------------------------------------------------


def text_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the paragraphs (blocks separated by blank lines) of a plain text file."""
    yield from _sections(path, lambda line: not line.strip(), keep_header=False)


def janeausten_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the novels of janeausten.txt, which starts each with a `=== <title> ===` line."""
    header = re.compile(r"^=== .+ ===$")
    yield from _sections(path, lambda line: bool(header.match(line.rstrip("\n"))), keep_header=False)


def wikitext_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the articles of a WikiText file, each starting at its ` = Title = ` line (sections use `= =`)."""
    heading = re.compile(r"^ = [^=].* = $")
    yield from _sections(path, lambda line: bool(heading.match(line.rstrip("\n"))), keep_header=True)


def _sections(path: str | os.PathLike, is_break: Callable[[str], bool], *, keep_header: bool) -> Iterator[str]:
    """Stream a text file and yield the non-blank text between lines for which `is_break` holds."""
    lines: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if is_break(line):
                yield from _nonblank("".join(lines))
                lines = [line] if keep_header else []
            else:
                lines.append(line)
    yield from _nonblank("".join(lines))


def _nonblank(text: str) -> Iterator[str]:
    """Yield `text` unless it is only whitespace (an empty document would be just an eos token)."""
    if text.strip():
        yield text


def nltk_zip_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield each text file of an NLTK corpus zip (sorted by name) as a document, skipping README files."""
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            member = PurePosixPath(name)
            if name.endswith("/") or member.name.upper().startswith("README"):
                continue
            yield from _nonblank(zf.read(name).decode("utf-8", errors="replace"))


def wiki_xml_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the cleaned text of each article (namespace 0, not a redirect) of a Wikipedia XML dump.

    The dump is parsed incrementally and each page is cleared once read, so
    memory stays flat whatever the dump's size. Titles are prepended as the
    first line, as WikiText does.
    """
    opener = bz2.open if str(path).endswith(".bz2") else open
    with opener(path, "rb") as f:
        root = None
        for event, elem in ElementTree.iterparse(f, events=("start", "end")):
            if root is None:
                root = elem
            if event == "end" and _local(elem.tag) == "page":
                article = _article(elem)
                root.clear()  # drop the finished page so the tree never grows
                if article:
                    yield article


def _local(tag: str) -> str:
    """A tag without its `{namespace}` prefix: dumps change the export namespace between versions."""
    return tag.rpartition("}")[2]


def _article(page: ElementTree.Element) -> str | None:
    """The cleaned `title\\n\\ntext` of a page element, or None for redirects, non-articles and empty pages."""
    fields = {_local(child.tag): child for child in page.iter()}
    if "redirect" in fields or (fields.get("ns") is not None and fields["ns"].text != "0"):
        return None
    body = clean_wikitext(fields["text"].text or "") if "text" in fields else ""
    if not body:
        return None
    return f"{fields['title'].text}\n\n{body}\n"


# Cleanup rules, applied in order. Innermost-first rules repeat until nothing changes, for nesting.
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_REF = re.compile(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", re.DOTALL | re.IGNORECASE)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.DOTALL)
_LINK = re.compile(r"\[\[((?:(?!\[\[|\]\]).)*)\]\]", re.DOTALL)  # innermost: no [[ or ]] inside; [x] may be
_DROPPED_LINKS = re.compile(r"^\s*:?\s*(file|image|media|category)\s*:", re.IGNORECASE)
_EXTERNAL = re.compile(r"\[(?:https?:)?//[^\s\]]+\s*([^\]]*)\]")
_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$", re.MULTILINE)
_QUOTES = re.compile(r"'{2,}")
_TAG = re.compile(r"<[^>]+>")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_wikitext(text: str) -> str:
    """Reduce wikitext to plain prose, simply: good enough for LM training text, not a full parser.

    Drops comments, <ref>s, templates {{...}} (nested too; leftover braces of
    unbalanced ones as well), tables {|...|}, file/image/category links and
    any other HTML tag; turns [[target|label]] into label, [[target]] into
    target, [url label] into label and `== Heading ==` into Heading; removes
    bold/italic quotes and decodes HTML entities.
    """
    text = _COMMENT.sub("", text)
    text = _REF.sub("", text)
    text = _repeat(_TEMPLATE, "", text).replace("{{", "").replace("}}", "")
    text = _repeat(_TABLE, "", text)
    text = _repeat(_LINK, _link_text, text)
    text = _EXTERNAL.sub(r"\1", text)
    text = _HEADING.sub(r"\2", text)
    text = _QUOTES.sub("", text)
    text = html.unescape(_TAG.sub("", text))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _repeat(pattern: re.Pattern, replacement, text: str) -> str:
    """Apply `pattern.sub` until the text stops changing (innermost-first removal of nested markup)."""
    while True:
        text, n = pattern.subn(replacement, text)
        if not n:
            return text


def _link_text(match: re.Match) -> str:
    """The visible text of an internal link; nothing for file, image and category links."""
    inner = match.group(1)
    return "" if _DROPPED_LINKS.match(inner) else inner.rsplit("|", 1)[-1]


CORPORA: dict[str, Callable[[str | os.PathLike], Iterator[str]]] = {
    "text": text_documents,
    "janeausten": janeausten_documents,
    "wikitext": wikitext_documents,
    "nltk-zip": nltk_zip_documents,
    "wiki-xml": wiki_xml_documents,
}


def corpus_documents(kind: str, path: str | os.PathLike) -> Iterator[str]:
    """The documents of corpus `path` read as `kind` (a key of CORPORA); checks both before reading."""
    if kind not in CORPORA:
        raise ValueError(f"unknown corpus kind {kind!r}; choose one of {', '.join(CORPORA)}")
    if not Path(path).is_file():
        raise DataSourceError(f"corpus file {path} does not exist")
    return CORPORA[kind](path)


# --- token shards -------------------------------------------------------------------------------


def split_of(index: int, seed: int, val_fraction: float) -> str:
    """'val' or 'train' for document `index`: a seeded hash, so reproducible and decided while streaming."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return "val" if int.from_bytes(digest, "big") / 2**64 < val_fraction else "train"


class _ShardWriter:
    """Appends one split's tokens to `<split>_000.bin`, `<split>_001.bin`, ... of at most `shard_tokens` each."""

    def __init__(self, directory: Path, split: str, shard_tokens: int):
        self.directory, self.split, self.shard_tokens = directory, split, shard_tokens
        self.shards: list[dict] = []
        self.documents = 0
        self._file = None

    def write(self, tokens: np.ndarray) -> None:
        """Append `tokens`, opening new shards as old ones fill; a document may span two shards."""
        while len(tokens):
            if self._file is None or self.shards[-1]["tokens"] == self.shard_tokens:
                self._next_shard()
            room = self.shard_tokens - self.shards[-1]["tokens"]
            self._file.write(tokens[:room].tobytes())
            self.shards[-1]["tokens"] += len(tokens[:room])
            tokens = tokens[room:]

    def _next_shard(self) -> None:
        self.close()
        name = f"{self.split}_{len(self.shards):03d}.bin"
        self._file = open(self.directory / name, "wb")  # noqa: SIM115 -- stays open across write() calls
        self.shards.append({"file": name, "tokens": 0})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def tokens(self) -> int:
        return sum(shard["tokens"] for shard in self.shards)


def _token_ids(documents: Iterable[str], tokenizer) -> Iterator[list[int]]:
    """Token ids of each document, tokenized a batch of documents at a time (the fast tokenizer is batched)."""
    documents = iter(documents)
    while batch := list(itertools.islice(documents, TOKENIZE_BATCH)):
        yield from tokenizer(batch)["input_ids"]


def write_token_shards(
    documents: Iterable[str],
    tokenizer,
    out_dir: str | os.PathLike,
    *,
    val_fraction: float = 0.05,
    shard_tokens: int = 100_000_000,
    seed: int = 0,
) -> dict:
    """Tokenize `documents` (eos after each) into train/val uint16 shards plus meta.json in `out_dir`; return the meta.

    Whole documents go to one split, chosen by `split_of`. Output appears
    atomically: it is written to a temporary directory renamed onto
    `out_dir` at the end, and `out_dir` must not exist yet.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if shard_tokens < 1:
        raise ValueError(f"shard_tokens must be positive, got {shard_tokens}")
    eos, vocab_size = tokenizer.eos_token_id, len(tokenizer)
    if vocab_size > np.iinfo(DTYPE).max + 1:
        raise ValueError(f"vocabulary of {vocab_size} ids does not fit in uint16")
    with atomic_dir(out_dir) as tmp:
        writers = {split: _ShardWriter(tmp, split, shard_tokens) for split in SPLITS}
        try:
            for index, ids in enumerate(_token_ids(documents, tokenizer)):
                writer = writers[split_of(index, seed, val_fraction)]
                writer.write(np.asarray([*ids, eos], dtype=DTYPE))
                writer.documents += 1
        finally:
            for writer in writers.values():
                writer.close()
        meta = {
            "tokenizer": str(tokenizer.name_or_path),
            "vocab_size": vocab_size,
            "eos": eos,
            "dtype": "uint16",
            "val_fraction": val_fraction,
            "shard_tokens": shard_tokens,
            "seed": seed,
            "documents": {split: w.documents for split, w in writers.items()},
            "tokens": {split: w.tokens for split, w in writers.items()},
            "shards": {split: w.shards for split, w in writers.items()},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


class TokenShards:
    """One split of a `write_token_shards` directory, read through np.memmap as one token stream."""

    def __init__(self, directory: str | os.PathLike, split: str):
        directory = Path(directory)
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise DataSourceError(f"{meta_path} does not exist; run toponets.cli.prepare_text first")
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        self.meta = json.loads(meta_path.read_text())
        self.shards = [np.memmap(directory / s["file"], dtype=DTYPE, mode="r") for s in self.meta["shards"][split]]
        self.starts = np.cumsum([0] + [len(shard) for shard in self.shards])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def window(self, start: int, length: int) -> np.ndarray:
        """Tokens `start:start+length` of the split, read across shard boundaries when needed."""
        pieces = []
        shard = int(np.searchsorted(self.starts, start, side="right")) - 1
        while length > 0:
            offset = start - int(self.starts[shard])
            piece = self.shards[shard][offset : offset + length]
            pieces.append(piece)
            start, length, shard = start + len(piece), length - len(piece), shard + 1
        return np.concatenate(pieces)

    def batch(
        self, batch_size: int, block_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows as int64 (x, y) of shape (batch_size, block_size), y being x shifted one token on."""
        if len(self) <= block_size:
            raise ValueError(f"split holds {len(self)} tokens, too few for blocks of {block_size} + 1")
        starts = torch.randint(len(self) - block_size, (batch_size,), generator=generator).tolist()
        windows = torch.from_numpy(np.stack([self.window(s, block_size + 1) for s in starts]).astype(np.int64))
        return windows[:, :-1], windows[:, 1:]
