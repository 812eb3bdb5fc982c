"""Tokenize text corpora with GPT-2 BPE into train/val uint16 token shards for the language models.

    python -m toponets.cli.prepare_text --corpus KIND:PATH [--corpus KIND:PATH ...] \
        --tokenizer DIR --out DIR [--workers 1] [--val-fraction 0.05] [--shard-tokens N] \
        [--max-documents N] [--seed 0]

KIND is one of text, janeausten, wikitext, nltk-zip, text-tar, wiki-xml, whose PATH is
a local file, or hf, whose PATH is a Hugging Face dataset streamed as
DATASET[@CONFIG][,KEY=VALUE...] with KEY one of split (default train), text
(the text field, default text), data_files and data_dir (see
toponets.data.text). The paper's corpora:

    --corpus hf:HuggingFaceFW/fineweb-edu@sample-10BT    (NanoGPT)
    --corpus hf:wikimedia/wikipedia@20231101.en          (GPT-Neo)
    --corpus hf:json,data_files=docs.jsonl               (local files, offline)

Documents of all corpora are read in the order given; `--max-documents` caps
their total. `--workers` processes tokenize; the output does not depend on
their number. Writes `train_000.bin`, ..., `val_000.bin` and `meta.json` into
`--out`, which must not exist yet. The work happens in `<out>.partial/`,
checkpointed as it goes: rerunning a killed preparation with the same
arguments resumes it there.
"""

from __future__ import annotations

import argparse
import itertools
import json

from ..data.text import KINDS, corpus_documents, parse_hf_source, write_token_shards
from ..data.tokenizer import gpt2_tokenizer


def corpus(value: str) -> tuple[str, str]:
    """Parse KIND:PATH, checking the kind (and an hf PATH's syntax) now so a typo fails before any work."""
    kind, sep, path = value.partition(":")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"expected KIND:PATH, got {value!r}")
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f"unknown corpus kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "hf":
        try:
            parse_hf_source(path)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from err
    return kind, path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=corpus, action="append", required=True, metavar="KIND:PATH")
    p.add_argument(
        "--tokenizer",
        required=True,
        help="directory with the GPT-2 vocab.json and merges.txt",
    )
    p.add_argument("--out", required=True, help="output directory (must not exist; <out>.partial/ is resumed)")
    p.add_argument("--workers", type=int, default=1, help="tokenizer processes (1: tokenize in this process)")
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
    corpora = [corpus_documents(kind, path) for kind, path in args.corpus]  # checks every source before any work
    documents = itertools.islice(itertools.chain.from_iterable(corpora), args.max_documents)
    meta = write_token_shards(
        documents,
        tokenizer,
        args.out,
        val_fraction=args.val_fraction,
        shard_tokens=args.shard_tokens,
        seed=args.seed,
        workers=args.workers,
        sources=[f"{kind}:{path}" for kind, path in args.corpus],
    )
    print(json.dumps({"out": args.out, "documents": meta["documents"], "tokens": meta["tokens"]}))


if __name__ == "__main__":
    main()
