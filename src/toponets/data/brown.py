"""The Brown corpus with its part-of-speech tags, read straight from NLTK's ``brown.zip`` (METHODS §5.1).

The zip holds ``brown/ca01`` ... ``brown/cr09``: one sentence per non-blank
line, tokens ``word/tag`` (NLTK is not needed to read them). Preprocessing
follows Skrill & Norman-Haignere 2024 (``preprocessing.py``):

- A token's words: lowercased, hyphens split it into words, all other
  punctuation is removed; a token left empty (a punctuation mark) is dropped.
- A sentence is kept only if it has no proper noun (a tag with an ``np``,
  ``nps``, ``nnp`` or ``nnps`` part, e.g. ``np-tl``, ``np$``, ``fw-np``,
  ``np+bez``) and every word is alphabetic (no digits).
- The tag vocabulary maps each tag (upper case, as NLTK gives them) to the
  distinct words it carries anywhere in the corpus (proper nouns and
  non-alphabetic words left out); tags with fewer than 5 words are pooled
  into ``OTHER``, and a word keeps its pooled tag in the sequences.

Natural sequences are consecutive kept sentences of one file, joined and cut
into non-overlapping runs of `length` words; a dropped sentence breaks the
text, so no sequence jumps over one. The kept sentences themselves (for the
structure-yoking stimuli, built from sentences of one length) are spans of
those runs.
"""

from __future__ import annotations

import re
import string
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .sources import DataSourceError

OTHER = "OTHER"
MIN_TAG_WORDS = 5  # tags with fewer distinct words are pooled into OTHER
PROPER_NOUN_TAGS = frozenset({"NP", "NPS", "NNP", "NNPS"})
_FILE = re.compile(r"brown/c[a-r]\d\d")
_PUNCTUATION = str.maketrans("-", " ", string.punctuation.replace("-", ""))

TaggedWord = tuple[str, str]  # (word, tag)


@lru_cache(maxsize=1 << 17)
def token_words(word: str) -> tuple[str, ...]:
    """The words a corpus token becomes: lowercased, split at hyphens, other punctuation removed."""
    return tuple(word.lower().translate(_PUNCTUATION).split())


@lru_cache(maxsize=None)
def is_proper_noun(tag: str) -> bool:
    """Whether a Brown tag marks a proper noun, compound tags included (np-tl, np$, fw-np, np+bez)."""
    return any(part.rstrip("$*") in PROPER_NOUN_TAGS for part in re.split(r"[-+]", tag.upper()))


def brown_files(zip_path: str | Path) -> list[str]:
    """The names of the tagged text files in `zip_path`, in corpus order (ca01 ... cr09)."""
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise DataSourceError(f"Brown corpus {zip_path} does not exist; point it at the mirror's text/brown.zip")
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(name for name in archive.namelist() if _FILE.fullmatch(name))
    if not names:
        raise DataSourceError(f"{zip_path} holds no brown/c??? files; is it NLTK's brown.zip?")
    return names


def tagged_sentences(zip_path: str | Path, files: Iterable[str] | None = None) -> Iterator[tuple[str, list[TaggedWord]]]:
    """(file, [(token, TAG), ...]) for every sentence of `files` (all by default), in corpus order."""
    names = brown_files(zip_path) if files is None else list(files)
    with zipfile.ZipFile(zip_path) as archive:
        for name in names:
            for line in archive.read(name).decode("utf-8").splitlines():
                tokens = [token.rpartition("/") for token in line.split()]
                if tokens:
                    yield name, [(word, tag.upper()) for word, _, tag in tokens]


def clean_sentence(sentence: list[TaggedWord]) -> list[TaggedWord] | None:
    """The sentence's (word, TAG) pairs after preprocessing, or None if it must be dropped."""
    if any(is_proper_noun(tag) for _, tag in sentence):
        return None
    words = [(word, tag) for token, tag in sentence for word in token_words(token)]
    if not words or not all(word.isalpha() for word, _ in words):
        return None
    return words


def tag_vocabulary(tokens: Iterable[TaggedWord]) -> dict[str, set[str]]:
    """TAG -> the alphabetic words of the (token, TAG) pairs `tokens`, proper nouns left out."""
    vocabulary: dict[str, set[str]] = defaultdict(set)
    for token, tag in tokens:
        if not is_proper_noun(tag):
            vocabulary[tag].update(word for word in token_words(token) if word.isalpha())
    return vocabulary


@dataclass(frozen=True)
class BrownCorpus:
    """Kept text as runs of consecutive kept sentences, and the pooled tag vocabulary."""

    runs: list[list[TaggedWord]]  # each run: consecutive kept sentences of one file, words with pooled tags
    tag_words: dict[str, tuple[str, ...]]  # pooled tag -> its distinct words, sorted
    sentences: int  # sentences read
    kept: int  # sentences kept
    sentence_spans: tuple[tuple[int, int, int], ...] = ()  # (run, start, stop) of each kept sentence

    def sentences_of_length(self, length: int) -> list[list[TaggedWord]]:
        """Every kept sentence of exactly `length` words (after preprocessing), in corpus order."""
        return [self.runs[run][start:stop] for run, start, stop in self.sentence_spans if stop - start == length]

    def natural_sequences(self, length: int) -> list[list[TaggedWord]]:
        """Every non-overlapping run of `length` consecutive words of the kept text, in corpus order."""
        if length < 1:
            raise ValueError(f"a sequence needs at least 1 word, got {length}")
        return [run[i : i + length] for run in self.runs for i in range(0, len(run) - length + 1, length)]


def pool_tags(tag_words: dict[str, set[str]], minimum: int = MIN_TAG_WORDS) -> dict[str, tuple[str, ...]]:
    """Pool the tags with fewer than `minimum` distinct words into OTHER; words sorted per tag."""
    pooled: dict[str, set[str]] = defaultdict(set)
    for tag, words in tag_words.items():
        pooled[tag if len(words) >= minimum else OTHER] |= words
    return {tag: tuple(sorted(words)) for tag, words in sorted(pooled.items())}


def read_brown(zip_path: str | Path, files: Iterable[str] | None = None) -> BrownCorpus:
    """Read and preprocess `files` of the Brown corpus zip (all of it by default)."""
    raw_runs: list[list[TaggedWord]] = []
    distinct_tokens: set[TaggedWord] = set()
    raw_spans: list[tuple[int, int, int]] = []  # (index in raw_runs, start, stop) of each kept sentence
    sentences = kept = 0
    previous_file, run = None, []
    for name, sentence in tagged_sentences(zip_path, files):
        sentences += 1
        distinct_tokens.update(sentence)
        words = clean_sentence(sentence)
        if words is None or name != previous_file:
            raw_runs.append(run)
            run = []
        if words is not None:
            kept += 1
            raw_spans.append((len(raw_runs), len(run), len(run) + len(words)))
            run.extend(words)
        previous_file = name
    raw_runs.append(run)
    tag_words = pool_tags(tag_vocabulary(distinct_tokens))
    known = {tag for tag in tag_words if tag != OTHER}
    index = {raw: new for new, raw in enumerate(i for i, run in enumerate(raw_runs) if run)}
    runs = [[(word, tag if tag in known else OTHER) for word, tag in run] for run in raw_runs if run]
    spans = tuple((index[raw], start, stop) for raw, start, stop in raw_spans)
    return BrownCorpus(runs=runs, tag_words=tag_words, sentences=sentences, kept=kept, sentence_spans=spans)
