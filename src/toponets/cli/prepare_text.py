"""Tokenize text corpora with GPT-2 BPE into train/val uint16 token shards for the language models.

    python -m toponets.cli.prepare_text --corpus KIND:PATH [--corpus KIND:PATH ...] \
        --tokenizer DIR --out DIR [--val-fraction 0.05] [--shard-tokens N] [--max-documents N] [--seed 0]

KIND is one of text, janeausten, wikitext, nltk-zip, wiki-xml (see
toponets.data.text). Documents of all corpora are read in the order given;
`--max-documents` caps their total. Writes `train_000.bin`, ..., `val_000.bin`
and `meta.json` into `--out`, which must not exist yet.
"""

from __future__ import annotations

import argparse
import itertools
import json

from ..data.text import CORPORA, corpus_documents, write_token_shards
from ..data.tokenizer import gpt2_tokenizer


def corpus(value: str) -> tuple[str, str]:
    """Parse KIND:PATH, checking the kind now so a typo fails before any work."""
    kind, sep, path = value.partition(":")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"expected KIND:PATH, got {value!r}")
    if kind not in CORPORA:
        raise argparse.ArgumentTypeError(f"unknown corpus kind {kind!r}; choose one of {', '.join(CORPORA)}")
    return kind, path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=corpus, action="append", required=True, metavar="KIND:PATH")
    p.add_argument(
        "--tokenizer",
        required=True,
        help="directory with the GPT-2 vocab.json and merges.txt",
    )
    p.add_argument("--out", required=True, help="output directory (must not exist)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.05,
        help="expected fraction of documents in val",
    )
    p.add_argument(
        "--shard-tokens",
        type=int,
        default=100_000_000,
        help="most tokens per .bin shard",
    )
    p.add_argument(
        "--max-documents",
        type=int,
        default=None,
        help="stop after this many documents in all",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val document assignment")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    tokenizer = gpt2_tokenizer(args.tokenizer)
    sources = [corpus_documents(kind, path) for kind, path in args.corpus]  # checks every file before any work
    documents = itertools.islice(itertools.chain.from_iterable(sources), args.max_documents)
    meta = write_token_shards(
        documents,
        tokenizer,
        args.out,
        val_fraction=args.val_fraction,
        shard_tokens=args.shard_tokens,
        seed=args.seed,
    )
    print(json.dumps({"out": args.out, "documents": meta["documents"], "tokens": meta["tokens"]}))


if __name__ == "__main__":
    main()
