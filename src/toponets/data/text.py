"""Text corpora for the language models: document iterators, token shards and a batch reader.

Every corpus reader streams its file and yields one document's text at a
time, so a corpus of any size passes through in constant memory:

- ``text``: a plain text file; paragraphs (blocks between blank lines) are
  the documents, so even a single-file corpus such as tinyshakespeare can be
  split into train and val by document.
- ``janeausten``: the mirror's janeausten.txt; each chapter is a document
  (the ``=== <title> ===`` novel headers are mirror markup and dropped).
- ``wikitext``: WikiText; each `` = Title = `` heading starts an article (the
  heading is kept, it is part of the WikiText text).
- ``nltk-zip``: an NLTK corpus zip (webtext, abc, ...); each paragraph of its
  text files is a document (an abc news story), the README is skipped.
- ``text-tar``: a tar archive of text files (the mirror's python-snippets.tar,
  standing in for tiny-codes); each member file is a document, members in
  name order, files that are not UTF-8 skipped.
- ``wiki-xml``: a Wikipedia ``pages-articles`` dump (.xml or .xml.bz2);
  articles of namespace 0, redirects skipped, wikitext cleaned by
  `clean_wikitext`.
- ``hf``: a Hugging Face dataset streamed with
  ``datasets.load_dataset(..., streaming=True)``, never held in memory. The
  source is ``DATASET[@CONFIG][,KEY=VALUE...]`` (see `parse_hf_source`): a Hub
  id such as ``HuggingFaceFW/fineweb-edu@sample-10BT`` (NanoGPT's corpus) or
  ``wikimedia/wikipedia@20231101.en`` (GPT-Neo's), or a builder over local
  files such as ``json,data_files=docs.jsonl`` or
  ``parquet,data_files=shards/*.parquet``.

`write_token_shards` tokenizes documents, in parallel if asked and resumably,
into uint16 ``.bin`` shards that `TokenShards` reads back through np.memmap,
the nanoGPT way.
"""

from __future__ import annotations

import bz2
import hashlib
import html
import itertools
import json
import os
import re
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import numpy as np
import torch

from toponets.data.sources import DataSourceError
from toponets.data.token_stream import DTYPE, token_arrays
from toponets.io import atomic_path

SPLITS = ("train", "val")
PROGRESS = "progress.json"  # the checkpoint of an unfinished preparation, in its .partial directory
CHECKPOINT_DOCUMENTS = 10_000


# --- document iterators -------------------------------------------------------------------------


def text_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the paragraphs (blocks separated by blank lines) of a plain text file."""
    with open(path, encoding="utf-8") as f:
        yield from _sections(f, _is_blank, keep_header=False)


def janeausten_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the chapters of janeausten.txt (each novel's title page is a document too).

    Chapters, not whole novels, are the documents: 275 of a few thousand
    tokens each, like web pages, so a train/val split by document works. The
    mirror's `=== <title> ===` lines are markup and are dropped; the
    `CHAPTER n` headings are kept.
    """
    novel = re.compile(r"^=== .+ ===$")
    chapter = re.compile(r"^chapter \w+\s*$", re.IGNORECASE)
    with open(path, encoding="utf-8") as f:
        for document in _sections(f, lambda line: bool(novel.match(line.rstrip("\n")) or chapter.match(line)),
                                  keep_header=True):
            first, _, rest = document.partition("\n")
            yield from _nonblank(rest) if novel.match(first) else [document]


def wikitext_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the articles of a WikiText file, each starting at its ` = Title = ` line (sections use `= =`)."""
    heading = re.compile(r"^ = [^=].* = $")
    with open(path, encoding="utf-8") as f:
        yield from _sections(f, lambda line: bool(heading.match(line.rstrip("\n"))), keep_header=True)


def _is_blank(line: str) -> bool:
    return not line.strip()


def _sections(lines: Iterable[str], is_break: Callable[[str], bool], *, keep_header: bool) -> Iterator[str]:
    """Yield the non-blank text between the lines for which `is_break` holds, streaming `lines`."""
    section: list[str] = []
    for line in lines:
        if is_break(line):
            yield from _nonblank("".join(section))
            section = [line] if keep_header else []
        else:
            section.append(line)
    yield from _nonblank("".join(section))


def _nonblank(text: str) -> Iterator[str]:
    """Yield `text` unless it is only whitespace (an empty document would be just an eos token)."""
    if text.strip():
        yield text


def nltk_zip_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield the paragraphs (blocks between blank lines) of each text file of an NLTK corpus zip, files
    sorted by name, README files skipped. In abc a paragraph is one news story; in webtext, a thread or
    a whole script."""
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            member = PurePosixPath(name)
            if name.endswith("/") or member.name.upper().startswith("README"):
                continue
            text = zf.read(name).decode("utf-8", errors="replace").replace("\r\n", "\n")
            yield from _sections(text.splitlines(keepends=True), _is_blank, keep_header=False)


def text_tar_documents(path: str | os.PathLike) -> Iterator[str]:
    """Yield each regular file of a tar archive (compressed or not) as one document, in member-name order.

    Members that are not valid UTF-8 (binary files) are skipped, not decoded
    lossily; Windows line ends become newlines. Whole files are the
    documents, so a train/val split never cuts a source file in two.
    """
    try:
        tar = tarfile.open(path)
    except tarfile.ReadError as err:
        raise DataSourceError(f"{path} is not a tar archive ({err}); give text-tar a .tar, .tar.gz or .tar.bz2") from err
    with tar:
        for member in sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name):
            try:
                text = tar.extractfile(member).read().decode("utf-8")
            except UnicodeDecodeError:
                continue
            yield from _nonblank(text.replace("\r\n", "\n"))


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


HF_OPTIONS = {"split": "train", "text": "text", "where": None, "data_files": None, "data_dir": None}  # KEY=VALUE
HF_BATCH = 1000  # rows read from a streamed dataset at once


def parse_hf_source(source: str) -> dict:
    """Parse ``DATASET[@CONFIG][,KEY=VALUE...]`` into `load_dataset` arguments plus ``text``, the text field.

    DATASET is a Hub id, a local dataset directory or a builder name (json,
    parquet, text, ...); CONFIG is the dataset's config name. KEY is one of
    split (default train), text (the field holding the documents, default
    text), where (``FIELD:VALUE``: only the rows whose FIELD is VALUE, e.g.
    ``where=programming_language:Python``), data_files (a file or glob) and
    data_dir.
    """
    dataset, *options = source.split(",")
    path, _, name = dataset.partition("@")
    if not path:
        raise ValueError(f"hf source {source!r} names no dataset; expected DATASET[@CONFIG][,KEY=VALUE...]")
    spec = {"path": path, "name": name or None, **HF_OPTIONS}
    for option in options:
        key, _, value = option.partition("=")
        if key not in HF_OPTIONS or not value:
            raise ValueError(
                f"bad option {option!r} in hf source {source!r}; expected KEY=VALUE, KEY one of {', '.join(HF_OPTIONS)}"
            )
        spec[key] = value
    if spec["where"] is not None and ":" not in spec["where"]:
        raise ValueError(f"bad where={spec['where']!r} in hf source {source!r}; expected where=FIELD:VALUE")
    return spec


def hf_documents(source: str) -> Iterator[str]:
    """Stream the non-blank texts of a Hugging Face dataset (see `parse_hf_source`); loads it before returning."""
    spec = parse_hf_source(source)
    field, where = spec.pop("text"), spec.pop("where")
    import datasets  # here, not at the top: heavy, and only hf sources need it

    try:
        dataset = datasets.load_dataset(**spec, streaming=True)
    except Exception as err:  # load_dataset raises many types (ConnectionError, FileNotFoundError, ValueError, ...)
        raise DataSourceError(
            f"cannot load hf source {source!r}: {err}. Without internet, point it at local files "
            "(json,data_files=PATH or parquet,data_files=GLOB) or at a dataset already in the HF_HOME cache "
            "with HF_HUB_OFFLINE=1 set"
        ) from err
    return _hf_texts(dataset, field, where, source)


def _hf_texts(dataset, field: str, where: str | None, source: str) -> Iterator[str]:
    """The non-blank `field` values of a streamed dataset, of the rows that `where` (FIELD:VALUE) keeps,
    read in batches of rows (much faster than row by row)."""
    key, _, wanted = (where or "").partition(":")
    for rows in dataset.iter(batch_size=HF_BATCH):
        _check_field(rows, field, "text=FIELD", source)
        if where:
            _check_field(rows, key, "where=FIELD:VALUE", source)
        for index, text in enumerate(rows[field]):
            if not where or rows[key][index] == wanted:
                yield from _nonblank(text)


def _check_field(rows: dict, name: str, option: str, source: str) -> None:
    if name not in rows:
        raise DataSourceError(f"hf source {source!r} has no field {name!r} (it has {', '.join(rows)}); add ,{option}")


CORPORA: dict[str, Callable[[str | os.PathLike], Iterator[str]]] = {
    "text": text_documents,
    "janeausten": janeausten_documents,
    "wikitext": wikitext_documents,
    "nltk-zip": nltk_zip_documents,
    "text-tar": text_tar_documents,
    "wiki-xml": wiki_xml_documents,
}
KINDS = (*CORPORA, "hf")  # CORPORA read local files; hf streams a dataset


def corpus_documents(kind: str, source: str | os.PathLike) -> Iterator[str]:
    """The documents of `source` read as `kind` (one of KINDS); checks the file or loads the dataset first."""
    if kind == "hf":
        return hf_documents(str(source))
    if kind not in CORPORA:
        raise ValueError(f"unknown corpus kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not Path(source).is_file():
        raise DataSourceError(f"corpus file {source} does not exist")
    return CORPORA[kind](source)


# --- token shards -------------------------------------------------------------------------------


def split_of(index: int, seed: int, val_fraction: float) -> str:
    """'val' or 'train' for document `index`: a seeded hash, so reproducible and decided while streaming."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return "val" if int.from_bytes(digest, "big") / 2**64 < val_fraction else "train"


class _ShardWriter:
    """Appends one split's tokens to `<split>_000.bin`, `<split>_001.bin`, ... of at most `shard_tokens` each.

    `shards` and `documents` restore a checkpoint: writing continues at the
    end of the last shard listed.
    """

    def __init__(self, directory: Path, split: str, shard_tokens: int, shards: list[dict], documents: int):
        self.directory, self.split, self.shard_tokens = directory, split, shard_tokens
        self.shards = shards
        self.documents = documents
        self._file = None

    def write(self, tokens: np.ndarray) -> None:
        """Append `tokens`, opening new shards as old ones fill; a document may span two shards."""
        while len(tokens):
            if not self.shards or self.shards[-1]["tokens"] == self.shard_tokens:
                self.close()
                self.shards.append({"file": f"{self.split}_{len(self.shards):03d}.bin", "tokens": 0})
            if self._file is None:
                # stays open across write() calls until close()
                self._file = open(self.directory / self.shards[-1]["file"], "ab")  # noqa: SIM115
            room = self.shard_tokens - self.shards[-1]["tokens"]
            self._file.write(tokens[:room].tobytes())
            self.shards[-1]["tokens"] += len(tokens[:room])
            tokens = tokens[room:]

    def flush(self) -> None:
        """Push the written tokens to disk, so that no checkpoint records tokens a crash could still lose."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def tokens(self) -> int:
        return sum(shard["tokens"] for shard in self.shards)


def write_token_shards(
    documents: Iterable[str],
    tokenizer,
    out_dir: str | os.PathLike,
    *,
    val_fraction: float = 0.05,
    shard_tokens: int = 100_000_000,
    seed: int = 0,
    workers: int = 1,
    sources: Iterable[str] | None = None,
    checkpoint_documents: int = CHECKPOINT_DOCUMENTS,
) -> dict:
    """Tokenize `documents` (eos after each) into train/val uint16 shards plus meta.json in `out_dir`; return the meta.

    Whole documents go to one split, chosen by `split_of`. `workers`
    processes tokenize (see `token_stream`); the output is the same for any
    count. `sources` (say, the CLI's KIND:PATH strings) is recorded in the meta.

    Resumable and atomic: the work happens in `<out_dir>.partial/`, renamed
    onto `out_dir` (which must not exist yet) when complete. Every
    `checkpoint_documents` documents the shards are flushed and
    `progress.json` there records them; a rerun with the same settings cuts
    the shards back to that checkpoint and continues after the documents it
    counts, which are read past but not tokenized again.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    positive = {"shard_tokens": shard_tokens, "workers": workers, "checkpoint_documents": checkpoint_documents}
    for name, value in positive.items():
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    vocab_size = len(tokenizer)
    if vocab_size > np.iinfo(DTYPE).max + 1:
        raise ValueError(f"vocabulary of {vocab_size} ids does not fit in uint16")
    out = Path(out_dir)
    if out.exists():
        raise DataSourceError(f"{out} already exists; remove it to rebuild it")
    settings = {
        "tokenizer": str(tokenizer.name_or_path),
        "vocab_size": vocab_size,
        "eos": tokenizer.eos_token_id,
        "dtype": "uint16",
        "val_fraction": val_fraction,
        "shard_tokens": shard_tokens,
        "seed": seed,
        "sources": None if sources is None else list(sources),
    }
    work = out.with_name(out.name + ".partial")
    writers = _restore(work, settings)
    done = sum(writer.documents for writer in writers.values())
    if done:
        print(f"resuming {work}: {done} documents already done", file=sys.stderr)
    remaining = token_arrays(itertools.islice(documents, done, None), tokenizer, workers)
    try:
        for index, tokens in enumerate(remaining, start=done):
            writer = writers[split_of(index, seed, val_fraction)]
            writer.write(tokens)
            writer.documents += 1
            if (index + 1) % checkpoint_documents == 0:
                _checkpoint(work, settings, writers)
    finally:
        remaining.close()  # stops the worker processes now, on errors too
        for writer in writers.values():
            writer.close()
    meta = _checkpoint(work, settings, writers)
    os.replace(work / PROGRESS, work / "meta.json")
    os.rename(work, out)
    return meta


def _checkpoint(work: Path, settings: dict, writers: dict[str, _ShardWriter]) -> dict:
    """Flush the shards, then atomically record them in progress.json; return the record (meta.json's format)."""
    for writer in writers.values():
        writer.flush()
    progress = {
        **settings,
        "documents": {split: w.documents for split, w in writers.items()},
        "tokens": {split: w.tokens for split, w in writers.items()},
        "shards": {split: w.shards for split, w in writers.items()},
    }
    with atomic_path(work / PROGRESS) as tmp:
        tmp.write_text(json.dumps(progress, indent=2) + "\n")
    return progress


def _restore(work: Path, settings: dict) -> dict[str, _ShardWriter]:
    """Shard writers continuing the checkpoint in `work` (made when missing), its shards cut back to the checkpoint."""
    work.mkdir(parents=True, exist_ok=True)
    progress = _read_progress(work, settings)
    recorded = {shard["file"]: shard["tokens"] for split in SPLITS for shard in progress["shards"][split]}
    for path in work.glob("*.bin"):
        if path.name not in recorded:  # begun after the checkpoint
            path.unlink()
    for name, tokens in recorded.items():
        _cut(work / name, tokens)
    return {
        split: _ShardWriter(work, split, settings["shard_tokens"], progress["shards"][split], count)
        for split, count in progress["documents"].items()
    }


def _read_progress(work: Path, settings: dict) -> dict:
    """The checkpoint in `work` (an empty one if there is none); refuses one made with other settings."""
    path = work / PROGRESS
    if not path.is_file():
        return {"documents": dict.fromkeys(SPLITS, 0), "shards": {split: [] for split in SPLITS}}
    progress = json.loads(path.read_text())
    changed = [key for key in settings if progress.get(key) != settings[key]]
    if changed:
        raise DataSourceError(
            f"{work} holds an unfinished preparation made with another {', '.join(changed)}; "
            f"rerun with its settings to resume it, or delete {work} to start over"
        )
    return progress


def _cut(path: Path, tokens: int) -> None:
    """Cut shard `path` back to its checkpointed `tokens`, dropping what was written after the checkpoint."""
    size = tokens * DTYPE.itemsize
    if not path.is_file() or path.stat().st_size < size:
        raise DataSourceError(
            f"{path} holds fewer than its checkpointed {tokens} tokens; delete {path.parent} to start over"
        )
    os.truncate(path, size)


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
